//! Storage pools and volumes.

use async_trait::async_trait;

use crate::api::{
    pools::{PoolAction, PoolSource, PoolSpec, PoolSummary, PoolTypes, ScanSpec},
    size::StorageName,
    volumes::{VolumeOp, VolumeSpec, VolumeSummary},
    ApiError,
};

/// Storage pools and their volumes on the managed hosts. Every change is
/// announced as a `ServerEvent` (pool changed or removed, volumes changed).
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Every pool on every reachable host, sorted by host and name.
    async fn pools(&self) -> Vec<PoolSummary>;
    /// The pool types `host` supports (its pool capabilities, or the full list).
    async fn pool_types(&self, host: &str) -> Result<PoolTypes, ApiError>;
    /// The sources of a pool type that `host` can see (NFS exports, iSCSI targets…).
    async fn scan(&self, host: &str, spec: &ScanSpec) -> Result<Vec<PoolSource>, ApiError>;
    /// Defines, builds where needed, and starts a pool. On failure nothing is
    /// left defined unless `spec.keep_on_failure`.
    async fn create_pool(&self, host: &str, spec: &PoolSpec) -> Result<PoolSummary, ApiError>;
    /// Runs a pool action; the pool's new summary, `None` once deleted.
    async fn pool_action(
        &self,
        host: &str,
        pool: &StorageName,
        action: PoolAction,
        delete_storage: bool,
    ) -> Result<Option<PoolSummary>, ApiError>;
    /// Every volume of a pool, sorted by name, with the guests that use it.
    async fn volumes(&self, host: &str, pool: &StorageName)
        -> Result<Vec<VolumeSummary>, ApiError>;
    async fn create_volume(
        &self,
        host: &str,
        pool: &StorageName,
        spec: &VolumeSpec,
    ) -> Result<VolumeSummary, ApiError>;
    /// Runs a volume action; the volume's (or clone's) summary, `None` once deleted.
    async fn volume_action(
        &self,
        host: &str,
        pool: &StorageName,
        volume: &StorageName,
        op: &VolumeOp,
    ) -> Result<Option<VolumeSummary>, ApiError>;
}
