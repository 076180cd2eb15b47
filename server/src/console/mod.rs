//! A guest's consoles in the browser, as WebSockets beside `/ws`:
//!
//! - `serial.rs`: `GET /ws/console/serial?host=…&uuid=…[&force=1]` bridges
//!   libvirt's console stream (the guest's first serial port) — one writer
//!   per console, `force=1` takes it over from another session;
//! - `vnc.rs`: `GET /ws/console/vnc?host=…&uuid=…` proxies the guest's VNC
//!   display, authenticating to it on the server side, so the display's
//!   password never reaches the browser.
//!
//! What both share is here: the checks before the upgrade (same origin, the
//! gate's user and an operator role, a well-formed UUID, a known host with
//! a running guest), the audit record of each opening, and closing the socket
//! when the user's session ends (4001, as `/ws` does).

pub mod serial;
pub mod vnc;

use axum::response::IntoResponse;
use std::net::SocketAddr;

use app::{
    api::{
        auth::{Role, SessionUser},
        clip,
        guests::{validate_uuid, GuestSummary},
        ssr::CurrentUser,
        ApiError,
    },
    backend::{AuditEntry, Outcome},
};
use axum::{
    extract::{
        rejection::QueryRejection,
        ws::{rejection::WebSocketUpgradeRejection, CloseFrame, Message, WebSocket},
        Query, WebSocketUpgrade,
    },
    http::HeaderMap,
    response::Response,
};
use futures::SinkExt;
use serde::Deserialize;

use crate::{startup::AppState, ws::Auth};

/// The query of both console sockets.
#[derive(Debug, Deserialize)]
pub struct ConsoleQuery {
    pub host: String,
    pub uuid: String,
    /// `1` (or `true`): take the serial console over from another session.
    #[serde(default)]
    pub force: Option<String>,
}

impl ConsoleQuery {
    pub fn force(&self) -> bool {
        matches!(self.force.as_deref(), Some("1" | "true" | "yes"))
    }
}

/// What a console handler is given once the checks before the upgrade passed.
pub(crate) struct Opening {
    pub ws: WebSocketUpgrade,
    pub user: SessionUser,
    pub client: String,
    /// The guest, running when it was checked.
    pub guest: GuestSummary,
    pub query: ConsoleQuery,
    pub target: String,
    /// What keeps the socket open (see `session_watch`).
    pub auth: Auth,
}

/// The request of a console socket, as the extractors gave it.
pub(crate) struct Request {
    pub ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    pub current: Option<axum::Extension<CurrentUser>>,
    pub headers: HeaderMap,
    pub client: SocketAddr,
    pub query: Result<Query<ConsoleQuery>, QueryRejection>,
}

/// Writes one audit record of a console opening.
pub(crate) async fn audit(
    state: &AppState,
    user: Option<&str>,
    client: &str,
    action: &str,
    target: &str,
    outcome: Outcome<'_>,
) {
    state
        .services
        .audit
        .write(AuditEntry {
            user,
            client: Some(client),
            action,
            target,
            outcome,
        })
        .await;
}

/// The checks every console socket makes before it is upgraded; an error
/// is answered as JSON (and audited when it concerns a user and a guest).
pub(crate) async fn check(
    state: &AppState,
    action: &str,
    req: Request,
) -> Result<Opening, Response> {
    let client = req.client.to_string();
    // A page of another site must not open a console with the user's cookie.
    if !crate::auth::same_origin(&req.headers, state.public_origin.as_deref()) {
        let error = ApiError::Forbidden("this socket is only for virtdeck's own pages".into());
        return Err(error.into_response());
    }
    let Some(axum::Extension(CurrentUser { user, sid, token })) = req.current else {
        return Err(ApiError::unauthorized().into_response());
    };
    let query = match req.query {
        Ok(Query(q)) => q,
        Err(e) => {
            return Err(
                ApiError::BadRequest(format!("a console needs ?host=…&uuid=…: {e}"))
                    .into_response(),
            )
        }
    };
    let target = format!("guest {} on host {}", clip(&query.uuid), clip(&query.host));
    let refuse = |error: ApiError, failed: bool| {
        let (user, client, target) = (user.username.clone(), client.clone(), target.clone());
        async move {
            let outcome = if failed {
                Outcome::Failed(error.message())
            } else {
                Outcome::Refused(error.message())
            };
            audit(state, Some(&user), &client, action, &target, outcome).await;
            Err(error.into_response())
        }
    };
    // The gate checked the role already; checked again, as server functions do.
    if user.must_change_password || !user.can(Role::Operator) {
        let error = ApiError::Forbidden(format!(
            "your role ({}) cannot open a guest's console; it needs operator",
            user.role
        ));
        return refuse(error, false).await;
    }
    if let Err(e) = validate_uuid(&query.uuid) {
        return refuse(e, false).await;
    }
    let ws = match req.ws {
        Ok(ws) => ws,
        Err(e) => {
            let error = ApiError::BadRequest(format!(
                "this endpoint is a WebSocket (send an upgrade request): {e}"
            ));
            return refuse(error, false).await;
        }
    };
    let consoles = &state.services.consoles;
    let guest = match consoles.running_guest(&query.host, &query.uuid).await {
        Ok(g) => g,
        Err(e) => return refuse(e, true).await,
    };
    let auth = Auth::of(sid, token.is_some(), &req.headers);
    Ok(Opening {
        ws,
        user,
        client,
        guest,
        query,
        target,
        auth,
    })
}

/// Resolves when the session (or token) the socket was opened with ends, or
/// its user is no longer an operator (a console is an operator's).
pub(crate) fn session_watch(state: &AppState, auth: Auth) -> tokio::task::JoinHandle<&'static str> {
    tokio::spawn(crate::ws::session_ended(
        state.services.accounts.clone(),
        auth,
        Role::Operator,
    ))
}

/// A close frame's reason is at most 123 bytes: cut at a character boundary.
pub fn close_reason(reason: &str) -> String {
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

/// Closes `socket` with `code` and `reason`.
pub(crate) async fn close<S>(socket: &mut S, code: u16, reason: &str)
where
    S: SinkExt<Message> + Unpin,
{
    let frame = CloseFrame {
        code,
        reason: close_reason(reason).into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Upgrades and closes at once with `code` and `reason`: what a browser's
/// WebSocket can read (it never sees an HTTP error's status).
pub(crate) fn upgrade_and_close(ws: WebSocketUpgrade, code: u16, reason: String) -> Response {
    ws.on_upgrade(move |mut socket: WebSocket| async move {
        close(&mut socket, code, &reason).await;
    })
}
