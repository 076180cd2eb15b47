//! `LibvirtFleet`: the app's `Fleet` port (hosts and guests' lifecycle) over
//! the host registry.

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

use super::convert::guest_summary;
use crate::libvirt::domain;

use super::registry::{HostRegistry, ACTION_TIMEOUT};

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
        self.hosts.ensure_free(host, uuid)?;
        if action == GuestAction::Start {
            // Only for a guest this host really has (else: not found, below).
            let target = self.hosts.get(host)?;
            target.ensure_open()?;
            if target.find_guest(uuid).await?.is_some() {
                self.refuse_split_brain(host, uuid)?;
            }
        }
        let guest = self
            .hosts
            .act(host, ACTION_TIMEOUT, action, |h| async move {
                let guest = domain::act(&h, uuid, action.into()).await?;
                Ok::<_, ApiError>(guest_summary(h.name(), guest))
            })
            .await?;
        // Announced now (the libvirt event that follows finds nothing new).
        self.hosts.get(host)?.note_guest(uuid, Some(guest.clone()));
        Ok(guest)
    }
}
