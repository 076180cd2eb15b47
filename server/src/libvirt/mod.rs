//! The libvirt backend, laid out by libvirt object:
//! - `connection`: one connection per host, opened lazily, reopened after failure,
//!   every blocking call on tokio's blocking pool;
//! - `host`: host facts (versions, CPU, memory);
//! - `domain`: guests (list, summary, lifecycle actions);
//! - `xml`: parsing libvirt's XML documents;
//! - `error`: libvirt errors mapped to the API's errors.
//!
//! `LibvirtFleet` implements the app's `Fleet` port over all configured hosts.

mod connection;
mod domain;
mod error;
mod host;
mod xml;

use std::{sync::Arc, time::Duration};

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
use futures::future::join_all;
use tokio::sync::broadcast;

pub use connection::HostConnection;

use crate::config::HostConfig;

/// How long a page waits for one host before showing it as not answering.
const LIST_TIMEOUT: Duration = Duration::from_secs(8);
/// How long an action may take before the user is told it did not finish.
const ACTION_TIMEOUT: Duration = Duration::from_secs(60);

pub struct LibvirtFleet {
    hosts: Vec<Arc<HostConnection>>,
    events: broadcast::Sender<ServerEvent>,
}

impl LibvirtFleet {
    pub fn new(hosts: &[HostConfig], events: broadcast::Sender<ServerEvent>) -> Self {
        // libvirt prints every error to stderr by default; errors are reported
        // here, with the host they concern.
        virt::error::clear_error_callback();
        LibvirtFleet {
            hosts: hosts
                .iter()
                .map(|h| Arc::new(HostConnection::new(&h.name, &h.uri)))
                .collect(),
            events,
        }
    }

    fn host(&self, name: &str) -> Result<&Arc<HostConnection>, ApiError> {
        self.hosts.iter().find(|h| h.name() == name).ok_or_else(|| {
            ApiError::NotFound(format!("there is no host named {:?}", app::api::clip(name)))
        })
    }

    /// Runs `fut` for every host at once, each bounded by `LIST_TIMEOUT`.
    async fn each_host<T, F, Fut>(&self, f: F) -> Vec<(Arc<HostConnection>, Result<T, ApiError>)>
    where
        F: Fn(Arc<HostConnection>) -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        join_all(self.hosts.iter().map(|host| {
            let fut = f(host.clone());
            let host = host.clone();
            async move {
                let result = tokio::time::timeout(LIST_TIMEOUT, fut)
                    .await
                    .unwrap_or_else(|_| {
                        Err(ApiError::HostUnavailable(format!(
                            "host {} did not answer within {} s",
                            host.name(),
                            LIST_TIMEOUT.as_secs()
                        )))
                    });
                (host, result)
            }
        }))
        .await
    }
}

#[async_trait]
impl Fleet for LibvirtFleet {
    async fn hosts(&self) -> Vec<HostSummary> {
        self.each_host(|host| async move { host::summary(&host).await })
            .await
            .into_iter()
            .map(|(host, result)| result.unwrap_or_else(|e| host::unreachable(&host, e)))
            .collect()
    }

    async fn guests(&self) -> Vec<GuestSummary> {
        let mut all = Vec::new();
        for (host, result) in self
            .each_host(|host| async move { domain::list(&host).await })
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
        let host = self.host(host)?.clone();
        let guest = tokio::time::timeout(ACTION_TIMEOUT, domain::act(&host, uuid, action))
            .await
            .map_err(|_| {
                ApiError::HostUnavailable(format!(
                    "{action} on host {} did not finish within {} s; the guest may still change state",
                    host.name(),
                    ACTION_TIMEOUT.as_secs()
                ))
            })??;
        // Nobody listening is fine.
        let _ = self.events.send(ServerEvent::GuestChanged {
            guest: guest.clone(),
        });
        Ok(guest)
    }
}
