//! The audit log in the database, mirrored to the process log.

use app::backend::{Audit, AuditEntry, Outcome};
use async_trait::async_trait;
use sqlx::SqlitePool;

pub struct SqlAudit {
    pool: SqlitePool,
}

impl SqlAudit {
    pub fn new(pool: SqlitePool) -> Self {
        SqlAudit { pool }
    }

    /// Deletes rows older than `days`; returns how many.
    pub async fn prune(&self, days: u32) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "DELETE FROM audit_log WHERE at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?)",
        )
        .bind(format!("-{days} days"))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Prunes now and then every hour, for the life of the process.
    pub fn keep_pruned(self: std::sync::Arc<Self>, days: u32) {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every.tick().await;
                match self.prune(days).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("audit log: deleted {n} rows older than {days} days"),
                    Err(e) => tracing::error!("audit log: cannot prune: {e}"),
                }
            }
        });
    }
}

#[async_trait]
impl Audit for SqlAudit {
    async fn write(&self, entry: AuditEntry<'_>) {
        let (status, detail) = match entry.outcome {
            Outcome::Ok => ("ok", None),
            Outcome::Failed(detail) => ("failed", Some(detail)),
            Outcome::Refused(detail) => ("refused", Some(detail)),
        };
        tracing::info!(
            target: "audit",
            user = entry.user.unwrap_or("-"),
            client = entry.client.unwrap_or("-"),
            action = entry.action,
            target = entry.target,
            outcome = status,
            detail
        );
        let written = sqlx::query(
            "INSERT INTO audit_log (username, client, action, target, outcome, detail) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(entry.user)
        .bind(entry.client)
        .bind(entry.action)
        .bind(entry.target)
        .bind(status)
        .bind(detail)
        .execute(&self.pool)
        .await;
        if let Err(e) = written {
            tracing::error!("cannot write the audit log: {e}");
        }
    }
}
