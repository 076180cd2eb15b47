//! The `/ws` WebSocket: one authenticated socket per page carrying every kind
//! of `ServerEvent` as JSON text messages.
//!
//! Fan-out: `relay` turns each event into its JSON text once (and once more
//! for viewers when their copy differs), and every socket sends that shared
//! text. A socket's queue is the relay channel's buffer: a client that falls
//! behind by more than it holds, or does not take a message within
//! `SEND_TIMEOUT`, is closed with `TOO_SLOW` (the page reconnects and reads
//! again) and never holds up the others.

use app::api::{
    auth::SessionUser,
    events::{ServerEvent, SESSION_ENDED, TOO_SLOW},
    ApiError,
};
use axum::{
    extract::{
        ws::{Message, Utf8Bytes, WebSocket},
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
    let events = state.frames.subscribe();
    let accounts = state.services.accounts.clone();
    let auth = Auth::of(sid, token.is_some(), &headers);
    // What a page shows from its first moment: the balance advisor's count.
    let recommendations = state.services.balance.recommendations();
    let first = (recommendations > 0).then_some(ServerEvent::BalanceChanged { recommendations });
    // The browser sends nothing but closes and pings: small buffers, as a
    // thousand open pages should not cost a thousand large ones.
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(READ_BUFFER)
        .on_upgrade(move |socket| serve(socket, user, events, first, accounts, auth))
}

/// The largest message a page may send on `/ws` (it sends none of its own).
const READ_BUFFER: usize = 4 * 1024;

/// How long one message may wait for a client before it is given up.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// How many messages the relay holds for the slowest socket.
const QUEUE: usize = 256;

/// One event as the sockets send it: JSON text made once for everyone.
#[derive(Debug)]
pub enum Frame {
    Event {
        all: Utf8Bytes,
        /// Viewers' copy (no host URIs), when it differs.
        viewer: Option<Utf8Bytes>,
    },
    /// The relay itself missed events: every socket is closed with
    /// `TOO_SLOW`, and every page reconnects and reads again.
    Lost,
}

impl Frame {
    fn of(event: &ServerEvent) -> Option<Frame> {
        let all = serde_json::to_string(event).ok()?;
        let viewer = serde_json::to_string(&event.for_viewer()).ok()?;
        let viewer = (viewer != all).then(|| Utf8Bytes::from(viewer));
        Some(Frame::Event {
            all: all.into(),
            viewer,
        })
    }

    /// The text for a viewer or anyone else; `None` for `Lost`.
    fn text(&self, viewer: bool) -> Option<Utf8Bytes> {
        match self {
            Frame::Event {
                viewer: Some(v), ..
            } if viewer => Some(v.clone()),
            Frame::Event { all, .. } => Some(all.clone()),
            Frame::Lost => None,
        }
    }
}

/// Starts the relay from the services' events to the sockets' frames.
pub fn relay(events: &broadcast::Sender<ServerEvent>) -> broadcast::Sender<Arc<Frame>> {
    let (frames, _) = broadcast::channel(QUEUE);
    let mut events = events.subscribe();
    let out = frames.clone();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    // Nobody listening is not an error.
                    if let Some(frame) = Frame::of(&event) {
                        let _ = out.send(Arc::new(frame));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    // The pages cannot know what they missed: they all
                    // reconnect and read again.
                    tracing::warn!(
                        "socket relay fell behind the events by {n}: closing every socket"
                    );
                    let _ = out.send(Arc::new(Frame::Lost));
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    frames
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
        // Checked once before the first wait: a change said between the
        // socket's upgrade (which checked the session) and the subscription
        // above is not seen by `changed()` — a logout at that moment left
        // the socket open with an ended session for a whole SESSION_CHECK.
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
        // Woken by a logout, a disabled user, a revoked token…, or after a
        // while for expiry; one query then, not one every few seconds.
        match tokio::time::timeout(SESSION_CHECK, changes.changed()).await {
            Ok(Ok(())) | Err(_) => {}
            // No more changes will be said: time alone then.
            Ok(Err(_)) => tokio::time::sleep(SESSION_CHECK).await,
        }
    }
}

async fn serve(
    socket: WebSocket,
    user: SessionUser,
    events: broadcast::Receiver<Arc<Frame>>,
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
        for event in std::iter::once(hello).chain(first) {
            let Ok(text) = serde_json::to_string(&event) else {
                return;
            };
            if send(sender, text.into()).await.is_err() {
                return;
            }
        }
        pump(sender, events, viewer).await;
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

/// Sends the events to one client until it or the events go away. A client
/// that falls a whole queue behind is closed with `TOO_SLOW`, so that its
/// page reconnects and reads again, instead of silently missing events.
async fn pump<S>(sender: &mut S, mut events: broadcast::Receiver<Arc<Frame>>, viewer: bool)
where
    S: SinkExt<Message> + Unpin,
{
    loop {
        let text = match events.recv().await {
            Ok(frame) => frame.text(viewer),
            Err(broadcast::error::RecvError::Lagged(_)) => None,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let Some(text) = text else {
            let close = Message::Close(Some(CloseFrame {
                code: TOO_SLOW,
                reason: "this page fell behind the events".into(),
            }));
            let _ = tokio::time::timeout(SEND_TIMEOUT, sender.send(close)).await;
            return;
        };
        if send(sender, text).await.is_err() {
            return;
        }
    }
}

/// Sends one text message; a client that does not take it within
/// `SEND_TIMEOUT` is given up.
async fn send<S>(sender: &mut S, text: Utf8Bytes) -> Result<(), ()>
where
    S: SinkExt<Message> + Unpin,
{
    match tokio::time::timeout(SEND_TIMEOUT, sender.send(Message::Text(text))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::channel::mpsc;

    fn frame(n: usize) -> Arc<Frame> {
        let event = ServerEvent::Hello {
            user: format!("event {n}"),
        };
        Arc::new(Frame::of(&event).expect("serializable"))
    }

    /// A logout said after the socket's upgrade checked the session but
    /// before the socket listens for changes ends the socket at once (it
    /// stayed open for SESSION_CHECK, 60 s, before).
    #[tokio::test]
    async fn a_session_ended_before_the_socket_listens_for_changes_ends_it_at_once() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("virtdeck.db").display());
        let pool = crate::db::connect(&url).await.expect("the database");
        let accounts = Arc::new(
            crate::accounts::SqlAccounts::new(pool)
                .await
                .expect("accounts"),
        );
        accounts
            .create_user("ann", "a long enough password", Role::Viewer)
            .await
            .expect("a user");
        let user = accounts
            .verify_password("ann", "a long enough password")
            .await
            .expect("checked")
            .expect("her password");
        let sid = accounts
            .start_session(user.id, None)
            .await
            .expect("a session");
        accounts.forget_session(&sid).await.expect("logged out");

        let why = tokio::time::timeout(
            Duration::from_secs(5),
            session_ended(accounts, Auth::Session(sid), Role::Viewer),
        )
        .await
        .expect("the ended session is noticed at once, not after SESSION_CHECK");
        assert_eq!(why, "the session has ended");
    }

    #[tokio::test]
    async fn a_client_that_falls_behind_is_closed_and_the_others_get_every_event() {
        let (events, _) = broadcast::channel(QUEUE);
        // A client that takes one message and then nothing for a while.
        let (mut slow_sink, mut slow) = mpsc::channel::<Message>(0);
        let (mut fast_sink, mut fast) = mpsc::unbounded::<Message>();
        let (slow_events, fast_events) = (events.subscribe(), events.subscribe());
        let slow_task = tokio::spawn(async move { pump(&mut slow_sink, slow_events, false).await });
        tokio::spawn(async move { pump(&mut fast_sink, fast_events, false).await });

        let total = QUEUE + 10;
        for n in 0..total {
            events.send(frame(n)).expect("two subscribers");
            // The fast client has it before the next one is sent.
            let Some(Message::Text(text)) = fast.next().await else {
                panic!("the fast client missed event {n}");
            };
            assert!(text.as_str().contains(&format!("event {n}")), "{text}");
        }
        // The slow client gets what it had taken, then the close.
        let mut texts = 0;
        let read = async {
            loop {
                match slow.next().await {
                    Some(Message::Text(_)) => texts += 1,
                    Some(Message::Close(Some(frame))) => break frame.code,
                    other => panic!("expected a close, got {other:?}"),
                }
            }
        };
        let code = tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("the slow client is closed, not left waiting");
        assert_eq!(code, TOO_SLOW);
        assert!(
            texts < total,
            "{texts} of {total} messages reached the slow client"
        );
        slow_task.await.expect("the slow client's pump ended");
    }

    /// If the relay itself falls behind the services' events, no page may
    /// go on as if nothing was missed: every socket gets the close.
    #[tokio::test(flavor = "current_thread")]
    async fn a_relay_that_falls_behind_closes_every_socket() {
        let (events, _) = broadcast::channel(4);
        let frames = relay(&events);
        let (mut sink_a, mut a) = mpsc::unbounded::<Message>();
        let (mut sink_b, mut b) = mpsc::unbounded::<Message>();
        let (for_a, for_b) = (frames.subscribe(), frames.subscribe());
        tokio::spawn(async move { pump(&mut sink_a, for_a, false).await });
        tokio::spawn(async move { pump(&mut sink_b, for_b, true).await });
        // On this one thread the relay runs only when the test waits: ten
        // events into a queue of four, and it has missed six.
        for n in 0..10 {
            events
                .send(ServerEvent::Hello {
                    user: format!("event {n}"),
                })
                .expect("the relay listens");
        }
        for socket in [&mut a, &mut b] {
            let read = async {
                loop {
                    match socket.next().await {
                        Some(Message::Text(_)) => {}
                        Some(Message::Close(Some(frame))) => break frame.code,
                        other => panic!("expected a close, got {other:?}"),
                    }
                }
            };
            let code = tokio::time::timeout(Duration::from_secs(5), read)
                .await
                .expect("every socket is closed");
            assert_eq!(code, TOO_SLOW);
        }
    }

    #[test]
    fn each_event_is_serialized_once_and_viewers_get_their_own_copy_only_when_it_differs() {
        let plain = Frame::of(&ServerEvent::Hello {
            user: "alice".into(),
        })
        .expect("serializable");
        assert!(matches!(plain, Frame::Event { viewer: None, .. }));
        assert_eq!(plain.text(true), plain.text(false));
        // A host address in the text: the viewers' copy goes without it.
        let quoted = Frame::of(&ServerEvent::VolumesChanged {
            host: "kvm1".into(),
            pool: "qemu+ssh://root@kvm2/system".into(),
        })
        .expect("serializable");
        let (all, viewer) = (quoted.text(false).unwrap(), quoted.text(true).unwrap());
        assert!(all.as_str().contains("qemu+ssh://root@kvm2/system"));
        assert!(!viewer.as_str().contains("://"), "{viewer}");
    }
}
