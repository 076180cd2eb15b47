//! Who uses a pool's storage on one host, said so that another host with the
//! same shared storage can match it: a disk lies in the pool by volume name
//! (`<disk type='volume'>`) or by its path relative to the pool's target
//! (the same file on an NFS share, the same `/dev/disk/by-path` name of an
//! iSCSI LUN), whatever each host calls the pool or mounts it at.

use super::{
    connection::Failure,
    domain::{self, GuestRef},
    xml::domain::DiskSource,
    Connect,
};

/// Where in a pool a disk lies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Place {
    Volume(String),
    /// The path below the pool's target, without a leading `/`.
    Relative(String),
}

/// A guest of the host with a disk in the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUser {
    pub place: Place,
    pub guest: GuestRef,
}

/// `path` relative to the pool's `target`, if it lies below it.
pub fn relative(path: &str, target: Option<&str>) -> Option<String> {
    let target = target?.trim_end_matches('/');
    if target.is_empty() {
        return None;
    }
    let rest = path.strip_prefix(target)?.strip_prefix('/')?;
    let rest = rest.trim_start_matches('/');
    (!rest.is_empty()).then(|| rest.to_string())
}

/// Where volume `name` at `path` lies in a pool whose target is `target`.
pub fn places_of(name: &str, path: &str, target: Option<&str>) -> Vec<Place> {
    let mut places = vec![Place::Volume(name.to_string())];
    places.extend(relative(path, target).map(Place::Relative));
    places
}

/// Every guest of this host, running or only defined, with a disk in pool
/// `pool` (its name on this host) whose target here is `target`.
pub fn pool_users(
    conn: &Connect,
    pool: &str,
    target: Option<&str>,
) -> Result<Vec<PoolUser>, Failure> {
    let mut found = Vec::new();
    for user in domain::disk_users(conn)? {
        for disk in &user.disks {
            let place = match disk {
                DiskSource::Volume { pool: p, volume } if p == pool => {
                    Place::Volume(volume.clone())
                }
                DiskSource::Path(path) => match relative(path, target) {
                    Some(rest) => Place::Relative(rest),
                    None => continue,
                },
                _ => continue,
            };
            found.push(PoolUser {
                place,
                guest: user.guest.clone(),
            });
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_placed_below_the_pool_target_only() {
        let t = Some("/mnt/share/");
        assert_eq!(
            relative("/mnt/share/a.qcow2", t).as_deref(),
            Some("a.qcow2")
        );
        assert_eq!(
            relative("/mnt/share/d/a.img", t).as_deref(),
            Some("d/a.img")
        );
        assert_eq!(
            relative("/mnt/shared/a.qcow2", t),
            None,
            "a sibling directory"
        );
        assert_eq!(relative("/mnt/share", t), None);
        assert_eq!(relative("/mnt/share/a", None), None);
        assert_eq!(relative("/a", Some("/")), None, "no target to speak of");
        assert_eq!(
            places_of("v", "/mnt/share/v", t),
            [Place::Volume("v".into()), Place::Relative("v".into())]
        );
    }
}
