//! Webhook deliveries, as recorded.

use async_trait::async_trait;

use crate::api::{notifications::Delivery, ApiError};

/// What the notifier sent (or tries to send) and how it went.
#[async_trait]
pub trait Notifications: Send + Sync + 'static {
    /// Newest first; only the failed ones if `failed`.
    async fn deliveries(
        &self,
        failed: bool,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Delivery>, ApiError>;
}
