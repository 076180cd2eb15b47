//! A webhook receiver on loopback for the notification tests: records every
//! POST (event header, signature header, body) and answers 500 to the first
//! `refuse` of them, 200 after; and the signature a receiver expects.

use std::sync::{Arc, Mutex};

use axum::{http::HeaderMap, http::StatusCode, routing::post, Router};

/// (event, signature, body) of each request, in order.
pub type Got = Arc<Mutex<Vec<(String, String, String)>>>;

/// Starts a receiver; answers its URL and what it got.
pub async fn receiver(refuse: usize) -> (String, Got) {
    let got: Got = Default::default();
    let seen = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let header = |k: &str| {
                    headers
                        .get(k)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                let mut seen = seen.lock().unwrap();
                seen.push((
                    header("x-virtdeck-event"),
                    header("x-virtdeck-signature"),
                    body,
                ));
                if seen.len() <= refuse {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// `sha256=<hex HMAC-SHA256 of body with secret>`, computed here
/// independently of the server's code.
pub fn signed(secret: &str, body: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
