//! Maintenance windows: the `Maintenance` port. Entering maintenance is an
//! evacuation, a job of the one job module (`Jobs<Evacuation>`, kept in the
//! `jobs` table, announced as `evacuation_progress`), run by `run.rs` over
//! the `Migrations` port: each guest's migration is an ordinary migration
//! job. The plan (`plan.rs`) is the migration pre-flight to every target and
//! `placement`. A host's maintenance state is kept on its `Host` (so
//! `GET /api/hosts` and `host_changed` carry it, and starts and arrivals are
//! refused there) and in the `host_maintenance` table (`state.rs`).

mod plan;
pub use plan::active;
mod run;
mod state;

use std::{collections::HashMap, sync::Arc};

use app::{
    api::{
        events::ServerEvent,
        maintenance::{
            Evacuation, EvacuationGuest, EvacuationKind, EvacuationState, HostMaintenance,
            MaintenancePlan, MaintenanceState, MoveStatus, OnBlocked, PlanAction, PlanOptions,
        },
        migrations::Step,
        ApiError,
    },
    backend::{Audit, Maintenance, Migrations},
};
use async_trait::async_trait;
use sqlx::SqlitePool;

use crate::clock::now;
use crate::services::{
    jobs::{Job, JobKind, JobTable, Jobs},
    HostRegistry,
};
use state::MaintenanceTable;

/// Evacuations as jobs: in the `jobs` table, announced as `evacuation_progress`.
pub struct EvacuationJob;

impl JobKind for EvacuationJob {
    type Snapshot = Evacuation;
    const KIND: &'static str = "evacuation";

    fn id(job: &Evacuation) -> &str {
        &job.id
    }

    /// A scheduled evacuation is a running job that waits: both are taken
    /// up again after a restart.
    fn state(job: &Evacuation) -> String {
        match job.state {
            EvacuationState::Scheduled | EvacuationState::Running => "running".into(),
            s => s.to_string(),
        }
    }

    fn started_at(job: &Evacuation) -> &str {
        &job.created_at
    }

    fn event(job: &Evacuation) -> ServerEvent {
        ServerEvent::EvacuationProgress(Box::new(job.clone()))
    }
}

type Running = Job<EvacuationJob>;

/// Lines kept in an evacuation's timeline.
const TIMELINE_MAX: usize = 400;

fn push_step(e: &mut Evacuation, phase: &str, text: String) {
    if e.timeline.len() >= TIMELINE_MAX {
        e.timeline.remove(TIMELINE_MAX / 2);
    }
    e.timeline.push(Step {
        at: now(),
        phase: phase.into(),
        text,
    });
}

/// The `Maintenance` port: plans, evacuations and the hosts' maintenance.
pub struct MaintenanceService {
    hosts: Arc<HostRegistry>,
    jobs: Jobs<EvacuationJob>,
    migrations: Arc<dyn Migrations>,
    audit: Arc<dyn Audit>,
    table: MaintenanceTable,
    /// Decisions about a host's maintenance (enter, exit, the end of an
    /// evacuation) one at a time: two people clicking at once get one each.
    decide: tokio::sync::Mutex<()>,
}

impl MaintenanceService {
    pub fn new(
        hosts: Arc<HostRegistry>,
        pool: SqlitePool,
        migrations: Arc<dyn Migrations>,
        audit: Arc<dyn Audit>,
    ) -> Arc<Self> {
        Arc::new(MaintenanceService {
            jobs: Jobs::new(JobTable::<EvacuationJob>::new(pool.clone()), hosts.clone()),
            hosts,
            migrations,
            audit,
            table: MaintenanceTable::new(pool),
            decide: tokio::sync::Mutex::new(()),
        })
    }

    /// At start-up: the hosts' maintenance as stored, and the evacuations
    /// that were scheduled or running, taken up again.
    pub async fn recover(self: &Arc<Self>) {
        for (host, m) in self.table.load().await {
            if let Ok(h) = self.hosts.get(&host) {
                h.set_maintenance(Some(m));
            }
        }
        for (job, _) in self.jobs.recorded_running().await {
            tracing::info!(id = %job.id, host = %job.host, "taking up an evacuation again after the restart");
            let running = self.jobs.adopt(job);
            self.jobs
                .update(&running, |e| {
                    // A start cut short by the restart (no migration job
                    // yet) is made again: it did not count.
                    for g in &mut e.guests {
                        if g.status == MoveStatus::Checking && g.migration_id.is_none() {
                            g.status = MoveStatus::Queued;
                            g.attempts = g.attempts.saturating_sub(1);
                            g.tried.pop();
                        }
                    }
                    push_step(
                        e,
                        "adopted",
                        "virtdeck restarted: the evacuation goes on".into(),
                    )
                })
                .await;
            tokio::spawn(self.clone().run(running));
        }
    }

    /// Sets a host's maintenance, in memory and in the database.
    async fn mark(&self, host: &str, m: Option<HostMaintenance>) {
        if let Ok(h) = self.hosts.get(host) {
            h.set_maintenance(m.clone());
        }
        if let Err(e) = self.table.set(host, m.as_ref()).await {
            tracing::error!(host, "cannot store the host's maintenance: {e}");
        }
    }

    /// Memory (MiB) the running evacuations still bring to each host.
    fn incoming(&self, except: Option<&str>) -> HashMap<String, u64> {
        let mut incoming = HashMap::new();
        for e in self.jobs.all_running() {
            if Some(e.id.as_str()) == except {
                continue;
            }
            for g in &e.guests {
                let to_come = matches!(
                    g.status,
                    MoveStatus::Queued | MoveStatus::Checking | MoveStatus::Retrying
                ) && g.action == PlanAction::Migrate;
                if let (true, Some(d)) = (to_come, &g.destination) {
                    *incoming.entry(d.clone()).or_default() += g.memory_mib;
                }
            }
        }
        incoming
    }

    async fn plan_now(
        &self,
        o: &PlanOptions,
        except: Option<&str>,
    ) -> Result<MaintenancePlan, ApiError> {
        plan::plan(
            &self.hosts,
            self.migrations.as_ref(),
            o,
            &self.incoming(except),
        )
        .await
    }
}

/// Why a plan cannot start, or `None`.
fn refusal(plan: &MaintenancePlan, on_blocked: OnBlocked) -> Option<String> {
    if let Some(s) = &plan.shortfall {
        return Some(format!("{}; nothing was started", s.message));
    }
    let blocked: Vec<String> = plan
        .blocked()
        .map(|g| format!("{}: {}", g.name, g.reason.as_deref().unwrap_or("blocked")))
        .collect();
    if !blocked.is_empty() && on_blocked == OnBlocked::Stop {
        return Some(format!(
            "{} guest(s) cannot leave {}, so it cannot enter maintenance and nothing was started: {}. Fix them, or choose to shut them down at the end (on_blocked \"shut_down\").",
            blocked.len(),
            plan.host,
            blocked.join("; ")
        ));
    }
    None
}

/// The evacuation's guests from a plan.
fn guests_of(plan: &MaintenancePlan) -> Vec<EvacuationGuest> {
    plan.guests
        .iter()
        .map(|p| EvacuationGuest {
            uuid: p.uuid.clone(),
            name: p.name.clone(),
            status: match p.action {
                PlanAction::Migrate | PlanAction::MigrateOffline => MoveStatus::Queued,
                PlanAction::Stay => MoveStatus::Stays,
                PlanAction::Blocked => MoveStatus::Blocked,
            },
            action: p.action,
            from: plan.host.clone(),
            destination: p.destination.clone(),
            attempts: 0,
            tried: Vec::new(),
            eligible: p.eligible.clone(),
            migration_id: None,
            percent: 0.0,
            error: p.reason.clone(),
            memory_mib: p.memory_mib,
            vcpus: p.vcpus,
            copy_storage: p.copy_storage,
        })
        .collect()
}

impl MaintenanceService {
    pub async fn plan(
        self: &Arc<Self>,
        options: &PlanOptions,
    ) -> Result<MaintenancePlan, ApiError> {
        self.plan_now(options, None).await
    }

    pub async fn enter(
        self: &Arc<Self>,
        user: &str,
        options: &PlanOptions,
        at: Option<&str>,
        on_blocked: OnBlocked,
    ) -> Result<String, ApiError> {
        let _decide = self.decide.lock().await;
        let host = self.hosts.get(&options.host)?;
        if let Some(m) = host.maintenance() {
            return Err(ApiError::Conflict(format!(
                "host {} is already {}",
                options.host,
                match m.state {
                    MaintenanceState::Scheduled => "scheduled to enter maintenance",
                    MaintenanceState::Entering => "entering maintenance",
                    MaintenanceState::On => "in maintenance",
                }
            )));
        }
        let plan = self.plan_now(options, None).await?;
        if let Some(why) = refusal(&plan, on_blocked) {
            return Err(ApiError::Conflict(why));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let scheduled = at.is_some();
        let mut job = Evacuation {
            id: id.clone(),
            host: options.host.clone(),
            kind: EvacuationKind::Enter,
            state: if scheduled {
                EvacuationState::Scheduled
            } else {
                EvacuationState::Running
            },
            user: user.to_string(),
            created_at: now(),
            at: at.map(str::to_string),
            started_at: (!scheduled).then(now),
            finished_at: None,
            options: options.clone(),
            on_blocked,
            guests: guests_of(&plan),
            error: None,
            timeline: Vec::new(),
        };
        let (moving, all) = job.counts();
        push_step(
            &mut job,
            if scheduled { "scheduled" } else { "started" },
            match at {
                Some(at) => format!("{user} scheduled the evacuation of {} for {at}: {all} guest(s) to move as planned now (the plan is made again then)", options.host),
                None => format!("{user} started the evacuation of {}: {all} guest(s) to move, {moving} settled", options.host),
            },
        );
        let host_name = options.host.clone();
        let running = self
            .jobs
            .start(job, &serde_json::Value::Null, |other| {
                (other.host == host_name).then(|| {
                    ApiError::Conflict(format!(
                        "an evacuation of {host_name} is already scheduled or running"
                    ))
                })
            })
            .await?;
        self.mark(
            &options.host,
            Some(HostMaintenance {
                state: if scheduled {
                    MaintenanceState::Scheduled
                } else {
                    MaintenanceState::Entering
                },
                since: now(),
                evacuation: Some(id.clone()),
            }),
        )
        .await;
        tracing::info!(id, host = %options.host, scheduled, "evacuation started");
        tokio::spawn(self.clone().run(running));
        Ok(id)
    }

    pub async fn exit(
        self: &Arc<Self>,
        user: &str,
        host: &str,
        return_guests: bool,
    ) -> Result<Option<String>, ApiError> {
        let _decide = self.decide.lock().await;
        let h = self.hosts.get(host)?;
        let m = h
            .maintenance()
            .ok_or_else(|| ApiError::Conflict(format!("host {host} is not in maintenance")))?;
        if m.state != MaintenanceState::On {
            return Err(ApiError::Conflict(format!(
                "host {host} is not in maintenance yet: cancel its evacuation instead{}",
                m.evacuation
                    .map(|id| format!(" (evacuation {id})"))
                    .unwrap_or_default()
            )));
        }
        let left = match (&m.evacuation, return_guests) {
            (Some(id), true) => self.jobs.get(id).await?,
            _ => None,
        };
        self.mark(host, None).await;
        tracing::info!(host, user, "host left maintenance");
        let Some(left) = left else {
            return Ok(None);
        };
        // The guests that left and still run where they went.
        let mut back = Vec::new();
        for g in left
            .guests
            .iter()
            .filter(|g| g.status == MoveStatus::Done && g.action == PlanAction::Migrate)
        {
            let Some(dest) = &g.destination else { continue };
            let Ok(d) = self.hosts.get(dest) else {
                continue;
            };
            if let Ok(Some(now_there)) = d.find_guest(&g.uuid).await {
                if plan::active(now_there.state) {
                    back.push(EvacuationGuest {
                        status: MoveStatus::Queued,
                        from: dest.clone(),
                        destination: Some(host.to_string()),
                        attempts: 0,
                        tried: Vec::new(),
                        eligible: vec![host.to_string()],
                        migration_id: None,
                        percent: 0.0,
                        error: None,
                        memory_mib: plan::memory_mib(&now_there),
                        vcpus: now_there.vcpus,
                        ..g.clone()
                    });
                }
            }
        }
        if back.is_empty() {
            return Ok(None);
        }
        let id = uuid::Uuid::new_v4().to_string();
        let mut job = Evacuation {
            id: id.clone(),
            host: host.to_string(),
            kind: EvacuationKind::Exit,
            state: EvacuationState::Running,
            user: user.to_string(),
            created_at: now(),
            at: None,
            started_at: Some(now()),
            finished_at: None,
            options: PlanOptions {
                host: host.to_string(),
                ..left.options.clone()
            },
            on_blocked: OnBlocked::Stop,
            guests: back,
            error: None,
            timeline: Vec::new(),
        };
        let n = job.guests.len();
        push_step(
            &mut job,
            "started",
            format!("{user} took {host} out of maintenance: {n} guest(s) come back"),
        );
        let host_name = host.to_string();
        let running = self
            .jobs
            .start(job, &serde_json::Value::Null, |other| {
                (other.host == host_name).then(|| {
                    ApiError::Conflict(format!("an evacuation of {host_name} is already running"))
                })
            })
            .await?;
        tokio::spawn(self.clone().run(running));
        Ok(Some(id))
    }

    pub async fn list(
        self: &Arc<Self>,
        host: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Evacuation>, ApiError> {
        let Some(host) = host else {
            return self.jobs.list(offset, limit).await;
        };
        // Evacuations are few: filtered here.
        Ok(self
            .jobs
            .list(0, 10_000)
            .await?
            .into_iter()
            .filter(|e| e.host == host)
            .skip(offset as usize)
            .take(limit as usize)
            .collect())
    }

    pub async fn get(self: &Arc<Self>, id: &str) -> Result<Evacuation, ApiError> {
        self.jobs
            .get(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("there is no evacuation {id}")))
    }

    pub async fn cancel(self: &Arc<Self>, id: &str) -> Result<Evacuation, ApiError> {
        let running = self.jobs.cancel(id).ok_or_else(|| {
            ApiError::Conflict(format!(
                "evacuation {id} is not running (it ended, or there is none)"
            ))
        })?;
        running.nudge();
        Ok(self
            .jobs
            .update(&running, |e| {
                push_step(e, "cancel requested", "cancel requested".into())
            })
            .await)
    }
}

/// The port over the service (the runner needs the service in an `Arc`).
pub struct MaintenancePort(pub Arc<MaintenanceService>);

#[async_trait]
impl Maintenance for MaintenancePort {
    async fn plan(&self, options: &PlanOptions) -> Result<MaintenancePlan, ApiError> {
        self.0.plan(options).await
    }

    async fn enter(
        &self,
        user: &str,
        options: &PlanOptions,
        at: Option<&str>,
        on_blocked: OnBlocked,
    ) -> Result<String, ApiError> {
        self.0.enter(user, options, at, on_blocked).await
    }

    async fn exit(
        &self,
        user: &str,
        host: &str,
        return_guests: bool,
    ) -> Result<Option<String>, ApiError> {
        self.0.exit(user, host, return_guests).await
    }

    async fn list(
        &self,
        host: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Evacuation>, ApiError> {
        self.0.list(host, offset, limit).await
    }

    async fn get(&self, id: &str) -> Result<Evacuation, ApiError> {
        self.0.get(id).await
    }

    async fn cancel(&self, id: &str) -> Result<Evacuation, ApiError> {
        self.0.cancel(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::maintenance::PlannedGuest;

    fn planned(name: &str, action: PlanAction, reason: Option<&str>) -> PlannedGuest {
        PlannedGuest {
            uuid: format!("{name}-uuid"),
            name: name.into(),
            state: app::api::guests::GuestState::Running,
            memory_mib: 512,
            vcpus: 1,
            action,
            destination: None,
            reason: reason.map(str::to_string),
            checks: vec![],
            eligible: vec![],
            copy_storage: false,
        }
    }

    #[test]
    fn a_blocked_guest_stops_the_start_unless_shutting_down_was_asked() {
        let plan = MaintenancePlan {
            host: "kvm1".into(),
            fits: true,
            shortfall: None,
            guests: vec![
                planned("web", PlanAction::Migrate, None),
                planned(
                    "db",
                    PlanAction::Blocked,
                    Some("it cannot leave: to kvm2: a local disk"),
                ),
            ],
            targets: vec![],
        };
        let why = refusal(&plan, OnBlocked::Stop).unwrap();
        assert!(why.contains("1 guest(s) cannot leave kvm1"), "{why}");
        assert!(
            why.contains("db: it cannot leave: to kvm2: a local disk"),
            "{why}"
        );
        assert_eq!(refusal(&plan, OnBlocked::ShutDown), None);
        let statuses: Vec<MoveStatus> = guests_of(&plan).iter().map(|g| g.status).collect();
        assert_eq!(statuses, [MoveStatus::Queued, MoveStatus::Blocked]);
    }
}
