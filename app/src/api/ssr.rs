//! Server-side helpers for the server functions: the request context, sessions,
//! and mapping errors to HTTP statuses.

use std::future::Future;

use axum::http::StatusCode;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use tower_sessions::Session;

use super::{
    audit::{AuditAction, Target},
    auth::{Role, SessionUser},
    ApiError,
};
use crate::backend::{AuditEntry, Outcome, Services};

/// The session key under which the logged-in user is stored.
pub const USER_KEY: &str = "user";
/// The session key of the session's row in virtdeck's own session index.
pub const SID_KEY: &str = "sid";
/// The session key of a login waiting for its second factor (user, since).
pub const PENDING_KEY: &str = "pending";
/// How long the second step of a login may wait.
const PENDING_SECS: u64 = 300;

/// The user of this request as the gate found them, fresh from the database
/// (role, disabled, forced password change), put into the request's
/// extensions by the gate.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: SessionUser,
    /// The session's id in the index; empty for a token.
    pub sid: String,
    /// The API token the request came with (`Authorization: Bearer`), if any.
    pub token: Option<i64>,
}

/// What an authorized server function gets to work with.
pub struct Ctx {
    pub user: SessionUser,
    pub services: Services,
    /// The client's address, for the audit log.
    pub client: Option<String>,
    /// This session's id in the session index.
    pub sid: Option<String>,
}

impl Ctx {
    /// Runs `work`, a mutating action, and writes its audit record; answers
    /// its result. Requests refused by `work` (malformed, not allowed) are
    /// recorded too: they are attempts.
    pub async fn audited<T>(
        &self,
        action: AuditAction,
        target: Target,
        work: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let result = work.await;
        self.audit(action, &target, &result).await;
        result
    }

    /// Writes one audit record for a mutating action and its outcome
    /// (`refused` when it was not allowed or not understood).
    pub async fn audit<T>(
        &self,
        action: AuditAction,
        target: &Target,
        result: &Result<T, ApiError>,
    ) {
        let message = result
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default();
        self.services
            .audit
            .write(AuditEntry {
                user: Some(&self.user.username),
                client: self.client.as_deref(),
                action: action.as_str(),
                target: target.as_str(),
                outcome: Outcome::of(result, &message),
            })
            .await;
    }
}

/// The header a login answer carries to the gate's throttle (which removes
/// it): the password was right but the code is still due…
pub const LOGIN_PENDING: &str = "pending";
/// …or the call guessed nothing (a code step without a pending login).
pub const LOGIN_UNCOUNTED: &str = "uncounted";
pub const LOGIN_HEADER: &str = "x-virtdeck-login";

/// Tells the gate's throttle how to count this login answer.
pub fn mark_login(how: &'static str) {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.insert_header(
            axum::http::HeaderName::from_static(LOGIN_HEADER),
            axum::http::HeaderValue::from_static(how),
        );
    }
}

/// The cookie of a known device (see `Accounts::verify_login`).
pub const DEVICE_COOKIE: &str = "virtdeck_device";

/// `Set-Cookie` for a device cookie: a year, this site only, not for scripts.
pub fn device_set_cookie(value: &str) -> String {
    format!("{DEVICE_COOKIE}={value}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Strict")
}

/// The device cookie in `headers`, if any.
pub fn device_in(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == DEVICE_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The device cookie of the current request, if any.
pub fn device_cookie() -> Option<String> {
    use_context::<axum::http::request::Parts>().and_then(|p| device_in(&p.headers))
}

/// After a complete login: this browser is a known device of `user_id` from
/// now on (a new cookie in the answer).
pub async fn remember_device(services: &Services, user_id: i64) {
    match services.accounts.remember_device(user_id).await {
        Ok(value) => {
            if let (Some(response), Ok(cookie)) = (
                use_context::<leptos_axum::ResponseOptions>(),
                axum::http::HeaderValue::from_str(&device_set_cookie(&value)),
            ) {
                response.append_header(axum::http::header::SET_COOKIE, cookie);
            }
        }
        Err(e) => tracing::warn!("cannot remember a device: {e}"),
    }
}

/// The address of the client of the current request, if known.
pub async fn client_address() -> Option<String> {
    leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .ok()
        .map(|axum::extract::ConnectInfo(addr)| addr.to_string())
}

/// `METHOD /path` of the current request, for the audit log.
fn request_line() -> String {
    use_context::<axum::http::request::Parts>()
        .map(|p| Target::request(p.method.as_str(), p.uri.path()).to_string())
        .unwrap_or_default()
}

/// The logged-in user of this request, as they are now.
pub async fn current(services: &Services) -> Result<Option<CurrentUser>, ApiError> {
    if let Some(found) = use_context::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<CurrentUser>().cloned())
    {
        return Ok(Some(found));
    }
    // Not through the gate (it always runs in the server): ask the index.
    let session = session().await?;
    let Some(sid) = session
        .get::<String>(SID_KEY)
        .await
        .map_err(session_error)?
    else {
        return Ok(None);
    };
    Ok(services
        .accounts
        .check_session(&sid)
        .await?
        .map(|user| CurrentUser {
            user,
            sid,
            token: None,
        }))
}

/// Runs `f` for any logged-in user; refuses with 401 otherwise.
pub async fn authorized<T, F, Fut>(f: F) -> Result<T, ApiError>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    authorized_as(Role::Viewer, f).await
}

/// Runs `f` for a user whose role is at least `role`: 401 without a session,
/// 403 (audited) for a lower role or while the password must be changed.
pub async fn authorized_as<T, F, Fut>(role: Role, f: F) -> Result<T, ApiError>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    check(role, true, f).await
}

/// Like `authorized`, also while the password must be changed: what the
/// password change itself needs.
pub async fn authorized_for_password_change<T, F, Fut>(f: F) -> Result<T, ApiError>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    check(Role::Viewer, false, f).await
}

async fn check<T, F, Fut>(role: Role, password_ok: bool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    respond(
        async {
            let services = services()?;
            let CurrentUser { user, sid, .. } = current(&services)
                .await?
                .ok_or_else(ApiError::unauthorized)?;
            let client = client_address().await;
            let refusal = if let Some(step) = user.pending_step().filter(|_| password_ok) {
                Some(ApiError::Forbidden(step.into()))
            } else if !user.can(role) {
                Some(ApiError::Forbidden(format!(
                    "your role ({}) cannot do this; it needs {role}",
                    user.role
                )))
            } else {
                None
            };
            if let Some(error) = refusal {
                services
                    .audit
                    .write(AuditEntry {
                        user: Some(&user.username),
                        client: client.as_deref(),
                        action: AuditAction::Request.as_str(),
                        target: &request_line(),
                        outcome: Outcome::Refused(error.message()),
                    })
                    .await;
                return Err(error);
            }
            f(Ctx {
                user,
                services,
                client,
                sid: Some(sid).filter(|s| !s.is_empty()),
            })
            .await
        }
        .await,
    )
}

/// Sets the HTTP status of an error response; passes the result through.
pub fn respond<T>(result: Result<T, ApiError>) -> Result<T, ApiError> {
    if let Err(e) = &result {
        set_status(e);
    }
    result
}

pub fn set_status(e: &ApiError) {
    if let Some(opts) = use_context::<ResponseOptions>() {
        opts.set_status(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        );
        if let Some(secs) = e.retry_after_secs() {
            opts.insert_header(axum::http::header::RETRY_AFTER, secs.into());
        }
    }
}

pub fn services() -> Result<Services, ApiError> {
    use_context::<Services>().ok_or_else(|| {
        tracing::error!("Services missing from the Leptos context");
        ApiError::internal()
    })
}

async fn session() -> Result<Session, ApiError> {
    leptos_axum::extract::<Session>().await.map_err(|e| {
        tracing::error!("no session layer on this request: {e}");
        ApiError::internal()
    })
}

fn session_error(e: tower_sessions::session::Error) -> ApiError {
    tracing::error!("session store: {e}");
    ApiError::internal()
}

/// Logs `user` in: a new session id (no fixation), a new row in the session
/// index, then the user.
pub async fn start_session(
    services: &Services,
    user: &SessionUser,
    client: Option<&str>,
) -> Result<(), ApiError> {
    let sid = services.accounts.start_session(user.id, client).await?;
    let session = session().await?;
    session.cycle_id().await.map_err(session_error)?;
    let _ = session.remove_value(PENDING_KEY).await;
    session
        .insert(USER_KEY, user)
        .await
        .map_err(session_error)?;
    session.insert(SID_KEY, &sid).await.map_err(session_error)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Password right, second factor to come: the session holds only that.
pub async fn start_pending(user: &SessionUser) -> Result<(), ApiError> {
    let session = session().await?;
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(PENDING_KEY, (user, unix_now()))
        .await
        .map_err(session_error)
}

/// The user waiting for the second step, if it has not waited too long.
pub async fn pending_user() -> Result<Option<SessionUser>, ApiError> {
    let session = session().await?;
    let pending: Option<(SessionUser, u64)> =
        session.get(PENDING_KEY).await.map_err(session_error)?;
    Ok(pending
        .filter(|(_, since)| unix_now().saturating_sub(*since) <= PENDING_SECS)
        .map(|(user, _)| user))
}

/// Ends the session; returns who was logged in.
pub async fn end_session(services: &Services) -> Result<Option<SessionUser>, ApiError> {
    let session = session().await?;
    let user = session
        .get::<SessionUser>(USER_KEY)
        .await
        .map_err(session_error)?;
    if let Some(sid) = session
        .get::<String>(SID_KEY)
        .await
        .map_err(session_error)?
    {
        services.accounts.forget_session(&sid).await?;
    }
    session.flush().await.map_err(session_error)?;
    Ok(user)
}
