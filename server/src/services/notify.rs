//! Webhooks (`[[notify]]`): the notifier listens on the event channel, turns
//! what matters to someone away from the screen into events (an evacuation
//! started, done or failed; a migration failed; a host became unreachable or
//! reachable again), and POSTs each as JSON to every receiver that asked
//! for it. A delivery is a row in `notify_deliveries` before it is sent; it
//! is tried at once, then after `BACKOFF`, until the receiver answers 2xx or
//! the attempts run out; pending ones are taken up again after a restart.
//! With a secret, the body is signed: `X-Virtdeck-Signature: sha256=<hex
//! HMAC-SHA256 of the body>`.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use app::api::{
    events::ServerEvent,
    hosts::HostState,
    maintenance::{Evacuation, EvacuationState},
    migrations::JobStatus,
    notifications::Delivery,
    ApiError,
};
use app::backend::Notifications;
use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::{Row, SqlitePool};
use tokio::sync::broadcast;

use crate::clock::now;
use crate::config::NotifyConfig;

/// The events a `[[notify]]` table may name.
pub const EVENTS: [&str; 6] = [
    "evacuation.started",
    "evacuation.done",
    "evacuation.failed",
    "migration.failed",
    "host.unreachable",
    "host.reachable",
];

/// The waits before the 2nd, 3rd… attempt: the first retries come within a
/// minute, the last about 40 minutes after the event.
const BACKOFF: [u64; 7] = [2, 5, 15, 30, 120, 600, 1800];
/// How long a receiver may take to answer one attempt.
const TIMEOUT: Duration = Duration::from_secs(10);
/// What of a receiver's error answer is kept.
const ERROR_MAX: usize = 300;

/// The signature header's value for `body`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub struct Notifier {
    targets: Vec<NotifyConfig>,
    pool: SqlitePool,
    client: reqwest::Client,
    /// What was already said, so each change is said once.
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// Hosts said to be unreachable (and not yet reachable again).
    unreachable: HashSet<String>,
    /// The last state of each evacuation this process saw.
    evacuations: HashMap<String, EvacuationState>,
}

impl Notifier {
    /// The notifier, listening on `events`; pending deliveries are taken up again.
    pub fn start(
        targets: Vec<NotifyConfig>,
        pool: SqlitePool,
        events: broadcast::Receiver<ServerEvent>,
    ) -> Arc<Notifier> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("virtdeck/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client");
        let notifier = Arc::new(Notifier {
            targets,
            pool,
            client,
            seen: Mutex::new(Seen::default()),
        });
        if !notifier.targets.is_empty() {
            // `events` was subscribed before the hosts connected; the
            // interrupted deliveries are read before any new one is recorded
            // (else one would be sent twice).
            let n = notifier.clone();
            tokio::spawn(async move {
                n.clone().resume().await;
                n.listen(events).await;
            });
        }
        notifier
    }

    async fn listen(self: Arc<Self>, mut rx: broadcast::Receiver<ServerEvent>) {
        loop {
            match rx.recv().await {
                Ok(event) => {
                    for (name, subject, data) in self.interpret(&event) {
                        self.emit(name, subject, data).await;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("the notifier missed {n} events (the event channel overflowed)");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// The notifications an event makes: (event, subject, data).
    fn interpret(&self, event: &ServerEvent) -> Vec<(&'static str, Option<String>, Value)> {
        let mut seen = self.seen.lock().expect("notifier lock");
        match event {
            ServerEvent::HostChanged { host } => {
                let name = host.name.clone();
                match host.state {
                    HostState::Unreachable if seen.unreachable.insert(name.clone()) => vec![(
                        "host.unreachable",
                        None,
                        json!({"host": name, "error": host.error, "since": host.state_since}),
                    )],
                    HostState::Connected if seen.unreachable.remove(&name) => vec![(
                        "host.reachable",
                        None,
                        json!({"host": name, "since": host.state_since}),
                    )],
                    _ => vec![],
                }
            }
            ServerEvent::MigrationProgress(m) if m.status == JobStatus::Failed => vec![(
                "migration.failed",
                Some(m.id.clone()),
                json!({"id": m.id, "guest": m.guest, "uuid": m.uuid, "host": m.host,
                       "destination": m.destination, "error": m.error}),
            )],
            ServerEvent::EvacuationProgress(e) => {
                let before = seen.evacuations.insert(e.id.clone(), e.state);
                if before == Some(e.state) {
                    return vec![];
                }
                let name = match e.state {
                    EvacuationState::Running => "evacuation.started",
                    EvacuationState::Done => "evacuation.done",
                    EvacuationState::Failed => "evacuation.failed",
                    _ => return vec![],
                };
                if e.state.ended() {
                    seen.evacuations.remove(&e.id);
                }
                vec![(name, Some(e.id.clone()), evacuation_data(e))]
            }
            _ => vec![],
        }
    }

    /// Records a delivery for every receiver that asked for `event` (once
    /// per subject) and sends it.
    async fn emit(self: &Arc<Self>, event: &'static str, subject: Option<String>, data: Value) {
        for (i, target) in self.targets.iter().enumerate() {
            if !target.events.iter().any(|e| e == event) {
                continue;
            }
            if let Some(s) = &subject {
                let sent = sqlx::query(
                    "SELECT 1 FROM notify_deliveries WHERE event = ? AND subject = ? AND url = ?",
                )
                .bind(event)
                .bind(s)
                .bind(&target.url)
                .fetch_optional(&self.pool)
                .await;
                if matches!(sent, Ok(Some(_))) {
                    continue;
                }
            }
            let body = json!({"event": event, "at": now(), "data": data}).to_string();
            let at = now();
            let id = sqlx::query(
                "INSERT INTO notify_deliveries (url, event, subject, body, state, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, 'pending', ?, ?)",
            )
            .bind(&target.url)
            .bind(event)
            .bind(&subject)
            .bind(&body)
            .bind(&at)
            .bind(&at)
            .execute(&self.pool)
            .await
            .map(|r| r.last_insert_rowid());
            match id {
                Ok(id) => {
                    tokio::spawn(self.clone().deliver(id, i, event.to_string(), body, 0));
                }
                Err(e) => tracing::error!(event, "cannot record a webhook delivery: {e}"),
            }
        }
    }

    /// The deliveries a restart interrupted.
    async fn resume(self: Arc<Self>) {
        let rows = sqlx::query(
            "SELECT id, url, event, body, attempts FROM notify_deliveries WHERE state = 'pending'",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap_or_default();
        for r in rows {
            let (id, url): (i64, String) = (r.get("id"), r.get("url"));
            let attempts: i64 = r.get("attempts");
            match self.targets.iter().position(|t| t.url == url) {
                Some(i) => {
                    tokio::spawn(self.clone().deliver(
                        id,
                        i,
                        r.get("event"),
                        r.get("body"),
                        attempts.max(0) as usize,
                    ));
                }
                None => {
                    self.record(
                        id,
                        "failed",
                        attempts,
                        None,
                        Some("the receiver is no longer configured"),
                    )
                    .await
                }
            }
        }
    }

    async fn record(
        &self,
        id: i64,
        state: &str,
        attempts: i64,
        status: Option<u16>,
        error: Option<&str>,
    ) {
        let r = sqlx::query(
            "UPDATE notify_deliveries SET state = ?, attempts = ?, last_status = ?, last_error = ?, updated_at = ? WHERE id = ?",
        )
        .bind(state)
        .bind(attempts)
        .bind(status.map(i64::from))
        .bind(error)
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await;
        if let Err(e) = r {
            tracing::error!(id, "cannot record a webhook attempt: {e}");
        }
    }

    /// Sends one delivery until it is taken or the attempts run out.
    async fn deliver(
        self: Arc<Self>,
        id: i64,
        target: usize,
        event: String,
        body: String,
        done: usize,
    ) {
        let t = &self.targets[target];
        for attempt in done..=BACKOFF.len() {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(BACKOFF[attempt - 1])).await;
            }
            let mut request = self
                .client
                .post(&t.url)
                .header("content-type", "application/json")
                .header("x-virtdeck-event", &event)
                .header("x-virtdeck-delivery", id.to_string())
                .body(body.clone());
            if let Some(secret) = &t.secret {
                request =
                    request.header("x-virtdeck-signature", signature(secret, body.as_bytes()));
            }
            let tries = attempt as i64 + 1;
            let last = attempt == BACKOFF.len();
            match request.send().await {
                Ok(resp) if resp.status().is_success() => {
                    let status = resp.status().as_u16();
                    self.record(id, "delivered", tries, Some(status), None)
                        .await;
                    return;
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let text = resp.text().await.unwrap_or_default();
                    let error = format!("HTTP {status}: {}", clipped(&text));
                    let state = if last { "failed" } else { "pending" };
                    tracing::warn!(id, url = %t.url, status, "a webhook receiver refused a delivery");
                    self.record(id, state, tries, Some(status), Some(&error))
                        .await;
                }
                Err(e) => {
                    let error = clipped(&error_chain(&e));
                    let state = if last { "failed" } else { "pending" };
                    tracing::warn!(id, url = %t.url, "a webhook delivery failed: {error}");
                    self.record(id, state, tries, None, Some(&error)).await;
                }
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn clipped(text: &str) -> String {
    let mut out: String = text.chars().take(ERROR_MAX).collect();
    if text.chars().count() > ERROR_MAX {
        out.push('…');
    }
    out
}

/// What a receiver learns of an evacuation: who, where, how far, and why it failed.
fn evacuation_data(e: &Evacuation) -> Value {
    let (settled, moving) = e.counts();
    let failed: Vec<Value> = e
        .guests
        .iter()
        .filter(|g| g.status == app::api::maintenance::MoveStatus::Failed)
        .map(|g| json!({"name": g.name, "uuid": g.uuid, "error": g.error}))
        .collect();
    json!({"id": e.id, "host": e.host, "kind": e.kind, "state": e.state, "user": e.user,
           "guests_moving": moving, "guests_settled": settled, "failed": failed,
           "error": e.error, "started_at": e.started_at, "finished_at": e.finished_at})
}

#[async_trait]
impl Notifications for Notifier {
    async fn deliveries(
        &self,
        failed: bool,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Delivery>, ApiError> {
        let rows = sqlx::query(
            "SELECT id, url, event, state, attempts, last_status, last_error, created_at, updated_at \
             FROM notify_deliveries WHERE (? = 0 OR state = 'failed') ORDER BY id DESC LIMIT ? OFFSET ?",
        )
        .bind(failed as i64)
        .bind(limit as i64)
        .bind(offset as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| {
            tracing::error!("cannot read the webhook deliveries: {e}");
            ApiError::internal()
        })?;
        Ok(rows
            .iter()
            .map(|r| Delivery {
                id: r.get("id"),
                url: r.get("url"),
                event: r.get("event"),
                state: r.get("state"),
                attempts: r.get::<i64, _>("attempts").max(0) as u32,
                last_status: r.get::<Option<i64>, _>("last_status").map(|s| s as u16),
                last_error: r.get("last_error"),
                created_at: r.get("created_at"),
                updated_at: r.get("updated_at"),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        let mac = signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            mac,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
