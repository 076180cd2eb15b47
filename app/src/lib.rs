//! virtdeck's web application: pages, components, the HTTP API's wire types and
//! its thin server functions. Built twice: `ssr` (inside the server) and
//! `hydrate` (the browser's wasm). Never depends on libvirt: the server provides
//! the backend as `backend::Services` in the Leptos context.

#![recursion_limit = "256"]
// Runs in the browser and inside the server: no unsafe code, ever.
#![forbid(unsafe_code)]

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
mod components;
pub mod csp;
mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, SsrMode,
};

use pages::{
    account::AccountPage,
    audit::AuditPage,
    balance::BalancePage,
    console::{SerialConsolePage, VncConsolePage},
    evacuation::EvacuationPage,
    guest::GuestPage,
    guest_new::NewGuestPage,
    guests::GuestsPage,
    hosts::HostsPage,
    layout::Layout,
    login::LoginPage,
    migrations::MigrationsPage,
    storage::{volumes::PoolPage, StoragePage},
    users::UsersPage,
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        let console = use_context::<axum::http::request::Parts>()
            .is_some_and(|parts| pages::console::is_console_path(parts.uri.path()));
        let policy = if console {
            csp::console_policy(&nonce)
        } else {
            csp::page_policy(&nonce)
        };
        response.insert_header(
            axum::http::header::CONTENT_SECURITY_POLICY,
            axum::http::HeaderValue::from_str(&policy).expect("a nonce is base64"),
        );
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HashedStylesheet options=options.clone() id="leptos" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, after hydration: tests and scripts wait for this mark.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { "virtdeck".to_string() } else { format!("{page} · virtdeck") }
        } />
        <Router>
            <Routes fallback=pages::not_found::NotFound>
                <Route path=path!("login") view=LoginPage />
                // The consoles: the whole window, without the layout.
                <Route path=path!("guests/:host/:uuid/console") view=VncConsolePage />
                <Route path=path!("guests/:host/:uuid/serial") view=SerialConsolePage />
                // The cache-backed lists are rendered whole before they are
                // sent: readable at once, and usable without JavaScript.
                <ParentRoute path=path!("") view=Layout>
                    <Route path=path!("guests") view=GuestsPage ssr=SsrMode::Async />
                    <Route path=path!("guests/new") view=NewGuestPage />
                    <Route path=path!("guests/:host/:uuid") view=GuestPage />
                    <Route path=path!("hosts") view=HostsPage ssr=SsrMode::Async />
                    <Route path=path!("storage") view=StoragePage />
                    <Route path=path!("storage/:host/:pool") view=PoolPage />
                    <Route path=path!("migrations") view=MigrationsPage />
                    <Route path=path!("maintenance/:id") view=EvacuationPage />
                    <Route path=path!("balance") view=BalancePage />
                    <Route path=path!("account") view=AccountPage />
                    <Route path=path!("users") view=UsersPage />
                    <Route path=path!("audit") view=AuditPage ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
