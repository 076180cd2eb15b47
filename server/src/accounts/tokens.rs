//! API tokens: `vdk_<id>_<secret>`, the secret stored as SHA-256; a token
//! acts with the lower of its own role and its user's.

use app::api::{
    auth::{Role, SessionUser},
    users::{NewToken, TokenInfo},
    ApiError,
};

use super::{at, internal, random_secret, sha256_hex, yours, SqlAccounts, TOUCH};

/// Tokens look like `vdk_<id>_<secret>`; the secret is stored as SHA-256.
const TOKEN_PREFIX: &str = "vdk_";

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

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `Accounts::create_token`.
pub(super) async fn create(
    accounts: &SqlAccounts,
    user_id: i64,
    name: &str,
    role: Role,
    expires_at: Option<&str>,
) -> Result<NewToken, ApiError> {
    let expires_at = match expires_at {
        Some(t) => Some(app::api::users::validate_expiry(t, &crate::clock::now())?),
        None => None,
    };
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
    .fetch_one(&accounts.pool)
    .await
    .map_err(internal)?;
    let info = list(accounts, user_id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(ApiError::internal)?;
    Ok(NewToken {
        info,
        token: format!("{TOKEN_PREFIX}{id}_{secret}"),
    })
}

/// `Accounts::tokens`.
pub(super) async fn list(accounts: &SqlAccounts, user_id: i64) -> Result<Vec<TokenInfo>, ApiError> {
    let rows: Vec<TokenRow> = sqlx::query_as(
        "SELECT id, name, role, created_at, expires_at, last_used_at, revoked \
         FROM api_tokens WHERE user_id = ? ORDER BY id DESC",
    )
    .bind(user_id)
    .fetch_all(&accounts.pool)
    .await
    .map_err(internal)?;
    Ok(rows.into_iter().map(token_info).collect())
}

/// `Accounts::revoke_token`.
pub(super) async fn revoke(accounts: &SqlAccounts, user_id: i64, id: i64) -> Result<(), ApiError> {
    let done = sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE id = ? AND user_id = ?")
        .bind(id)
        .bind(user_id)
        .execute(&accounts.pool)
        .await
        .map_err(internal)?;
    yours(done.rows_affected(), "token", id)
}

/// `Accounts::check_token`.
pub(super) async fn check(
    accounts: &SqlAccounts,
    token: &str,
) -> Result<Option<(SessionUser, i64)>, ApiError> {
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
    .fetch_optional(&accounts.pool)
    .await
    .map_err(internal)?;
    let Some((hash, token_role, user_id, username, user_role, must_change_password)) = row else {
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
    .execute(&accounts.pool)
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
