//! Jobs: work that outlives the request that started it (clones, migrations,
//! and next evacuations), one registry per kind of job, `Jobs<K>`:
//! - the running jobs are in memory, each with its latest snapshot (the wire
//!   type the API answers) and a cancel flag;
//! - every job is in the database, through a `Store`: `JobTable` keeps any
//!   kind in the `jobs` table (the snapshot as JSON), migrations keep their
//!   own `migrations` table (`migration::history`). A job is written when it
//!   starts, on every change of phase (`update`), at most once a second while
//!   it only progresses (`progress`), and when it ends (`finish`); beside the
//!   snapshot it may keep notes (`note`): what recovery needs, e.g. the
//!   volumes a clone began to copy;
//! - every change is published on the event channel (`JobKind::event`);
//! - at start-up, `recorded_running` answers the jobs the database still
//!   holds as running: the kind's service re-attaches to them (`adopt`) or
//!   ends them with a reason (`adopt` then `finish`).

use std::{
    collections::HashMap,
    marker::PhantomData,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use app::api::{events::ServerEvent, ApiError};
use async_trait::async_trait;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use sqlx::{Row, SqlitePool};

use super::HostRegistry;

/// How often a job that only progresses is written to the database.
pub const SAVE_EVERY: Duration = Duration::from_secs(1);

/// One kind of job.
pub trait JobKind: Send + Sync + 'static {
    /// The job as the API answers it and the events carry it.
    type Snapshot: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;
    /// Its name in the `jobs` table's `kind` column.
    const KIND: &'static str;
    fn id(job: &Self::Snapshot) -> &str;
    /// The state as stored: `running` while it runs.
    fn state(job: &Self::Snapshot) -> String;
    fn started_at(job: &Self::Snapshot) -> &str;
    /// The event that announces the snapshot.
    fn event(job: &Self::Snapshot) -> ServerEvent;
    /// The guest (host, UUID) the job holds while it runs, and the refusal
    /// any other change to it gets meanwhile (`HostRegistry::ensure_free`).
    fn holds(_job: &Self::Snapshot) -> Vec<(&str, &str, &'static str)> {
        Vec::new()
    }
}

/// Where the jobs of one kind are kept.
#[async_trait]
pub trait Store<S>: Send + Sync {
    async fn insert(&self, job: &S, notes: &Value) -> sqlx::Result<()>;
    async fn update(&self, job: &S) -> sqlx::Result<()>;
    /// Replaces the notes kept for recovery.
    async fn note(&self, id: &str, notes: &Value) -> sqlx::Result<()>;
    async fn get(&self, id: &str) -> sqlx::Result<Option<S>>;
    /// Newest first.
    async fn list(&self, offset: u32, limit: u32) -> sqlx::Result<Vec<S>>;
    /// The jobs stored as running, oldest first, with their notes.
    async fn running(&self) -> sqlx::Result<Vec<(S, Value)>>;
}

use crate::clock::now;

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!("jobs in the database: {e}");
    ApiError::internal()
}

/// A job that runs now.
pub struct Job<K: JobKind> {
    snapshot: Mutex<K::Snapshot>,
    cancel: AtomicBool,
    /// The user asked the runner to act now (a retry it was waiting to make).
    nudge: tokio::sync::Notify,
    saved: Mutex<Instant>,
    /// Held while the job is written; `true` once its end is: a change that
    /// raced with the end is never written over it.
    writing: tokio::sync::Mutex<bool>,
}

impl<K: JobKind> Job<K> {
    pub fn snapshot(&self) -> K::Snapshot {
        self.snapshot.lock().expect("job lock").clone()
    }

    /// Whether someone asked for the job to stop.
    pub fn cancel_requested(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Wakes the runner if it waits in `nudged` (or its next wait returns at once).
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Waits for a `nudge`, at most `limit`; answers whether one came.
    pub async fn nudged(&self, limit: std::time::Duration) -> bool {
        tokio::time::timeout(limit, self.nudge.notified())
            .await
            .is_ok()
    }
}

/// The registry of one kind of job.
pub struct Jobs<K: JobKind> {
    store: Box<dyn Store<K::Snapshot>>,
    hosts: Arc<HostRegistry>,
    running: Mutex<HashMap<String, Arc<Job<K>>>>,
}

impl<K: JobKind> Jobs<K> {
    pub fn new(store: impl Store<K::Snapshot> + 'static, hosts: Arc<HostRegistry>) -> Self {
        Jobs {
            store: Box::new(store),
            hosts,
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Registers, stores and announces a new job. `clash` looks at every
    /// running job (under the registry's lock, so two clicks at once cannot
    /// both start) and refuses the new one with its error.
    pub async fn start(
        &self,
        job: K::Snapshot,
        notes: &Value,
        clash: impl Fn(&K::Snapshot) -> Option<ApiError>,
    ) -> Result<Arc<Job<K>>, ApiError> {
        let id = K::id(&job).to_string();
        let handle = Arc::new(Job {
            snapshot: Mutex::new(job.clone()),
            cancel: AtomicBool::new(false),
            nudge: tokio::sync::Notify::new(),
            saved: Mutex::new(Instant::now()),
            writing: tokio::sync::Mutex::new(false),
        });
        {
            let mut map = self.running.lock().expect("jobs lock");
            for other in map.values() {
                if let Some(e) = clash(&other.snapshot()) {
                    return Err(e);
                }
            }
            map.insert(id.clone(), handle.clone());
            self.hold(&job);
        }
        if let Err(e) = self.store.insert(&job, notes).await {
            self.running.lock().expect("jobs lock").remove(&id);
            self.release(&job);
            return Err(internal(e));
        }
        self.hosts.announce(K::event(&job));
        Ok(handle)
    }

    /// Takes a job found running in the database (at start-up) into the
    /// registry, as it was stored.
    pub fn adopt(&self, job: K::Snapshot) -> Arc<Job<K>> {
        let handle = Arc::new(Job {
            snapshot: Mutex::new(job),
            cancel: AtomicBool::new(false),
            nudge: tokio::sync::Notify::new(),
            saved: Mutex::new(Instant::now()),
            writing: tokio::sync::Mutex::new(false),
        });
        let snapshot = handle.snapshot();
        let mut running = self.running.lock().expect("jobs lock");
        if running
            .insert(K::id(&snapshot).to_string(), handle.clone())
            .is_none()
        {
            self.hold(&snapshot);
        }
        handle
    }

    fn hold(&self, job: &K::Snapshot) {
        for (host, uuid, why) in K::holds(job) {
            self.hosts.hold(host, uuid, why);
        }
    }

    fn release(&self, job: &K::Snapshot) {
        for (host, uuid, why) in K::holds(job) {
            self.hosts.release(host, uuid, why);
        }
    }

    /// The jobs the database holds as running, with their notes: at start-up,
    /// the ones that were running when virtdeck stopped.
    pub async fn recorded_running(&self) -> Vec<(K::Snapshot, Value)> {
        self.store.running().await.unwrap_or_else(|e| {
            tracing::error!(kind = K::KIND, "cannot read the running jobs: {e}");
            Vec::new()
        })
    }

    fn change(&self, job: &Job<K>, f: impl FnOnce(&mut K::Snapshot)) -> K::Snapshot {
        let snapshot = {
            let mut s = job.snapshot.lock().expect("job lock");
            f(&mut s);
            s.clone()
        };
        self.hosts.announce(K::event(&snapshot));
        snapshot
    }

    async fn save(&self, job: &Job<K>, snapshot: &K::Snapshot) {
        let ended = job.writing.lock().await;
        if *ended {
            return;
        }
        *job.saved.lock().expect("job lock") = Instant::now();
        self.write(snapshot).await;
    }

    async fn write(&self, snapshot: &K::Snapshot) {
        if let Err(e) = self.store.update(snapshot).await {
            tracing::error!(
                kind = K::KIND,
                id = K::id(snapshot),
                "cannot store a job: {e}"
            );
        }
    }

    /// A change worth keeping at once (a new phase): announced and stored.
    pub async fn update(&self, job: &Job<K>, f: impl FnOnce(&mut K::Snapshot)) -> K::Snapshot {
        let snapshot = self.change(job, f);
        self.save(job, &snapshot).await;
        snapshot
    }

    /// Progress: announced, stored if the last write is `SAVE_EVERY` old.
    pub async fn progress(&self, job: &Job<K>, f: impl FnOnce(&mut K::Snapshot)) -> K::Snapshot {
        let snapshot = self.change(job, f);
        let due = job.saved.lock().expect("job lock").elapsed() >= SAVE_EVERY;
        if due {
            self.save(job, &snapshot).await;
        }
        snapshot
    }

    /// Replaces the job's notes for recovery (stored at once).
    pub async fn note(&self, job: &Job<K>, notes: &Value) {
        let id = K::id(&job.snapshot()).to_string();
        if let Err(e) = self.store.note(&id, notes).await {
            tracing::error!(kind = K::KIND, id, "cannot store a job's notes: {e}");
        }
    }

    /// Ends a job: `f` sets its end state; it is stored, leaves the running
    /// ones, and is announced. Until it is stored the job reads as running
    /// (whoever sees it ended can rely on the database holding the end).
    pub async fn finish(&self, job: &Job<K>, f: impl FnOnce(&mut K::Snapshot)) -> K::Snapshot {
        let mut ended = job.writing.lock().await;
        let mut snapshot = job.snapshot();
        f(&mut snapshot);
        *ended = true;
        self.write(&snapshot).await;
        drop(ended);
        *job.snapshot.lock().expect("job lock") = snapshot.clone();
        let ended = self
            .running
            .lock()
            .expect("jobs lock")
            .remove(K::id(&snapshot));
        if let Some(ended) = ended {
            // As it was held: the host and UUID a job holds do not change.
            self.release(&ended.snapshot());
        }
        self.hosts.announce(K::event(&snapshot));
        snapshot
    }

    /// Changes a job that has ended (a later finding about it): stored and
    /// announced. Answers `None` if there is no such job or it still runs.
    pub async fn amend(&self, id: &str, f: impl FnOnce(&mut K::Snapshot)) -> Option<K::Snapshot> {
        if self.running(id).is_some() {
            return None;
        }
        let mut snapshot = self.store.get(id).await.ok().flatten()?;
        f(&mut snapshot);
        if let Err(e) = self.store.update(&snapshot).await {
            tracing::error!(kind = K::KIND, id, "cannot store a job: {e}");
        }
        self.hosts.announce(K::event(&snapshot));
        Some(snapshot)
    }

    /// The snapshots of every running job.
    pub fn all_running(&self) -> Vec<K::Snapshot> {
        let running: Vec<Arc<Job<K>>> = self
            .running
            .lock()
            .expect("jobs lock")
            .values()
            .cloned()
            .collect();
        running.iter().map(|j| j.snapshot()).collect()
    }

    /// The running job `id`.
    pub fn running(&self, id: &str) -> Option<Arc<Job<K>>> {
        self.running.lock().expect("jobs lock").get(id).cloned()
    }

    /// Asks the running job `id` to stop (its task reads the flag; the kind
    /// does what stopping takes); answers the job, or `None` if none runs.
    pub fn cancel(&self, id: &str) -> Option<Arc<Job<K>>> {
        let job = self.running(id)?;
        job.cancel.store(true, Ordering::Relaxed);
        Some(job)
    }

    /// The job `id`, running or stored.
    pub async fn get(&self, id: &str) -> Result<Option<K::Snapshot>, ApiError> {
        if let Some(j) = self.running(id) {
            return Ok(Some(j.snapshot()));
        }
        self.store.get(id).await.map_err(internal)
    }

    /// The jobs newest first, the running ones as they are now.
    pub async fn list(&self, offset: u32, limit: u32) -> Result<Vec<K::Snapshot>, ApiError> {
        let stored = self.store.list(offset, limit).await.map_err(internal)?;
        Ok(stored
            .into_iter()
            .map(|job| match self.running(K::id(&job)) {
                Some(r) => r.snapshot(),
                None => job,
            })
            .collect())
    }
}

/// Any kind of job in the `jobs` table, its snapshot as JSON.
pub struct JobTable<K> {
    pool: SqlitePool,
    kind: PhantomData<K>,
}

impl<K> JobTable<K> {
    pub fn new(pool: SqlitePool) -> Self {
        JobTable {
            pool,
            kind: PhantomData,
        }
    }
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

fn read<K: JobKind>(r: &sqlx::sqlite::SqliteRow) -> Option<(K::Snapshot, Value)> {
    let snapshot: String = r.try_get("snapshot").ok()?;
    let notes: String = r.try_get("notes").unwrap_or_default();
    match serde_json::from_str(&snapshot) {
        Ok(s) => Some((s, serde_json::from_str(&notes).unwrap_or(Value::Null))),
        Err(e) => {
            tracing::error!(kind = K::KIND, "a stored job cannot be read: {e}");
            None
        }
    }
}

#[async_trait]
impl<K: JobKind> Store<K::Snapshot> for JobTable<K> {
    async fn insert(&self, job: &K::Snapshot, notes: &Value) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO jobs (id, kind, state, snapshot, notes, started_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(K::id(job))
        .bind(K::KIND)
        .bind(K::state(job))
        .bind(json(job))
        .bind(json(notes))
        .bind(K::started_at(job))
        .bind(now())
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    async fn update(&self, job: &K::Snapshot) -> sqlx::Result<()> {
        sqlx::query("UPDATE jobs SET state = ?, snapshot = ?, updated_at = ? WHERE id = ?")
            .bind(K::state(job))
            .bind(json(job))
            .bind(now())
            .bind(K::id(job))
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    async fn note(&self, id: &str, notes: &Value) -> sqlx::Result<()> {
        sqlx::query("UPDATE jobs SET notes = ?, updated_at = ? WHERE id = ?")
            .bind(json(notes))
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    async fn get(&self, id: &str) -> sqlx::Result<Option<K::Snapshot>> {
        let row = sqlx::query("SELECT snapshot, notes FROM jobs WHERE id = ? AND kind = ?")
            .bind(id)
            .bind(K::KIND)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().and_then(read::<K>).map(|(s, _)| s))
    }

    async fn list(&self, offset: u32, limit: u32) -> sqlx::Result<Vec<K::Snapshot>> {
        let rows = sqlx::query(
            "SELECT snapshot, notes FROM jobs WHERE kind = ? \
             ORDER BY started_at DESC, id LIMIT ? OFFSET ?",
        )
        .bind(K::KIND)
        .bind(limit as i64)
        .bind(offset as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().filter_map(read::<K>).map(|(s, _)| s).collect())
    }

    async fn running(&self) -> sqlx::Result<Vec<(K::Snapshot, Value)>> {
        let rows = sqlx::query(
            "SELECT snapshot, notes FROM jobs WHERE kind = ? AND state = 'running' \
             ORDER BY started_at",
        )
        .bind(K::KIND)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().filter_map(read::<K>).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use tokio::sync::broadcast;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Snap {
        id: String,
        state: String,
        step: u32,
        started_at: String,
    }

    struct Test;

    impl JobKind for Test {
        type Snapshot = Snap;
        const KIND: &'static str = "test";
        fn id(job: &Snap) -> &str {
            &job.id
        }
        fn state(job: &Snap) -> String {
            job.state.clone()
        }
        fn started_at(job: &Snap) -> &str {
            &job.started_at
        }
        fn event(job: &Snap) -> ServerEvent {
            ServerEvent::GuestRemoved {
                host: job.id.clone(),
                uuid: job.step.to_string(),
            }
        }
        fn holds(job: &Snap) -> Vec<(&str, &str, &'static str)> {
            vec![("h", &job.id, "busy with a test job")]
        }
    }

    fn held(jobs: &Jobs<Test>, id: &str) -> bool {
        // UUIDs compare without case.
        jobs.hosts.ensure_free("h", &id.to_uppercase()).is_err()
    }

    fn snap(id: &str, started_at: &str) -> Snap {
        Snap {
            id: id.into(),
            state: "running".into(),
            step: 0,
            started_at: started_at.into(),
        }
    }

    fn registry(pool: &SqlitePool) -> (Jobs<Test>, broadcast::Receiver<ServerEvent>) {
        let (events, rx) = broadcast::channel(16);
        let hosts = HostRegistry::new(&[], events);
        (Jobs::new(JobTable::<Test>::new(pool.clone()), hosts), rx)
    }

    async fn stored(pool: &SqlitePool, id: &str) -> Snap {
        JobTable::<Test>::new(pool.clone())
            .get(id)
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn jobs_are_stored_published_and_read_back_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
        let pool = crate::db::connect(&url).await.unwrap();
        let (jobs, mut rx) = registry(&pool);

        let a = jobs
            .start(snap("a", "2026-01-01T00:00:00Z"), &Value::Null, |_| None)
            .await
            .unwrap();
        assert!(matches!(rx.try_recv(), Ok(ServerEvent::GuestRemoved { host, .. }) if host == "a"));
        let clash = jobs
            .start(snap("b", "2026-01-01T00:00:01Z"), &Value::Null, |other| {
                (other.id == "a").then(|| ApiError::Conflict("a runs".into()))
            })
            .await;
        assert!(matches!(clash, Err(ApiError::Conflict(_))));
        assert!(jobs.running("b").is_none(), "a refused job is not kept");
        assert!(held(&jobs, "a"), "a running job holds its guest");
        assert!(!held(&jobs, "b"), "a refused job holds nothing");
        let refusal = jobs.hosts.ensure_free("h", "a").unwrap_err();
        assert_eq!(refusal.message(), "busy with a test job");

        // Progress is published at once, stored at most once a second.
        jobs.progress(&a, |s| s.step = 1).await;
        assert!(matches!(rx.try_recv(), Ok(ServerEvent::GuestRemoved { uuid, .. }) if uuid == "1"));
        assert_eq!(stored(&pool, "a").await.step, 0);
        assert_eq!(jobs.get("a").await.unwrap().unwrap().step, 1);
        // A new phase is stored at once.
        jobs.update(&a, |s| s.step = 2).await;
        assert_eq!(stored(&pool, "a").await.step, 2);
        jobs.note(&a, &serde_json::json!({"made": ["x"]})).await;

        let b = jobs
            .start(snap("b", "2026-01-01T00:00:01Z"), &Value::Null, |_| None)
            .await
            .unwrap();
        assert!(jobs.running("b").is_some());
        assert!(jobs.cancel("b").unwrap().cancel_requested());
        assert!(jobs.cancel("nonesuch").is_none());
        assert!(held(&jobs, "b"));
        jobs.finish(&b, |s| s.state = "failed".into()).await;
        assert!(jobs.running("b").is_none());
        assert!(!held(&jobs, "b"), "an ended job lets its guest go");
        assert!(held(&jobs, "a"));
        let ids: Vec<String> = jobs
            .list(0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, ["b", "a"], "newest first");

        // A restart: a new registry on the same database.
        drop(jobs);
        let (jobs, _rx) = registry(&pool);
        assert_eq!(jobs.get("b").await.unwrap().unwrap().state, "failed");
        let left = jobs.recorded_running().await;
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(left[0].0.id, "a");
        assert_eq!(left[0].0.step, 2);
        assert_eq!(left[0].1, serde_json::json!({"made": ["x"]}));
        assert!(!held(&jobs, "a"));
        let a = jobs.adopt(left[0].0.clone());
        assert!(jobs.running("a").is_some());
        assert!(held(&jobs, "a"), "an adopted job holds its guest again");
        jobs.finish(&a, |s| s.state = "failed".into()).await;
        assert!(!held(&jobs, "a"));
        assert!(jobs.recorded_running().await.is_empty());
        assert!(jobs.get("nonesuch").await.unwrap().is_none());
    }
}
