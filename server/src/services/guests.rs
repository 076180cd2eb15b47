//! `LibvirtGuests`: the app's `Guests` port over the host registry. Runs the
//! blocking work of `guest`, `snapshot` and `clone` off the runtime, records
//! what changed in the host's cache (so `/ws` announces it), and runs the
//! clone jobs (a `Jobs` registry of kind `CloneJob`, kept in the `jobs`
//! table: after a restart they still answer, and one that was running is
//! ended with what became of its partial copies).

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use app::{
    api::{
        events::ServerEvent,
        guest_detail::{
            CloneSpec, DeleteReport, GuestDetail, GuestJob, GuestStats, GuestUpdate, JobState,
            SnapshotAction, SnapshotInfo,
        },
        guest_new::{GuestOptions, NewGuest},
        guests::GuestSummary,
        size::StorageName,
        ApiError,
    },
    backend::Guests,
};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;

use super::jobs::{Job, JobKind, JobTable, Jobs};
use super::registry::{HostRegistry, ACTION_TIMEOUT, LONG_ACTION_TIMEOUT};
use super::{
    convert::{guest_detail, guest_options, guest_summary, new_domain},
    host::Host,
    sharing,
};
use crate::{
    clock::rfc3339,
    libvirt::{clone, domain, guest, snapshot, storage_volume::Blocking},
};

/// Clone jobs, as `GuestJob`s in the `jobs` table.
pub struct CloneJob;

impl JobKind for CloneJob {
    type Snapshot = GuestJob;
    const KIND: &'static str = "clone";

    fn id(job: &GuestJob) -> &str {
        &job.id
    }

    fn state(job: &GuestJob) -> String {
        match job.state {
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
        .into()
    }

    fn started_at(job: &GuestJob) -> &str {
        &job.started_at
    }

    fn event(job: &GuestJob) -> ServerEvent {
        ServerEvent::GuestJob(Box::new(job.clone()))
    }
}

/// What a clone job keeps for recovery: the volumes it began to copy (each
/// noted before its copy starts), which are the clone's own.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CloneNotes {
    /// Pool and volume name.
    started: Vec<(String, String)>,
}

pub struct LibvirtGuests {
    hosts: Arc<HostRegistry>,
    jobs: Arc<Jobs<CloneJob>>,
}

impl LibvirtGuests {
    pub fn new(hosts: Arc<HostRegistry>, pool: SqlitePool) -> Self {
        LibvirtGuests {
            jobs: Arc::new(Jobs::new(JobTable::<CloneJob>::new(pool), hosts.clone())),
            hosts,
        }
    }

    /// Ends the clone jobs that were running when virtdeck stopped (their
    /// copy died with the process): each is marked failed, saying what became
    /// of the volumes it had begun to copy, which are removed if the host
    /// lets them be.
    pub async fn recover(&self) {
        for (stored, notes) in self.jobs.recorded_running().await {
            let notes: CloneNotes = serde_json::from_value(notes).unwrap_or_default();
            let reason = self.remove_leftovers(&stored, &notes).await;
            tracing::warn!(id = %stored.id, clone = %stored.name, "a clone was running when virtdeck stopped: {reason}");
            let job = self.jobs.adopt(stored);
            self.jobs
                .finish(&job, |j| {
                    j.state = JobState::Failed;
                    j.phase = "failed".into();
                    j.error = Some(reason);
                    j.ended_at = Some(rfc3339(SystemTime::now()));
                })
                .await;
        }
    }

    /// Removes what a clone that stopped with virtdeck had copied; answers
    /// the reason its job failed, saying what is left.
    async fn remove_leftovers(&self, job: &GuestJob, notes: &CloneNotes) -> String {
        if notes.started.is_empty() {
            return "virtdeck restarted before the copy began; nothing was left behind".into();
        }
        let listed = notes
            .started
            .iter()
            .map(|(pool, volume)| format!("{volume} in pool {pool}"))
            .collect::<Vec<_>>()
            .join(", ");
        let (name, volumes) = (job.name.clone(), notes.started.clone());
        let outcome = self
            .hosts
            .act(
                &job.host,
                ACTION_TIMEOUT,
                "removing a clone's partial copies",
                |h| async move {
                    let hn = h.name().to_string();
                    h.run_mapped(move |conn| clone::remove_leftovers(&hn, conn, &name, &volumes))
                        .await
                },
            )
            .await;
        match outcome {
            Ok(clone::Leftovers::GuestDefined) => format!(
                "virtdeck restarted while the clone was made, and host {} has a guest named {}: \
                 check it; its copies were kept ({listed})",
                job.host, job.name
            ),
            Ok(clone::Leftovers::Removed { kept }) if kept.is_empty() => format!(
                "virtdeck restarted while the copy ran; the partial copies were removed ({listed})"
            ),
            Ok(clone::Leftovers::Removed { kept }) => format!(
                "virtdeck restarted while the copy ran; these partial copies could not be \
                 removed, delete them on the storage page: {}",
                kept.join(", ")
            ),
            Err(e) => format!(
                "virtdeck restarted while the copy ran, and its partial copies could not be \
                 removed ({e}): check host {}'s pools for {listed}",
                job.host
            ),
        }
    }

    fn volumes_changed(&self, host: &str, pools: impl IntoIterator<Item = String>) {
        let mut pools: Vec<String> = pools.into_iter().collect();
        pools.sort();
        pools.dedup();
        for pool in pools {
            self.hosts.announce(ServerEvent::VolumesChanged {
                host: host.to_string(),
                pool,
            });
        }
    }

    fn detail_of(
        &self,
        host: &str,
        uuid: &str,
    ) -> impl std::future::Future<Output = Result<GuestDetail, ApiError>> + '_ {
        let host = host.to_string();
        let uuid = uuid.to_string();
        async move {
            let h = self.hosts.get(&host)?;
            let since = h.running_since(&uuid).map(rfc3339);
            let detail = self
                .hosts
                .call(
                    &host,
                    ACTION_TIMEOUT,
                    "reading the guest",
                    move |h, conn| guest::detail(h, conn, &uuid),
                )
                .await?;
            let mut detail = guest_detail(&host, detail, since);
            // On shared storage, the guests of other hosts using the same disk.
            for disk in &mut detail.disks {
                let Some(path) = disk.path.as_deref() else {
                    continue;
                };
                if let Some((twins, places)) =
                    sharing::locate(&self.hosts, &host, disk.pool.as_deref(), path)
                {
                    let found = sharing::users_elsewhere(&self.hosts, &twins).await;
                    disk.shared_with.extend(sharing::matching(&found, &places));
                }
            }
            Ok(detail)
        }
    }
}

#[async_trait]
impl Guests for LibvirtGuests {
    async fn options(&self, host: &str) -> Result<GuestOptions, ApiError> {
        let offer = self
            .hosts
            .call(host, ACTION_TIMEOUT, "reading the host", |_, conn| {
                guest::options(conn)
            })
            .await?;
        Ok(guest_options(host, offer))
    }

    async fn create(&self, spec: &NewGuest) -> Result<GuestSummary, ApiError> {
        let new = new_domain(spec);
        let h = self.hosts.get(&spec.host)?;
        h.ensure_open()?;
        let uri = h.uri().to_string();
        // Its own connection: a fully allocated disk can take minutes.
        let created = self
            .hosts
            .call_dedicated(
                &spec.host,
                LONG_ACTION_TIMEOUT,
                "creating the guest",
                move |name, conn| guest::create(name, &uri, conn, &new),
            )
            .await?;
        let summary = guest_summary(&spec.host, created);
        h.note_guest(&summary.uuid, Some(summary.clone()));
        if let Some((pool, _)) = &spec.disk {
            self.volumes_changed(&spec.host, [pool.to_string()]);
        }
        Ok(summary)
    }

    async fn detail(&self, host: &str, uuid: &str) -> Result<GuestDetail, ApiError> {
        self.detail_of(host, uuid).await
    }

    async fn stats(&self, host: &str, uuid: &str) -> Result<GuestStats, ApiError> {
        let uuid = uuid.to_string();
        let stats = self
            .hosts
            .call(host, ACTION_TIMEOUT, "reading the guest", move |h, conn| {
                guest::stats(h, conn, &uuid)
            })
            .await?;
        Ok(GuestStats::from(stats))
    }

    async fn update(
        &self,
        host: &str,
        uuid: &str,
        update: &GuestUpdate,
    ) -> Result<GuestDetail, ApiError> {
        self.hosts.ensure_free(host, uuid)?;
        let (u, id) = (guest::Edit::from(update), uuid.to_string());
        self.hosts
            .call(
                host,
                ACTION_TIMEOUT,
                "changing the guest",
                move |h, conn| guest::update(h, conn, &id, &u),
            )
            .await?;
        self.hosts.get(host)?.refresh_guest(uuid).await;
        self.detail_of(host, uuid).await
    }

    async fn delete(
        &self,
        host: &str,
        uuid: &str,
        delete_volumes: &[String],
    ) -> Result<DeleteReport, ApiError> {
        self.hosts.ensure_free(host, uuid)?;
        // A volume on shared storage goes for every host: none of their
        // guests may use it (this host's are checked with the deletion).
        for path in delete_volumes {
            if let Some((twins, places)) = sharing::locate(&self.hosts, host, None, path) {
                let what = format!("delete volume {path} with the guest");
                sharing::refuse_if_used_elsewhere(
                    &self.hosts,
                    &twins,
                    Some(&places),
                    Blocking::Any,
                    &what,
                )
                .await?;
            }
        }
        let (paths, id) = (delete_volumes.to_vec(), uuid.to_string());
        let report = DeleteReport::from(
            self.hosts
                .call(
                    host,
                    LONG_ACTION_TIMEOUT,
                    "deleting the guest",
                    move |h, conn| guest::delete(h, conn, &id, &paths),
                )
                .await?,
        );
        let h = self.hosts.get(host)?;
        // A transient guest's definition is gone when it stops; a persistent one's now.
        h.refresh_guest(uuid).await;
        if !report.deleted_volumes.is_empty() {
            // Pool names are not known here for paths: pages re-read every pool list.
            let pools: Vec<String> = h.pools().into_iter().map(|p| p.name).collect();
            self.volumes_changed(host, pools);
        }
        Ok(report)
    }

    async fn clone_guest(
        &self,
        user: &str,
        host: &str,
        uuid: &str,
        spec: &CloneSpec,
    ) -> Result<String, ApiError> {
        self.hosts.ensure_free(host, uuid)?;
        let h = self.hosts.get(host)?;
        h.ensure_open()?;
        let (id_, n, p) = (uuid.to_string(), spec.name.clone(), spec.pool.clone());
        let leave_out = spec.leave_out.clone();
        let hn = h.name().to_string();
        let plan = h
            .run_mapped(move |conn| {
                let valid = |v: &str| {
                    StorageName::parse("volume name", v)
                        .map(drop)
                        .map_err(Into::into)
                };
                clone::plan(
                    &hn,
                    conn,
                    &id_,
                    n.as_str(),
                    p.as_ref().map(|p| p.as_str()),
                    &leave_out,
                    valid,
                )
            })
            .await?;
        let job = GuestJob {
            id: uuid::Uuid::new_v4().to_string(),
            kind: "clone".into(),
            host: host.to_string(),
            uuid: uuid.to_string(),
            source_name: plan.source_name.clone(),
            name: plan.name.clone(),
            user: user.to_string(),
            state: JobState::Running,
            phase: "starting".into(),
            bytes_done: 0,
            bytes_total: plan.bytes(),
            percent: 0.0,
            started_at: rfc3339(SystemTime::now()),
            ended_at: None,
            error: None,
            result: None,
        };
        let id = job.id.clone();
        let job = self
            .jobs
            .start(job, &serde_json::Value::Null, |_| None)
            .await?;
        let (jobs, hosts) = (self.jobs.clone(), self.hosts.clone());
        tokio::spawn(async move {
            let outcome = run_clone(&h, &jobs, &hosts, &job, plan).await;
            if let Ok(summary) = &outcome {
                h.note_guest(&summary.uuid, Some(summary.clone()));
            }
            jobs.finish(&job, |j| {
                j.ended_at = Some(rfc3339(SystemTime::now()));
                match outcome {
                    Ok(summary) => {
                        j.state = JobState::Done;
                        j.percent = 100.0;
                        j.bytes_done = j.bytes_total;
                        j.phase = format!("{} is ready", summary.name);
                        j.result = Some(summary);
                    }
                    Err(e) => {
                        j.state = JobState::Failed;
                        j.phase = "failed".into();
                        j.error = Some(e.to_string());
                    }
                }
            })
            .await;
        });
        Ok(id)
    }

    async fn job(&self, id: &str) -> Result<GuestJob, ApiError> {
        self.jobs.get(id).await?.ok_or_else(|| {
            ApiError::NotFound(format!("there is no guest job {:?}", app::api::clip(id)))
        })
    }

    async fn snapshots(&self, host: &str, uuid: &str) -> Result<Vec<SnapshotInfo>, ApiError> {
        let id = uuid.to_string();
        let list = self
            .hosts
            .call(
                host,
                ACTION_TIMEOUT,
                "reading the snapshots",
                move |h, conn| snapshot::list(h, conn, &id),
            )
            .await?;
        Ok(list.into_iter().map(SnapshotInfo::from).collect())
    }

    async fn create_snapshot(
        &self,
        host: &str,
        uuid: &str,
        name: &StorageName,
        description: Option<&str>,
        memory: Option<bool>,
    ) -> Result<SnapshotInfo, ApiError> {
        self.hosts.ensure_free(host, uuid)?;
        let (id, n, d) = (
            uuid.to_string(),
            name.clone(),
            description.map(str::to_string),
        );
        let info = SnapshotInfo::from(
            self.hosts
                .call_dedicated(
                    host,
                    LONG_ACTION_TIMEOUT,
                    "taking the snapshot",
                    move |h, conn| snapshot::create(h, conn, &id, n.as_str(), d.as_deref(), memory),
                )
                .await?,
        );
        self.hosts.get(host)?.refresh_guest(uuid).await;
        Ok(info)
    }

    async fn snapshot_action(
        &self,
        host: &str,
        uuid: &str,
        snapshot_name: &StorageName,
        action: SnapshotAction,
    ) -> Result<Vec<SnapshotInfo>, ApiError> {
        self.hosts.ensure_free(host, uuid)?;
        let (id, n) = (uuid.to_string(), snapshot_name.clone());
        let op = match action {
            SnapshotAction::Revert => snapshot::SnapshotOp::Revert,
            SnapshotAction::Delete => snapshot::SnapshotOp::Delete,
        };
        let list: Vec<SnapshotInfo> = self
            .hosts
            .call_dedicated(
                host,
                LONG_ACTION_TIMEOUT,
                "the snapshot action",
                move |h, conn| snapshot::act(h, conn, &id, n.as_str(), op),
            )
            .await?
            .into_iter()
            .map(SnapshotInfo::from)
            .collect();
        self.hosts.get(host)?.refresh_guest(uuid).await;
        Ok(list)
    }
}

/// Copies every disk (a sampler reports the bytes written) and defines the clone.
async fn run_clone(
    h: &Arc<Host>,
    jobs: &Jobs<CloneJob>,
    hosts: &Arc<HostRegistry>,
    job: &Job<CloneJob>,
    plan: clone::Plan,
) -> Result<GuestSummary, ApiError> {
    let total = plan.disks.len();
    let bytes_total = plan.bytes().max(1) as f64;
    let mut done_bytes = 0u64;
    let mut made: Vec<(String, String)> = Vec::new();
    let mut notes = CloneNotes::default();
    let host = h.name().to_string();
    for (i, disk) in plan.disks.iter().enumerate() {
        // Noted before the copy starts: recovery removes only what is noted.
        notes
            .started
            .push((disk.pool.clone(), disk.new_name.clone()));
        jobs.note(job, &serde_json::to_value(&notes).unwrap_or_default())
            .await;
        jobs.update(job, |j| {
            j.bytes_done = done_bytes;
            j.percent = 100.0 * done_bytes as f64 / bytes_total;
            j.phase = format!("copying disk {} ({} of {total})", disk.target, i + 1);
        })
        .await;
        let (hn, d) = (host.clone(), disk.clone());
        let copy = h.run_dedicated(move |conn| clone::copy_disk(&hn, conn, &d));
        tokio::pin!(copy);
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.tick().await;
        let result = loop {
            tokio::select! {
                r = &mut copy => break r,
                _ = tick.tick() => {
                    let d = disk.clone();
                    if let Ok(Some(now)) = h.run(move |conn| Ok(clone::copied(conn, &d))).await {
                        let bytes = done_bytes + now.min(disk.allocation.max(1));
                        jobs.progress(job, |j| {
                            j.bytes_done = bytes;
                            j.percent = 100.0 * bytes as f64 / bytes_total;
                        })
                        .await;
                    }
                }
            }
        };
        match result {
            Ok(path) => {
                done_bytes += disk.allocation.max(1);
                made.push((disk.target.clone(), path));
            }
            Err(e) => {
                let paths: Vec<String> = made.iter().map(|(_, p)| p.clone()).collect();
                let hn = host.clone();
                let note = h
                    .run_dedicated(move |conn| Ok(clone::remove_copies(&hn, conn, &paths)))
                    .await
                    .unwrap_or_default();
                return Err(e.map_message(|m| format!("{m}{note}")).into());
            }
        }
    }
    jobs.update(job, |j| {
        j.bytes_done = done_bytes;
        j.percent = 100.0 * done_bytes as f64 / bytes_total;
        j.phase = "defining the clone".into();
    })
    .await;
    let hn = host.clone();
    let pools: Vec<String> = plan.disks.iter().map(|d| d.pool.clone()).collect();
    let result = h
        .run_dedicated(move |conn| {
            let password = guest::random_password();
            let xml = clone::definition(&plan, &made, &password)?;
            match conn.define_domain_xml(&xml) {
                Ok(dom) => {
                    let uuid = dom.uuid_string()?;
                    domain::read_one(conn, &uuid)?.ok_or_else(|| {
                        crate::libvirt::connection::Failure::Own(crate::libvirt::Error::Conflict(
                            "the clone vanished at once".into(),
                        ))
                    })
                }
                Err(e) => {
                    let paths: Vec<String> = made.iter().map(|(_, p)| p.clone()).collect();
                    let note = clone::remove_copies(&hn, conn, &paths);
                    Err(crate::libvirt::storage_pool::failed(&hn, e, |m| {
                        format!("cannot define the clone: {m}.{note}")
                    }))
                }
            }
        })
        .await;
    for pool in pools {
        hosts.announce(ServerEvent::VolumesChanged {
            host: host.clone(),
            pool,
        });
    }
    Ok(guest_summary(&host, result?))
}
