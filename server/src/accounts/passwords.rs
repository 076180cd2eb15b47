//! Passwords: argon2id hashes computed on the blocking pool, at most
//! `CONCURRENT_HASHES` at once, with a bounded queue of logins waiting for a
//! slot; logins (throttled per user name) and password changes.

use app::api::{
    auth::{Role, SessionUser},
    ApiError,
};
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

use super::{internal, SqlAccounts};

/// At most this many password hashes are computed at once.
pub(super) const CONCURRENT_HASHES: usize = 2;
/// At most this many logins wait for a hashing slot; more are answered 429
/// at once instead of queueing the real administrator behind a flood.
const WAITING_LOGINS: usize = 16;

/// A new argon2id hash of `password`, with a random salt, off the runtime.
pub(super) async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await?
}

/// The hash an unknown user's password is checked against.
pub(super) async fn dummy_hash() -> anyhow::Result<String> {
    hash_password("not a real password".to_string()).await
}

impl SqlAccounts {
    /// A slot to hash in, unless too many logins wait already.
    pub(super) async fn hashing_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
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

    /// Is `password` the current password of `user_id`? (A re-check by a
    /// logged-in user: counted like logins per user name, and one at a time
    /// per user, so that a stolen session can neither guess on nor fill the
    /// hashing queue that logins wait in.)
    pub(super) async fn password_ok(&self, user_id: i64, password: &str) -> Result<bool, ApiError> {
        let (username, hash): (String, String) =
            sqlx::query_as("SELECT username, password_hash FROM users WHERE id = ?")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?
                .ok_or_else(ApiError::unauthorized)?;
        let key = username.to_lowercase();
        if let Err(wait) = self.per_user.check(&key) {
            return Err(ApiError::TooManyRequests(format!(
                "too many wrong passwords for this user; try again in {} s",
                wait.as_secs() + 1
            )));
        }
        let _mine = RecheckSlot::take(&self.rechecks, user_id)?;
        let ok = self.matches(hash, password).await?;
        if ok {
            self.per_user.succeeded(&key);
        } else {
            self.per_user.failed(&key);
        }
        Ok(ok)
    }
}

/// A user's one password re-check in flight (released when dropped).
struct RecheckSlot<'a> {
    all: &'a std::sync::Mutex<std::collections::HashSet<i64>>,
    user: i64,
}

impl<'a> RecheckSlot<'a> {
    fn take(
        all: &'a std::sync::Mutex<std::collections::HashSet<i64>>,
        user: i64,
    ) -> Result<Self, ApiError> {
        if !all.lock().unwrap_or_else(|e| e.into_inner()).insert(user) {
            return Err(ApiError::TooManyRequests(
                "a password check of yours is already running; try again in a moment".into(),
            ));
        }
        Ok(RecheckSlot { all, user })
    }
}

impl Drop for RecheckSlot<'_> {
    fn drop(&mut self) {
        self.all
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.user);
    }
}

/// `Accounts::verify_password`: the first step of a login.
pub(super) async fn verify_login(
    accounts: &SqlAccounts,
    username: &str,
    password: &str,
    known_device: bool,
) -> Result<Option<SessionUser>, ApiError> {
    let row: Option<(i64, String, String, String, bool, bool, bool)> = sqlx::query_as(
        "SELECT id, username, password_hash, role, disabled, must_change_password, \
         totp_enabled FROM users WHERE username = ?",
    )
    .bind(username)
    .fetch_optional(&accounts.pool)
    .await
    .map_err(internal)?;
    let key = username.to_lowercase();
    // A browser that logged in as this user before is not locked out by
    // failures from elsewhere (the per-address limit still holds it).
    let held = if known_device {
        Ok(())
    } else {
        accounts.per_user.check(&key)
    };
    if let Err(wait) = held {
        return Err(ApiError::TooManyRequests(format!(
            "too many failed logins for this user; try again in {} s",
            wait.as_secs() + 1
        )));
    }
    let stored = match row.as_ref() {
        Some(r) => r.2.clone(),
        None => accounts
            .dummy_hash
            .get_or_try_init(dummy_hash)
            .await
            .map_err(|e| ApiError::Internal(format!("password check: {e}")))?
            .clone(),
    };
    let matches = accounts.matches(stored, password).await?;
    // A two-factor user is not logged in yet: the count goes on until the code.
    let second_step = row.as_ref().is_some_and(|r| r.6);
    match (matches && row.is_some(), second_step) {
        (true, false) => accounts.per_user.succeeded(&key),
        // Counted on until the code is right.
        (true, true) => {}
        (false, _) => accounts.per_user.failed(&key),
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

/// `Accounts::change_password`.
pub(super) async fn change(
    accounts: &SqlAccounts,
    user_id: i64,
    current: &str,
    new: &str,
    keep: Option<&str>,
) -> Result<(), ApiError> {
    if !accounts.password_ok(user_id, current).await? {
        return Err(ApiError::BadRequest("the current password is wrong".into()));
    }
    let hash = {
        let _permit = accounts.hashing_slot().await?;
        hash_password(new.to_string()).await.map_err(internal)?
    };
    let mut tx = accounts.pool.begin().await.map_err(internal)?;
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
    // A new password ends what the old one may have let someone set up.
    sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE user_id = ?")
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(())
}
