//! The audit log: who did what to which object, and how it ended.

use async_trait::async_trait;

use crate::api::{
    audit::{AuditQuery, AuditRecord},
    auth::SessionUser,
    ApiError,
};

/// How an audited attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    Ok,
    /// Allowed, tried, and it failed (libvirt's message, a conflict…).
    Failed(&'a str),
    /// Not allowed or not understood: no session, forbidden, cross-site,
    /// malformed, throttled. Nothing was tried.
    Refused(&'a str),
}

impl<'a> Outcome<'a> {
    /// The outcome of an action that returned `result`.
    pub fn of<T>(result: &'a Result<T, ApiError>, message: &'a str) -> Self {
        match result {
            Ok(_) => Outcome::Ok,
            Err(e) if e.is_refusal() => Outcome::Refused(message),
            Err(_) => Outcome::Failed(message),
        }
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, Copy)]
pub struct AuditEntry<'a> {
    pub user: Option<&'a str>,
    /// The client's address (`ip:port`), when known.
    pub client: Option<&'a str>,
    /// What was attempted, from a fixed vocabulary (`guest.start`,
    /// `login`, `request` for one refused before it was understood…);
    /// never the client's own text.
    pub action: &'a str,
    pub target: &'a str,
    pub outcome: Outcome<'a>,
}

/// The audit log: who did what to which object, and how it ended.
#[async_trait]
pub trait Audit: Send + Sync + 'static {
    async fn write(&self, entry: AuditEntry<'_>);

    /// Lines of the log, newest first.
    async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, ApiError>;

    /// A shorthand for `write` without a client address.
    async fn record(
        &self,
        user: Option<&SessionUser>,
        action: &str,
        target: &str,
        outcome: Result<(), &str>,
    ) {
        self.write(AuditEntry {
            user: user.map(|u| u.username.as_str()),
            client: None,
            action,
            target,
            outcome: match outcome {
                Ok(()) => Outcome::Ok,
                Err(m) => Outcome::Failed(m),
            },
        })
        .await
    }
}
