//! Storage pools and volumes.

use async_trait::async_trait;
use axum::body::Bytes;
use futures::stream::BoxStream;

use crate::api::{
    pools::{PoolAction, PoolSource, PoolSpec, PoolSummary, PoolTypes, ScanSpec},
    size::StorageName,
    volumes::{UploadInto, VolumeOp, VolumeSpec, VolumeSummary},
    ApiError,
};

/// The bytes of a transfer as they come; an error ends it, saying why.
pub type ByteStream = BoxStream<'static, Result<Bytes, String>>;

/// Whose transfer, and which volume.
#[derive(Debug, Clone, Copy)]
pub struct Transfer<'a> {
    pub user: &'a str,
    pub host: &'a str,
    pub pool: &'a StorageName,
    pub volume: &'a StorageName,
}

/// A volume's content on its way out.
pub struct Download {
    /// The volume's name (for the file the browser saves).
    pub name: String,
    /// How many bytes `body` will carry, when known.
    pub length: Option<u64>,
    pub body: ByteStream,
}

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
    /// Writes `length` bytes of `body` into a volume as they arrive (never
    /// held whole), on a connection and a thread of its own. Bounded per
    /// `user` and in all (429), and ended when the client sends nothing for
    /// a while. A new volume that fails half-way is removed again.
    async fn upload(
        &self,
        at: Transfer<'_>,
        into: UploadInto,
        length: u64,
        body: ByteStream,
    ) -> Result<VolumeSummary, ApiError>;
    /// A volume's content as a stream (read on a connection of its own while
    /// the receiver takes it; dropping the body stops the read).
    async fn download(&self, at: Transfer<'_>) -> Result<Download, ApiError>;
}
