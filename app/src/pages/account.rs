//! The account page: change one's own password (required first when an admin
//! set it), and see and end one's own sessions.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::users::{my_sessions, validate_password, ChangePassword, EndSession},
    components::ErrorNotice,
};

#[component]
pub fn AccountPage() -> impl IntoView {
    let must_change = use_query_map().with_untracked(|q| q.get("must_change").is_some());
    view! {
        <Title text="Account" />
        <main class="page">
            <h1>"Account"</h1>
            {must_change
                .then(|| {
                    view! {
                        <div class="notice warn" role="alert">
                            "Your password was set by someone else: choose your own before you go on."
                        </div>
                    }
                })}
            <PasswordForm />
            <Sessions />
        </main>
    }
}

#[component]
fn PasswordForm() -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let repeat = RwSignal::new(String::new());
    let change = ServerAction::<ChangePassword>::new();
    let problem = move || {
        let (n, r) = (new.get(), repeat.get());
        if n.is_empty() {
            return None;
        }
        // The user name is checked by the server; here the length.
        if let Err(e) = validate_password("", &n) {
            return Some(e.message().to_string());
        }
        (!r.is_empty() && n != r).then(|| "the two new passwords differ".to_string())
    };
    Effect::new(move |_| {
        if let Some(Ok(())) = change.value().get() {
            current.set(String::new());
            new.set(String::new());
            repeat.set(String::new());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if problem().is_none() && new.get_untracked() == repeat.get_untracked() {
            change.dispatch(ChangePassword {
                current: current.get_untracked(),
                new: new.get_untracked(),
            });
        }
    };
    view! {
        <form class="panel narrow" on:submit=submit aria-label="Change password">
            <h2>"Password"</h2>
            <label>
                "Current password"
                <input type="password" name="current" autocomplete="current-password" required
                    prop:value=move || current.get() on:input=move |ev| current.set(event_target_value(&ev)) />
            </label>
            <label>
                "New password (at least 12 characters)"
                <input type="password" name="new" autocomplete="new-password" required minlength="12"
                    prop:value=move || new.get() on:input=move |ev| new.set(event_target_value(&ev)) />
            </label>
            <label>
                "New password again"
                <input type="password" name="repeat" autocomplete="new-password" required
                    prop:value=move || repeat.get() on:input=move |ev| repeat.set(event_target_value(&ev)) />
            </label>
            {move || problem().map(|p| view! { <p class="notice error" role="alert">{p}</p> })}
            {move || match change.value().get() {
                Some(Ok(())) => Some(view! {
                    <div class="notice ok" role="status">
                        "Password changed. Your other sessions have been logged out."
                        " " <a href="/guests">"Go to the guests"</a>
                    </div>
                }.into_any()),
                Some(Err(error)) => Some(view! { <ErrorNotice error /> }.into_any()),
                None => None,
            }}
            <div class="buttons">
                <button type="submit" disabled=move || change.pending().get() || problem().is_some()>
                    "Change password"
                </button>
            </div>
        </form>
    }
}

#[component]
fn Sessions() -> impl IntoView {
    let end = ServerAction::<EndSession>::new();
    let sessions = Resource::new(move || end.version().get(), |_| my_sessions());
    view! {
        <section class="panel" aria-label="Sessions">
            <h2>"Sessions"</h2>
            <p class="muted">"Where you are logged in. Ending a session logs that browser out at once."</p>
            {move || end.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorNotice error /> })}
            <Transition fallback=|| view! { <p class="muted">"Loading sessions…"</p> }>
                {move || sessions.get().map(|r| match r {
                    Ok(list) => view! {
                        <table class="data sessions">
                            <thead><tr>
                                <th scope="col">"Started"</th>
                                <th scope="col">"Last seen"</th>
                                <th scope="col">"From"</th>
                                <th scope="col"><span class="sr-only">"Actions"</span></th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|s| {
                                    let id = s.id;
                                    view! {
                                        <tr data-session=id.to_string()>
                                            <td data-label="Started">{s.created_at.replace('T', " ")}</td>
                                            <td data-label="Last seen">{s.last_seen.replace('T', " ")}</td>
                                            <td data-label="From">{s.client.unwrap_or_default()}</td>
                                            <td class="actions">
                                                {if s.current {
                                                    view! { <span class="tag">"this session"</span> }.into_any()
                                                } else {
                                                    view! {
                                                        <button class="small secondary" on:click=move |_| { end.dispatch(EndSession { id }); }>
                                                            "End"
                                                        </button>
                                                    }.into_any()
                                                }}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                })}
            </Transition>
        </section>
    }
}
