//! The login page: the only page reachable without a session. It works before
//! the wasm has loaded (a plain form post to `/login`, which the server answers
//! with a redirect); once hydrated, the same form logs in through the API
//! without leaving the page.

use leptos::{html, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::auth::{safe_next, Login};

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    // Read from the inputs at submit time (not bound to signals): what was
    // typed before the page hydrated must not be reset by hydration.
    let username = NodeRef::<html::Input>::new();
    let password = NodeRef::<html::Input>::new();
    let query = use_query_map();
    let next = move || query.read().get("next");
    // A plain (not yet hydrated) post that failed comes back with ?failed=1.
    let failed_plain = move || query.read().get("failed").is_some();
    Effect::new(move |_| {
        if let Some(Ok(_)) = login.value().get() {
            let target = safe_next(query.read_untracked().get("next").as_deref());
            let _ = window().location().set_href(&target);
        }
    });
    let error = move || match login.value().get() {
        Some(Err(e)) => Some(e.to_string()),
        Some(Ok(_)) => None,
        None => failed_plain().then(|| "wrong username or password".to_string()),
    };
    view! {
        <Title text="Log in" />
        <main class="login">
            <form
                method="post"
                action="/login"
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
                <input type="hidden" name="next" value=move || next().unwrap_or_default() />
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
                <button type="submit" disabled=move || login.pending().get()>
                    {move || if login.pending().get() { "Logging in…" } else { "Log in" }}
                </button>
            </form>
        </main>
    }
}
