//! Users, passwords, sessions, API tokens, two-factor login and settings.

use async_trait::async_trait;

use crate::api::{
    auth::{Role, SessionUser},
    users::{NewToken, SessionInfo, Settings, TokenInfo, TotpSetup, UserInfo, UserUpdate},
    ApiError,
};

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
    /// A login's password step from a browser with `device` (its device
    /// cookie): as `verify_password`, but a device that logged in as this
    /// user before is not held back by the per-name lock.
    async fn verify_login(
        &self,
        username: &str,
        password: &str,
        device: Option<&str>,
    ) -> Result<Option<SessionUser>, ApiError>;
    /// A new device cookie for `user_id`, who has just logged in with it.
    async fn remember_device(&self, user_id: i64) -> Result<String, ApiError>;
    /// Records a new login session of `user_id`; returns its secret id
    /// (kept in the session's data).
    async fn start_session(&self, user_id: i64, client: Option<&str>) -> Result<String, ApiError>;
    /// The user of session `sid` as they are now, or `None` when the session
    /// was ended, is past its idle or absolute lifetime, or the user is
    /// disabled. Notes the session as seen.
    async fn check_session(&self, sid: &str) -> Result<Option<SessionUser>, ApiError>;
    /// Changes to sessions, users or tokens (a logout, a session ended, a
    /// user disabled or demoted, a password changed, a token revoked, the
    /// two-factor rule): the counter moves on each. Open sockets wait on it
    /// and check their session then, instead of asking every few seconds.
    fn session_changes(&self) -> tokio::sync::watch::Receiver<u64>;
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
