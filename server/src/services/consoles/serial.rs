//! A guest's serial console (`virDomainOpenConsole`) as a session of two
//! channels. Each session runs on a blocking thread with a libvirt
//! connection of its own (`Host::run_dedicated`: a console can stay open for
//! hours, so it must not hold one of the few concurrent calls of the host's
//! shared connection, nor a thread of the async runtime). The stream
//! (`libvirt::console::SerialConsole`) is non-blocking and polled: libvirt's
//! event loop thread reads the connection's socket and queues the stream's
//! data; this thread takes it and forwards what the browser typed.
//!
//! One writer per console: libvirt refuses a second session unless it is
//! forced. A forced session marks the one it replaced as taken over, so that
//! one ends with `BUSY` and `TAKEN_OVER`. When the guest stops or the stream
//! ends, the session ends with the reason.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, OnceLock,
    },
    time::{Duration, Instant},
};

use app::{
    api::ApiError,
    backend::consoles::{SerialOut, SerialRefusal, SerialSession, BUSY, TAKEN_OVER},
};
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::{
    libvirt::{
        console::{OpenError, Received, SerialConsole},
        Connect,
    },
    services::Host,
};

/// How long opening the console (a connection of its own) may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the thread sleeps when neither side had anything.
const IDLE: Duration = Duration::from_millis(15);
/// How long after traffic it looks every millisecond instead.
const HOT: Duration = Duration::from_millis(500);
const CHUNK: usize = 64 * 1024;

/// Opens guest `uuid`'s serial console on `host`.
pub(super) async fn open(
    host: Arc<Host>,
    uuid: &str,
    force: bool,
) -> Result<SerialSession, SerialRefusal> {
    let key = (host.name().to_string(), uuid.to_ascii_lowercase());
    let (ready_tx, ready_rx) = oneshot::channel();
    let (to_guest, from_browser) = mpsc::channel::<Bytes>(64);
    let (to_browser, from_guest) = mpsc::channel::<SerialOut>(64);
    let spec = Spec {
        host: host.name().to_string(),
        uuid: uuid.to_string(),
        force,
        key: key.clone(),
        session: Arc::new(Session::new()),
    };
    // A connection of its own, for as long as the session lasts. When it
    // cannot be had, `ready` is dropped unsent and the reason comes here.
    let (failed_tx, failed_rx) = oneshot::channel::<ApiError>();
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
    match tokio::time::timeout(OPEN_TIMEOUT, ready_rx).await {
        Ok(Ok(Ok(()))) => Ok(SerialSession {
            to_guest,
            from_guest,
        }),
        Ok(Ok(Err(refusal))) => Err(refusal),
        Ok(Err(_)) => Err(SerialRefusal::Failed(
            failed_rx.await.unwrap_or_else(|_| ApiError::internal()),
        )),
        Err(_) => Err(SerialRefusal::Failed(ApiError::HostUnavailable(format!(
            "opening the console on host {} did not finish within {} s",
            key.0,
            OPEN_TIMEOUT.as_secs()
        )))),
    }
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

    fn taken_over(&self) -> bool {
        self.taken_over.load(Ordering::SeqCst)
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

struct Spec {
    host: String,
    uuid: String,
    force: bool,
    key: Key,
    session: Arc<Session>,
}

/// The session's thread: opens the console, answers `ready`, then moves bytes
/// until the stream ends (the reason goes to the socket) or the socket does
/// (`from_browser` closes: the stream is aborted).
fn run(
    conn: &Connect,
    spec: Spec,
    ready: oneshot::Sender<Result<(), SerialRefusal>>,
    from_browser: mpsc::Receiver<Bytes>,
    to_browser: mpsc::Sender<SerialOut>,
) {
    let console = match SerialConsole::open(&spec.host, conn, &spec.uuid, spec.force) {
        Ok(c) => c,
        Err(OpenError::Busy) => {
            let _ = ready.send(Err(SerialRefusal::Busy));
            return;
        }
        Err(OpenError::Failed(e)) => {
            let _ = ready.send(Err(SerialRefusal::Failed(e.into())));
            return;
        }
    };
    register(&spec.key, spec.session.clone(), spec.force);
    if ready.send(Ok(())).is_ok() {
        pump(&spec, &console, from_browser, to_browser);
    }
    // Else the request gave up waiting.
    console.abort();
    unregister(&spec.key, &spec.session);
}

/// Moves bytes both ways until either side ends.
fn pump(
    spec: &Spec,
    console: &SerialConsole,
    mut from_browser: mpsc::Receiver<Bytes>,
    to_browser: mpsc::Sender<SerialOut>,
) {
    let mut buf = vec![0u8; CHUNK];
    // Just after traffic (typing, its echo) the thread looks again at once.
    let mut last_busy = Instant::now();
    let end = loop {
        let mut busy = false;
        match console.recv(&mut buf) {
            Ok(Received::End) => break None,
            Ok(Received::Data(n)) => {
                busy = true;
                let data = Bytes::copy_from_slice(&buf[..n]);
                if to_browser.blocking_send(SerialOut::Data(data)).is_err() {
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
                        let _ = to_browser.blocking_send(end_of(spec, console, Some(e)));
                        return;
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        }
        if busy {
            last_busy = Instant::now();
        } else if last_busy.elapsed() < HOT {
            std::thread::sleep(Duration::from_millis(1));
        } else {
            std::thread::sleep(IDLE);
        }
    };
    let _ = to_browser.blocking_send(end_of(spec, console, end));
}

/// Why the stream ended (`error`: libvirt's message, `None` at its end).
fn end_of(spec: &Spec, console: &SerialConsole, error: Option<String>) -> SerialOut {
    if spec.session.taken_over() {
        return SerialOut::End(BUSY, TAKEN_OVER.into());
    }
    // QEMU closes the console as it exits; libvirt may note the guest's end
    // a moment later.
    for _ in 0..10 {
        if console.guest_is_active() {
            std::thread::sleep(Duration::from_millis(200));
        } else {
            return SerialOut::End(1000, "the guest has stopped".into());
        }
        if spec.session.taken_over() {
            return SerialOut::End(BUSY, TAKEN_OVER.into());
        }
    }
    match error {
        None => SerialOut::End(1000, "the console stream ended".into()),
        Some(e) => SerialOut::End(1011, format!("the console failed: {e}")),
    }
}
