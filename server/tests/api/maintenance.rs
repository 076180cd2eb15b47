//! Maintenance on the test driver's fixture hosts: the plan, the refusals
//! made before anything starts, the whole life of a host in maintenance
//! (blocked guests shut down on request, starts and arrivals refused, exit),
//! a scheduled evacuation, cancel, webhooks, validation, audit and roles.
//! Evacuations that really migrate guests are in `lab_maintenance.rs`.
//!
//! The test driver cannot migrate, so every running guest of `demo-alpha`
//! is *blocked* here (its pre-flight to `demo-beta` fails, with libvirt's
//! reason): what a user sees when no guest can leave.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{
    helpers::{spawn_app, TestApp},
    roles::user,
};

const ALPHA: &str = "demo-alpha";
const BETA: &str = "demo-beta";

async fn host(app: &TestApp, client: &reqwest::Client, name: &str) -> Value {
    let (status, hosts) = app.get(client, "/api/hosts").await;
    assert_eq!(status, 200, "{hosts}");
    hosts
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no host {name}: {hosts}"))
}

async fn guests_of(app: &TestApp, client: &reqwest::Client, name: &str) -> Vec<Value> {
    let (status, page) = app.get(client, &format!("/api/guests?host={name}")).await;
    assert_eq!(status, 200, "{page}");
    page["guests"]
        .as_array()
        .or(page.as_array())
        .unwrap_or_else(|| panic!("no guests in {page}"))
        .clone()
}

/// Polls the evacuation until `done(evacuation)` (at most `limit`).
async fn wait_for(
    app: &TestApp,
    client: &reqwest::Client,
    id: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (status, list) = app.get(client, &format!("/api/evacuations?id={id}")).await;
        assert_eq!(status, 200, "{list}");
        let e = list[0].clone();
        if done(&e) {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "evacuation {id} after {limit:?}: {e}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn ended(e: &Value) -> bool {
    !matches!(e["state"].as_str(), Some("running" | "scheduled"))
}

#[tokio::test]
async fn the_plan_lists_every_guest_with_what_happens_and_each_targets_memory() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let (status, plan) = app
        .post(
            &client,
            "/api/hosts/maintenance/plan",
            &json!({"host": ALPHA}),
        )
        .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["host"], ALPHA);
    let guests = plan["guests"].as_array().unwrap();
    let on_alpha = guests_of(&app, &client, ALPHA).await;
    assert_eq!(
        guests.len(),
        on_alpha.len(),
        "every guest of the host: {plan}"
    );
    for g in guests {
        let state = g["state"].as_str().unwrap();
        let reason = g["reason"].as_str().unwrap_or_default();
        if state == "shutoff" {
            assert_eq!(g["action"], "stay", "{g}");
        } else {
            // The test driver cannot migrate: the pre-flight says why, with the fix.
            assert_eq!(g["action"], "blocked", "{g}");
            assert!(reason.starts_with("it cannot leave: to demo-beta: "), "{g}");
            assert!(reason.contains("(fix: "), "{g}");
            assert!(
                g["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["verdict"] == "blocked"),
                "{g}"
            );
            assert_eq!(g["destination"], Value::Null);
        }
    }
    // Each target's memory: what its running guests commit, before and after.
    let beta = host(&app, &client, BETA).await;
    let total_mib = beta["memory_kib"].as_u64().unwrap() / 1024;
    let allocatable = total_mib - (total_mib / 10).max(2048);
    let committed: u64 = guests_of(&app, &client, BETA)
        .await
        .iter()
        .filter(|g| g["state"] != "shutoff" && g["state"] != "crashed")
        .map(|g| g["memory_kib"].as_u64().unwrap().div_ceil(1024))
        .sum();
    let targets = plan["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{plan}");
    assert_eq!(targets[0]["host"], BETA);
    assert_eq!(targets[0]["memory_total"], allocatable);
    assert_eq!(targets[0]["memory_limit"], allocatable * 90 / 100);
    assert_eq!(targets[0]["memory_committed_before"], committed);
    assert_eq!(
        targets[0]["memory_committed_after"], committed,
        "nothing can move"
    );
    assert_eq!(plan["fits"], true, "blocked guests are not a shortfall");
}

#[tokio::test]
async fn a_blocked_guest_stops_maintenance_before_anything_starts() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let before = guests_of(&app, &client, ALPHA).await;
    let (status, err) = app
        .post(
            &client,
            "/api/hosts/maintenance",
            &json!({"host": ALPHA, "action": "enter"}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("so it cannot enter maintenance and nothing was started"),
        "{message}"
    );
    for g in before.iter().filter(|g| g["state"] == "running") {
        assert!(
            message.contains(g["name"].as_str().unwrap()),
            "{message} names {g}"
        );
    }
    assert_eq!(host(&app, &client, ALPHA).await["maintenance"], Value::Null);
    let (_, list) = app.get(&client, "/api/evacuations").await;
    assert_eq!(list, json!([]));
    assert_eq!(
        guests_of(&app, &client, ALPHA).await,
        before,
        "nothing changed"
    );
    let rows = app.audit("host.maintenance").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].action, "host.maintenance.enter");
    assert_eq!(rows[0].target, "host demo-alpha");
    assert_eq!(rows[0].outcome, "failed");
}

#[tokio::test]
async fn blocked_guests_shut_down_when_asked_then_the_host_is_in_maintenance_until_it_exits() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let running: Vec<Value> = guests_of(&app, &client, ALPHA)
        .await
        .into_iter()
        .filter(|g| g["state"] != "shutoff")
        .collect();
    assert!(running.len() >= 2, "the fixture runs guests: {running:?}");
    let (status, started) = app
        .post(
            &client,
            "/api/hosts/maintenance",
            &json!({"host": ALPHA, "action": "enter", "on_blocked": "shut_down"}),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_str().unwrap().to_string();
    // A second request while it runs (or after) is refused.
    let (status, again) = app
        .post(
            &client,
            "/api/hosts/maintenance",
            &json!({"host": ALPHA, "action": "enter", "on_blocked": "shut_down"}),
        )
        .await;
    assert_eq!(status, 409, "{again}");
    assert!(
        again["message"]
            .as_str()
            .unwrap()
            .starts_with("host demo-alpha is already"),
        "{again}"
    );

    let e = wait_for(&app, &client, &id, Duration::from_secs(60), ended).await;
    assert_eq!(e["state"], "done", "{e}");
    assert_eq!(e["kind"], "enter");
    for g in &running {
        let row = e["guests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["uuid"] == g["uuid"])
            .unwrap_or_else(|| panic!("{g} in {e}"));
        assert_eq!(row["status"], "shut_down", "{row}");
    }
    assert!(
        e["timeline"].as_array().unwrap().last().unwrap()["text"]
            .as_str()
            .unwrap()
            .contains("demo-alpha is in maintenance"),
        "{e}"
    );
    for g in guests_of(&app, &client, ALPHA).await {
        assert_eq!(g["state"], "shutoff", "{g}");
    }
    let m = host(&app, &client, ALPHA).await["maintenance"].clone();
    assert_eq!(m["state"], "on", "{m}");
    assert_eq!(m["evacuation"], id);
    assert!(m["since"].as_str().unwrap().ends_with('Z'), "{m}");

    // In maintenance: no start, no arrival.
    let uuid = running[0]["uuid"].as_str().unwrap();
    let (status, err) = app
        .post(
            &client,
            "/api/guests/action",
            &json!({"host": ALPHA, "uuid": uuid, "action": "start"}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(
        err["message"],
        "host demo-alpha is in maintenance: nothing may start on it or move to it until it leaves maintenance"
    );
    let to_alpha = guests_of(&app, &client, BETA).await[0].clone();
    let (status, preflight) = app
        .post(
            &client,
            "/api/migrations/preflight",
            &json!({"host": BETA, "uuid": to_alpha["uuid"], "destination": ALPHA, "mode": "live"}),
        )
        .await;
    assert_eq!(status, 200, "{preflight}");
    let open = preflight["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "destination_open")
        .unwrap_or_else(|| panic!("{preflight}"));
    assert_eq!(open["verdict"], "blocked");

    // The state survives a restart of virtdeck.
    let app = app.restart().await;
    let client = app.admin().await;
    assert_eq!(
        host(&app, &client, ALPHA).await["maintenance"]["state"],
        "on"
    );

    // Exit (nothing came back to bring: the guests were shut down).
    let (status, exit) = app
        .post(
            &client,
            "/api/hosts/maintenance",
            &json!({"host": ALPHA, "action": "exit", "return_guests": true}),
        )
        .await;
    assert_eq!(status, 200, "{exit}");
    assert_eq!(exit, Value::Null);
    assert_eq!(host(&app, &client, ALPHA).await["maintenance"], Value::Null);
    let (status, again) = app
        .post(
            &client,
            "/api/hosts/maintenance",
            &json!({"host": ALPHA, "action": "exit"}),
        )
        .await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["message"], "host demo-alpha is not in maintenance");

    let actions: Vec<String> = app
        .audit("")
        .await
        .into_iter()
        .filter(|r| r.action.starts_with("host.maintenance") || r.action.starts_with("evacuation"))
        .map(|r| format!("{} {}", r.action, r.outcome))
        .collect();
    // (The runner's rows may come before the request's own, written when it returned.)
    assert!(
        actions.contains(&"host.maintenance.enter ok".to_string()),
        "{actions:?}"
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "evacuation.shut_down ok")
            .count(),
        running.len(),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"host.maintenance.exit ok".to_string()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_scheduled_evacuation_starts_at_its_time() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(4);
    let at = at
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (status, started) = app
        .post(
            &client,
            "/api/hosts/maintenance",
            &json!({"host": ALPHA, "action": "enter", "on_blocked": "shut_down", "at": at}),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_str().unwrap().to_string();
    let (_, list) = app.get(&client, &format!("/api/evacuations?id={id}")).await;
    assert_eq!(list[0]["state"], "scheduled", "{list}");
    assert_eq!(
        host(&app, &client, ALPHA).await["maintenance"]["state"],
        "scheduled"
    );
    // (A restart in between, with a real process killed: lab_maintenance.rs.)
    let e = wait_for(&app, &client, &id, Duration::from_secs(30), ended).await;
    assert_eq!(e["state"], "done", "{e}");
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let started_at = e["started_at"].as_str().unwrap();
    let (started, due) = (
        time::OffsetDateTime::parse(started_at, rfc3339).unwrap(),
        time::OffsetDateTime::parse(&at, rfc3339).unwrap(),
    );
    // Not before its time; within 30 s of it (the README's promise).
    assert!(started >= due, "started {started_at}, due {at}");
    assert!(
        started - due <= time::Duration::seconds(30),
        "started {started_at}, due {at}"
    );
    assert_eq!(
        host(&app, &client, ALPHA).await["maintenance"]["state"],
        "on"
    );
    let phases: Vec<&str> = e["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["phase"].as_str().unwrap())
        .collect();
    assert!(phases.starts_with(&["scheduled", "started"]), "{phases:?}");
}

#[tokio::test]
async fn a_scheduled_evacuation_can_be_cancelled_and_nothing_happens() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let (status, started) = app
        .post(
            &client,
            "/api/hosts/maintenance",
            &json!({"host": ALPHA, "action": "enter", "on_blocked": "shut_down", "at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 400, "more than a year ahead: {started}");
    let at = time::OffsetDateTime::now_utc() + time::Duration::hours(2);
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (status, started) = app
        .post(
            &client,
            "/api/hosts/maintenance",
            &json!({"host": ALPHA, "action": "enter", "on_blocked": "shut_down", "at": at}),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_str().unwrap();
    let (status, e) = app
        .post(&client, "/api/evacuations/cancel", &json!({"id": id}))
        .await;
    assert_eq!(status, 200, "{e}");
    let e = wait_for(&app, &client, id, Duration::from_secs(30), ended).await;
    assert_eq!(e["state"], "cancelled", "{e}");
    assert_eq!(host(&app, &client, ALPHA).await["maintenance"], Value::Null);
    assert!(guests_of(&app, &client, ALPHA)
        .await
        .iter()
        .any(|g| g["state"] == "running"));
    let (status, again) = app
        .post(&client, "/api/evacuations/cancel", &json!({"id": id}))
        .await;
    assert_eq!(status, 409, "{again}");
}

#[tokio::test]
async fn bad_requests_are_refused_and_change_nothing() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let cases = [
        (
            json!({"host": ALPHA, "max_parallel": 9}),
            400,
            "between 1 and 8",
        ),
        (json!({"host": ALPHA, "max_parallel": -1}), 400, ""),
        (
            json!({"host": ALPHA, "bandwidth_mib_s": 0}),
            400,
            "bandwidth_mib_s",
        ),
        (
            json!({"host": ALPHA, "targets": []}),
            400,
            "targets is empty",
        ),
        (
            json!({"host": ALPHA, "targets": ["<x&y>"]}),
            400,
            "there is no host named \"<x&y>\"",
        ),
        (
            json!({"host": ALPHA, "pins": {"not-a-uuid": BETA}}),
            400,
            "UUID",
        ),
        (
            json!({"host": "nonesuch"}),
            404,
            "there is no host named \"nonesuch\"",
        ),
    ];
    for (body, want, words) in cases {
        let (status, err) = app
            .post(&client, "/api/hosts/maintenance/plan", &body)
            .await;
        assert_eq!(status, want, "{body}: {err}");
        assert!(
            err["message"].as_str().unwrap_or_default().contains(words),
            "{body}: {err}"
        );
    }
    let enters = [
        (
            json!({"host": ALPHA, "action": "sideways"}),
            "expected one of enter, exit",
        ),
        (
            json!({"host": ALPHA, "action": "enter", "at": "tomorrow"}),
            "not a time",
        ),
        (
            json!({"host": ALPHA, "action": "enter", "at": "2020-01-01T00:00:00Z"}),
            "in the past",
        ),
        (
            json!({"host": ALPHA, "action": "enter", "on_blocked": "pray"}),
            "stop, shut_down",
        ),
        (
            json!({"host": ALPHA, "action": "exit", "max_parallel": 2}),
            "exit takes only",
        ),
    ];
    for (body, words) in enters {
        let (status, err) = app.post(&client, "/api/hosts/maintenance", &body).await;
        assert_eq!(status, 400, "{body}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains(words),
            "{body}: {err}"
        );
    }
    let (status, _) = app.get(&client, "/api/evacuations?id=nope").await;
    assert_eq!(status, 400);
    let (status, _) = app
        .get(
            &client,
            "/api/evacuations?id=6b1f7c3e-0a11-4c5e-9a01-00000000ffff",
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(host(&app, &client, ALPHA).await["maintenance"], Value::Null);
    let (_, list) = app.get(&client, "/api/evacuations").await;
    assert_eq!(list, json!([]));
    let invalid = app.audit("host.maintenance.invalid").await;
    assert_eq!(invalid.len(), 1, "the unknown action is audited as such");
}

#[tokio::test]
async fn viewers_watch_evacuations_and_cannot_start_one() {
    let app = spawn_app(vec![]).await;
    let admin = app.admin().await;
    let viewer = user(&app, &admin, "watcher", "viewer").await;
    let (status, _) = app.get(&viewer, "/api/evacuations").await;
    assert_eq!(status, 200);
    for (path, body) in [
        ("/api/hosts/maintenance/plan", json!({"host": ALPHA})),
        (
            "/api/hosts/maintenance",
            json!({"host": ALPHA, "action": "enter", "on_blocked": "shut_down"}),
        ),
    ] {
        let (status, _) = app.post(&viewer, path, &body).await;
        assert_eq!(status, 403, "{path}");
    }
    assert_eq!(host(&app, &admin, ALPHA).await["maintenance"], Value::Null);
}

#[tokio::test]
async fn webhooks_get_signed_events_retried_and_recorded() {
    let (hook_url, got) = crate::hook::receiver(1).await;
    let secret = "a-secret-of-some-length";
    let dir = tempfile::tempdir().unwrap();
    let mut hosts = crate::helpers::fixture_hosts(&dir.path().join("hosts"));
    // A host that never answers: host.unreachable.
    hosts.push(server::config::HostConfig::new(
        "gone",
        "qemu+tcp://127.0.0.1:1/system",
    ));
    let notify = vec![server::config::NotifyConfig {
        url: hook_url.clone(),
        events: [
            "evacuation.started",
            "evacuation.done",
            "evacuation.failed",
            "host.unreachable",
        ]
        .map(String::from)
        .to_vec(),
        secret: Some(secret.into()),
    }];
    let app = crate::helpers::spawn_app_notifying(dir, hosts, &[], notify).await;
    let client = app.admin().await;
    let asked = Instant::now();
    let (status, started) = app
        .post(
            &client,
            "/api/hosts/maintenance",
            &json!({"host": ALPHA, "action": "enter", "on_blocked": "shut_down", "targets": [BETA]}),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_str().unwrap().to_string();
    wait_for(&app, &client, &id, Duration::from_secs(60), ended).await;
    // Within 60 s of the event, the first attempt refused and retried.
    let delivered = |event: &str| {
        got.lock()
            .unwrap()
            .iter()
            .filter(|(e, _, _)| e == event)
            .count()
    };
    while delivered("evacuation.done") == 0
        || delivered("evacuation.started") == 0
        || delivered("host.unreachable") == 0
    {
        assert!(
            asked.elapsed() < Duration::from_secs(60),
            "{:?}",
            got.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every delivery taken, the refused one too (retried after 2 s).
    let deliveries = loop {
        let (status, deliveries) = app.get(&client, "/api/notifications").await;
        assert_eq!(status, 200, "{deliveries}");
        let all = deliveries.as_array().unwrap();
        if all.len() == 3 && all.iter().all(|d| d["state"] == "delivered") {
            break deliveries;
        }
        assert!(asked.elapsed() < Duration::from_secs(60), "{deliveries}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 4, "three events, one sent twice: {got:?}");
    for (event, signature, body) in &got {
        let want = crate::hook::signed(secret, body);
        assert_eq!(signature, &want, "{event}: {body}");
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["event"], event.as_str());
        if event.starts_with("evacuation.") {
            assert_eq!(body["data"]["id"], id.as_str(), "{body}");
            assert_eq!(body["data"]["host"], ALPHA);
        } else {
            assert_eq!(body["data"]["host"], "gone", "{body}");
        }
    }
    let done: Vec<&(String, String, String)> = got
        .iter()
        .filter(|(e, _, _)| e == "evacuation.done")
        .collect();
    assert_eq!(done.len(), 1, "said once: {got:?}");
    let list = deliveries.as_array().unwrap();
    for d in list {
        assert_eq!(d["state"], "delivered", "{d}");
        assert_eq!(d["url"], hook_url.as_str());
    }
    // The first attempt of one of them was refused, so it took two.
    let retried: Vec<&Value> = list.iter().filter(|d| d["attempts"] == 2).collect();
    assert_eq!(retried.len(), 1, "{deliveries}");
    assert_eq!(retried[0]["last_status"], 200);
    let (status, failed) = app.get(&client, "/api/notifications?failed=true").await;
    assert_eq!((status, failed), (200, json!([])));
}
