//! Hosts: `GET /api/hosts`.

use leptos::server;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use super::ApiError;

/// One managed libvirt host as the API shows it. Fields other than `name`, `uri`,
/// `connected` and `error` are `null` while the host is unreachable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostSummary {
    pub name: String,
    pub uri: String,
    pub connected: bool,
    /// Why the host is unreachable, in libvirt's words.
    pub error: Option<String>,
    pub arch: Option<String>,
    pub cpu_model: Option<String>,
    pub cpus: Option<u32>,
    pub memory_kib: Option<u64>,
    pub libvirt_version: Option<String>,
    pub hypervisor_version: Option<String>,
    pub guests: Option<u32>,
}

/// Every configured host with its connection state. An unreachable host is listed
/// with `connected: false` and libvirt's error; it never fails the whole request.
#[server(prefix = "/api", endpoint = "hosts", input = GetUrl)]
pub async fn list_hosts() -> Result<Vec<HostSummary>, ApiError> {
    super::ssr::authorized(|ctx| async move { Ok(ctx.services.fleet.hosts().await) }).await
}
