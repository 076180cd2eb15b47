//! The balance advisor on the lab's real libvirt hosts with real QEMU
//! guests (TCG). With `allocatable_memory_mib = 1024` on lab-a and lab-b,
//! lab-a runs three 256 MiB guests (75 %) and lab-b none: the advisor
//! recommends one `balance-memory` move to lab-b; applying it migrates the
//! guest; afterwards nothing more is recommended, because moving a second
//! guest would only mirror the imbalance (the ping-pong test: the minimum
//! load is lowered so that only that arithmetic stops it). In automatic
//! mode the same happens by itself, once.
//!
//! A test binary of its own (cargo runs test binaries one after the other),
//! with its own virtdeck and database; its guests are removed from every
//! host when it ends, also when it fails.

#[allow(dead_code)]
#[path = "api/lab.rs"]
mod lab;
#[allow(dead_code)]
#[path = "common/virtdeck.rs"]
mod virtdeck;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use lab::{bios_guest, new_uuid, unique, GuestGuard, Lab};
use virtdeck::{free_port, next_event, Virtdeck};

const A: &str = "lab-a";
const B: &str = "lab-b";

/// virtdeck over lab-a and lab-b, 1024 MiB allocatable each, sampling every second.
async fn virtdeck(lab: &Lab, dir: &tempfile::TempDir) -> Virtdeck {
    let mut config = String::from("balance_sample_secs = 1\n");
    for (name, key) in [(A, "LAB_HOST_A_URI"), (B, "LAB_HOST_B_URI")] {
        config += &format!(
            "[[hosts]]\nname = \"{name}\"\nuri = \"{}\"\nallocatable_memory_mib = 1024\n",
            lab.get(key)
        );
    }
    std::fs::write(dir.path().join("virtdeck.toml"), config).unwrap();
    let v = Virtdeck::start(dir.path(), free_port()).await;
    v.until_connected().await;
    v
}

/// Three running 256 MiB guests on lab-a, removed from every host when dropped.
fn three_on_a(lab: &Lab, prefix: &str) -> Vec<(String, String, GuestGuard)> {
    (0..3)
        .map(|_| {
            let (name, uuid) = (unique(prefix), new_uuid());
            lab.define(A, &bios_guest(&name, &uuid, ""), true);
            let guard = lab.guard(&name);
            (name, uuid, guard)
        })
        .collect()
}

/// Reads `/api/balance` until `done(view)` (at most `limit`).
async fn balance_when(v: &Virtdeck, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let view = v.get("/api/balance").await;
        if done(&view) {
            return view;
        }
        assert!(Instant::now() < deadline, "after {limit:?}: {view:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn line<'a>(view: &'a Value, host: &str) -> &'a Value {
    view["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == host)
        .unwrap()
}

/// The migration `id` once it ended (at most two minutes).
async fn migration_ended(v: &Virtdeck, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let job = v.get(&format!("/api/migrations?id={id}")).await[0].clone();
        if job["status"] != "running" {
            return job;
        }
        assert!(Instant::now() < deadline, "migration {id}: {job}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// No recommendation for `samples` readings in a row, while lab-a and lab-b
/// run 2 and 1 of the guests. Readings are counted by their time stamps, not
/// by the clock: on a loaded machine a round takes longer than its interval.
async fn stays_quiet(v: &Virtdeck, samples: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut readings: Vec<Value> = Vec::new();
    let mut view = v.get("/api/balance").await;
    assert_eq!(view["recommendations"], json!([]), "{view:#}");
    readings.push(view["sampled_at"].clone());
    while readings.len() <= samples {
        tokio::time::sleep(Duration::from_millis(200)).await;
        view = v.get("/api/balance").await;
        assert_eq!(view["recommendations"], json!([]), "{view:#}");
        if !readings.contains(&view["sampled_at"]) {
            readings.push(view["sampled_at"].clone());
        }
        assert!(
            Instant::now() < deadline,
            "{} readings in 90 s: {view:#}",
            readings.len() - 1
        );
    }
    assert_eq!(line(&view, A)["memory_committed"], 512, "{view:#}");
    assert_eq!(line(&view, B)["memory_committed"], 256, "{view:#}");
    view
}

#[tokio::test]
async fn lab_balance_one_move_evens_the_memory_then_nothing_and_automatic_mode_does_it_once() {
    let lab = Lab::load();
    let dir = tempfile::tempdir().unwrap();
    let guests = three_on_a(&lab, "bal");
    let v = virtdeck(&lab, &dir).await;
    let mut socket = v.ws().await;
    // The minimum load lowered to 40 %: after the move lab-a is at 50 % and
    // still "busy", so only the mirror arithmetic keeps a second move away.
    let (status, view) = v
        .post(
            "/api/balance/settings",
            &json!({"mode": "recommend", "min_load": 0.4}),
        )
        .await;
    assert_eq!(status, 200, "{view}");

    let view = balance_when(&v, Duration::from_secs(60), |v| {
        !v["recommendations"].as_array().unwrap().is_empty()
    })
    .await;
    println!("BALANCE view before: {view}");
    assert_eq!(line(&view, A)["memory_committed"], 768, "{view:#}");
    assert_eq!(line(&view, B)["memory_committed"], 0, "{view:#}");
    let recs = view["recommendations"].as_array().unwrap();
    assert_eq!(recs.len(), 1, "{view:#}");
    let r = &recs[0];
    assert_eq!(r["reason"], "balance-memory", "{r}");
    assert_eq!(r["guest"]["host"], A);
    assert_eq!(r["destination"], B);
    assert!((r["before"].as_f64().unwrap() - 1.0).abs() < 0.05, "{r}");
    assert!(
        (r["after"].as_f64().unwrap() - 1.0 / 3.0).abs() < 0.05,
        "{r}"
    );
    assert!(
        (r["target_after"]["memory"].as_f64().unwrap() - 0.25).abs() < 1e-9,
        "{r}"
    );
    let bytes = r["cost"]["bytes"].as_u64().unwrap();
    assert!(bytes > 0 && bytes <= 512 << 20, "{r}");
    let name = r["guest"]["name"].as_str().unwrap();
    assert!(guests.iter().any(|(n, _, _)| n == name), "{r}");
    let explanation = r["explanation"].as_str().unwrap();
    assert!(
        explanation.starts_with(&format!(
            "lab-a commits 75 % of its memory and lab-b 0 %; moving {name} (256 MiB) makes them 50 % and 25 %: imbalance 1.0"
        )),
        "{explanation}"
    );

    // Pages heard of it, and a page opened now hears the count right after hello.
    let event = next_event(&mut socket, "balance_changed", Duration::from_secs(5)).await;
    assert_eq!(
        event,
        Some(json!({"type": "balance_changed", "recommendations": 1}))
    );
    let mut late = v.ws().await;
    let event = next_event(&mut late, "balance_changed", Duration::from_secs(2)).await;
    assert_eq!(
        event,
        Some(json!({"type": "balance_changed", "recommendations": 1}))
    );
    drop(late);

    let (status, applied) = v.post("/api/balance/apply", &json!({"id": r["id"]})).await;
    assert_eq!(status, 200, "{applied}");
    let id = applied["migration_id"].as_str().unwrap().to_string();
    let event = next_event(&mut socket, "balance_changed", Duration::from_secs(5)).await;
    assert_eq!(
        event,
        Some(json!({"type": "balance_changed", "recommendations": 0}))
    );
    // Applying it again is refused: it was applied.
    let (status, again) = v.post("/api/balance/apply", &json!({"id": r["id"]})).await;
    assert_eq!(status, 409, "{again}");
    let job = migration_ended(&v, &id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert!(
        job["timeline"][0]["text"]
            .as_str()
            .unwrap()
            .contains(
                "started by admin: recommended by the balance advisor (balance-memory): lab-a commits 75 %"
            ),
        "{job}"
    );
    let running_b = lab.virsh(B, &["list", "--state-running", "--name"]);
    assert!(running_b.contains(name), "{running_b}");

    // Afterwards: nothing more, for more than the hold time.
    let view = stays_quiet(&v, 6).await;
    let status_text = view["status"].as_str().unwrap();
    assert!(
        status_text.contains("no move would lower it"),
        "{status_text}"
    );
    drop(guests);

    // Automatic mode: three new guests on lab-a, and the advisor moves one by itself.
    let guests = three_on_a(&lab, "auto");
    let (status, view) = v
        .post(
            "/api/balance/settings",
            &json!({"mode": "automatic", "automatic_max_priority": 5}),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    let started = Instant::now();
    let job = loop {
        let jobs = v.get("/api/migrations").await;
        if let Some(j) = jobs
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["user"] == "balance advisor")
        {
            break j.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{jobs:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(guests.iter().any(|(_, u, _)| *u == job["uuid"]), "{job}");
    let job = migration_ended(&v, job["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "completed", "{job}");
    stays_quiet(&v, 6).await;
    let jobs = v.get("/api/migrations").await;
    let by_advisor = jobs
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["user"] == "balance advisor")
        .count();
    assert_eq!(by_advisor, 1, "{jobs:#}");
    let audit = v.get("/api/audit?action=balance.").await;
    let rows: Vec<(&str, &str, &str)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user"].as_str().unwrap_or(""),
                r["action"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        rows.contains(&("admin", "balance.apply", "ok")),
        "{audit:#}"
    );
    assert!(
        rows.contains(&("admin", "balance.apply", "failed")),
        "{audit:#}"
    );
    assert_eq!(
        rows.iter()
            .filter(|r| **r == ("balance advisor", "balance.migrate", "ok"))
            .count(),
        1,
        "{audit:#}"
    );
    drop(guests);
}
