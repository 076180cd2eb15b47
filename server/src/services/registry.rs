//! The configured hosts and what every libvirt action shares: finding the
//! host by name, bounding how long a page waits for it, and announcing
//! changes on the event channel. `LibvirtFleet` and `LibvirtStorage` both work
//! through one `HostRegistry`.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use app::api::{clip, events::ServerEvent, ApiError};
use futures::future::join_all;
use tokio::sync::broadcast;

use super::host::Host;
use crate::config::HostConfig;
use crate::libvirt::{connection::Failure, Connect};

/// How long a page waits for one host before showing it as not answering.
pub const LIST_TIMEOUT: Duration = Duration::from_secs(8);
/// How long an action may take before the user is told it did not finish.
pub const ACTION_TIMEOUT: Duration = Duration::from_secs(60);
/// Long storage work (wipe, clone, transfers' set-up) on its own connection.
pub const LONG_ACTION_TIMEOUT: Duration = Duration::from_secs(3600);

pub struct HostRegistry {
    hosts: Vec<Arc<Host>>,
    /// What each host gives to guests, as configured: (memory MiB, CPUs).
    capacity: HashMap<String, (Option<u64>, Option<u32>)>,
    events: broadcast::Sender<ServerEvent>,
    held: Held,
}

/// The guests running jobs hold (a migration moving them), by host and
/// lower-case UUID, with the refusal every other change to them gets.
/// `Jobs` holds and releases them as jobs start, are adopted and end.
#[derive(Default)]
struct Held(Mutex<HashMap<(String, String), Vec<&'static str>>>);

impl HostRegistry {
    /// The hosts, each kept connected by a supervisor task of its own (so
    /// this must run inside the tokio runtime).
    pub fn new(configs: &[HostConfig], events: broadcast::Sender<ServerEvent>) -> Arc<Self> {
        crate::libvirt::init();
        let hosts: Vec<Arc<Host>> = configs
            .iter()
            .map(|h| Host::new(&h.name, &h.uri, h.migration_uri.as_deref(), events.clone()))
            .collect();
        for host in &hosts {
            tokio::spawn(host.connection().supervise());
        }
        let capacity = configs
            .iter()
            .map(|h| {
                (
                    h.name.clone(),
                    (h.allocatable_memory_mib, h.allocatable_cpus),
                )
            })
            .collect();
        Arc::new(HostRegistry {
            hosts,
            capacity,
            events,
            held: Held::default(),
        })
    }

    pub fn all(&self) -> &[Arc<Host>] {
        &self.hosts
    }

    /// What host `name` gives to guests as configured: (memory MiB, CPUs);
    /// `None` takes the default (`placement::default_allocatable_mib`, all CPUs).
    pub fn capacity(&self, name: &str) -> (Option<u64>, Option<u32>) {
        self.capacity.get(name).copied().unwrap_or((None, None))
    }

    /// Waits (at most `limit`) until every host's first connection attempt
    /// has ended, either way.
    pub async fn wait_settled(&self, limit: Duration) {
        join_all(self.hosts.iter().map(|h| h.wait_settled(limit))).await;
    }

    /// Waits (at most `limit`) until every host is connected; answers whether
    /// they all are.
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        let all = join_all(self.hosts.iter().map(|h| h.wait_connected(limit))).await;
        all.into_iter().all(|ok| ok)
    }

    pub fn get(&self, name: &str) -> Result<Arc<Host>, ApiError> {
        self.hosts
            .iter()
            .find(|h| h.name() == name)
            .cloned()
            .ok_or_else(|| ApiError::NotFound(format!("there is no host named {:?}", clip(name))))
    }

    /// Guest `uuid` of `host` is held by a running job: every change to it
    /// is refused with `why` (409) until `release`.
    pub fn hold(&self, host: &str, uuid: &str, why: &'static str) {
        let mut held = self.held.0.lock().expect("held guests");
        held.entry((host.to_string(), uuid.to_ascii_lowercase()))
            .or_default()
            .push(why);
    }

    /// The job that held guest `uuid` of `host` with `why` ended.
    pub fn release(&self, host: &str, uuid: &str, why: &'static str) {
        let mut held = self.held.0.lock().expect("held guests");
        let key = (host.to_string(), uuid.to_ascii_lowercase());
        if let Some(whys) = held.get_mut(&key) {
            if let Some(at) = whys.iter().position(|w| *w == why) {
                whys.remove(at);
            }
            if whys.is_empty() {
                held.remove(&key);
            }
        }
    }

    /// The busy rule: refuses (409) to change a guest a running job holds.
    pub fn ensure_free(&self, host: &str, uuid: &str) -> Result<(), ApiError> {
        let held = self.held.0.lock().expect("held guests");
        match held.get(&(host.to_string(), uuid.to_ascii_lowercase())) {
            Some(whys) if !whys.is_empty() => Err(ApiError::Conflict(whys[0].to_string())),
            _ => Ok(()),
        }
    }

    /// Nobody listening is fine.
    pub fn announce(&self, event: ServerEvent) {
        let _ = self.events.send(event);
    }

    /// Runs `f` for every host at once, each bounded by `LIST_TIMEOUT`.
    pub async fn each<T, E, F, Fut>(&self, f: F) -> Vec<(Arc<Host>, Result<T, ApiError>)>
    where
        F: Fn(Arc<Host>) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Into<ApiError>,
    {
        join_all(self.hosts.iter().map(|host| {
            let fut = f(host.clone());
            let host = host.clone();
            async move {
                let result = tokio::time::timeout(LIST_TIMEOUT, fut)
                    .await
                    .map(|r| r.map_err(Into::into))
                    .unwrap_or_else(|_| {
                        Err(ApiError::HostUnavailable(format!(
                            "host {} did not answer within {} s",
                            host.name(),
                            LIST_TIMEOUT.as_secs()
                        )))
                    });
                (host, result)
            }
        }))
        .await
    }

    /// Runs one action on host `name`, bounded by `limit`. `what` says what did
    /// not finish when the limit is reached.
    pub async fn act<T, E, F, Fut>(
        &self,
        name: &str,
        limit: Duration,
        what: impl std::fmt::Display,
        f: F,
    ) -> Result<T, ApiError>
    where
        F: FnOnce(Arc<Host>) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Into<ApiError>,
    {
        let host = self.get(name)?;
        let host_name = host.name().to_string();
        tokio::time::timeout(limit, f(host))
            .await
            .map_err(|_| {
                ApiError::HostUnavailable(format!(
                    "{what} on host {host_name} did not finish within {} s; it may still complete",
                    limit.as_secs()
                ))
            })?
            .map_err(Into::into)
    }

    /// Runs blocking libvirt work `f(host name, connection)` on host `name`'s
    /// connection, off the runtime, bounded by `limit`.
    pub async fn call<T, F>(
        &self,
        name: &str,
        limit: Duration,
        what: impl std::fmt::Display,
        f: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&str, &Connect) -> Result<T, Failure> + Send + 'static,
    {
        self.call_on(name, limit, what, false, f).await
    }

    /// Like `call`, on a connection of its own (long work: copies, transfers,
    /// snapshots), so that the host's shared connection stays free for pages.
    pub async fn call_dedicated<T, F>(
        &self,
        name: &str,
        limit: Duration,
        what: impl std::fmt::Display,
        f: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&str, &Connect) -> Result<T, Failure> + Send + 'static,
    {
        self.call_on(name, limit, what, true, f).await
    }

    async fn call_on<T, F>(
        &self,
        name: &str,
        limit: Duration,
        what: impl std::fmt::Display,
        dedicated: bool,
        f: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&str, &Connect) -> Result<T, Failure> + Send + 'static,
    {
        self.act(name, limit, what, |h| async move {
            let host = h.name().to_string();
            let work = move |conn: &Connect| f(&host, conn);
            if dedicated {
                h.run_dedicated(work).await
            } else {
                h.run_mapped(work).await
            }
        })
        .await
    }
}
