//! Migration jobs: a `Jobs` registry (`services::jobs`) of kind `Migration`,
//! held with the other services (not a global), one task per job. A job runs the blocking migrate call on a libvirt
//! connection of its own with no time limit, and beside it a sampler on a
//! second connection reads libvirt's job statistics every 0.3 s; each
//! sample becomes a `migration_progress` snapshot on the event channel. The
//! history is in the database (`history`, the registry's store: the
//! `migrations` table); jobs still running when virtdeck stopped are found
//! again at start-up (`recover`) and followed to their end.

mod history;
pub mod preflight;
pub mod progress;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use app::{
    api::{
        events::ServerEvent,
        guests::GuestState,
        migrations::{JobStatus, MigrationJob, MigrationSpec, Preflight, Tuning, Verdict},
        ApiError,
    },
    backend::Migrations,
};
use async_trait::async_trait;
use sqlx::SqlitePool;
use tokio::sync::mpsc;

use super::convert::migration_request;
use crate::libvirt::{migration, preflight as facts};
use crate::services::{
    jobs::{Job, JobKind, Jobs},
    Host, HostRegistry,
};
use history::History;
use progress::Tracker;

/// How often a running migration is sampled (libvirt answers in well under
/// this, so over three samples a second reach the pages).
pub const SAMPLE_EVERY: Duration = Duration::from_millis(300);
/// How long the pre-flight checks may wait for one host.
const FACTS_TIMEOUT: Duration = Duration::from_secs(20);

use crate::clock::now;

/// Migrations as jobs: kept in the `migrations` table (`History`), announced
/// as `migration_progress`.
pub struct Migration;

impl JobKind for Migration {
    type Snapshot = MigrationJob;
    const KIND: &'static str = "migration";

    fn id(job: &MigrationJob) -> &str {
        &job.id
    }

    fn state(job: &MigrationJob) -> String {
        job.status.to_string()
    }

    fn started_at(job: &MigrationJob) -> &str {
        &job.started_at
    }

    fn event(job: &MigrationJob) -> ServerEvent {
        ServerEvent::MigrationProgress(Box::new(job.message()))
    }

    fn holds(job: &MigrationJob) -> Option<(&str, &str, &'static str)> {
        Some((&job.host, &job.uuid, MIGRATING))
    }
}

/// What a change to a guest being migrated is told.
const MIGRATING: &str = "the guest is being migrated: wait for the migration to end, or cancel it";

type Running = Job<Migration>;

pub struct MigrationJobs {
    hosts: Arc<HostRegistry>,
    jobs: Jobs<Migration>,
}

impl MigrationJobs {
    pub fn new(hosts: Arc<HostRegistry>, pool: SqlitePool) -> Arc<Self> {
        Arc::new(MigrationJobs {
            jobs: Jobs::new(History::new(pool), hosts.clone()),
            hosts,
        })
    }

    /// The facts of both hosts and what they make of this migration.
    async fn evaluate(&self, spec: &MigrationSpec) -> (preflight::Evaluation, Option<String>) {
        let uuid = spec.uuid.clone();
        let source = self
            .hosts
            .act(
                &spec.host,
                FACTS_TIMEOUT,
                "reading the guest",
                |h| async move {
                    let name = h.name().to_string();
                    h.run_mapped(move |conn| facts::source_facts(&name, conn, &uuid))
                        .await
                },
            )
            .await;
        let (uuid, facts) = (spec.uuid.clone(), source.as_ref().ok().cloned());
        let dest = self
            .hosts
            .act(
                &spec.destination,
                FACTS_TIMEOUT,
                "reading the destination",
                |h| async move {
                    let name = h.name().to_string();
                    h.run_mapped(move |conn| facts::dest_facts(&name, conn, &uuid, facts.as_ref()))
                        .await
                },
            )
            .await;
        let destination_uri = self
            .hosts
            .get(&spec.destination)
            .map(|h| h.migration_uri().to_string())
            .unwrap_or_default();
        let ctx = preflight::Context {
            spec,
            destination_uri: &destination_uri,
            busy: self.hosts.ensure_free(&spec.host, &spec.uuid).is_err(),
        };
        let name = source.as_ref().ok().map(|s| s.guest.name.clone());
        let source = source.map(|f| preflight::SourceFacts::from_host(&spec.host, f));
        let dest = dest.map(|f| preflight::DestFacts::from_host(&spec.destination, f));
        (preflight::evaluate(&ctx, &source, &dest), name)
    }

    /// Finds jobs that were running when virtdeck stopped and follows each to
    /// its end (the source host's libvirtd kept driving them).
    pub async fn recover(self: &Arc<Self>) {
        for (job, _) in self.jobs.recorded_running().await {
            tracing::info!(id = %job.id, guest = %job.guest, "following a migration that was running before the restart");
            let running = self.jobs.adopt(job);
            let jobs = self.clone();
            tokio::spawn(async move { jobs.follow_adopted(running).await });
        }
    }

    /// Samples a job that this process did not start until libvirt no longer
    /// reports it, then reads where the guest ended up.
    async fn follow_adopted(self: Arc<Self>, running: Arc<Running>) {
        let job = running.snapshot();
        let started = Instant::now();
        let mut tracker = Tracker::default();
        let mut last = job.progress.clone();
        if let Ok(source) = self.hosts.get(&job.host) {
            let (tx, mut rx) = mpsc::channel(16);
            let stop = Arc::new(AtomicBool::new(false));
            let sampler = spawn_sampler(source, &job.uuid, stop.clone(), tx);
            loop {
                match tokio::time::timeout(Duration::from_secs(3), rx.recv()).await {
                    Ok(Some(sample)) if sample.active => {
                        let p = tracker.update(&sample);
                        last = Some(p.clone());
                        self.jobs.progress(&running, |j| j.progress = Some(p)).await;
                    }
                    // No job on the guest (or no guest left on the source): over.
                    Ok(Some(_)) | Ok(None) | Err(_) => break,
                }
            }
            stop.store(true, Ordering::Relaxed);
            let _ = sampler.await;
        }
        let (status, error) = match self.locate(&job).await {
            Located::Destination => (JobStatus::Completed, None),
            Located::Source(state) => (
                JobStatus::Failed,
                Some(format!(
                    "virtdeck was restarted while the migration ran, and it did not complete: the guest is {} on {}",
                    state.label(),
                    job.host
                )),
            ),
            Located::Nowhere => (
                JobStatus::Unknown,
                Some("virtdeck was restarted while the migration ran; the guest is running on neither host now".into()),
            ),
        };
        let (progress, downtime) = match status {
            JobStatus::Completed => {
                let elapsed = started.elapsed().as_millis() as u64;
                let (p, d) = self.final_figures(&job, &tracker, last, elapsed).await;
                (Some(p), d)
            }
            _ => (last, None),
        };
        self.finish(&running, status, progress, error, downtime)
            .await;
    }

    /// Where the guest runs now.
    async fn locate(&self, job: &MigrationJob) -> Located {
        let find = |host: &str| {
            let host = self.hosts.get(host);
            let uuid = job.uuid.clone();
            async move {
                match host {
                    Ok(h) => h.find_guest(&uuid).await.ok().flatten(),
                    Err(_) => None,
                }
            }
        };
        let (dest, source) = tokio::join!(find(&job.destination), find(&job.host));
        let active = |g: &Option<app::api::guests::GuestSummary>| {
            g.as_ref()
                .is_some_and(|g| !matches!(g.state, GuestState::Shutoff | GuestState::Crashed))
        };
        if active(&dest)
            || (job.mode == app::api::migrations::MigrationMode::Offline && dest.is_some())
        {
            Located::Destination
        } else if let Some(g) = source {
            Located::Source(g.state)
        } else {
            Located::Nowhere
        }
    }

    /// The statistics of the finished migration, from libvirt's completed job
    /// (on the source if it kept the guest, else on the destination; libvirt
    /// hands them out once).
    async fn completed(&self, job: &MigrationJob) -> Option<migration::Sample> {
        for host in [&job.host, &job.destination] {
            let Ok(h) = self.hosts.get(host) else {
                continue;
            };
            let uuid = job.uuid.clone();
            let stats = h
                .run_mapped(move |conn| Ok(migration::completed(conn, &uuid)))
                .await
                .ok()
                .flatten();
            if stats.is_some() {
                return stats;
            }
        }
        None
    }

    /// The final progress and downtime of a migration that completed.
    async fn final_figures(
        &self,
        job: &MigrationJob,
        tracker: &Tracker,
        last: Option<app::api::migrations::Progress>,
        elapsed_ms: u64,
    ) -> (app::api::migrations::Progress, Option<u64>) {
        let completed = self.completed(job).await;
        let mut progress = tracker.done(last, elapsed_ms);
        if let Some(s) = &completed {
            if s.data_total > 0 {
                progress.data_total = s.data_total;
                progress.data_processed = s.data_processed.max(s.data_total);
            }
            if s.elapsed_ms > 0 {
                progress.elapsed_ms = s.elapsed_ms;
            }
            if s.mem_bps > 0 {
                progress.speed = s.mem_bps + s.disk_bps;
            }
            progress.iteration = progress.iteration.max(s.iteration);
        }
        let downtime = completed.map(|s| s.downtime_ms).filter(|d| *d > 0);
        (progress, downtime)
    }

    /// Ends a job: its final state is stored, announced, and the guest lists
    /// of both hosts are brought up to date.
    async fn finish(
        &self,
        running: &Arc<Running>,
        status: JobStatus,
        progress: Option<app::api::migrations::Progress>,
        error: Option<String>,
        downtime_ms: Option<u64>,
    ) {
        let job = self
            .jobs
            .finish(running, |j| {
                j.status = status;
                j.progress = progress;
                j.error = error;
                j.downtime_ms = downtime_ms;
                j.ended_at = Some(now());
            })
            .await;
        tracing::info!(id = %job.id, guest = %job.guest, status = %job.status, error = job.error.as_deref().unwrap_or(""), "migration ended");
        for host in [&job.host, &job.destination] {
            let Ok(h) = self.hosts.get(host) else {
                continue;
            };
            match h.find_guest(&job.uuid).await {
                Ok(Some(guest)) => self.hosts.announce(ServerEvent::GuestChanged { guest }),
                Ok(None) => self.hosts.announce(ServerEvent::GuestRemoved {
                    host: host.clone(),
                    uuid: job.uuid.clone(),
                }),
                Err(e) => tracing::warn!(host, "cannot read the guest after a migration: {e}"),
            }
        }
    }

    /// Runs one job from start to end.
    async fn run(
        self: Arc<Self>,
        running: Arc<Running>,
        spec: MigrationSpec,
        copy_disks: Vec<String>,
        source: Arc<Host>,
        destination_uri: String,
    ) {
        let started = Instant::now();
        let (tx, mut rx) = mpsc::channel(16);
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = spawn_sampler(source.clone(), &spec.uuid, stop.clone(), tx);
        let migrate = {
            let (source, request) = (source.clone(), migration_request(&spec));
            let uuid = spec.uuid.clone();
            tokio::spawn(async move {
                let host = source.name().to_string();
                source
                    .run_dedicated(move |conn| {
                        migration::migrate(
                            &host,
                            conn,
                            &uuid,
                            &destination_uri,
                            &request,
                            &copy_disks,
                        )
                    })
                    .await
            })
        };
        let mut tracker = Tracker::default();
        let mut last = None;
        tokio::pin!(migrate);
        let result = loop {
            tokio::select! {
                result = &mut migrate => break result,
                Some(sample) = rx.recv() => {
                    if !sample.active {
                        continue;
                    }
                    let p = tracker.update(&sample);
                    last = Some(p.clone());
                    self.jobs.progress(&running, |j| j.progress = Some(p)).await;
                }
            }
        };
        // The sampler ends by itself at its next tick; the end is not held up for it.
        stop.store(true, Ordering::Relaxed);
        drop(sampler);
        let result = result.unwrap_or_else(|join| {
            tracing::error!("migration task failed: {join}");
            Err(crate::libvirt::Error::Internal)
        });
        let job = running.snapshot();
        match result {
            Ok(()) => {
                let elapsed = started.elapsed().as_millis() as u64;
                let (progress, downtime) = self.final_figures(&job, &tracker, last, elapsed).await;
                self.finish(
                    &running,
                    JobStatus::Completed,
                    Some(progress),
                    None,
                    downtime,
                )
                .await;
            }
            Err(e) => {
                let cancelled =
                    running.cancel_requested() || migration::was_aborted_message(e.message());
                let place = match self.locate(&job).await {
                    Located::Destination => format!("The guest is running on {}.", job.destination),
                    Located::Source(state) => {
                        format!("The guest is {} on {}.", state.label(), job.host)
                    }
                    Located::Nowhere => "The guest is running on neither host.".to_string(),
                };
                let (status, error) = if cancelled {
                    (JobStatus::Cancelled, format!("Cancelled. {place}"))
                } else {
                    (JobStatus::Failed, format!("{} {place}", e.message()))
                };
                self.finish(&running, status, last, Some(error), None).await;
            }
        }
    }

    fn running_job(&self, id: &str) -> Option<Arc<Running>> {
        self.jobs.running(id)
    }
}

enum Located {
    Destination,
    Source(GuestState),
    Nowhere,
}

/// The sampler of one job, on a libvirt connection of its own.
fn spawn_sampler(
    source: Arc<Host>,
    uuid: &str,
    stop: Arc<AtomicBool>,
    tx: mpsc::Sender<migration::Sample>,
) -> tokio::task::JoinHandle<()> {
    let uuid = uuid.to_string();
    tokio::spawn(async move {
        let result = source
            .run_dedicated(move |conn| migration::sample_loop(conn, &uuid, SAMPLE_EVERY, stop, tx))
            .await;
        if let Err(e) = result {
            tracing::warn!(host = source.name(), "the migration sampler stopped: {e}");
        }
    })
}

/// The `Migrations` port over the job registry.
#[derive(Clone)]
pub struct MigrationService(pub Arc<MigrationJobs>);

#[async_trait]
impl Migrations for MigrationService {
    async fn preflight(&self, spec: &MigrationSpec) -> Preflight {
        Preflight {
            checks: self.0.evaluate(spec).await.0.checks,
        }
    }

    async fn start(&self, user: &str, spec: &MigrationSpec) -> Result<String, ApiError> {
        let (evaluation, guest) = self.0.evaluate(spec).await;
        let preflight = Preflight {
            checks: evaluation.checks,
        };
        if preflight.verdict() == Verdict::Blocked {
            let reasons: Vec<String> = preflight
                .blocked()
                .iter()
                .map(|c| format!("{}: {}", c.name, c.message))
                .collect();
            return Err(ApiError::Conflict(format!(
                "the migration cannot start: {}",
                reasons.join("; ")
            )));
        }
        let source = self.0.hosts.get(&spec.host)?;
        let destination_uri = self
            .0
            .hosts
            .get(&spec.destination)?
            .migration_uri()
            .to_string();
        let job = MigrationJob {
            id: uuid::Uuid::new_v4().to_string(),
            host: spec.host.clone(),
            uuid: spec.uuid.clone(),
            guest: guest.unwrap_or_default(),
            destination: spec.destination.clone(),
            mode: spec.mode,
            persistence: spec.persistence,
            storage: spec.storage,
            options: spec.options.clone(),
            user: user.to_string(),
            status: JobStatus::Running,
            progress: Some(app::api::migrations::Progress {
                phase: "starting".into(),
                ..Default::default()
            }),
            error: None,
            started_at: now(),
            ended_at: None,
            downtime_ms: None,
        };
        // One job per guest: checked again under the registry's lock (two clicks at once).
        let copy_disks = serde_json::to_value(&evaluation.copy_disks).unwrap_or_default();
        let running = self
            .0
            .jobs
            .start(job.clone(), &copy_disks, |j| {
                (j.host == spec.host && j.uuid == spec.uuid).then(|| {
                    ApiError::Conflict("another migration of this guest is running".into())
                })
            })
            .await?;
        tracing::info!(id = %job.id, guest = %job.guest, from = %job.host, to = %job.destination, mode = %job.mode, "migration started");
        let jobs = self.0.clone();
        let spec = spec.clone();
        tokio::spawn(jobs.run(
            running,
            spec,
            evaluation.copy_disks,
            source,
            destination_uri,
        ));
        Ok(job.id)
    }

    async fn list(&self, offset: u32, limit: u32) -> Result<Vec<MigrationJob>, ApiError> {
        self.0.jobs.list(offset, limit).await
    }

    async fn get(&self, id: &str) -> Result<MigrationJob, ApiError> {
        self.0
            .jobs
            .get(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("there is no migration {id}")))
    }

    async fn cancel(&self, id: &str) -> Result<MigrationJob, ApiError> {
        let running = self.0.jobs.cancel(id).ok_or_else(|| {
            ApiError::Conflict(format!(
                "migration {id} is not running (it ended, or there is none)"
            ))
        })?;
        let job = running.snapshot();
        let source = self.0.hosts.get(&job.host)?;
        let (host, uuid) = (job.host.clone(), job.uuid.clone());
        source
            .run_mapped(move |conn| migration::abort(&host, conn, &uuid))
            .await?;
        Ok(running.snapshot())
    }

    async fn tune(&self, id: &str, tuning: &Tuning) -> Result<MigrationJob, ApiError> {
        let running = self.0.running_job(id).ok_or_else(|| {
            ApiError::Conflict(format!(
                "migration {id} is not running (it ended, or there is none)"
            ))
        })?;
        let job = running.snapshot();
        if tuning.postcopy == Some(true) && job.options.allow_postcopy != Some(true) {
            return Err(ApiError::Conflict(
                "this migration was started without allowing post-copy, so it cannot switch to it"
                    .into(),
            ));
        }
        let source = self.0.hosts.get(&job.host)?;
        let t = tuning.clone();
        let (host, uuid) = (job.host.clone(), job.uuid.clone());
        source
            .run_mapped(move |conn| {
                if let Some(b) = t.bandwidth_mib_s {
                    migration::set_bandwidth(&host, conn, &uuid, b)?;
                }
                if let Some(ms) = t.max_downtime_ms {
                    migration::set_max_downtime(&host, conn, &uuid, ms)?;
                }
                if t.postcopy == Some(true) {
                    migration::start_postcopy(&host, conn, &uuid)?;
                }
                if t.finish_now == Some(true) {
                    migration::finish_now(&host, conn, &uuid)?;
                }
                Ok(())
            })
            .await?;
        let job = self
            .0
            .jobs
            .update(&running, |j| {
                if let Some(b) = tuning.bandwidth_mib_s {
                    j.options.bandwidth_mib_s = Some(b);
                }
                if let Some(ms) = tuning.max_downtime_ms {
                    j.options.max_downtime_ms = Some(ms);
                }
            })
            .await;
        Ok(job)
    }
}
