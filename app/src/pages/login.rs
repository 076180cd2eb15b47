//! The login page: the only page reachable without a session. It works before
//! the wasm has loaded (a plain form post to `/login`, which the server answers
//! with a redirect); once hydrated, the same form logs in through the API
//! without leaving the page. A user with two-factor login then gives a code
//! (or a recovery code) in a second step, plain or hydrated alike.

use leptos::{html, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::auth::{safe_next, Login, LoginAnswer, LoginTotp};

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let second = ServerAction::<LoginTotp>::new();
    // Read from the inputs at submit time (not bound to signals): what was
    // typed before the page hydrated must not be reset by hydration.
    let username = NodeRef::<html::Input>::new();
    let password = NodeRef::<html::Input>::new();
    let code = NodeRef::<html::Input>::new();
    let query = use_query_map();
    let next = move || query.read().get("next");
    // A plain (not yet hydrated) post comes back with ?failed=1 or ?totp=1.
    let failed_plain = move || query.read().get("failed").is_some();
    let needs_code = RwSignal::new(query.read_untracked().get("totp").is_some());
    let go_on = move || {
        let target = safe_next(query.read_untracked().get("next").as_deref());
        let _ = window().location().set_href(&target);
    };
    Effect::new(move |_| match login.value().get() {
        Some(Ok(LoginAnswer::Done(_))) => go_on(),
        Some(Ok(LoginAnswer::Pending { .. })) => needs_code.set(true),
        _ => {}
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = second.value().get() {
            go_on();
        }
    });
    let error = move || {
        if needs_code.get() {
            return match second.value().get() {
                Some(Err(e)) => Some(e.to_string()),
                _ => failed_plain().then(|| "that code is wrong or was used already".to_string()),
            };
        }
        match login.value().get() {
            Some(Err(e)) => Some(e.to_string()),
            Some(Ok(_)) => None,
            None => failed_plain().then(|| "wrong username or password".to_string()),
        }
    };
    let value =
        |input: NodeRef<html::Input>| input.get_untracked().map(|i| i.value()).unwrap_or_default();
    view! {
        <Title text="Log in" />
        <main class="login">
            <Show
                when=move || needs_code.get()
                fallback=move || view! {
                    <form
                        method="post"
                        action="/login"
                        on:submit=move |ev| {
                            ev.prevent_default();
                            login.dispatch(Login { username: value(username), password: value(password) });
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
                            <input type="password" name="password" autocomplete="current-password" required node_ref=password />
                        </label>
                        <p class="error" role="alert">{error}</p>
                        <button type="submit" disabled=move || login.pending().get()>
                            {move || if login.pending().get() { "Logging in…" } else { "Log in" }}
                        </button>
                    </form>
                }
            >
                <form
                    method="post"
                    action="/login/totp"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        second.dispatch(LoginTotp { code: value(code) });
                    }
                >
                    <h1>"virtdeck"</h1>
                    <p class="muted">"Enter the code from your authenticator app, or one of your recovery codes."</p>
                    <input type="hidden" name="next" value=move || next().unwrap_or_default() />
                    <label>
                        "Code"
                        <input name="code" autocomplete="one-time-code" required maxlength="64" node_ref=code />
                    </label>
                    <p class="error" role="alert">{error}</p>
                    <button type="submit" disabled=move || second.pending().get()>"Verify"</button>
                </form>
            </Show>
        </main>
    }
}
