//! The browser entry point: hydrate the server-rendered page. Nothing else
//! lives here but a few bytes of room for the WebAssembly splitter.

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

/// Room for the WebAssembly splitter (`cargo leptos build --split`,
/// wasm_split_cli_support 0.2.3). It regroups the read-only data by the
/// module that uses it, which adds alignment padding; when the regrouped
/// segment comes out longer than the linker's `.rodata` it gives up and keeps
/// all of it — every page's strings, 230 KB — in the main module, which every
/// first visit loads (it happened by 463 bytes: `/login` grew from 197 to
/// 257 KB). These bytes are in the linker's `.rodata` but no code uses them,
/// so the splitter leaves them out, and the padding fits in their place.
/// Never read; not in any file the browser loads (`split.test.mjs` guards
/// the sizes).
#[used]
static SPLIT_SLACK: [u8; 4096] = [0x5a; 4096];
