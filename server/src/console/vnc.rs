//! `GET /ws/console/vnc?host=…&uuid=…`: the guest's VNC display for noVNC,
//! as a WebSocket of binary messages (subprotocol `binary` when asked).
//!
//! Before the upgrade the `Consoles` port connects to the display and
//! authenticates to it (`services/consoles/display.rs`: the password never
//! leaves the server; a display that cannot be reached is a 502 naming the
//! address tried). Then this shows the browser an RFB 3.8 server that asks
//! for no authentication, and copies bytes both ways from the client's
//! `ClientInit` on.

use axum::response::IntoResponse;
use std::{net::SocketAddr, time::Duration};

use app::{
    api::guests::GuestState,
    backend::{consoles::Display, Outcome},
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
use bytes::{Bytes, BytesMut};
use futures::{
    stream::{SplitSink, SplitStream},
    SinkExt, StreamExt,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{audit, check, close, session_watch, ConsoleQuery, Request};
use crate::startup::AppState;

const ACTION: &str = "guest.console.vnc";
/// How long the browser's side of the handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const RFB_38: &[u8; 12] = b"RFB 003.008\n";

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
    let user = opening.user.username.clone();
    let (client, target) = (opening.client.clone(), opening.target.clone());
    let connected = state.services.consoles.open_display(&opening.guest).await;
    let outcome = match &connected {
        Ok(_) => Outcome::Ok,
        Err(e) => Outcome::Failed(e.message()),
    };
    audit(&state, Some(&user), &client, ACTION, &target, outcome).await;
    let display = match connected {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let ended = session_watch(&state, opening.auth);
    let consoles = state.services.consoles.clone();
    let guest = opening.guest.clone();
    opening
        .ws
        .protocols(["binary"])
        .on_upgrade(move |socket| async move {
            let end = serve(socket, display, ended).await;
            if let Some((mut sink, display_closed)) = end {
                let reason = if display_closed {
                    match consoles.running_guest(&guest.host, &guest.uuid).await {
                        Ok(g) if g.state == GuestState::Running => {
                            "the VNC display closed the connection"
                        }
                        _ => "the guest has stopped",
                    }
                } else {
                    "the console ended"
                };
                close(&mut sink, 1000, reason).await;
            }
        })
}

type Sink = SplitSink<WebSocket, Message>;

/// Reads the browser's handshake bytes from its messages.
struct Incoming {
    stream: SplitStream<WebSocket>,
    buffered: BytesMut,
}

impl Incoming {
    async fn read_exact(&mut self, n: usize) -> Result<Bytes, ()> {
        while self.buffered.len() < n {
            match self.stream.next().await {
                Some(Ok(Message::Binary(b))) => self.buffered.extend_from_slice(&b),
                Some(Ok(Message::Text(t))) => self.buffered.extend_from_slice(t.as_bytes()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => return Err(()),
            }
        }
        Ok(self.buffered.split_to(n).freeze())
    }
}

/// Presents an RFB 3.8 server without authentication to the browser, then
/// copies bytes both ways. Answers the sink to close, and whether the
/// display's side ended, unless the socket is gone already.
async fn serve(
    socket: WebSocket,
    display: Display,
    mut ended: tokio::task::JoinHandle<&'static str>,
) -> Option<(Sink, bool)> {
    let (mut sink, stream) = socket.split();
    let mut incoming = Incoming {
        stream,
        buffered: BytesMut::new(),
    };
    let greeted = async {
        sink.send(Message::Binary(Bytes::from_static(RFB_38)))
            .await
            .map_err(|_| ())?;
        let version = incoming.read_exact(12).await?;
        if !version.starts_with(b"RFB 003.") {
            return Err(());
        }
        // One security type: None.
        sink.send(Message::Binary(Bytes::from_static(&[1, 1])))
            .await
            .map_err(|_| ())?;
        let chosen = incoming.read_exact(1).await?;
        if chosen[..] != [1] {
            return Err(());
        }
        // SecurityResult: OK.
        sink.send(Message::Binary(Bytes::from_static(&[0, 0, 0, 0])))
            .await
            .map_err(|_| ())
    };
    let greeted = tokio::time::timeout(HANDSHAKE_TIMEOUT, greeted).await;
    if !matches!(greeted, Ok(Ok(()))) {
        ended.abort();
        close(&mut sink, 1002, "the RFB handshake failed").await;
        return None;
    }
    let Incoming {
        mut stream,
        buffered,
    } = incoming;
    let (mut from_display, mut to_display) = tokio::io::split(display);
    if !buffered.is_empty() && to_display.write_all(&buffered).await.is_err() {
        ended.abort();
        return Some((sink, true));
    }
    let mut buf = vec![0u8; 64 * 1024];
    let result = loop {
        tokio::select! {
            read = from_display.read(&mut buf) => match read {
                Ok(0) | Err(_) => break Some(true),
                Ok(n) => {
                    let data = Bytes::copy_from_slice(&buf[..n]);
                    if sink.send(Message::Binary(data)).await.is_err() {
                        break None;
                    }
                }
            },
            message = stream.next() => {
                let data = match message {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Text(t))) => Bytes::from(t.as_str().as_bytes().to_vec()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    _ => break None,
                };
                if to_display.write_all(&data).await.is_err() {
                    break Some(true);
                }
            }
            why = &mut ended => {
                let why = why.unwrap_or("the session has ended");
                close(&mut sink, app::api::events::SESSION_ENDED, why).await;
                return None;
            }
        }
    };
    ended.abort();
    result.map(|display_closed| (sink, display_closed))
}
