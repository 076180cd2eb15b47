//! Many open pages (`scripts/bench-sockets`): opens N `/ws` subscribers
//! (half with the session cookie, half with an API token) on a running
//! virtdeck, then makes R changes (a demo guest suspended and resumed: each
//! a `guest_changed` to every socket) and measures, for each change, the
//! delay from the request that made it to the last subscriber that heard
//! it. Prints p50/p95/max over the changes. Figures only.
//!
//! Usage: ws_fanout URL COOKIE TOKEN [SOCKETS] [ROUNDS]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use tokio::sync::{mpsc, Barrier};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: ws_fanout URL COOKIE TOKEN [SOCKETS] [ROUNDS]");
        std::process::exit(2);
    }
    let (url, cookie, token) = (args[1].clone(), args[2].clone(), args[3].clone());
    let sockets: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let rounds: usize = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(20);
    let client = reqwest::Client::new();
    let guests: serde_json::Value = client
        .get(format!("{url}/api/guests?state=running"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let guest = guests
        .as_array()
        .and_then(|g| g.first())
        .cloned()
        .expect("a running guest");
    let uuid = guest["uuid"].as_str().unwrap().to_string();

    // Each socket reports (socket, state, when) for every change of the guest.
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, String, Instant)>();
    let ready = Arc::new(Barrier::new(sockets + 1));
    let opened = Instant::now();
    for i in 0..sockets {
        let (tx, ready, uuid) = (tx.clone(), ready.clone(), uuid.clone());
        let mut request = (url.replace("http://", "ws://") + "/ws")
            .into_client_request()
            .unwrap();
        let origin = url.clone();
        if i % 2 == 0 {
            request
                .headers_mut()
                .insert("cookie", cookie.parse().unwrap());
            request
                .headers_mut()
                .insert("origin", origin.parse().unwrap());
        } else {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        tokio::spawn(async move {
            let (mut socket, _) = tokio_tungstenite::connect_async(request)
                .await
                .expect("socket");
            let _hello = socket.next().await;
            ready.wait().await;
            while let Some(Ok(msg)) = socket.next().await {
                let Message::Text(text) = msg else { continue };
                let at = Instant::now();
                let Ok(event) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                if event["type"] == "guest_changed" && event["guest"]["uuid"] == uuid.as_str() {
                    let state = event["guest"]["state"].as_str().unwrap_or("").to_string();
                    let _ = tx.send((i, state, at));
                }
            }
        });
    }
    ready.wait().await;
    println!(
        "{sockets} sockets open in {:.1} s",
        opened.elapsed().as_secs_f64()
    );
    // Quiet for a while: what open sockets cost alone (the script reads /proc).
    tokio::time::sleep(Duration::from_secs(10)).await;
    println!("QUIET_DONE");

    let mut delays = Vec::new();
    for round in 0..rounds {
        let (action, state) = if round % 2 == 0 {
            ("suspend", "paused")
        } else {
            ("resume", "running")
        };
        let sent = Instant::now();
        let answer = client
            .post(format!("{url}/api/guests/action"))
            .header("cookie", &cookie)
            .header("origin", &url)
            .json(&serde_json::json!({"host": guest["host"], "uuid": uuid, "action": action}))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
        let mut heard = std::collections::HashSet::new();
        let mut last = sent;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while heard.len() < sockets {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((i, s, at))) if s == state && at >= sent => {
                    if heard.insert(i) {
                        last = last.max(at);
                    }
                }
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        if heard.len() < sockets {
            println!(
                "round {round}: only {} of {sockets} sockets heard it within 30 s",
                heard.len()
            );
        }
        delays.push(last.duration_since(sent).as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    delays.sort_by(f64::total_cmp);
    let at = |q: f64| delays[((delays.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "delay from the change's request to the last of {sockets} subscribers: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms ({rounds} changes)",
        at(0.5),
        at(0.95),
        at(1.0)
    );
}
