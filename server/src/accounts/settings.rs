//! Site-wide settings (the `settings` table); for now, whether admins must
//! use two-factor login.

use app::api::{users::Settings, ApiError};

use super::{internal, SqlAccounts};

/// `Accounts::settings`.
pub(super) async fn get(accounts: &SqlAccounts) -> Result<Settings, ApiError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT value FROM settings WHERE key = 'require_totp_for_admins'")
            .fetch_optional(&accounts.pool)
            .await
            .map_err(internal)?;
    Ok(Settings {
        require_totp_for_admins: row.is_some_and(|(v,)| v == "1"),
    })
}

/// `Accounts::set_settings`.
pub(super) async fn set(accounts: &SqlAccounts, settings: &Settings) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ('require_totp_for_admins', ?) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(if settings.require_totp_for_admins {
        "1"
    } else {
        "0"
    })
    .execute(&accounts.pool)
    .await
    .map_err(internal)?;
    if settings.require_totp_for_admins {
        // An admin without two-factor login could go on through a token.
        sqlx::query(
            "UPDATE api_tokens SET revoked = 1 WHERE user_id IN \
             (SELECT id FROM users WHERE role = 'admin' AND totp_enabled = 0)",
        )
        .execute(&accounts.pool)
        .await
        .map_err(internal)?;
    }
    Ok(())
}
