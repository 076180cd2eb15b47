//! Users, passwords and login sessions: argon2id hashes, computed off the
//! async runtime and bounded in number (each hash takes ~19 MiB), and
//! virtdeck's own index of sessions (`user_sessions`): the session store
//! cannot list a user's sessions, and a session ends when its row goes.

use std::sync::Arc;

use anyhow::Context;
use app::{
    api::{
        auth::{Role, SessionUser},
        users::{NewToken, SessionInfo, Settings, TokenInfo, TotpSetup, UserInfo, UserUpdate},
        ApiError,
    },
    backend::Accounts,
};
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use async_trait::async_trait;
use rand::{distributions::Alphanumeric, Rng};
use sqlx::SqlitePool;
use tokio::sync::Semaphore;

/// At most this many password hashes are computed at once.
const CONCURRENT_HASHES: usize = 2;
/// At most this many logins wait for a hashing slot; more are answered 429
/// at once instead of queueing the real administrator behind a flood.
const WAITING_LOGINS: usize = 16;
/// A session unused this long has ended (as the session cookie's expiry).
const IDLE: &str = "-12 hours";
/// No session lives longer than this, however busy.
const LIFETIME: &str = "-7 days";
/// `last_seen` is written at most this often per session.
const TOUCH: &str = "-30 seconds";

/// What `ensure_admin` did.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstUser {
    /// Users existed; nothing was created.
    Existed,
    /// `admin` was created with the password from `VIRTDECK_ADMIN_PASSWORD`.
    FromEnvironment,
    /// `admin` was created with this random password, to be changed at first login.
    Generated(String),
}

pub struct SqlAccounts {
    pool: SqlitePool,
    hashing: Arc<Semaphore>,
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    /// Failed logins per user name (the gate counts them per address).
    per_user: crate::throttle::LoginThrottle<String>,
    /// Verified against when the user does not exist, so both cases take as long.
    dummy_hash: String,
}

impl SqlAccounts {
    pub async fn new(pool: SqlitePool) -> anyhow::Result<Self> {
        let dummy_hash = hash_password("not a real password".to_string()).await?;
        Ok(SqlAccounts {
            pool,
            hashing: Arc::new(Semaphore::new(CONCURRENT_HASHES)),
            waiting: Arc::default(),
            per_user: crate::throttle::LoginThrottle::new(10, std::time::Duration::from_secs(300)),
            dummy_hash,
        })
    }

    /// Failed logins allowed per user name within `window` (default 10 in 5 min).
    pub fn with_login_limits(mut self, limit: u32, window: std::time::Duration) -> Self {
        self.per_user = crate::throttle::LoginThrottle::new(limit, window);
        self
    }

    /// Creates the first user, `admin`, when there are no users.
    pub async fn ensure_admin(&self, password: Option<String>) -> anyhow::Result<FirstUser> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        if count > 0 {
            return Ok(FirstUser::Existed);
        }
        let generated = password.is_none();
        let password = password.unwrap_or_else(|| random_secret(20));
        self.insert_user("admin", &password, Role::Admin, generated)
            .await?;
        Ok(if generated {
            FirstUser::Generated(password)
        } else {
            FirstUser::FromEnvironment
        })
    }

    /// Adds a user; `must_change`: the password was set by someone else.
    pub async fn insert_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
        must_change: bool,
    ) -> anyhow::Result<i64> {
        let hash = {
            let _permit = self.hashing.acquire().await?;
            hash_password(password.to_string()).await?
        };
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO users (username, password_hash, role, must_change_password) \
             VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(username)
        .bind(hash)
        .bind(role.as_str())
        .bind(must_change)
        .fetch_one(&self.pool)
        .await
        .with_context(|| format!("cannot create user {username}"))?;
        Ok(id)
    }

    /// A slot to hash in, unless too many logins wait already.
    async fn hashing_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        use std::sync::atomic::Ordering;
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= WAITING_LOGINS {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::TooManyRequests(
                "the server is busy checking other logins; try again in a moment".into(),
            ));
        }
        let permit = self.hashing.acquire().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        permit.map_err(internal)
    }

    /// Does `password` match the stored `hash`?
    async fn matches(&self, hash: String, password: &str) -> Result<bool, ApiError> {
        let password = password.to_string();
        let _permit = self.hashing_slot().await?;
        tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(internal)
    }

    /// Is `password` the current password of `user_id`?
    async fn password_ok(&self, user_id: i64, password: &str) -> Result<bool, ApiError> {
        let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = ?")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?
            .ok_or_else(ApiError::unauthorized)?;
        self.matches(hash, password).await
    }

    async fn user_info(&self, username: &str) -> Result<UserInfo, ApiError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT username, role, disabled, must_change_password, created_at FROM users \
             WHERE username = ?",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        row.map(info)
            .ok_or_else(|| ApiError::NotFound(format!("there is no user {username}")))
    }
}

type UserRow = (String, String, bool, bool, String);

fn info((username, role, disabled, must_change_password, created_at): UserRow) -> UserInfo {
    UserInfo {
        username,
        role: Role::parse(&role).unwrap_or_default(),
        disabled,
        must_change_password,
        created_at,
    }
}

/// `now` shifted by `offset` (an SQLite modifier), as stored times are written.
fn at(offset: &str) -> String {
    format!("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '{offset}')")
}

type TokenRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    bool,
);

fn token_info(
    (id, name, role, created_at, expires_at, last_used_at, revoked): TokenRow,
) -> TokenInfo {
    TokenInfo {
        id,
        name,
        role: Role::parse(&role).unwrap_or_default(),
        created_at,
        expires_at,
        last_used_at,
        revoked,
    }
}

/// Tokens look like `vdk_<id>_<secret>`; the secret is stored as SHA-256.
const TOKEN_PREFIX: &str = "vdk_";

fn sha256_hex(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// RFC 6238 defaults every authenticator app knows: SHA-1, 6 digits, 30 s;
/// one step of clock skew either way.
fn totp(secret: Vec<u8>) -> totp_rs::TOTP {
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, secret)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Percent-encodes a label of an `otpauth://` URL.
fn label(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
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

async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await?
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
        let row: Option<(i64, String, String, String, bool, bool, bool)> = sqlx::query_as(
            "SELECT id, username, password_hash, role, disabled, must_change_password, \
             totp_enabled FROM users WHERE username = ?",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        let key = username.to_lowercase();
        if let Err(wait) = self.per_user.check(&key) {
            return Err(ApiError::TooManyRequests(format!(
                "too many failed logins for this user; try again in {} s",
                wait.as_secs() + 1
            )));
        }
        let stored = row
            .as_ref()
            .map(|r| r.2.clone())
            .unwrap_or_else(|| self.dummy_hash.clone());
        let matches = self.matches(stored, password).await?;
        if matches && row.is_some() {
            self.per_user.succeeded(&key);
        } else {
            self.per_user.failed(&key);
        }
        match row {
            Some((_, _, _, _, true, _, _)) if matches => Err(ApiError::Forbidden(
                "this account is disabled; ask an admin".into(),
            )),
            Some((id, username, _, role, false, must_change_password, totp)) if matches => {
                Ok(Some(SessionUser {
                    id,
                    username,
                    role: Role::parse(&role).unwrap_or_default(),
                    must_change_password,
                    totp,
                    must_enrol_totp: false,
                }))
            }
            _ => Ok(None),
        }
    }

    async fn start_session(&self, user_id: i64, client: Option<&str>) -> Result<String, ApiError> {
        // Forget sessions that have ended by themselves.
        sqlx::query(&format!(
            "DELETE FROM user_sessions WHERE last_seen < {} OR created_at < {}",
            at(IDLE),
            at(LIFETIME)
        ))
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        let sid = random_secret(40);
        sqlx::query("INSERT INTO user_sessions (sid, user_id, client) VALUES (?, ?, ?)")
            .bind(&sid)
            .bind(user_id)
            .bind(client)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(sid)
    }

    async fn check_session(&self, sid: &str) -> Result<Option<SessionUser>, ApiError> {
        let row: Option<(i64, String, String, bool, bool)> = sqlx::query_as(&format!(
            "SELECT u.id, u.username, u.role, u.must_change_password, u.totp_enabled \
             FROM user_sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.sid = ? AND u.disabled = 0 AND s.last_seen >= {} AND s.created_at >= {}",
            at(IDLE),
            at(LIFETIME)
        ))
        .bind(sid)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        let Some((id, username, role, must_change_password, totp)) = row else {
            return Ok(None);
        };
        sqlx::query(&format!(
            "UPDATE user_sessions SET last_seen = {} WHERE sid = ? AND last_seen < {}",
            at("+0 seconds"),
            at(TOUCH)
        ))
        .bind(sid)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        let role = Role::parse(&role).unwrap_or_default();
        let must_enrol_totp =
            role == Role::Admin && !totp && self.settings().await?.require_totp_for_admins;
        Ok(Some(SessionUser {
            id,
            username,
            role,
            must_change_password,
            totp,
            must_enrol_totp,
        }))
    }

    async fn forget_session(&self, sid: &str) -> Result<(), ApiError> {
        sqlx::query("DELETE FROM user_sessions WHERE sid = ?")
            .bind(sid)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn sessions(
        &self,
        user_id: i64,
        sid: Option<&str>,
    ) -> Result<Vec<SessionInfo>, ApiError> {
        let rows: Vec<(i64, String, String, String, Option<String>)> = sqlx::query_as(&format!(
            "SELECT rowid, sid, created_at, last_seen, client FROM user_sessions \
             WHERE user_id = ? AND last_seen >= {} AND created_at >= {} \
             ORDER BY created_at DESC",
            at(IDLE),
            at(LIFETIME)
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|(id, s, created_at, last_seen, client)| SessionInfo {
                id,
                current: sid == Some(s.as_str()),
                created_at,
                last_seen,
                client,
            })
            .collect())
    }

    async fn end_session(&self, user_id: i64, id: i64) -> Result<(), ApiError> {
        let done = sqlx::query("DELETE FROM user_sessions WHERE rowid = ? AND user_id = ?")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        yours(done.rows_affected(), "session", id)
    }

    async fn users(&self) -> Result<Vec<UserInfo>, ApiError> {
        let rows: Vec<UserRow> = sqlx::query_as(
            "SELECT username, role, disabled, must_change_password, created_at FROM users \
             ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        Ok(rows.into_iter().map(info).collect())
    }

    async fn create_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<UserInfo, ApiError> {
        let exists: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        if exists.is_some() {
            return Err(ApiError::Conflict(format!(
                "a user named {username} exists already"
            )));
        }
        self.insert_user(username, password, role, true)
            .await
            .map_err(internal)?;
        self.user_info(username).await
    }

    async fn update_user(&self, username: &str, update: &UserUpdate) -> Result<UserInfo, ApiError> {
        let before = self.user_info(username).await?;
        let loses_admin = before.role == Role::Admin
            && !before.disabled
            && (update.disabled == Some(true) || update.role.is_some_and(|r| r != Role::Admin));
        if loses_admin {
            let (others,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND username != ?",
            )
            .bind(username)
            .fetch_one(&self.pool)
            .await
            .map_err(internal)?;
            if others == 0 {
                return Err(ApiError::Conflict(format!(
                    "{username} is the last admin: make another user admin first"
                )));
            }
        }
        let hash = match &update.password {
            Some(p) => {
                let _permit = self.hashing_slot().await?;
                Some(hash_password(p.clone()).await.map_err(internal)?)
            }
            None => None,
        };
        let mut tx = self.pool.begin().await.map_err(internal)?;
        if let Some(role) = update.role {
            sqlx::query("UPDATE users SET role = ? WHERE username = ?")
                .bind(role.as_str())
                .bind(username)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        }
        if let Some(disabled) = update.disabled {
            sqlx::query("UPDATE users SET disabled = ? WHERE username = ?")
                .bind(disabled)
                .bind(username)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        }
        if let Some(hash) = hash {
            sqlx::query(
                "UPDATE users SET password_hash = ?, must_change_password = 1 WHERE username = ?",
            )
            .bind(hash)
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        }
        if update.disabled == Some(true) || update.password.is_some() {
            sqlx::query(
                "DELETE FROM user_sessions \
                 WHERE user_id = (SELECT id FROM users WHERE username = ?)",
            )
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        }
        tx.commit().await.map_err(internal)?;
        self.user_info(username).await
    }

    async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        role: Role,
        expires_at: Option<&str>,
    ) -> Result<NewToken, ApiError> {
        if let Some(t) = expires_at {
            let now = crate::libvirt::rfc3339(std::time::SystemTime::now());
            app::api::users::validate_expiry(t, &now)?;
        }
        let secret = random_secret(40);
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO api_tokens (user_id, name, role, secret_hash, expires_at) \
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(role.as_str())
        .bind(sha256_hex(&secret))
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await
        .map_err(internal)?;
        let info = self
            .tokens(user_id)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(ApiError::internal)?;
        Ok(NewToken {
            info,
            token: format!("{TOKEN_PREFIX}{id}_{secret}"),
        })
    }

    async fn tokens(&self, user_id: i64) -> Result<Vec<TokenInfo>, ApiError> {
        let rows: Vec<TokenRow> = sqlx::query_as(
            "SELECT id, name, role, created_at, expires_at, last_used_at, revoked \
             FROM api_tokens WHERE user_id = ? ORDER BY id DESC",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        Ok(rows.into_iter().map(token_info).collect())
    }

    async fn revoke_token(&self, user_id: i64, id: i64) -> Result<(), ApiError> {
        let done = sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE id = ? AND user_id = ?")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        yours(done.rows_affected(), "token", id)
    }

    async fn check_token(&self, token: &str) -> Result<Option<(SessionUser, i64)>, ApiError> {
        let Some((id, secret)) = token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .and_then(|(id, secret)| Some((id.parse::<i64>().ok()?, secret)))
        else {
            return Ok(None);
        };
        let row: Option<(String, String, i64, String, String, bool)> = sqlx::query_as(&format!(
            "SELECT t.secret_hash, t.role, u.id, u.username, u.role, u.must_change_password \
             FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.id = ? AND t.revoked = 0 AND u.disabled = 0 \
             AND (t.expires_at IS NULL OR t.expires_at > {})",
            at("+0 seconds")
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        let Some((hash, token_role, user_id, username, user_role, must_change_password)) = row
        else {
            return Ok(None);
        };
        if !same(&hash, &sha256_hex(secret)) {
            return Ok(None);
        }
        sqlx::query(&format!(
            "UPDATE api_tokens SET last_used_at = {} WHERE id = ? \
             AND (last_used_at IS NULL OR last_used_at < {})",
            at("+0 seconds"),
            at(TOUCH)
        ))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        let role = Role::parse(&token_role)
            .unwrap_or_default()
            .min(Role::parse(&user_role).unwrap_or_default());
        Ok(Some((
            SessionUser {
                id: user_id,
                username,
                role,
                must_change_password,
                totp: false,
                must_enrol_totp: false,
            },
            id,
        )))
    }

    async fn settings(&self) -> Result<Settings, ApiError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT value FROM settings WHERE key = 'require_totp_for_admins'")
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        Ok(Settings {
            require_totp_for_admins: row.is_some_and(|(v,)| v == "1"),
        })
    }

    async fn set_settings(&self, settings: &Settings) -> Result<(), ApiError> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ('require_totp_for_admins', ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(if settings.require_totp_for_admins {
            "1"
        } else {
            "0"
        })
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(())
    }

    async fn totp_begin(&self, user_id: i64, username: &str) -> Result<TotpSetup, ApiError> {
        let bytes: Vec<u8> = (0..20).map(|_| rand::thread_rng().gen()).collect();
        let secret = totp(bytes).get_secret_base32();
        sqlx::query("UPDATE users SET totp_secret = ? WHERE id = ? AND totp_enabled = 0")
            .bind(&secret)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(internal)?
            .rows_affected()
            .eq(&1)
            .then_some(())
            .ok_or_else(|| {
                ApiError::Conflict("two-factor login is on already; turn it off first".into())
            })?;
        let otpauth_url = format!(
            "otpauth://totp/virtdeck:{}?secret={secret}&issuer=virtdeck&algorithm=SHA1&digits=6&period=30",
            label(username)
        );
        let qr_svg = qrcode::QrCode::new(otpauth_url.as_bytes())
            .map_err(internal)?
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .build();
        Ok(TotpSetup {
            secret,
            otpauth_url,
            qr_svg,
        })
    }

    async fn totp_confirm(&self, user_id: i64, code: &str) -> Result<Vec<String>, ApiError> {
        let row: Option<(Option<String>, bool)> =
            sqlx::query_as("SELECT totp_secret, totp_enabled FROM users WHERE id = ?")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        let secret = match row {
            Some((_, true)) => {
                return Err(ApiError::Conflict("two-factor login is on already".into()))
            }
            Some((Some(secret), false)) => secret,
            _ => {
                return Err(ApiError::Conflict(
                    "start the set-up first (POST /api/me/totp/start)".into(),
                ))
            }
        };
        let bytes = totp_rs::Secret::Encoded(secret)
            .to_bytes()
            .map_err(|e| internal(format!("{e:?}")))?;
        let step = now_secs() / 30;
        if !totp(bytes).check(code, now_secs()) {
            return Err(ApiError::BadRequest(
                "that code is not the current one: check the app and the clock".into(),
            ));
        }
        let codes: Vec<String> = (0..10).map(|_| random_secret(10).to_lowercase()).collect();
        let mut tx = self.pool.begin().await.map_err(internal)?;
        sqlx::query("UPDATE users SET totp_enabled = 1, totp_last_step = ? WHERE id = ?")
            .bind(step as i64)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        for c in &codes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)")
                .bind(user_id)
                .bind(sha256_hex(c))
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        }
        tx.commit().await.map_err(internal)?;
        Ok(codes)
    }

    async fn totp_disable(&self, user_id: i64, password: &str) -> Result<(), ApiError> {
        if !self.password_ok(user_id, password).await? {
            return Err(ApiError::BadRequest("the password is wrong".into()));
        }
        sqlx::query(
            "UPDATE users SET totp_enabled = 0, totp_secret = NULL, totp_last_step = NULL WHERE id = ?",
        )
        .bind(user_id)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = ?")
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn totp_verify(&self, user_id: i64, code: &str) -> Result<bool, ApiError> {
        let code = code.trim();
        let row: Option<(Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT totp_secret, totp_last_step FROM users WHERE id = ? AND totp_enabled = 1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        let Some((Some(secret), last)) = row else {
            return Ok(false);
        };
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            let bytes = totp_rs::Secret::Encoded(secret)
                .to_bytes()
                .map_err(|e| internal(format!("{e:?}")))?;
            let t = totp(bytes);
            let now = now_secs();
            // Which step matched (skew ±1), so that each code works once.
            let step = [now / 30, now / 30 - 1, now / 30 + 1]
                .into_iter()
                .find(|s| t.generate(s * 30) == code);
            let Some(step) = step else {
                return Ok(false);
            };
            if last.is_some_and(|l| l >= step as i64) {
                return Ok(false);
            }
            sqlx::query("UPDATE users SET totp_last_step = ? WHERE id = ?")
                .bind(step as i64)
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(internal)?;
            return Ok(true);
        }
        // A recovery code: used up by the first use.
        let used = sqlx::query(&format!(
            "UPDATE recovery_codes SET used_at = {} \
             WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
            at("+0 seconds")
        ))
        .bind(user_id)
        .bind(sha256_hex(&code.to_lowercase()))
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(used.rows_affected() == 1)
    }

    async fn change_password(
        &self,
        user_id: i64,
        current: &str,
        new: &str,
        keep: Option<&str>,
    ) -> Result<(), ApiError> {
        if !self.password_ok(user_id, current).await? {
            return Err(ApiError::BadRequest("the current password is wrong".into()));
        }
        let hash = {
            let _permit = self.hashing_slot().await?;
            hash_password(new.to_string()).await.map_err(internal)?
        };
        let mut tx = self.pool.begin().await.map_err(internal)?;
        sqlx::query("UPDATE users SET password_hash = ?, must_change_password = 0 WHERE id = ?")
            .bind(hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query("DELETE FROM user_sessions WHERE user_id = ? AND sid IS NOT ?")
            .bind(user_id)
            .bind(keep)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(())
    }
}
