//! `LibvirtGuests`: the app's `Guests` port over the host registry. Runs the
//! blocking work of `guest`, `snapshot` and `clone` off the runtime, records
//! what changed in the host's cache (so `/ws` announces it), and keeps the
//! clone jobs.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use app::{
    api::{
        events::ServerEvent,
        guest_detail::{
            DeleteReport, GuestDetail, GuestJob, GuestStats, GuestUpdate, JobState, SnapshotAction,
            SnapshotInfo,
        },
        guest_new::{GuestOptions, NewGuest},
        guests::GuestSummary,
        size::StorageName,
        ApiError,
    },
    backend::Guests,
};
use async_trait::async_trait;

use super::registry::{HostRegistry, ACTION_TIMEOUT, LONG_ACTION_TIMEOUT};
use super::{
    convert::{guest_detail, guest_options, guest_summary, new_domain},
    host::Host,
};
use crate::libvirt::{clone, domain, guest, rfc3339, snapshot};

/// How many ended jobs are remembered.
const KEPT_JOBS: usize = 50;

pub struct LibvirtGuests {
    hosts: Arc<HostRegistry>,
    jobs: Arc<Mutex<VecDeque<GuestJob>>>,
}

impl LibvirtGuests {
    pub fn new(hosts: Arc<HostRegistry>) -> Self {
        LibvirtGuests {
            hosts,
            jobs: Arc::default(),
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
            Ok(guest_detail(&host, detail, since))
        }
    }
}

/// Updates the job in the list and announces it.
fn publish(jobs: &Mutex<VecDeque<GuestJob>>, hosts: &HostRegistry, job: &GuestJob) {
    {
        let mut list = jobs.lock().expect("jobs lock");
        match list.iter_mut().find(|j| j.id == job.id) {
            Some(j) => *j = job.clone(),
            None => {
                list.push_front(job.clone());
                while list.len() > KEPT_JOBS {
                    match list.iter().rposition(|j| j.state != JobState::Running) {
                        Some(i) => {
                            list.remove(i);
                        }
                        None => break,
                    }
                }
            }
        }
    }
    hosts.announce(ServerEvent::GuestJob(Box::new(job.clone())));
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
        name: &StorageName,
        pool: Option<&StorageName>,
    ) -> Result<String, ApiError> {
        let h = self.hosts.get(host)?;
        let (id_, n, p) = (uuid.to_string(), name.clone(), pool.cloned());
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
                    valid,
                )
            })
            .await?;
        let mut job = GuestJob {
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
        publish(&self.jobs, &self.hosts, &job);
        let id = job.id.clone();
        let (jobs, hosts) = (self.jobs.clone(), self.hosts.clone());
        tokio::spawn(async move {
            let outcome = run_clone(&h, &jobs, &hosts, &mut job, plan).await;
            job.ended_at = Some(rfc3339(SystemTime::now()));
            match outcome {
                Ok(summary) => {
                    h.note_guest(&summary.uuid, Some(summary.clone()));
                    job.state = JobState::Done;
                    job.percent = 100.0;
                    job.bytes_done = job.bytes_total;
                    job.phase = format!("{} is ready", summary.name);
                    job.result = Some(summary);
                }
                Err(e) => {
                    job.state = JobState::Failed;
                    job.phase = "failed".into();
                    job.error = Some(e.to_string());
                }
            }
            publish(&jobs, &hosts, &job);
        });
        Ok(id)
    }

    async fn job(&self, id: &str) -> Result<GuestJob, ApiError> {
        self.jobs
            .lock()
            .expect("jobs lock")
            .iter()
            .find(|j| j.id == id)
            .cloned()
            .ok_or_else(|| {
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
    jobs: &Arc<Mutex<VecDeque<GuestJob>>>,
    hosts: &Arc<HostRegistry>,
    job: &mut GuestJob,
    plan: clone::Plan,
) -> Result<GuestSummary, ApiError> {
    let total = plan.disks.len();
    let mut done_bytes = 0u64;
    let mut made: Vec<(String, String)> = Vec::new();
    let host = h.name().to_string();
    for (i, disk) in plan.disks.iter().enumerate() {
        job.phase = format!("copying disk {} ({} of {total})", disk.target, i + 1);
        publish(jobs, hosts, job);
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
                        job.bytes_done = done_bytes + now.min(disk.allocation.max(1));
                        job.percent = 100.0 * job.bytes_done as f64 / job.bytes_total.max(1) as f64;
                        publish(jobs, hosts, job);
                    }
                }
            }
        };
        match result {
            Ok(path) => {
                done_bytes += disk.allocation.max(1);
                job.bytes_done = done_bytes;
                job.percent = 100.0 * done_bytes as f64 / job.bytes_total.max(1) as f64;
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
    job.phase = "defining the clone".into();
    publish(jobs, hosts, job);
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
