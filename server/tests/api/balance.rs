//! The balance advisor on the test driver's fixture hosts: the sampled
//! load and the imbalance computed from the fixtures' guests, hosts left
//! out (unreachable), the hold before anything is proposed, settings
//! (validation, roles, audit, kept across a restart), applying a stale
//! recommendation. The test driver cannot migrate, so every move the
//! advisor would make is blocked by its pre-flight here, and the page says
//! so; moves that really run are in `lab_balance.rs`.
//!
//! The fixtures: demo-alpha runs web01 (2 GiB), db01 (8 GiB) and cache01
//! (1 GiB, paused) = 11 GiB; demo-beta runs mail01 (2 GiB) and ci-runner
//! (4 GiB) = 6 GiB (backup01 is shut off). With 16 GiB allocatable each:
//! 68.75 % and 37.5 %, a memory imbalance of 0.15625 / 0.53125 = 0.2941.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use server::config::HostConfig;

use crate::{
    helpers::{fixture_hosts, spawn_app_configured, TestApp},
    roles::user,
};

const CACHE01: &str = "6b1f7c3e-0a11-4c5e-9a01-00000000a004";
const WEB01: &str = "6b1f7c3e-0a11-4c5e-9a01-00000000a001";
const DB01: &str = "6b1f7c3e-0a11-4c5e-9a01-00000000a002";

async fn app_with(extra: Vec<HostConfig>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut hosts = fixture_hosts(&dir.path().join("hosts"));
    for h in &mut hosts {
        h.allocatable_memory_mib = Some(16 * 1024);
    }
    hosts.extend(extra);
    spawn_app_configured(dir, hosts, &[("VIRTDECK_BALANCE_SAMPLE_SECS", "1")]).await
}

/// Reads `/api/balance` until `done(view)` (at most 20 s).
async fn balance_when(
    app: &TestApp,
    client: &reqwest::Client,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, view) = app.get(client, "/api/balance").await;
        assert_eq!(status, 200, "{view}");
        if done(&view) {
            return view;
        }
        assert!(Instant::now() < deadline, "{view:#}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn host<'a>(view: &'a Value, name: &str) -> &'a Value {
    view["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == name)
        .unwrap_or_else(|| panic!("no host {name}: {view}"))
}

fn status(view: &Value) -> &str {
    view["status"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_load_and_imbalance_come_from_the_guests_and_a_blocked_move_is_explained() {
    let unreachable = HostConfig::new("gone", "qemu+tcp://127.0.0.1:1/system");
    let app = app_with(vec![unreachable]).await;
    let admin = app.admin().await;
    let viewer = user(&app, &admin, "watcher", "viewer").await;

    // At first the imbalance is held for three samples before anything is proposed.
    let view = balance_when(&app, &viewer, |v| {
        status(v).contains("blocked by their pre-flight")
    })
    .await;
    let alpha = host(&view, "demo-alpha");
    assert_eq!(alpha["memory_committed"], 11 * 1024, "{alpha}");
    assert_eq!(alpha["memory_total"], 16 * 1024);
    assert_eq!(alpha["guests"], 3);
    assert!(alpha.get("excluded_reason").is_none(), "{alpha}");
    let beta = host(&view, "demo-beta");
    assert_eq!(beta["memory_committed"], 6 * 1024, "{beta}");
    assert_eq!(host(&view, "gone")["excluded_reason"], "unreachable");
    let memory = view["imbalance"]["memory"].as_f64().unwrap();
    assert!((memory - 0.2941).abs() < 0.0005, "{view}");
    assert_eq!(view["imbalance"]["combined"], view["imbalance"]["memory"]);
    assert_eq!(view["imbalance"]["threshold"], 0.15);
    assert_eq!(view["mode"], "recommend");
    assert_eq!(view["recommendations"], json!([]));
    // The move that would even them out, and libvirt's reason it cannot run.
    let s = status(&view);
    assert!(
        s.starts_with("the imbalance 0.29 is above the threshold 0.15, but the moves that would lower it are blocked by their pre-flight checks (web01 → demo-beta: "),
        "{s}"
    );
    assert!(
        !view["hosts"][0]["trend"].as_array().unwrap().is_empty(),
        "{view}"
    );

    // Excluding every guest of demo-alpha leaves nothing to move.
    let (code, view) = app
        .post(
            &admin,
            "/api/balance/settings",
            &json!({"mode": "recommend", "exclude": [CACHE01, WEB01, DB01]}),
        )
        .await;
    assert_eq!(code, 200, "{view}");
    assert_eq!(view["settings"]["exclude"].as_array().unwrap().len(), 3);
    let view = balance_when(&app, &viewer, |v| {
        status(v).contains("no move would lower it")
    })
    .await;
    assert_eq!(view["recommendations"], json!([]));

    // A higher threshold: balanced.
    let (code, _) = app
        .post(
            &admin,
            "/api/balance/settings",
            &json!({"mode": "recommend", "threshold": 0.3}),
        )
        .await;
    assert_eq!(code, 200);
    let view = balance_when(&app, &viewer, |v| status(v).starts_with("balanced")).await;
    assert_eq!(
        status(&view),
        "balanced: the imbalance 0.29 is under the threshold 0.30"
    );
}

#[tokio::test]
async fn settings_are_checked_kept_audited_and_only_for_admins() {
    let app = app_with(vec![]).await;
    let admin = app.admin().await;
    let operator = user(&app, &admin, "op", "operator").await;
    let viewer = user(&app, &admin, "watcher", "viewer").await;

    let (code, _) = app
        .post(&operator, "/api/balance/settings", &json!({"mode": "off"}))
        .await;
    assert_eq!(code, 403);
    let (code, _) = app
        .post(
            &viewer,
            "/api/balance/apply",
            &json!({"id": "0123456789abcdef"}),
        )
        .await;
    assert_eq!(code, 403);

    for (body, message) in [
        (
            json!({"mode": "always"}),
            "mode \"always\": expected one of off, recommend, automatic",
        ),
        (
            json!({"mode": "off", "hold_samples": -1}),
            "hold_samples must be a whole number from 1 to 360, not -1",
        ),
        (
            json!({"mode": "off", "max_moves_per_hour": 1_000_000_000_000i64}),
            "max_moves_per_hour must be a whole number from 1 to 60, not 1000000000000",
        ),
        (
            json!({"mode": "off", "margin": 5}),
            "margin must be a number from 0 to 0.9, not 5",
        ),
        (json!({"mode": "off", "exclude": ["</name><x>"]}), ""),
    ] {
        let (code, answer) = app.post(&admin, "/api/balance/settings", &body).await;
        assert_eq!(code, 400, "{body} → {answer}");
        if !message.is_empty() {
            assert_eq!(answer["message"], message, "{answer}");
        }
    }
    // Nothing changed.
    let (_, view) = app.get(&viewer, "/api/balance").await;
    assert_eq!(view["mode"], "recommend");
    assert_eq!(view["settings"]["hold_samples"], 3);

    let (code, view) = app
        .post(
            &admin,
            "/api/balance/settings",
            &json!({"mode": "off", "hold_samples": 5, "automatic_max_priority": 3}),
        )
        .await;
    assert_eq!(code, 200, "{view}");
    assert_eq!(view["mode"], "off");
    let view = balance_when(&app, &viewer, |v| {
        status(v).starts_with("the advisor is off")
    })
    .await;
    assert_eq!(view["recommendations"], json!([]));

    // An operator applying a recommendation that is not (or no longer) there.
    let (code, answer) = app
        .post(
            &operator,
            "/api/balance/apply",
            &json!({"id": "0123456789abcdef"}),
        )
        .await;
    assert_eq!(code, 409, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .starts_with("this recommendation is no longer current"),
        "{answer}"
    );
    let (code, _) = app
        .post(
            &operator,
            "/api/balance/apply",
            &json!({"id": "../../etc/passwd"}),
        )
        .await;
    assert_eq!(code, 400);

    let rows = app.audit("balance.").await;
    let seen: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r.username.as_deref().unwrap_or(""),
                r.action.as_str(),
                r.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen.iter()
            .filter(|r| r.1 == "balance.settings" && r.2 == "ok")
            .count(),
        1,
        "{rows:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|r| r.1 == "balance.settings" && r.2 != "ok")
            .count(),
        5,
        "{rows:?}"
    );
    assert!(
        seen.contains(&("op", "balance.apply", "failed")),
        "{rows:?}"
    );
    assert!(
        seen.contains(&("op", "balance.apply", "refused")),
        "{rows:?}"
    );

    // Kept across a restart.
    let app = app.restart().await;
    let admin = app.admin().await;
    let (_, view) = app.get(&admin, "/api/balance").await;
    assert_eq!(view["mode"], "off", "{view}");
    assert_eq!(view["settings"]["hold_samples"], 5);
    assert_eq!(view["settings"]["automatic_max_priority"], 3);
}
