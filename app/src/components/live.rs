//! Live updates from the server's `/ws` socket: one socket per page, opened by
//! the layout (`provide_server_events`), shared by every component that calls
//! `use_server_events`. Browser only: during server rendering both do nothing.

use leptos::prelude::*;

use crate::api::events::{EventKind, ServerEvent};

/// Whether the page may open its socket: not while the user must first
/// choose a password (the server refuses `/ws` then, and a page retrying
/// would ask again and again). The layout sets it from the session's user;
/// the Account page sets it once the password is changed.
#[derive(Clone, Copy)]
pub struct SocketAllowed(pub RwSignal<bool>);

/// Makes the page's socket available to the components below; it opens once
/// `SocketAllowed` (provided here, false at first) turns true, and
/// reconnects with back-off when it drops.
pub fn provide_server_events() -> SocketAllowed {
    let allowed = SocketAllowed(RwSignal::new(false));
    provide_context(allowed);
    #[cfg(feature = "hydrate")]
    browser::provide(allowed.0);
    allowed
}

/// Calls `on_event` for every message of these `kinds` from `/ws` while the
/// calling component lives (on the page's shared socket; a socket of its own
/// if there is none). Only the kinds named are read: their decoders are the
/// only ones in the page's wasm.
pub fn use_server_events(kinds: &'static [EventKind], on_event: impl Fn(ServerEvent) + 'static) {
    #[cfg(feature = "hydrate")]
    browser::subscribe(kinds, std::rc::Rc::new(on_event));
    #[cfg(not(feature = "hydrate"))]
    let _ = (kinds, on_event);
}

/// The user is logging out here: the page goes to the login page itself
/// once the logout is done, so the socket's "session ended" close (which the
/// logout causes, often first) does not send it there too (two navigations
/// race, and the second aborts the first). False again if the logout failed.
pub fn set_logging_out(on: bool) {
    #[cfg(feature = "hydrate")]
    browser::LOGGING_OUT.with(|flag| flag.set(on));
    #[cfg(not(feature = "hydrate"))]
    let _ = on;
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::{
        cell::{Cell, RefCell},
        rc::Rc,
    };

    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{CloseEvent, MessageEvent, WebSocket};

    use super::{EventKind, ServerEvent};
    use crate::api::events::{event_type, SESSION_ENDED};

    thread_local! {
        pub static LOGGING_OUT: Cell<bool> = const { Cell::new(false) };
    }

    type Handler = Rc<dyn Fn(ServerEvent)>;
    /// What a socket calls with each message: its `type` and its text.
    type Deliver = Rc<dyn Fn(&str, &str)>;

    /// A component's handler and the kinds it reads.
    #[derive(Clone)]
    struct Subscriber {
        kinds: &'static [EventKind],
        handler: Handler,
    }

    impl Subscriber {
        fn deliver(&self, name: &str, text: &str) {
            if let Some(kind) = self.kinds.iter().find(|k| k.name == name) {
                if let Ok(event) = (kind.decode)(text) {
                    (self.handler)(event);
                }
            }
        }
    }

    /// The subscribers of the page's socket.
    #[derive(Default)]
    struct Hub {
        next: u64,
        subscribers: Vec<(u64, Subscriber)>,
    }

    /// The page's shared socket, in the Leptos context.
    #[derive(Clone)]
    struct Shared(SendWrapper<Rc<RefCell<Hub>>>);

    #[derive(Default)]
    struct Live {
        socket: Option<WebSocket>,
        on_message: Option<Closure<dyn FnMut(MessageEvent)>>,
        on_close: Option<Closure<dyn FnMut(CloseEvent)>>,
        failures: u32,
        stopped: bool,
        /// Sockets opened so far: a `hello` on any but the first means the
        /// socket reconnected, and pages read what they show again.
        opened: u32,
        /// The current socket has had a message (the server took it).
        heard: bool,
    }

    impl Live {
        fn close(&mut self) {
            if let Some(ws) = self.socket.take() {
                ws.set_onmessage(None);
                ws.set_onclose(None);
                let _ = ws.close();
            }
            self.on_message = None;
            self.on_close = None;
        }
    }

    pub fn provide(allowed: RwSignal<bool>) {
        let hub = Rc::new(RefCell::new(Hub::default()));
        let deliver: Deliver = {
            let hub = hub.clone();
            Rc::new(move |name: &str, text: &str| {
                // Handlers may (un)register others while they run: call copies.
                let subscribers: Vec<Subscriber> = hub
                    .borrow()
                    .subscribers
                    .iter()
                    .map(|(_, s)| s.clone())
                    .collect();
                for s in subscribers {
                    s.deliver(name, text);
                }
            })
        };
        provide_context(Shared(SendWrapper::new(hub)));
        // Opened once allowed, owned by the page (not by this effect), so
        // it lives as long as the page.
        let owner = Owner::current().expect("provide runs inside a component");
        let deliver = SendWrapper::new(deliver);
        let mut opened = false;
        Effect::new(move |_| {
            if allowed.get() && !opened {
                opened = true;
                owner.with(|| open((*deliver).clone()));
            }
        });
    }

    pub fn subscribe(kinds: &'static [EventKind], handler: Handler) {
        let subscriber = Subscriber { kinds, handler };
        let Some(Shared(hub)) = use_context::<Shared>() else {
            open(Rc::new(move |name: &str, text: &str| {
                subscriber.deliver(name, text)
            }));
            return;
        };
        let hub: Rc<RefCell<Hub>> = (*hub).clone();
        let id = {
            let mut h = hub.borrow_mut();
            h.next += 1;
            let id = h.next;
            h.subscribers.push((id, subscriber));
            id
        };
        let guard = SendWrapper::new(hub);
        on_cleanup(move || guard.borrow_mut().subscribers.retain(|(i, _)| *i != id));
    }

    /// A socket delivering to `handler` until the calling owner is cleaned up.
    fn open(handler: Deliver) {
        let live = Rc::new(RefCell::new(Live::default()));
        connect(&live, &handler);
        let guard = SendWrapper::new(live);
        on_cleanup(move || {
            let mut live = guard.borrow_mut();
            live.stopped = true;
            live.close();
        });
    }

    /// The session ended (logout elsewhere, expiry, user disabled): to the
    /// login page, which returns here afterwards; not when this page is
    /// logging out (it goes there itself).
    fn to_login() {
        if LOGGING_OUT.with(Cell::get) {
            return;
        }
        let location = window().location();
        let here = format!(
            "{}{}",
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default()
        );
        let next = js_sys::encode_uri_component(&here);
        let _ = location.set_href(&format!("/login?next={next}"));
    }

    fn connect(live: &Rc<RefCell<Live>>, handler: &Deliver) {
        let location = window().location();
        let scheme = if location.protocol().ok().as_deref() == Some("https:") {
            "wss"
        } else {
            "ws"
        };
        let host = location.host().unwrap_or_default();
        let Ok(ws) = WebSocket::new(&format!("{scheme}://{host}/ws")) else {
            return;
        };
        {
            let mut state = live.borrow_mut();
            state.opened += 1;
            state.heard = false;
        }

        let on_message = {
            let handler = handler.clone();
            let live = live.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let first = {
                    let mut state = live.borrow_mut();
                    state.failures = 0;
                    state.heard = true;
                    state.opened <= 1
                };
                if let Some(text) = e.data().as_string() {
                    if let Ok(name) = event_type(&text) {
                        if first && name == "hello" {
                            return;
                        }
                        handler(&name, &text);
                    }
                }
            })
        };
        let on_close = {
            let handler = handler.clone();
            let live = live.clone();
            Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
                // The session ended (logout elsewhere, expiry, user disabled):
                // back to the login page, which returns here afterwards.
                if e.code() == SESSION_ENDED && !live.borrow().stopped {
                    to_login();
                    return;
                }
                let (delay_ms, refused) = {
                    let mut state = live.borrow_mut();
                    if state.stopped {
                        return;
                    }
                    state.failures += 1;
                    let delay = (1000 * 2i32.pow(state.failures.min(6))).min(60_000);
                    (delay, !state.heard)
                };
                // Never taken: the server refuses a socket whose session has
                // ended (it ended before the socket opened, so no 4001 came),
                // or it cannot be reached. The session itself tells which.
                if refused {
                    let live = live.clone();
                    leptos::task::spawn_local(async move {
                        let ended = matches!(
                            crate::api::auth::current_user().await,
                            Err(crate::api::ApiError::Unauthorized(_))
                        );
                        if ended && !live.borrow().stopped {
                            to_login();
                        }
                    });
                }
                let (live, handler) = (live.clone(), handler.clone());
                let retry = Closure::once_into_js(move || {
                    if !live.borrow().stopped {
                        live.borrow_mut().close();
                        connect(&live, &handler);
                    }
                });
                let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(
                    retry.unchecked_ref(),
                    delay_ms,
                );
            })
        };
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        let mut state = live.borrow_mut();
        state.socket = Some(ws);
        state.on_message = Some(on_message);
        state.on_close = Some(on_close);
    }
}
