//! The login page: the only page reachable without a session.

use leptos::{html, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::auth::Login;

/// Where to go after logging in: the `next` query parameter when it is a local
/// path (never another site), else the guest list.
fn local_target(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/guests".to_string())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    // Read from the inputs at submit time (not bound to signals): what was
    // typed before the page hydrated must not be reset by hydration.
    let username = NodeRef::<html::Input>::new();
    let password = NodeRef::<html::Input>::new();
    let query = use_query_map();
    // The form only works once the page is hydrated; until then the button is
    // disabled so a password is never submitted as a plain form.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    Effect::new(move |_| {
        if let Some(Ok(_)) = login.value().get() {
            let target = local_target(query.read_untracked().get("next"));
            let _ = window().location().set_href(&target);
        }
    });
    let error = move || {
        login
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.to_string())
    };
    view! {
        <Title text="Log in" />
        <main class="login">
            <form
                method="post"
                on:submit=move |ev| {
                    ev.prevent_default();
                    let value = |input: NodeRef<html::Input>| {
                        input.get_untracked().map(|i| i.value()).unwrap_or_default()
                    };
                    login.dispatch(Login {
                        username: value(username),
                        password: value(password),
                    });
                }
            >
                <h1>"virtdeck"</h1>
                <p class="muted">"KVM hosts, guests and storage"</p>
                <label>
                    "Username"
                    <input name="username" autocomplete="username" required node_ref=username />
                </label>
                <label>
                    "Password"
                    <input
                        type="password"
                        name="password"
                        autocomplete="current-password"
                        required
                        node_ref=password
                    />
                </label>
                <p class="error" role="alert">
                    {error}
                </p>
                <button type="submit" disabled=move || !hydrated.get() || login.pending().get()>
                    {move || if login.pending().get() { "Logging in…" } else { "Log in" }}
                </button>
            </form>
        </main>
    }
}
