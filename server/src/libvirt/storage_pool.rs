//! Storage pools: summaries, the types a host supports, source scans, creation
//! with roll-back, and pool actions. Blocking functions on one connection;
//! `storage::LibvirtStorage` runs them off the async runtime.

use std::collections::HashSet;

use super::error::{clip, Error};
use virt::{
    connect::Connect,
    error::{Error as VirtError, ErrorNumber},
    storage_pool::StoragePool,
};

use super::{
    connection::Failure,
    domain::{self, DiskUser, GuestRef},
    error::{from_virt, is_connection_lost},
    sys,
    xml::{self, domain::DiskSource},
};

fn code(e: &VirtError) -> Option<ErrorNumber> {
    e.code().is_known().then(|| e.code().unwrap())
}

/// A libvirt error with context added to its message, keeping connection
/// losses as they are (so the connection is reopened).
pub fn failed(host: &str, e: VirtError, context: impl FnOnce(String) -> String) -> Failure {
    if is_connection_lost(&e) {
        return Failure::Libvirt(e);
    }
    Failure::Own(from_virt(host, &e).map_message(context))
}

fn xml_failure(e: xml::XmlError) -> Failure {
    tracing::error!("{e}");
    Failure::Own(Error::Internal)
}

/// A pool's state, as libvirt reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolStatus {
    Active,
    Inactive,
    Building,
    Degraded,
    Inaccessible,
}

/// One pool as the host reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub name: String,
    pub uuid: String,
    /// Libvirt's pool type (`dir`, `netfs`, `iscsi-direct`, …).
    pub kind: String,
    pub state: PoolStatus,
    pub autostart: bool,
    pub persistent: bool,
    pub capacity: u64,
    pub allocation: u64,
    pub available: u64,
    pub target_path: Option<String>,
    pub source: xml::pool::Source,
    /// The number of volumes; `None` while the pool is not active.
    pub volumes: Option<u32>,
}

fn state(raw: u32) -> PoolStatus {
    match raw {
        1 => PoolStatus::Building,
        2 => PoolStatus::Active,
        3 => PoolStatus::Degraded,
        4 => PoolStatus::Inaccessible,
        _ => PoolStatus::Inactive,
    }
}

/// The pool named `name`, or NotFound.
pub fn find(host: &str, conn: &Connect, name: &str) -> Result<StoragePool, Failure> {
    conn.lookup_storage_pool_by_name(name).map_err(|e| {
        if code(&e) == Some(ErrorNumber::NoStoragePool) {
            Failure::Own(Error::NotFound(format!(
                "host {host} has no storage pool named {:?}",
                clip(name)
            )))
        } else {
            Failure::Libvirt(e)
        }
    })
}

/// The summary of one pool (its XML, info, flags and volume count).
pub fn summary(pool: &StoragePool) -> Result<Pool, Failure> {
    let info = pool.info()?;
    let doc = xml::pool::read(&pool.xml_desc(0)?).map_err(xml_failure)?;
    let state = state(info.state);
    // A pool being stopped at this moment has no count: not an error.
    let volumes = match state {
        PoolStatus::Active | PoolStatus::Degraded => pool.num_of_volumes().ok(),
        _ => None,
    };
    Ok(Pool {
        name: doc.name,
        uuid: doc.uuid,
        kind: doc.kind,
        state,
        autostart: pool.autostart().unwrap_or(false),
        persistent: pool.is_persistent()?,
        capacity: info.capacity,
        allocation: info.allocation,
        available: info.available,
        target_path: doc.target_path,
        source: doc.source,
        volumes,
    })
}

/// Every pool of the host, sorted by name. Pools that vanish while being read
/// (a transient pool stopping) are left out.
pub fn list(host: &str, conn: &Connect) -> Result<Vec<Pool>, Failure> {
    let mut pools = Vec::new();
    for pool in conn.list_all_storage_pools(0)? {
        match summary(&pool) {
            Ok(p) => pools.push(p),
            // Changed under our feet (undefined, stopped): left out of this list.
            Err(Failure::Libvirt(e)) if !is_connection_lost(&e) => {
                if code(&e) != Some(ErrorNumber::NoStoragePool) {
                    tracing::warn!(host, "skipping a pool that cannot be read: {}", e.message());
                }
            }
            Err(e) => return Err(e),
        }
    }
    pools.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(pools)
}

/// The pool `name` as the host reads it now, `None` if it has none (blocking).
pub fn read_one(conn: &Connect, name: &str) -> Result<Option<Pool>, Failure> {
    match conn.lookup_storage_pool_by_name(name) {
        Ok(pool) => match summary(&pool) {
            Ok(p) => Ok(Some(p)),
            Err(Failure::Libvirt(e)) if code(&e) == Some(ErrorNumber::NoStoragePool) => Ok(None),
            Err(e) => Err(e),
        },
        Err(e) if code(&e) == Some(ErrorNumber::NoStoragePool) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The pool types the host's pool capabilities describe; `Ok(Err(why))`
/// when the host cannot report them.
pub fn capabilities(
    conn: &Connect,
) -> Result<Result<Vec<xml::capabilities::PoolTypeCaps>, String>, Failure> {
    match sys::storage_pool_capabilities(conn) {
        Ok(xml) => Ok(Ok(
            xml::capabilities::storage_pool_types(&xml).map_err(xml_failure)?
        )),
        Err(e) if is_connection_lost(&e) => Err(e.into()),
        Err(e) => Ok(Err(e.message().trim().to_string())),
    }
}

/// What a host needs to scan for sources of a type, when libvirt says it lacks it.
fn missing_tool(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    let absent = [
        "cannot find",
        "no such file",
        "not found",
        "not available",
        "not installed",
    ]
    .iter()
    .any(|w| m.contains(w));
    if !absent {
        return None;
    }
    [
        ("showmount", "showmount (Debian package nfs-common)"),
        ("iscsiadm", "iscsiadm (Debian package open-iscsi)"),
        ("vgs", "the LVM tools (Debian package lvm2)"),
        ("pvs", "the LVM tools (Debian package lvm2)"),
        ("lvm", "the LVM tools (Debian package lvm2)"),
    ]
    .into_iter()
    .find(|(tool, _)| m.contains(tool))
    .map(|(_, package)| package)
}

/// The sources of pools of type `kind` that the host can see; `hint` gives
/// the source host, port and initiator where the type needs them.
pub fn scan(
    host: &str,
    conn: &Connect,
    kind: &str,
    hint: &xml::pool::Source,
) -> Result<Vec<xml::pool::Source>, Failure> {
    let hint = xml::pool::scan_hint(hint);
    let found = conn
        .find_storage_pool_sources(kind, hint.as_deref(), 0)
        .map_err(|e| {
            if is_connection_lost(&e) {
                return Failure::Libvirt(e);
            }
            let message = e.message().trim().to_string();
            match missing_tool(&message) {
                Some(tool) => {
                    Failure::Own(Error::Unsupported(format!(
                        "host {host} cannot scan for {kind} sources: it needs {tool}. libvirt said: {message}"
                    )))
                }
                _ => failed(host, e, |m| format!("scanning for {kind} sources failed: {m}")),
            }
        })?;
    xml::pool::read_sources(&found).map_err(xml_failure)
}

/// Does this error say that the target directory does not exist? (`dir`:
/// "cannot open directory …: No such file or directory"; `netfs`: "mount
/// point … does not exist".)
fn missing_directory(e: &VirtError) -> bool {
    let m = e.message();
    m.contains("No such file or directory") || m.contains("does not exist")
}

/// A pool to create, checked by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewPool {
    pub def: xml::pool::PoolDef,
    /// Build it first (format the device, make the volume group or directory).
    pub build: bool,
    /// Building may overwrite what is there.
    pub overwrite: bool,
    pub autostart: bool,
    /// On failure, keep the definition (to fix it) instead of removing it.
    pub keep_on_failure: bool,
    /// The type's build step makes a directory: when the directory is
    /// missing at start, it is made.
    pub makes_directory: bool,
}

/// Defines, builds where needed, starts and (if asked) autostarts a pool.
/// When a step fails, what the earlier steps made is undone (unless
/// `keep_on_failure`), and the error says what happened to the pool.
pub fn create(host: &str, conn: &Connect, spec: &NewPool) -> Result<Pool, Failure> {
    let name = spec.def.name.as_str();
    if conn.lookup_storage_pool_by_name(name).is_ok() {
        return Err(Failure::Own(Error::Conflict(format!(
            "host {host} already has a storage pool named {name}"
        ))));
    }
    let definition = xml::pool::definition(&spec.def);
    let pool = conn
        .define_storage_pool_xml(&definition, 0)
        .map_err(|e| failed(host, e, |m| format!("{m} (nothing was created)")))?;

    let mut made_directory = false;
    let steps = (|| -> Result<(), (&'static str, VirtError)> {
        if spec.build {
            let flags = if spec.overwrite {
                sys::VIR_STORAGE_POOL_BUILD_OVERWRITE
            } else {
                sys::VIR_STORAGE_POOL_BUILD_NO_OVERWRITE
            };
            pool.build(flags).map_err(|e| ("build", e))?;
        }
        match pool.create(0) {
            Ok(()) => {}
            Err(e) if spec.makes_directory && missing_directory(&e) => {
                pool.build(0).map_err(|e| ("create the directory of", e))?;
                made_directory = true;
                pool.create(0).map_err(|e| ("start", e))?;
            }
            Err(e) => return Err(("start", e)),
        }
        if spec.autostart {
            pool.set_autostart(true)
                .map_err(|e| ("set autostart on", e))?;
        }
        Ok(())
    })();

    match steps {
        Ok(()) => summary(&pool),
        Err((step, e)) if spec.keep_on_failure => Err(failed(host, e, |m| {
            format!("cannot {step} pool {name}: {m} — the pool's definition was kept, as asked")
        })),
        Err((step, e)) => {
            let undone = roll_back(host, &pool, made_directory);
            Err(failed(host, e, |m| {
                format!("cannot {step} pool {name}: {m} — {undone}")
            }))
        }
    }
}

/// Undoes a half-made pool; says what was done, for the error message.
fn roll_back(host: &str, pool: &StoragePool, made_directory: bool) -> String {
    if pool.is_active().unwrap_or(false) {
        if let Err(e) = pool.destroy() {
            tracing::warn!(host, "roll-back: cannot stop the pool: {}", e.message());
        }
    }
    let mut removed_dir = false;
    if made_directory {
        match pool.delete(0) {
            Ok(()) => removed_dir = true,
            Err(e) => tracing::warn!(
                host,
                "roll-back: cannot remove the directory: {}",
                e.message()
            ),
        }
    }
    match pool.undefine() {
        Ok(()) if removed_dir => {
            "nothing was left behind (the definition and the directory it created were removed)"
                .into()
        }
        Ok(()) => "nothing was left behind (the definition was removed)".into(),
        Err(e) => {
            tracing::error!(host, "roll-back: cannot undefine the pool: {}", e.message());
            format!(
                "and removing its definition failed too ({}); delete the pool by hand",
                e.message().trim()
            )
        }
    }
}

/// Does a disk use storage of this pool? `volume_paths` are the pool's volumes.
fn disk_in_pool(
    disk: &DiskSource,
    pool_name: &str,
    target: Option<&str>,
    volume_paths: &HashSet<String>,
) -> bool {
    match disk {
        DiskSource::Volume { pool, .. } => pool == pool_name,
        DiskSource::Path(path) => {
            volume_paths.contains(path)
                || target.is_some_and(|t| {
                    let t = t.trim_end_matches('/');
                    !t.is_empty() && path.starts_with(&format!("{t}/"))
                })
        }
        DiskSource::Network { .. } => false,
    }
}

/// The guests whose disks use storage of `pool`; `running_only` keeps only
/// those that are not shut off.
pub fn guests_using(
    conn: &Connect,
    pool: &StoragePool,
    running_only: bool,
) -> Result<Vec<GuestRef>, Failure> {
    let name = pool.name()?;
    let target = xml::pool::read(&pool.xml_desc(0)?)
        .map_err(xml_failure)?
        .target_path;
    let volume_paths: HashSet<String> = if pool.is_active()? {
        pool.list_all_volumes(0)?
            .iter()
            .filter_map(|v| v.path().ok())
            .collect()
    } else {
        HashSet::new()
    };
    let users = domain::disk_users(conn)?;
    Ok(users
        .into_iter()
        .filter(|u: &DiskUser| !running_only || u.guest.state.is_active())
        .filter(|u| {
            u.disks
                .iter()
                .any(|d| disk_in_pool(d, &name, target.as_deref(), &volume_paths))
        })
        .map(|u| u.guest)
        .collect())
}

fn names(users: &[GuestRef]) -> String {
    users
        .iter()
        .map(|u| u.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// An action on a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolOp {
    Start,
    Stop,
    Refresh,
    AutostartOn,
    AutostartOff,
    /// Undefine (stopping it first); with `delete_storage` also the volumes
    /// and the directory or volume group.
    Delete,
}

/// Runs a pool action. `Ok(None)` once the pool is gone.
pub fn act(
    host: &str,
    conn: &Connect,
    name: &str,
    action: PoolOp,
    delete_storage: bool,
) -> Result<Option<Pool>, Failure> {
    let pool = find(host, conn, name)?;
    let refuse_if_used = |running_only: bool, what: &str| -> Result<(), Failure> {
        let users = guests_using(conn, &pool, running_only)?;
        if users.is_empty() {
            return Ok(());
        }
        let whose = if running_only {
            "running guests"
        } else {
            "guests"
        };
        Err(Failure::Own(Error::Conflict(format!(
            "cannot {what} pool {name} on host {host}: {whose} use it: {}. Shut them down or move their disks first.",
            names(&users)
        ))))
    };
    let ctx = |what: &'static str| move |m: String| format!("cannot {what} pool {name}: {m}");
    match action {
        PoolOp::Start => pool.create(0).map_err(|e| failed(host, e, ctx("start")))?,
        PoolOp::Stop => {
            refuse_if_used(true, "stop")?;
            pool.destroy().map_err(|e| failed(host, e, ctx("stop")))?
        }
        PoolOp::Refresh => pool
            .refresh(0)
            .map_err(|e| failed(host, e, ctx("refresh")))?,
        PoolOp::AutostartOn | PoolOp::AutostartOff => pool
            .set_autostart(action == PoolOp::AutostartOn)
            .map_err(|e| failed(host, e, ctx("change autostart of")))?,
        PoolOp::Delete => {
            // With the storage, a shut-off guest would lose its disks: refuse too.
            refuse_if_used(!delete_storage, "delete")?;
            delete(host, &pool, name, delete_storage)?;
            return Ok(None);
        }
    }
    match summary(&pool) {
        Ok(s) => Ok(Some(s)),
        // A transient pool is gone once stopped.
        Err(Failure::Libvirt(e)) if code(&e) == Some(ErrorNumber::NoStoragePool) => Ok(None),
        Err(e) => Err(e),
    }
}

fn delete(host: &str, pool: &StoragePool, name: &str, with_storage: bool) -> Result<(), Failure> {
    let ctx = |what: &'static str| move |m: String| format!("cannot {what} of pool {name}: {m}");
    // Volumes are only reachable in an active pool; one that cannot start
    // (an NFS server gone) has none to delete, but its directory still goes.
    if with_storage && (pool.is_active()? || pool.create(0).is_ok()) {
        for vol in pool.list_all_volumes(0)? {
            let vol_name = vol.name().unwrap_or_default();
            vol.delete(0).map_err(|e| {
                failed(host, e, |m| {
                    format!(
                        "cannot delete volume {vol_name} of pool {name}: {m} (the pool was kept)"
                    )
                })
            })?;
        }
    }
    if pool.is_active()? {
        pool.destroy().map_err(|e| failed(host, e, ctx("stop")))?;
    }
    if with_storage {
        pool.delete(0)
            .map_err(|e| failed(host, e, ctx("delete the storage")))?;
    }
    if pool.is_persistent().unwrap_or(false) {
        pool.undefine()
            .map_err(|e| failed(host, e, ctx("undefine")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disks_belong_to_a_pool_by_volume_path_name_or_directory() {
        let paths: HashSet<String> = ["/dev/vg0/a".to_string()].into();
        let target = Some("/var/lib/libvirt/images/");
        let d = |p: &str| DiskSource::Path(p.into());
        assert!(disk_in_pool(&d("/dev/vg0/a"), "vg0", None, &paths));
        assert!(disk_in_pool(
            &d("/var/lib/libvirt/images/x.qcow2"),
            "default",
            target,
            &paths
        ));
        assert!(!disk_in_pool(
            &d("/var/lib/libvirt/images2/x"),
            "default",
            target,
            &paths
        ));
        assert!(!disk_in_pool(
            &d("/var/lib/libvirt/images"),
            "default",
            target,
            &paths
        ));
        let vol = DiskSource::Volume {
            pool: "lab".into(),
            volume: "unit:0:0:1".into(),
        };
        assert!(disk_in_pool(&vol, "lab", None, &paths));
        assert!(!disk_in_pool(&vol, "other", None, &paths));
    }

    #[test]
    fn a_missing_scan_tool_is_named() {
        assert_eq!(
            missing_tool("internal error: Cannot find 'showmount' in path"),
            Some("showmount (Debian package nfs-common)")
        );
        assert_eq!(missing_tool("Failed to connect"), None);
        assert_eq!(
            missing_tool("Child process (/usr/sbin/vgs) unexpected exit status 5"),
            None
        );
    }
}
