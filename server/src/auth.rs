//! The login gate: every route but the login page, the login call and static
//! files needs a session. Pages redirect to `/login?next=…`; the API and the
//! WebSocket answer 401 with the API's JSON error.

use app::api::{auth::SessionUser, ssr::USER_KEY, ApiError};
use axum::{
    extract::Request,
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    Json,
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
        "/login" | "/api/login" | "/favicon.ico" | "/favicon.svg" | "/robots.txt"
    ) || path.starts_with("/pkg/")
}

pub async fn gate(session: tower_sessions::Session, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if is_public(path) {
        return next.run(req).await;
    }
    match session.get::<SessionUser>(USER_KEY).await {
        Ok(Some(_)) => next.run(req).await,
        Ok(None) => refuse(&req),
        Err(e) => {
            tracing::error!("session store: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(ApiError::internal()),
            )
                .into_response()
        }
    }
}

fn refuse(req: &Request) -> Response {
    let path = req.uri().path();
    if path.starts_with("/api/") || path == "/ws" {
        let mut resp = (StatusCode::UNAUTHORIZED, Json(ApiError::unauthorized())).into_response();
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            "no-store".parse().expect("static header"),
        );
        return resp;
    }
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
pub fn same_origin(headers: &axum::http::HeaderMap, public_origin: Option<&str>) -> bool {
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
    session: tower_sessions::Session,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let same_site_fetch =
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("same-origin");
    let origin_ok = headers.contains_key(header::ORIGIN)
        && same_origin(&headers, state.public_origin.as_deref());
    let audit = &state.services.audit;
    let target = format!("user {}", app::api::clip(&form.username));
    if !(origin_ok || same_site_fetch) {
        audit
            .record(
                None,
                "login",
                &target,
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
        .verify_password(&form.username, &form.password)
        .await
    {
        Ok(Some(user)) => {
            let started = async {
                session.cycle_id().await?;
                session.insert(USER_KEY, &user).await
            }
            .await;
            if let Err(e) = started {
                tracing::error!("session store: {e}");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(ApiError::internal()),
                )
                    .into_response();
            }
            audit
                .record(
                    Some(&user),
                    "login",
                    &format!("user {}", user.username),
                    Ok(()),
                )
                .await;
            Redirect::to(&next).into_response()
        }
        Ok(None) => {
            audit
                .record(None, "login", &target, Err("wrong username or password"))
                .await;
            Redirect::to(&back).into_response()
        }
        Err(e) => (
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(e),
        )
            .into_response(),
    }
}
