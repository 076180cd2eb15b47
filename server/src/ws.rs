//! The `/ws` WebSocket: one authenticated socket per page carrying every kind
//! of `ServerEvent` as JSON text messages.

use app::api::{auth::SessionUser, events::ServerEvent, ssr::USER_KEY, ApiError};
use axum::{
    extract::{
        ws::{Message, WebSocket},
        State, WebSocketUpgrade,
    },
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use futures::{SinkExt, StreamExt};
use tokio::sync::broadcast;
use tower_sessions::Session;

use crate::startup::AppState;

pub async fn handler(
    ws: WebSocketUpgrade,
    session: Session,
    headers: axum::http::HeaderMap,
    State(state): State<AppState>,
) -> Response {
    // A page of another site must not open a socket with the user's cookie.
    if !crate::auth::same_origin(&headers, state.public_origin.as_deref()) {
        let error = ApiError::Unauthorized("this socket is only for virtdeck's own pages".into());
        return (StatusCode::FORBIDDEN, Json(error)).into_response();
    }
    let user = match session.get::<SessionUser>(USER_KEY).await {
        Ok(Some(user)) => user,
        _ => return (StatusCode::UNAUTHORIZED, Json(ApiError::unauthorized())).into_response(),
    };
    let events = state.events.subscribe();
    ws.on_upgrade(move |socket| serve(socket, user, events))
}

async fn serve(socket: WebSocket, user: SessionUser, mut events: broadcast::Receiver<ServerEvent>) {
    let (mut sender, mut receiver) = socket.split();
    let mut send_task = tokio::spawn(async move {
        let hello = ServerEvent::Hello {
            user: user.username,
        };
        if send(&mut sender, &hello).await.is_err() {
            return;
        }
        loop {
            match events.recv().await {
                Ok(event) => {
                    if send(&mut sender, &event).await.is_err() {
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
        _ = &mut send_task => recv_task.abort(),
        _ = &mut recv_task => send_task.abort(),
    }
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
