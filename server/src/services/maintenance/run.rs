//! One evacuation from start to end. It waits for its time if scheduled
//! (and plans again then), marks the host *entering maintenance*, starts up
//! to `max_parallel` migrations through the `Migrations` port, follows each
//! job, retries a failed one on another target (at most `MAX_ATTEMPTS`, each
//! on a different host), shuts blocked guests down at the end if asked, and
//! marks the host *in maintenance* only once no running guest and no job is
//! left on it. Everything it does is a step in its timeline, every
//! migration it starts a line in the audit log. It works from its snapshot
//! alone, so an evacuation adopted after a restart goes on where it was.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use app::{
    api::{
        audit::{AuditAction, Target},
        maintenance::{
            EvacuationGuest, EvacuationKind, EvacuationState, HostMaintenance, MaintenanceState,
            MoveStatus, OnBlocked, PlanAction, MAX_ATTEMPTS,
        },
        migrations::{JobStatus, MigrationJob},
        validate::parse_time,
    },
    backend::{AuditEntry, Outcome},
};

use super::{guests_of, plan, push_step, refusal, MaintenanceService, Running};
use crate::clock::now;
use crate::libvirt::domain::{self, Lifecycle};

/// How often running migrations are looked at.
const POLL: Duration = Duration::from_millis(200);
/// How long a blocked guest may take to shut down when asked to.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(180);

impl MaintenanceService {
    async fn step(&self, running: &Running, phase: &str, text: String) {
        tracing::info!(id = %running.snapshot().id, phase, "{text}");
        self.jobs
            .update(running, |e| push_step(e, phase, text))
            .await;
    }

    async fn set_guest(&self, running: &Running, uuid: &str, f: impl FnOnce(&mut EvacuationGuest)) {
        self.jobs
            .update(running, |e| {
                if let Some(g) = e.guests.iter_mut().find(|g| g.uuid == uuid) {
                    f(g);
                }
            })
            .await;
    }

    async fn audit_step(
        &self,
        user: &str,
        action: AuditAction,
        target: Target,
        result: Result<(), String>,
    ) {
        let outcome = match &result {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Failed(e),
        };
        self.audit
            .write(AuditEntry {
                user: Some(user),
                client: None,
                action: action.as_str(),
                target: target.as_str(),
                outcome,
            })
            .await;
    }

    /// Runs an evacuation (new, or adopted at start-up) to its end.
    pub(super) async fn run(self: Arc<Self>, running: Arc<Running>) {
        let job = running.snapshot();
        if job.state == EvacuationState::Scheduled && !self.wait_for_time(&running).await {
            return;
        }
        self.move_all(&running).await;
        self.conclude(&running).await;
    }

    /// Waits for a scheduled evacuation's time, then plans again; answers
    /// whether it goes on (it ended otherwise: cancelled, or the plan no
    /// longer holds).
    async fn wait_for_time(&self, running: &Arc<Running>) -> bool {
        let job = running.snapshot();
        let at = job.at.as_deref().and_then(parse_time);
        loop {
            if running.cancel_requested() {
                self.end(running, EvacuationState::Cancelled, None).await;
                return false;
            }
            let left = at
                .map(|t| t - time::OffsetDateTime::now_utc())
                .unwrap_or(time::Duration::ZERO);
            if left <= time::Duration::ZERO {
                break;
            }
            let wait = Duration::from_secs_f64(left.as_seconds_f64().clamp(0.0, 5.0));
            running.nudged(wait).await;
        }
        let _decide = self.decide.lock().await;
        let plan = self.plan_now(&job.options, Some(&job.id)).await;
        let refused = match &plan {
            Ok(p) => refusal(p, job.on_blocked),
            Err(e) => Some(e.message().to_string()),
        };
        if let Some(why) = refused {
            let text = format!("the evacuation did not start at its time: {why}");
            self.end(running, EvacuationState::Failed, Some(text)).await;
            return false;
        }
        let plan = plan.expect("checked above");
        self.jobs
            .update(running, |e| {
                e.guests = guests_of(&plan);
                e.state = EvacuationState::Running;
                e.started_at = Some(now());
                let (_, all) = e.counts();
                push_step(
                    e,
                    "started",
                    format!("its time came: planned again, {all} guest(s) to move"),
                );
            })
            .await;
        self.mark(
            &job.host,
            Some(HostMaintenance {
                state: MaintenanceState::Entering,
                since: now(),
                evacuation: Some(job.id.clone()),
            }),
        )
        .await;
        true
    }

    /// Moves every queued guest, `max_parallel` at a time, until all are settled.
    async fn move_all(&self, running: &Arc<Running>) {
        let mut cancelled = false;
        loop {
            let job = running.snapshot();
            if running.cancel_requested() && !cancelled {
                cancelled = true;
                self.cancel_moves(running).await;
            }
            // Follow the migrations that run.
            for g in job.guests.iter().filter(|g| g.status.moving()) {
                self.follow(running, g).await;
            }
            let job = running.snapshot();
            if job.guests.iter().all(|g| g.status.settled()) {
                return;
            }
            if !cancelled {
                let moving = job.guests.iter().filter(|g| g.status.moving()).count();
                let free = (job.options.max_parallel as usize).saturating_sub(moving);
                let next: Vec<EvacuationGuest> = job
                    .guests
                    .iter()
                    .filter(|g| matches!(g.status, MoveStatus::Queued | MoveStatus::Retrying))
                    .take(free)
                    .cloned()
                    .collect();
                for g in next {
                    self.start_one(running, &g).await;
                }
            }
            running.nudged(POLL).await;
        }
    }

    /// Stops the migrations that run (each guest stays where it is when its
    /// migration ends) and leaves the queued guests where they are.
    async fn cancel_moves(&self, running: &Arc<Running>) {
        let job = running.snapshot();
        for g in &job.guests {
            if let (true, Some(id)) = (g.status.moving(), &g.migration_id) {
                if let Err(e) = self.migrations.cancel(id).await {
                    tracing::info!(
                        id,
                        "cancelling a migration of the evacuation: {}",
                        e.message()
                    );
                }
            }
        }
        self.jobs
            .update(running, |e| {
                for g in &mut e.guests {
                    if matches!(g.status, MoveStatus::Queued | MoveStatus::Retrying) {
                        g.status = MoveStatus::Cancelled;
                        g.error = Some("the evacuation was cancelled before it moved".into());
                    }
                }
                push_step(
                    e,
                    "cancelling",
                    "cancelling: the running migrations are being cancelled, queued guests stay"
                        .into(),
                );
            })
            .await;
    }

    /// Starts the migration of one guest to its planned destination.
    async fn start_one(&self, running: &Arc<Running>, g: &EvacuationGuest) {
        let job = running.snapshot();
        let Some(dest) = g.destination.clone() else {
            return self.fail_guest(running, g, "no destination".into()).await;
        };
        // It may have changed since the plan: shut off, or gone.
        let now_here = match self.hosts.get(&g.from) {
            Ok(h) => h.find_guest(&g.uuid).await,
            Err(e) => Err(e),
        };
        let guest = match now_here {
            Ok(Some(guest)) => guest,
            Ok(None) => {
                return self
                    .set_guest(running, &g.uuid, |x| {
                        x.status = MoveStatus::Done;
                        x.error = Some(format!("it left {} by other means", x.from));
                    })
                    .await
            }
            Err(e) => {
                return self
                    .attempt_failed(
                        running,
                        g,
                        format!("{} did not answer: {}", g.from, e.message()),
                    )
                    .await
            }
        };
        if g.action == PlanAction::Migrate && !plan::active(guest.state) {
            return self
                .set_guest(running, &g.uuid, |x| {
                    x.status = MoveStatus::Stays;
                    x.error = Some("it was shut off meanwhile: it stays".into());
                })
                .await;
        }
        let spec = plan::spec_for(&job.options, &g.from, &guest, &dest, g.copy_storage);
        self.set_guest(running, &g.uuid, |x| {
            x.status = MoveStatus::Checking;
            x.attempts += 1;
            x.tried.push(dest.clone());
            x.percent = 0.0;
            x.migration_id = None;
        })
        .await;
        let started = self.migrations.start(&job.user, &spec).await;
        let target = Target::migration_of(&g.from, &g.uuid, &dest);
        self.audit_step(
            &job.user,
            AuditAction::EvacuationMigrate,
            target,
            started
                .as_ref()
                .map(|_| ())
                .map_err(|e| e.message().to_string()),
        )
        .await;
        match started {
            Ok(id) => {
                self.set_guest(running, &g.uuid, |x| {
                    x.status = MoveStatus::Migrating;
                    x.migration_id = Some(id.clone());
                    x.error = None;
                })
                .await;
                let attempt = g.attempts + 1;
                self.step(
                    running,
                    "migrating",
                    format!("{}: attempt {attempt} to {dest} (migration {id})", g.name),
                )
                .await;
            }
            Err(e) => {
                let g = running
                    .snapshot()
                    .guests
                    .into_iter()
                    .find(|x| x.uuid == g.uuid)
                    .expect("the guest is in its evacuation");
                self.attempt_failed(running, &g, e.message().to_string())
                    .await;
            }
        }
    }

    /// Reads a running migration of the evacuation and carries its end over.
    async fn follow(&self, running: &Arc<Running>, g: &EvacuationGuest) {
        let Some(id) = &g.migration_id else {
            return;
        };
        let migration: MigrationJob = match self.migrations.get(id).await {
            Ok(m) => m,
            Err(e) => {
                return tracing::warn!(
                    id,
                    "cannot read a migration of the evacuation: {}",
                    e.message()
                )
            }
        };
        match migration.status {
            JobStatus::Running => {
                let p = migration.progress.unwrap_or_default();
                // The last pause (almost all copied), or post-copy (the guest already runs there).
                let status = if p.phase == "post-copy" || p.percent >= 99.5 {
                    MoveStatus::SwitchingOver
                } else {
                    MoveStatus::Migrating
                };
                if (p.percent - g.percent).abs() >= 0.5 || status != g.status {
                    self.jobs
                        .progress(running, |e| {
                            if let Some(x) = e.guests.iter_mut().find(|x| x.uuid == g.uuid) {
                                x.percent = p.percent;
                                x.status = status;
                            }
                        })
                        .await;
                }
            }
            JobStatus::Completed => {
                self.set_guest(running, &g.uuid, |x| {
                    x.status = MoveStatus::Done;
                    x.percent = 100.0;
                    x.error = None;
                })
                .await;
                let dest = g.destination.clone().unwrap_or_default();
                self.step(running, "moved", format!("{}: now on {dest}", g.name))
                    .await;
            }
            JobStatus::Cancelled if running.cancel_requested() => {
                self.set_guest(running, &g.uuid, |x| {
                    x.status = MoveStatus::Cancelled;
                    x.error = Some(format!(
                        "its migration was cancelled: it stays on {}",
                        x.from
                    ));
                })
                .await;
            }
            _ => {
                let why = migration
                    .error
                    .unwrap_or_else(|| format!("the migration ended {}", migration.status));
                self.attempt_failed(running, g, why).await;
            }
        }
    }

    /// One attempt failed: the next goes to another target that passed the
    /// pre-flight and has room, up to `MAX_ATTEMPTS`; otherwise the guest failed.
    async fn attempt_failed(&self, running: &Arc<Running>, g: &EvacuationGuest, why: String) {
        let tried_here = g.destination.clone().unwrap_or_default();
        self.step(
            running,
            "attempt failed",
            format!("{}: the migration to {tried_here} failed: {why}", g.name),
        )
        .await;
        if running.cancel_requested() {
            return self
                .set_guest(running, &g.uuid, |x| {
                    x.status = MoveStatus::Cancelled;
                    x.error = Some(why);
                })
                .await;
        }
        let left: Vec<String> = g
            .eligible
            .iter()
            .filter(|t| !g.tried.contains(t))
            .cloned()
            .collect();
        let next = (g.attempts < MAX_ATTEMPTS)
            .then(|| {
                plan::retarget(
                    &self.hosts,
                    &g.uuid,
                    if g.action == PlanAction::Migrate {
                        g.memory_mib
                    } else {
                        0
                    },
                    g.vcpus,
                    &left,
                    &self.incoming(None),
                )
            })
            .flatten();
        match next {
            Some(dest) => {
                self.set_guest(running, &g.uuid, |x| {
                    x.status = MoveStatus::Retrying;
                    x.destination = Some(dest.clone());
                    x.migration_id = None;
                    x.error = Some(why);
                })
                .await;
                self.step(
                    running,
                    "retrying",
                    format!("{}: retrying on {dest}", g.name),
                )
                .await;
            }
            None => {
                let attempts = g.attempts;
                let end = if attempts >= MAX_ATTEMPTS {
                    format!("{attempts} attempts failed, the last: {why}")
                } else if left.is_empty() {
                    format!("{why} (no other target passes its pre-flight checks)")
                } else {
                    format!("{why} (no other target has room for it)")
                };
                self.fail_guest(running, g, end).await;
            }
        }
    }

    async fn fail_guest(&self, running: &Arc<Running>, g: &EvacuationGuest, why: String) {
        self.set_guest(running, &g.uuid, |x| {
            x.status = MoveStatus::Failed;
            x.error = Some(why.clone());
        })
        .await;
        self.step(running, "guest failed", format!("{}: {why}", g.name))
            .await;
    }

    /// Shuts down the blocked guests (asked for with `on_blocked: shut_down`).
    async fn shut_down_blocked(&self, running: &Arc<Running>) {
        let job = running.snapshot();
        for g in job
            .guests
            .iter()
            .filter(|g| g.status == MoveStatus::Blocked)
        {
            let Ok(h) = self.hosts.get(&g.from) else {
                continue;
            };
            let result = domain::act(&h, &g.uuid, Lifecycle::Shutdown).await;
            self.audit_step(
                &job.user,
                AuditAction::EvacuationShutDown,
                Target::guest(&g.from, &g.uuid),
                result.as_ref().map(|_| ()).map_err(|e| e.to_string()),
            )
            .await;
            let deadline = Instant::now() + SHUTDOWN_WAIT;
            let mut off = false;
            while result.is_ok() && Instant::now() < deadline {
                if let Ok(guest) = h.find_guest(&g.uuid).await {
                    if guest.as_ref().is_none_or(|x| !plan::active(x.state)) {
                        h.note_guest(&g.uuid, guest);
                        off = true;
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            if off {
                self.set_guest(running, &g.uuid, |x| x.status = MoveStatus::ShutDown)
                    .await;
                self.step(
                    running,
                    "shut down",
                    format!("{}: shut down, as asked", g.name),
                )
                .await;
            } else {
                let why = match result {
                    Err(e) => format!("it could not be shut down: {e}"),
                    Ok(_) => format!(
                        "it did not shut down within {} s (the guest ignored the request?)",
                        SHUTDOWN_WAIT.as_secs()
                    ),
                };
                self.fail_guest(running, g, why).await;
            }
        }
    }

    /// What still runs on the host, or a job that involves it (empty: the host is empty).
    async fn left_on(&self, host: &str) -> Vec<String> {
        let mut left = Vec::new();
        if let Ok(h) = self.hosts.get(host) {
            for g in h.guests() {
                // The cache, checked against the host for what looks active.
                if plan::active(g.state) {
                    match h.find_guest(&g.uuid).await {
                        Ok(Some(now)) if plan::active(now.state) => {
                            left.push(format!("{} is {}", now.name, now.state.label()))
                        }
                        Ok(now) => h.note_guest(&g.uuid, now),
                        Err(e) => left.push(format!("{} cannot be read: {}", g.name, e.message())),
                    }
                }
            }
        }
        if let Ok(jobs) = self.migrations.list(0, 200).await {
            for m in jobs.iter().filter(|m| m.status.is_running()) {
                if m.host == host || m.destination == host {
                    left.push(format!("migration {} of {} runs", m.id, m.guest));
                }
            }
        }
        left
    }

    /// Ends the evacuation: shuts blocked guests down if asked, checks that
    /// the host is empty, and puts it in maintenance (or takes it out).
    async fn conclude(&self, running: &Arc<Running>) {
        let job = running.snapshot();
        if running.cancel_requested() {
            return self.end(running, EvacuationState::Cancelled, None).await;
        }
        let failed: Vec<String> = job
            .guests
            .iter()
            .filter(|g| g.status == MoveStatus::Failed)
            .map(|g| format!("{}: {}", g.name, g.error.as_deref().unwrap_or("failed")))
            .collect();
        if job.kind == EvacuationKind::Exit {
            let error = (!failed.is_empty()).then(|| {
                format!(
                    "{} guest(s) did not come back: {}",
                    failed.len(),
                    failed.join("; ")
                )
            });
            let state = if error.is_some() {
                EvacuationState::Failed
            } else {
                EvacuationState::Done
            };
            return self.end(running, state, error).await;
        }
        if !failed.is_empty() {
            let text = format!(
                "{} guest(s) could not leave, so {} does not enter maintenance: {}",
                failed.len(),
                job.host,
                failed.join("; ")
            );
            return self.end(running, EvacuationState::Failed, Some(text)).await;
        }
        if job.on_blocked == OnBlocked::ShutDown {
            self.shut_down_blocked(running).await;
            if running
                .snapshot()
                .guests
                .iter()
                .any(|g| g.status == MoveStatus::Failed)
            {
                let text = format!(
                    "a blocked guest did not shut down, so {} does not enter maintenance",
                    job.host
                );
                return self.end(running, EvacuationState::Failed, Some(text)).await;
            }
        }
        let left = self.left_on(&job.host).await;
        if !left.is_empty() {
            let text = format!(
                "{} is not empty, so it does not enter maintenance: {}",
                job.host,
                left.join("; ")
            );
            return self.end(running, EvacuationState::Failed, Some(text)).await;
        }
        self.end(running, EvacuationState::Done, None).await;
    }

    /// Stores the end; the host is in maintenance after a successful
    /// `enter`, out of it after any other end of an `enter`.
    async fn end(&self, running: &Arc<Running>, state: EvacuationState, error: Option<String>) {
        let _decide = self.decide.lock().await;
        let job = running.snapshot();
        if job.kind == EvacuationKind::Enter {
            let m = (state == EvacuationState::Done).then(|| HostMaintenance {
                state: MaintenanceState::On,
                since: now(),
                evacuation: Some(job.id.clone()),
            });
            self.mark(&job.host, m).await;
        }
        let ended = self
            .jobs
            .finish(running, |e| {
                let text = match (&error, state, e.kind) {
                    (Some(err), _, _) => err.clone(),
                    (None, EvacuationState::Done, EvacuationKind::Enter) => {
                        format!(
                            "{} is in maintenance: no running guest and no job is left on it",
                            e.host
                        )
                    }
                    (None, EvacuationState::Done, EvacuationKind::Exit) => {
                        "the guests are back".to_string()
                    }
                    (None, EvacuationState::Cancelled, _) => format!(
                        "cancelled: the guests stay where they are; {} is not in maintenance",
                        e.host
                    ),
                    (None, s, _) => s.to_string(),
                };
                push_step(e, &state.to_string(), text);
                e.state = state;
                e.error = error;
                e.finished_at = Some(now());
            })
            .await;
        tracing::info!(id = %ended.id, host = %ended.host, state = %ended.state, "evacuation ended");
    }
}
