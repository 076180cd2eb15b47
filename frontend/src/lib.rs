//! The browser entry point: hydrate the server-rendered page. Nothing else lives here.

// Leptos views nest deeply in their types; the pages need more than 128.
#![recursion_limit = "256"]
// No unsafe code, ever.
#![forbid(unsafe_code)]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
