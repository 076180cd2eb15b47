//! The browser entry point: hydrate the server-rendered page. Nothing else lives here.

// Leptos views nest deeply in their types; the pages need more than 128.
#![recursion_limit = "256"]
// No unsafe code, ever.
#![forbid(unsafe_code)]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // A panic stops the whole module: log it, and tell the user to reload.
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        app::show_stopped_banner();
    }));
    app::hydrate();
}
