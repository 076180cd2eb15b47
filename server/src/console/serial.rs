//! `GET /ws/console/serial?host=…&uuid=…[&force=1]`: the guest's serial
//! console (`virDomainOpenConsole`) as a WebSocket of binary messages, both
//! ways (text messages are accepted as input too).
//!
//! Each session runs on a blocking thread with a libvirt connection of its
//! own (`HostConnection::run_dedicated`: a console can stay open for hours, so
//! it must not hold one of the few concurrent calls of the host's shared
//! connection, nor a thread of the async runtime). The stream
//! (`libvirt::console::SerialConsole`) is non-blocking and polled: libvirt's
//! event loop thread reads the connection's socket and queues the stream's
//! data; this thread takes it and forwards what the browser typed.
//!
//! One writer per console: libvirt refuses a second session unless it is
//! forced. Without `force` the socket is closed with `BUSY` (4409) and a
//! reason saying how to take over; with `force=1` the other session is ended
//! (its socket is closed with `BUSY` too, saying it was taken over). When the
//! guest stops or the stream ends, the socket closes with the reason.

use axum::response::IntoResponse;
use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, OnceLock,
    },
    time::Duration,
};

use super::{audit, check, close, session_watch, upgrade_and_close, ConsoleQuery, Request};
use crate::{
    libvirt::{
        console::{OpenError, Received, SerialConsole},
        Connect,
    },
    startup::AppState,
};
use app::{api::ApiError, backend::Outcome};
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
use tokio::sync::{mpsc, oneshot};

/// The close code of a console another session holds (or took over).
pub const BUSY: u16 = 4409;
/// The reason a console is refused without `force`.
pub const BUSY_REASON: &str =
    "another session has this console open; reconnect with force to take it over";
/// The reason a session's socket is closed when another one forced it out.
pub const TAKEN_OVER: &str = "another session took over this console";

const ACTION: &str = "guest.console.serial";
/// How long opening the console (a connection of its own) may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the thread sleeps when neither side had anything.
const IDLE: Duration = Duration::from_millis(15);
/// How long after traffic it looks every millisecond instead.
const HOT: Duration = Duration::from_millis(500);
const CHUNK: usize = 64 * 1024;

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
    let key = (opening.host.name().to_string(), opening.guest.uuid.clone());
    let (ready_tx, ready_rx) = oneshot::channel();
    let (to_guest, from_browser) = mpsc::channel::<Bytes>(64);
    let (to_browser, from_guest) = mpsc::channel::<Out>(64);
    let session = Arc::new(Session::new());
    let spec = Spec {
        host: opening.host.name().to_string(),
        uuid: opening.guest.uuid.clone(),
        force,
        session: session.clone(),
    };
    // A connection of its own, for as long as the session lasts. When it
    // cannot be had, `ready` is dropped unsent and the reason comes here.
    let (failed_tx, failed_rx) = oneshot::channel::<ApiError>();
    let host = opening.host.clone();
    tokio::spawn(async move {
        let session = host
            .run_dedicated(move |conn| {
                run(conn, spec, ready_tx, from_browser, to_browser);
                Ok(())
            })
            .await;
        if let Err(e) = session {
            let _ = failed_tx.send(e.into());
        }
    });
    let user = opening.user.username.clone();
    let (client, target) = (opening.client.clone(), opening.target.clone());
    let opened = match tokio::time::timeout(OPEN_TIMEOUT, ready_rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(Refusal::Failed(
            failed_rx.await.unwrap_or_else(|_| ApiError::internal()),
        )),
        Err(_) => Err(Refusal::Failed(ApiError::HostUnavailable(format!(
            "opening the console on host {} did not finish within {} s",
            key.0,
            OPEN_TIMEOUT.as_secs()
        )))),
    };
    match opened {
        Ok(()) => {
            audit(&state, Some(&user), &client, ACTION, &target, Outcome::Ok).await;
            register(&key, session.clone(), force);
            let ended = session_watch(&state, opening.auth);
            opening.ws.on_upgrade(move |socket| async move {
                bridge(socket, to_guest, from_guest, ended).await;
                unregister(&key, &session);
            })
        }
        Err(Refusal::Busy) => {
            let outcome = Outcome::Refused(BUSY_REASON);
            audit(&state, Some(&user), &client, ACTION, &target, outcome).await;
            upgrade_and_close(opening.ws, BUSY, BUSY_REASON.into())
        }
        Err(Refusal::Failed(e)) => {
            let outcome = Outcome::Failed(e.message());
            audit(&state, Some(&user), &client, ACTION, &target, outcome).await;
            e.into_response()
        }
    }
}

/// What the session's thread sends to the socket.
enum Out {
    Data(Bytes),
    /// The end: close with this code and reason.
    End(u16, String),
}

enum Refusal {
    /// Another session holds the console.
    Busy,
    Failed(ApiError),
}

/// One open console session; `taken_over` is set when a forced session
/// replaced it, so its end is explained.
struct Session {
    id: u64,
    taken_over: AtomicBool,
}

impl Session {
    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Session {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            taken_over: AtomicBool::new(false),
        }
    }
}

type Key = (String, String);

/// The open sessions of this process, by host and guest UUID.
fn sessions() -> &'static Mutex<HashMap<Key, Arc<Session>>> {
    static SESSIONS: OnceLock<Mutex<HashMap<Key, Arc<Session>>>> = OnceLock::new();
    SESSIONS.get_or_init(Default::default)
}

fn register(key: &Key, session: Arc<Session>, forced: bool) {
    let previous = sessions()
        .lock()
        .expect("console sessions")
        .insert(key.clone(), session);
    if let (Some(previous), true) = (previous, forced) {
        previous.taken_over.store(true, Ordering::SeqCst);
    }
}

fn unregister(key: &Key, session: &Session) {
    let mut all = sessions().lock().expect("console sessions");
    if all.get(key).is_some_and(|s| s.id == session.id) {
        all.remove(key);
    }
}

/// Copies between the socket and the session's thread until either ends,
/// or the user's session does (4001).
async fn bridge(
    socket: WebSocket,
    to_guest: mpsc::Sender<Bytes>,
    mut from_guest: mpsc::Receiver<Out>,
    mut ended: tokio::task::JoinHandle<()>,
) {
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            out = from_guest.recv() => match out {
                Some(Out::Data(bytes)) => {
                    if sink.send(Message::Binary(bytes)).await.is_err() {
                        break;
                    }
                }
                Some(Out::End(code, reason)) => {
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
            _ = &mut ended => {
                close(&mut sink, app::api::events::SESSION_ENDED, "the session has ended").await;
                break;
            }
        }
    }
    ended.abort();
    // Dropping `to_guest` tells the thread to abort the stream and leave.
}

struct Spec {
    host: String,
    uuid: String,
    force: bool,
    session: Arc<Session>,
}

/// The session's thread: opens the console, answers `ready`, then moves bytes
/// until the stream ends (the reason goes to the socket) or the socket does
/// (`from_browser` closes: the stream is aborted).
fn run(
    conn: &Connect,
    spec: Spec,
    ready: oneshot::Sender<Result<(), Refusal>>,
    mut from_browser: mpsc::Receiver<Bytes>,
    to_browser: mpsc::Sender<Out>,
) {
    let console = match SerialConsole::open(&spec.host, conn, &spec.uuid, spec.force) {
        Ok(c) => c,
        Err(OpenError::Busy) => {
            let _ = ready.send(Err(Refusal::Busy));
            return;
        }
        Err(OpenError::Failed(e)) => {
            let _ = ready.send(Err(Refusal::Failed(e.into())));
            return;
        }
    };
    if ready.send(Ok(())).is_err() {
        // The request gave up waiting.
        console.abort();
        return;
    }
    let mut buf = vec![0u8; CHUNK];
    // Just after traffic (typing, its echo) the thread looks again at once.
    let mut last_busy = std::time::Instant::now();
    let end = loop {
        let mut busy = false;
        match console.recv(&mut buf) {
            Ok(Received::End) => break None,
            Ok(Received::Data(n)) => {
                busy = true;
                let data = Bytes::copy_from_slice(&buf[..n]);
                if to_browser.blocking_send(Out::Data(data)).is_err() {
                    console.abort();
                    return;
                }
            }
            Ok(Received::Nothing) => {}
            Err(e) => break Some(e),
        }
        loop {
            match from_browser.try_recv() {
                Ok(bytes) => {
                    busy = true;
                    if let Err(e) = console.send_all(&bytes) {
                        let _ = to_browser.blocking_send(end_of(&spec, &console, Some(e)));
                        console.abort();
                        return;
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    console.abort();
                    return;
                }
            }
        }
        if busy {
            last_busy = std::time::Instant::now();
        } else if last_busy.elapsed() < HOT {
            std::thread::sleep(Duration::from_millis(1));
        } else {
            std::thread::sleep(IDLE);
        }
    };
    let _ = to_browser.blocking_send(end_of(&spec, &console, end));
    console.abort();
}

/// Why the stream ended (`error`: libvirt's message, `None` at its end).
fn end_of(spec: &Spec, console: &SerialConsole, error: Option<String>) -> Out {
    if spec.session.taken_over.load(Ordering::SeqCst) {
        return Out::End(BUSY, TAKEN_OVER.into());
    }
    // QEMU closes the console as it exits; libvirt may note the guest's end
    // a moment later.
    for _ in 0..10 {
        if console.guest_is_active() {
            std::thread::sleep(Duration::from_millis(200));
        } else {
            return Out::End(1000, "the guest has stopped".into());
        }
        if spec.session.taken_over.load(Ordering::SeqCst) {
            return Out::End(BUSY, TAKEN_OVER.into());
        }
    }
    match error {
        None => Out::End(1000, "the console stream ended".into()),
        Some(e) => Out::End(1011, format!("the console failed: {e}")),
    }
}
