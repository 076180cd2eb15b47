//! The plan of an evacuation: for every guest on the host, the migration
//! pre-flight to every target (the same checks the migrate dialog shows),
//! then `placement::place` over what each target gives and already holds.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use app::api::{
    guests::{GuestState, GuestSummary},
    maintenance::{
        MaintenancePlan, PlanAction, PlanOptions, PlannedGuest, Shortfall, TargetLoad,
        HEADROOM_PERCENT,
    },
    migrations::{
        Check, MigrationMode, MigrationOptions, MigrationSpec, Persistence, StorageMode, Verdict,
    },
    ApiError,
};
use app::backend::Migrations;
use futures::{stream, StreamExt};

use crate::services::{
    placement::{self, Mover, Target},
    Host, HostRegistry,
};

/// Pre-flight checks run at once while planning.
const CHECKS_AT_ONCE: usize = 8;

/// Whether a guest in this state holds memory on its host (and so moves live).
pub fn active(state: GuestState) -> bool {
    !matches!(state, GuestState::Shutoff | GuestState::Crashed)
}

pub fn memory_mib(g: &GuestSummary) -> u64 {
    g.memory_kib.div_ceil(1024)
}

/// A target as placement sees it: what it gives, what runs there, and what
/// other evacuations are still bringing to it (`incoming`, MiB).
fn target_of(hosts: &HostRegistry, h: &Host, incoming: u64) -> Target {
    let summary = h.summary();
    let (memory, cpus) = hosts.capacity(h.name());
    let total_mib = summary.memory_kib.unwrap_or(0) / 1024;
    let running: Vec<GuestSummary> = h.guests().into_iter().filter(|g| active(g.state)).collect();
    Target {
        host: h.name().to_string(),
        allocatable_mib: memory.unwrap_or_else(|| placement::default_allocatable_mib(total_mib)),
        committed_mib: running.iter().map(memory_mib).sum::<u64>() + incoming,
        cpus: cpus.or(summary.cpus).unwrap_or(1),
        committed_vcpus: running.iter().map(|g| g.vcpus).sum(),
    }
}

/// The hosts the guests may go to: the ones named, or every other connected
/// host out of maintenance.
fn targets(hosts: &HostRegistry, o: &PlanOptions) -> Result<Vec<Arc<Host>>, ApiError> {
    if o.targets.is_empty() {
        let all: Vec<Arc<Host>> = hosts
            .all()
            .iter()
            .filter(|h| h.name() != o.host && h.is_connected() && h.ensure_open().is_ok())
            .cloned()
            .collect();
        if all.is_empty() {
            return Err(ApiError::Conflict(format!(
                "no other host can take the guests of {}: every other host is unreachable or in maintenance",
                o.host
            )));
        }
        return Ok(all);
    }
    let mut named = Vec::new();
    for t in &o.targets {
        let h = hosts
            .get(t)
            .map_err(|e| ApiError::BadRequest(e.message().to_string()))?;
        h.ensure_open()?;
        if !h.is_connected() {
            return Err(ApiError::HostUnavailable(format!(
                "target {} is not connected",
                h.name()
            )));
        }
        named.push(h);
    }
    Ok(named)
}

/// The migration this plan makes of a guest to `destination`.
pub fn spec_for(
    o: &PlanOptions,
    from: &str,
    g: &GuestSummary,
    destination: &str,
    copy: bool,
) -> MigrationSpec {
    let live = active(g.state);
    MigrationSpec {
        host: from.to_string(),
        uuid: g.uuid.to_ascii_lowercase(),
        destination: destination.to_string(),
        mode: if live {
            MigrationMode::Live
        } else {
            MigrationMode::Offline
        },
        // A persistent guest lives on the target from now on; a transient
        // one has no definition to move.
        persistence: if g.persistent || !live {
            Persistence::Permanent
        } else {
            Persistence::Temporary
        },
        storage: if copy {
            StorageMode::Copy
        } else {
            StorageMode::Shared
        },
        options: MigrationOptions {
            bandwidth_mib_s: if live { o.bandwidth_each() } else { None },
            ..Default::default()
        },
    }
}

/// One guest's pre-flight to one target: the checks, and whether it copies storage.
async fn check(
    migrations: &dyn Migrations,
    o: &PlanOptions,
    g: &GuestSummary,
    target: &str,
) -> (Vec<Check>, bool) {
    let shared = migrations
        .preflight(&spec_for(o, &o.host, g, target, false))
        .await;
    let blocked = shared.verdict() == Verdict::Blocked;
    if blocked && o.copy_storage && active(g.state) {
        let copy = migrations
            .preflight(&spec_for(o, &o.host, g, target, true))
            .await;
        if copy.verdict() != Verdict::Blocked {
            return (copy.checks, true);
        }
    }
    (shared.checks, false)
}

fn passes(checks: &[Check]) -> bool {
    !checks.iter().any(|c| c.verdict == Verdict::Blocked)
}

/// The first blocking check, as a sentence with its fix.
fn blocking(target: &str, checks: &[Check]) -> String {
    match checks.iter().find(|c| c.verdict == Verdict::Blocked) {
        Some(c) => match &c.fix {
            Some(fix) => format!("to {target}: {} (fix: {fix})", c.message),
            None => format!("to {target}: {}", c.message),
        },
        None => format!("to {target}: no blocking check"),
    }
}

/// Plans the evacuation of `o.host`. `incoming` is what running evacuations
/// still bring to each host (MiB), so that two at once do not over-fill one.
pub async fn plan(
    hosts: &HostRegistry,
    migrations: &dyn Migrations,
    o: &PlanOptions,
    incoming: &HashMap<String, u64>,
) -> Result<MaintenancePlan, ApiError> {
    let source = hosts.get(&o.host)?;
    if !source.is_connected() {
        return Err(ApiError::HostUnavailable(format!(
            "host {} is not connected: its guests cannot be read or moved now",
            o.host
        )));
    }
    let targets = targets(hosts, o)?;
    let target_names: Vec<String> = targets.iter().map(|t| t.name().to_string()).collect();
    for (uuid, pin) in &o.pins {
        if !target_names.contains(pin) {
            return Err(ApiError::BadRequest(format!(
                "guest {uuid} is pinned to {pin}, which is not among the targets ({})",
                target_names.join(", ")
            )));
        }
    }
    let guests = source.guests();
    let movable: Vec<&GuestSummary> = guests
        .iter()
        .filter(|g| active(g.state) || (o.include_shut_off && g.persistent))
        .collect();
    let movable = &movable;
    // Every guest's pre-flight to every target, a few at once.
    let pairs: Vec<(usize, String)> = (0..movable.len())
        .flat_map(|i| target_names.iter().map(move |t| (i, t.clone())))
        .collect();
    let results: Vec<(usize, String, (Vec<Check>, bool))> = stream::iter(pairs)
        .map(|(i, t)| async move {
            let r = check(migrations, o, movable[i], &t).await;
            (i, t, r)
        })
        .buffer_unordered(CHECKS_AT_ONCE)
        .collect()
        .await;
    let mut checks: Vec<BTreeMap<String, (Vec<Check>, bool)>> =
        vec![BTreeMap::new(); movable.len()];
    for (i, t, r) in results {
        checks[i].insert(t, r);
    }

    let eligible = |i: usize| -> Vec<String> {
        target_names
            .iter()
            .filter(|t| checks[i].get(*t).is_some_and(|(c, _)| passes(c)))
            .cloned()
            .collect()
    };
    let movers: Vec<Mover> = movable
        .iter()
        .enumerate()
        .filter(|(_, g)| active(g.state))
        .map(|(i, g)| Mover {
            uuid: g.uuid.to_ascii_lowercase(),
            memory_mib: memory_mib(g),
            vcpus: g.vcpus,
            eligible: eligible(i),
            pin: o.pins.get(&g.uuid.to_ascii_lowercase()).cloned(),
        })
        .collect();
    let loads: Vec<Target> = targets
        .iter()
        .map(|t| target_of(hosts, t, incoming.get(t.name()).copied().unwrap_or(0)))
        .collect();
    let placed = placement::place(&loads, &movers, HEADROOM_PERCENT);
    // Shut-off guests take no memory: each definition goes to the eligible
    // target that has received the fewest so far.
    let mut definitions: HashMap<String, usize> = HashMap::new();

    let mut planned = Vec::new();
    for g in &guests {
        let uuid = g.uuid.to_ascii_lowercase();
        let at = movable.iter().position(|m| m.uuid == g.uuid);
        let mut p = PlannedGuest {
            uuid: uuid.clone(),
            name: g.name.clone(),
            state: g.state,
            memory_mib: memory_mib(g),
            vcpus: g.vcpus,
            action: PlanAction::Stay,
            destination: None,
            reason: None,
            checks: Vec::new(),
            eligible: at.map(eligible).unwrap_or_default(),
            copy_storage: false,
        };
        let Some(i) = at else {
            p.reason = Some(if g.persistent {
                "shut off: it stays (moving shut-off guests is turned off)".into()
            } else {
                "shut off".into()
            });
            planned.push(p);
            continue;
        };
        let closest = || {
            // The target whose checks block the least, to explain.
            checks[i]
                .iter()
                .min_by_key(|(_, (c, _))| {
                    c.iter().filter(|c| c.verdict == Verdict::Blocked).count()
                })
                .map(|(t, (c, _))| (t.clone(), c.clone()))
        };
        if active(g.state) {
            match placed.destination(&uuid) {
                Some(dest) => {
                    let (c, copy) = checks[i].get(dest).cloned().unwrap_or_default();
                    p.action = PlanAction::Migrate;
                    p.destination = Some(dest.to_string());
                    p.checks = c;
                    p.copy_storage = copy;
                }
                None => {
                    p.action = PlanAction::Blocked;
                    let why = placed
                        .unplaced
                        .iter()
                        .find(|u| u.uuid == uuid)
                        .map(|u| u.reason.clone())
                        .unwrap_or_default();
                    let (t, c) = closest().unwrap_or_default();
                    p.reason = Some(if p.eligible.is_empty() {
                        format!("it cannot leave: {}", blocking(&t, &c))
                    } else {
                        why
                    });
                    p.checks = c;
                }
            }
        } else {
            let pin = o.pins.get(&uuid);
            let dest = p
                .eligible
                .iter()
                .filter(|t| pin.is_none_or(|p| p == *t))
                .min_by_key(|t| (definitions.get(*t).copied().unwrap_or(0), (*t).clone()))
                .cloned();
            match dest {
                Some(dest) => {
                    *definitions.entry(dest.clone()).or_default() += 1;
                    p.action = PlanAction::MigrateOffline;
                    p.checks = checks[i].get(&dest).cloned().unwrap_or_default().0;
                    p.destination = Some(dest);
                }
                None => {
                    let (t, c) = closest().unwrap_or_default();
                    p.reason = Some(format!(
                        "shut off: it stays, its definition cannot move ({})",
                        blocking(&t, &c)
                    ));
                    p.checks = c;
                }
            }
        }
        planned.push(p);
    }
    // The order the evacuation follows: placement's (pins, then the largest).
    let order: HashMap<&str, usize> = placed
        .placed
        .iter()
        .enumerate()
        .map(|(n, (u, _))| (u.as_str(), n))
        .collect();
    planned.sort_by_key(|p| {
        (
            order.get(p.uuid.as_str()).copied().unwrap_or(usize::MAX),
            p.name.clone(),
        )
    });

    let shortfall_mib = placed.shortfall_mib(&movers);
    let shortfall = (shortfall_mib > 0).then(|| Shortfall {
        memory_mib: shortfall_mib,
        message: format!(
            "the other hosts cannot hold the running guests of {} within {HEADROOM_PERCENT} % of their allocatable memory: {shortfall_mib} MiB of guests find no room ({})",
            o.host,
            placed
                .targets
                .iter()
                .map(|t| format!(
                    "{}: {} of {} MiB committed, limit {} MiB",
                    t.host, t.committed_after_mib, t.allocatable_mib, t.limit_mib
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    });
    Ok(MaintenancePlan {
        host: o.host.clone(),
        fits: shortfall.is_none(),
        shortfall,
        guests: planned,
        targets: placed
            .targets
            .iter()
            .map(|t| TargetLoad {
                host: t.host.clone(),
                memory_committed_before: t.committed_before_mib,
                memory_committed_after: t.committed_after_mib,
                memory_total: t.allocatable_mib,
                memory_limit: t.limit_mib,
            })
            .collect(),
    })
}

/// A new target for a guest whose migration failed: among the ones it
/// passed, not tried yet, the one with the most even result that has room now.
pub fn retarget(
    hosts: &HostRegistry,
    uuid: &str,
    memory_mib: u64,
    vcpus: u32,
    candidates: &[String],
    incoming: &HashMap<String, u64>,
) -> Option<String> {
    let loads: Vec<Target> = candidates
        .iter()
        .filter_map(|c| hosts.get(c).ok())
        .filter(|h| h.is_connected() && h.ensure_open().is_ok())
        .map(|h| target_of(hosts, &h, incoming.get(h.name()).copied().unwrap_or(0)))
        .collect();
    let mover = Mover {
        uuid: uuid.to_string(),
        memory_mib,
        vcpus,
        eligible: candidates.to_vec(),
        pin: None,
    };
    placement::place(&loads, &[mover], HEADROOM_PERCENT)
        .destination(uuid)
        .map(str::to_string)
}
