//! The frame around every page behind the login: top bar with navigation,
//! the user's name and log out.

use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

use crate::{
    api::auth::{current_user, Logout},
    components::live::provide_server_events,
};

#[component]
pub fn Layout() -> impl IntoView {
    // One /ws socket for the whole page, shared by its components.
    provide_server_events();
    let me = Resource::new(|| (), |_| current_user());
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = logout.value().get() {
            let _ = window().location().set_href("/login");
        }
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
            </nav>
            <div class="account">
                <Suspense fallback=|| ()>
                    {move || {
                        me.get()
                            .and_then(|r| r.ok())
                            .map(|u| view! { <span class="user" title="Logged in as">{u.username}</span> })
                    }}
                </Suspense>
                <button
                    class="secondary"
                    on:click=move |_| {
                        logout.dispatch(Logout {});
                    }
                >
                    "Log out"
                </button>
            </div>
        </header>
        <Outlet />
    }
}
