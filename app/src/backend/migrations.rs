//! Migration jobs.

use async_trait::async_trait;

use crate::api::{
    migrations::{MigrationJob, MigrationSpec, Preflight, ProgressMessage, Tuning},
    ApiError,
};

/// Migration jobs: pre-flight checks, starting, following and steering them.
/// A job runs on the server (it goes on when the browser closes) and announces
/// each progress sample as a `ServerEvent::MigrationProgress`.
#[async_trait]
pub trait Migrations: Send + Sync + 'static {
    /// Every check, with its verdict, explanation and fix.
    async fn preflight(&self, spec: &MigrationSpec) -> Preflight;
    /// Starts a job and answers its id; refused (409) when a check blocks it.
    async fn start(&self, user: &str, spec: &MigrationSpec) -> Result<String, ApiError> {
        self.start_because(user, spec, None).await
    }
    /// `start`, with why it was started (the balance advisor's reason): the
    /// first step of the job's timeline says it, so the history shows it.
    async fn start_because(
        &self,
        user: &str,
        spec: &MigrationSpec,
        why: Option<&str>,
    ) -> Result<String, ApiError>;
    /// Jobs, newest first, history included.
    async fn list(&self, offset: u32, limit: u32) -> Result<Vec<MigrationJob>, ApiError>;
    async fn get(&self, id: &str) -> Result<MigrationJob, ApiError>;
    /// The jobs running now, oldest first, each as its latest `/ws`
    /// progress message: what a guest list shows on its rows, without the
    /// history (which grows with every migration ever made).
    async fn running(&self) -> Vec<ProgressMessage>;
    /// Stops a running job; the guest stays on the source.
    async fn cancel(&self, id: &str) -> Result<MigrationJob, ApiError>;
    async fn tune(&self, id: &str, tuning: &Tuning) -> Result<MigrationJob, ApiError>;
}
