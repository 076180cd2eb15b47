//! A guest's life beyond start and stop, as blocking functions on one
//! connection, in this layer's own terms: what a host offers a new guest and
//! creating one, rolled back whole on failure (`create`); its overview and
//! usage (`detail`); edits (`edit`); and delete (`delete`). The services run
//! them off the runtime and turn their answers into the API's.

mod create;
mod delete;
mod detail;
mod edit;

use std::collections::BTreeSet;

use rand::{distributions::Alphanumeric, Rng};
use virt::{connect::Connect, domain::Domain, error::ErrorNumber};

pub use create::{create, options, Install, NewDomain, NicChoice, Offer};
pub use delete::{delete, Deleted};
pub use detail::{detail, stats, Detail, DiskDetail, Stats};
pub use edit::{update, AttachDisk, AttachNic, Edit};

use super::{
    connection::Failure,
    domain::{DiskUser, GuestRef},
    error::Error,
    storage_pool::failed,
    storage_volume, sys,
    xml::{self, domain::DiskSource, guest::DiskBacking, tree::Node},
};

pub(super) fn unreadable(e: xml::XmlError) -> Failure {
    tracing::error!("{e}");
    Failure::Own(Error::Internal)
}

pub(super) fn code(e: &virt::error::Error) -> Option<ErrorNumber> {
    e.code().is_known().then(|| e.code().unwrap())
}

/// The guest `uuid`, or NotFound.
pub fn lookup(host: &str, conn: &Connect, uuid: &str) -> Result<Domain, Failure> {
    conn.lookup_domain_by_uuid_string(uuid).map_err(|e| {
        if code(&e) == Some(ErrorNumber::NoDomain) {
            Failure::Own(Error::NotFound(format!(
                "host {host} has no guest with UUID {uuid}"
            )))
        } else {
            Failure::Libvirt(e)
        }
    })
}

/// The domain types the host runs on its own architecture, best first.
pub(super) fn accels(conn: &Connect) -> Result<(Option<String>, Vec<String>), Failure> {
    let caps = conn.capabilities()?;
    let identity = xml::capabilities::host_identity(&caps);
    let arch = xml::capabilities::host_cpu(&caps).arch;
    let mut found: Vec<String> = identity
        .guests
        .iter()
        .filter(|(a, _)| arch.as_deref().is_none_or(|h| h == a))
        .flat_map(|(_, types)| types.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rank = |t: &str| match t {
        "kvm" => 0,
        "qemu" => 1,
        _ => 2,
    };
    found.sort_by_key(|t| rank(t));
    // The test driver's guests run on i686 whatever the host says.
    let arch = arch.filter(|a| identity.guests.iter().any(|(g, _)| g == a));
    let arch = arch.or_else(|| identity.guests.first().map(|(a, _)| a.clone()));
    Ok((arch, found))
}

/// Whether the host can boot `accel` guests with UEFI firmware.
pub(super) fn offers_uefi(conn: &Connect, arch: Option<&str>, accel: &str) -> bool {
    match conn.domain_capabilities(None, arch, None, Some(accel), 0) {
        Ok(xml) => xml::capabilities::offers_uefi(&xml),
        Err(_) => false,
    }
}

/// A new VNC password (VNC uses at most 8 characters).
pub fn random_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(8)
        .map(char::from)
        .collect()
}

/// A volume as a guest's disk names it: by path for files and devices, by
/// pool and name otherwise (LUNs of a network pool).
pub(super) fn backing(
    host: &str,
    conn: &Connect,
    pool: &str,
    volume: &str,
) -> Result<(DiskBacking, Option<String>, u64), Failure> {
    let found = storage_volume::resolve(host, conn, pool, volume)?;
    let vol = found.volume;
    let format = vol.format.clone();
    let backing = match found.vol_type {
        sys::VIR_STORAGE_VOL_FILE => DiskBacking::File(vol.path.clone()),
        sys::VIR_STORAGE_VOL_BLOCK => DiskBacking::Block(vol.path.clone()),
        _ => DiskBacking::Volume {
            pool: pool.to_string(),
            volume: volume.to_string(),
        },
    };
    Ok((backing, format, vol.capacity))
}

/// Deletes a volume made for a guest that could not be made; says what
/// happened when that fails too.
pub(super) fn remove_volume(host: &str, conn: &Connect, path: &str) -> Option<String> {
    let result = conn
        .lookup_storage_vol_by_path(path)
        .and_then(|v| v.delete(0));
    match result {
        Ok(()) => None,
        Err(e) => {
            tracing::error!(host, path, "cannot remove volume: {}", e.message());
            Some(format!(
                " The new volume {path} could not be removed ({}): delete it on the storage page.",
                e.message()
            ))
        }
    }
}

/// A call libvirt refused. QEMU's start-up failures come as system errors
/// ("Cannot get interface MTU on 'br9': No such device"), which otherwise
/// read as a lost connection: while the connection is alive they are the
/// host's answer, with its words.
pub(super) fn refused(
    host: &str,
    conn: &Connect,
    e: virt::error::Error,
    context: impl FnOnce(String) -> String,
) -> Failure {
    if conn.is_alive().unwrap_or(false) {
        Failure::Own(Error::Libvirt(format!(
            "host {host}: {}",
            context(e.message().trim().to_string())
        )))
    } else {
        failed(host, e, context)
    }
}

/// The volume behind a disk: (pool, volume, capacity) if libvirt knows it.
pub(super) fn volume_of(
    conn: &Connect,
    backing: &DiskBacking,
) -> Option<(String, String, u64, String)> {
    let vol = match backing {
        DiskBacking::File(p) | DiskBacking::Block(p) => conn.lookup_storage_vol_by_path(p).ok()?,
        DiskBacking::Volume { pool, volume } => conn
            .lookup_storage_pool_by_name(pool)
            .ok()?
            .lookup_storage_vol_by_name(volume)
            .ok()?,
    };
    let pool = vol.lookup_storage_pool().ok()?.name().ok()?;
    let info = vol.info().ok()?;
    Some((pool, vol.name().ok()?, info.capacity, vol.path().ok()?))
}

pub(super) fn same_disk(source: &DiskSource, backing: &DiskBacking, path: Option<&str>) -> bool {
    match (source, backing) {
        (DiskSource::Path(p), _) => Some(p.as_str()) == path,
        (
            DiskSource::Volume { pool, volume },
            DiskBacking::Volume {
                pool: bp,
                volume: bv,
            },
        ) => pool == bp && volume == bv,
        _ => false,
    }
}

pub(super) fn path_of(backing: &DiskBacking) -> Option<&str> {
    match backing {
        DiskBacking::File(p) | DiskBacking::Block(p) => Some(p),
        DiskBacking::Volume { .. } => None,
    }
}

/// The other guests of the host using the same storage as `backing`.
pub(super) fn sharing(
    users: &[DiskUser],
    uuid: &str,
    backing: &DiskBacking,
    path: Option<&str>,
) -> Vec<GuestRef> {
    users
        .iter()
        .filter(|u| !u.guest.uuid.eq_ignore_ascii_case(uuid))
        .filter(|u| u.disks.iter().any(|d| same_disk(d, backing, path)))
        .map(|u| u.guest.clone())
        .collect()
}

/// The definition for the next boot, editable.
pub(super) fn config_tree(dom: &Domain) -> Result<Node, Failure> {
    let xml = dom.xml_desc(sys::VIR_DOMAIN_XML_INACTIVE | sys::VIR_DOMAIN_XML_SECURE)?;
    Node::parse("domain", &xml).map_err(unreadable)
}

pub(super) fn devices(tree: &mut Node) -> &mut Node {
    tree.ensure_child("devices")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_passwords_fit_vnc() {
        assert_eq!(random_password().len(), 8);
        assert_ne!(random_password(), random_password());
    }
}
