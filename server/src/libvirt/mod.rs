//! The libvirt backend, laid out by libvirt object:
//! - `connection`: one connection per host, opened lazily, reopened after failure,
//!   every blocking call on tokio's blocking pool; dedicated connections for long calls;
//! - `registry`: the configured hosts and what every action shares (find the host,
//!   bound the call, announce the change);
//! - `host`: host facts (versions, CPU, memory);
//! - `domain`: guests (list, summary, lifecycle actions, the disks they use);
//! - `storage_pool`, `storage_volume`: pools and volumes, including streamed transfers;
//! - `migration`: flags, the peer-to-peer migrate call, job statistics, abort and tuning;
//! - `preflight`: facts of both hosts and the checks made from them;
//! - `xml`: libvirt's XML documents, built and parsed per object;
//! - `sys`: the few calls `virt` does not wrap;
//! - `error`: libvirt errors mapped to the API's errors.
//!
//! `LibvirtFleet` implements the app's `Fleet` port (hosts and guests),
//! `storage::LibvirtStorage` its `Storage` port.

mod connection;
mod domain;
mod error;
mod host;
pub mod migration;
pub mod preflight;
mod registry;
pub mod storage;
mod storage_pool;
pub mod storage_volume;
mod sys;
pub mod xml;

use std::sync::Arc;

use app::{
    api::{
        events::ServerEvent,
        guests::{GuestAction, GuestSummary},
        hosts::HostSummary,
        ApiError,
    },
    backend::Fleet,
};
use async_trait::async_trait;

pub use connection::HostConnection;
pub use domain::find as domain_find;
pub use registry::HostRegistry;
pub use storage::LibvirtStorage;

use registry::ACTION_TIMEOUT;

pub struct LibvirtFleet {
    hosts: Arc<HostRegistry>,
}

impl LibvirtFleet {
    pub fn new(hosts: Arc<HostRegistry>) -> Self {
        LibvirtFleet { hosts }
    }
}

impl LibvirtFleet {
    /// A temporary migration leaves a startable definition behind: starting
    /// it while the guest runs on another host would run two copies on the
    /// same disks. Refused, saying where it runs.
    async fn refuse_split_brain(&self, host: &str, uuid: &str) -> Result<(), ApiError> {
        let elsewhere = self
            .hosts
            .each(|h| async move {
                if h.name() == host {
                    return Ok(None);
                }
                domain::find(&h, uuid).await
            })
            .await;
        for (other, found) in elsewhere {
            if let Ok(Some(g)) = found {
                if !matches!(
                    g.state,
                    app::api::guests::GuestState::Shutoff | app::api::guests::GuestState::Crashed
                ) {
                    return Err(ApiError::Conflict(format!(
                        "{} is already {} on host {} (as {}): starting this copy too would run the guest twice on the same disks. Shut it down there first, or migrate it back.",
                        g.name,
                        g.state.label(),
                        other.name(),
                        g.name
                    )));
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Fleet for LibvirtFleet {
    async fn hosts(&self) -> Vec<HostSummary> {
        self.hosts
            .each(|host| async move { host::summary(&host).await })
            .await
            .into_iter()
            .map(|(host, result)| result.unwrap_or_else(|e| host::unreachable(&host, e)))
            .collect()
    }

    async fn guests(&self) -> Vec<GuestSummary> {
        let mut all = Vec::new();
        for (host, result) in self
            .hosts
            .each(|host| async move { domain::list(&host).await })
            .await
        {
            match result {
                Ok(guests) => all.extend(guests),
                Err(e) => tracing::warn!(host = host.name(), "cannot list guests: {e}"),
            }
        }
        all
    }

    async fn guest_action(
        &self,
        host: &str,
        uuid: &str,
        action: GuestAction,
    ) -> Result<GuestSummary, ApiError> {
        if action == GuestAction::Start {
            // Only for a guest this host really has (else: not found, below).
            let target = self.hosts.get(host)?;
            if domain::find(&target, uuid).await?.is_some() {
                self.refuse_split_brain(host, uuid).await?;
            }
        }
        let guest = self
            .hosts
            .act(host, ACTION_TIMEOUT, action, |h| async move {
                domain::act(&h, uuid, action).await
            })
            .await?;
        self.hosts.announce(ServerEvent::GuestChanged {
            guest: guest.clone(),
        });
        Ok(guest)
    }
}
