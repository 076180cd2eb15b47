//! The ports the server functions call (server build only). `server/` implements
//! them: libvirt for `Fleet`, SQLite for `Accounts` and `Audit`. Tests and other
//! backends can provide their own.

use std::sync::Arc;

use async_trait::async_trait;

use crate::api::{
    auth::SessionUser,
    guests::{GuestAction, GuestSummary},
    hosts::HostSummary,
    ApiError,
};

/// The managed libvirt hosts.
#[async_trait]
pub trait Fleet: Send + Sync + 'static {
    /// Every configured host; unreachable ones say why. Never blocks on a dead host.
    async fn hosts(&self) -> Vec<HostSummary>;
    /// Every guest on every reachable host.
    async fn guests(&self) -> Vec<GuestSummary>;
    /// Runs `action` on the guest `uuid` of `host` and returns its new summary.
    async fn guest_action(
        &self,
        host: &str,
        uuid: &str,
        action: GuestAction,
    ) -> Result<GuestSummary, ApiError>;
}

/// Users and passwords.
#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// `Some(user)` when the password is right, `None` when the user or password is wrong.
    async fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<SessionUser>, ApiError>;
}

/// The audit log: who did what to which object, and how it ended.
#[async_trait]
pub trait Audit: Send + Sync + 'static {
    async fn record(
        &self,
        user: Option<&SessionUser>,
        action: &str,
        target: &str,
        outcome: Result<(), &str>,
    );
}

/// Everything the server functions need, provided as Leptos context.
#[derive(Clone)]
pub struct Services {
    pub fleet: Arc<dyn Fleet>,
    pub accounts: Arc<dyn Accounts>,
    pub audit: Arc<dyn Audit>,
}
