//! Sessions: `POST /api/login`, `POST /api/logout`, `GET /api/me`.

use leptos::server;
use leptos::server_fn::codec::{GetUrl, Json};
use serde::{Deserialize, Serialize};
use strum::{AsRefStr, Display, EnumIter, EnumString, IntoStaticStr, VariantArray};

use super::{validate::variants, ApiError};

/// What a user may do. Ordered: each role can do everything of the ones
/// before it.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Display,
    EnumIter,
    EnumString,
    IntoStaticStr,
    AsRefStr,
    VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Role {
    /// Reads everything but host URIs; changes nothing.
    #[default]
    Viewer,
    /// Guest, storage and migration actions.
    Operator,
    /// Everything, including users and the audit log.
    Admin,
}

impl Role {
    /// Lowest first.
    pub const ALL: [Role; 3] = variants(Role::VARIANTS);

    /// The wire name (`viewer`, `operator`, `admin`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Result<Role, ApiError> {
        s.parse().map_err(|_| {
            ApiError::BadRequest(format!(
                "{:?} is not a role: use admin, operator or viewer",
                super::clip(s)
            ))
        })
    }
}

/// The logged-in user, as shown in the UI. The role and the forced password
/// change are read from the database at every request, so that a change by
/// an admin applies at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: i64,
    pub username: String,
    #[serde(default)]
    pub role: Role,
    /// The password must be changed before anything else can be done.
    #[serde(default)]
    pub must_change_password: bool,
    /// Logging in needs a code from an authenticator app too.
    #[serde(default)]
    pub totp: bool,
    /// Two-factor login is required for admins and this admin has none yet:
    /// setting it up comes before anything else.
    #[serde(default)]
    pub must_enrol_totp: bool,
}

/// What `POST /api/login` answers: the user, or that a code is needed
/// next (`POST /api/login/totp`); until then the login can do nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LoginAnswer {
    Done(SessionUser),
    Pending { totp_required: bool },
}

impl SessionUser {
    pub fn can(&self, role: Role) -> bool {
        self.role >= role
    }

    /// What must be done before anything else, if anything.
    pub fn pending_step(&self) -> Option<&'static str> {
        if self.must_change_password {
            Some("change your password first (Account page, or POST /api/me/password)")
        } else if self.must_enrol_totp {
            Some("set up two-factor login first: it is required for admins (Account page)")
        } else {
            None
        }
    }
}

/// Where to go after logging in: `next` when it is a path on this site, else
/// the guest list. Percent-escapes are decoded before checking, so that
/// `/%09/evil.example` (which a browser turns into `//evil.example`) or
/// `/\evil.example` never leads to another site.
pub fn safe_next(next: Option<&str>) -> String {
    let fallback = || "/guests".to_string();
    let Some(next) = next else {
        return fallback();
    };
    let bytes = next.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => {
                    decoded.push(b);
                    i += 3;
                    continue;
                }
                None => return fallback(),
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    let Ok(decoded) = String::from_utf8(decoded) else {
        return fallback();
    };
    // Browsers drop tabs and newlines from URLs, and read '\\' as '/'.
    let squeezed: String = decoded.chars().filter(|c| !c.is_control()).collect();
    let ok = next.len() <= 2048
        && squeezed.starts_with('/')
        && !squeezed.starts_with("//")
        && !squeezed.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        next.to_string()
    } else {
        fallback()
    }
}

/// Checks the password and starts a session (the session id changes at login).
#[server(prefix = "/api", endpoint = "login", input = Json, output = crate::api::JsonText)]
pub async fn login(username: String, password: String) -> Result<LoginAnswer, ApiError> {
    use super::{
        audit::{AuditAction, Target},
        ssr,
    };
    use crate::backend::{AuditEntry, Outcome};
    ssr::respond(
        async {
            let services = ssr::services()?;
            if username.is_empty() || username.len() > 128 || password.len() > 1024 {
                return Err(ApiError::BadRequest(
                "a username (at most 128 characters) and a password (at most 1024) are required"
                    .into(),
            ));
            }
            let user = services
                .accounts
                .verify_login(&username, &password, ssr::device_cookie().as_deref())
                .await?;
            let client = ssr::client_address().await;
            let Some(user) = user else {
                services
                    .audit
                    .write(AuditEntry {
                        user: None,
                        client: client.as_deref(),
                        action: AuditAction::Login.as_str(),
                        target: Target::user(&username).as_str(),
                        outcome: Outcome::Failed("wrong username or password"),
                    })
                    .await;
                return Err(ApiError::Unauthorized("wrong username or password".into()));
            };
            if user.totp {
                // Half logged in: the session can do nothing but send the code.
                ssr::start_pending(&user).await?;
                // Not a login yet: the address's failures are not forgiven.
                ssr::mark_login(ssr::LOGIN_PENDING);
                return Ok(LoginAnswer::Pending {
                    totp_required: true,
                });
            }
            ssr::start_session(&services, &user, client.as_deref()).await?;
            ssr::remember_device(&services, user.id).await;
            services
                .audit
                .write(AuditEntry {
                    user: Some(&user.username),
                    client: client.as_deref(),
                    action: AuditAction::Login.as_str(),
                    target: Target::user(&user.username).as_str(),
                    outcome: Outcome::Ok,
                })
                .await;
            Ok(LoginAnswer::Done(user))
        }
        .await,
    )
}

/// The second step of a login with two-factor authentication: a code from
/// the authenticator app, or one of the recovery codes (each works once).
#[server(name = LoginTotp, prefix = "/api", endpoint = "login/totp", input = Json, output = crate::api::JsonText)]
pub async fn login_totp(code: String) -> Result<SessionUser, ApiError> {
    use super::{
        audit::{AuditAction, Target},
        ssr,
    };
    use crate::backend::{AuditEntry, Outcome};
    ssr::respond(
        async {
            let services = ssr::services()?;
            let client = ssr::client_address().await;
            let Some(user) = ssr::pending_user().await? else {
                // Nothing was guessed: not counted as a failed login.
                ssr::mark_login(ssr::LOGIN_UNCOUNTED);
                return Err(ApiError::Unauthorized(
                    "log in with your password first (the code step lasts 5 minutes)".into(),
                ));
            };
            let ok = code.len() <= 64 && services.accounts.totp_verify(user.id, &code).await?;
            let target = Target::user(&user.username);
            if !ok {
                services
                    .audit
                    .write(AuditEntry {
                        user: Some(&user.username),
                        client: client.as_deref(),
                        action: AuditAction::LoginTotp.as_str(),
                        target: target.as_str(),
                        outcome: Outcome::Failed("wrong or used code"),
                    })
                    .await;
                return Err(ApiError::Unauthorized(
                    "that code is wrong or was used already".into(),
                ));
            }
            ssr::start_session(&services, &user, client.as_deref()).await?;
            ssr::remember_device(&services, user.id).await;
            services
                .audit
                .write(AuditEntry {
                    user: Some(&user.username),
                    client: client.as_deref(),
                    action: AuditAction::Login.as_str(),
                    target: target.as_str(),
                    outcome: Outcome::Ok,
                })
                .await;
            Ok(user)
        }
        .await,
    )
}

/// Ends the session. Logging out without a session is not an error.
#[server(prefix = "/api", endpoint = "logout", input = Json, output = crate::api::JsonText)]
pub async fn logout() -> Result<(), ApiError> {
    use super::{
        audit::{AuditAction, Target},
        ssr,
    };
    ssr::respond(
        async {
            let services = ssr::services()?;
            if let Some(user) = ssr::end_session(&services).await? {
                services
                    .audit
                    .record(
                        Some(&user),
                        AuditAction::Logout.as_str(),
                        Target::user(&user.username).as_str(),
                        Ok(()),
                    )
                    .await;
            }
            Ok(())
        }
        .await,
    )
}

/// The user of this session.
#[server(prefix = "/api", endpoint = "me", input = GetUrl, output = crate::api::JsonText)]
pub async fn current_user() -> Result<SessionUser, ApiError> {
    super::ssr::authorized_for_password_change(|ctx| async move { Ok(ctx.user) }).await
}

#[cfg(test)]
mod tests {
    use super::{safe_next, Role};

    #[test]
    fn roles_have_one_name_for_serde_and_strum() {
        assert_eq!(Role::ALL, [Role::Viewer, Role::Operator, Role::Admin]);
        for role in Role::ALL {
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert_eq!(
            Role::parse("Admin").unwrap_err().to_string(),
            "\"Admin\" is not a role: use admin, operator or viewer"
        );
    }

    #[test]
    fn only_paths_on_this_site_are_followed_after_login() {
        assert_eq!(safe_next(Some("/storage?host=a")), "/storage?host=a");
        assert_eq!(
            safe_next(Some("/storage/kvm1/default%2Bx")),
            "/storage/kvm1/default%2Bx"
        );
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/%09/evil.example",
            "/%2F/evil.example",
            "/%5Cevil.example",
            "https://evil.example",
            "evil.example",
            "/%zz",
            "/ /x",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/guests", "{bad}");
        }
        assert_eq!(safe_next(None), "/guests");
    }
}
