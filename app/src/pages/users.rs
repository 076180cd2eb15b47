//! The users page (admins): create users, change their role, disable or
//! enable them, reset a password. A new or reset password must be changed by
//! its user at the next login; disabling ends the user's sessions at once.

use leptos::{either::Either, prelude::*};
use leptos_meta::Title;

use crate::{
    api::{
        auth::Role,
        users::{
            get_settings, list_users, validate_password, validate_username, CreateUser,
            SetSettings, UpdateUser, UserInfo,
        },
    },
    components::{
        confirm::Prompt,
        notice::{Notice, NoticeLine},
        ErrorNotice,
    },
};

#[component]
pub fn UsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let update = ServerAction::<UpdateUser>::new();
    let users = Resource::new(
        move || (create.version().get(), update.version().get()),
        |_| list_users(),
    );
    let notice = RwSignal::new(None::<Notice>);
    Effect::new(move |_| {
        if let Some(result) = update.value().get() {
            notice.set(Some(Notice::from_result(result.map(|u| {
                format!(
                    "{} is now {}{}.",
                    u.username,
                    u.role,
                    if u.disabled { ", disabled" } else { "" }
                )
            }))));
        }
    });
    let resetting = RwSignal::new(None::<String>);
    view! {
        <Title text="Users" />
        <main class="page">
            <h1>"Users"</h1>
            <p class="muted">
                "Viewers read everything except host addresses; operators also act on guests, storage and migrations; admins also manage users."
            </p>
            <NoticeLine notice />
            <Transition fallback=|| view! { <p class="muted">"Loading users…"</p> }>
                {move || users.get().map(|r| match r {
                    Ok(list) => Either::Left(view! { <UserTable list update resetting /> }),
                    Err(error) => Either::Right(view! { <ErrorNotice error /> }),
                })}
            </Transition>
            <NewUser create />
            <SecuritySettings />
            {move || resetting.get().map(|username| {
                let name = username.clone();
                view! {
                    <Prompt
                        title=format!("New password for {username}")
                        detail="Their sessions end now; they must choose their own password at their next login.".to_string()
                        label="Password".to_string()
                        confirm_label="Set password".to_string()
                        input_type="password"
                        check=Callback::new(move |p: String| validate_password(&name, &p).map_err(|e| e.message().to_string()))
                        on_confirm=Callback::new(move |password: String| {
                            update.dispatch(UpdateUser { username: username.clone(), role: None, disabled: None, password: Some(password), reset_totp: false });
                            resetting.set(None);
                        })
                        on_cancel=Callback::new(move |_| resetting.set(None))
                    />
                }
            })}
        </main>
    }
}

#[component]
fn UserTable(
    list: Vec<UserInfo>,
    update: ServerAction<UpdateUser>,
    resetting: RwSignal<Option<String>>,
) -> impl IntoView {
    view! {
        <table class="data users">
            <thead><tr>
                <th scope="col">"User"</th>
                <th scope="col">"Role"</th>
                <th scope="col">"State"</th>
                <th scope="col"><span class="sr-only">"Actions"</span></th>
            </tr></thead>
            <tbody>
                {list.into_iter().map(|u| {
                    let name = u.username.clone();
                    let (n1, n2, n3, n4) = (name.clone(), name.clone(), name.clone(), name.clone());
                    let disabled = u.disabled;
                    view! {
                        <tr data-user=name.clone()>
                            <th scope="row">{name.clone()}</th>
                            <td data-label="Role">
                                <select aria-label=format!("Role of {name}") on:change=move |ev| {
                                    update.dispatch(UpdateUser { username: n1.clone(), role: Some(event_target_value(&ev)), disabled: None, password: None, reset_totp: false });
                                }>
                                    {Role::ALL.into_iter().map(|r| view! {
                                        <option value=r.as_str() selected=r == u.role>{r.as_str()}</option>
                                    }).collect_view()}
                                </select>
                            </td>
                            <td data-label="State">
                                {if disabled { "disabled" } else if u.must_change_password { "must change password" } else { "active" }}
                            </td>
                            <td class="actions">
                                <button class="small secondary" on:click=move |_| {
                                    update.dispatch(UpdateUser { username: n2.clone(), role: None, disabled: Some(!disabled), password: None, reset_totp: false });
                                }>{if disabled { "Enable" } else { "Disable" }}</button>
                                <button class="small secondary" on:click=move |_| resetting.set(Some(n3.clone()))>
                                    "Reset password"
                                </button>
                                <button class="small secondary" title="For a lost phone: they set it up again"
                                    aria-label=format!("Reset two-factor login of {n4}")
                                    on:click=move |_| {
                                        update.dispatch(UpdateUser { username: n4.clone(), role: None, disabled: None, password: None, reset_totp: true });
                                    }>
                                    "Reset two-factor"
                                </button>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn NewUser(create: ServerAction<CreateUser>) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new("operator".to_string());
    let problem = move || {
        let (u, p) = (username.get(), password.get());
        if u.is_empty() || p.is_empty() {
            return None;
        }
        validate_username(&u)
            .and_then(|_| validate_password(&u, &p))
            .err()
            .map(|e| e.message().to_string())
    };
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            username.set(String::new());
            password.set(String::new());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateUser {
            username: username.get_untracked(),
            password: password.get_untracked(),
            role: role.get_untracked(),
        });
    };
    view! {
        <form class="panel narrow" on:submit=submit aria-label="New user">
            <h2>"New user"</h2>
            <label>
                "User name"
                <input name="username" autocomplete="off" required
                    prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev)) />
            </label>
            <label>
                "First password (they change it at their first login)"
                <input type="password" name="password" autocomplete="new-password" required minlength="12"
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
            </label>
            <label>
                "Role"
                <select name="role" on:change=move |ev| role.set(event_target_value(&ev))>
                    {Role::ALL.into_iter().map(|r| view! {
                        <option value=r.as_str() selected=r == Role::Operator>{r.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            {move || problem().map(|p| view! { <p class="notice error" role="alert">{p}</p> })}
            {move || create.value().get().map(|result| {
                Notice::from_result(result.map(|u| format!("Created {} ({}).", u.username, u.role))).view()
            })}
            <div class="buttons">
                <button type="submit" disabled=move || create.pending().get() || problem().is_some()>"Create user"</button>
            </div>
        </form>
    }
}

#[component]
fn SecuritySettings() -> impl IntoView {
    let set = ServerAction::<SetSettings>::new();
    let settings = Resource::new(move || set.version().get(), |_| get_settings());
    view! {
        <section class="panel narrow" aria-label="Security settings">
            <h2>"Security"</h2>
            <Transition fallback=|| ()>
                {move || settings.get().and_then(|r| r.ok()).map(|s| view! {
                    <label class="check">
                        <input
                            type="checkbox"
                            name="require_totp_for_admins"
                            checked=s.require_totp_for_admins
                            on:change=move |ev| {
                                set.dispatch(SetSettings { require_totp_for_admins: event_target_checked(&ev) });
                            }
                        />
                        "Require two-factor login for admins (an admin without it must set it up at the next request)"
                    </label>
                })}
            </Transition>
            {move || set.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorNotice error /> })}
        </section>
    }
}
