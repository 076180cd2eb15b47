//! Jobs across a restart, on libvirt's test driver: a migration the database
//! holds as running is followed again at start-up (through the shared job
//! registry) and ended with what became of it. Clone jobs: `guests`.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

const BUILD01: &str = "6b1f7c3e-0a11-4c5e-9a01-00000000a003";
const JOB: &str = "0c0ffee0-0000-4000-8000-000000000001";

async fn migration(app: &TestApp, c: &reqwest::Client, id: &str) -> Value {
    let (status, list) = app.get(c, &format!("/api/migrations?id={id}")).await;
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .and_then(|l| l.iter().find(|j| j["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("no migration {id} in {list}"))
}

#[tokio::test]
async fn a_migration_running_at_a_restart_is_followed_to_its_end() {
    let app = spawn_app(vec![]).await;
    let pool = sqlx::SqlitePool::connect(&app.database()).await.unwrap();
    sqlx::query(
        "INSERT INTO migrations (id, host, uuid, guest, destination, mode, persistence, \
         storage, options, username, status, progress, started_at) \
         VALUES (?, 'demo-alpha', ?, 'build01', 'demo-beta', 'live', 'temporary', \
         'shared', '{}', 'admin', 'running', NULL, '2026-01-01T00:00:00Z')",
    )
    .bind(JOB)
    .bind(BUILD01)
    .execute(&pool)
    .await
    .unwrap();

    let app = app.restart().await;
    let c = app.admin().await;
    let mut job = migration(&app, &c, JOB).await;
    for _ in 0..100 {
        if job["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        job = migration(&app, &c, JOB).await;
    }
    // The guest never left demo-alpha (the test driver migrates nothing).
    assert_eq!(job["status"], "failed", "{job}");
    assert!(job["ended_at"].is_string(), "{job}");
    let error = job["error"].as_str().unwrap();
    assert!(
        error.starts_with("the migration ended without completing while virtdeck was not running")
            && error.contains("the guest is shut off on demo-alpha"),
        "{error}"
    );
    let (status, stored): (String, Option<String>) =
        sqlx::query_as("SELECT status, ended_at FROM migrations WHERE id = ?")
            .bind(JOB)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    assert!(stored.is_some());
    let phases: Vec<&str> = job["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["adopted", "failed"], "{job}");
}

/// The guest list marks the rows of guests being migrated: it reads the
/// running jobs, never the history, which grows with every migration ever
/// made and which the server's HTML would carry to every phone otherwise.
#[tokio::test]
async fn the_guest_list_reads_the_running_migrations_not_the_history() {
    let app = spawn_app(vec![]).await;
    let pool = sqlx::SqlitePool::connect(&app.database()).await.unwrap();
    for n in 0..30 {
        let timeline = format!(
            r#"[{{"at":"2026-01-01T00:00:0{d}Z","phase":"prepared","text":"old-history-step-{n}"}}]"#,
            d = n % 10
        );
        sqlx::query(
            "INSERT INTO migrations (id, host, uuid, guest, destination, mode, persistence, \
             storage, options, username, status, progress, started_at, ended_at, timeline) \
             VALUES (?, 'demo-alpha', ?, 'build01', 'demo-beta', 'live', 'temporary', \
             'shared', '{}', 'admin', 'completed', NULL, ?, ?, ?)",
        )
        .bind(format!("0c0ffee0-0000-4000-8000-{n:012}"))
        .bind(BUILD01)
        .bind(format!("2026-01-0{}T00:00:00Z", 1 + n % 9))
        .bind(format!("2026-01-0{}T00:01:00Z", 1 + n % 9))
        .bind(timeline)
        .execute(&pool)
        .await
        .unwrap();
    }
    let c = app.admin().await;
    let (status, history) = app.get(&c, "/api/migrations").await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history.as_array().map(Vec::len), Some(30), "{history}");

    let (status, running) = app.get(&c, "/api/migrations/running").await;
    assert_eq!(status, 200, "{running}");
    assert_eq!(running, serde_json::json!([]));

    let page = c.get(format!("{}/guests", app.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("build01"), "the list shows the guests");
    assert!(
        !html.contains("old-history-step"),
        "the guest list's page carries the migration history"
    );
}
