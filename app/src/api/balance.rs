//! The balance advisor: `GET /api/balance`, `POST /api/balance/apply`,
//! `POST /api/balance/settings` (admins).
//!
//! The server samples every host's load (its guests' CPU time and memory)
//! every few seconds, measures how uneven the fleet is (the coefficient of
//! variation of the hosts' load shares) and, when it stays above the
//! threshold, proposes migrations that even it out — each with its numbers
//! and one sentence that explains it. An operator applies one; in automatic
//! mode the advisor runs them itself, up to a priority. `/ws` says
//! `balance_changed` when the recommendations change.

use leptos::server;
use leptos::server_fn::codec::{GetUrl, Json};
use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter, EnumString};

use super::{
    guests::validate_uuid,
    validate::{parse_choice, Choice},
    ApiError,
};

/// What the advisor does with its recommendations.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum BalanceMode {
    /// No recommendations (sampling goes on, for the charts).
    Off,
    /// Recommendations on the Balance page and a badge in the navigation.
    #[default]
    Recommend,
    /// Recommendations up to `automatic_max_priority` run by themselves.
    Automatic,
}

/// The advisor's settings, as `GET /api/balance` shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BalanceSettings {
    pub mode: BalanceMode,
    /// In automatic mode, recommendations of this priority or more urgent
    /// (1 is the most urgent) run by themselves.
    pub automatic_max_priority: u8,
    /// Recommendations only above this combined imbalance.
    pub threshold: f64,
    /// …for this many samples in a row.
    pub hold_samples: u32,
    /// The moves together must lower the imbalance by this share of it.
    pub margin: f64,
    pub max_moves_per_hour: u32,
    /// A guest that moved is left where it is for this long.
    pub min_minutes_between_moves_of_a_guest: u32,
    /// Guests never moved (UUIDs).
    pub exclude: Vec<String>,
    /// Nothing is proposed while every host is below this share of its
    /// allocatable CPU and memory.
    pub min_load: f64,
    /// A target may not go above these shares.
    pub cpu_headroom: f64,
    pub memory_headroom: f64,
    /// How often every host is sampled (server configuration).
    pub sample_seconds: u32,
    /// The bandwidth the cost estimates assume (server configuration).
    pub bandwidth_mib_s: u64,
}

impl Default for BalanceSettings {
    fn default() -> Self {
        BalanceSettings {
            mode: BalanceMode::Recommend,
            automatic_max_priority: 2,
            threshold: 0.15,
            hold_samples: 3,
            margin: 0.10,
            max_moves_per_hour: 6,
            min_minutes_between_moves_of_a_guest: 60,
            exclude: Vec::new(),
            min_load: 0.5,
            cpu_headroom: 0.8,
            memory_headroom: 0.9,
            sample_seconds: 10,
            bandwidth_mib_s: 100,
        }
    }
}

/// The fleet's imbalance: the coefficient of variation of the hosts' CPU
/// shares, memory shares, and of each host's larger share (combined).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Imbalance {
    pub cpu: f64,
    pub memory: f64,
    pub combined: f64,
    pub threshold: f64,
}

/// One host's load, as the advisor sees it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostBalance {
    pub host: String,
    /// Share of the host's allocatable CPUs its guests use (0–1, may pass 1).
    pub cpu_used: f64,
    /// Memory its running guests commit, and what it gives (allocatable), MiB.
    pub memory_committed: u64,
    pub memory_total: u64,
    /// Allocatable CPUs.
    pub cpus: u32,
    /// Running guests.
    pub guests: u32,
    /// Why the advisor leaves this host out (unreachable, in maintenance, not sampled yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_reason: Option<String>,
    /// The last hour, one point a minute (oldest first): CPU and memory shares.
    #[serde(default)]
    pub trend: Vec<TrendPoint>,
}

impl HostBalance {
    pub fn memory_share(&self) -> f64 {
        self.memory_committed as f64 / self.memory_total.max(1) as f64
    }
}

/// One point of a host's chart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    /// Unix seconds.
    pub at: i64,
    pub cpu: f32,
    pub memory: f32,
}

/// A guest, where it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestRef {
    pub host: String,
    pub uuid: String,
    pub name: String,
}

/// The target's shares once the guest is there.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetAfter {
    pub cpu: f64,
    pub memory: f64,
}

/// What a move costs: the memory to copy and the time at the assumed bandwidth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MoveCost {
    pub bytes: u64,
    pub seconds: f64,
}

/// One proposed migration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Changes when any of its numbers change: applying an old one is refused.
    pub id: String,
    pub guest: GuestRef,
    pub destination: String,
    /// `balance-cpu`, `balance-memory` or `evacuate-overloaded-host`.
    pub reason: String,
    /// 1 (most urgent) to 5.
    pub priority: u8,
    /// The combined imbalance before and after (predicted).
    pub before: f64,
    pub after: f64,
    pub target_after: TargetAfter,
    pub cost: MoveCost,
    pub explanation: String,
}

/// `GET /api/balance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BalanceView {
    pub mode: BalanceMode,
    pub settings: BalanceSettings,
    pub imbalance: Imbalance,
    pub hosts: Vec<HostBalance>,
    pub recommendations: Vec<Recommendation>,
    /// Where the advisor stands, in a sentence ("balanced: 0.08 is under
    /// the threshold 0.15", "above the threshold for 1 of 3 samples"…).
    pub status: String,
    /// When the hosts were last sampled (UTC, RFC 3339), if ever.
    #[serde(default)]
    pub sampled_at: Option<String>,
    /// Migrations the advisor started (or had applied) in the last hour.
    pub moves_last_hour: u32,
}

/// `POST /api/balance/settings`: the mode, and any of the other settings
/// (the headroom and the sampling interval are the server's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SettingsRequest {
    pub mode: String,
    #[serde(default)]
    pub automatic_max_priority: Option<i64>,
    #[serde(default)]
    pub threshold: Option<f64>,
    #[serde(default)]
    pub hold_samples: Option<i64>,
    #[serde(default)]
    pub margin: Option<f64>,
    #[serde(default)]
    pub max_moves_per_hour: Option<i64>,
    #[serde(default)]
    pub min_minutes_between_moves_of_a_guest: Option<i64>,
    #[serde(default)]
    pub exclude: Option<Vec<String>>,
    #[serde(default)]
    pub min_load: Option<f64>,
}

/// A validated `SettingsRequest`: what changes.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsChange {
    pub mode: BalanceMode,
    pub automatic_max_priority: Option<u8>,
    pub threshold: Option<f64>,
    pub hold_samples: Option<u32>,
    pub margin: Option<f64>,
    pub max_moves_per_hour: Option<u32>,
    pub min_minutes_between_moves_of_a_guest: Option<u32>,
    pub exclude: Option<Vec<String>>,
    pub min_load: Option<f64>,
}

/// At most this many guests in the exclude list.
pub const MAX_EXCLUDED: usize = 10_000;

fn whole(name: &str, value: Option<i64>, min: i64, max: i64) -> Result<Option<u32>, ApiError> {
    match value {
        None => Ok(None),
        Some(v) if (min..=max).contains(&v) => Ok(Some(v as u32)),
        Some(v) => Err(ApiError::BadRequest(format!(
            "{name} must be a whole number from {min} to {max}, not {v}"
        ))),
    }
}

fn fraction(name: &str, value: Option<f64>, min: f64, max: f64) -> Result<Option<f64>, ApiError> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && (min..=max).contains(&v) => Ok(Some(v)),
        Some(v) => {
            let shown = if v.abs() >= 1e9 {
                format!("{v:e}")
            } else {
                format!("{v}")
            };
            Err(ApiError::BadRequest(format!(
                "{name} must be a number from {min} to {max}, not {shown}"
            )))
        }
    }
}

impl SettingsRequest {
    pub fn validate(&self) -> Result<SettingsChange, ApiError> {
        let mode = parse_choice(Choice::Expected("mode"), &self.mode)?;
        let exclude = match &self.exclude {
            None => None,
            Some(list) if list.len() > MAX_EXCLUDED => {
                return Err(ApiError::BadRequest(format!(
                    "exclude may list at most {MAX_EXCLUDED} guests, not {}",
                    list.len()
                )))
            }
            Some(list) => {
                let mut out: Vec<String> = Vec::with_capacity(list.len());
                for uuid in list {
                    validate_uuid(uuid)?;
                    let uuid = uuid.to_ascii_lowercase();
                    if !out.contains(&uuid) {
                        out.push(uuid);
                    }
                }
                Some(out)
            }
        };
        Ok(SettingsChange {
            mode,
            automatic_max_priority: whole(
                "automatic_max_priority",
                self.automatic_max_priority,
                1,
                5,
            )?
            .map(|p| p as u8),
            threshold: fraction("threshold", self.threshold, 0.01, 2.0)?,
            hold_samples: whole("hold_samples", self.hold_samples, 1, 360)?,
            margin: fraction("margin", self.margin, 0.0, 0.9)?,
            max_moves_per_hour: whole("max_moves_per_hour", self.max_moves_per_hour, 1, 60)?,
            min_minutes_between_moves_of_a_guest: whole(
                "min_minutes_between_moves_of_a_guest",
                self.min_minutes_between_moves_of_a_guest,
                0,
                10_080,
            )?,
            exclude,
            min_load: fraction("min_load", self.min_load, 0.0, 1.0)?,
        })
    }
}

impl SettingsChange {
    /// `settings` with this change made.
    pub fn apply_to(&self, settings: &mut BalanceSettings) {
        settings.mode = self.mode;
        if let Some(v) = self.automatic_max_priority {
            settings.automatic_max_priority = v;
        }
        if let Some(v) = self.threshold {
            settings.threshold = v;
        }
        if let Some(v) = self.hold_samples {
            settings.hold_samples = v;
        }
        if let Some(v) = self.margin {
            settings.margin = v;
        }
        if let Some(v) = self.max_moves_per_hour {
            settings.max_moves_per_hour = v;
        }
        if let Some(v) = self.min_minutes_between_moves_of_a_guest {
            settings.min_minutes_between_moves_of_a_guest = v;
        }
        if let Some(v) = &self.exclude {
            settings.exclude = v.clone();
        }
        if let Some(v) = self.min_load {
            settings.min_load = v;
        }
    }
}

/// `POST /api/balance/apply`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub migration_id: String,
}

/// A recommendation id: 16 hexadecimal digits.
pub fn validate_recommendation_id(id: &str) -> Result<(), ApiError> {
    if id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "{:?} is not a recommendation id",
            super::clip(id)
        )))
    }
}

/// The fleet's load, imbalance and recommendations.
#[server(name = GetBalance, prefix = "/api", endpoint = "balance", input = GetUrl, output = crate::api::JsonText)]
pub async fn get_balance() -> Result<BalanceView, ApiError> {
    super::ssr::authorized(|ctx| async move { ctx.services.balance.view().await }).await
}

/// Runs one recommendation as a migration; 409 when it is stale.
#[server(name = ApplyRecommendation, prefix = "/api", endpoint = "balance/apply", input = Json, output = crate::api::JsonText)]
pub async fn apply_recommendation(id: String) -> Result<Applied, ApiError> {
    use super::audit::{AuditAction, Target};
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        ctx.audited(
            AuditAction::BalanceApply,
            Target::recommendation(&id),
            async {
                validate_recommendation_id(&id)?;
                let migration_id = ctx.services.balance.apply(&ctx.user.username, &id).await?;
                Ok(Applied { migration_id })
            },
        )
        .await
    })
    .await
}

/// Changes the advisor's mode and settings (admins).
#[server(name = SetBalanceSettings, prefix = "/api", endpoint = "balance/settings", input = Json, output = crate::api::JsonText)]
pub async fn set_balance_settings(
    #[server(flatten)] request: SettingsRequest,
) -> Result<BalanceView, ApiError> {
    use super::audit::{AuditAction, Target};
    super::ssr::authorized_as(super::auth::Role::Admin, |ctx| async move {
        ctx.audited(AuditAction::BalanceSettings, Target::balance(), async {
            let change = request.validate()?;
            ctx.services.balance.set_settings(&change).await
        })
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_with_the_name_and_range() {
        let ok = SettingsRequest {
            mode: "automatic".into(),
            threshold: Some(0.2),
            exclude: Some(vec![
                "6695EB01-F6A4-8304-79AA-97F2502E193F".into(),
                "6695eb01-f6a4-8304-79aa-97f2502e193f".into(),
            ]),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(ok.mode, BalanceMode::Automatic);
        assert_eq!(ok.exclude.as_ref().map(Vec::len), Some(1));
        let refused = |r: SettingsRequest| r.validate().unwrap_err().message().to_string();
        assert_eq!(
            refused(SettingsRequest {
                mode: "sometimes".into(),
                ..Default::default()
            }),
            "mode \"sometimes\": expected one of off, recommend, automatic"
        );
        assert_eq!(
            refused(SettingsRequest {
                mode: "off".into(),
                hold_samples: Some(-3),
                ..Default::default()
            }),
            "hold_samples must be a whole number from 1 to 360, not -3"
        );
        assert_eq!(
            refused(SettingsRequest {
                mode: "off".into(),
                threshold: Some(1e300),
                ..Default::default()
            }),
            "threshold must be a number from 0.01 to 2, not 1e300"
        );
        assert!(refused(SettingsRequest {
            mode: "off".into(),
            exclude: Some(vec!["<x/>".into()]),
            ..Default::default()
        })
        .contains("UUID"));
        assert!(validate_recommendation_id("0123456789abcdef").is_ok());
        assert!(validate_recommendation_id("../etc").is_err());
    }
}
