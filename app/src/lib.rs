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
pub mod bundles;
mod components;
pub mod csp;
mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, Lazy, SsrMode,
};

use pages::{login::LoginPage, routes::*};

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
                <bundles::Scripts options />
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
    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { "virtdeck".to_string() } else { format!("{page} · virtdeck") }
        } />
        <Router>
            // The login page is in the main module; the layout and every other
            // page are chunks of their own (pages::routes), fetched when first
            // shown and preloaded by the server's HTML for the page it sends.
            <Routes fallback=pages::not_found::NotFound>
                <Route path=path!("login") view=LoginPage />
                // The consoles: the whole window, without the layout.
                <Route path=path!("guests/:host/:uuid/console") view={Lazy::<VncConsoleRoute>::new()} />
                <Route path=path!("guests/:host/:uuid/serial") view={Lazy::<SerialConsoleRoute>::new()} />
                // The cache-backed lists are rendered whole before they are
                // sent: readable at once, and usable without JavaScript.
                <ParentRoute path=path!("") view={Lazy::<LayoutRoute>::new()}>
                    <Route path=path!("guests") view={Lazy::<GuestsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("guests/new") view={Lazy::<NewGuestRoute>::new()} />
                    <Route path=path!("guests/:host/:uuid") view={Lazy::<GuestRoute>::new()} />
                    <Route path=path!("hosts") view={Lazy::<HostsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("storage") view={Lazy::<StorageRoute>::new()} />
                    <Route path=path!("storage/:host/:pool") view={Lazy::<PoolRoute>::new()} />
                    <Route path=path!("migrations") view={Lazy::<MigrationsRoute>::new()} />
                    <Route path=path!("maintenance/:id") view={Lazy::<EvacuationRoute>::new()} />
                    <Route path=path!("balance") view={Lazy::<BalanceRoute>::new()} />
                    <Route path=path!("account") view={Lazy::<AccountRoute>::new()} />
                    <Route path=path!("users") view={Lazy::<UsersRoute>::new()} />
                    <Route path=path!("audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// The browser's entry point (called by `frontend`): hydrates the page,
/// waiting for the chunks of the page's lazy routes, and only then marks
/// `<body data-hydrated>` — the mark tests and scripts wait for.
#[cfg(feature = "hydrate")]
pub fn hydrate() {
    // An Err only means the executor is already set up.
    let _ = any_spawner::Executor::init_wasm_bindgen();
    leptos::task::spawn_local(async {
        let mounted =
            leptos::mount::hydrate_from_async(document().body().expect("a page has a body"), App)
                .await;
        mounted.forget();
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}

/// Shown when the app's code stops (a panic aborts the whole WebAssembly
/// module): most often a page's chunk that could not be fetched — a network
/// gone, or a server updated since the page loaded. The page stays readable;
/// this banner says so and offers to reload. Plain DOM, no reactive code: it
/// runs from the panic hook.
#[cfg(feature = "hydrate")]
pub fn show_stopped_banner() {
    let document = document();
    let (Some(body), Ok(banner), Ok(link)) = (
        document.body(),
        document.create_element("div"),
        document.create_element("a"),
    ) else {
        return;
    };
    if document.get_element_by_id("stopped").is_some() {
        return;
    }
    banner.set_id("stopped");
    let _ = banner.set_attribute("class", "stopped");
    let _ = banner.set_attribute("role", "alert");
    banner.set_text_content(Some(
        "This page stopped working: part of virtdeck could not be loaded \
         (a network problem, or virtdeck was updated). ",
    ));
    let href = window().location().href().unwrap_or_else(|_| "/".into());
    let _ = link.set_attribute("href", &href);
    // A full page load, not the router's navigation (its code has stopped).
    let _ = link.set_attribute("rel", "external");
    link.set_text_content(Some("Reload the page"));
    let _ = banner.append_child(&link);
    let _ = body.prepend_with_node_1(&banner);
}
