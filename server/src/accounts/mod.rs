//! Users, passwords and login sessions: argon2id hashes, computed off the
//! async runtime and bounded in number (each hash takes ~19 MiB), and
//! virtdeck's own index of sessions (`user_sessions`): the session store
//! cannot list a user's sessions, and a session ends when its row goes.
//!
//! `SqlAccounts` implements the `Accounts` port here by delegating, one
//! concern a file: `users` (the first admin, the user list, changes to a
//! user), `passwords` (hashing, logins, password changes), `sessions`,
//! `tokens` (API tokens), `totp` (two-factor login) and `settings`.

mod devices;
mod passwords;
mod sessions;
mod settings;
mod tokens;
mod totp;
mod users;

use std::sync::Arc;

use app::{
    api::{
        auth::{Role, SessionUser},
        users::{NewToken, SessionInfo, Settings, TokenInfo, TotpSetup, UserInfo, UserUpdate},
        ApiError,
    },
    backend::Accounts,
};
use async_trait::async_trait;
use rand::{distributions::Alphanumeric, Rng};
use sqlx::SqlitePool;
use tokio::sync::Semaphore;

pub use users::FirstUser;

/// `last_seen` (of a session) and `last_used_at` (of a token) are written at
/// most this often.
const TOUCH: &str = "-30 seconds";

pub struct SqlAccounts {
    pool: SqlitePool,
    hashing: Arc<Semaphore>,
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    /// Failed logins per user name (the gate counts them per address).
    per_user: crate::throttle::LoginThrottle<String>,
    /// Wrong two-factor codes per user, whatever the address or session:
    /// a right password does not reset them.
    per_user_codes: crate::throttle::LoginThrottle<i64>,
    /// Users with a password re-check in flight (one each).
    rechecks: std::sync::Mutex<std::collections::HashSet<i64>>,
    /// Verified against when the user does not exist, so both cases take as
    /// long. Made in the background once the start is done
    /// (`prepare_unknown_user_hash`: an argon2 hash is not needed for the
    /// first answer); a login that comes first makes it, or waits for it.
    dummy_hash: Arc<tokio::sync::OnceCell<String>>,
    /// Moves on at every change that may end a session (`session_changes`).
    changes: tokio::sync::watch::Sender<u64>,
}

impl SqlAccounts {
    pub async fn new(pool: SqlitePool) -> anyhow::Result<Self> {
        Ok(SqlAccounts {
            pool,
            hashing: Arc::new(Semaphore::new(passwords::CONCURRENT_HASHES)),
            waiting: Arc::default(),
            per_user: crate::throttle::LoginThrottle::new(10, std::time::Duration::from_secs(300)),
            per_user_codes: crate::throttle::LoginThrottle::new(
                totp::CODE_ATTEMPTS,
                std::time::Duration::from_secs(300),
            ),
            rechecks: Default::default(),
            dummy_hash: Arc::default(),
            changes: tokio::sync::watch::Sender::new(0),
        })
    }

    /// Makes the hash unknown users are checked against, in the background.
    /// Called when the start is done: its 40 ms of a core would otherwise be
    /// taken from reading the hosts, on which the first answer waits.
    pub fn prepare_unknown_user_hash(&self) {
        let cell = self.dummy_hash.clone();
        tokio::spawn(async move {
            let _ = cell.get_or_try_init(passwords::dummy_hash).await;
        });
    }

    /// Failed logins allowed per user name within `window` (default 10 in 5 min).
    pub fn with_login_limits(mut self, limit: u32, window: std::time::Duration) -> Self {
        self.per_user = crate::throttle::LoginThrottle::new(limit, window);
        self
    }
}

/// `now` shifted by `offset` (an SQLite modifier), as stored times are written.
fn at(offset: &str) -> String {
    format!("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '{offset}')")
}

/// SHA-256 as lowercase hex: how token secrets and recovery codes are stored.
fn sha256_hex(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 404 unless the statement touched the caller's own `what` number `id`.
fn yours(rows: u64, what: &str, id: i64) -> Result<(), ApiError> {
    if rows == 0 {
        return Err(ApiError::NotFound(format!("you have no {what} {id}")));
    }
    Ok(())
}

fn random_secret(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

impl SqlAccounts {
    /// Says a change that may end sessions happened (whatever its outcome:
    /// a check more is harmless).
    fn changed<T>(&self, result: Result<T, ApiError>) -> Result<T, ApiError> {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
        result
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!("accounts: {e}");
    ApiError::internal()
}

#[async_trait]
impl Accounts for SqlAccounts {
    async fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<SessionUser>, ApiError> {
        passwords::verify_login(self, username, password, false).await
    }

    async fn verify_login(
        &self,
        username: &str,
        password: &str,
        device: Option<&str>,
    ) -> Result<Option<SessionUser>, ApiError> {
        let known = match device {
            Some(d) => devices::known(self, username, d).await?,
            None => false,
        };
        passwords::verify_login(self, username, password, known).await
    }

    async fn remember_device(&self, user_id: i64) -> Result<String, ApiError> {
        devices::remember(self, user_id).await
    }

    async fn start_session(&self, user_id: i64, client: Option<&str>) -> Result<String, ApiError> {
        sessions::start(self, user_id, client).await
    }

    async fn check_session(&self, sid: &str) -> Result<Option<SessionUser>, ApiError> {
        sessions::check(self, sid).await
    }

    fn session_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    async fn forget_session(&self, sid: &str) -> Result<(), ApiError> {
        let result = sessions::forget(self, sid).await;
        self.changed(result)
    }

    async fn sessions(
        &self,
        user_id: i64,
        sid: Option<&str>,
    ) -> Result<Vec<SessionInfo>, ApiError> {
        sessions::list(self, user_id, sid).await
    }

    async fn end_session(&self, user_id: i64, id: i64) -> Result<(), ApiError> {
        let result = sessions::end(self, user_id, id).await;
        self.changed(result)
    }

    async fn users(&self) -> Result<Vec<UserInfo>, ApiError> {
        users::list(self).await
    }

    async fn create_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<UserInfo, ApiError> {
        users::create(self, username, password, role).await
    }

    async fn update_user(&self, username: &str, update: &UserUpdate) -> Result<UserInfo, ApiError> {
        let result = users::update(self, username, update).await;
        self.changed(result)
    }

    async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        role: Role,
        expires_at: Option<&str>,
    ) -> Result<NewToken, ApiError> {
        tokens::create(self, user_id, name, role, expires_at).await
    }

    async fn tokens(&self, user_id: i64) -> Result<Vec<TokenInfo>, ApiError> {
        tokens::list(self, user_id).await
    }

    async fn revoke_token(&self, user_id: i64, id: i64) -> Result<(), ApiError> {
        let result = tokens::revoke(self, user_id, id).await;
        self.changed(result)
    }

    async fn check_token(&self, token: &str) -> Result<Option<(SessionUser, i64)>, ApiError> {
        tokens::check(self, token).await
    }

    async fn settings(&self) -> Result<Settings, ApiError> {
        settings::get(self).await
    }

    async fn set_settings(&self, settings: &Settings) -> Result<(), ApiError> {
        let result = settings::set(self, settings).await;
        self.changed(result)
    }

    async fn totp_begin(&self, user_id: i64, username: &str) -> Result<TotpSetup, ApiError> {
        totp::begin(self, user_id, username).await
    }

    async fn totp_confirm(&self, user_id: i64, code: &str) -> Result<Vec<String>, ApiError> {
        let result = totp::confirm(self, user_id, code).await;
        self.changed(result)
    }

    async fn totp_disable(&self, user_id: i64, password: &str) -> Result<(), ApiError> {
        let result = totp::disable(self, user_id, password).await;
        self.changed(result)
    }

    async fn totp_verify(&self, user_id: i64, code: &str) -> Result<bool, ApiError> {
        totp::verify(self, user_id, code).await
    }

    async fn change_password(
        &self,
        user_id: i64,
        current: &str,
        new: &str,
        keep: Option<&str>,
    ) -> Result<(), ApiError> {
        let result = passwords::change(self, user_id, current, new, keep).await;
        self.changed(result)
    }
}
