//! Post-copy recovery: a post-copy migration whose connection broke leaves
//! the guest paused on the source and running on the destination without all
//! of its memory. The job stays running ("post-copy broken"), holds both
//! copies, and resumes the migration with libvirt's post-copy recovery
//! (`VIR_MIGRATE_POSTCOPY_RESUME`) as soon as both hosts answer, retried, or
//! at once from the "Resume migration" button (`Tuning::resume`).

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use app::api::migrations::{JobStatus, Progress, PHASE_POSTCOPY_BROKEN};
use tokio::sync::mpsc;

use super::{
    outcome::Located, progress::Tracker, push_step, spawn_sampler, spec_of, Conclusion,
    MigrationJobs, Running,
};
use crate::{libvirt::migration, services::convert::migration_request};

/// How long virtdeck keeps resuming a broken post-copy migration.
const RESUME_FOR: Duration = Duration::from_secs(24 * 3600);
/// The waits between two resume attempts, in seconds (the last repeats).
const RESUME_BACKOFF_S: [u64; 5] = [2, 5, 10, 30, 60];
/// A resume attempt that moves nothing for this long is said to hang.
const RESUME_QUIET: Duration = Duration::from_secs(60);

impl MigrationJobs {
    /// Post-copy broke: the source holds the guest paused and the destination
    /// runs it without all of its memory, so neither copy is started, stopped
    /// or resumed by itself. The migration is resumed with libvirt's post-copy
    /// recovery as soon as both hosts answer, retried with growing waits (at
    /// once when the user asks: `Tuning::resume`), for at most `RESUME_FOR`.
    /// Ends the job.
    pub(super) async fn recover_postcopy(
        &self,
        running: &Arc<Running>,
        c: Conclusion,
        tracker: &mut Tracker,
        mut last: Option<Progress>,
        started: Instant,
    ) {
        let job = running.snapshot();
        let libvirt = c
            .libvirt
            .as_deref()
            .map(|m| format!(" (libvirt: {m})"))
            .unwrap_or_default();
        // Said already by the runner (since the last attempt)?
        let said = job
            .timeline
            .iter()
            .rev()
            .take_while(|s| s.phase != "resuming" && s.phase != "resumed")
            .any(|s| s.phase == PHASE_POSTCOPY_BROKEN);
        let text = if said {
            format!("libvirt gave up the broken connection{libvirt}; virtdeck resumes the migration as soon as both hosts answer")
        } else {
            format!(
                "post-copy broke: the guest is paused on {} and runs on {} without all of its memory, so neither host has all of it; virtdeck starts neither copy and resumes the migration as soon as both hosts answer{libvirt}",
                job.host, job.destination
            )
        };
        self.mark_broken(running, &mut last, Some(text)).await;
        let deadline = Instant::now() + RESUME_FOR;
        let mut attempt = 0usize;
        while Instant::now() < deadline {
            if !(self.answers(&job.host).await && self.answers(&job.destination).await) {
                running.nudged(Duration::from_secs(2)).await;
                continue;
            }
            let (located, leftover) = self.locate(&job).await;
            if located != Located::Split {
                // Resumed by other means, or ended: say what is.
                return self
                    .settle(running, c, (located, leftover), tracker, last, started)
                    .await;
            }
            attempt += 1;
            self.step(
                running,
                "resuming",
                format!(
                    "attempt {attempt}: resuming the migration from {} to {} (post-copy recovery)",
                    job.host, job.destination
                ),
            )
            .await;
            match self.resume_attempt(running, tracker, &mut last).await {
                Ok(()) => {
                    let text = format!(
                        "attempt {attempt} resumed the migration: the rest of the memory reached {}",
                        job.destination
                    );
                    self.step(running, "resumed", text).await;
                    let elapsed = started.elapsed().as_millis() as u64;
                    let (progress, downtime) =
                        self.final_figures(&job, tracker, last, elapsed).await;
                    self.finish(
                        running,
                        JobStatus::Completed,
                        Some(progress),
                        None,
                        downtime,
                    )
                    .await;
                    return;
                }
                Err(message) => {
                    let wait = RESUME_BACKOFF_S[(attempt - 1).min(RESUME_BACKOFF_S.len() - 1)];
                    let text = format!(
                        "attempt {attempt} failed: {message}; the next in {wait} s (Resume migration tries at once)"
                    );
                    self.step(running, "resume failed", text).await;
                    self.mark_broken(running, &mut last, None).await;
                    running.nudged(Duration::from_secs(wait)).await;
                }
            }
        }
        self.settle(running, c, (Located::Split, None), tracker, last, started)
            .await;
    }

    /// Shows the job in the broken post-copy phase (with a timeline line).
    pub(super) async fn mark_broken(
        &self,
        running: &Running,
        last: &mut Option<Progress>,
        text: Option<String>,
    ) {
        let p = last.get_or_insert_with(Progress::default);
        p.phase = PHASE_POSTCOPY_BROKEN.into();
        let p = p.clone();
        self.jobs
            .update(running, |j| {
                if let Some(text) = text {
                    push_step(j, PHASE_POSTCOPY_BROKEN, text);
                }
                j.progress = Some(p);
            })
            .await;
    }

    /// One resume of a broken post-copy migration, its progress sampled;
    /// libvirt's message when it fails. The call cannot be interrupted: one
    /// that moves nothing for `RESUME_QUIET` is said to in the timeline.
    async fn resume_attempt(
        &self,
        running: &Running,
        tracker: &mut Tracker,
        last: &mut Option<Progress>,
    ) -> Result<(), String> {
        let job = running.snapshot();
        let source = self.hosts.get(&job.host).map_err(|e| e.to_string())?;
        let destination_uri = self
            .hosts
            .get(&job.destination)
            .map(|h| h.migration_uri().to_string())
            .map_err(|e| e.to_string())?;
        let request = migration_request(&spec_of(&job));
        let (tx, mut rx) = mpsc::channel(16);
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = spawn_sampler(source.clone(), &job.uuid, stop.clone(), tx);
        let call = {
            let (source, uuid) = (source.clone(), job.uuid.clone());
            tokio::spawn(async move {
                let host = source.name().to_string();
                source
                    .run_dedicated(move |conn| {
                        migration::resume_postcopy(&host, conn, &uuid, &destination_uri, &request)
                    })
                    .await
            })
        };
        tokio::pin!(call);
        let mut moved = (Instant::now(), 0);
        let mut said = false;
        let result = loop {
            tokio::select! {
                result = &mut call => break result,
                Some(sample) = rx.recv() => {
                    // Until QEMU resumes, the source still reads as broken.
                    if !sample.active || sample.postcopy_broken {
                        continue;
                    }
                    if sample.data_processed > moved.1 {
                        moved = (Instant::now(), sample.data_processed);
                    }
                    let p = tracker.update(&sample);
                    *last = Some(p.clone());
                    self.jobs.progress(running, |j| j.progress = Some(p)).await;
                }
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            if !said && moved.0.elapsed() >= RESUME_QUIET {
                said = true;
                let text = format!(
                    "the resume has moved nothing for {} s: the hosts may still not reach each other, or {}'s QEMU is stuck waiting for memory; virtdeck waits for libvirt to answer",
                    RESUME_QUIET.as_secs(),
                    job.destination
                );
                self.step(running, "resuming", text).await;
            }
        };
        stop.store(true, Ordering::Relaxed);
        drop(sampler);
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.message().to_string()),
            Err(join) => Err(format!("the resume task failed: {join}")),
        }
    }
}
