//! Guests (libvirt domains): listing, summaries and lifecycle actions, in
//! this layer's own terms (`Guest`, `RunState`, `Lifecycle`).

use virt::{
    connect::Connect,
    domain::{Domain, DomainState},
    error::ErrorNumber,
};

use super::{connection::Failure, error::Error, HostConnection};

/// A guest's run state, as libvirt reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunState {
    Running,
    Paused,
    Shutoff,
    Shutdown,
    Crashed,
    PmSuspended,
    Blocked,
    NoState,
}

impl RunState {
    /// In words, for messages ("x is shut off").
    pub fn label(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Shutoff => "shut off",
            RunState::Shutdown => "shutting down",
            RunState::Crashed => "crashed",
            RunState::PmSuspended => "suspended (PM)",
            RunState::Blocked => "blocked",
            RunState::NoState => "no state",
        }
    }

    /// Has a running QEMU behind it (anything but shut off or crashed).
    pub fn is_active(self) -> bool {
        !matches!(self, RunState::Shutoff | RunState::Crashed)
    }
}

/// A lifecycle action on a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Start,
    Shutdown,
    Reboot,
    /// Force off.
    Destroy,
    Suspend,
    Resume,
}

/// One guest as the host reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guest {
    pub name: String,
    pub uuid: String,
    pub state: RunState,
    pub vcpus: u32,
    pub memory_kib: u64,
    pub persistent: bool,
    pub autostart: bool,
}

pub fn state_of(raw: virt::domain::DomainStateEnum) -> RunState {
    if !raw.is_known() {
        return RunState::NoState;
    }
    match raw.unwrap() {
        DomainState::NoState => RunState::NoState,
        DomainState::Running => RunState::Running,
        DomainState::Blocked => RunState::Blocked,
        DomainState::Paused => RunState::Paused,
        DomainState::Shutdown => RunState::Shutdown,
        DomainState::Shutoff => RunState::Shutoff,
        DomainState::Crashed => RunState::Crashed,
        DomainState::PMSuspended => RunState::PmSuspended,
    }
}

fn is_gone(e: &virt::error::Error) -> bool {
    e.code().is_known() && matches!(e.code().unwrap(), ErrorNumber::NoDomain)
}

/// The summary of one guest (a few calls on the same connection).
fn summary(dom: &Domain) -> Result<Guest, virt::error::Error> {
    // One call for state, vCPUs and memory; name and UUID are cached in the handle.
    let info = dom.info()?;
    Ok(Guest {
        name: dom.name()?,
        uuid: dom.uuid_string()?,
        state: state_of(info.state),
        vcpus: info.nr_virt_cpu,
        memory_kib: info.memory,
        persistent: dom.is_persistent()?,
        autostart: dom.autostart().unwrap_or(false),
    })
}

/// Every guest of the host, sorted by name (blocking). Guests that vanish
/// while being read (a transient guest stopping) are left out.
pub fn read_all(conn: &Connect) -> Result<Vec<Guest>, virt::error::Error> {
    let mut guests = Vec::new();
    for dom in conn.list_all_domains(0)? {
        match summary(&dom) {
            Ok(g) => guests.push(g),
            Err(e) if is_gone(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    guests.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(guests)
}

/// The guest `uuid` as the host reads it now, `None` if it has no such guest
/// (blocking).
pub fn read_one(conn: &Connect, uuid: &str) -> Result<Option<Guest>, virt::error::Error> {
    match conn.lookup_domain_by_uuid_string(uuid) {
        Ok(dom) => match summary(&dom) {
            Ok(s) => Ok(Some(s)),
            Err(e) if is_gone(&e) => Ok(None),
            Err(e) => Err(e),
        },
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The guest `uuid` of the host, `None` if the host has no such guest.
pub async fn find(host: &HostConnection, uuid: &str) -> Result<Option<Guest>, Error> {
    let uuid = uuid.to_string();
    host.run(move |conn| read_one(conn, &uuid)).await
}

fn lookup(host: &str, conn: &Connect, uuid: &str) -> Result<Domain, Failure> {
    conn.lookup_domain_by_uuid_string(uuid).map_err(|e| {
        if is_gone(&e) {
            Failure::Own(Error::NotFound(format!(
                "host {host} has no guest with UUID {uuid}"
            )))
        } else {
            Failure::Libvirt(e)
        }
    })
}

/// Runs `action` and returns the guest's state afterwards.
pub async fn act(host: &HostConnection, uuid: &str, action: Lifecycle) -> Result<Guest, Error> {
    let name = host.name().to_string();
    let uuid = uuid.to_string();
    host.run_mapped(move |conn| {
        let dom = lookup(&name, conn, &uuid)?;
        let before = summary(&dom)?;
        match action {
            Lifecycle::Start => dom.create(),
            Lifecycle::Shutdown => dom.shutdown(),
            Lifecycle::Reboot => dom.reboot(0),
            Lifecycle::Destroy => dom.destroy(),
            Lifecycle::Suspend => dom.suspend(),
            Lifecycle::Resume => dom.resume(),
        }?;
        match summary(&dom) {
            Ok(after) => Ok(after),
            // A transient guest is gone once it stops.
            Err(e) if is_gone(&e) => Ok(Guest {
                state: RunState::Shutoff,
                ..before
            }),
            Err(e) => Err(e.into()),
        }
    })
    .await
}

/// A guest, by UUID, name and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestRef {
    pub uuid: String,
    pub name: String,
    pub state: RunState,
}

/// A guest and the disks it uses, for "which guests use this storage".
pub struct DiskUser {
    pub guest: GuestRef,
    pub disks: Vec<super::xml::domain::DiskSource>,
}

/// Every guest defined or running on the host with its disks. Guests that
/// vanish while being read are left out.
pub fn disk_users(conn: &Connect) -> Result<Vec<DiskUser>, Failure> {
    let mut users = Vec::new();
    for dom in conn.list_all_domains(0)? {
        let read = || -> Result<DiskUser, virt::error::Error> {
            let info = dom.info()?;
            let xml = dom.xml_desc(0)?;
            Ok(DiskUser {
                guest: GuestRef {
                    uuid: dom.uuid_string()?,
                    name: dom.name()?,
                    state: state_of(info.state),
                },
                disks: super::xml::domain::disks(&xml).unwrap_or_else(|e| {
                    tracing::warn!("{e}");
                    Vec::new()
                }),
            })
        };
        match read() {
            Ok(user) => users.push(user),
            Err(e) if is_gone(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(users)
}
