//! Migration jobs in the database, the `Store` of their job registry:
//! written when a job starts, while it runs and when it ends, read for the
//! history and, at start-up, to find jobs that were running when virtdeck
//! stopped. The notes of a migration are its `copy_disks`.

use app::api::migrations::{JobStatus, MigrationJob, MigrationOptions};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Row, SqlitePool};

use crate::services::jobs::Store;

const COLUMNS: &str = "id, host, uuid, guest, destination, mode, persistence, storage, options, \
    copy_disks, username, status, progress, error, started_at, ended_at, downtime_ms, timeline";

#[derive(Clone)]
pub struct History {
    pool: SqlitePool,
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

impl History {
    pub fn new(pool: SqlitePool) -> Self {
        History { pool }
    }
}

#[async_trait]
impl Store<MigrationJob> for History {
    async fn insert(&self, job: &MigrationJob, copy_disks: &Value) -> sqlx::Result<()> {
        sqlx::query(&format!(
            "INSERT INTO migrations ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&job.id)
        .bind(&job.host)
        .bind(&job.uuid)
        .bind(&job.guest)
        .bind(&job.destination)
        .bind(job.mode.to_string())
        .bind(job.persistence.to_string())
        .bind(job.storage.to_string())
        .bind(to_json(&job.options))
        .bind(to_json(copy_disks))
        .bind(&job.user)
        .bind(job.status.to_string())
        .bind(job.progress.as_ref().map(to_json))
        .bind(&job.error)
        .bind(&job.started_at)
        .bind(&job.ended_at)
        .bind(job.downtime_ms.map(|d| d as i64))
        .bind(to_json(&job.timeline))
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// Writes what changes while and after a job runs.
    async fn update(&self, job: &MigrationJob) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE migrations SET status = ?, progress = ?, error = ?, ended_at = ?, \
             downtime_ms = ?, options = ?, timeline = ? WHERE id = ?",
        )
        .bind(job.status.to_string())
        .bind(job.progress.as_ref().map(to_json))
        .bind(&job.error)
        .bind(&job.ended_at)
        .bind(job.downtime_ms.map(|d| d as i64))
        .bind(to_json(&job.options))
        .bind(to_json(&job.timeline))
        .bind(&job.id)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    async fn note(&self, id: &str, copy_disks: &Value) -> sqlx::Result<()> {
        sqlx::query("UPDATE migrations SET copy_disks = ? WHERE id = ?")
            .bind(to_json(copy_disks))
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    async fn get(&self, id: &str) -> sqlx::Result<Option<MigrationJob>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM migrations WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| read(&r)))
    }

    /// Newest first.
    async fn list(&self, offset: u32, limit: u32) -> sqlx::Result<Vec<MigrationJob>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM migrations ORDER BY started_at DESC, id LIMIT ? OFFSET ?"
        ))
        .bind(limit as i64)
        .bind(offset as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(read).collect())
    }

    /// Jobs recorded as running (at start-up: left from before a restart).
    async fn running(&self) -> sqlx::Result<Vec<(MigrationJob, Value)>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM migrations WHERE status = 'running' ORDER BY started_at"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let copy_disks = r.try_get::<String, _>("copy_disks").unwrap_or_default();
                (
                    read(r),
                    serde_json::from_str(&copy_disks).unwrap_or(Value::Null),
                )
            })
            .collect())
    }
}

/// A wire enum stored under its wire name.
fn parse_enum<T: serde::de::DeserializeOwned>(text: String) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(text)).ok()
}

fn read(r: &sqlx::sqlite::SqliteRow) -> MigrationJob {
    let text = |c: &str| r.try_get::<String, _>(c).unwrap_or_default();
    let opt = |c: &str| r.try_get::<Option<String>, _>(c).ok().flatten();
    MigrationJob {
        id: text("id"),
        host: text("host"),
        uuid: text("uuid"),
        guest: text("guest"),
        destination: text("destination"),
        mode: parse_enum(text("mode")).unwrap_or(app::api::migrations::MigrationMode::Live),
        persistence: parse_enum(text("persistence"))
            .unwrap_or(app::api::migrations::Persistence::Temporary),
        storage: parse_enum(text("storage")).unwrap_or(app::api::migrations::StorageMode::Shared),
        options: serde_json::from_str::<MigrationOptions>(&text("options")).unwrap_or_default(),
        user: text("username"),
        status: parse_enum(text("status")).unwrap_or(JobStatus::Unknown),
        progress: opt("progress").and_then(|p| serde_json::from_str(&p).ok()),
        error: opt("error"),
        started_at: text("started_at"),
        ended_at: opt("ended_at"),
        downtime_ms: r
            .try_get::<Option<i64>, _>("downtime_ms")
            .ok()
            .flatten()
            .map(|d| d as u64),
        timeline: serde_json::from_str(&text("timeline")).unwrap_or_default(),
    }
}
