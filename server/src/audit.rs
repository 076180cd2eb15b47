//! The audit log in the database, mirrored to the process log.

use app::{
    api::{
        audit::{AuditQuery, AuditRecord},
        ApiError,
    },
    backend::{Audit, AuditEntry, Outcome},
};
use async_trait::async_trait;
use sqlx::SqlitePool;

type AuditRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    i64,
);

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
        // Anyone can send refused requests without logging in: those are
        // counted on one row per client address and reason per minute, so a
        // flood cannot grow the log without limit. Authenticated users'
        // refusals keep a row each.
        let anonymous_refusal = entry.user.is_none() && status == "refused";
        // Its address without the port (each connection has its own).
        let ip = entry.client.map(|c| match c.rsplit_once(':') {
            Some((ip, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
                ip.trim_start_matches('[').trim_end_matches(']')
            }
            _ => c,
        });
        let client = if anonymous_refusal { ip } else { entry.client };
        if anonymous_refusal {
            let counted = sqlx::query(
                "UPDATE audit_log SET count = count + 1 WHERE id = (\
                 SELECT id FROM audit_log WHERE username IS NULL AND outcome = 'refused' \
                 AND client IS ? AND action = ? AND detail IS ? \
                 AND at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-60 seconds') \
                 ORDER BY id DESC LIMIT 1)",
            )
            .bind(client)
            .bind(entry.action)
            .bind(detail)
            .execute(&self.pool)
            .await;
            match counted {
                Ok(done) if done.rows_affected() == 1 => return,
                Ok(_) => {}
                Err(e) => tracing::error!("cannot count in the audit log: {e}"),
            }
        }
        let written = sqlx::query(
            "INSERT INTO audit_log (username, client, action, target, outcome, detail) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(entry.user)
        .bind(client)
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

    async fn query(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, ApiError> {
        let mut sql = String::from(
            "SELECT id, at, username, client, action, target, outcome, detail, count \
             FROM audit_log WHERE 1=1",
        );
        let mut binds: Vec<String> = Vec::new();
        match q.user.as_deref() {
            Some("-") => sql.push_str(" AND username IS NULL"),
            Some(u) => {
                sql.push_str(" AND username = ?");
                binds.push(u.to_string());
            }
            None => {}
        }
        if let Some(a) = &q.action {
            sql.push_str(" AND substr(action, 1, length(?)) = ?");
            binds.push(a.clone());
            binds.push(a.clone());
        }
        if let Some(o) = &q.object {
            sql.push_str(" AND instr(target, ?) > 0");
            binds.push(o.clone());
        }
        if let Some(o) = &q.outcome {
            sql.push_str(" AND outcome = ?");
            binds.push(o.clone());
        }
        if let Some(t) = &q.since {
            sql.push_str(" AND at >= ?");
            binds.push(t.clone());
        }
        if let Some(t) = &q.until {
            sql.push_str(" AND at < ?");
            binds.push(t.clone());
        }
        sql.push_str(" ORDER BY id DESC LIMIT ? OFFSET ?");
        let mut query = sqlx::query_as::<_, AuditRow>(&sql);
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query
            .bind(q.limit.unwrap_or(100).min(500) as i64)
            .bind(q.offset.unwrap_or(0).min(i64::MAX as usize) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| {
                tracing::error!("cannot read the audit log: {e}");
                ApiError::internal()
            })?;
        Ok(rows
            .into_iter()
            .map(
                |(id, at, user, client, action, target, outcome, detail, count)| AuditRecord {
                    id,
                    at,
                    user,
                    client,
                    action,
                    target,
                    outcome,
                    detail,
                    count: count.max(1) as u64,
                },
            )
            .collect())
    }
}
