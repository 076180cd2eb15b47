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
