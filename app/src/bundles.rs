//! A page's WebAssembly chunks in one download. The split build makes one
//! file per distinct set of split points that shares code, so `/guests`
//! needs sixteen chunks besides the main module; compressed one by one they
//! are 178 KB (brotli), together 156 KB — brotli finds what they share only
//! within one stream — and on a phone each request also waits its turn
//! (six at a time over HTTP/1.1).
//!
//! The server writes, for each split point, one file holding its chunks
//! (`bundle_<split>.<hash>.wasm`: a WebAssembly module of custom sections
//! only, one per chunk, named by the chunk's file name) and, once the file
//! and its compressed copies exist, says so with [`PageBundles`]. The page's
//! HTML then preloads that one file instead of the chunks — [`preload`],
//! called by each lazy route as the server renders it, and
//! [`BundledChunks`] in the `<head>`, which replaces the chunk lists Leptos
//! preloads from (Leptos adds those links only now and then: it reads them
//! outside the request's reactive owner) — and a few lines of script in the
//! page hand the chunk loader (`__wasm_split.js`, which fetches each chunk)
//! the chunk from the bundle. A chunk the bundle does not hold — the chunks
//! of another page opened later, or all of them when the bundle could not
//! be fetched — is fetched on its own, as without bundles.

use leptos::prelude::*;

/// The script that serves chunk fetches from the page's preloaded bundles.
/// Chunk files are the splitter's `chunk_N.*.wasm` and `split_*.wasm`; the
/// main module and everything else pass through untouched. A module script:
/// it runs once the HTML is parsed (long before the first chunk is asked
/// for) and, unlike a classic one, does not hold up the parser — and with it
/// the preload links below it — until the stylesheet has arrived (that cost
/// the phone 0.25 s before the page was readable).
#[cfg(feature = "ssr")]
const LOADER: &str = include_str!("bundles.js");

/// The bundles the server has written: split point → the bundle's name
/// (without `.wasm`, as the chunk manifest names files). Empty until they
/// and their compressed copies exist (a moment after the start, once per
/// build); meanwhile pages preload their chunks one by one.
#[cfg(feature = "ssr")]
#[derive(Clone, Default)]
pub struct PageBundles(
    pub std::sync::Arc<std::sync::OnceLock<std::collections::HashMap<String, String>>>,
);

/// The bundles this page's HTML preloads already.
#[cfg(feature = "ssr")]
#[derive(Clone, Default)]
struct Preloaded(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

/// Makes the page's HTML preload the bundle of the lazy function `area`
/// (`fleet_area`, …; its split point is `<area>_<number>` in the chunk
/// manifest) and the chunk loader, once per page. Server only; nothing
/// without bundles.
pub fn preload(area: &str) {
    #[cfg(feature = "ssr")]
    {
        use leptos_meta::Link;
        let Some(bundles) = use_context::<PageBundles>() else {
            return;
        };
        let (Some(bundles), Some(manifest), Some(preloaded)) = (
            bundles.0.get(),
            use_context::<leptos::WasmSplitManifest>(),
            use_context::<Preloaded>(),
        ) else {
            return;
        };
        let Some((pkg, _, loader)) = manifest.0.try_get_value() else {
            return;
        };
        let is_area = |split: &str| {
            split
                .strip_prefix(area)
                .and_then(|rest| rest.strip_prefix('_'))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        };
        let Some(bundle) = bundles
            .iter()
            .find_map(|(split, b)| is_area(split).then_some(b))
        else {
            return;
        };
        let (bundle_first, loader_first) = match preloaded.0.lock() {
            Ok(mut set) => (set.insert(bundle.clone()), set.insert(loader.clone())),
            Err(_) => return,
        };
        // `to_html` on a meta component adds it to the page's <head>.
        if bundle_first {
            let _ = view! {
                <Link
                    rel="preload"
                    href=format!("{pkg}/{bundle}.wasm")
                    as_="fetch"
                    type_="application/wasm"
                    crossorigin="anonymous"
                />
            }
            .to_html();
        }
        if loader_first {
            let _ = view! {
                <Link rel="modulepreload" href=format!("{pkg}/{loader}") crossorigin="anonymous" />
            }
            .to_html();
        }
    }
    #[cfg(not(feature = "ssr"))]
    let _ = area;
}

/// In the shell's `<head>`, after `HydrationScripts` (which reads the chunk
/// manifest): the loader script, and for Leptos' own preloads a manifest
/// without chunks (the bundles are preloaded by [`preload`]). Nothing while
/// there are no bundles.
#[component]
pub fn BundledChunks() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        let bundles = use_context::<PageBundles>()?;
        bundles.0.get().filter(|b| !b.is_empty())?;
        provide_context(Preloaded::default());
        let manifest = use_context::<leptos::WasmSplitManifest>()?;
        let (pkg, splits, loader) = manifest.0.try_get_value()?;
        let splits = splits
            .into_keys()
            .map(|split| (split, Vec::new()))
            .collect();
        provide_context(leptos::WasmSplitManifest(ArcStoredValue::new((
            pkg, splits, loader,
        ))));
        let nonce = leptos::nonce::use_nonce();
        Some(view! { <script type="module" nonce=nonce>{LOADER}</script> })
    }
    #[cfg(not(feature = "ssr"))]
    None::<()>
}
