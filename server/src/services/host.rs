//! One managed host as the services see it: the libvirt layer's connection
//! (kept up by its supervisor) plus the cache of what the host runs, in the
//! API's terms. The supervisor tells the cache what it read (`HostWatcher`);
//! the cache says what really changed, and only that is announced on the
//! event channel. Actions through virtdeck record their result here too, so
//! the libvirt event that follows finds nothing new.

use std::{
    ops::Deref,
    sync::{Arc, Mutex},
    time::SystemTime,
};

use app::api::{
    events::ServerEvent,
    guests::GuestSummary,
    hosts::{HostState, HostSummary},
    maintenance::HostMaintenance,
    pools::PoolSummary,
    ApiError,
};
use tokio::sync::broadcast;

use super::{
    cache::{Change, HostCache, SortedGuests},
    convert::{guest_summary, pool_summary},
};
use crate::{
    clock::rfc3339,
    libvirt::{
        connection::{HostWatcher, LinkState},
        domain::{self, Guest},
        host::HostFacts,
        storage_pool::Pool,
        HostConnection,
    },
};

/// A host: its connection (`Deref`s to it, for `run`, `name`, …) and its cache.
pub struct Host {
    conn: Arc<HostConnection>,
    view: Arc<HostView>,
}

impl Deref for Host {
    type Target = HostConnection;
    fn deref(&self) -> &HostConnection {
        &self.conn
    }
}

impl Host {
    /// The host, not yet connected: `supervise` it to connect.
    pub fn new(
        name: &str,
        uri: &str,
        migration_uri: Option<&str>,
        events: broadcast::Sender<ServerEvent>,
    ) -> Arc<Self> {
        let view = Arc::new(HostView {
            cache: Mutex::new(HostCache::default()),
            events,
            maintenance: Mutex::new(None),
        });
        let conn = Arc::new(HostConnection::new(name, uri, migration_uri, view.clone()));
        Arc::new(Host { conn, view })
    }

    /// The host's maintenance, if any.
    pub fn maintenance(&self) -> Option<HostMaintenance> {
        self.view
            .maintenance
            .lock()
            .expect("maintenance lock")
            .clone()
    }

    /// Sets (or clears) the host's maintenance and announces the host.
    pub fn set_maintenance(&self, m: Option<HostMaintenance>) {
        *self.view.maintenance.lock().expect("maintenance lock") = m;
        self.view.announce_host(&self.conn);
    }

    /// Refuses (409) to start, create or bring a guest here while the host is
    /// in or entering maintenance.
    pub fn ensure_open(&self) -> Result<(), ApiError> {
        match self.maintenance() {
            Some(m) if m.state.closed() => Err(ApiError::Conflict(format!(
                "host {} is {}: nothing may start on it or move to it until it leaves maintenance",
                self.name(),
                match m.state {
                    app::api::maintenance::MaintenanceState::Entering => "entering maintenance",
                    _ => "in maintenance",
                }
            ))),
            _ => Ok(()),
        }
    }

    /// The connection, for its supervisor task.
    pub fn connection(&self) -> Arc<HostConnection> {
        self.conn.clone()
    }

    /// The host as the API shows it, from what is known now.
    pub fn summary(&self) -> HostSummary {
        self.view.summary(&self.conn)
    }

    /// The guests as last read; `stale` while the host is not connected.
    pub fn guests(&self) -> Vec<GuestSummary> {
        let (stale, sorted) = self.sorted_guests();
        sorted
            .guests
            .iter()
            .map(|g| GuestSummary { stale, ..g.clone() })
            .collect()
    }

    /// The guests as last read, sorted by name (shared, not copied), and
    /// whether they are stale (the host is not connected now).
    pub fn sorted_guests(&self) -> (bool, Arc<SortedGuests>) {
        let stale = !self.conn.is_connected();
        (stale, self.view.cache.lock().expect("cache lock").sorted())
    }

    /// Since when guest `uuid` runs, if virtdeck saw it start.
    pub fn running_since(&self, uuid: &str) -> Option<SystemTime> {
        self.view
            .cache
            .lock()
            .expect("cache lock")
            .running_since
            .get(uuid)
            .copied()
    }

    /// The storage pools as last read, while the host is connected.
    pub fn pools(&self) -> Vec<PoolSummary> {
        if !self.conn.is_connected() {
            return Vec::new();
        }
        self.pools_as_last_seen()
    }

    /// The storage pools as last read, connected or not (what it shares
    /// with other hosts is known while it is away).
    pub fn pools_as_last_seen(&self) -> Vec<PoolSummary> {
        self.view
            .cache
            .lock()
            .expect("cache lock")
            .pools
            .values()
            .cloned()
            .collect()
    }

    /// The guest `uuid` as the host reads it now, `None` if it has no such guest.
    pub async fn find_guest(&self, uuid: &str) -> Result<Option<GuestSummary>, ApiError> {
        let guest = domain::find(&self.conn, uuid).await?;
        Ok(guest.map(|g| guest_summary(self.name(), g)))
    }

    /// Reads the guest again into the cache (announced if it changed).
    pub async fn refresh_guest(&self, uuid: &str) {
        if let Ok(now) = self.find_guest(uuid).await {
            self.note_guest(uuid, now);
        }
    }

    /// Records a guest as an action through virtdeck left it (`None`: gone);
    /// announced if it changed.
    pub fn note_guest(&self, uuid: &str, guest: Option<GuestSummary>) {
        self.view.note_guest(&self.conn, uuid, guest);
    }

    /// Records a pool as an action through virtdeck left it (`None`: gone).
    pub fn note_pool(&self, name: &str, pool: Option<PoolSummary>) {
        self.view.note_pool(&self.conn, name, pool);
    }
}

/// The cache and the event channel: what the supervisor reports lands here.
struct HostView {
    cache: Mutex<HostCache>,
    events: broadcast::Sender<ServerEvent>,
    maintenance: Mutex<Option<HostMaintenance>>,
}

fn host_state(s: LinkState) -> HostState {
    match s {
        LinkState::Connecting => HostState::Connecting,
        LinkState::Connected => HostState::Connected,
        LinkState::Unreachable => HostState::Unreachable,
    }
}

impl HostView {
    fn summary(&self, host: &HostConnection) -> HostSummary {
        let link = host.link();
        let cache = self.cache.lock().expect("cache lock");
        let facts = cache.facts.clone().unwrap_or_default();
        let connected = link.state == LinkState::Connected;
        HostSummary {
            name: host.name().to_string(),
            uri: Some(host.uri().to_string()),
            connected,
            error: (!connected).then(|| link.error.clone()).flatten(),
            arch: facts.arch,
            cpu_model: facts.cpu_model,
            cpus: facts.cpus,
            memory_kib: facts.memory_kib,
            libvirt_version: facts.libvirt_version,
            hypervisor_version: facts.hypervisor_version,
            guests: cache.facts.is_some().then_some(cache.guests.len() as u32),
            state: host_state(link.state),
            state_since: Some(rfc3339(link.since)),
            next_attempt_at: link.next_attempt.map(rfc3339),
            maintenance: self.maintenance.lock().expect("maintenance lock").clone(),
        }
    }

    fn announce(&self, host: &HostConnection, changes: Vec<Change>) {
        for change in changes {
            let event = match change {
                Change::Guest(guest) => ServerEvent::GuestChanged { guest },
                Change::GuestGone(uuid) => ServerEvent::GuestRemoved {
                    host: host.name().to_string(),
                    uuid,
                },
                Change::Pool(pool) => ServerEvent::PoolChanged { pool },
                Change::PoolGone(name) => ServerEvent::PoolRemoved {
                    host: host.name().to_string(),
                    name,
                },
            };
            // Nobody listening is fine.
            let _ = self.events.send(event);
        }
    }

    fn announce_host(&self, host: &HostConnection) {
        let _ = self.events.send(ServerEvent::HostChanged {
            host: Box::new(self.summary(host)),
        });
    }

    fn note_guest(&self, host: &HostConnection, uuid: &str, guest: Option<GuestSummary>) {
        let change = self.cache.lock().expect("cache lock").guest(uuid, guest);
        let count_changed = matches!(change, Some(Change::GuestGone(_)));
        self.announce(host, change.into_iter().collect());
        if count_changed {
            self.announce_host(host);
        }
    }

    fn note_pool(&self, host: &HostConnection, name: &str, pool: Option<PoolSummary>) {
        let change = self.cache.lock().expect("cache lock").pool(name, pool);
        self.announce(host, change.into_iter().collect());
    }
}

impl HostWatcher for HostView {
    fn link_changed(&self, host: &HostConnection) {
        self.announce_host(host);
    }

    fn resynced(
        &self,
        host: &HostConnection,
        facts: HostFacts,
        guests: Vec<Guest>,
        pools: Vec<Pool>,
    ) {
        let name = host.name();
        let guests = guests.into_iter().map(|g| guest_summary(name, g)).collect();
        let pools = pools.into_iter().map(|p| pool_summary(name, p)).collect();
        let (changes, count_changed) = {
            let mut cache = self.cache.lock().expect("cache lock");
            let before = cache.guests.len();
            let first = !cache.is_filled();
            let mut changes = cache.replace(facts, guests, pools);
            if first {
                // A host's first read is not a change of each of its guests:
                // thousands of events would overflow every listener's queue
                // (the relay then closes every socket, the notifier misses
                // what matters). The host's event, with its count, makes the
                // pages read their lists again.
                changes.retain(|c| !matches!(c, Change::Guest(_) | Change::GuestGone(_)));
            }
            (changes, first || cache.guests.len() != before)
        };
        self.announce(host, changes);
        if count_changed {
            self.announce_host(host);
        }
    }

    fn guest_read(&self, host: &HostConnection, uuid: &str, guest: Option<Guest>) {
        let guest = guest.map(|g| guest_summary(host.name(), g));
        self.note_guest(host, uuid, guest);
    }

    fn pool_read(&self, host: &HostConnection, name: &str, pool: Option<Pool>) {
        let pool = pool.map(|p| pool_summary(host.name(), p));
        self.note_pool(host, name, pool);
    }
}
