//! The login gate: every route but the login page, the login call and static
//! files needs a session. Pages redirect to `/login?next=…`; the API and the
//! WebSocket answer 401 with the API's JSON error.

use crate::startup::AppState;
use app::{
    api::{
        access::{self, Access},
        audit::{AuditAction, Target},
        auth::SessionUser,
        ssr::{CurrentUser, PENDING_KEY, SID_KEY, USER_KEY},
        ApiError,
    },
    backend::{AuditEntry, Outcome},
};
use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use tower_sessions::{
    cookie::{time::Duration, SameSite},
    Expiry, SessionManagerLayer, SessionStore,
};

/// Sessions end after this long without a request.
pub const IDLE_TIMEOUT_HOURS: i64 = 12;

pub fn session_layer<S: SessionStore + Clone>(store: S, secure: bool) -> SessionManagerLayer<S> {
    SessionManagerLayer::new(store)
        .with_name("virtdeck_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(Duration::hours(IDLE_TIMEOUT_HOURS)))
}

/// Reachable without a session.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/login"
            | "/login/totp"
            | "/api/login"
            | "/api/login/totp"
            | "/favicon.ico"
            | "/favicon.svg"
            | "/robots.txt"
    ) || path.starts_with("/pkg/")
}

/// The client's address, when the server was started with connect info.
pub fn client_of(req: &Request) -> Option<std::net::SocketAddr> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0)
}

/// Could the request change something? (`/ws` and the consoles under `/ws/`
/// count: they carry the session.)
fn is_mutating(req: &Request) -> bool {
    !matches!(
        req.method(),
        &Method::GET | &Method::HEAD | &Method::OPTIONS
    ) || is_socket(req.uri().path())
}

/// `/ws` and the consoles' sockets under `/ws/`: API endpoints, not pages.
fn is_socket(path: &str) -> bool {
    path == "/ws" || path.starts_with("/ws/")
}

/// Sent by virtdeck's own pages, or by a script (no browser metadata at all)?
/// A browser always sends `Origin` with a cross-origin POST, and
/// `Sec-Fetch-Site` with every request; another site's page — even on the
/// same host, another port — fails one of the two.
pub fn from_our_pages(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    if headers.contains_key(header::ORIGIN) {
        return same_origin(headers, public_origin);
    }
    match headers
        .get("sec-fetch-site")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => true,
        Some(site) => matches!(site, "same-origin" | "none"),
    }
}

/// JSON bodies only for the API's POSTs: a form of another site can send
/// `text/plain` or form data without asking, never `application/json`.
/// Volume uploads carry the volume's bytes and are checked by `from_our_pages`.
fn body_type_ok(req: &Request) -> bool {
    let path = req.uri().path();
    if req.method() != Method::POST || !path.starts_with("/api/") || path == "/api/volumes/upload" {
        return true;
    }
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

fn is_login(req: &Request) -> bool {
    req.method() == Method::POST
        && matches!(
            req.uri().path(),
            "/api/login" | "/login" | "/api/login/totp" | "/login/totp"
        )
}

/// A response marker: the login form's post had a wrong password.
#[derive(Clone, Copy)]
pub struct LoginFailed;

/// Set on a form login's answer when the password was right and the code is
/// still due: the address's failures are not forgiven yet.
#[derive(Clone, Copy)]
pub struct LoginPending;

/// Every request passes here: the cross-site and body checks for anything
/// that can change state, login throttling, and the session check. Refused
/// API and socket requests are written to the audit log.
pub async fn gate(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    req: Request,
    next: Next,
) -> Response {
    let client = client_of(&req);
    let what = Target::request(req.method().as_str(), req.uri().path()).to_string();
    let refuse_as = |status: StatusCode, action: AuditAction, error: ApiError| {
        let audit = state.services.audit.clone();
        let client = client.map(|c| c.to_string());
        let what = what.clone();
        async move {
            audit
                .write(AuditEntry {
                    user: None,
                    client: client.as_deref(),
                    action: action.as_str(),
                    target: &what,
                    outcome: Outcome::Refused(error.message()),
                })
                .await;
            (status, error).into_response()
        }
    };
    let bearer = bearer_token(req.headers()).map(str::to_owned);
    // A token carries no cookie: another site's page cannot make a browser
    // send it, so the cross-site check is for cookie sessions only.
    if bearer.is_none()
        && is_mutating(&req)
        && !from_our_pages(req.headers(), state.public_origin.as_deref())
    {
        let error =
            ApiError::Forbidden("refused: this request came from a page of another site".into());
        return refuse_as(StatusCode::FORBIDDEN, AuditAction::Request, error).await;
    }
    if !body_type_ok(&req) {
        let error = ApiError::BadRequest(
            "send the request body as JSON, with content-type: application/json".into(),
        );
        return refuse_as(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AuditAction::Request,
            error,
        )
        .await;
    }
    if is_login(&req) {
        let ip = client.map(|c| c.ip());
        if let Some(wait) = ip.and_then(|ip| state.throttle.check(&ip).err()) {
            let secs = wait.as_secs() + 1;
            let error = ApiError::TooManyRequests(format!(
                "too many failed logins from this address; try again in {secs} s"
            ));
            let mut resp =
                refuse_as(StatusCode::TOO_MANY_REQUESTS, AuditAction::Login, error).await;
            resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
            return resp;
        }
        let mut resp = next.run(req).await;
        let how = resp
            .headers_mut()
            .remove(app::api::ssr::LOGIN_HEADER)
            .and_then(|v| v.to_str().ok().map(str::to_string));
        let pending = how.as_deref() == Some(app::api::ssr::LOGIN_PENDING)
            || resp.extensions().get::<LoginPending>().is_some();
        let uncounted = how.as_deref() == Some(app::api::ssr::LOGIN_UNCOUNTED);
        if let Some(ip) = ip {
            if uncounted || pending {
                // A code is still due, or nothing was tried: no change.
            } else if resp.status() == StatusCode::UNAUTHORIZED
                || resp.extensions().get::<LoginFailed>().is_some()
            {
                state.throttle.failed(&ip);
            } else if resp.status().is_success() || resp.status().is_redirection() {
                state.throttle.succeeded(&ip);
            }
        }
        return with_retry_after(resp);
    }
    let path = req.uri().path().to_owned();
    if is_public(&path) {
        return next.run(req).await;
    }
    let mut req = req;
    let found = match &bearer {
        Some(token) => match state.services.accounts.check_token(token).await {
            Ok(Some((user, id))) => {
                if let Some(error) = token_refusal(req.method().as_str(), &path) {
                    let mut resp =
                        refuse_as(StatusCode::FORBIDDEN, AuditAction::Request, error).await;
                    resp.headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    return resp;
                }
                Ok(Some(CurrentUser {
                    user,
                    sid: String::new(),
                    token: Some(id),
                }))
            }
            Ok(None) => {
                let error = ApiError::Unauthorized(
                    "this API token is unknown, revoked or expired, or its user is disabled".into(),
                );
                return refuse_as(StatusCode::UNAUTHORIZED, AuditAction::Request, error).await;
            }
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        },
        None => current_user(&state, &session).await,
    };
    match found {
        Ok(Some(current)) => {
            // Until the password is changed, pages lead to the Account page.
            let page = !path.starts_with("/api/") && !is_socket(&path);
            if current.user.must_change_password && page && path != "/account" {
                return Redirect::to("/account?must_change=1").into_response();
            }
            if current.user.must_enrol_totp && page && path != "/account" {
                return Redirect::to("/account?enrol_totp=1").into_response();
            }
            if !page {
                if let Some(error) = access_refusal(req.method().as_str(), &path, &current.user) {
                    state
                        .services
                        .audit
                        .write(AuditEntry {
                            user: Some(&current.user.username),
                            client: client.map(|c| c.to_string()).as_deref(),
                            action: AuditAction::Request.as_str(),
                            target: &what,
                            outcome: Outcome::Refused(error.message()),
                        })
                        .await;
                    return error.into_response();
                }
            }
            req.extensions_mut().insert(current);
            with_retry_after(next.run(req).await)
        }
        Ok(None) if path.starts_with("/api/") || is_socket(&path) => {
            let mut resp = refuse_as(
                StatusCode::UNAUTHORIZED,
                AuditAction::Request,
                ApiError::unauthorized(),
            )
            .await;
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Ok(None) => to_login(&req),
        Err(e) => {
            tracing::error!("session store: {e}");
            ApiError::internal().into_response()
        }
    }
}

/// `Authorization: Bearer <token>`, if the request has one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// What a token may never do: manage tokens, passwords or sessions, nor
/// users (their passwords, roles, two-factor login): those need the person,
/// logged in. A stolen admin token must not become the admin's account.
fn token_refusal(method: &str, path: &str) -> Option<ApiError> {
    let personal = path.starts_with("/api/tokens")
        || path.starts_with("/api/me/password")
        || path.starts_with("/api/me/totp")
        || path.starts_with("/api/me/sessions");
    let users = method != "GET" && path.starts_with("/api/users");
    (personal || users).then(|| {
        ApiError::Forbidden(
            "an API token cannot manage users, tokens, passwords or sessions: log in".into(),
        )
    })
}

/// Why `user` may not call `method path` (`app::api::access`), if they may not.
/// Checked before the request is parsed, so a refused call never reaches the
/// code behind it; an endpoint without a rule is refused to everyone.
fn access_refusal(method: &str, path: &str, user: &SessionUser) -> Option<ApiError> {
    match access::required(method, path) {
        None => {
            let endpoint = axum::http::Method::from_bytes(method.as_bytes())
                .ok()
                .and_then(|m| leptos::server_fn::axum::get_server_fn_service(path, m))
                .is_some();
            endpoint.then(|| {
                tracing::error!("{method} {path} has no rule in app::api::access: refused");
                ApiError::Forbidden("this endpoint has no access rule yet".into())
            })
        }
        Some(Access::Public | Access::PasswordChange) => None,
        Some(Access::Role(_)) if user.pending_step().is_some() => user
            .pending_step()
            .map(|step| ApiError::Forbidden(step.into())),
        Some(Access::Role(role)) if !user.can(role) => Some(ApiError::Forbidden(format!(
            "your role ({}) cannot do this; it needs {role}",
            user.role
        ))),
        Some(Access::Role(_)) => None,
    }
}

/// The session's user as they are now (role, disabled, session ended…);
/// `None` when not logged in any more, and then the session is cleared.
async fn current_user(
    state: &AppState,
    session: &tower_sessions::Session,
) -> Result<Option<CurrentUser>, tower_sessions::session::Error> {
    let Some(sid) = session.get::<String>(SID_KEY).await? else {
        return Ok(None);
    };
    match state.services.accounts.check_session(&sid).await {
        Ok(Some(user)) => Ok(Some(CurrentUser {
            user,
            sid,
            token: None,
        })),
        Ok(None) => {
            session.flush().await?;
            Ok(None)
        }
        Err(_) => Err(tower_sessions::session::Error::Store(
            tower_sessions::session_store::Error::Backend("the session index".into()),
        )),
    }
}

/// A 429 (the hashing queue is full) says when to come back.
fn with_retry_after(mut resp: Response) -> Response {
    if resp.status() == StatusCode::TOO_MANY_REQUESTS
        && !resp.headers().contains_key(header::RETRY_AFTER)
    {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

fn to_login(req: &Request) -> Response {
    let wanted = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    Redirect::to(&format!("/login?next={}", encode_component(wanted))).into_response()
}

/// Percent-encodes everything but unreserved characters.
fn encode_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Does the request come from virtdeck's own pages? A request without an
/// `Origin` header (a script, curl) is not a cross-site one and passes; a
/// browser's `Origin` must be this server's own address: the request's `Host`,
/// or `public_url` when configured (behind a proxy).
pub fn same_origin(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim().to_ascii_lowercase();
    if public_origin.is_some_and(|p| p == origin) {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.trim().to_ascii_lowercase());
    match (origin.split_once("://"), host) {
        (Some((scheme, authority)), Some(host)) => {
            matches!(scheme, "http" | "https") && authority == host
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::same_origin;
    use axum::http::HeaderMap;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", host.parse().unwrap());
        if let Some(o) = origin {
            h.insert("origin", o.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_our_own_origin_passes() {
        assert!(
            same_origin(&headers(None, "127.0.0.1:3000"), None),
            "scripts send none"
        );
        assert!(same_origin(
            &headers(Some("http://127.0.0.1:3000"), "127.0.0.1:3000"),
            None
        ));
        assert!(!same_origin(
            &headers(Some("http://127.0.0.1:4000"), "127.0.0.1:3000"),
            None
        ));
        assert!(!same_origin(
            &headers(Some("https://evil.example"), "127.0.0.1:3000"),
            None
        ));
        assert!(!same_origin(&headers(Some("null"), "127.0.0.1:3000"), None));
        let public = Some("https://virtdeck.example.org");
        assert!(same_origin(
            &headers(Some("https://virtdeck.example.org"), "10.0.0.5:3000"),
            public
        ));
    }
}

/// The login form's fields, as a plain (not yet hydrated) page posts them.
#[derive(serde::Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /login`: the login page before its wasm has loaded. Only from
/// virtdeck's own page (its `Origin`, or `Sec-Fetch-Site: same-origin`);
/// answers with a redirect: to `next` when logged in, back to the form when not.
pub async fn login_form(
    axum::extract::State(state): axum::extract::State<crate::startup::AppState>,
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
    session: tower_sessions::Session,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let client = Some(client);
    let same_site_fetch =
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("same-origin");
    let origin_ok = headers.contains_key(header::ORIGIN)
        && same_origin(&headers, state.public_origin.as_deref());
    let audit = &state.services.audit;
    let target = Target::user(&form.username);
    if !(origin_ok || same_site_fetch) {
        audit
            .record(
                None,
                AuditAction::Login.as_str(),
                target.as_str(),
                Err("refused: the form was not posted by virtdeck's own page"),
            )
            .await;
        return (
            StatusCode::FORBIDDEN,
            "This form only accepts posts from virtdeck's own login page.",
        )
            .into_response();
    }
    let next = app::api::auth::safe_next(form.next.as_deref());
    let back = format!("/login?failed=1&next={}", encode_component(&next));
    if form.username.is_empty() || form.username.len() > 128 || form.password.len() > 1024 {
        return Redirect::to(&back).into_response();
    }
    match state
        .services
        .accounts
        .verify_login(
            &form.username,
            &form.password,
            app::api::ssr::device_in(&headers).as_deref(),
        )
        .await
    {
        Ok(Some(user)) if user.totp => {
            // The second step: the page asks for the code.
            let pending = async {
                session.cycle_id().await?;
                session.insert(PENDING_KEY, (&user, unix_now())).await
            }
            .await;
            if let Err(e) = pending {
                tracing::error!("session store: {e}");
                return ApiError::internal().into_response();
            }
            let mut resp = Redirect::to(&format!("/login?totp=1&next={}", encode_component(&next)))
                .into_response();
            resp.extensions_mut().insert(LoginPending);
            resp
        }
        Ok(Some(user)) => {
            let client = client.map(|c| c.to_string());
            let sid = match state
                .services
                .accounts
                .start_session(user.id, client.as_deref())
                .await
            {
                Ok(sid) => sid,
                Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
            };
            let started = async {
                session.cycle_id().await?;
                session.insert(USER_KEY, &user).await?;
                session.insert(SID_KEY, &sid).await
            }
            .await;
            if let Err(e) = started {
                tracing::error!("session store: {e}");
                return ApiError::internal().into_response();
            }
            audit
                .record(
                    Some(&user),
                    AuditAction::Login.as_str(),
                    Target::user(&user.username).as_str(),
                    Ok(()),
                )
                .await;
            with_device(&state, user.id, Redirect::to(&next).into_response()).await
        }
        Ok(None) => {
            audit
                .record(
                    None,
                    AuditAction::Login.as_str(),
                    target.as_str(),
                    Err("wrong username or password"),
                )
                .await;
            let mut resp = Redirect::to(&back).into_response();
            resp.extensions_mut().insert(LoginFailed);
            resp
        }
        Err(e) => e.into_response(),
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The code form's fields, as a plain page posts them.
#[derive(serde::Deserialize)]
pub struct CodeForm {
    code: String,
    #[serde(default)]
    next: Option<String>,
}

/// After a complete login from the form: the browser's new device cookie.
async fn with_device(
    state: &crate::startup::AppState,
    user_id: i64,
    mut resp: Response,
) -> Response {
    match state.services.accounts.remember_device(user_id).await {
        Ok(value) => {
            if let Ok(cookie) = HeaderValue::from_str(&app::api::ssr::device_set_cookie(&value)) {
                resp.headers_mut().append(header::SET_COOKIE, cookie);
            }
        }
        Err(e) => tracing::warn!("cannot remember a device: {e}"),
    }
    resp
}

/// `POST /login/totp`: the second step of the plain login form.
pub async fn login_totp_form(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
    session: tower_sessions::Session,
    axum::Form(form): axum::Form<CodeForm>,
) -> Response {
    let next = app::api::auth::safe_next(form.next.as_deref());
    let pending: Option<(SessionUser, u64)> = session.get(PENDING_KEY).await.ok().flatten();
    let Some((user, since)) = pending.filter(|(_, t)| unix_now().saturating_sub(*t) <= 300) else {
        // Nothing was guessed without a pending login: not counted either way.
        let mut resp =
            Redirect::to(&format!("/login?next={}", encode_component(&next))).into_response();
        resp.extensions_mut().insert(LoginPending);
        return resp;
    };
    let _ = since;
    let client = client.to_string();
    let ok = form.code.len() <= 64
        && state
            .services
            .accounts
            .totp_verify(user.id, &form.code)
            .await
            .unwrap_or(false);
    let audit = &state.services.audit;
    let target = Target::user(&user.username);
    if !ok {
        audit
            .write(AuditEntry {
                user: Some(&user.username),
                client: Some(&client),
                action: AuditAction::LoginTotp.as_str(),
                target: target.as_str(),
                outcome: Outcome::Failed("wrong or used code"),
            })
            .await;
        let mut resp = Redirect::to(&format!(
            "/login?totp=1&failed=1&next={}",
            encode_component(&next)
        ))
        .into_response();
        resp.extensions_mut().insert(LoginFailed);
        return resp;
    }
    let sid = match state
        .services
        .accounts
        .start_session(user.id, Some(&client))
        .await
    {
        Ok(sid) => sid,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    };
    let started = async {
        session.cycle_id().await?;
        session.remove_value(PENDING_KEY).await?;
        session.insert(USER_KEY, &user).await?;
        session.insert(SID_KEY, &sid).await
    }
    .await;
    if let Err(e) = started {
        tracing::error!("session store: {e}");
        return ApiError::internal().into_response();
    }
    audit
        .write(AuditEntry {
            user: Some(&user.username),
            client: Some(&client),
            action: AuditAction::Login.as_str(),
            target: target.as_str(),
            outcome: Outcome::Ok,
        })
        .await;
    with_device(&state, user.id, Redirect::to(&next).into_response()).await
}
