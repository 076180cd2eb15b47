//! The `/ws` WebSocket: one authenticated socket per page carrying every kind
//! of `ServerEvent` as JSON text messages.

use app::api::{
    auth::SessionUser,
    events::{ServerEvent, SESSION_ENDED},
    ApiError,
};
use axum::{
    extract::{
        ws::{Message, WebSocket},
        State, WebSocketUpgrade,
    },
    http::StatusCode,
    response::{IntoResponse, Response},
};
use std::time::Duration;

use axum::extract::ws::CloseFrame;
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use tokio::sync::broadcast;

use app::{
    api::{auth::Role, ssr::CurrentUser},
    backend::Accounts,
};

use crate::startup::AppState;

pub async fn handler(
    ws: WebSocketUpgrade,
    current: Option<axum::Extension<CurrentUser>>,
    headers: axum::http::HeaderMap,
    State(state): State<AppState>,
) -> Response {
    // A page of another site must not open a socket with the user's cookie.
    if !crate::auth::same_origin(&headers, state.public_origin.as_deref()) {
        let error = ApiError::Unauthorized("this socket is only for virtdeck's own pages".into());
        return (StatusCode::FORBIDDEN, error).into_response();
    }
    // The gate found the session's user (and refused a request without one).
    let Some(axum::Extension(CurrentUser { user, sid, token })) = current else {
        return ApiError::unauthorized().into_response();
    };
    let events = state.events.subscribe();
    let accounts = state.services.accounts.clone();
    let auth = Auth::of(sid, token.is_some(), &headers);
    // What a page shows from its first moment: the balance advisor's count.
    let recommendations = state.services.balance.recommendations();
    let first = (recommendations > 0).then_some(ServerEvent::BalanceChanged { recommendations });
    ws.on_upgrade(move |socket| serve(socket, user, events, first, accounts, auth))
}

/// How often an open socket checks its session when nothing said it
/// changed: for sessions and tokens that expire by time.
const SESSION_CHECK: Duration = Duration::from_secs(60);

/// What keeps a socket open: its session, or the token it came with.
pub(crate) enum Auth {
    Session(String),
    Token(String),
}

impl Auth {
    /// From the gate's `CurrentUser` (`sid`, whether it came with a token).
    pub(crate) fn of(sid: String, token: bool, headers: &axum::http::HeaderMap) -> Auth {
        match (token, crate::auth::bearer_token(headers)) {
            (true, Some(raw)) => Auth::Token(raw.to_string()),
            _ => Auth::Session(sid),
        }
    }
}

/// Resolves when session `sid` has ended (logout, expiry, ended from the
/// Account page, a disabled user or a changed password), or the token was
/// revoked or expired, or its user no longer has `role` (a demoted operator's
/// console closes).
/// Answers the close frame's reason.
pub(crate) async fn session_ended(
    accounts: Arc<dyn Accounts>,
    auth: Auth,
    role: Role,
) -> &'static str {
    let mut changes = accounts.session_changes();
    loop {
        // Woken by a logout, a disabled user, a revoked token…, or after a
        // while for expiry; one query then, not one every few seconds.
        match tokio::time::timeout(SESSION_CHECK, changes.changed()).await {
            Ok(Ok(())) | Err(_) => {}
            // No more changes will be said: time alone then.
            Ok(Err(_)) => tokio::time::sleep(SESSION_CHECK).await,
        }
        let user = match &auth {
            Auth::Session(sid) => accounts.check_session(sid).await,
            Auth::Token(raw) => accounts.check_token(raw).await.map(|t| t.map(|(u, _)| u)),
        };
        match user {
            Ok(Some(u)) if u.can(role) => {}
            Ok(Some(_)) => return "your role no longer allows this",
            Ok(None) => return "the session has ended",
            // A database hiccup is not the end of the session.
            Err(e) => tracing::warn!("session index: {e}"),
        }
    }
}

async fn serve(
    socket: WebSocket,
    user: SessionUser,
    mut events: broadcast::Receiver<ServerEvent>,
    first: Option<ServerEvent>,
    accounts: Arc<dyn Accounts>,
    auth: Auth,
) {
    let (sender, mut receiver) = socket.split();
    let sender = std::sync::Arc::new(tokio::sync::Mutex::new(sender));
    let closer = sender.clone();
    let mut ended = tokio::spawn(session_ended(accounts, auth, Role::Viewer));
    let mut send_task = tokio::spawn(async move {
        let mut sender = sender.lock().await;
        let sender = &mut *sender;
        // Viewers see no host URIs, here as in the HTTP API.
        let viewer = !user.can(Role::Operator);
        let hello = ServerEvent::Hello {
            user: user.username,
        };
        if send(sender, &hello).await.is_err() {
            return;
        }
        if let Some(first) = first {
            if send(sender, &first).await.is_err() {
                return;
            }
        }
        loop {
            match events.recv().await {
                Ok(event) => {
                    let event = if viewer { event.for_viewer() } else { event };
                    if send(sender, &event).await.is_err() {
                        return;
                    }
                }
                // A slow client missed some events; the next ones still arrive.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    // The browser sends nothing yet; reading notices when it goes away.
    let mut recv_task = tokio::spawn(async move {
        while let Some(Ok(message)) = receiver.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    });
    tokio::select! {
        _ = &mut send_task => {}
        _ = &mut recv_task => {}
        _ = &mut ended => {
            send_task.abort();
            let _ = (&mut send_task).await;
            let close = Message::Close(Some(CloseFrame {
                code: SESSION_ENDED,
                reason: "the session has ended".into(),
            }));
            let _ = closer.lock().await.send(close).await;
        }
    }
    send_task.abort();
    recv_task.abort();
    ended.abort();
}

async fn send<S>(sender: &mut S, event: &ServerEvent) -> Result<(), ()>
where
    S: SinkExt<Message> + Unpin,
{
    let text = serde_json::to_string(event).map_err(|_| ())?;
    sender
        .send(Message::Text(text.into()))
        .await
        .map_err(|_| ())
}
