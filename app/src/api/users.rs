//! Users, roles, passwords and one's own sessions:
//! `GET/POST /api/users`, `POST /api/users/update` (admin);
//! `POST /api/me/password`, `GET /api/me/sessions`, `POST /api/me/sessions/end`
//! (every user, for themselves).

use leptos::server;
use leptos::server_fn::codec::{GetUrl, Json};
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::audit::{AuditAction as A, Target};
use super::{auth::Role, ApiError};

/// A user as the users page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub must_change_password: bool,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// One login session of the current user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// A number that names the session (not its secret).
    pub id: i64,
    pub created_at: String,
    pub last_seen: String,
    pub client: Option<String>,
    /// The session this request comes from.
    pub current: bool,
}

/// An API token, as its owner sees it (never its secret after creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    /// The most it may do; it acts with the lower of this and its user's role.
    pub role: Role,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked: bool,
}

/// A new token: its details and, this once, the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    #[serde(flatten)]
    pub info: TokenInfo,
    /// `Authorization: Bearer <token>`. Shown this once.
    pub token: String,
}

/// Checks an expiry time: RFC 3339 UTC like `2027-01-31T00:00:00Z`, in the future.
pub fn validate_expiry(t: &str, now: &str) -> Result<String, ApiError> {
    use super::validate::{parse_time, utc_text};
    let Some(expiry) = parse_time(t).filter(|_| t.len() <= 40) else {
        return Err(ApiError::BadRequest(format!(
            "{:?} is not a time like 2027-01-31T00:00:00Z (RFC 3339)",
            super::clip(t)
        )));
    };
    if parse_time(now).is_some_and(|now| expiry <= now) {
        return Err(ApiError::BadRequest(
            "the expiry must be in the future".into(),
        ));
    }
    Ok(utc_text(expiry))
}

/// Two-factor enrolment: scan the QR code (or type the secret) into an
/// authenticator app, then confirm with a code from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpSetup {
    /// Base32, for typing in.
    pub secret: String,
    pub otpauth_url: String,
    /// The `otpauth://` URL as an SVG QR code.
    pub qr_svg: String,
}

/// A change to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserUpdate {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// A new password, set by an admin: the user must change it at next login.
    pub password: Option<String>,
    /// Turn the user's two-factor login off (a lost phone); they set it up
    /// again at their next login if admins must have it.
    pub reset_totp: bool,
}

/// User names: 1–64 letters, digits, `.`, `_`, `-`.
pub fn validate_username(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "{:?} is not a user name: use 1 to 64 letters, digits, '.', '_' or '-'",
            super::clip(name)
        )))
    }
}

/// Passwords: at least 12 characters, at most 1024 bytes, not the user name.
pub fn validate_password(username: &str, password: &str) -> Result<(), ApiError> {
    if password.chars().count() < 12 {
        return Err(ApiError::BadRequest(
            "the password must have at least 12 characters".into(),
        ));
    }
    if password.len() > 1024 {
        return Err(ApiError::BadRequest(
            "the password must have at most 1024 bytes".into(),
        ));
    }
    if password.trim().eq_ignore_ascii_case(username) {
        return Err(ApiError::BadRequest(
            "the password must not be the user name".into(),
        ));
    }
    Ok(())
}

/// Every user (admin).
#[server(prefix = "/api", endpoint = "users", input = GetUrl, output = crate::api::JsonText)]
pub async fn list_users() -> Result<Vec<UserInfo>, ApiError> {
    super::ssr::authorized_as(Role::Admin, |ctx| async move {
        ctx.services.accounts.users().await
    })
    .await
}

/// Creates a user (admin). They must change the password at first login.
#[server(name = CreateUser, prefix = "/api", endpoint = "users", input = Json, output = crate::api::JsonText)]
pub async fn create_user(
    username: String,
    password: String,
    role: String,
) -> Result<UserInfo, ApiError> {
    super::ssr::authorized_as(Role::Admin, |ctx| async move {
        ctx.audited(A::UserCreate, Target::user(&username), async {
            validate_username(&username)?;
            let role = Role::parse(&role)?;
            validate_password(&username, &password)?;
            ctx.services
                .accounts
                .create_user(&username, &password, role)
                .await
        })
        .await
    })
    .await
}

/// Changes a user's role, disables or enables them, or resets their password
/// (admin). Disabling or a new password ends the user's sessions.
#[server(name = UpdateUser, prefix = "/api", endpoint = "users/update", input = Json, output = crate::api::JsonText)]
pub async fn update_user(
    username: String,
    #[server(default)] role: Option<String>,
    #[server(default)] disabled: Option<bool>,
    #[server(default)] password: Option<String>,
    #[server(default)] reset_totp: bool,
) -> Result<UserInfo, ApiError> {
    super::ssr::authorized_as(Role::Admin, |ctx| async move {
        let what = match (&role, disabled, password.is_some()) {
            (_, Some(true), _) => A::UserDisable,
            (_, Some(false), _) => A::UserEnable,
            (Some(_), _, _) => A::UserRole,
            (None, None, false) if reset_totp => A::UserTotpReset,
            _ => A::UserPassword,
        };
        ctx.audited(what, Target::user(&username), async {
            validate_username(&username)?;
            let role = role.as_deref().map(Role::parse).transpose()?;
            if let Some(p) = &password {
                validate_password(&username, p)?;
            }
            if role.is_none() && disabled.is_none() && password.is_none() && !reset_totp {
                return Err(ApiError::BadRequest(
                    "nothing to change: give role, disabled, password or reset_totp".into(),
                ));
            }
            if username == ctx.user.username && reset_totp {
                return Err(ApiError::Conflict(
                    "turn your own two-factor login off on your Account page, with your password"
                        .into(),
                ));
            }
            if username == ctx.user.username && password.is_some() {
                return Err(ApiError::Conflict(
                    "change your own password on your Account page (POST /api/me/password), \
                     with the current one"
                        .into(),
                ));
            }
            if username == ctx.user.username
                && (disabled == Some(true) || role.is_some_and(|r| r != Role::Admin))
            {
                return Err(ApiError::Conflict(
                    "you cannot disable yourself or take away your own admin role".into(),
                ));
            }
            let update = UserUpdate {
                role,
                disabled,
                password: password.clone(),
                reset_totp,
            };
            ctx.services.accounts.update_user(&username, &update).await
        })
        .await
    })
    .await
}

/// Changes one's own password (the current one is required); ends one's
/// other sessions.
#[server(name = ChangePassword, prefix = "/api", endpoint = "me/password", input = Json, output = crate::api::JsonText)]
pub async fn change_password(current: String, new: String) -> Result<(), ApiError> {
    super::ssr::authorized_for_password_change(|ctx| async move {
        ctx.audited(A::UserPassword, Target::user(&ctx.user.username), async {
            validate_password(&ctx.user.username, &new)?;
            if current == new {
                return Err(ApiError::BadRequest(
                    "the new password must differ from the current one".into(),
                ));
            }
            ctx.services
                .accounts
                .change_password(ctx.user.id, &current, &new, ctx.sid.as_deref())
                .await
        })
        .await
    })
    .await
}

/// One's own sessions, newest first.
#[server(name = MySessions, prefix = "/api", endpoint = "me/sessions", input = GetUrl, output = crate::api::JsonText)]
pub async fn my_sessions() -> Result<Vec<SessionInfo>, ApiError> {
    super::ssr::authorized_for_password_change(|ctx| async move {
        ctx.services
            .accounts
            .sessions(ctx.user.id, ctx.sid.as_deref())
            .await
    })
    .await
}

/// Ends one of one's own sessions (its pages go to the login page).
#[server(name = EndSession, prefix = "/api", endpoint = "me/sessions/end", input = Json, output = crate::api::JsonText)]
pub async fn end_session(id: i64) -> Result<(), ApiError> {
    super::ssr::authorized_for_password_change(|ctx| async move {
        ctx.audited(
            A::SessionEnd,
            Target::session(id, &ctx.user.username),
            ctx.services.accounts.end_session(ctx.user.id, id),
        )
        .await
    })
    .await
}

/// One's API tokens (session only: a token cannot manage tokens).
#[server(name = ListTokens, prefix = "/api", endpoint = "tokens", input = GetUrl, output = crate::api::JsonText)]
pub async fn list_tokens() -> Result<Vec<TokenInfo>, ApiError> {
    super::ssr::authorized(|ctx| async move { ctx.services.accounts.tokens(ctx.user.id).await })
        .await
}

/// Creates an API token with a role no higher than one's own and an
/// optional expiry. The answer holds the token, shown this once.
#[server(name = CreateToken, prefix = "/api", endpoint = "tokens", input = Json, output = crate::api::JsonText)]
pub async fn create_token(
    name: String,
    #[server(default)] role: Option<String>,
    #[server(default)] expires_at: Option<String>,
) -> Result<NewToken, ApiError> {
    super::ssr::authorized(|ctx| async move {
        ctx.audited(
            A::TokenCreate,
            Target::new_token(&name, &ctx.user.username),
            async {
                let name = name.trim().to_string();
                if name.is_empty()
                    || name.chars().count() > 64
                    || name.chars().any(char::is_control)
                {
                    return Err(ApiError::BadRequest(
                        "a token needs a name of 1 to 64 characters".into(),
                    ));
                }
                let role = match role.as_deref() {
                    Some(r) => Role::parse(r)?,
                    None => ctx.user.role,
                };
                if role > ctx.user.role {
                    return Err(ApiError::Forbidden(format!(
                        "a token cannot do more than you: your role is {}",
                        ctx.user.role
                    )));
                }
                ctx.services
                    .accounts
                    .create_token(ctx.user.id, &name, role, expires_at.as_deref())
                    .await
            },
        )
        .await
    })
    .await
}

/// Revokes one of one's tokens; it is refused from then on.
#[server(name = RevokeToken, prefix = "/api", endpoint = "tokens/revoke", input = Json, output = crate::api::JsonText)]
pub async fn revoke_token(id: i64) -> Result<(), ApiError> {
    super::ssr::authorized(|ctx| async move {
        ctx.audited(
            A::TokenRevoke,
            Target::token(id, &ctx.user.username),
            ctx.services.accounts.revoke_token(ctx.user.id, id),
        )
        .await
    })
    .await
}

/// Starts two-factor enrolment: a new secret, not yet in force. The password
/// is asked again: a session left open must not enrol someone else's phone.
#[server(name = TotpStart, prefix = "/api", endpoint = "me/totp/start", input = Json, output = crate::api::JsonText)]
pub async fn totp_start(password: String) -> Result<TotpSetup, ApiError> {
    super::ssr::authorized_for_password_change(|ctx| async move {
        let ok = ctx
            .services
            .accounts
            .verify_password(&ctx.user.username, &password)
            .await?;
        if ok.is_none() {
            return Err(ApiError::BadRequest("the password is wrong".into()));
        }
        ctx.services
            .accounts
            .totp_begin(ctx.user.id, &ctx.user.username)
            .await
    })
    .await
}

/// Confirms enrolment with a current code; answers ten single-use recovery
/// codes, shown this once. From then on logging in needs a code.
#[server(name = TotpConfirm, prefix = "/api", endpoint = "me/totp/confirm", input = Json, output = crate::api::JsonText)]
pub async fn totp_confirm(code: String) -> Result<Vec<String>, ApiError> {
    super::ssr::authorized_for_password_change(|ctx| async move {
        ctx.audited(
            A::UserTotpEnable,
            Target::user(&ctx.user.username),
            ctx.services.accounts.totp_confirm(ctx.user.id, code.trim()),
        )
        .await
    })
    .await
}

/// Turns two-factor login off (the password is required).
#[server(name = TotpDisable, prefix = "/api", endpoint = "me/totp/disable", input = Json, output = crate::api::JsonText)]
pub async fn totp_disable(password: String) -> Result<(), ApiError> {
    super::ssr::authorized(|ctx| async move {
        ctx.audited(
            A::UserTotpDisable,
            Target::user(&ctx.user.username),
            ctx.services.accounts.totp_disable(ctx.user.id, &password),
        )
        .await
    })
    .await
}

/// Site-wide security settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Admins must use two-factor login; one without it must set it up
    /// before doing anything else.
    pub require_totp_for_admins: bool,
}

/// The settings (admin).
#[server(name = GetSettings, prefix = "/api", endpoint = "settings", input = GetUrl, output = crate::api::JsonText)]
pub async fn get_settings() -> Result<Settings, ApiError> {
    super::ssr::authorized_as(Role::Admin, |ctx| async move {
        ctx.services.accounts.settings().await
    })
    .await
}

/// Changes the settings (admin). Requiring two-factor login for admins is
/// refused until the admin asking has it on (so as not to lock oneself out).
#[server(name = SetSettings, prefix = "/api", endpoint = "settings", input = Json, output = crate::api::JsonText)]
pub async fn set_settings(require_totp_for_admins: bool) -> Result<Settings, ApiError> {
    super::ssr::authorized_as(Role::Admin, |ctx| async move {
        ctx.audited(
            A::SettingsUpdate,
            Target::setting("require_totp_for_admins", require_totp_for_admins),
            async {
                if require_totp_for_admins && !ctx.user.totp {
                    return Err(ApiError::Conflict(
                        "turn on your own two-factor login first (Account page)".into(),
                    ));
                }
                let settings = Settings {
                    require_totp_for_admins,
                };
                ctx.services.accounts.set_settings(&settings).await?;
                Ok(settings)
            },
        )
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_passwords_are_checked() {
        assert!(validate_username("ops.team-1").is_ok());
        for bad in ["", "a b", "<x>", "ü", &"x".repeat(65)] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
        assert!(validate_password("alice", "correct horse battery").is_ok());
        assert!(validate_password("alice", "short").is_err());
        assert!(validate_password("alice-in-wonderland", "ALICE-IN-WONDERLAND").is_err());
        assert!(validate_password("alice", &"x".repeat(1025)).is_err());
    }

    #[test]
    fn expiry_times_are_checked() {
        let now = "2026-11-26T20:00:00.000Z";
        assert_eq!(
            validate_expiry("2027-01-31T00:00:00Z", now).as_deref(),
            Ok("2027-01-31T00:00:00Z")
        );
        // Any offset, kept in UTC (stored times compare as text).
        assert_eq!(
            validate_expiry("2027-01-31T01:30:00+01:00", now).as_deref(),
            Ok("2027-01-31T00:30:00Z")
        );
        assert!(validate_expiry("2020-01-31T00:00:00Z", now).is_err());
        for bad in [
            "tomorrow",
            "2027-01-31",
            "2027-0a-31T00:00:00Z",
            "2027-01-31T00:00:0é0Z",
            "é",
            "2027-02-30T00:00:00Z",
        ] {
            assert!(validate_expiry(bad, now).is_err(), "{bad}");
        }
    }
}
