//! The `Balance` port: the balance advisor (issue 18).
//!
//! Every `balance_sample_secs` each connected host is read once
//! (`libvirt::stats::sample`: one `virConnectGetAllDomainStats` call with
//! NOWAIT, on the blocking pool, bounded by the interval, never two at once
//! for a host), so a slow host delays nobody. `samples.rs` turns readings
//! into each guest's CPU use and memory; `advise.rs` measures the imbalance
//! and chooses moves. A recommendation is made only once the imbalance has
//! stayed above the threshold for `hold_samples` readings in a row; each
//! proposed move's migration pre-flight must pass (cached a few minutes).
//! Hosts unreachable or in maintenance, excluded guests, guests held by a
//! job and guests that moved lately are left out. Applying one (or the
//! automatic mode) starts an ordinary migration job whose timeline says why.

pub mod advise;
mod port;
pub mod samples;
mod status;

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use app::{
    api::{
        audit::{AuditAction, Target},
        balance::{
            BalanceMode, BalanceSettings, BalanceView, GuestRef, HostBalance, Imbalance, MoveCost,
            Recommendation, TargetAfter,
        },
        events::ServerEvent,
        guests::GuestSummary,
        migrations::{
            JobStatus, MigrationMode, MigrationOptions, MigrationSpec, Persistence, StorageMode,
            Verdict,
        },
        validate::parse_time,
        ApiError,
    },
    backend::{Audit, AuditEntry, Migrations, Outcome},
};
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;

use self::advise::{GuestLoad, HostLoad};
use self::port::load_settings;
use self::samples::{Point, Tracker};
use self::status::status_of;
use super::{maintenance::active, placement, Host, HostRegistry};
use crate::clock::now;
use crate::libvirt::stats;

/// Who the audit log and the migrations history name for automatic moves.
pub const ADVISOR: &str = "balance advisor";
/// A pre-flight verdict is trusted this long.
const PREFLIGHT_KEPT: Duration = Duration::from_secs(300);
/// A move counts against the hour's limit this long.
const HOUR: Duration = Duration::from_secs(3600);
/// Each move must lower the combined imbalance by at least this much.
const MIN_GAIN: f64 = 0.005;
/// At most this many moves are proposed at once.
const MAX_PROPOSED: usize = 10;
/// Proposals re-made after a pre-flight refusal, at most.
const MAX_REPLANS: usize = 4;

/// A recommendation with what it takes to run it.
#[derive(Debug, Clone)]
struct Proposal {
    shown: Recommendation,
    spec: MigrationSpec,
    why: String,
}

#[derive(Debug, Default)]
struct State {
    settings: BalanceSettings,
    tracker: Tracker,
    /// Readings in a row above the threshold.
    held: u32,
    imbalance: Imbalance,
    hosts: Vec<HostBalance>,
    proposals: Vec<Proposal>,
    status: String,
    sampled_at: Option<String>,
    /// Moves started (by anyone through the advisor) in the last hour: when, which guest.
    moves: VecDeque<(Instant, String)>,
    /// (guest, destination) → when checked, and whether it copies storage
    /// or why it is blocked.
    preflight: HashMap<(String, String), (Instant, Result<bool, String>)>,
    /// The migration the automatic mode started last.
    last_automatic: Option<String>,
}

impl State {
    fn moves_last_hour(&mut self) -> u32 {
        while self.moves.front().is_some_and(|(t, _)| t.elapsed() > HOUR) {
            self.moves.pop_front();
        }
        self.moves.len() as u32
    }
}

pub struct BalanceService {
    hosts: Arc<HostRegistry>,
    migrations: Arc<dyn Migrations>,
    audit: Arc<dyn Audit>,
    pool: SqlitePool,
    interval: Duration,
    state: Mutex<State>,
    /// Hosts whose reading is still under way (a hung host is not asked again).
    busy: Mutex<HashMap<String, Arc<AtomicBool>>>,
    /// One decision at a time: apply, the automatic mode, settings.
    decide: tokio::sync::Mutex<()>,
    started: Instant,
}

/// The port, as the server functions see it.
pub struct BalancePort(pub Arc<BalanceService>);

impl BalanceService {
    pub async fn new(
        hosts: Arc<HostRegistry>,
        pool: SqlitePool,
        migrations: Arc<dyn Migrations>,
        audit: Arc<dyn Audit>,
        interval: Duration,
        bandwidth_mib_s: u64,
    ) -> Arc<Self> {
        let mut settings = load_settings(&pool).await;
        settings.sample_seconds = interval.as_secs().min(u32::MAX as u64) as u32;
        settings.bandwidth_mib_s = bandwidth_mib_s;
        let state = State {
            settings,
            status: "waiting for the first samples".into(),
            ..Default::default()
        };
        Arc::new(BalanceService {
            hosts,
            migrations,
            audit,
            pool,
            interval,
            state: Mutex::new(state),
            busy: Mutex::new(HashMap::new()),
            decide: tokio::sync::Mutex::new(()),
            started: Instant::now(),
        })
    }

    /// Samples every interval, for as long as the process runs.
    pub fn run_sampling(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(me.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                me.round().await;
            }
        });
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("balance state")
    }

    /// One reading of every connected host, at once.
    async fn sample_all(&self) {
        let readings = futures::future::join_all(self.hosts.all().iter().map(|h| self.sample(h)));
        let readings = readings.await;
        let at = self.started.elapsed().as_secs_f64();
        let smoothing = {
            let s = self.state();
            1.0 / s.settings.hold_samples.max(1) as f64
        };
        let mut state = self.state();
        for (h, reading) in self.hosts.all().iter().zip(readings) {
            match reading {
                Some(Ok(stats)) => state.tracker.record(h.name(), at, &stats, smoothing),
                Some(Err(e)) => {
                    tracing::debug!(host = %h.name(), "no load sample: {e}");
                    state.tracker.reset(h.name());
                }
                None => {}
            }
        }
        state.sampled_at = Some(now());
    }

    /// One host's reading; `None` when it is not connected or still busy
    /// with the previous one.
    async fn sample(&self, h: &Arc<Host>) -> Option<Result<stats::HostStats, String>> {
        if !h.is_connected() {
            return None;
        }
        let flag = {
            let mut busy = self.busy.lock().expect("busy hosts");
            busy.entry(h.name().to_string())
                .or_insert_with(|| Arc::new(AtomicBool::new(false)))
                .clone()
        };
        if flag.swap(true, Ordering::AcqRel) {
            return None;
        }
        let done = flag.clone();
        let call = h.run(move |conn| {
            let r = stats::sample(conn);
            done.store(false, Ordering::Release);
            r
        });
        match tokio::time::timeout(self.interval.max(Duration::from_secs(1)), call).await {
            Ok(r) => Some(r.map_err(|e| e.to_string())),
            Err(_) => Some(Err("the reading did not finish within the interval".into())),
        }
    }

    /// Sample, measure, recommend, and in automatic mode act.
    async fn round(self: &Arc<Self>) {
        self.sample_all().await;
        let moved = self.moved_lately().await;
        let changed = self.recommend(&moved).await;
        if changed {
            self.announce();
        }
        self.act_alone().await;
    }

    fn announce(&self) {
        let n = self.state().proposals.len() as u32;
        self.hosts
            .announce(ServerEvent::BalanceChanged { recommendations: n });
    }

    /// Guests migrating now, or whose migration ended within the setting's
    /// minutes (whoever moved them).
    async fn moved_lately(&self) -> Vec<String> {
        let minutes = self.state().settings.min_minutes_between_moves_of_a_guest;
        let since = time::OffsetDateTime::now_utc() - time::Duration::minutes(minutes as i64);
        let mut out: Vec<String> = match self.migrations.list(0, 500).await {
            Ok(jobs) => jobs
                .into_iter()
                .filter(|j| {
                    j.status == JobStatus::Running
                        || j.ended_at
                            .as_deref()
                            .and_then(parse_time)
                            .is_some_and(|t| t >= since)
                })
                .map(|j| j.uuid.to_ascii_lowercase())
                .collect(),
            Err(e) => {
                tracing::warn!("balance: cannot read the migrations: {}", e.message());
                Vec::new()
            }
        };
        let window = Duration::from_secs(minutes as u64 * 60);
        let state = self.state();
        out.extend(
            state
                .moves
                .iter()
                .filter(|(t, _)| t.elapsed() <= window)
                .map(|(_, u)| u.clone()),
        );
        out
    }

    /// The hosts the advisor weighs and the guests it may move, from the
    /// latest readings. Also answers every host's line for the page.
    fn loads(
        &self,
        moved: &[String],
    ) -> (
        Vec<HostLoad>,
        Vec<(GuestLoad, GuestSummary)>,
        Vec<HostBalance>,
    ) {
        let state = self.state();
        let settings = &state.settings;
        let mut loads = Vec::new();
        let mut movable = Vec::new();
        let mut lines = Vec::new();
        for h in self.hosts.all() {
            let name = h.name().to_string();
            let summary = h.summary();
            let (memory, cpus) = self.hosts.capacity(&name);
            let total_mib = summary.memory_kib.unwrap_or(0) / 1024;
            let memory_mib =
                memory.unwrap_or_else(|| placement::default_allocatable_mib(total_mib));
            let cpus = cpus.or(summary.cpus).unwrap_or(1).max(1);
            let running: Vec<GuestSummary> =
                h.guests().into_iter().filter(|g| active(g.state)).collect();
            let mem_of = |g: &GuestSummary| {
                state
                    .tracker
                    .memory_kib(&name, &g.uuid.to_ascii_lowercase())
                    .unwrap_or(g.memory_kib)
                    .div_ceil(1024)
            };
            let cores_of = |g: &GuestSummary| {
                state
                    .tracker
                    .cores(&name, &g.uuid.to_ascii_lowercase())
                    .unwrap_or(0.0)
            };
            let committed: u64 = running.iter().map(mem_of).sum();
            // (+ 0.0: an empty sum is -0.0)
            let cpu_used: f64 = running.iter().map(cores_of).sum::<f64>() + 0.0;
            let excluded_reason = if !h.is_connected() {
                Some("unreachable".to_string())
            } else if h.ensure_open().is_err() {
                Some("in maintenance".to_string())
            } else if state.tracker.readings(&name) == 0 {
                Some("not sampled yet".to_string())
            } else if memory_mib == 0 {
                Some("it gives no memory to guests (allocatable_memory_mib)".to_string())
            } else {
                None
            };
            lines.push(HostBalance {
                host: name.clone(),
                cpu_used: cpu_used / cpus as f64,
                memory_committed: committed,
                memory_total: memory_mib,
                cpus,
                guests: running.len() as u32,
                excluded_reason: excluded_reason.clone(),
                trend: Vec::new(),
            });
            if excluded_reason.is_some() {
                continue;
            }
            loads.push(HostLoad {
                host: name.clone(),
                cpus: cpus as f64,
                memory_mib: memory_mib as f64,
                cpu_used,
                memory_committed_mib: committed as f64,
            });
            for g in running {
                let uuid = g.uuid.to_ascii_lowercase();
                if settings.exclude.contains(&uuid)
                    || moved.contains(&uuid)
                    || self.hosts.ensure_free(&name, &uuid).is_err()
                {
                    continue;
                }
                movable.push((
                    GuestLoad {
                        uuid,
                        name: g.name.clone(),
                        host: name.clone(),
                        cpu_used: cores_of(&g),
                        memory_mib: mem_of(&g) as f64,
                        eligible: Vec::new(),
                        standing: state
                            .proposals
                            .iter()
                            .any(|p| p.shown.guest.uuid.eq_ignore_ascii_case(&g.uuid)),
                    },
                    g,
                ));
            }
        }
        (loads, movable, lines)
    }

    /// Measures the fleet and, once the imbalance has held, proposes moves.
    /// Answers whether the recommendations changed.
    async fn recommend(&self, moved: &[String]) -> bool {
        let (loads, mut movable, lines) = self.loads(moved);
        let measured = advise::imbalance(&loads);
        let (settings, held) = {
            let mut state = self.state();
            let s = state.settings.clone();
            let busy = loads.iter().any(|h| {
                h.cpu_used / h.cpus > s.min_load
                    || h.memory_committed_mib / h.memory_mib > s.min_load
            });
            state.held = if busy && measured.combined > s.threshold {
                state.held.saturating_add(1)
            } else {
                0
            };
            state.imbalance = Imbalance {
                cpu: measured.cpu,
                memory: measured.memory,
                combined: measured.combined,
                threshold: s.threshold,
            };
            let at = time::OffsetDateTime::now_utc().unix_timestamp();
            for (line, load) in lines
                .iter()
                .filter(|l| l.excluded_reason.is_none())
                .zip(&loads)
            {
                let point = Point {
                    at,
                    cpu: load.cpu_used / load.cpus,
                    memory: line.memory_share(),
                };
                state.tracker.push_point(&line.host, point);
            }
            state.hosts = lines;
            (s, state.held)
        };
        let advisor = advise::Settings {
            threshold: settings.threshold,
            margin: settings.margin,
            min_gain: MIN_GAIN,
            cpu_headroom: settings.cpu_headroom,
            memory_headroom: settings.memory_headroom,
            min_load: settings.min_load,
            max_moves: MAX_PROPOSED,
        };
        let names: Vec<String> = loads.iter().map(|h| h.host.clone()).collect();
        let mut refused: Vec<(String, String)> = Vec::new();
        let mut proposals = Vec::new();
        let mut blocked: Option<String> = None;
        let ready = settings.mode != BalanceMode::Off && held >= settings.hold_samples;
        if ready {
            for _ in 0..=MAX_REPLANS {
                for (g, _) in movable.iter_mut() {
                    g.eligible = names
                        .iter()
                        .filter(|n| {
                            **n != g.host && !refused.contains(&(g.uuid.clone(), (*n).clone()))
                        })
                        .cloned()
                        .collect();
                }
                let guests: Vec<GuestLoad> = movable.iter().map(|(g, _)| g.clone()).collect();
                // Thousands of guests: planning is work for a blocking thread.
                let (hosts, how) = (loads.clone(), advisor.clone());
                let moves =
                    tokio::task::spawn_blocking(move || advise::advise(&hosts, &guests, &[], &how))
                        .await
                        .unwrap_or_default();
                let mut all_pass = true;
                proposals.clear();
                for m in moves {
                    let Some((g, summary)) = movable.iter().find(|(g, _)| g.uuid == m.uuid) else {
                        continue;
                    };
                    match self.preflight(summary, &m.from, &m.to).await {
                        Ok(copy) => proposals.push(self.proposal(&m, g, summary, copy, &settings)),
                        Err(why) => {
                            if blocked.is_none() {
                                blocked = Some(why);
                            }
                            refused.push((m.uuid.clone(), m.to.clone()));
                            all_pass = false;
                            break;
                        }
                    }
                }
                if all_pass {
                    break;
                }
            }
        }
        let mut state = self.state();
        state.status = status_of(&settings, &measured, held, &loads, ready, proposals.len());
        if let (true, Some(why)) = (proposals.is_empty() && ready, &blocked) {
            state.status = format!(
                "the imbalance {:.2} is above the threshold {:.2}, but the moves that would lower it \
                 are blocked by their pre-flight checks ({why})",
                measured.combined, settings.threshold
            );
        }
        let before: Vec<&str> = state
            .proposals
            .iter()
            .map(|p| p.shown.id.as_str())
            .collect();
        let after: Vec<&str> = proposals.iter().map(|p| p.shown.id.as_str()).collect();
        let changed = before != after;
        state.proposals = proposals;
        changed
    }

    /// Whether guest `g` may move from `from` to `to`: `Ok(copies
    /// storage)` when its pre-flight passes (with shared storage, else
    /// copying it), or why it is blocked. Kept a few minutes.
    async fn preflight(&self, g: &GuestSummary, from: &str, to: &str) -> Result<bool, String> {
        let key = (g.uuid.to_ascii_lowercase(), to.to_string());
        if let Some((at, verdict)) = self.state().preflight.get(&key) {
            if at.elapsed() < PREFLIGHT_KEPT {
                return verdict.clone();
            }
        }
        let mut verdict = Err(String::new());
        for copy in [false, true] {
            let checks = self
                .migrations
                .preflight(&spec_for(g, from, to, copy))
                .await;
            if checks.verdict() != Verdict::Blocked {
                verdict = Ok(copy);
                break;
            }
            if let Some(c) = checks.blocked().first() {
                if verdict.as_ref().is_err_and(|e| e.is_empty()) {
                    verdict = Err(format!("{} → {to}: {}", g.name, c.message));
                }
            }
        }
        let mut state = self.state();
        state
            .preflight
            .retain(|_, (at, _)| at.elapsed() < PREFLIGHT_KEPT);
        state
            .preflight
            .insert(key, (Instant::now(), verdict.clone()));
        verdict
    }

    fn proposal(
        &self,
        m: &advise::Move,
        g: &GuestLoad,
        summary: &GuestSummary,
        copy: bool,
        settings: &BalanceSettings,
    ) -> Proposal {
        let rss = self.state().tracker.rss_kib(&m.from, &m.uuid);
        let bytes = rss
            .map(|k| k * 1024)
            .unwrap_or((g.memory_mib as u64) * 1024 * 1024);
        let seconds = bytes as f64 / (settings.bandwidth_mib_s.max(1) as f64 * 1024.0 * 1024.0);
        let id = recommendation_id(m);
        Proposal {
            shown: Recommendation {
                id,
                guest: GuestRef {
                    host: m.from.clone(),
                    uuid: m.uuid.clone(),
                    name: m.name.clone(),
                },
                destination: m.to.clone(),
                reason: m.reason.as_str().to_string(),
                priority: m.priority,
                before: m.before.combined,
                after: m.after.combined,
                target_after: TargetAfter {
                    cpu: m.target_cpu_after,
                    memory: m.target_memory_after,
                },
                cost: MoveCost {
                    bytes,
                    seconds: (seconds * 10.0).round() / 10.0,
                },
                explanation: m.explanation.clone(),
            },
            spec: spec_for(summary, &m.from, &m.to, copy),
            why: format!(
                "recommended by the {ADVISOR} ({}): {}",
                m.reason.as_str(),
                m.explanation
            ),
        }
    }

    /// Starts recommendation `id` as `user`.
    async fn start(&self, user: &str, id: &str) -> Result<(String, Proposal), ApiError> {
        let _one = self.decide.lock().await;
        let (proposal, settings, used) = {
            let mut state = self.state();
            let used = state.moves_last_hour();
            let p = state.proposals.iter().find(|p| p.shown.id == id).cloned();
            (p, state.settings.clone(), used)
        };
        let Some(proposal) = proposal else {
            return Err(ApiError::Conflict(
                "this recommendation is no longer current: the hosts' numbers changed since it \
                 was made (or it was applied). Read the Balance page again for the current ones."
                    .into(),
            ));
        };
        if used >= settings.max_moves_per_hour {
            return Err(ApiError::Conflict(format!(
                "the advisor has moved {used} guests in the last hour, the most the settings allow \
                 (max_moves_per_hour = {}); wait, or raise the limit",
                settings.max_moves_per_hour
            )));
        }
        self.hosts.get(&proposal.spec.destination)?.ensure_open()?;
        let migration_id = self
            .migrations
            .start_because(user, &proposal.spec, Some(&proposal.why))
            .await?;
        {
            let mut state = self.state();
            state
                .moves
                .push_back((Instant::now(), proposal.spec.uuid.clone()));
            // The fleet is about to change: the other proposals wait for new readings.
            state.proposals.clear();
            state.held = 0;
        }
        self.announce();
        tracing::info!(%migration_id, guest = %proposal.shown.guest.name, from = %proposal.spec.host, to = %proposal.spec.destination, %user, "balance: move started");
        Ok((migration_id, proposal))
    }

    /// In automatic mode: the most urgent recommendation within the
    /// priority, once no move of the advisor's own runs.
    async fn act_alone(&self) {
        let (mode, max_priority, top, last) = {
            let state = self.state();
            (
                state.settings.mode,
                state.settings.automatic_max_priority,
                state
                    .proposals
                    .iter()
                    .min_by_key(|p| p.shown.priority)
                    .map(|p| (p.shown.id.clone(), p.shown.priority)),
                state.last_automatic.clone(),
            )
        };
        let Some((id, priority)) = top else { return };
        if mode != BalanceMode::Automatic || priority > max_priority {
            return;
        }
        if let Some(last) = last {
            if matches!(self.migrations.get(&last).await, Ok(j) if j.status == JobStatus::Running) {
                return;
            }
        }
        let started = self.start(ADVISOR, &id).await;
        let (target, result): (Target, Result<(), String>) = match &started {
            Ok((_, p)) => (
                Target::migration_of(&p.spec.host, &p.spec.uuid, &p.spec.destination),
                Ok(()),
            ),
            Err(e) => (Target::recommendation(&id), Err(e.message().to_string())),
        };
        if let Ok((migration_id, _)) = &started {
            self.state().last_automatic = Some(migration_id.clone());
        }
        // Nothing to say when the hour's moves are used up: it just waits.
        if matches!(&started, Err(ApiError::Conflict(m)) if m.contains("max_moves_per_hour")) {
            return;
        }
        let outcome = match &result {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Failed(e),
        };
        self.audit
            .write(AuditEntry {
                user: Some(ADVISOR),
                client: None,
                action: AuditAction::BalanceMigrate.as_str(),
                target: target.as_str(),
                outcome,
            })
            .await;
    }

    fn view_now(&self) -> BalanceView {
        let mut state = self.state();
        let moves_last_hour = state.moves_last_hour();
        let hosts = state
            .hosts
            .iter()
            .map(|h| HostBalance {
                trend: state.tracker.trend(&h.host),
                ..h.clone()
            })
            .collect();
        BalanceView {
            mode: state.settings.mode,
            settings: state.settings.clone(),
            imbalance: state.imbalance,
            hosts,
            recommendations: state.proposals.iter().map(|p| p.shown.clone()).collect(),
            status: state.status.clone(),
            sampled_at: state.sampled_at.clone(),
            moves_last_hour,
        }
    }
}

/// The migration a balancing move makes: live (the guest runs), permanent
/// for a persistent guest.
fn spec_for(g: &GuestSummary, from: &str, to: &str, copy: bool) -> MigrationSpec {
    MigrationSpec {
        host: from.to_string(),
        uuid: g.uuid.to_ascii_lowercase(),
        destination: to.to_string(),
        mode: MigrationMode::Live,
        persistence: if g.persistent {
            Persistence::Permanent
        } else {
            Persistence::Temporary
        },
        storage: if copy {
            StorageMode::Copy
        } else {
            StorageMode::Shared
        },
        options: MigrationOptions::default(),
    }
}

/// An id that changes when any of the numbers the move shows change (as
/// shown: whole percents, imbalance to two places), so that noise below
/// what the user read does not make it stale.
fn recommendation_id(m: &advise::Move) -> String {
    let text = format!(
        "{}|{}|{}|{}|{}|{:.0}|{:.0}|{}",
        m.uuid,
        m.from,
        m.to,
        m.reason.as_str(),
        m.priority,
        m.target_cpu_after * 100.0,
        m.target_memory_after * 100.0,
        m.explanation
    );
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recommendation_id_follows_the_numbers_shown_not_the_noise_below() {
        let hosts = [
            HostLoad {
                host: "a".into(),
                cpus: 2.0,
                memory_mib: 1024.0,
                cpu_used: 0.03,
                memory_committed_mib: 768.0,
            },
            HostLoad {
                host: "b".into(),
                cpus: 2.0,
                memory_mib: 1024.0,
                cpu_used: 0.0,
                memory_committed_mib: 0.0,
            },
        ];
        let guest = |cpu: f64| GuestLoad {
            uuid: "u".into(),
            name: "g".into(),
            host: "a".into(),
            cpu_used: cpu,
            memory_mib: 256.0,
            eligible: vec!["b".into()],
            standing: false,
        };
        let id = |cpu: f64, hosts: &[HostLoad]| {
            let moves = advise::advise(hosts, &[guest(cpu)], &[], &advise::Settings::default());
            recommendation_id(&moves[0])
        };
        assert_eq!(
            id(0.0081, &hosts),
            id(0.0089, &hosts),
            "below a whole percent"
        );
        assert_eq!(id(0.01, &hosts).len(), 16);
        let mut fuller = hosts.clone();
        fuller[0].memory_committed_mib = 800.0;
        assert_ne!(
            id(0.01, &hosts),
            id(0.01, &fuller),
            "the sentence's numbers changed"
        );
    }
}
