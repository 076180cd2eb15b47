//! A guest's consoles, each a page of its own without the layout (the whole
//! window for the screen): `/guests/:host/:uuid/console` (graphical, noVNC)
//! and `/guests/:host/:uuid/serial` (the serial line, xterm.js).
//!
//! The page renders the frame (a toolbar, the status line, an empty screen)
//! and loads a small hand-written ES module from `public/console/` that
//! drives the third-party client (`vnc.js`, `serial.js`; the libraries are
//! in `public/console/vendor/`, put there by `scripts/setup`). They connect
//! to `/ws/console/vnc` or `/ws/console/serial` on this server. Links to these
//! pages must load them in full (`rel="external"`): the module runs once per
//! page load. Their CSP is `csp::console_policy`.

use leptos::{either::Either, prelude::*};
use leptos_meta::{Stylesheet, Title};
use leptos_router::hooks::use_params_map;

/// Is `path` one of the console pages? (The shell gives them their policy.)
#[cfg(any(feature = "ssr", test))]
pub fn is_console_path(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    matches!(parts.as_slice(), ["", "guests", _, _, "console" | "serial"])
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Vnc,
    Serial,
}

#[component]
pub fn VncConsolePage() -> impl IntoView {
    view! { <ConsoleFrame kind=Kind::Vnc /> }
}

#[component]
pub fn SerialConsolePage() -> impl IntoView {
    view! { <ConsoleFrame kind=Kind::Serial /> }
}

#[component]
fn ConsoleFrame(kind: Kind) -> impl IntoView {
    let params = use_params_map();
    let host = params.with_untracked(|p| p.get("host").unwrap_or_default());
    let uuid = params.with_untracked(|p| p.get("uuid").unwrap_or_default());
    let (title, script, other, other_label) = match kind {
        Kind::Vnc => ("Console", "/console/vnc.js", "serial", "Serial console"),
        Kind::Serial => (
            "Serial console",
            "/console/serial.js",
            "console",
            "Graphical console",
        ),
    };
    let other_href = format!("/guests/{host}/{uuid}/{other}");
    let tools = match kind {
        Kind::Vnc => Either::Left(view! {
            <button type="button" id="console-cad" class="secondary" disabled>
                "Ctrl+Alt+Del"
            </button>
            <select id="console-keys" aria-label="Send a key combination" disabled>
                <option value="">"Send keys…"</option>
                <option value="ctrl-alt-f1">"Ctrl+Alt+F1"</option>
                <option value="ctrl-alt-f2">"Ctrl+Alt+F2"</option>
                <option value="ctrl-alt-f7">"Ctrl+Alt+F7"</option>
                <option value="ctrl-alt-backspace">"Ctrl+Alt+Backspace"</option>
                <option value="alt-tab">"Alt+Tab"</option>
                <option value="escape">"Esc"</option>
            </select>
        }),
        Kind::Serial => Either::Right(view! {
            <Stylesheet href="/console/vendor/xterm/xterm.css" />
            <button type="button" id="console-takeover" class="primary" hidden>
                "Take over"
            </button>
        }),
    };
    let kind_name = match kind {
        Kind::Vnc => "vnc",
        Kind::Serial => "serial",
    };
    view! {
        <Title text=title />
        <main
            class="console"
            id="console"
            data-kind=kind_name
            data-host=host.clone()
            data-uuid=uuid.clone()
        >
            <header class="console-bar">
                <a class="console-back" href="/guests">
                    "← Guests"
                </a>
                <h1 class="console-title">
                    <span id="console-name">{uuid.clone()}</span>
                    <span class="console-host">" on " {host.clone()}</span>
                </h1>
                <p
                    id="console-status"
                    class="console-status"
                    role="status"
                    aria-live="polite"
                    data-state="connecting"
                >
                    "connecting…"
                </p>
                <div class="console-tools" role="toolbar" aria-label=title>
                    {tools}
                    <button type="button" id="console-fullscreen" class="secondary" disabled>
                        "Fullscreen"
                    </button>
                    <button type="button" id="console-reconnect" class="secondary" disabled>
                        "Reconnect"
                    </button>
                    <a class="console-other" href=other_href rel="external">
                        {other_label}
                    </a>
                </div>
            </header>
            <div id="console-screen" class=format!("console-screen console-{kind_name}")></div>
            <script type="module" src=script></script>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::is_console_path;

    #[test]
    fn console_paths_are_recognised() {
        assert!(is_console_path("/guests/kvm1/0f0e/console"));
        assert!(is_console_path("/guests/kvm1/0f0e/serial/"));
        assert!(!is_console_path("/guests/kvm1/0f0e"));
        assert!(!is_console_path("/guests"));
        assert!(!is_console_path("/guests/a/b/c/console"));
    }
}
