//! `LibvirtFleet`: the app's `Fleet` port (hosts and guests' lifecycle) over
//! the host registry.

use std::sync::Arc;

use app::{
    api::{
        guests::{GuestAction, GuestCounts, GuestQuery, GuestState, GuestSummary},
        hosts::HostSummary,
        ApiError,
    },
    backend::Fleet,
};
use async_trait::async_trait;

use super::cache::SortedGuests;
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
    /// Each host's (of `only`, if given) sorted guests as they are now,
    /// shared rather than copied, in configuration order: (name, stale, guests).
    fn sorted(&self, only: Option<&str>) -> Vec<(&str, bool, Arc<SortedGuests>)> {
        self.hosts
            .all()
            .iter()
            .filter(|h| only.is_none_or(|name| h.name() == name))
            .map(|h| {
                let (stale, sorted) = h.sorted_guests();
                (h.name(), stale, sorted)
            })
            .collect()
    }

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

    async fn guest_page(&self, query: &GuestQuery) -> Result<Vec<GuestSummary>, ApiError> {
        let filter = query.filter()?;
        let (mut skip, limit) = query.window();
        let mut page = Vec::new();
        for (_, stale, sorted) in self.sorted(filter.host) {
            let want = limit - page.len();
            if want == 0 {
                break;
            }
            let copy = |g: &GuestSummary| GuestSummary { stale, ..g.clone() };
            if filter.needle.is_empty() {
                // Whole hosts are skipped by their counts.
                let selected = filter
                    .state
                    .map_or(sorted.guests.len(), |s| sorted.in_state(s));
                if skip >= selected {
                    skip -= selected;
                    continue;
                }
                if filter.state.is_none() {
                    page.extend(sorted.guests[skip..].iter().take(want).map(copy));
                    skip = 0;
                    continue;
                }
            }
            let selected = sorted
                .guests
                .iter()
                .zip(&sorted.lower_names)
                .filter(|(g, lower)| filter.admits(g, lower));
            for (g, _) in selected {
                if skip > 0 {
                    skip -= 1;
                } else if page.len() == limit {
                    break;
                } else {
                    page.push(copy(g));
                }
            }
        }
        Ok(page)
    }

    async fn guest_counts(&self, query: &GuestQuery) -> Result<GuestCounts, ApiError> {
        let filter = query.filter()?;
        let mut counts = GuestCounts::default();
        let mut by_state = [0usize; GuestState::ALL.len()];
        for (host, _, sorted) in self.sorted(None) {
            let n = sorted.guests.len();
            if n == 0 {
                continue;
            }
            counts.total += n;
            counts.by_host.insert(host.to_string(), n);
            for (i, state) in GuestState::ALL.into_iter().enumerate() {
                by_state[i] += sorted.in_state(state);
            }
            if filter.host.is_some_and(|h| h != host) {
                continue;
            }
            counts.matching += match (filter.state, filter.needle.is_empty()) {
                (None, true) => n,
                (Some(state), true) => sorted.in_state(state),
                _ => sorted
                    .guests
                    .iter()
                    .zip(&sorted.lower_names)
                    .filter(|(g, lower)| filter.admits(g, lower))
                    .count(),
            };
        }
        counts.by_state = GuestState::ALL
            .into_iter()
            .zip(by_state)
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| (s.as_str().to_string(), n))
            .collect();
        Ok(counts)
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
