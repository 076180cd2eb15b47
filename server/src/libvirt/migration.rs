//! Migrating a guest between hosts: the libvirt flags and parameters of a
//! request, the blocking migrate call (peer to peer: the source host's
//! libvirtd drives it, so it outlives virtdeck), job statistics for the
//! progress sampler, and the controls of a running migration (abort, speed,
//! downtime, post-copy, suspend). Blocking functions on one connection; the
//! job runner in `services::migration` calls them on connections of its own.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use tokio::sync::mpsc;
use virt::{
    connect::Connect,
    domain::{Domain, JobStats, MigrateParameters},
    error::Error as VirtError,
};

use super::{
    connection::Failure,
    error::{is_connection_lost, Error},
    storage_pool::failed,
    sys,
};

/// How the guest moves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Memory is copied while the guest runs.
    #[default]
    Live,
    /// The guest is suspended for the copy.
    Paused,
    /// Only the definition moves (the guest is shut off).
    Offline,
}

/// A migration, checked by the caller (the combinations libvirt rejects —
/// offline with copied storage, post-copy without live — already refused).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub mode: Mode,
    /// Defined on the destination and removed from the source.
    pub permanent: bool,
    /// The disks not on shared storage are copied.
    pub copy_storage: bool,
    pub max_downtime_ms: Option<u64>,
    pub bandwidth_mib_s: Option<u64>,
    pub auto_converge: bool,
    pub compressed: bool,
    pub parallel_connections: Option<u32>,
    pub allow_postcopy: bool,
}

/// The `virDomainMigrate*` flags of a request, one reason each.
pub fn flags(spec: &Request) -> u32 {
    // The source host's libvirtd connects to the destination itself: the
    // migration goes on if virtdeck (the client) goes away or restarts.
    let mut flags = sys::VIR_MIGRATE_PEER2PEER;
    // Abort rather than carry on when the guest hits an I/O error on the way.
    flags |= sys::VIR_MIGRATE_ABORT_ON_ERROR;
    match spec.mode {
        // Memory is copied while the guest runs.
        Mode::Live => flags |= sys::VIR_MIGRATE_LIVE,
        // Without LIVE libvirt suspends the guest for the copy and resumes it
        // on the destination.
        Mode::Paused => {}
        // Only the definition moves; libvirt requires PERSIST_DEST with it.
        Mode::Offline => flags |= sys::VIR_MIGRATE_OFFLINE | sys::VIR_MIGRATE_PERSIST_DEST,
    }
    if spec.permanent {
        // Define the guest on the destination and remove it from the source.
        flags |= sys::VIR_MIGRATE_PERSIST_DEST | sys::VIR_MIGRATE_UNDEFINE_SOURCE;
    }
    if spec.copy_storage {
        // Copy the disks named in the parameters (or all) through NBD; libvirt
        // pre-creates them in the destination pool of the same name.
        flags |= sys::VIR_MIGRATE_NON_SHARED_DISK;
    }
    if spec.auto_converge {
        flags |= sys::VIR_MIGRATE_AUTO_CONVERGE;
    }
    if spec.compressed {
        flags |= sys::VIR_MIGRATE_COMPRESSED;
    }
    if spec.parallel_connections.is_some() {
        flags |= sys::VIR_MIGRATE_PARALLEL;
    }
    if spec.allow_postcopy {
        // Only allows the switch; it happens when asked (tune: postcopy).
        flags |= sys::VIR_MIGRATE_POSTCOPY;
    }
    flags
}

/// The typed parameters of a request; `copy_disks` are the target devices
/// (`vda`…) to copy in copy-storage mode (the disks not on shared storage).
pub fn parameters(spec: &Request, copy_disks: &[String]) -> MigrateParameters {
    MigrateParameters {
        bandwidth: spec.bandwidth_mib_s,
        parallel_connections: spec.parallel_connections.map(|n| n as i32),
        migrate_disks: if spec.copy_storage {
            copy_disks.to_vec()
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

/// The guest `uuid` on this connection.
pub fn domain(host: &str, conn: &Connect, uuid: &str) -> Result<Domain, Failure> {
    conn.lookup_domain_by_uuid_string(uuid)
        .map_err(|e| failed(host, e, |m| format!("cannot find the guest: {m}")))
}

/// Runs the migration to `destination_uri` and returns when it has ended.
/// Blocks for as long as the migration takes.
pub fn migrate(
    host: &str,
    conn: &Connect,
    uuid: &str,
    destination_uri: &str,
    spec: &Request,
    copy_disks: &[String],
) -> Result<(), Failure> {
    let dom = domain(host, conn, uuid)?;
    if let Some(ms) = spec.max_downtime_ms {
        if spec.mode != Mode::Offline {
            dom.migrate_set_max_downtime(ms, 0).map_err(|e| {
                failed(host, e, |m| format!("cannot set the maximum downtime: {m}"))
            })?;
        }
    }
    dom.migrate_to_uri3(
        Some(destination_uri),
        parameters(spec, copy_disks),
        flags(spec),
    )
    .map(|_| ())
    // Libvirt's own words, without blaming a host: a broken connection here
    // may be the source's (this call's) or the destination's (the source
    // daemon's); the caller asks both hosts which it was.
    .map_err(|e| Failure::Own(Error::Libvirt(e.message().trim().to_string())))
}

/// Resumes a post-copy migration whose connection broke (libvirt ≥ 8.5's
/// post-copy recovery): the same request again, with `POSTCOPY_RESUME`.
/// Blocks until the rest of the memory has reached the destination, or the
/// attempt fails. Storage is not copied again (it was, before the switch).
pub fn resume_postcopy(
    host: &str,
    conn: &Connect,
    uuid: &str,
    destination_uri: &str,
    spec: &Request,
) -> Result<(), Failure> {
    let dom = domain(host, conn, uuid)?;
    let spec = Request {
        copy_storage: false,
        allow_postcopy: true,
        ..spec.clone()
    };
    let params = MigrateParameters {
        // The user's limit holds for the rest of the copy too.
        bandwidth_postcopy: spec.bandwidth_mib_s,
        ..parameters(&spec, &[])
    };
    dom.migrate_to_uri3(
        Some(destination_uri),
        params,
        flags(&spec) | sys::VIR_MIGRATE_POSTCOPY_RESUME,
    )
    .map(|_| ())
    .map_err(|e| Failure::Own(Error::Libvirt(e.message().trim().to_string())))
}

/// Does libvirt's message say the migration was stopped by an abort (a cancel)?
pub fn was_aborted_message(m: &str) -> bool {
    m.contains("canceled by client")
        || m.contains("cancelled by client")
        || m.contains("operation aborted")
}

/// The statistics of the guest's current job (`type` 0 when none runs).
pub fn job_stats(conn: &Connect, uuid: &str) -> Result<JobStats, VirtError> {
    sys::job_stats(&conn.lookup_domain_by_uuid_string(uuid)?, 0)
}

/// The statistics of the guest's last completed job, if libvirt kept them.
pub fn completed_stats(conn: &Connect, uuid: &str) -> Option<JobStats> {
    let dom = conn.lookup_domain_by_uuid_string(uuid).ok()?;
    sys::job_stats(&dom, sys::VIR_DOMAIN_JOB_STATS_COMPLETED)
        .ok()
        .filter(|s| s.r#type == sys::VIR_DOMAIN_JOB_COMPLETED as i32)
}

/// Is an outgoing migration running for this guest?
pub fn migrating_out(stats: &JobStats) -> bool {
    stats.r#type != sys::VIR_DOMAIN_JOB_NONE as i32
        && stats
            .operation
            .is_none_or(|op| op == sys::VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT as i32)
}

/// One reading of a migration job's statistics, in virtdeck's terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// A migration job runs (outgoing, on the source).
    pub active: bool,
    pub elapsed_ms: u64,
    pub data_total: u64,
    pub data_processed: u64,
    pub data_remaining: u64,
    pub disk_total: u64,
    pub disk_remaining: u64,
    /// Bytes per second, memory and disks.
    pub mem_bps: u64,
    pub disk_bps: u64,
    /// Pages dirtied per second, and the page size.
    pub dirty_pages_rate: u64,
    pub page_size: u64,
    pub iteration: u64,
    /// While running: the expected downtime; once completed: the real one.
    pub downtime_ms: u64,
    pub postcopy_requests: u64,
    /// How much QEMU slows the guest's CPUs down (auto-converge), percent.
    pub cpu_throttle: u64,
    /// The guest has switched to post-copy (the source holds it paused).
    pub postcopy: bool,
    /// Post-copy broke: the source's copy is `paused (post-copy failed)`.
    pub postcopy_broken: bool,
    /// When the statistics were read.
    pub read_at: Option<std::time::SystemTime>,
}

impl From<&JobStats> for Sample {
    fn from(s: &JobStats) -> Self {
        Sample {
            active: migrating_out(s),
            elapsed_ms: s.time_elapsed.unwrap_or(0),
            data_total: s.data_total.unwrap_or(0),
            data_processed: s.data_processed.unwrap_or(0),
            data_remaining: s.data_remaining.unwrap_or(0),
            disk_total: s.disk_total.unwrap_or(0),
            disk_remaining: s.disk_remaining.unwrap_or(0),
            mem_bps: s.mem_bps.unwrap_or(0),
            disk_bps: s.disk_bps.unwrap_or(0),
            dirty_pages_rate: s.mem_dirty_rate.unwrap_or(0),
            page_size: s.mem_page_size.unwrap_or(4096),
            iteration: s.mem_iteration.unwrap_or(0),
            downtime_ms: s.downtime.unwrap_or(0),
            postcopy_requests: s.mem_postcopy_reqs.unwrap_or(0),
            cpu_throttle: s.auto_converge_throttle.unwrap_or(0).max(0) as u64,
            postcopy: false,
            postcopy_broken: false,
            read_at: Some(std::time::SystemTime::now()),
        }
    }
}

/// Reads the guest's job statistics every `every` and sends them to `tx`,
/// until `stop` is set or the receiver goes away. A guest that is not (or no
/// longer) on this host reads as a sample without a job. Ends with an error
/// when the connection is lost (the host's libvirtd went away). Runs on a
/// connection of its own (libvirtd serves few calls at once per connection).
pub fn sample_loop(
    conn: &Connect,
    uuid: &str,
    every: Duration,
    stop: Arc<AtomicBool>,
    tx: mpsc::Sender<Sample>,
) -> Result<(), Failure> {
    let mut dom: Option<Domain> = None;
    // A fixed schedule: the time a call takes does not slow the sampling down.
    let mut next = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let stats = match &dom {
            Some(d) => sys::job_stats(d, 0),
            None => conn
                .lookup_domain_by_uuid_string(uuid)
                .and_then(|d| sys::job_stats(&d, 0).map(|s| (d, s)))
                .map(|(d, s)| {
                    dom = Some(d);
                    s
                }),
        };
        let sample = match stats {
            Ok(stats) => {
                let mut sample = Sample::from(&stats);
                if let Some(Ok((state, reason))) = dom.as_ref().map(sys::state_and_reason) {
                    if state == sys::VIR_DOMAIN_PAUSED as i32 {
                        sample.postcopy = reason == sys::VIR_DOMAIN_PAUSED_POSTCOPY
                            || reason == sys::VIR_DOMAIN_PAUSED_POSTCOPY_FAILED;
                        sample.postcopy_broken = reason == sys::VIR_DOMAIN_PAUSED_POSTCOPY_FAILED;
                    }
                }
                sample
            }
            Err(e) if is_connection_lost(&e) => return Err(Failure::Libvirt(e)),
            // The guest left the source (done) or is between states.
            Err(_) => {
                dom = None;
                Sample {
                    read_at: Some(std::time::SystemTime::now()),
                    ..Default::default()
                }
            }
        };
        if tx.blocking_send(sample).is_err() {
            break;
        }
        next += every;
        let now = std::time::Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
    Ok(())
}

/// The statistics of the last completed migration of the guest, read on the
/// source (or, once the guest left it, on the destination).
pub fn completed(conn: &Connect, uuid: &str) -> Option<Sample> {
    completed_stats(conn, uuid).map(|s| Sample::from(&s))
}

/// Stops a running migration: the guest stays on the source.
pub fn abort(host: &str, conn: &Connect, uuid: &str) -> Result<(), Failure> {
    let dom = domain(host, conn, uuid)?;
    sys::abort_job(&dom).map_err(|e| failed(host, e, |m| format!("cannot cancel: {m}")))
}

pub fn set_bandwidth(host: &str, conn: &Connect, uuid: &str, mib_s: u64) -> Result<(), Failure> {
    domain(host, conn, uuid)?
        .migrate_set_max_speed(mib_s, 0)
        .map_err(|e| failed(host, e, |m| format!("cannot change the bandwidth: {m}")))
}

pub fn set_max_downtime(host: &str, conn: &Connect, uuid: &str, ms: u64) -> Result<(), Failure> {
    domain(host, conn, uuid)?
        .migrate_set_max_downtime(ms, 0)
        .map_err(|e| {
            failed(host, e, |m| {
                format!("cannot change the maximum downtime: {m}")
            })
        })
}

pub fn start_postcopy(host: &str, conn: &Connect, uuid: &str) -> Result<(), Failure> {
    let dom = domain(host, conn, uuid)?;
    sys::start_postcopy(&dom)
        .map_err(|e| failed(host, e, |m| format!("cannot switch to post-copy: {m}")))
}

/// Suspends the guest so that a migration that does not converge completes.
pub fn finish_now(host: &str, conn: &Connect, uuid: &str) -> Result<(), Failure> {
    domain(host, conn, uuid)?.suspend().map_err(|e| {
        failed(host, e, |m| {
            format!("cannot suspend the guest to finish: {m}")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mode: Mode, permanent: bool, copy_storage: bool) -> Request {
        Request {
            mode,
            permanent,
            copy_storage,
            ..Default::default()
        }
    }

    #[test]
    fn every_migration_is_peer_to_peer() {
        for mode in [Mode::Live, Mode::Paused, Mode::Offline] {
            let f = flags(&spec(mode, true, false));
            assert_ne!(f & sys::VIR_MIGRATE_PEER2PEER, 0, "{mode:?}");
        }
    }

    #[test]
    fn flags_follow_mode_duration_and_storage() {
        let live = flags(&spec(Mode::Live, false, false));
        assert_ne!(live & sys::VIR_MIGRATE_LIVE, 0);
        assert_eq!(
            live & (sys::VIR_MIGRATE_PERSIST_DEST | sys::VIR_MIGRATE_UNDEFINE_SOURCE),
            0
        );
        let paused = flags(&spec(Mode::Paused, true, true));
        assert_eq!(paused & sys::VIR_MIGRATE_LIVE, 0);
        assert_ne!(paused & sys::VIR_MIGRATE_UNDEFINE_SOURCE, 0);
        assert_ne!(paused & sys::VIR_MIGRATE_NON_SHARED_DISK, 0);
        let offline = flags(&spec(Mode::Offline, true, false));
        assert_ne!(offline & sys::VIR_MIGRATE_OFFLINE, 0);
        assert_ne!(offline & sys::VIR_MIGRATE_PERSIST_DEST, 0);
        let tuned = Request {
            auto_converge: true,
            allow_postcopy: true,
            parallel_connections: Some(4),
            bandwidth_mib_s: Some(10),
            ..spec(Mode::Live, false, false)
        };
        let f = flags(&tuned);
        for flag in [
            sys::VIR_MIGRATE_AUTO_CONVERGE,
            sys::VIR_MIGRATE_POSTCOPY,
            sys::VIR_MIGRATE_PARALLEL,
        ] {
            assert_ne!(f & flag, 0);
        }
        let p = parameters(&tuned, &["vda".into()]);
        assert_eq!(p.bandwidth, Some(10));
        assert_eq!(p.parallel_connections, Some(4));
        assert!(p.migrate_disks.is_empty(), "shared storage copies nothing");
    }
}
