//! Deleting a guest with the volumes asked for: each must be one of its own
//! disks and used by no other guest, or nothing is deleted.

use virt::{connect::Connect, error::ErrorNumber};

use super::{code, lookup, path_of, sharing, unreadable, volume_of, Failure};
use crate::libvirt::{
    domain,
    error::{clip, Error},
    storage_pool::failed,
    sys,
    xml::guest as gx,
};

/// What a delete did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub name: String,
    pub deleted_volumes: Vec<String>,
    /// It was running and was forced off first.
    pub stopped: bool,
    /// Volumes that could not be deleted, and why.
    pub errors: Vec<String>,
}

/// Deletes the guest and those of its volumes listed in `paths`.
pub fn delete(
    host: &str,
    conn: &Connect,
    uuid: &str,
    paths: &[String],
) -> Result<Deleted, Failure> {
    let dom = lookup(host, conn, uuid)?;
    let name = dom.name()?;
    let o = gx::overview(&dom.xml_desc(0)?).map_err(unreadable)?;
    // Every requested volume must be one of this guest's disks, used by no other.
    let users = domain::disk_users(conn)?;
    let mut volumes = Vec::new();
    for path in paths {
        let disk = o.disks.iter().find_map(|d| {
            let b = d.backing.as_ref()?;
            let p = path_of(b)
                .map(str::to_string)
                .or_else(|| volume_of(conn, b).map(|f| f.3))?;
            (p == *path).then_some(b)
        });
        let Some(backing) = disk else {
            return Err(Failure::Own(Error::Invalid(format!(
                "{:?} is not a disk of {name}: nothing was deleted",
                clip(path)
            ))));
        };
        let others = sharing(&users, uuid, backing, Some(path));
        if !others.is_empty() {
            return Err(Failure::Own(Error::Conflict(format!(
                "volume {path} is also used by {}: it cannot be deleted with {name}. Untick it to keep it; nothing was deleted.",
                others
                    .iter()
                    .map(|g| g.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))));
        }
        let vol = conn.lookup_storage_vol_by_path(path).map_err(|_| {
            Failure::Own(Error::Conflict(format!(
                "{path} is not a volume of any storage pool of host {host}, so virtdeck cannot delete it: untick it; nothing was deleted"
            )))
        })?;
        volumes.push((path.clone(), vol));
    }
    let mut stopped = false;
    if dom.is_active()? {
        dom.destroy()
            .map_err(|e| failed(host, e, |m| format!("cannot stop {name}: {m}")))?;
        stopped = true;
    }
    if dom.is_persistent().unwrap_or(false) {
        let all = sys::VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
            | sys::VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
            | sys::VIR_DOMAIN_UNDEFINE_NVRAM
            | sys::VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
        if let Err(e) = dom.undefine_flags(all) {
            // Drivers without NVRAM or checkpoints refuse those flags.
            if matches!(
                code(&e),
                Some(
                    ErrorNumber::InvalidArg
                        | ErrorNumber::NoSupport
                        | ErrorNumber::ArgumentUnsupported
                )
            ) {
                dom.undefine_flags(
                    sys::VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                        | sys::VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
                )
                .map_err(|e| failed(host, e, |m| format!("cannot delete {name}: {m}")))?;
            } else {
                return Err(failed(host, e, |m| format!("cannot delete {name}: {m}")));
            }
        }
    }
    let mut deleted_volumes = Vec::new();
    let mut errors = Vec::new();
    for (path, vol) in volumes {
        match vol.delete(0) {
            Ok(()) => deleted_volumes.push(path),
            Err(e) => errors.push(format!(
                "volume {path} could not be deleted: {}",
                e.message()
            )),
        }
    }
    Ok(Deleted {
        name,
        deleted_volumes,
        stopped,
        errors,
    })
}
