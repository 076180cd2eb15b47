//! The hosts' maintenance in the database (`host_maintenance`), read back at
//! start-up so a host in maintenance stays there across restarts.

use app::api::maintenance::{HostMaintenance, MaintenanceState};
use sqlx::{Row, SqlitePool};

pub struct MaintenanceTable {
    pool: SqlitePool,
}

impl MaintenanceTable {
    pub fn new(pool: SqlitePool) -> Self {
        MaintenanceTable { pool }
    }

    /// Every host with a maintenance state.
    pub async fn load(&self) -> Vec<(String, HostMaintenance)> {
        let rows = sqlx::query("SELECT host, state, since, evacuation FROM host_maintenance")
            .fetch_all(&self.pool)
            .await
            .unwrap_or_else(|e| {
                tracing::error!("cannot read the hosts' maintenance: {e}");
                Vec::new()
            });
        rows.iter()
            .filter_map(|r| {
                let host: String = r.try_get("host").ok()?;
                let state: String = r.try_get("state").ok()?;
                let state: MaintenanceState = state.parse().ok()?;
                Some((
                    host,
                    HostMaintenance {
                        state,
                        since: r.try_get("since").ok()?,
                        evacuation: r.try_get("evacuation").ok()?,
                    },
                ))
            })
            .collect()
    }

    /// Stores (or, with `None`, removes) a host's maintenance.
    pub async fn set(&self, host: &str, m: Option<&HostMaintenance>) -> sqlx::Result<()> {
        match m {
            None => sqlx::query("DELETE FROM host_maintenance WHERE host = ?")
                .bind(host)
                .execute(&self.pool)
                .await
                .map(|_| ()),
            Some(m) => sqlx::query(
                "INSERT INTO host_maintenance (host, state, since, evacuation) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (host) DO UPDATE SET state = excluded.state, since = excluded.since, \
                 evacuation = excluded.evacuation",
            )
            .bind(host)
            .bind(m.state.to_string())
            .bind(&m.since)
            .bind(&m.evacuation)
            .execute(&self.pool)
            .await
            .map(|_| ()),
        }
    }
}
