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
//!
//! A browser that offers no brotli (Chromium over plain HTTP offers gzip
//! only) gets, once the server has written them, LZMA copies of the main
//! module and the bundles instead (`<file>.lzma`: a fifth smaller than gzip,
//! as small as brotli), decoded by the page's script (`lzma.js`, 2 KB
//! compressed) before the browser compiles them: [`Scripts`].

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

/// The LZMA decoder (`lzmaDecode`), put before the loader for browsers that
/// offer no brotli.
#[cfg(feature = "ssr")]
const LZMA: &str = include_str!("lzma.js");

/// The bundles the server has written: split point → the bundle's name
/// (without `.wasm`, as the chunk manifest names files). Empty until they
/// and their compressed copies exist (a moment after the start, once per
/// build); meanwhile pages preload their chunks one by one.
///
/// The second part: the main files' names, set once the LZMA copies of the
/// main module and of the bundles exist (after the bundles).
#[cfg(feature = "ssr")]
#[derive(Clone, Default)]
pub struct PageBundles(
    pub std::sync::Arc<std::sync::OnceLock<std::collections::HashMap<String, String>>>,
    pub std::sync::Arc<std::sync::OnceLock<PlainHttp>>,
);

/// The JS glue and the main WebAssembly module's file names in `/pkg`
/// (content-hashed as the pages link them); the module's LZMA copy is
/// `<wasm>.lzma`.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug)]
pub struct PlainHttp {
    pub js: String,
    pub wasm: String,
}

/// The bundles this page's HTML preloads already, and whether it loads the
/// LZMA copies.
#[cfg(feature = "ssr")]
#[derive(Clone, Default)]
struct Preloaded {
    done: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    lzma: bool,
}

/// Whether the request offers brotli (`Accept-Encoding`, `br` without
/// `q=0`).
#[cfg(feature = "ssr")]
fn offers_brotli(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        parts
            .next()
            .is_some_and(|name| name.eq_ignore_ascii_case("br"))
            && !parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            })
    })
}

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
        let (bundle_first, loader_first) = match preloaded.done.lock() {
            Ok(mut set) => (set.insert(bundle.clone()), set.insert(loader.clone())),
            Err(_) => return,
        };
        // `to_html` on a meta component adds it to the page's <head>.
        if bundle_first {
            let _ = view! {
                <Link
                    rel="preload"
                    href=format!("{pkg}/{bundle}.wasm{}", if preloaded.lzma { ".lzma" } else { "" })
                    as_="fetch"
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

/// In the shell's `<head>`: Leptos' hydration scripts, and with bundles the
/// loader script and, for Leptos' own preloads, a manifest without chunks
/// (the bundles are preloaded by [`preload`]). For a browser that offers no
/// brotli, once the LZMA copies exist, the same with the main module and
/// the bundles preloaded as LZMA and decoded by the page's script; Leptos'
/// scripts still run on the server (they provide the chunk manifest), but
/// their links and script are not sent: they would fetch the module's gzip.
#[component]
pub fn Scripts(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        use leptos::either::Either;
        let bundles =
            use_context::<PageBundles>().filter(|b| b.0.get().is_some_and(|b| !b.is_empty()));
        let plain = bundles
            .as_ref()
            .and_then(|b| b.1.get().cloned())
            .filter(|_| {
                use_context::<axum::http::request::Parts>().is_some_and(|parts| {
                    !parts
                        .headers
                        .get_all(axum::http::header::ACCEPT_ENCODING)
                        .iter()
                        .any(|v| v.to_str().is_ok_and(offers_brotli))
                })
            });
        if bundles.as_ref().is_some_and(|b| b.1.get().is_some()) {
            // The page's scripts depend on the request's encodings.
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.append_header(
                    axum::http::header::VARY,
                    axum::http::HeaderValue::from_static("accept-encoding"),
                );
            }
        }
        let pkg = format!("/{}", options.site_pkg_dir);
        let scripts = match plain {
            None => Either::Left(view! { <HydrationScripts options /> }),
            Some(_) => {
                let _ = HydrationScripts(HydrationScriptsProps::builder().options(options).build());
                Either::Right(())
            }
        };
        // Leptos' preloads get a manifest without chunks; `preload` adds the
        // bundles.
        let chunked = bundles.is_some()
            && use_context::<leptos::WasmSplitManifest>()
                .and_then(|manifest| manifest.0.try_get_value())
                .map(|(split_pkg, splits, loader)| {
                    let splits = splits
                        .into_keys()
                        .map(|split| (split, Vec::new()))
                        .collect();
                    provide_context(leptos::WasmSplitManifest(ArcStoredValue::new((
                        split_pkg, splits, loader,
                    ))));
                })
                .is_some();
        if chunked {
            provide_context(Preloaded {
                done: Default::default(),
                lzma: plain.is_some(),
            });
        }
        let nonce = leptos::nonce::use_nonce();
        let loader = match &plain {
            None => chunked.then(|| {
                Either::Left(view! { <script type="module" nonce=nonce>{LOADER}</script> })
            }),
            Some(main) => {
                // As Leptos' hydration script, with the module from its LZMA
                // copy (its gzip when that cannot be fetched or decoded).
                let hydrate = format!(
                    "import({js:?}).then((mod) => mod.default({{ module_or_path: unpacked({wasm:?}) }})\
                     .then(() => mod.hydrate()));",
                    js = format!("{pkg}/{}", main.js),
                    wasm = format!("{pkg}/{}", main.wasm),
                );
                Some(Either::Right(view! {
                    <link rel="modulepreload" href=format!("{pkg}/{}", main.js) crossorigin="" />
                    <link rel="preload" href=format!("{pkg}/{}.lzma", main.wasm) r#as="fetch" crossorigin="anonymous" />
                    <script type="module" nonce=nonce>{format!("{LZMA}\n{LOADER}\n{hydrate}")}</script>
                }))
            }
        };
        (scripts, loader)
    }
    #[cfg(not(feature = "ssr"))]
    let _ = options;
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::offers_brotli;

    #[test]
    fn brotli_is_offered_unless_missing_or_refused() {
        assert!(offers_brotli("gzip, deflate, br, zstd"));
        assert!(offers_brotli("br;q=0.5"));
        assert!(offers_brotli("BR"));
        assert!(!offers_brotli("gzip, deflate"));
        assert!(!offers_brotli("gzip, br;q=0"));
        assert!(!offers_brotli("brotli"));
        assert!(!offers_brotli(""));
    }
}
