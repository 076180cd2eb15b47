//! The `Balance` port as the server functions see it, and the settings
//! kept in the `settings` table.

use app::{
    api::{
        balance::{BalanceSettings, BalanceView, SettingsChange},
        ApiError,
    },
    backend::Balance,
};
use async_trait::async_trait;
use sqlx::SqlitePool;

use super::BalancePort;

const SETTINGS_KEY: &str = "balance";

pub(super) async fn load_settings(pool: &SqlitePool) -> BalanceSettings {
    let row: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE key = ?")
        .bind(SETTINGS_KEY)
        .fetch_optional(pool)
        .await
        .unwrap_or_else(|e| {
            tracing::error!("cannot read the balance settings: {e}");
            None
        });
    row.and_then(|(v,)| serde_json::from_str(&v).ok())
        .unwrap_or_default()
}

#[async_trait]
impl Balance for BalancePort {
    fn recommendations(&self) -> u32 {
        self.0.state().proposals.len() as u32
    }

    async fn view(&self) -> Result<BalanceView, ApiError> {
        Ok(self.0.view_now())
    }

    async fn apply(&self, user: &str, id: &str) -> Result<String, ApiError> {
        self.0
            .start(user, id)
            .await
            .map(|(migration_id, _)| migration_id)
    }

    async fn set_settings(&self, change: &SettingsChange) -> Result<BalanceView, ApiError> {
        let me = &self.0;
        let _one = me.decide.lock().await;
        let mut settings = me.state().settings.clone();
        change.apply_to(&mut settings);
        let json = serde_json::to_string(&settings)
            .map_err(|e| ApiError::Internal(format!("balance settings: {e}")))?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(SETTINGS_KEY)
        .bind(json)
        .execute(&me.pool)
        .await
        .map_err(|e| {
            tracing::error!("cannot store the balance settings: {e}");
            ApiError::Internal("the settings could not be stored".into())
        })?;
        let had = {
            let mut state = me.state();
            state.settings = settings;
            state.held = 0;
            !std::mem::take(&mut state.proposals).is_empty()
        };
        if had {
            me.announce();
        }
        Ok(me.view_now())
    }
}
