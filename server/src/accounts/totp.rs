//! Two-factor login (TOTP, RFC 6238): set-up with a QR code, confirmation
//! with recovery codes, each code accepted once, and turning it off.

use app::api::{users::TotpSetup, ApiError};
use rand::Rng;

use super::{at, internal, random_secret, sha256_hex, SqlAccounts};

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

/// `Accounts::totp_begin`.
pub(super) async fn begin(
    accounts: &SqlAccounts,
    user_id: i64,
    username: &str,
) -> Result<TotpSetup, ApiError> {
    let bytes: Vec<u8> = (0..20).map(|_| rand::thread_rng().gen()).collect();
    let secret = totp(bytes).get_secret_base32();
    sqlx::query("UPDATE users SET totp_secret = ? WHERE id = ? AND totp_enabled = 0")
        .bind(&secret)
        .bind(user_id)
        .execute(&accounts.pool)
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

/// `Accounts::totp_confirm`.
pub(super) async fn confirm(
    accounts: &SqlAccounts,
    user_id: i64,
    code: &str,
) -> Result<Vec<String>, ApiError> {
    let row: Option<(Option<String>, bool)> =
        sqlx::query_as("SELECT totp_secret, totp_enabled FROM users WHERE id = ?")
            .bind(user_id)
            .fetch_optional(&accounts.pool)
            .await
            .map_err(internal)?;
    let secret = match row {
        Some((_, true)) => return Err(ApiError::Conflict("two-factor login is on already".into())),
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
    let mut tx = accounts.pool.begin().await.map_err(internal)?;
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

/// `Accounts::totp_disable`.
pub(super) async fn disable(
    accounts: &SqlAccounts,
    user_id: i64,
    password: &str,
) -> Result<(), ApiError> {
    if !accounts.password_ok(user_id, password).await? {
        return Err(ApiError::BadRequest("the password is wrong".into()));
    }
    sqlx::query(
        "UPDATE users SET totp_enabled = 0, totp_secret = NULL, totp_last_step = NULL WHERE id = ?",
    )
    .bind(user_id)
    .execute(&accounts.pool)
    .await
    .map_err(internal)?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = ?")
        .bind(user_id)
        .execute(&accounts.pool)
        .await
        .map_err(internal)?;
    Ok(())
}

/// `Accounts::totp_verify`.
/// Wrong codes a user may send within 5 minutes (from any address or
/// session) before the code step answers 429: a 6-digit code cannot be
/// guessed at 5 tries in 5 minutes (about one chance in 10^5 per window).
pub const CODE_ATTEMPTS: u32 = 5;

pub(super) async fn verify(
    accounts: &SqlAccounts,
    user_id: i64,
    code: &str,
) -> Result<bool, ApiError> {
    if let Err(wait) = accounts.per_user_codes.check(&user_id) {
        return Err(ApiError::TooManyRequests(format!(
            "too many wrong codes for this user; try again in {} s",
            wait.as_secs() + 1
        )));
    }
    let ok = check_code(accounts, user_id, code).await?;
    if ok {
        accounts.per_user_codes.succeeded(&user_id);
    } else {
        accounts.per_user_codes.failed(&user_id);
    }
    Ok(ok)
}

async fn check_code(accounts: &SqlAccounts, user_id: i64, code: &str) -> Result<bool, ApiError> {
    let code = code.trim();
    let row: Option<(Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT totp_secret, totp_last_step FROM users WHERE id = ? AND totp_enabled = 1",
    )
    .bind(user_id)
    .fetch_optional(&accounts.pool)
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
        // Conditional: of two requests with one code at once, one wins.
        let taken = sqlx::query(
            "UPDATE users SET totp_last_step = ? \
             WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
        )
        .bind(step as i64)
        .bind(user_id)
        .bind(step as i64)
        .execute(&accounts.pool)
        .await
        .map_err(internal)?;
        return Ok(taken.rows_affected() == 1);
    }
    // A recovery code: used up by the first use.
    let used = sqlx::query(&format!(
        "UPDATE recovery_codes SET used_at = {} \
         WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
        at("+0 seconds")
    ))
    .bind(user_id)
    .bind(sha256_hex(&code.to_lowercase()))
    .execute(&accounts.pool)
    .await
    .map_err(internal)?;
    Ok(used.rows_affected() == 1)
}
