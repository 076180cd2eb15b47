//! Webhook deliveries: `GET /api/notifications` (admins).
//!
//! virtdeck POSTs a JSON body to each `[[notify]]` URL of `virtdeck.toml`
//! for the events it names (`evacuation.started`, `evacuation.done`,
//! `evacuation.failed`, `migration.failed`, `host.unreachable`,
//! `host.reachable`), retried with back-off; every delivery is kept here
//! with its attempts and the last error, so a failing receiver is seen.

use leptos::server;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use super::ApiError;

/// One notification to one receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: i64,
    pub url: String,
    pub event: String,
    /// `pending` (attempts go on), `delivered`, or `failed` (gave up).
    pub state: String,
    pub attempts: u32,
    /// The receiver's last HTTP status.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// The latest deliveries, newest first (`failed=true`: only those that failed).
#[server(name = ListDeliveries, prefix = "/api", endpoint = "notifications", input = GetUrl, output = crate::api::JsonText)]
pub async fn list_deliveries(
    #[server(default)] failed: Option<bool>,
    #[server(default)] offset: Option<u32>,
    #[server(default)] limit: Option<u32>,
) -> Result<Vec<Delivery>, ApiError> {
    super::ssr::authorized_as(super::auth::Role::Admin, |ctx| async move {
        let limit = limit.unwrap_or(100).clamp(1, 1000);
        ctx.services
            .notifications
            .deliveries(failed.unwrap_or(false), offset.unwrap_or(0), limit)
            .await
    })
    .await
}
