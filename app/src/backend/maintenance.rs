//! Maintenance windows: plans, evacuations (jobs) and the hosts' maintenance state.

use async_trait::async_trait;

use crate::api::{
    maintenance::{Evacuation, MaintenancePlan, OnBlocked, PlanOptions},
    ApiError,
};

/// Putting hosts in maintenance and bringing them back. An evacuation runs on
/// the server (it goes on when the browser closes, and after a restart) and
/// announces every change as a `ServerEvent::EvacuationProgress`.
#[async_trait]
pub trait Maintenance: Send + Sync + 'static {
    /// What entering maintenance would do now: each guest's action and
    /// destination (or why it is blocked), each target's memory before and after.
    async fn plan(&self, options: &PlanOptions) -> Result<MaintenancePlan, ApiError>;
    /// Starts (or schedules, `at`) an evacuation and answers its id; 409 when
    /// the plan does not fit, a guest is blocked and `on_blocked` is `stop`,
    /// or the host is already in or entering maintenance.
    async fn enter(
        &self,
        user: &str,
        options: &PlanOptions,
        at: Option<&str>,
        on_blocked: OnBlocked,
    ) -> Result<String, ApiError>;
    /// Leaves maintenance; with `return_guests`, starts the evacuation that
    /// brings back the guests that left (answers its id, or `None`).
    async fn exit(
        &self,
        user: &str,
        host: &str,
        return_guests: bool,
    ) -> Result<Option<String>, ApiError>;
    /// Evacuations newest first (of `host` only, if given).
    async fn list(
        &self,
        host: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Evacuation>, ApiError>;
    async fn get(&self, id: &str) -> Result<Evacuation, ApiError>;
    /// Stops a scheduled or running evacuation.
    async fn cancel(&self, id: &str) -> Result<Evacuation, ApiError>;
}
