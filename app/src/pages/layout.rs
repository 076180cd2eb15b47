//! The frame around every page behind the login: top bar with navigation,
//! the user's name and log out.

use crate::api::events::kinds;
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

use crate::{
    api::{
        auth::{current_user, Logout, Role},
        events::ServerEvent,
    },
    components::live::{provide_server_events, use_server_events},
};

#[component]
pub fn Layout() -> impl IntoView {
    // One /ws socket for the whole page, shared by its components.
    let socket = provide_server_events();
    // The balance advisor's recommendations: the socket says the count
    // right after it opens, and again whenever it changes.
    let recommendations = RwSignal::new(0u32);
    use_server_events(&[kinds::BALANCE_CHANGED], move |event| {
        if let ServerEvent::BalanceChanged { recommendations: n } = event {
            recommendations.set(n);
        }
    });
    let me = Resource::new(|| (), |_| current_user());
    // The socket opens once the user may use it (not before the first
    // password is chosen).
    Effect::new(move |_| {
        if let Some(Ok(u)) = me.get() {
            if !u.must_change_password {
                socket.0.set(true);
            }
        }
    });
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| match logout.value().get() {
        Some(Ok(())) => {
            let _ = window().location().set_href("/login");
        }
        Some(Err(_)) => crate::components::live::set_logging_out(false),
        None => {}
    });
    view! {
        <header class="topbar">
            <a class="brand" href="/guests">
                "virtdeck"
            </a>
            <nav aria-label="Main">
                <A href="/guests">"Guests"</A>
                <A href="/hosts">"Hosts"</A>
                <A href="/storage">"Storage"</A>
                <A href="/migrations">"Migrations"</A>
                <A href="/balance">
                    "Balance"
                    {move || {
                        let n = recommendations.get();
                        (n > 0)
                            .then(|| {
                                view! {
                                    <span class="count" title=format!("{n} recommended move(s)")>
                                        {n}
                                    </span>
                                }
                            })
                    }}
                </A>
                <Suspense fallback=|| ()>
                    {move || {
                        me.get()
                            .and_then(|r| r.ok())
                            .filter(|u| u.can(Role::Admin))
                            .map(|_| view! { <A href="/users">"Users"</A> <A href="/audit">"Audit"</A> })
                    }}
                </Suspense>
            </nav>
            <div class="account">
                <Suspense fallback=|| ()>
                    {move || {
                        me.get()
                            .and_then(|r| r.ok())
                            .map(|u| {
                                view! {
                                    <a class="user" href="/account" title="Your account and sessions">
                                        <span class="name">{u.username}</span>
                                        <span class="role">{u.role.as_str()}</span>
                                    </a>
                                }
                            })
                    }}
                </Suspense>
                <button
                    class="secondary"
                    on:click=move |_| {
                        crate::components::live::set_logging_out(true);
                        logout.dispatch(Logout {});
                    }
                >
                    "Log out"
                </button>
            </div>
        </header>
        // What the role cannot do is hidden (`.needs-operator`); the server
        // refuses it anyway. Unknown until the user is read: hidden.
        <div
            class="app"
            data-role=move || {
                me.get().and_then(|r| r.ok()).map(|u| u.role.as_str()).unwrap_or("")
            }
        >
            <Outlet />
        </div>
    }
}
