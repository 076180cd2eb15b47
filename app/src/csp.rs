//! The content security policy, in one place. Pages get `page_policy` with the
//! nonce Leptos puts on its inline scripts (hydration, streamed resources);
//! everything else (JSON, files) gets `OTHER_POLICY`. Pages that need more
//! (the consoles, later) get a policy of their own here.

/// For HTML pages: scripts only from this server or carrying this response's
/// nonce, WebAssembly compiled (`'wasm-unsafe-eval'`, not `eval`), requests
/// and sockets only to this server, never framed.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// For the console pages (`pages::console`): the page policy, except that
/// `<style>` elements carrying this response's nonce are allowed — xterm.js
/// adds its own, and `public/console/serial.js` gives them the nonce (no
/// `'unsafe-inline'`). noVNC needs nothing more: a canvas, styles set from
/// script, and the socket to this server (`connect-src 'self'`).
pub fn console_policy(nonce: &str) -> String {
    page_policy(nonce).replace(
        "style-src 'self';",
        &format!("style-src 'self' 'nonce-{nonce}';"),
    )
}

/// For every other response: nothing may run or load, nothing may frame it.
pub const OTHER_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_policy_only_adds_nonced_style_elements() {
        let console = console_policy("abc");
        assert!(
            console.contains("style-src 'self' 'nonce-abc';"),
            "{console}"
        );
        assert_eq!(
            console.replace("style-src 'self' 'nonce-abc';", "style-src 'self';"),
            page_policy("abc")
        );
    }
}
