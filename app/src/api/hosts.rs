//! Hosts: `GET /api/hosts`.

use leptos::server;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};
use strum::Display;

use super::ApiError;

/// Where virtdeck's connection to a host stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Display)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum HostState {
    Connected,
    /// An attempt to connect is under way (the first, or after a failure).
    Connecting,
    /// The last attempt failed or the connection broke; another follows.
    Unreachable,
}

/// One managed libvirt host as the API shows it. The facts (`arch` …
/// `guests`) are the last ones read: `null` until the host was first reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostSummary {
    pub name: String,
    /// `null` for viewers: a URI may carry user names and key file paths.
    pub uri: Option<String>,
    pub connected: bool,
    /// Why the host is unreachable, in libvirt's words (the last error).
    pub error: Option<String>,
    pub arch: Option<String>,
    pub cpu_model: Option<String>,
    pub cpus: Option<u32>,
    pub memory_kib: Option<u64>,
    pub libvirt_version: Option<String>,
    pub hypervisor_version: Option<String>,
    pub guests: Option<u32>,
    pub state: HostState,
    /// Since when the host is in `state` (RFC 3339 UTC).
    pub state_since: Option<String>,
    /// When the next connection attempt is due, while unreachable.
    pub next_attempt_at: Option<String>,
    /// `null`, or the host's maintenance: scheduled, entering (its guests
    /// are leaving) or on (empty).
    #[serde(default)]
    pub maintenance: Option<super::maintenance::HostMaintenance>,
}

/// A host's name and connection state: what a list of guests and a host
/// picker need (a `HostSummary` is ten times larger, and a page of 100 hosts
/// would carry every fact of every host).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostLink {
    pub name: String,
    pub state: HostState,
    /// Why the host is not connected, in libvirt's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl HostLink {
    pub fn connected(&self) -> bool {
        self.state == HostState::Connected
    }
}

impl From<HostSummary> for HostLink {
    fn from(h: HostSummary) -> Self {
        HostLink {
            name: h.name,
            state: h.state,
            error: h.error.filter(|_| h.state != HostState::Connected),
        }
    }
}

/// Every configured host with its connection state, answered at once from
/// what virtdeck knows: an unreachable or hanging host never holds it up.
#[server(prefix = "/api", endpoint = "hosts", input = GetUrl, output = crate::api::JsonText)]
pub async fn list_hosts() -> Result<Vec<HostSummary>, ApiError> {
    super::ssr::authorized(|ctx| async move { Ok(visible_hosts(&ctx).await) }).await
}

/// The hosts as `ctx`'s user may see them: no URIs (they may carry user
/// names and key file paths) and none in errors, for viewers.
#[cfg(feature = "ssr")]
async fn visible_hosts(ctx: &super::ssr::Ctx) -> Vec<HostSummary> {
    use super::auth::Role;
    let mut hosts = ctx.services.fleet.hosts().await;
    if !ctx.user.can(Role::Operator) {
        for h in &mut hosts {
            h.uri = None;
            h.error = h.error.as_deref().map(super::events::without_uris);
        }
    }
    hosts
}

/// Every configured host's name and connection state (and, while it is not
/// connected, why), in configuration order.
#[server(name = HostStatesFn, prefix = "/api", endpoint = "hosts/states", input = GetUrl, output = crate::api::JsonText)]
pub async fn host_states() -> Result<Vec<HostLink>, ApiError> {
    super::ssr::authorized(|ctx| async move {
        Ok(visible_hosts(&ctx)
            .await
            .into_iter()
            .map(HostLink::from)
            .collect())
    })
    .await
}
