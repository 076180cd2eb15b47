//! The libvirt backend, laid out by libvirt object:
//! - `connection`: one connection per host, opened lazily, reopened after failure,
//!   every blocking call on tokio's blocking pool; dedicated connections for long calls;
//! - `registry`: the configured hosts and what every action shares (find the host,
//!   bound the call, announce the change);
//! - `host`: host facts (versions, CPU, memory);
//! - `domain`: guests (list, summary, lifecycle actions, the disks they use);
//! - `guest`: what a host offers a new guest, creating one, its overview,
//!   usage, edits and delete; `snapshot`: its snapshots; `clone`: copies;
//!   `guests::LibvirtGuests` implements the `Guests` port over them;
//! - `storage_pool`, `storage_volume`: pools and volumes, including streamed transfers;
//! - `migration`: flags, the peer-to-peer migrate call, job statistics, abort and tuning;
//! - `preflight`: facts of both hosts and the checks made from them;
//! - `xml`: libvirt's XML documents, built and parsed per object;
//! - `sys`: the few calls `virt` does not wrap;
//! - `error`: libvirt errors mapped to the API's errors.
//!
//! `LibvirtFleet` implements the app's `Fleet` port (hosts and guests),
//! `storage::LibvirtStorage` its `Storage` port.

mod cache;
mod clone;
mod connection;
pub use connection::{rfc3339, uri_host};
mod domain;
mod error;
mod guest;
pub mod guests;
mod host;
pub mod migration;
pub mod preflight;
mod registry;
mod snapshot;
pub mod storage;
mod storage_pool;
pub mod storage_volume;
mod sys;
pub mod xml;

use std::sync::Arc;

use app::{
    api::{
        guests::{GuestAction, GuestSummary},
        hosts::HostSummary,
        ApiError,
    },
    backend::Fleet,
};
use async_trait::async_trait;

pub use connection::HostConnection;
pub use domain::find as domain_find;
pub use guests::LibvirtGuests;
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
    /// same disks. Refused, saying where it runs (from what the other hosts
    /// last reported: their caches are kept current by events).
    fn refuse_split_brain(&self, host: &str, uuid: &str) -> Result<(), ApiError> {
        for other in self.hosts.all().iter().filter(|h| h.name() != host) {
            let running = other.guests().into_iter().find(|g| {
                g.uuid.eq_ignore_ascii_case(uuid)
                    && !matches!(
                        g.state,
                        app::api::guests::GuestState::Shutoff
                            | app::api::guests::GuestState::Crashed
                    )
            });
            if let Some(g) = running {
                return Err(ApiError::Conflict(format!(
                    "{} is already {} on host {}: starting this copy too would run the guest twice on the same disks. Shut it down there first, or migrate it back.",
                    g.name,
                    g.state.label(),
                    other.name(),
                )));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Fleet for LibvirtFleet {
    async fn hosts(&self) -> Vec<HostSummary> {
        self.hosts.all().iter().map(|h| h.summary()).collect()
    }

    async fn guests(&self) -> Vec<GuestSummary> {
        self.hosts.all().iter().flat_map(|h| h.guests()).collect()
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
                self.refuse_split_brain(host, uuid)?;
            }
        }
        let guest = self
            .hosts
            .act(host, ACTION_TIMEOUT, action, |h| async move {
                domain::act(&h, uuid, action).await
            })
            .await?;
        // Announced now (the libvirt event that follows finds nothing new).
        self.hosts.get(host)?.note_guest(uuid, Some(guest.clone()));
        Ok(guest)
    }
}
