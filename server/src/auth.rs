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
