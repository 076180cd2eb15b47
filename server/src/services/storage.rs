//! `LibvirtStorage`: the app's `Storage` port over every configured host.
//! Each method finds the host, runs the blocking work of `storage_pool` or
//! `storage_volume` off the runtime with a bound, and announces the change.

use std::sync::Arc;

use app::{
    api::{
        events::ServerEvent,
        pools::{PoolAction, PoolSource, PoolSpec, PoolSummary, PoolTypes, ScanSpec},
        size::{human_bytes, StorageName},
        volumes::{UploadInto, VolumeOp, VolumeSpec, VolumeSummary},
        ApiError,
    },
    backend::{ByteStream, Download, Storage, Transfer},
};
use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{
    convert::{new_pool, pool_source, pool_summary, pool_types, volume_summary},
    registry::{HostRegistry, ACTION_TIMEOUT, LONG_ACTION_TIMEOUT},
    roots::{check_target, StorageRoots},
    sharing,
    transfers::Transfers,
};
use crate::libvirt::{
    connection::{uri_host, Failure},
    pool_users::places_of,
    storage_pool,
    storage_volume::{self, Blocking, NewVolume, VolOp},
    xml::pool::Source,
    Connect, Error,
};

/// virtdeck only grows volumes: shrinking cuts off the guest's data. (Where
/// libvirt cannot resize at all, its own refusal comes first.)
fn refuse_shrinking(
    host: &str,
    conn: &Connect,
    pool: &str,
    name: &str,
    capacity: u64,
) -> Result<(), Failure> {
    let found = storage_volume::resolve(host, conn, pool, name)?;
    let current = found.volume.capacity;
    if storage_volume::volumes_manageable(&found.pool_kind) && capacity <= current {
        return Err(Failure::Own(Error::Invalid(format!(
            "volume {name} is {} already; virtdeck only grows volumes (shrinking cuts off the \
             guest's data): give a capacity larger than that",
            human_bytes(current)
        ))));
    }
    Ok(())
}

pub struct LibvirtStorage {
    hosts: Arc<HostRegistry>,
    roots: StorageRoots,
    transfers: Arc<Transfers>,
}

fn op_verb(op: &VolOp) -> &'static str {
    match op {
        VolOp::Delete => "delete",
        VolOp::Resize(_) => "resize",
        VolOp::Wipe => "wipe",
        VolOp::Clone(_) => "clone",
    }
}

/// What a volume action may not do to a volume others use.
fn blocking_of(op: &VolOp) -> Blocking {
    match op {
        VolOp::Delete | VolOp::Wipe => Blocking::Any,
        VolOp::Resize(_) | VolOp::Clone(_) => Blocking::Running,
    }
}

impl LibvirtStorage {
    pub fn new(hosts: Arc<HostRegistry>, roots: StorageRoots) -> Self {
        LibvirtStorage {
            hosts,
            roots,
            transfers: Transfers::new(super::transfers::DEFAULT_IDLE),
        }
    }

    /// Transfers wait at most `idle` for a client that sends or reads nothing.
    pub fn with_transfer_idle(mut self, idle: std::time::Duration) -> Self {
        self.transfers = Transfers::new(idle);
        self
    }

    /// Announces a pool's new summary (read again: sizes change with volumes).
    async fn pool_changed(&self, host: &str, pool: &StorageName) {
        let name = pool.to_string();
        let summary = self
            .hosts
            .call(host, ACTION_TIMEOUT, "reading the pool", move |h, conn| {
                storage_pool::summary(&storage_pool::find(h, conn, &name)?)
            })
            .await;
        match summary {
            Ok(read) => self.note_pool(host, pool.as_str(), Some(pool_summary(host, read))),
            Err(e) => tracing::warn!(host, "cannot read pool {pool} after a change: {e}"),
        }
    }

    /// On a shared pool, refuses (409) to `what` volume `volume` while guests
    /// of the other hosts that have the pool use it as `blocking` says.
    async fn refuse_if_shared_users(
        &self,
        host: &str,
        pool: &StorageName,
        volume: &StorageName,
        blocking: Blocking,
        what: &str,
    ) -> Result<(), ApiError> {
        let (ours, twins) = sharing::twins(&self.hosts, host, pool.as_str());
        if twins.is_empty() {
            return Ok(());
        }
        let (p, v) = (pool.clone(), volume.clone());
        let found = self
            .hosts
            .call(
                host,
                ACTION_TIMEOUT,
                "reading the volume",
                move |h, conn| storage_volume::resolve(h, conn, p.as_str(), v.as_str()),
            )
            .await?;
        let target = ours.and_then(|p| p.target_path);
        let places = places_of(volume.as_str(), &found.volume.path, target.as_deref());
        let what = format!("{what} volume {volume} of pool {pool} on host {host}");
        sharing::refuse_if_used_elsewhere(&self.hosts, &twins, Some(&places), blocking, &what).await
    }

    /// Records a pool in the host's cache (announced there if it changed).
    fn note_pool(&self, host: &str, name: &str, pool: Option<PoolSummary>) {
        if let Ok(h) = self.hosts.get(host) {
            h.note_pool(name, pool);
        }
    }

    fn volumes_changed(&self, host: &str, pool: &StorageName) {
        self.hosts.announce(ServerEvent::VolumesChanged {
            host: host.to_string(),
            pool: pool.to_string(),
        });
    }
}

#[async_trait]
impl Storage for LibvirtStorage {
    async fn pools(&self) -> Vec<PoolSummary> {
        // From each host's cache, kept current by pool events.
        self.hosts.all().iter().flat_map(|h| h.pools()).collect()
    }

    async fn pool_types(&self, host: &str) -> Result<PoolTypes, ApiError> {
        let caps = self
            .hosts
            .call(host, ACTION_TIMEOUT, "reading the pool types", |_, conn| {
                storage_pool::capabilities(conn)
            })
            .await?;
        Ok(pool_types(host, caps))
    }

    async fn scan(&self, host: &str, spec: &ScanSpec) -> Result<Vec<PoolSource>, ApiError> {
        let kind = spec.pool_type.to_string();
        let hint = Source {
            source_host: spec.source_host.clone(),
            source_port: spec.source_port,
            initiator_iqn: spec.initiator_iqn.clone(),
            ..Default::default()
        };
        let found = self
            .hosts
            .call(host, ACTION_TIMEOUT, "the scan", move |h, conn| {
                storage_pool::scan(h, conn, &kind, &hint)
            })
            .await?;
        Ok(found.into_iter().map(pool_source).collect())
    }

    async fn create_pool(&self, host: &str, spec: &PoolSpec) -> Result<PoolSummary, ApiError> {
        // Where it may live, checked against what the host has now.
        let existing: Vec<PoolSummary> = self
            .hosts
            .call(host, ACTION_TIMEOUT, "reading the pools", |h, conn| {
                storage_pool::list(h, conn)
            })
            .await?
            .into_iter()
            .map(|p| pool_summary(host, p))
            .collect();
        let local = uri_host(self.hosts.get(host)?.uri()).is_empty();
        check_target(
            host,
            spec.pool_type,
            spec.target_path.as_deref(),
            self.roots.of(host),
            &existing,
            local,
        )?;
        let (name, keep) = (spec.name.to_string(), spec.keep_on_failure);
        let spec = new_pool(spec);
        // Building can format a device: allow it the long bound.
        let created = self
            .hosts
            .call(
                host,
                LONG_ACTION_TIMEOUT,
                "creating the pool",
                move |h, conn| storage_pool::create(h, conn, &spec),
            )
            .await;
        match created {
            Ok(pool) => {
                let pool = pool_summary(host, pool);
                self.note_pool(host, &pool.name, Some(pool.clone()));
                Ok(pool)
            }
            Err(e) => {
                // Rolled back: whatever the host's events said meanwhile, no pool.
                if !keep {
                    self.note_pool(host, &name, None);
                }
                Err(e)
            }
        }
    }

    async fn pool_action(
        &self,
        host: &str,
        pool: &StorageName,
        action: PoolAction,
        delete_storage: bool,
    ) -> Result<Option<PoolSummary>, ApiError> {
        if action == PoolAction::Delete && delete_storage {
            // Every volume goes: no guest of any host sharing it may use one.
            let (_, twins) = sharing::twins(&self.hosts, host, pool.as_str());
            let what = format!("delete pool {pool} on host {host} with its storage");
            sharing::refuse_if_used_elsewhere(&self.hosts, &twins, None, Blocking::Any, &what)
                .await?;
        }
        let name = pool.clone();
        let limit = if delete_storage {
            LONG_ACTION_TIMEOUT
        } else {
            ACTION_TIMEOUT
        };
        let what = format!("{action} of pool {pool}");
        let result = self
            .hosts
            .call(host, limit, what, move |h, conn| {
                storage_pool::act(h, conn, name.as_str(), action.into(), delete_storage)
            })
            .await?
            .map(|p| pool_summary(host, p));
        self.note_pool(host, pool.as_str(), result.clone());
        if matches!(
            action,
            PoolAction::Start | PoolAction::Refresh | PoolAction::Stop
        ) {
            self.volumes_changed(host, pool);
        }
        Ok(result)
    }

    async fn volumes(
        &self,
        host: &str,
        pool: &StorageName,
    ) -> Result<Vec<VolumeSummary>, ApiError> {
        let name = pool.clone();
        let volumes = self
            .hosts
            .call(
                host,
                ACTION_TIMEOUT,
                "listing the volumes",
                move |h, conn| storage_volume::list(h, conn, name.as_str()),
            )
            .await?;
        let mut volumes: Vec<VolumeSummary> = volumes
            .into_iter()
            .map(|v| volume_summary(host, pool.as_str(), v))
            .collect();
        // On shared storage, the guests of the other hosts that use each volume.
        let (ours, twins) = sharing::twins(&self.hosts, host, pool.as_str());
        if !twins.is_empty() {
            let found = sharing::users_elsewhere(&self.hosts, &twins).await;
            let target = ours.and_then(|p| p.target_path);
            for v in &mut volumes {
                let places = places_of(&v.name, &v.path, target.as_deref());
                v.used_by.extend(sharing::matching(&found, &places));
            }
        }
        Ok(volumes)
    }

    async fn create_volume(
        &self,
        host: &str,
        pool: &StorageName,
        spec: &VolumeSpec,
    ) -> Result<VolumeSummary, ApiError> {
        let (p, spec) = (pool.clone(), NewVolume::from(spec));
        // Full allocation writes the whole volume.
        let volume = self
            .hosts
            .call_dedicated(
                host,
                LONG_ACTION_TIMEOUT,
                "creating the volume",
                move |h, conn| storage_volume::create(h, conn, p.as_str(), &spec),
            )
            .await?;
        self.volumes_changed(host, pool);
        self.pool_changed(host, pool).await;
        Ok(volume_summary(host, pool.as_str(), volume))
    }

    async fn volume_action(
        &self,
        host: &str,
        pool: &StorageName,
        volume: &StorageName,
        op: &VolumeOp,
    ) -> Result<Option<VolumeSummary>, ApiError> {
        let what = format!("{} of volume {volume}", op.action());
        let (p, v, op) = (pool.clone(), volume.clone(), VolOp::from(op));
        self.refuse_if_shared_users(host, pool, volume, blocking_of(&op), op_verb(&op))
            .await?;
        let result = self
            .hosts
            .call_dedicated(host, LONG_ACTION_TIMEOUT, what, move |h, conn| {
                if let VolOp::Resize(capacity) = op {
                    refuse_shrinking(h, conn, p.as_str(), v.as_str(), capacity)?;
                }
                storage_volume::act(h, conn, p.as_str(), v.as_str(), &op)
            })
            .await?;
        self.volumes_changed(host, pool);
        self.pool_changed(host, pool).await;
        Ok(result.map(|v| volume_summary(host, pool.as_str(), v)))
    }

    async fn upload(
        &self,
        at: Transfer<'_>,
        into: UploadInto,
        length: u64,
        mut body: ByteStream,
    ) -> Result<VolumeSummary, ApiError> {
        let (user, host, pool, volume) = (at.user, at.host, at.pool, at.volume);
        let h = self.hosts.get(host)?;
        let _slot = self.transfers.begin(user)?;
        if into == UploadInto::Overwrite {
            self.refuse_if_shared_users(host, pool, volume, Blocking::Any, "overwrite")
                .await?;
        }
        let into = match into {
            UploadInto::New(format) => {
                storage_volume::UploadInto::New(format.map(|f| f.to_string()))
            }
            UploadInto::Overwrite => storage_volume::UploadInto::Existing,
        };
        // The body is read as the volume is written: at most a few chunks in memory.
        let (tx, rx) = mpsc::channel(8);
        let idle = self.transfers.idle;
        let reader = tokio::spawn(async move {
            loop {
                let item = match tokio::time::timeout(idle, body.next()).await {
                    Ok(Some(item)) => item,
                    Ok(None) => return,
                    // A client that stopped sending: the upload ends.
                    Err(_) => Err(format!("the client sent nothing for {} s", idle.as_secs())),
                };
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        let (name, p, v) = (h.name().to_string(), pool.clone(), volume.clone());
        let result = h
            .run_dedicated(move |conn| {
                storage_volume::upload(&name, conn, p.as_str(), v.as_str(), into, length, rx)
            })
            .await;
        reader.abort();
        self.volumes_changed(h.name(), pool);
        self.pool_changed(h.name(), pool).await;
        Ok(volume_summary(h.name(), pool.as_str(), result?))
    }

    async fn download(&self, at: Transfer<'_>) -> Result<Download, ApiError> {
        let (user, host, pool, volume) = (at.user, at.host, at.pool, at.volume);
        let slot = self.transfers.begin(user)?;
        let (p, v) = (pool.clone(), volume.clone());
        let info = self
            .hosts
            .call(
                host,
                ACTION_TIMEOUT,
                "reading the volume",
                move |h, conn| storage_volume::download_info(h, conn, p.as_str(), v.as_str()),
            )
            .await?;
        let h = self.hosts.get(host)?;
        let (tx, rx) = mpsc::channel(8);
        let (name, p, v) = (h.name().to_string(), pool.clone(), volume.clone());
        let idle = self.transfers.idle;
        tokio::spawn(async move {
            // Held until the read ends.
            let _slot = slot;
            let read = h
                .run_dedicated(move |conn| {
                    storage_volume::download(&name, conn, p.as_str(), v.as_str(), tx, idle)
                })
                .await;
            if let Err(e) = read {
                tracing::warn!(host = h.name(), "download ended early: {e}");
            }
        });
        Ok(Download {
            name: info.name,
            length: info.length,
            body: ReceiverStream::new(rx).boxed(),
        })
    }
}
