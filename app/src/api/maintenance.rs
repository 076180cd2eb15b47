//! Maintenance windows: `POST /api/hosts/maintenance/plan`,
//! `POST /api/hosts/maintenance` (enter, exit), `GET /api/evacuations`,
//! `POST /api/evacuations/cancel`.
//!
//! Entering maintenance is an evacuation: a job on the server that migrates
//! every running guest off the host (and the definitions of shut-off guests
//! on shared storage), a few at once, each to the target that keeps the
//! fleet most even, retried on another target when a migration fails. The
//! host is *in maintenance* only once no running guest and no job is left on
//! it. Its progress is streamed over `/ws` as `evacuation_progress`.

use std::collections::BTreeMap;

use leptos::server;
use leptos::server_fn::codec::{GetUrl, Json};
use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter, EnumString};

use super::{
    clip,
    guests::{validate_uuid, GuestState},
    migrations::{Check, Step},
    validate::{parse_choice, Choice},
    ApiError,
};

/// Migrations at once from one host, by default and at most.
pub const DEFAULT_PARALLEL: u32 = 2;
pub const MAX_PARALLEL: u32 = 8;
/// Attempts per guest, each on a different target.
pub const MAX_ATTEMPTS: u32 = 3;
/// The share of a target's allocatable memory that running guests may commit.
pub const HEADROOM_PERCENT: u64 = 90;
/// How far ahead an evacuation may be scheduled (days).
pub const MAX_SCHEDULE_DAYS: i64 = 366;

/// A host's maintenance, as `GET /api/hosts` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostMaintenance {
    pub state: MaintenanceState,
    /// RFC 3339 UTC: since when (for `scheduled`: when it was scheduled).
    pub since: String,
    /// The evacuation that put (or puts) the host there.
    pub evacuation: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Display, EnumString)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum MaintenanceState {
    /// An evacuation will start at a set time.
    Scheduled,
    /// Its guests are leaving; nothing may start or arrive there.
    Entering,
    /// Empty: no running guest, no job.
    On,
}

impl MaintenanceState {
    /// Nothing may start on, or migrate to, the host.
    pub fn closed(self) -> bool {
        matches!(self, MaintenanceState::Entering | MaintenanceState::On)
    }
}

/// What a blocked guest gets when the host enters maintenance.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Display, EnumString, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum OnBlocked {
    /// Nothing starts: the host does not enter maintenance while a guest cannot leave.
    Stop,
    /// The others leave, then the blocked ones are shut down (asked explicitly).
    ShutDown,
}

/// `POST /api/hosts/maintenance/plan`, and the plan options of `enter`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanRequest {
    pub host: String,
    /// Default: every other connected host not in maintenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<String>>,
    /// Migrations at once (1–8, default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<u32>,
    /// Total bandwidth (MiB/s), split between the migrations that run at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_mib_s: Option<u64>,
    /// Move the definitions of shut-off guests whose disks are on shared pools (default on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_shut_off: Option<bool>,
    /// Copy the disks of running guests that are not on shared storage (default off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_storage: Option<bool>,
    /// Guest UUID → the target the user chose for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pins: Option<BTreeMap<String, String>>,
}

/// A plan request that passed every check that needs no host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOptions {
    pub host: String,
    /// Empty: every other connected host not in maintenance.
    pub targets: Vec<String>,
    pub max_parallel: u32,
    pub bandwidth_mib_s: Option<u64>,
    pub include_shut_off: bool,
    pub copy_storage: bool,
    /// Lower-case guest UUID → target.
    pub pins: BTreeMap<String, String>,
}

impl PlanOptions {
    /// The bandwidth each of the migrations that run at once gets.
    pub fn bandwidth_each(&self) -> Option<u64> {
        self.bandwidth_mib_s
            .map(|b| (b / u64::from(self.max_parallel.max(1))).max(1))
    }
}

impl PlanRequest {
    pub fn validate(&self) -> Result<PlanOptions, ApiError> {
        let bad = |m: String| Err(ApiError::BadRequest(m));
        if self.host.trim().is_empty() {
            return bad("give the host to put in maintenance".into());
        }
        let max_parallel = self.max_parallel.unwrap_or(DEFAULT_PARALLEL);
        if !(1..=MAX_PARALLEL).contains(&max_parallel) {
            return bad(format!(
                "max_parallel must be between 1 and {MAX_PARALLEL} migrations at once"
            ));
        }
        if let Some(b) = self.bandwidth_mib_s {
            if !(1..=1_000_000).contains(&b) {
                return bad("bandwidth_mib_s must be between 1 and 1000000".into());
            }
        }
        let targets = self.targets.clone().unwrap_or_default();
        if self.targets.is_some() && targets.is_empty() {
            return bad(
                "targets is empty: name at least one host, or leave it out for every other host"
                    .into(),
            );
        }
        if targets.len() > 1000 {
            return bad("at most 1000 targets".into());
        }
        if let Some(t) = targets.iter().find(|t| **t == self.host) {
            return bad(format!(
                "{} is the host being put in maintenance, not a target",
                clip(t)
            ));
        }
        let mut pins = BTreeMap::new();
        for (uuid, target) in self.pins.iter().flatten() {
            validate_uuid(uuid)?;
            if *target == self.host {
                return bad(format!(
                    "guest {uuid} is pinned to {}, the host being put in maintenance",
                    clip(target)
                ));
            }
            if !targets.is_empty() && !targets.contains(target) {
                return bad(format!(
                    "guest {uuid} is pinned to {}, which is not among the targets",
                    clip(target)
                ));
            }
            pins.insert(uuid.to_ascii_lowercase(), target.clone());
        }
        if pins.len() > 100_000 {
            return bad("too many pins".into());
        }
        Ok(PlanOptions {
            host: self.host.clone(),
            targets,
            max_parallel,
            bandwidth_mib_s: self.bandwidth_mib_s,
            include_shut_off: self.include_shut_off.unwrap_or(true),
            copy_storage: self.copy_storage.unwrap_or(false),
            pins,
        })
    }
}

/// What the plan does with one guest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Display, EnumString, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PlanAction {
    /// Migrated live to `destination`.
    Migrate,
    /// Shut off: its definition moves to `destination` (disks on shared pools).
    MigrateOffline,
    /// Shut off and staying (local disks, or shut-off guests left alone).
    Stay,
    /// Cannot leave: `reason` says why (the failing check, with its fix).
    Blocked,
}

impl PlanAction {
    pub fn label(self) -> &'static str {
        match self {
            PlanAction::Migrate => "migrate live",
            PlanAction::MigrateOffline => "move definition (shut off)",
            PlanAction::Stay => "stays (shut off)",
            PlanAction::Blocked => "blocked",
        }
    }
}

/// One guest in a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedGuest {
    pub uuid: String,
    pub name: String,
    pub state: GuestState,
    pub memory_mib: u64,
    pub vcpus: u32,
    pub action: PlanAction,
    pub destination: Option<String>,
    pub reason: Option<String>,
    /// The pre-flight checks to `destination` (or, when blocked, to the
    /// target that came closest).
    pub checks: Vec<Check>,
    /// Every target whose pre-flight checks this guest passes.
    pub eligible: Vec<String>,
    /// Copy its disks (they are on storage the targets do not share).
    #[serde(default)]
    pub copy_storage: bool,
}

/// A target's memory before and after the plan (MiB).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetLoad {
    pub host: String,
    pub memory_committed_before: u64,
    pub memory_committed_after: u64,
    /// What the host gives to guests (`allocatable_memory_mib`).
    pub memory_total: u64,
    /// The most the headroom lets running guests commit.
    pub memory_limit: u64,
}

/// Why the plan does not fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortfall {
    /// Memory of the running guests that find no room (MiB).
    pub memory_mib: u64,
    pub message: String,
}

/// `POST /api/hosts/maintenance/plan`: what entering maintenance would do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenancePlan {
    pub host: String,
    /// Every running guest has a place (blocked guests aside: see `guests`).
    pub fits: bool,
    pub shortfall: Option<Shortfall>,
    pub guests: Vec<PlannedGuest>,
    pub targets: Vec<TargetLoad>,
}

impl MaintenancePlan {
    pub fn blocked(&self) -> impl Iterator<Item = &PlannedGuest> {
        self.guests
            .iter()
            .filter(|g| g.action == PlanAction::Blocked)
    }
}

/// `POST /api/hosts/maintenance`: enter (with the plan's options) or exit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceRequest {
    /// The host and, to enter, the plan's options.
    #[serde(flatten)]
    pub plan: PlanRequest,
    /// `enter` or `exit`.
    pub action: String,
    /// Enter at this time (RFC 3339) instead of now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// `stop` (default) or `shut_down`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_blocked: Option<String>,
    /// On exit: bring back the guests that left (those still running where they went).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_guests: Option<bool>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Display, EnumString, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum MaintenanceAction {
    Enter,
    Exit,
}

/// A maintenance request that passed every check that needs no host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaintenanceSpec {
    Enter {
        plan: PlanOptions,
        /// RFC 3339 UTC, when scheduled.
        at: Option<String>,
        on_blocked: OnBlocked,
    },
    Exit {
        host: String,
        return_guests: bool,
    },
}

impl MaintenanceRequest {
    pub fn action(&self) -> Option<MaintenanceAction> {
        self.action.parse().ok()
    }

    pub fn validate(&self) -> Result<MaintenanceSpec, ApiError> {
        let action: MaintenanceAction = parse_choice(Choice::Expected("action"), &self.action)?;
        match action {
            MaintenanceAction::Exit => {
                let options = PlanRequest {
                    host: self.plan.host.clone(),
                    ..Default::default()
                };
                if self.at.is_some() || self.on_blocked.is_some() || self.plan != options {
                    return Err(ApiError::BadRequest(
                        "exit takes only host and return_guests".into(),
                    ));
                }
                if self.plan.host.trim().is_empty() {
                    return Err(ApiError::BadRequest("give the host".into()));
                }
                Ok(MaintenanceSpec::Exit {
                    host: self.plan.host.clone(),
                    return_guests: self.return_guests.unwrap_or(false),
                })
            }
            MaintenanceAction::Enter => {
                if self.return_guests.is_some() {
                    return Err(ApiError::BadRequest("return_guests belongs to exit".into()));
                }
                let plan = self.plan.validate()?;
                let on_blocked = match &self.on_blocked {
                    None => OnBlocked::Stop,
                    Some(o) => parse_choice(Choice::Expected("on_blocked"), o)?,
                };
                let at = match &self.at {
                    None => None,
                    Some(text) => Some(validate_at(text)?),
                };
                Ok(MaintenanceSpec::Enter {
                    plan,
                    at,
                    on_blocked,
                })
            }
        }
    }
}

/// A start time: RFC 3339, not in the past (a minute's grace), at most a year ahead.
fn validate_at(text: &str) -> Result<String, ApiError> {
    #[cfg(feature = "ssr")]
    {
        use super::validate::{parse_time, utc_text};
        let t = parse_time(text).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "at {:?} is not a time: give RFC 3339, e.g. 2026-12-24T22:00:00Z",
                clip(text)
            ))
        })?;
        let now = time::OffsetDateTime::now_utc();
        if t < now - time::Duration::minutes(1) {
            return Err(ApiError::BadRequest(format!(
                "at {} is in the past",
                utc_text(t)
            )));
        }
        if t > now + time::Duration::days(MAX_SCHEDULE_DAYS) {
            return Err(ApiError::BadRequest(format!(
                "at {} is more than {MAX_SCHEDULE_DAYS} days ahead",
                utc_text(t)
            )));
        }
        Ok(utc_text(t))
    }
    #[cfg(not(feature = "ssr"))]
    Ok(text.to_string())
}

/// Where one guest of an evacuation stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Display, EnumString, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum MoveStatus {
    Queued,
    /// Its pre-flight checks run again before the migration starts.
    Checking,
    Migrating,
    /// The last pause: the guest switches to its destination.
    SwitchingOver,
    Done,
    /// A migration failed; the next attempt goes to `destination`.
    Retrying,
    Failed,
    /// Shut off and not moving.
    Stays,
    /// Could not leave (see `error`); shut down at the end if asked.
    Blocked,
    /// Shut down at the end, as asked for blocked guests.
    ShutDown,
    /// The evacuation was cancelled before it moved.
    Cancelled,
}

impl MoveStatus {
    /// No more work for this guest.
    pub fn settled(self) -> bool {
        !matches!(
            self,
            MoveStatus::Queued
                | MoveStatus::Checking
                | MoveStatus::Migrating
                | MoveStatus::SwitchingOver
                | MoveStatus::Retrying
        )
    }

    /// A migration of it runs now.
    pub fn moving(self) -> bool {
        matches!(
            self,
            MoveStatus::Checking | MoveStatus::Migrating | MoveStatus::SwitchingOver
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            MoveStatus::Queued => "queued",
            MoveStatus::Checking => "checking",
            MoveStatus::Migrating => "migrating",
            MoveStatus::SwitchingOver => "switching over",
            MoveStatus::Done => "done",
            MoveStatus::Retrying => "retrying",
            MoveStatus::Failed => "failed",
            MoveStatus::Stays => "stays",
            MoveStatus::Blocked => "blocked",
            MoveStatus::ShutDown => "shut down",
            MoveStatus::Cancelled => "cancelled",
        }
    }
}

/// One guest of an evacuation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvacuationGuest {
    pub uuid: String,
    pub name: String,
    pub status: MoveStatus,
    pub action: PlanAction,
    /// Where it leaves from (the evacuated host; on a return, where it went).
    pub from: String,
    /// Where it goes (the next attempt's target while `retrying`).
    pub destination: Option<String>,
    pub attempts: u32,
    /// The targets tried, in order.
    #[serde(default)]
    pub tried: Vec<String>,
    /// The targets whose pre-flight checks it passed when planned.
    #[serde(default)]
    pub eligible: Vec<String>,
    pub migration_id: Option<String>,
    /// The running migration's progress, 0–100.
    pub percent: f64,
    pub error: Option<String>,
    pub memory_mib: u64,
    #[serde(default)]
    pub vcpus: u32,
    #[serde(default)]
    pub copy_storage: bool,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Display, EnumString, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EvacuationKind {
    /// The host's guests leave it.
    Enter,
    /// The guests that left come back.
    Exit,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Display, EnumString, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EvacuationState {
    Scheduled,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl EvacuationState {
    pub fn ended(self) -> bool {
        matches!(
            self,
            EvacuationState::Done | EvacuationState::Failed | EvacuationState::Cancelled
        )
    }
}

/// One evacuation (or return), scheduled, running or ended. Times are RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evacuation {
    pub id: String,
    pub host: String,
    pub kind: EvacuationKind,
    pub state: EvacuationState,
    pub user: String,
    /// When it was asked for.
    pub created_at: String,
    /// When it is to start (scheduled ones).
    pub at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub options: PlanOptions,
    pub on_blocked: OnBlocked,
    pub guests: Vec<EvacuationGuest>,
    pub error: Option<String>,
    /// What happened, in order.
    #[serde(default)]
    pub timeline: Vec<Step>,
}

impl Evacuation {
    /// The host's overall progress, 0–100: each guest that moves counts the
    /// same; a settled one counts whole.
    pub fn percent(&self) -> f64 {
        let moving: Vec<&EvacuationGuest> = self
            .guests
            .iter()
            .filter(|g| matches!(g.action, PlanAction::Migrate | PlanAction::MigrateOffline))
            .collect();
        if moving.is_empty() {
            return if self.state.ended() { 100.0 } else { 0.0 };
        }
        let sum: f64 = moving
            .iter()
            .map(|g| {
                if g.status.settled() {
                    100.0
                } else {
                    g.percent.clamp(0.0, 100.0)
                }
            })
            .sum();
        sum / moving.len() as f64
    }

    /// Guests `(settled, all that move)`.
    pub fn counts(&self) -> (usize, usize) {
        let moving = self
            .guests
            .iter()
            .filter(|g| matches!(g.action, PlanAction::Migrate | PlanAction::MigrateOffline));
        let all = moving.clone().count();
        (moving.filter(|g| g.status.settled()).count(), all)
    }
}

/// An evacuation id as the API hands them out (a UUID).
pub fn validate_evacuation_id(id: &str) -> Result<(), ApiError> {
    validate_uuid(id)
        .map_err(|_| ApiError::BadRequest(format!("{:?} is not an evacuation id", clip(id))))
}

/// The id of a started (or scheduled) evacuation; `null` for an exit that
/// brings nothing back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvacuationStarted {
    pub id: String,
}

/// What entering maintenance would do, without doing it.
#[server(name = PlanMaintenance, prefix = "/api", endpoint = "hosts/maintenance/plan", input = Json, output = crate::api::JsonText)]
pub async fn plan_maintenance(
    #[server(flatten)] request: PlanRequest,
) -> Result<MaintenancePlan, ApiError> {
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        let options = request.validate()?;
        ctx.services.maintenance.plan(&options).await
    })
    .await
}

/// Enters maintenance (an evacuation, now or at `at`) or leaves it.
#[server(name = SetMaintenance, prefix = "/api", endpoint = "hosts/maintenance", input = Json, output = crate::api::JsonText)]
pub async fn set_maintenance(
    #[server(flatten)] request: MaintenanceRequest,
) -> Result<Option<EvacuationStarted>, ApiError> {
    use super::audit::{AuditAction, Target};
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        let action = AuditAction::maintenance(request.action());
        ctx.audited(action, Target::host(&request.plan.host), async {
            let spec = request.validate()?;
            let user = &ctx.user.username;
            let id = match spec {
                MaintenanceSpec::Enter {
                    plan,
                    at,
                    on_blocked,
                } => Some(
                    ctx.services
                        .maintenance
                        .enter(user, &plan, at.as_deref(), on_blocked)
                        .await?,
                ),
                MaintenanceSpec::Exit {
                    host,
                    return_guests,
                } => {
                    ctx.services
                        .maintenance
                        .exit(user, &host, return_guests)
                        .await?
                }
            };
            Ok(id.map(|id| EvacuationStarted { id }))
        })
        .await
    })
    .await
}

/// Evacuations, newest first; one with `id`; those of `host`.
#[server(name = ListEvacuations, prefix = "/api", endpoint = "evacuations", input = GetUrl, output = crate::api::JsonText)]
pub async fn list_evacuations(
    #[server(default)] id: Option<String>,
    #[server(default)] host: Option<String>,
    #[server(default)] offset: Option<u32>,
    #[server(default)] limit: Option<u32>,
) -> Result<Vec<Evacuation>, ApiError> {
    super::ssr::authorized(|ctx| async move {
        let list = if let Some(id) = &id {
            validate_evacuation_id(id)?;
            vec![ctx.services.maintenance.get(id).await?]
        } else {
            let limit = limit.unwrap_or(50).clamp(1, 500);
            ctx.services
                .maintenance
                .list(host.as_deref(), offset.unwrap_or(0), limit)
                .await?
        };
        // libvirt's messages may quote a host's URI: not for viewers.
        Ok(if ctx.user.can(super::auth::Role::Operator) {
            list
        } else {
            super::events::scrubbed(list)
        })
    })
    .await
}

/// Cancels an evacuation: running migrations are cancelled (each guest stays
/// where it is at that moment), queued guests stay; the host does not enter
/// maintenance.
#[server(name = CancelEvacuation, prefix = "/api", endpoint = "evacuations/cancel", input = Json, output = crate::api::JsonText)]
pub async fn cancel_evacuation(id: String) -> Result<Evacuation, ApiError> {
    use super::audit::{AuditAction, Target};
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        ctx.audited(
            AuditAction::EvacuationCancel,
            Target::evacuation(&id),
            async {
                validate_evacuation_id(&id)?;
                ctx.services.maintenance.cancel(&id).await
            },
        )
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(host: &str) -> PlanRequest {
        PlanRequest {
            host: host.into(),
            ..Default::default()
        }
    }

    #[test]
    fn plan_defaults_and_refusals() {
        let o = plan("kvm1").validate().unwrap();
        assert_eq!(o.max_parallel, 2);
        assert!(o.include_shut_off);
        assert!(!o.copy_storage);
        assert!(o.targets.is_empty());
        let cases: Vec<(PlanRequest, &str)> = vec![
            (plan(""), "give the host"),
            (
                PlanRequest {
                    max_parallel: Some(9),
                    ..plan("kvm1")
                },
                "between 1 and 8",
            ),
            (
                PlanRequest {
                    max_parallel: Some(0),
                    ..plan("kvm1")
                },
                "between 1 and 8",
            ),
            (
                PlanRequest {
                    bandwidth_mib_s: Some(0),
                    ..plan("kvm1")
                },
                "bandwidth_mib_s",
            ),
            (
                PlanRequest {
                    targets: Some(vec![]),
                    ..plan("kvm1")
                },
                "targets is empty",
            ),
            (
                PlanRequest {
                    targets: Some(vec!["kvm1".into()]),
                    ..plan("kvm1")
                },
                "not a target",
            ),
            (
                PlanRequest {
                    pins: Some(BTreeMap::from([("nope".into(), "kvm2".into())])),
                    ..plan("kvm1")
                },
                "UUID",
            ),
            (
                PlanRequest {
                    targets: Some(vec!["kvm2".into()]),
                    pins: Some(BTreeMap::from([(
                        "6B1F7C3E-0A11-4C5E-9A01-00000000A001".into(),
                        "kvm3".into(),
                    )])),
                    ..plan("kvm1")
                },
                "not among the targets",
            ),
        ];
        for (req, want) in cases {
            let e = req.validate().unwrap_err();
            assert!(
                e.message().contains(want),
                "{req:?}: {} lacks {want}",
                e.message()
            );
        }
        let pinned = PlanRequest {
            pins: Some(BTreeMap::from([(
                "6B1F7C3E-0A11-4C5E-9A01-00000000A001".into(),
                "kvm2".into(),
            )])),
            bandwidth_mib_s: Some(100),
            max_parallel: Some(3),
            ..plan("kvm1")
        }
        .validate()
        .unwrap();
        assert_eq!(
            pinned.pins.get("6b1f7c3e-0a11-4c5e-9a01-00000000a001"),
            Some(&"kvm2".to_string()),
            "pins are keyed by the lower-case UUID"
        );
        assert_eq!(pinned.bandwidth_each(), Some(33));
    }

    fn enter() -> MaintenanceRequest {
        MaintenanceRequest {
            plan: plan("kvm1"),
            action: "enter".into(),
            ..Default::default()
        }
    }

    #[test]
    fn maintenance_requests_are_checked() {
        assert!(matches!(
            enter().validate().unwrap(),
            MaintenanceSpec::Enter {
                on_blocked: OnBlocked::Stop,
                at: None,
                ..
            }
        ));
        let refused: Vec<(MaintenanceRequest, &str)> = vec![
            (
                MaintenanceRequest {
                    action: "sideways".into(),
                    ..enter()
                },
                "expected one of enter, exit",
            ),
            (
                MaintenanceRequest {
                    on_blocked: Some("ignore".into()),
                    ..enter()
                },
                "stop, shut_down",
            ),
            (
                MaintenanceRequest {
                    return_guests: Some(true),
                    ..enter()
                },
                "belongs to exit",
            ),
            (
                MaintenanceRequest {
                    action: "exit".into(),
                    at: Some("2030-01-01T00:00:00Z".into()),
                    ..enter()
                },
                "exit takes only",
            ),
        ];
        for (req, want) in refused {
            let e = req.validate().unwrap_err();
            assert!(e.message().contains(want), "{req:?}: {}", e.message());
        }
    }

    #[test]
    fn overall_progress_counts_what_moves() {
        let guest = |status, action, percent| EvacuationGuest {
            uuid: String::new(),
            name: String::new(),
            status,
            action,
            from: "kvm1".into(),
            destination: None,
            attempts: 0,
            tried: vec![],
            eligible: vec![],
            migration_id: None,
            percent,
            error: None,
            memory_mib: 0,
            vcpus: 1,
            copy_storage: false,
        };
        let e = Evacuation {
            id: String::new(),
            host: "kvm1".into(),
            kind: EvacuationKind::Enter,
            state: EvacuationState::Running,
            user: "u".into(),
            created_at: String::new(),
            at: None,
            started_at: None,
            finished_at: None,
            options: PlanOptions::default(),
            on_blocked: OnBlocked::Stop,
            guests: vec![
                guest(MoveStatus::Done, PlanAction::Migrate, 100.0),
                guest(MoveStatus::Migrating, PlanAction::Migrate, 50.0),
                guest(MoveStatus::Stays, PlanAction::Stay, 0.0),
            ],
            error: None,
            timeline: vec![],
        };
        assert_eq!(e.percent(), 75.0);
        assert_eq!(e.counts(), (1, 2));
    }
}
