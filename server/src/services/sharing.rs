//! Shared storage: a pool whose source (an NFS export, an iSCSI target…) other
//! hosts have too — `PoolSummary::shared_key`, as the storage page and the
//! migration pre-flight see it. Whatever is done to its volumes through one
//! host is done to every host's guests: every "who uses this" check covers
//! the guests of each host that has the pool, running or only defined.

use std::sync::Arc;

use app::api::{pools::PoolSummary, volumes::VolumeUser, ApiError};
use futures::future::join_all;

use super::{
    convert::volume_user,
    host::Host,
    registry::{HostRegistry, ACTION_TIMEOUT},
};
use crate::libvirt::{
    pool_users::{self, places_of, Place, PoolUser},
    storage_volume::Blocking,
};

/// Another host's pool on the same storage.
pub struct Twin {
    pub host: Arc<Host>,
    pub pool: PoolSummary,
}

/// The pool `pool` of `host` as last seen, and its twins on the other hosts
/// (none for a local pool). Hosts away now count with what they had.
pub fn twins(hosts: &HostRegistry, host: &str, pool: &str) -> (Option<PoolSummary>, Vec<Twin>) {
    let ours = hosts
        .get(host)
        .ok()
        .and_then(|h| h.pools_as_last_seen().into_iter().find(|p| p.name == pool));
    let Some(key) = ours.as_ref().and_then(|p| p.shared_key()) else {
        return (ours, Vec::new());
    };
    let twins = hosts
        .all()
        .iter()
        .filter(|h| h.name() != host)
        .flat_map(|h| {
            h.pools_as_last_seen()
                .into_iter()
                .filter(|p| p.shared_key().as_ref() == Some(&key))
                .map(|pool| Twin {
                    host: h.clone(),
                    pool,
                })
        })
        .collect();
    (ours, twins)
}

/// Where the file or device `path` of `host` lies in shared storage: the
/// twins of the pool that holds it (named `pool` when known, else the shared
/// pool whose target contains the path) and its places there. `None` when
/// it is not on shared storage.
pub fn locate(
    hosts: &HostRegistry,
    host: &str,
    pool: Option<&str>,
    path: &str,
) -> Option<(Vec<Twin>, Vec<Place>)> {
    let h = hosts.get(host).ok()?;
    let ours = h.pools_as_last_seen().into_iter().find(|p| match pool {
        Some(name) => p.name == name,
        None => {
            p.shared_key().is_some()
                && pool_users::relative(path, p.target_path.as_deref()).is_some()
        }
    })?;
    let (_, twins) = twins(hosts, host, &ours.name);
    if twins.is_empty() {
        return None;
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    Some((twins, places_of(name, path, ours.target_path.as_deref())))
}

/// The users of each twin's pool on its host, or why its host cannot say.
pub async fn users_on(
    hosts: &HostRegistry,
    twins: &[Twin],
) -> Vec<(String, Result<Vec<PoolUser>, ApiError>)> {
    join_all(twins.iter().map(|t| async move {
        let (name, target) = (t.pool.name.clone(), t.pool.target_path.clone());
        let users = hosts
            .call(
                t.host.name(),
                ACTION_TIMEOUT,
                "reading which guests use the shared pool",
                move |_, conn| pool_users::pool_users(conn, &name, target.as_deref()),
            )
            .await;
        (t.host.name().to_string(), users)
    }))
    .await
}

/// The guests of the other hosts that use `places` of the shared pool, for
/// the volume list (hosts that cannot say are left out: the list is not a check).
pub async fn users_elsewhere(hosts: &HostRegistry, twins: &[Twin]) -> Vec<(String, Vec<PoolUser>)> {
    users_on(hosts, twins)
        .await
        .into_iter()
        .filter_map(|(host, users)| match users {
            Ok(u) => Some((host, u)),
            Err(e) => {
                tracing::info!(host, "shared pool users not read: {e}");
                None
            }
        })
        .collect()
}

/// The users among `found` whose disk is at one of `places` (each guest once).
pub fn matching(found: &[(String, Vec<PoolUser>)], places: &[Place]) -> Vec<VolumeUser> {
    let mut users: Vec<VolumeUser> = Vec::new();
    for (host, list) in found {
        for u in list.iter().filter(|u| places.contains(&u.place)) {
            if !users
                .iter()
                .any(|v| v.host == *host && v.uuid == u.guest.uuid)
            {
                users.push(volume_user(host, u.guest.clone()));
            }
        }
    }
    users
}

/// Refuses (409) to `what` storage of a shared pool that guests of the other
/// hosts use — at `places`, or anywhere in the pool when `places` is `None`
/// — as `blocking` says; a host that shares the pool but cannot be asked now
/// refuses too, since its guests might.
pub async fn refuse_if_used_elsewhere(
    hosts: &HostRegistry,
    twins: &[Twin],
    places: Option<&[Place]>,
    blocking: Blocking,
    what: &str,
) -> Result<(), ApiError> {
    let mut blocked: Vec<String> = Vec::new();
    for (host, users) in users_on(hosts, twins).await {
        let users = users.map_err(|e| {
            ApiError::Conflict(format!(
                "cannot {what}: host {host} has the same shared storage and cannot be asked \
                 which of its guests use it ({}). Try again when it answers.",
                e.message()
            ))
        })?;
        for u in users {
            let here = places.is_none_or(|p| p.contains(&u.place));
            let entry = format!("{} ({}, on {host})", u.guest.name, u.guest.state.label());
            if here && blocking.blocks(u.guest.state) && !blocked.contains(&entry) {
                blocked.push(entry);
            }
        }
    }
    if blocked.is_empty() {
        return Ok(());
    }
    Err(ApiError::Conflict(format!(
        "cannot {what}: it is shared storage, and guests of other hosts use it: {}. {}",
        blocked.join(", "),
        blocking.fix()
    )))
}
