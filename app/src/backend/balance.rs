//! The balance advisor: the fleet's load, its recommendations, and its settings.

use async_trait::async_trait;

use crate::api::{
    balance::{BalanceView, SettingsChange},
    ApiError,
};

/// Sampling runs on the server all the time; recommendations are made from
/// the samples and announced as `ServerEvent::BalanceChanged`.
#[async_trait]
pub trait Balance: Send + Sync + 'static {
    /// How many recommendations there are now (cheap: a new `/ws` says it
    /// right after its hello, for the navigation's badge).
    fn recommendations(&self) -> u32;
    /// The hosts' load, the imbalance and the current recommendations.
    async fn view(&self) -> Result<BalanceView, ApiError>;
    /// Starts the migration recommendation `id` proposes, as `user`; answers
    /// its id. 409 when `id` is no longer recommended (the numbers changed),
    /// or the hour's moves are used up.
    async fn apply(&self, user: &str, id: &str) -> Result<String, ApiError>;
    /// Stores the settings (kept across restarts) and answers the new view.
    async fn set_settings(&self, change: &SettingsChange) -> Result<BalanceView, ApiError>;
}
