//! The ports the server functions call (server build only). `server/` implements
//! them: libvirt for `Fleet`, SQLite for `Accounts` and `Audit`. Tests and other
//! backends can provide their own.

use std::sync::Arc;

use async_trait::async_trait;

use crate::api::{
    audit::{AuditQuery, AuditRecord},
    auth::{Role, SessionUser},
    guest_detail::{
        DeleteReport, GuestDetail, GuestJob, GuestStats, GuestUpdate, SnapshotAction, SnapshotInfo,
    },
    guest_new::{GuestOptions, NewGuest},
    guests::{GuestAction, GuestSummary},
    hosts::HostSummary,
    migrations::{MigrationJob, MigrationSpec, Preflight, Tuning},
    pools::{PoolAction, PoolSource, PoolSpec, PoolSummary, PoolTypes, ScanSpec},
    size::StorageName,
    users::{NewToken, SessionInfo, Settings, TokenInfo, TotpSetup, UserInfo, UserUpdate},
    volumes::{VolumeOp, VolumeSpec, VolumeSummary},
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

/// One guest's life beyond start and stop: creating, reading its whole
/// definition, editing, cloning (as a job), snapshots and deleting. Changes
/// are announced like the fleet's (`guest_changed`, `guest_removed`,
/// `volumes_changed`, `guest_job`).
#[async_trait]
pub trait Guests: Send + Sync + 'static {
    /// What `host` offers a new guest.
    async fn options(&self, host: &str) -> Result<GuestOptions, ApiError>;
    /// Creates (and starts, if asked) a guest; leaves nothing behind on failure.
    async fn create(&self, spec: &NewGuest) -> Result<GuestSummary, ApiError>;
    async fn detail(&self, host: &str, uuid: &str) -> Result<GuestDetail, ApiError>;
    async fn stats(&self, host: &str, uuid: &str) -> Result<GuestStats, ApiError>;
    async fn update(
        &self,
        host: &str,
        uuid: &str,
        update: &GuestUpdate,
    ) -> Result<GuestDetail, ApiError>;
    /// Deletes the guest and the listed volumes (paths of its own disks).
    async fn delete(
        &self,
        host: &str,
        uuid: &str,
        delete_volumes: &[String],
    ) -> Result<DeleteReport, ApiError>;
    /// Starts a clone job; answers its id.
    async fn clone_guest(
        &self,
        user: &str,
        host: &str,
        uuid: &str,
        name: &StorageName,
        pool: Option<&StorageName>,
    ) -> Result<String, ApiError>;
    async fn job(&self, id: &str) -> Result<GuestJob, ApiError>;
    async fn snapshots(&self, host: &str, uuid: &str) -> Result<Vec<SnapshotInfo>, ApiError>;
    async fn create_snapshot(
        &self,
        host: &str,
        uuid: &str,
        name: &StorageName,
        description: Option<&str>,
        memory: Option<bool>,
    ) -> Result<SnapshotInfo, ApiError>;
    async fn snapshot_action(
        &self,
        host: &str,
        uuid: &str,
        snapshot: &StorageName,
        action: SnapshotAction,
    ) -> Result<Vec<SnapshotInfo>, ApiError>;
}

/// Storage pools and their volumes on the managed hosts. Every change is
/// announced as a `ServerEvent` (pool changed or removed, volumes changed).
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Every pool on every reachable host, sorted by host and name.
    async fn pools(&self) -> Vec<PoolSummary>;
    /// The pool types `host` supports (its pool capabilities, or the full list).
    async fn pool_types(&self, host: &str) -> Result<PoolTypes, ApiError>;
    /// The sources of a pool type that `host` can see (NFS exports, iSCSI targets…).
    async fn scan(&self, host: &str, spec: &ScanSpec) -> Result<Vec<PoolSource>, ApiError>;
    /// Defines, builds where needed, and starts a pool. On failure nothing is
    /// left defined unless `spec.keep_on_failure`.
    async fn create_pool(&self, host: &str, spec: &PoolSpec) -> Result<PoolSummary, ApiError>;
    /// Runs a pool action; the pool's new summary, `None` once deleted.
    async fn pool_action(
        &self,
        host: &str,
        pool: &StorageName,
        action: PoolAction,
        delete_storage: bool,
    ) -> Result<Option<PoolSummary>, ApiError>;
    /// Every volume of a pool, sorted by name, with the guests that use it.
    async fn volumes(&self, host: &str, pool: &StorageName)
        -> Result<Vec<VolumeSummary>, ApiError>;
    async fn create_volume(
        &self,
        host: &str,
        pool: &StorageName,
        spec: &VolumeSpec,
    ) -> Result<VolumeSummary, ApiError>;
    /// Runs a volume action; the volume's (or clone's) summary, `None` once deleted.
    async fn volume_action(
        &self,
        host: &str,
        pool: &StorageName,
        volume: &StorageName,
        op: &VolumeOp,
    ) -> Result<Option<VolumeSummary>, ApiError>;
}

/// Migration jobs: pre-flight checks, starting, following and steering them.
/// A job runs on the server (it goes on when the browser closes) and announces
/// each progress sample as a `ServerEvent::MigrationProgress`.
#[async_trait]
pub trait Migrations: Send + Sync + 'static {
    /// Every check, with its verdict, explanation and fix.
    async fn preflight(&self, spec: &MigrationSpec) -> Preflight;
    /// Starts a job and answers its id; refused (409) when a check blocks it.
    async fn start(&self, user: &str, spec: &MigrationSpec) -> Result<String, ApiError>;
    /// Jobs, newest first, history included.
    async fn list(&self, offset: u32, limit: u32) -> Result<Vec<MigrationJob>, ApiError>;
    async fn get(&self, id: &str) -> Result<MigrationJob, ApiError>;
    /// Stops a running job; the guest stays on the source.
    async fn cancel(&self, id: &str) -> Result<MigrationJob, ApiError>;
    async fn tune(&self, id: &str, tuning: &Tuning) -> Result<MigrationJob, ApiError>;
    /// A migration of guest `uuid` on `host` is running.
    fn busy(&self, host: &str, uuid: &str) -> bool;
}

/// Users, passwords and login sessions.
#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// `Some(user)` when the password is right, `None` when the user or
    /// password is wrong; a disabled user is refused (403).
    async fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<SessionUser>, ApiError>;
    /// Records a new login session of `user_id`; returns its secret id
    /// (kept in the session's data).
    async fn start_session(&self, user_id: i64, client: Option<&str>) -> Result<String, ApiError>;
    /// The user of session `sid` as they are now, or `None` when the session
    /// was ended, is past its idle or absolute lifetime, or the user is
    /// disabled. Notes the session as seen.
    async fn check_session(&self, sid: &str) -> Result<Option<SessionUser>, ApiError>;
    /// Ends session `sid` (logout).
    async fn forget_session(&self, sid: &str) -> Result<(), ApiError>;
    /// The sessions of `user_id`; `current` marks `sid`'s.
    async fn sessions(&self, user_id: i64, sid: Option<&str>)
        -> Result<Vec<SessionInfo>, ApiError>;
    /// Ends session number `id` of `user_id` (404 when it is not theirs).
    async fn end_session(&self, user_id: i64, id: i64) -> Result<(), ApiError>;
    async fn users(&self) -> Result<Vec<UserInfo>, ApiError>;
    async fn create_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<UserInfo, ApiError>;
    /// Applies `update`; disabling or a new password ends the user's sessions.
    /// The last enabled admin cannot be disabled or demoted (409).
    async fn update_user(&self, username: &str, update: &UserUpdate) -> Result<UserInfo, ApiError>;
    /// `expires_at` must be an RFC 3339 UTC time in the future (400).
    async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        role: Role,
        expires_at: Option<&str>,
    ) -> Result<NewToken, ApiError>;
    async fn tokens(&self, user_id: i64) -> Result<Vec<TokenInfo>, ApiError>;
    /// 404 when token `id` is not `user_id`'s.
    async fn revoke_token(&self, user_id: i64, id: i64) -> Result<(), ApiError>;
    /// The user a bearer token acts as — with the lower of the token's and
    /// the user's current role — and the token's id; `None` when the token is
    /// unknown, revoked, expired or its user disabled. Notes its use.
    async fn check_token(&self, token: &str) -> Result<Option<(SessionUser, i64)>, ApiError>;
    async fn settings(&self) -> Result<Settings, ApiError>;
    async fn set_settings(&self, settings: &Settings) -> Result<(), ApiError>;
    /// A new (not yet active) TOTP secret for `user_id`.
    async fn totp_begin(&self, user_id: i64, username: &str) -> Result<TotpSetup, ApiError>;
    /// Activates the secret with a current `code`; returns new recovery codes.
    async fn totp_confirm(&self, user_id: i64, code: &str) -> Result<Vec<String>, ApiError>;
    async fn totp_disable(&self, user_id: i64, password: &str) -> Result<(), ApiError>;
    /// Checks a login's second step: a current code (each accepted once) or
    /// an unused recovery code (then used up).
    async fn totp_verify(&self, user_id: i64, code: &str) -> Result<bool, ApiError>;
    /// Checks `current`, sets `new`, clears the forced change and ends the
    /// user's other sessions (all but `keep`).
    async fn change_password(
        &self,
        user_id: i64,
        current: &str,
        new: &str,
        keep: Option<&str>,
    ) -> Result<(), ApiError>;
}

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

/// Everything the server functions need, provided as Leptos context.
#[derive(Clone)]
pub struct Services {
    pub fleet: Arc<dyn Fleet>,
    pub guests: Arc<dyn Guests>,
    pub storage: Arc<dyn Storage>,
    pub migrations: Arc<dyn Migrations>,
    pub accounts: Arc<dyn Accounts>,
    pub audit: Arc<dyn Audit>,
}
