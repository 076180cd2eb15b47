//! Storage roots: where pools may put their directories and mount points.
//! A pool is libvirtd's (root's) window on a host's files; a `dir` pool on
//! `/etc` would let anyone with its volumes read `/etc/shadow`. So a new
//! `dir`, `fs` or `netfs` pool's target must lie under a configured root
//! (`storage_roots`, global or per host) or under the target of a pool the
//! host has already; and two pools never share one target.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use app::api::{
    pools::{PoolSummary, PoolType},
    ApiError,
};

use crate::config::HostConfig;

/// The roots of every host.
#[derive(Debug, Clone, Default)]
pub struct StorageRoots {
    global: Vec<String>,
    hosts: HashMap<String, Vec<String>>,
}

impl StorageRoots {
    pub fn new(global: Vec<String>, hosts: &[HostConfig]) -> Self {
        StorageRoots {
            global,
            hosts: hosts
                .iter()
                .filter_map(|h| Some((h.name.clone(), h.storage_roots.clone()?)))
                .collect(),
        }
    }

    pub fn of(&self, host: &str) -> &[String] {
        self.hosts.get(host).unwrap_or(&self.global)
    }
}

/// Pool types whose target is a directory or mount point of the host's own.
pub fn has_directory(kind: PoolType) -> bool {
    matches!(kind, PoolType::Dir | PoolType::Fs | PoolType::Netfs)
}

/// `/a//b/` as `/a/b`; `None` when it is not absolute or has `.` or `..`.
fn plain(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return None;
    }
    Some(format!("/{}", parts.join("/")))
}

fn under(path: &str, root: &str) -> bool {
    root != "/" && (path == root || path.starts_with(&format!("{root}/")))
}

/// Where `path` really leads on this machine: its longest existing ancestor
/// resolved (symbolic links followed), then the rest.
fn resolved(path: &str) -> PathBuf {
    let mut existing = Path::new(path);
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, part| p.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return PathBuf::from(path),
        }
    }
}

/// Checks a new pool's target on `host` against its `roots` and the pools it
/// has (`local`: the host is this machine, so symbolic links can be followed
/// and must not lead out of the roots).
pub fn check_target(
    host: &str,
    kind: PoolType,
    target: Option<&str>,
    roots: &[String],
    pools: &[PoolSummary],
    local: bool,
) -> Result<(), ApiError> {
    let Some(target) = target else {
        return Ok(());
    };
    let Some(path) = plain(target) else {
        return Err(ApiError::BadRequest(format!(
            "target_path {target:?} must be an absolute path without . or .."
        )));
    };
    if let Some(other) = pools
        .iter()
        .find(|p| p.target_path.as_deref().and_then(plain).as_deref() == Some(path.as_str()))
    {
        return Err(ApiError::Conflict(format!(
            "pool {} on host {host} already uses {path}: two pools on one directory would \
             each delete the other's volumes; choose another directory",
            other.name
        )));
    }
    if !has_directory(kind) {
        return Ok(());
    }
    let existing: Vec<String> = pools
        .iter()
        .filter(|p| has_directory(p.pool_type))
        .filter_map(|p| p.target_path.as_deref().and_then(plain))
        .collect();
    let allowed: Vec<&str> = roots
        .iter()
        .map(String::as_str)
        .chain(existing.iter().map(String::as_str))
        .collect();
    let outside = || {
        ApiError::Forbidden(format!(
            "{path} on host {host} is outside the storage roots ({}) and the directories of \
             its pools: a pool there would expose the host's own files. An admin can add a \
             root in virtdeck.toml (storage_roots).",
            roots.join(", ")
        ))
    };
    if !allowed.iter().any(|root| under(&path, root)) {
        return Err(outside());
    }
    if local {
        let real = resolved(&path);
        let inside = allowed.iter().any(|root| {
            let root_real = resolved(root);
            real == root_real || real.starts_with(&root_real)
        });
        if !inside {
            return Err(ApiError::Forbidden(format!(
                "{path} on host {host} leads through a symbolic link to {}, outside the \
                 storage roots ({})",
                real.display(),
                roots.join(", ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> Vec<String> {
        vec!["/var/lib/libvirt/images".into(), "/srv/vm".into()]
    }

    #[test]
    fn a_directory_pool_stays_under_the_roots() {
        let ok = |t: &str| check_target("h", PoolType::Dir, Some(t), &roots(), &[], false);
        assert!(ok("/var/lib/libvirt/images").is_ok());
        assert!(ok("/var/lib/libvirt/images/new/").is_ok());
        assert!(ok("//srv//vm/x").is_ok());
        for bad in [
            "/etc",
            "/root/.ssh",
            "/var/lib/libvirt/imagesX",
            "/srv",
            "/",
        ] {
            assert!(matches!(ok(bad), Err(ApiError::Forbidden(_))), "{bad}");
        }
        assert!(matches!(
            ok("/srv/vm/../../etc"),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(ok("relative"), Err(ApiError::BadRequest(_))));
        // Device pools name where their devices appear: not a directory of theirs.
        assert!(check_target(
            "h",
            PoolType::Logical,
            Some("/dev/vg0"),
            &roots(),
            &[],
            false
        )
        .is_ok());
    }

    #[test]
    fn symbolic_links_do_not_lead_out_of_a_local_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("etc-link")).unwrap();
        let roots = vec![root.display().to_string()];
        let check = |t: &Path| {
            check_target(
                "h",
                PoolType::Dir,
                Some(&t.display().to_string()),
                &roots,
                &[],
                true,
            )
        };
        assert!(check(&root.join("vms")).is_ok());
        let err = check(&root.join("etc-link/x")).unwrap_err();
        assert!(err.message().contains("symbolic link to /etc/x"), "{err:?}");
    }
}
