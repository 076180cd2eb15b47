//! One managed host: its connection, kept up by a supervisor task off the
//! request path. What the supervisor reads (the host's facts, guests and
//! pools, on connecting, on libvirt's events and every minute) goes to the
//! host's `HostWatcher`: the services keep it as the host's cache and
//! announce what changed.
//!
//! - Requests never connect: they use the connection when the host is
//!   connected and are answered at once ("connecting", "unreachable since …")
//!   when it is not.
//! - The supervisor makes at most one connection attempt at a time, on a
//!   blocking thread, holding no lock (an open against a host that accepts TCP
//!   and never answers blocks inside libvirt with no timeout: the host is
//!   shown unreachable after `CONNECT_TIMEOUT`, and no new attempt starts
//!   until that one returns). Connected, it sets keepalive (4 s, 2 missed: the
//!   connection closes 12 s after the host's last answer) and
//!   registers domain, storage pool and close callbacks; a host that goes
//!   dark is noticed within 15 s (12 s, with room for the reading that follows)
//!   and reconnected with back-off.
//! - Connections are closed (and callbacks removed) on the blocking pool.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use tokio::sync::{mpsc, Notify};
use virt::connect::Connect;

use super::{
    domain::{self, Guest},
    error::{from_virt, is_connection_lost, Error},
    host::{self, HostFacts},
    storage_pool::{self, Pool},
    sys::{self, Signal},
};

/// How long a connection attempt may take before the host is shown unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(12);
/// Keepalive: a probe every 4 s, dead after 2 missed (libvirt: 4 × (2 + 1) = 12 s).
const KEEPALIVE_INTERVAL: i32 = 4;
const KEEPALIVE_COUNT: u32 = 2;
/// The cache is re-read this often as a safety net (volumes have no events,
/// and an event may be lost while reconnecting).
const RESYNC_EVERY: Duration = Duration::from_secs(60);
/// Waits between connection attempts.
const BACKOFF: [u64; 7] = [1, 2, 4, 8, 15, 30, 60];

/// The host name of a libvirt URI (`qemu+ssh://root@kvm1:22/system` →
/// `kvm1`); `127.0.0.1` for a local URI (`qemu:///system`). Where virtdeck reaches
/// the host: new guests' displays listen there, and the VNC proxy dials it.
pub fn uri_host(uri: &str) -> String {
    let rest = uri.split_once("://").map(|(_, r)| r).unwrap_or("");
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        "127.0.0.1".into()
    } else {
        host.to_string()
    }
}

/// `t` in RFC 3339, UTC (for messages).
fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Where the connection to a host stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    Connected,
    Unreachable,
}

/// The connection's state, since when, and while reconnecting the last
/// error and when the next attempt is due.
#[derive(Debug, Clone)]
pub struct Link {
    pub state: LinkState,
    pub since: SystemTime,
    /// The last error, kept while reconnecting.
    pub error: Option<String>,
    pub next_attempt: Option<SystemTime>,
    conn: Option<Arc<Connect>>,
}

/// Told what the supervisor learns about a host, in this layer's terms; the
/// services keep the cache and announce the changes. Called on the
/// runtime: must not block.
pub trait HostWatcher: Send + Sync + 'static {
    /// The connection changed state (or its error / next attempt).
    fn link_changed(&self, host: &HostConnection);
    /// Everything was read again (on connecting, then every minute).
    fn resynced(
        &self,
        host: &HostConnection,
        facts: HostFacts,
        guests: Vec<Guest>,
        pools: Vec<Pool>,
    );
    /// A guest event: the guest as read now (`None`: gone).
    fn guest_read(&self, host: &HostConnection, uuid: &str, guest: Option<Guest>);
    /// A pool event: the pool as read now (`None`: gone).
    fn pool_read(&self, host: &HostConnection, name: &str, pool: Option<Pool>);
}

pub struct HostConnection {
    name: String,
    uri: String,
    /// What another host's libvirtd opens to reach this one (peer-to-peer migration).
    migration_uri: String,
    link: Mutex<Link>,
    /// A call found the connection broken.
    lost: Notify,
    /// Wakes those who wait for the link to change (to connect, or for the
    /// first attempt to end).
    link_changed: Notify,
    watcher: Arc<dyn HostWatcher>,
}

impl HostConnection {
    pub fn new(
        name: &str,
        uri: &str,
        migration_uri: Option<&str>,
        watcher: Arc<dyn HostWatcher>,
    ) -> Self {
        HostConnection {
            name: name.to_string(),
            uri: uri.to_string(),
            migration_uri: migration_uri.unwrap_or(uri).to_string(),
            link: Mutex::new(Link {
                state: LinkState::Connecting,
                since: SystemTime::now(),
                error: None,
                next_attempt: None,
                conn: None,
            }),
            lost: Notify::new(),
            link_changed: Notify::new(),
            watcher,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    pub fn migration_uri(&self) -> &str {
        &self.migration_uri
    }

    /// The connection's state now.
    pub fn link(&self) -> Link {
        self.link.lock().expect("link lock").clone()
    }

    pub fn is_connected(&self) -> bool {
        self.link.lock().expect("link lock").state == LinkState::Connected
    }

    /// Waits (at most `limit`) until the host is connected and its cache
    /// filled; answers whether it is.
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.link_changed.notified();
            if self.is_connected() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.is_connected();
            }
        }
    }

    /// Does the host answer a call on its connection within `limit`? (A host
    /// whose daemon died, restarts or is frozen does not.)
    pub async fn answers(&self, limit: Duration) -> bool {
        matches!(
            tokio::time::timeout(limit, self.run(|conn| conn.lib_version())).await,
            Ok(Ok(_))
        )
    }

    /// Waits (at most `limit`) until the first connection attempt has ended,
    /// either way.
    pub async fn wait_settled(&self, limit: Duration) {
        // Woken by the change itself, not polled: the start waits for the
        // slowest host, and a poll's interval would be added to it.
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.link_changed.notified();
            if self.link.lock().expect("link lock").state != LinkState::Connecting {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    fn unavailable(&self) -> Error {
        let link = self.link();
        let since = rfc3339(link.since);
        match link.state {
            LinkState::Connected => {
                Error::Unreachable(format!("host {} is reconnecting", self.name))
            }
            LinkState::Connecting => Error::Unreachable(format!(
                "host {} is connecting (since {since}); try again in a moment",
                self.name
            )),
            LinkState::Unreachable => Error::Unreachable(format!(
                "host {} is unreachable (since {since}){}",
                self.name,
                link.error.map(|e| format!(": {e}")).unwrap_or_default()
            )),
        }
    }

    fn connection(&self) -> Result<Arc<Connect>, Error> {
        let link = self.link.lock().expect("link lock");
        match (&link.state, &link.conn) {
            (LinkState::Connected, Some(conn)) => Ok(conn.clone()),
            _ => {
                drop(link);
                Err(self.unavailable())
            }
        }
    }

    /// Runs `f` with the host's connection on the blocking pool; answers at
    /// once when the host is not connected.
    pub async fn run<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connect) -> Result<T, virt::error::Error> + Send + 'static,
    {
        self.run_mapped(move |conn| f(conn).map_err(Failure::Libvirt))
            .await
    }

    /// Like `run`, for closures that can also fail with an API error of their own.
    pub async fn run_mapped<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connect) -> Result<T, Failure> + Send + 'static,
    {
        let conn = self.connection()?;
        let span = tracing::Span::current();
        let result = tokio::task::spawn_blocking(move || {
            let result = span.in_scope(|| f(&conn));
            // The last handle may be this one: closed here, off the runtime.
            drop(conn);
            result
        })
        .await
        .map_err(|join| {
            tracing::error!(host = %self.name, "libvirt task failed: {join}");
            Error::Internal
        })?;
        match result {
            Ok(value) => Ok(value),
            Err(Failure::Own(e)) => Err(e),
            Err(Failure::Libvirt(e)) => {
                if is_connection_lost(&e) {
                    tracing::warn!(host = %self.name, "connection lost: {}", e.message());
                    self.lost.notify_one();
                }
                Err(from_virt(&self.name, &e))
            }
        }
    }

    /// Runs `f` on a connection of its own, opened for this call and closed
    /// after it, on a thread of its own: for long calls (migrations,
    /// transfers, consoles, wipe, clone) that would otherwise hold one of the
    /// few concurrent calls libvirtd serves per connection (5 by default)
    /// while pages wait, or a thread of the blocking pool that logins and
    /// every other libvirt call share (a transfer whose client stalls must
    /// not take those). Only while the host is connected (an open could
    /// hang). The test driver keeps its state per connection and has no such
    /// limit: it uses the shared connection.
    pub async fn run_dedicated<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connect) -> Result<T, Failure> + Send + 'static,
    {
        if self.uri.starts_with("test:") {
            return self.run_mapped(f).await;
        }
        self.connection()?;
        let (name, uri) = (self.name.clone(), self.uri.clone());
        let span = tracing::Span::current();
        let (done, result) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name(format!("virtdeck-long-{}", self.name))
            .spawn(move || {
                let result = span.in_scope(|| {
                    let conn = Connect::open(Some(&uri)).map_err(|e| {
                        Failure::Own(Error::Unreachable(format!(
                            "host {name} is unreachable: {}",
                            e.message().trim()
                        )))
                    })?;
                    // Dropped (closed) here, still on this thread.
                    f(&conn)
                });
                let _ = done.send(result);
            });
        if let Err(e) = spawned {
            tracing::error!(host = %self.name, "cannot start a thread: {e}");
            return Err(Error::Internal);
        }
        let result = result.await.map_err(|_| {
            tracing::error!(host = %self.name, "a long libvirt call's thread ended early");
            Error::Internal
        })?;
        match result {
            Ok(value) => Ok(value),
            Err(Failure::Own(e)) => Err(e),
            Err(Failure::Libvirt(e)) => Err(from_virt(&self.name, &e)),
        }
    }

    fn set_link(
        &self,
        state: LinkState,
        error: Option<String>,
        next: Option<SystemTime>,
        conn: Option<Arc<Connect>>,
    ) {
        let old = {
            let mut link = self.link.lock().expect("link lock");
            let changed = link.state != state;
            let old_conn = std::mem::replace(&mut link.conn, conn);
            if changed {
                link.since = SystemTime::now();
            }
            link.state = state;
            if error.is_some() || state == LinkState::Connected {
                link.error = error;
            }
            link.next_attempt = next;
            old_conn
        };
        if let Some(old) = old {
            // Closed off the runtime.
            tokio::task::spawn_blocking(move || drop(old));
        }
        self.watcher.link_changed(self);
        self.link_changed.notify_waiters();
    }

    /// Keeps the host connected, for as long as the process runs.
    pub async fn supervise(self: Arc<Self>) {
        let mut failures = 0usize;
        let mut pending: Option<tokio::sync::oneshot::Receiver<Result<Opened, String>>> = None;
        loop {
            // A hung attempt must end before another starts (one at a time).
            let attempt = match pending.take() {
                Some(handle) => handle,
                None => {
                    self.set_link(LinkState::Connecting, None, None, None);
                    open_in_background(self.name.clone(), self.uri.clone())
                }
            };
            let mut attempt = attempt;
            let outcome = tokio::select! {
                r = &mut attempt => Some(r),
                _ = tokio::time::sleep(CONNECT_TIMEOUT) => None,
            };
            let error = match outcome {
                Some(Ok(Ok(opened))) => {
                    failures = 0;
                    self.clone().serve(opened).await
                }
                Some(Ok(Err(e))) => e,
                Some(Err(_)) => "the connection attempt failed: its thread ended".to_string(),
                None => {
                    pending = Some(attempt);
                    format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())
                }
            };
            let wait = Duration::from_secs(BACKOFF[failures.min(BACKOFF.len() - 1)]);
            failures += 1;
            tracing::warn!(host = %self.name, uri = %self.uri, "unreachable: {error}; next attempt in {} s", wait.as_secs());
            self.set_link(
                LinkState::Unreachable,
                Some(error),
                Some(SystemTime::now() + wait),
                None,
            );
            tokio::time::sleep(wait).await;
            if let Some(handle) = pending.take() {
                // Still hanging: wait for it before trying again; a late
                // success is closed (a fresh attempt follows).
                if let Ok(Ok(late)) = handle.await {
                    tokio::task::spawn_blocking(move || drop(late));
                }
            }
        }
    }

    /// Serves one open connection until it breaks; answers why it ended.
    async fn serve(self: Arc<Self>, opened: Opened) -> String {
        let Opened {
            conn,
            registrations,
            mut signals,
        } = opened;
        let conn = Arc::new(conn);
        let name = self.name.clone();
        if let Err(e) = self.resync(&conn).await {
            drop_off_runtime(conn, registrations);
            return e;
        }
        self.set_link(LinkState::Connected, None, None, Some(conn.clone()));
        tracing::info!(host = %name, uri = %self.uri, "connected");
        let mut resync = tokio::time::interval(RESYNC_EVERY);
        resync.tick().await;
        let why = loop {
            tokio::select! {
                signal = signals.recv() => match signal {
                    Some(Signal::Domain { uuid }) => {
                        let (c, u) = (conn.clone(), uuid.clone());
                        match blocking(move || domain::read_one(&c, &u).map_err(|e| e.message().to_string())).await {
                            Ok(guest) => self.watcher.guest_read(&self, &uuid, guest),
                            Err(e) => tracing::warn!(host = %name, "cannot read guest {uuid}: {e}"),
                        }
                    }
                    Some(Signal::Pool { name: pool }) => {
                        let (c, p) = (conn.clone(), pool.clone());
                        match blocking(move || storage_pool::read_one(&c, &p).map_err(failure_text)).await {
                            Ok(read) => self.watcher.pool_read(&self, &pool, read),
                            Err(e) => tracing::warn!(host = %name, "cannot read pool {pool}: {e}"),
                        }
                    }
                    Some(Signal::Closed { reason }) => break close_reason(reason),
                    None => break "the event channel closed".to_string(),
                },
                _ = resync.tick() => {
                    if let Err(e) = self.resync(&conn).await {
                        break e;
                    }
                }
                _ = self.lost.notified() => {
                    let c = conn.clone();
                    if !blocking(move || Ok::<_, String>(c.is_alive().unwrap_or(false))).await.unwrap_or(false) {
                        break "the connection broke".to_string();
                    }
                }
            }
        };
        drop_off_runtime(conn, registrations);
        why
    }

    /// Reads the facts, guests and pools again and hands them to the watcher.
    async fn resync(&self, conn: &Arc<Connect>) -> Result<(), String> {
        let (c, name) = (conn.clone(), self.name.clone());
        let (facts, guests, pools) = blocking(move || {
            let facts = host::facts(&c).map_err(|e| e.message().to_string())?;
            let guests = domain::read_all(&c).map_err(|e| e.message().to_string())?;
            let pools = storage_pool::list(&name, &c).map_err(failure_text)?;
            Ok((facts, guests, pools))
        })
        .await?;
        self.watcher.resynced(self, facts, guests, pools);
        Ok(())
    }
}

fn failure_text(f: Failure) -> String {
    match f {
        Failure::Libvirt(e) => e.message().to_string(),
        Failure::Own(e) => e.to_string(),
    }
}

fn close_reason(reason: i32) -> String {
    match reason as u32 {
        sys::VIR_CONNECT_CLOSE_REASON_EOF => "the host closed the connection".into(),
        sys::VIR_CONNECT_CLOSE_REASON_KEEPALIVE => {
            "the host stopped answering (keepalive timed out)".into()
        }
        sys::VIR_CONNECT_CLOSE_REASON_CLIENT => "the connection was closed".into(),
        _ => "the connection failed".into(),
    }
}

/// Runs blocking libvirt work off the runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|join| Err(format!("libvirt task failed: {join}")))
}

fn drop_off_runtime(conn: Arc<Connect>, registrations: sys::Registrations) {
    tokio::task::spawn_blocking(move || {
        drop(registrations);
        drop(conn);
    });
}

/// Nice value of the threads that open hosts (0 is the default, 19 the lowest).
const OPEN_NICE: i32 = 10;

/// Opens the host on a thread of its own, at a lower priority than the
/// rest of the process: opening is bulk work (the test driver parses every
/// guest's definition; a real host's handshake waits on the network), and
/// ten hosts opening at once on two cores starved the login, the database's
/// first steps and every request that needs no host (measured: listening
/// 240–390 ms after the launch on a first start instead of ~80 ms). The
/// thread ends with the open, so its priority never reaches other work.
fn open_in_background(
    name: String,
    uri: String,
) -> tokio::sync::oneshot::Receiver<Result<Opened, String>> {
    let (done, opened) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("virtdeck-open-{name}"))
        .spawn(move || {
            // An ssh (or ext) transport's process would inherit it for the
            // connection's whole life: those keep the normal priority.
            let own_process = uri.contains("+ssh:") || uri.contains("+ext:");
            if !own_process && !sys::lower_this_thread_priority(OPEN_NICE) {
                tracing::debug!(host = %name, "the open runs at the normal priority");
            }
            // Nobody waits any more (the process is stopping): closed here.
            let _ = done.send(open(&name, &uri));
        });
    if let Err(e) = spawned {
        // `done` is dropped with the closure: the attempt fails, and is retried.
        tracing::error!("cannot start a thread to open a host: {e}");
    }
    opened
}

/// A connection just opened, with its callbacks.
struct Opened {
    conn: Connect,
    registrations: sys::Registrations,
    signals: mpsc::UnboundedReceiver<Signal>,
}

/// Opens a connection (blocking, possibly for ever against a silent host),
/// sets keepalive and registers the callbacks.
fn open(name: &str, uri: &str) -> Result<Opened, String> {
    let conn = Connect::open(Some(uri)).map_err(|e| e.message().trim().to_string())?;
    if let Err(e) = conn.set_keep_alive(KEEPALIVE_INTERVAL, KEEPALIVE_COUNT) {
        // The test driver and local connections have no keepalive: not a failure.
        tracing::debug!(host = name, "no keepalive: {}", e.message());
    }
    let (tx, signals) = mpsc::unbounded_channel();
    let registrations = sys::register(&conn, &tx);
    Ok(Opened {
        conn,
        registrations,
        signals,
    })
}

/// Why a blocking libvirt closure failed.
pub enum Failure {
    Libvirt(virt::error::Error),
    Own(Error),
}

impl From<virt::error::Error> for Failure {
    fn from(e: virt::error::Error) -> Self {
        Failure::Libvirt(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_of_a_host_comes_from_its_uri() {
        assert_eq!(uri_host("qemu+tcp://127.0.0.2/system"), "127.0.0.2");
        assert_eq!(
            uri_host("qemu+ssh://root@kvm1:2222/system?keyfile=x"),
            "kvm1"
        );
        assert_eq!(uri_host("qemu+tls://[fd00::1]:16514/system"), "fd00::1");
        assert_eq!(uri_host("qemu:///system"), "127.0.0.1");
        assert_eq!(uri_host("test:///default"), "127.0.0.1");
    }
}
