//! The audit log in the database, mirrored to the process log.

use app::{api::auth::SessionUser, backend::Audit};
use async_trait::async_trait;
use sqlx::SqlitePool;

pub struct SqlAudit {
    pool: SqlitePool,
}

impl SqlAudit {
    pub fn new(pool: SqlitePool) -> Self {
        SqlAudit { pool }
    }
}

#[async_trait]
impl Audit for SqlAudit {
    async fn record(
        &self,
        user: Option<&SessionUser>,
        action: &str,
        target: &str,
        outcome: Result<(), &str>,
    ) {
        let username = user.map(|u| u.username.as_str());
        let (status, detail) = match outcome {
            Ok(()) => ("ok", None),
            Err(detail) => ("failed", Some(detail)),
        };
        tracing::info!(target: "audit", user = username.unwrap_or("-"), action, target, outcome = status, detail);
        let written = sqlx::query(
            "INSERT INTO audit_log (username, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(username)
        .bind(action)
        .bind(target)
        .bind(status)
        .bind(detail)
        .execute(&self.pool)
        .await;
        if let Err(e) = written {
            tracing::error!("cannot write the audit log: {e}");
        }
    }
}
