//! Login sessions, as virtdeck indexes them (`user_sessions`): one row a
//! session, ended by idleness, by age, or by deleting the row.

use app::api::{
    auth::{Role, SessionUser},
    users::SessionInfo,
    ApiError,
};

use super::{at, internal, random_secret, settings, yours, SqlAccounts, TOUCH};

/// A session unused this long has ended (as the session cookie's expiry).
const IDLE: &str = "-12 hours";
/// No session lives longer than this, however busy.
const LIFETIME: &str = "-7 days";

/// `Accounts::start_session`.
pub(super) async fn start(
    accounts: &SqlAccounts,
    user_id: i64,
    client: Option<&str>,
) -> Result<String, ApiError> {
    // Forget sessions that have ended by themselves.
    sqlx::query(&format!(
        "DELETE FROM user_sessions WHERE last_seen < {} OR created_at < {}",
        at(IDLE),
        at(LIFETIME)
    ))
    .execute(&accounts.pool)
    .await
    .map_err(internal)?;
    let sid = random_secret(40);
    sqlx::query("INSERT INTO user_sessions (sid, user_id, client) VALUES (?, ?, ?)")
        .bind(&sid)
        .bind(user_id)
        .bind(client)
        .execute(&accounts.pool)
        .await
        .map_err(internal)?;
    Ok(sid)
}

/// `Accounts::check_session`.
pub(super) async fn check(
    accounts: &SqlAccounts,
    sid: &str,
) -> Result<Option<SessionUser>, ApiError> {
    let row: Option<(i64, String, String, bool, bool)> = sqlx::query_as(&format!(
        "SELECT u.id, u.username, u.role, u.must_change_password, u.totp_enabled \
         FROM user_sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.sid = ? AND u.disabled = 0 AND s.last_seen >= {} AND s.created_at >= {}",
        at(IDLE),
        at(LIFETIME)
    ))
    .bind(sid)
    .fetch_optional(&accounts.pool)
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
    .execute(&accounts.pool)
    .await
    .map_err(internal)?;
    let role = Role::parse(&role).unwrap_or_default();
    let must_enrol_totp =
        role == Role::Admin && !totp && settings::get(accounts).await?.require_totp_for_admins;
    Ok(Some(SessionUser {
        id,
        username,
        role,
        must_change_password,
        totp,
        must_enrol_totp,
    }))
}

/// `Accounts::forget_session`.
pub(super) async fn forget(accounts: &SqlAccounts, sid: &str) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM user_sessions WHERE sid = ?")
        .bind(sid)
        .execute(&accounts.pool)
        .await
        .map_err(internal)?;
    Ok(())
}

/// `Accounts::sessions`.
pub(super) async fn list(
    accounts: &SqlAccounts,
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
    .fetch_all(&accounts.pool)
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

/// `Accounts::end_session`.
pub(super) async fn end(accounts: &SqlAccounts, user_id: i64, id: i64) -> Result<(), ApiError> {
    let done = sqlx::query("DELETE FROM user_sessions WHERE rowid = ? AND user_id = ?")
        .bind(id)
        .bind(user_id)
        .execute(&accounts.pool)
        .await
        .map_err(internal)?;
    yours(done.rows_affected(), "session", id)
}
