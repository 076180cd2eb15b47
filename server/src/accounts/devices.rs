//! Known devices: a browser that completed a login as a user gets a
//! long-lived random cookie (`DEVICE_COOKIE`), stored here as a SHA-256.
//! Presented at a later login as the same user, it exempts that login from
//! the per-name lock (not from the per-address one): the known answer to
//! lock-out attacks, where wrong passwords from anywhere would otherwise
//! keep the rightful user out.

use app::api::ApiError;

use super::{internal, random_secret, sha256_hex, SqlAccounts};

/// Devices remembered per user at most (the oldest are forgotten).
const PER_USER: i64 = 20;

/// Whether `cookie` is a device that logged in as `username` before.
pub(super) async fn known(
    accounts: &SqlAccounts,
    username: &str,
    cookie: &str,
) -> Result<bool, ApiError> {
    if cookie.is_empty() || cookie.len() > 128 {
        return Ok(false);
    }
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM known_devices d JOIN users u ON u.id = d.user_id \
         WHERE d.hash = ? AND u.username = ?",
    )
    .bind(sha256_hex(cookie))
    .bind(username)
    .fetch_optional(&accounts.pool)
    .await
    .map_err(internal)?;
    Ok(row.is_some())
}

/// Remembers a new device of `user_id`; answers its cookie value.
pub(super) async fn remember(accounts: &SqlAccounts, user_id: i64) -> Result<String, ApiError> {
    let cookie = random_secret(43);
    sqlx::query("INSERT INTO known_devices (hash, user_id) VALUES (?, ?)")
        .bind(sha256_hex(&cookie))
        .bind(user_id)
        .execute(&accounts.pool)
        .await
        .map_err(internal)?;
    sqlx::query(
        "DELETE FROM known_devices WHERE user_id = ? AND hash NOT IN \
         (SELECT hash FROM known_devices WHERE user_id = ? ORDER BY created_at DESC LIMIT ?)",
    )
    .bind(user_id)
    .bind(user_id)
    .bind(PER_USER)
    .execute(&accounts.pool)
    .await
    .map_err(internal)?;
    Ok(cookie)
}
