//! `GET /ws/console/serial?host=…&uuid=…[&force=1]`: the guest's serial
//! console (`virDomainOpenConsole`) as a WebSocket of binary messages, both
//! ways (text messages are accepted as input too).
//!
//! The session itself is the `Consoles` port's (`services/consoles/serial.rs`
//! runs it on a libvirt connection of its own); this bridges it to the socket.
//!
//! One writer per console: libvirt refuses a second session unless it is
//! forced. Without `force` the socket is closed with `BUSY` (4409) and a
//! reason saying how to take over; with `force=1` the other session is ended
//! (its socket is closed with `BUSY` too, saying it was taken over). When the
//! guest stops or the stream ends, the socket closes with the reason.

use axum::response::IntoResponse;
use std::net::SocketAddr;

use super::{audit, check, close, session_watch, upgrade_and_close, ConsoleQuery, Request};
use crate::startup::AppState;
use app::backend::{
    consoles::{SerialOut, SerialRefusal, SerialSession, BUSY, BUSY_REASON},
    Outcome,
};
use axum::{
    extract::{
        rejection::QueryRejection,
        ws::{rejection::WebSocketUpgradeRejection, Message, WebSocket},
        ConnectInfo, Query, State, WebSocketUpgrade,
    },
    http::HeaderMap,
    response::Response,
};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};

const ACTION: &str = "guest.console.serial";

pub async fn handler(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    current: Option<axum::Extension<app::api::ssr::CurrentUser>>,
    headers: HeaderMap,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    State(state): State<AppState>,
    query: Result<Query<ConsoleQuery>, QueryRejection>,
) -> Response {
    let request = Request {
        ws,
        current,
        headers,
        client,
        query,
    };
    let opening = match check(&state, ACTION, request).await {
        Ok(o) => o,
        Err(response) => return response,
    };
    let force = opening.query.force();
    let user = opening.user.username.clone();
    let (client, target) = (opening.client.clone(), opening.target.clone());
    let opened = state
        .services
        .consoles
        .open_serial(&opening.guest, force)
        .await;
    match opened {
        Ok(session) => {
            audit(&state, Some(&user), &client, ACTION, &target, Outcome::Ok).await;
            let ended = session_watch(&state, opening.auth);
            opening
                .ws
                .on_upgrade(move |socket| bridge(socket, session, ended))
        }
        Err(SerialRefusal::Busy) => {
            let outcome = Outcome::Refused(BUSY_REASON);
            audit(&state, Some(&user), &client, ACTION, &target, outcome).await;
            upgrade_and_close(opening.ws, BUSY, BUSY_REASON.into())
        }
        Err(SerialRefusal::Failed(e)) => {
            let outcome = Outcome::Failed(e.message());
            audit(&state, Some(&user), &client, ACTION, &target, outcome).await;
            e.into_response()
        }
    }
}

/// Copies between the socket and the session's thread until either ends,
/// or the user's session does (4001).
async fn bridge(
    socket: WebSocket,
    session: SerialSession,
    mut ended: tokio::task::JoinHandle<&'static str>,
) {
    let SerialSession {
        to_guest,
        mut from_guest,
    } = session;
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            out = from_guest.recv() => match out {
                Some(SerialOut::Data(bytes)) => {
                    if sink.send(Message::Binary(bytes)).await.is_err() {
                        break;
                    }
                }
                Some(SerialOut::End(code, reason)) => {
                    close(&mut sink, code, &reason).await;
                    break;
                }
                None => {
                    close(&mut sink, 1011, "the console ended").await;
                    break;
                }
            },
            message = stream.next() => {
                let bytes = match message {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Text(t))) => Bytes::from(t.as_str().as_bytes().to_vec()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                };
                if bytes.is_empty() {
                    continue;
                }
                if to_guest.send(bytes).await.is_err() {
                    // The thread ended; its reason is on the way.
                    continue;
                }
            }
            why = &mut ended => {
                let why = why.unwrap_or("the session has ended");
                close(&mut sink, app::api::events::SESSION_ENDED, why).await;
                break;
            }
        }
    }
    ended.abort();
    // Dropping `to_guest` tells the thread to abort the stream and leave.
}
