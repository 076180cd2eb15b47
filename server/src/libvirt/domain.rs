//! Guests (libvirt domains): listing, summaries and lifecycle actions.

use super::error::Error;
use app::api::guests::{GuestAction, GuestState, GuestSummary};
use virt::{
    connect::Connect,
    domain::{Domain, DomainState},
    error::ErrorNumber,
};

use super::{connection::Failure, HostConnection};

pub fn state_of(raw: virt::domain::DomainStateEnum) -> GuestState {
    if !raw.is_known() {
        return GuestState::Nostate;
    }
    match raw.unwrap() {
        DomainState::NoState => GuestState::Nostate,
        DomainState::Running => GuestState::Running,
        DomainState::Blocked => GuestState::Blocked,
        DomainState::Paused => GuestState::Paused,
        DomainState::Shutdown => GuestState::Shutdown,
        DomainState::Shutoff => GuestState::Shutoff,
        DomainState::Crashed => GuestState::Crashed,
        DomainState::PMSuspended => GuestState::Pmsuspended,
    }
}

fn is_gone(e: &virt::error::Error) -> bool {
    e.code().is_known() && matches!(e.code().unwrap(), ErrorNumber::NoDomain)
}

/// The summary of one guest (a few calls on the same connection).
fn summary(host: &str, dom: &Domain) -> Result<GuestSummary, virt::error::Error> {
    // One call for state, vCPUs and memory; name and UUID are cached in the handle.
    let info = dom.info()?;
    Ok(GuestSummary {
        host: host.to_string(),
        name: dom.name()?,
        uuid: dom.uuid_string()?,
        state: state_of(info.state),
        vcpus: info.nr_virt_cpu,
        memory_kib: info.memory,
        persistent: dom.is_persistent()?,
        autostart: dom.autostart().unwrap_or(false),
        stale: false,
    })
}

/// Every guest of the host, sorted by name (blocking). Guests that vanish
/// while being read (a transient guest stopping) are left out.
pub fn read_all(host: &str, conn: &Connect) -> Result<Vec<GuestSummary>, virt::error::Error> {
    let mut guests = Vec::new();
    for dom in conn.list_all_domains(0)? {
        match summary(host, &dom) {
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
pub fn read_one(
    host: &str,
    conn: &Connect,
    uuid: &str,
) -> Result<Option<GuestSummary>, virt::error::Error> {
    match conn.lookup_domain_by_uuid_string(uuid) {
        Ok(dom) => match summary(host, &dom) {
            Ok(s) => Ok(Some(s)),
            Err(e) if is_gone(&e) => Ok(None),
            Err(e) => Err(e),
        },
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The guest `uuid` of the host, `None` if the host has no such guest.
pub async fn find(host: &HostConnection, uuid: &str) -> Result<Option<GuestSummary>, Error> {
    let name = host.name().to_string();
    let uuid = uuid.to_string();
    host.run(move |conn| read_one(&name, conn, &uuid)).await
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
pub async fn act(
    host: &HostConnection,
    uuid: &str,
    action: GuestAction,
) -> Result<GuestSummary, Error> {
    let name = host.name().to_string();
    let uuid = uuid.to_string();
    host.run_mapped(move |conn| {
        let dom = lookup(&name, conn, &uuid)?;
        let before = summary(&name, &dom)?;
        match action {
            GuestAction::Start => dom.create(),
            GuestAction::Shutdown => dom.shutdown(),
            GuestAction::Reboot => dom.reboot(0),
            GuestAction::Destroy => dom.destroy(),
            GuestAction::Suspend => dom.suspend(),
            GuestAction::Resume => dom.resume(),
        }?;
        match summary(&name, &dom) {
            Ok(after) => Ok(after),
            // A transient guest is gone once it stops.
            Err(e) if is_gone(&e) => Ok(GuestSummary {
                state: GuestState::Shutoff,
                ..before
            }),
            Err(e) => Err(e.into()),
        }
    })
    .await
}

/// A guest and the disks it uses, for "which guests use this storage".
pub struct DiskUser {
    pub guest: app::api::volumes::VolumeUser,
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
                guest: app::api::volumes::VolumeUser {
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
