//! The `Migrations` port over the job registry: pre-flight, start (one job
//! per guest), history, the running jobs, cancel and tuning of a running
//! migration.

use std::sync::Arc;

use app::{
    api::{
        migrations::{
            JobStatus, MigrationJob, MigrationSpec, Preflight, ProgressMessage, Step, Tuning,
            Verdict, PHASE_POSTCOPY_BROKEN,
        },
        ApiError,
    },
    backend::Migrations,
};
use async_trait::async_trait;

use super::{push_step, MigrationJobs};
use crate::{clock::now, libvirt::migration};

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

    async fn start_because(
        &self,
        user: &str,
        spec: &MigrationSpec,
        why: Option<&str>,
    ) -> Result<String, ApiError> {
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
            timeline: vec![Step {
                at: now(),
                phase: "prepared".into(),
                text: format!(
                    "pre-flight checks passed: {} migration to {} ({} storage) started by {user}{}",
                    spec.mode,
                    spec.destination,
                    spec.storage,
                    why.map(|w| format!(": {w}")).unwrap_or_default()
                ),
            }],
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

    async fn running(&self) -> Vec<ProgressMessage> {
        let mut jobs = self.0.jobs.all_running();
        jobs.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.id.cmp(&b.id)));
        jobs.iter().map(MigrationJob::message).collect()
    }

    async fn cancel(&self, id: &str) -> Result<MigrationJob, ApiError> {
        let running = self.0.jobs.cancel(id).ok_or_else(|| {
            ApiError::Conflict(format!(
                "migration {id} is not running (it ended, or there is none)"
            ))
        })?;
        let job = running.snapshot();
        let source = self.0.hosts.get(&job.host)?;
        // Kept: a virtdeck restarted before the end still knows it was a cancel.
        self.0
            .step(&running, "cancel requested", "cancel requested".into())
            .await;
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
        if tuning.resume == Some(true) {
            let broken =
                job.progress.as_ref().map(|p| p.phase.as_str()) == Some(PHASE_POSTCOPY_BROKEN);
            if !broken {
                return Err(ApiError::Conflict(
                    "there is nothing to resume: only a post-copy migration whose connection broke is resumed (and one attempt at a time)"
                        .into(),
                ));
            }
            self.0
                .step(&running, "resume requested", "resume requested".into())
                .await;
            running.nudge();
            return Ok(running.snapshot());
        }
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
                let mut said = Vec::new();
                if let Some(b) = tuning.bandwidth_mib_s {
                    j.options.bandwidth_mib_s = Some(b);
                    said.push(format!("bandwidth set to {b} MiB/s"));
                }
                if let Some(ms) = tuning.max_downtime_ms {
                    j.options.max_downtime_ms = Some(ms);
                    said.push(format!("maximum downtime set to {ms} ms"));
                }
                if tuning.postcopy == Some(true) {
                    said.push("switched to post-copy".into());
                }
                if tuning.finish_now == Some(true) {
                    said.push("guest suspended to finish the copy".into());
                }
                push_step(j, "tuned", said.join(", "));
            })
            .await;
        Ok(job)
    }
}
