//! The account page: change one's own password (required first when an admin
//! set it), and see and end one's own sessions.

use leptos::{
    either::{Either, EitherOf3},
    prelude::*,
};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::{
        auth::{current_user, Role},
        users::{
            list_tokens, my_sessions, validate_password, ChangePassword, CreateToken, EndSession,
            RevokeToken, TotpConfirm, TotpDisable, TotpStart,
        },
    },
    components::{live::SocketAllowed, ErrorNotice},
};

#[component]
pub fn AccountPage() -> impl IntoView {
    let must_change = use_query_map().with_untracked(|q| q.get("must_change").is_some());
    let must_enrol = use_query_map().with_untracked(|q| q.get("enrol_totp").is_some());
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
            {must_enrol
                .then(|| {
                    view! {
                        <div class="notice warn" role="alert">
                            "Two-factor login is required for admins: set it up below before you go on."
                        </div>
                    }
                })}
            <PasswordForm />
            <TwoFactor />
            <Sessions />
            <Tokens />
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
    let socket = use_context::<SocketAllowed>();
    Effect::new(move |_| {
        if let Some(Ok(())) = change.value().get() {
            // The page's socket may open now.
            if let Some(socket) = socket {
                socket.0.set(true);
            }
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
                Some(Ok(())) => Some(Either::Left(view! {
                    <div class="notice ok" role="status">
                        "Password changed. Your other sessions have been logged out."
                        " " <a href="/guests">"Go to the guests"</a>
                    </div>
                })),
                Some(Err(error)) => Some(Either::Right(view! { <ErrorNotice error /> })),
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
                    Ok(list) => Either::Left(view! {
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
                                                    Either::Left(view! { <span class="tag">"this session"</span> })
                                                } else {
                                                    Either::Right(view! {
                                                        <button class="small secondary" on:click=move |_| { end.dispatch(EndSession { id }); }>
                                                            "End"
                                                        </button>
                                                    })
                                                }}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }),
                    Err(error) => Either::Right(view! { <ErrorNotice error /> }),
                })}
            </Transition>
        </section>
    }
}

/// API tokens for scripts: `Authorization: Bearer …`, shown once.
#[component]
fn Tokens() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_tokens(),
    );
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(String::new());
    let expires = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let day = expires.get_untracked();
        create.dispatch(CreateToken {
            name: name.get_untracked(),
            role: Some(role.get_untracked()).filter(|r| !r.is_empty()),
            expires_at: (!day.is_empty()).then(|| format!("{day}T00:00:00Z")),
        });
    };
    view! {
        <section class="panel" aria-label="API tokens">
            <h2>"API tokens"</h2>
            <p class="muted">
                "For scripts: send " <code>"Authorization: Bearer <token>"</code>
                ". A token acts as you, with the lower of its role and yours; it cannot log in to this site or manage tokens."
            </p>
            {move || match create.value().get() {
                Some(Ok(t)) => Some(Either::Left(view! {
                    <div class="notice ok" role="status">
                        <p>{format!("Token \"{}\" created. Copy it now: it is not shown again.", t.info.name)}</p>
                        <code class="secret">{t.token}</code>
                    </div>
                })),
                Some(Err(error)) => Some(Either::Right(view! { <ErrorNotice error /> })),
                None => None,
            }}
            {move || revoke.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorNotice error /> })}
            <Transition fallback=|| ()>
                {move || tokens.get().map(|r| match r {
                    Ok(list) if list.is_empty() => EitherOf3::A(view! { <p class="muted">"No tokens."</p> }),
                    Ok(list) => EitherOf3::B(view! {
                        <table class="data tokens">
                            <thead><tr>
                                <th scope="col">"Name"</th>
                                <th scope="col">"Role"</th>
                                <th scope="col">"Expires"</th>
                                <th scope="col">"Last used"</th>
                                <th scope="col"><span class="sr-only">"Actions"</span></th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|t| {
                                    let id = t.id;
                                    let label = t.name.clone();
                                    view! {
                                        <tr data-token=label>
                                            <th scope="row">{t.name}</th>
                                            <td data-label="Role">{t.role.as_str()}</td>
                                            <td data-label="Expires">{t.expires_at.map(|e| e.replace('T', " ")).unwrap_or_else(|| "never".into())}</td>
                                            <td data-label="Last used">{t.last_used_at.map(|e| e.replace('T', " ")).unwrap_or_else(|| "never".into())}</td>
                                            <td class="actions">
                                                {if t.revoked {
                                                    Either::Left(view! { <span class="tag">"revoked"</span> })
                                                } else {
                                                    Either::Right(view! { <button class="small secondary" on:click=move |_| { revoke.dispatch(RevokeToken { id }); }>"Revoke"</button> })
                                                }}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }),
                    Err(error) => EitherOf3::C(view! { <ErrorNotice error /> }),
                })}
            </Transition>
            <form class="inline-form" on:submit=submit aria-label="New token">
                <label>
                    "Name"
                    <input name="name" required maxlength="64" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                </label>
                <label>
                    "Role"
                    <select name="role" on:change=move |ev| role.set(event_target_value(&ev))>
                        <option value="">"mine"</option>
                        {Role::ALL.into_iter().map(|r| view! { <option value=r.as_str()>{r.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    "Expires (optional)"
                    <input type="date" name="expires" prop:value=move || expires.get() on:input=move |ev| expires.set(event_target_value(&ev)) />
                </label>
                <button type="submit" disabled=move || create.pending().get()>"Create token"</button>
            </form>
        </section>
    }
}

/// Two-factor login: set up with an authenticator app (QR code), confirm
/// with a code, keep the recovery codes; or turn it off with the password.
#[component]
fn TwoFactor() -> impl IntoView {
    let start = ServerAction::<TotpStart>::new();
    let confirm = ServerAction::<TotpConfirm>::new();
    let disable = ServerAction::<TotpDisable>::new();
    let me = Resource::new(
        move || (confirm.version().get(), disable.version().get()),
        |_| current_user(),
    );
    let code = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    // Enrolment asks for the password.
    let setup_form = move || {
        view! {
            <form class="inline-form" aria-label="Set up two-factor login" on:submit=move |ev| {
                ev.prevent_default();
                start.dispatch(TotpStart { password: password.get_untracked() });
            }>
                <label>"Password" <input type="password" name="password" autocomplete="current-password" required
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) /></label>
                <button type="submit" class="secondary">"Set up two-factor login"</button>
            </form>
        }
    };
    view! {
        <section class="panel narrow" aria-label="Two-factor login">
            <h2>"Two-factor login"</h2>
            <Transition fallback=|| ()>
                {move || me.get().and_then(|r| r.ok()).map(|u| if u.totp {
                    Either::Left(view! {
                        <p>"On: logging in needs a code from your authenticator app (or a recovery code)."</p>
                        {move || confirm.value().get().and_then(|r| r.ok()).map(|codes| view! {
                            <div class="notice ok" role="status">
                                <p>"Keep these recovery codes somewhere safe; each works once, and they are not shown again:"</p>
                                <ul class="recovery-codes">{codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}</ul>
                            </div>
                        })}
                        <form class="inline-form" aria-label="Turn off two-factor login" on:submit=move |ev| {
                            ev.prevent_default();
                            disable.dispatch(TotpDisable { password: password.get_untracked() });
                        }>
                            <label>"Password" <input type="password" name="password" autocomplete="current-password" required
                                prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) /></label>
                            <button type="submit" class="secondary">"Turn off"</button>
                        </form>
                        {move || disable.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorNotice error /> })}
                    })
                } else {
                    Either::Right(view! {
                        <p class="muted">"Off. With it on, logging in also needs a code from an authenticator app on your phone."</p>
                        {move || match start.value().get() {
                            Some(Ok(setup)) => EitherOf3::A(view! {
                                <div class="totp-setup">
                                    <div class="qr" inner_html=setup.qr_svg></div>
                                    <p>"Scan this with your authenticator app, or type the key: " <code class="secret">{setup.secret}</code></p>
                                    <form class="inline-form" aria-label="Confirm two-factor login" on:submit=move |ev| {
                                        ev.prevent_default();
                                        confirm.dispatch(TotpConfirm { code: code.get_untracked() });
                                    }>
                                        <label>"Code from the app" <input name="code" inputmode="numeric" autocomplete="one-time-code" required
                                            prop:value=move || code.get() on:input=move |ev| code.set(event_target_value(&ev)) /></label>
                                        <button type="submit">"Turn on"</button>
                                    </form>
                                    {move || confirm.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorNotice error /> })}
                                </div>
                            }),
                            // Asked again (and again after a wrong one).
                            Some(Err(error)) => EitherOf3::B(view! { <ErrorNotice error /> {setup_form()} }),
                            None => EitherOf3::C(setup_form()),
                        }}
                    })
                })}
            </Transition>
        </section>
    }
}
