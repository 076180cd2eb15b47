//! Migration jobs: a `Jobs` registry (`services::jobs`) of kind `Migration`,
//! held with the other services (not a global), one task per job. A job runs the blocking migrate call on a libvirt
//! connection of its own with no time limit, and beside it a sampler on a
//! second connection reads libvirt's job statistics every 0.3 s; each
//! sample becomes a `migration_progress` snapshot on the event channel. The
//! history is in the database (`history`, the registry's store: the
//! `migrations` table); jobs still running when virtdeck stopped are found
//! again at start-up (`recover`) and followed to their end.

mod history;
mod locate;
mod outcome;
mod policy;
mod port;
pub mod preflight;
pub mod progress;
mod resume;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use app::api::{
    events::ServerEvent,
    guests::GuestState,
    migrations::{JobStatus, MigrationJob, MigrationSpec, Progress, Step},
};
use sqlx::SqlitePool;
use tokio::sync::mpsc;

use super::convert::migration_request;
use crate::libvirt::{migration, preflight as facts};
use crate::services::{
    jobs::{Job, JobKind, Jobs},
    Host, HostRegistry,
};
use history::History;
use outcome::{Ending, Located};
use policy::{Action, Policy};
pub use port::MigrationService;
use progress::Tracker;

/// How often a running migration is sampled (libvirt answers in well under
/// this, so over three samples a second reach the pages).
pub const SAMPLE_EVERY: Duration = Duration::from_millis(300);
/// How long the pre-flight checks may wait for one host.
const FACTS_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a host may take to answer "are you there?" after a failure.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// A sampler that sends nothing for this long reads nothing: its host went silent.
const SILENCE: Duration = Duration::from_secs(5);
/// Lines kept in a job's timeline.
const TIMELINE_MAX: usize = 200;

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

    /// Both copies: the source's, and the destination's incoming one (after a
    /// broken post-copy the only one that runs).
    fn holds(job: &MigrationJob) -> Vec<(&str, &str, &'static str)> {
        vec![
            (&job.host, &job.uuid, MIGRATING),
            (&job.destination, &job.uuid, MIGRATING),
        ]
    }
}

/// What a change to a guest being migrated is told.
const MIGRATING: &str = "the guest is being migrated: wait for the migration to end, or cancel it";

type Running = Job<Migration>;

pub struct MigrationJobs {
    hosts: Arc<HostRegistry>,
    jobs: Arc<Jobs<Migration>>,
    /// How long a job waits for a host that stopped answering.
    host_wait: Duration,
}

impl MigrationJobs {
    pub fn new(hosts: Arc<HostRegistry>, pool: SqlitePool, host_wait: Duration) -> Arc<Self> {
        Arc::new(MigrationJobs {
            jobs: Arc::new(Jobs::new(History::new(pool), hosts.clone())),
            hosts,
            host_wait,
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
            destination_closed: self
                .hosts
                .get(&spec.destination)
                .ok()
                .and_then(|h| h.ensure_open().err())
                .map(|e| e.message().to_string()),
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

    /// A line in the job's timeline, stored at once and announced.
    async fn step(&self, running: &Running, phase: &str, text: String) {
        tracing::info!(id = %running.snapshot().id, phase, "{text}");
        self.jobs
            .update(running, |j| push_step(j, phase, text))
            .await;
    }

    /// Does the host answer a call now (within `PROBE_TIMEOUT`)?
    async fn answers(&self, host: &str) -> bool {
        let Ok(h) = self.hosts.get(host) else {
            return false;
        };
        h.answers(PROBE_TIMEOUT).await
    }

    /// Waits (at most `limit`) until the host answers.
    async fn wait_answering(&self, host: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.answers(host).await {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Samples the guest's migration on the source until libvirt no longer
    /// reports one. Whenever the source stops answering (its libvirtd
    /// restarts, or it is still reconnecting after virtdeck restarted), waits
    /// for it, at most `host_wait` at a time; answers whether the source
    /// answered at the end.
    async fn follow(
        &self,
        running: &Running,
        tracker: &mut Tracker,
        last: &mut Option<Progress>,
    ) -> bool {
        let job = running.snapshot();
        let mut lost = false;
        loop {
            if !self.wait_answering(&job.host, self.host_wait).await {
                return false;
            }
            let Ok(source) = self.hosts.get(&job.host) else {
                return false;
            };
            let (tx, mut rx) = mpsc::channel(16);
            let stop = Arc::new(AtomicBool::new(false));
            let sampler = spawn_sampler(source, &job.uuid, stop.clone(), tx);
            let ended = loop {
                match tokio::time::timeout(SILENCE, rx.recv()).await {
                    // Post-copy broke: nothing moves until it is resumed.
                    Ok(Some(sample)) if sample.postcopy_broken => break true,
                    Ok(Some(sample)) if sample.active => {
                        let p = tracker.update(&sample);
                        *last = Some(p.clone());
                        self.jobs.progress(running, |j| j.progress = Some(p)).await;
                    }
                    // No migration on the guest (or no guest left on the source): over.
                    Ok(Some(_)) => break true,
                    // The sampler lost its connection, or reads nothing: the host went away.
                    Ok(None) | Err(_) => break false,
                };
            };
            // A sampler stuck in a call ends when the call returns.
            stop.store(true, Ordering::Relaxed);
            drop(sampler);
            if ended {
                return true;
            }
            if !lost {
                lost = true;
                self.step(
                    running,
                    "source lost",
                    format!(
                        "{} stopped answering; waiting for it (up to {} s at a time)",
                        job.host,
                        self.host_wait.as_secs()
                    ),
                )
                .await;
            }
        }
    }

    /// Follows a job that this process did not start to its end, then reads
    /// where the guest ended up.
    async fn follow_adopted(self: Arc<Self>, running: Arc<Running>) {
        let started = Instant::now();
        self.step(
            &running,
            "adopted",
            "virtdeck restarted: following the migration again".into(),
        )
        .await;
        let job = running.snapshot();
        let mut tracker = Tracker::default();
        let mut last = job.progress.clone();
        let answered = self.follow(&running, &mut tracker, &mut last).await;
        self.conclude(
            &running,
            Conclusion {
                libvirt: None,
                stalled: None,
                source_restarted: false,
                adopted: true,
                source_answered: answered,
            },
            &mut tracker,
            last,
            started,
        )
        .await;
    }

    /// Decides how a migration that did not simply complete ended, and ends
    /// the job (a broken post-copy is resumed first: `recover_postcopy`).
    async fn conclude(
        &self,
        running: &Arc<Running>,
        c: Conclusion,
        tracker: &mut Tracker,
        last: Option<Progress>,
        started: Instant,
    ) {
        let job = running.snapshot();
        let (located, leftover) = if c.source_answered {
            self.locate(&job).await
        } else {
            (Located::SourceSilent, None)
        };
        if located == Located::Split {
            return self
                .recover_postcopy(running, c, tracker, last, started)
                .await;
        }
        self.settle(running, c, (located, leftover), tracker, last, started)
            .await;
    }

    /// Ends a job that did not simply complete, from where the guest is.
    async fn settle(
        &self,
        running: &Arc<Running>,
        c: Conclusion,
        (located, leftover): (Located, Option<GuestState>),
        tracker: &Tracker,
        last: Option<Progress>,
        started: Instant,
    ) {
        let job = running.snapshot();
        let destination_answers = self.answers(&job.destination).await;
        let cancelled = running.cancel_requested()
            || job.timeline.iter().any(|s| s.phase == "cancel requested");
        let during = outcome::during(last.as_ref().map(|p| p.phase.as_str()));
        let (status, mut error) = outcome::judge(&Ending {
            source: &job.host,
            destination: &job.destination,
            libvirt: c.libvirt.as_deref(),
            during,
            located: located.clone(),
            cancelled,
            stalled: c.stalled,
            destination_answers,
            source_restarted: c.source_restarted,
            adopted: c.adopted,
            wait_s: self.host_wait.as_secs(),
        });
        if let Some(state) = leftover {
            let note = format!(
                " {} still has a copy of the guest ({}); virtdeck did not start it: remove it there once you have checked the guest on {}.",
                job.destination,
                state.label(),
                job.host
            );
            error = Some(error.unwrap_or_default() + &note);
        }
        let (progress, downtime) = if status == JobStatus::Completed {
            let elapsed = started.elapsed().as_millis() as u64;
            let (p, d) = self.final_figures(&job, tracker, last, elapsed).await;
            (Some(p), d)
        } else {
            (last, None)
        };
        let ended = self
            .finish(running, status, progress, error, downtime)
            .await;
        if !destination_answers && located != Located::Destination {
            self.check_destination_later(&ended);
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
        last: Option<Progress>,
        elapsed_ms: u64,
    ) -> (Progress, Option<u64>) {
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
        progress: Option<Progress>,
        error: Option<String>,
        downtime_ms: Option<u64>,
    ) -> MigrationJob {
        let job = self
            .jobs
            .finish(running, |j| {
                let text = match (status, &error, downtime_ms) {
                    (JobStatus::Completed, None, Some(d)) => {
                        format!("switched over with {d} ms of downtime")
                    }
                    (_, Some(e), _) => e.clone(),
                    _ => status.to_string(),
                };
                let phase = match status {
                    JobStatus::Completed => "done",
                    JobStatus::Cancelled => "cancelled",
                    JobStatus::Failed => "failed",
                    _ => "unknown",
                };
                push_step(j, phase, text);
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
        job
    }

    /// Does what the convergence policy decided.
    async fn apply(&self, running: &Running, source: &Host, policy: &mut Policy, action: &Action) {
        let job = running.snapshot();
        let (host, uuid) = (job.host.clone(), job.uuid.clone());
        let result = match *action {
            Action::SetDowntime(ms) => {
                // The user may have set a larger one meanwhile: never lowered.
                if let Some(current) = job.options.max_downtime_ms.filter(|c| *c >= ms) {
                    policy.downtime_set(current);
                    return;
                }
                let r = source
                    .run_mapped(move |conn| migration::set_max_downtime(&host, conn, &uuid, ms))
                    .await;
                if r.is_ok() {
                    self.jobs
                        .update(running, |j| j.options.max_downtime_ms = Some(ms))
                        .await;
                }
                r
            }
            Action::StartPostcopy => {
                source
                    .run_mapped(move |conn| migration::start_postcopy(&host, conn, &uuid))
                    .await
            }
            Action::Abort => {
                source
                    .run_mapped(move |conn| migration::abort(&host, conn, &uuid))
                    .await
            }
        };
        if let Err(e) = result {
            self.step(
                running,
                "tuned",
                format!("the policy's step failed: {}", e.message()),
            )
            .await;
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
        let stall = Duration::from_secs(
            spec.options
                .stall_timeout_s
                .unwrap_or(app::api::migrations::DEFAULT_STALL_TIMEOUT_S),
        );
        let mut policy = Policy::new(
            spec.options.convergence,
            spec.options.max_downtime_ms,
            stall,
            started,
        );
        let mut request = migration_request(&spec);
        if let Some(ms) = policy.initial_downtime() {
            request.max_downtime_ms = Some(ms);
            self.jobs
                .update(&running, |j| {
                    j.options.max_downtime_ms = Some(ms);
                    push_step(
                        j,
                        "tuned",
                        format!("maximum downtime set to {ms} ms (minimal downtime policy)"),
                    );
                })
                .await;
        }
        let (tx, mut rx) = mpsc::channel(16);
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = spawn_sampler(source.clone(), &spec.uuid, stop.clone(), tx);
        let migrate = {
            let source = source.clone();
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
        let mut stalled = None;
        let mut broken = false;
        tokio::pin!(migrate);
        let result = loop {
            tokio::select! {
                result = &mut migrate => break result,
                Some(sample) = rx.recv() => {
                    if !sample.active {
                        continue;
                    }
                    if sample.postcopy_broken && !broken {
                        // Said at once; the resume waits for the call to return.
                        broken = true;
                        let text = format!(
                            "post-copy broke: the guest is paused on {} and runs on {} without all of its memory, so neither host has all of it; virtdeck starts neither copy and resumes the migration once libvirt has given up the broken connection",
                            spec.host, spec.destination
                        );
                        self.mark_broken(&running, &mut last, Some(text)).await;
                    }
                    let p = tracker.update(&sample);
                    last = Some(p.clone());
                    let (notes, actions) = policy.observe(&sample, Instant::now());
                    if notes.is_empty() {
                        self.jobs.progress(&running, |j| j.progress = Some(p)).await;
                    } else {
                        self.jobs
                            .update(&running, |j| {
                                j.progress = Some(p);
                                for (phase, text) in notes {
                                    push_step(j, phase, text);
                                }
                            })
                            .await;
                    }
                    for action in &actions {
                        if *action == Action::Abort {
                            stalled = Some(policy.stall_reason(Some(&sample)));
                        }
                        self.apply(&running, &source, &mut policy, action).await;
                    }
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
                let message = e.message().to_string();
                // The call's own connection to the source broke? Then libvirt
                // there decides (cancel, or finish a copy that was done):
                // wait for it and follow what it does.
                let mut source_restarted = false;
                let mut source_answered = true;
                if !self.answers(&job.host).await {
                    source_restarted = true;
                    self.step(
                        &running,
                        "source lost",
                        format!(
                            "{} stopped answering during the migration ({message}); waiting for it (up to {} s)",
                            job.host,
                            self.host_wait.as_secs()
                        ),
                    )
                    .await;
                    source_answered = self.follow(&running, &mut tracker, &mut last).await;
                    if source_answered {
                        self.step(
                            &running,
                            "source back",
                            format!("{} answers again", job.host),
                        )
                        .await;
                    }
                }
                self.conclude(
                    &running,
                    Conclusion {
                        libvirt: Some(message),
                        stalled,
                        source_restarted,
                        adopted: false,
                        source_answered,
                    },
                    &mut tracker,
                    last,
                    started,
                )
                .await;
            }
        }
    }

    fn running_job(&self, id: &str) -> Option<Arc<Running>> {
        self.jobs.running(id)
    }
}

/// What the runner knows when it hands a failed migration to `conclude`.
struct Conclusion {
    libvirt: Option<String>,
    stalled: Option<String>,
    source_restarted: bool,
    adopted: bool,
    source_answered: bool,
}

/// What a job was asked to do, for a resume.
fn spec_of(job: &MigrationJob) -> MigrationSpec {
    MigrationSpec {
        host: job.host.clone(),
        uuid: job.uuid.clone(),
        destination: job.destination.clone(),
        mode: job.mode,
        persistence: job.persistence,
        storage: job.storage,
        options: job.options.clone(),
    }
}

/// Appends a timeline line (at most `TIMELINE_MAX`: the first ones and the end are kept).
fn push_step(job: &mut MigrationJob, phase: &str, text: String) {
    if job.timeline.len() >= TIMELINE_MAX {
        job.timeline.remove(TIMELINE_MAX / 2);
    }
    job.timeline.push(Step {
        at: now(),
        phase: phase.to_string(),
        text,
    });
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
