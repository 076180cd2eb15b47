//! Migrations: `POST /api/migrations/preflight`, `POST /api/migrations`,
//! `GET /api/migrations`, `POST /api/migrations/cancel`,
//! `POST /api/migrations/tune`.
//!
//! A migration is a job on the server; its progress is streamed over `/ws` as
//! `migration_progress` snapshots. What libvirt refuses in combination is
//! refused here first, with the reason (`MigrationRequest::validate`).

use leptos::server;
use leptos::server_fn::codec::{GetUrl, Json};
use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter, EnumString};

use super::{
    clip,
    guests::validate_uuid,
    validate::{parse_choice, Choice},
    ApiError,
};

/// How the guest travels.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, EnumIter, EnumString, Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum MigrationMode {
    /// Keeps running; memory is copied while it runs, then a short pause to switch over.
    Live,
    /// Suspended during the copy, resumed on the destination.
    Paused,
    /// Shut off: only its definition moves.
    Offline,
}

/// Whether the destination keeps the guest for good.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, EnumIter, EnumString, Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Persistence {
    /// Runs on the destination until shut down; the definition stays on the source.
    Temporary,
    /// Defined on the destination, undefined on the source.
    Permanent,
}

/// What happens to the disks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, EnumIter, EnumString, Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum StorageMode {
    /// The disks are on storage both hosts see.
    Shared,
    /// Every disk is copied to the destination during the migration.
    Copy,
}

impl MigrationMode {
    pub fn help(self) -> &'static str {
        match self {
            MigrationMode::Live => "The guest keeps running: its memory is copied while it runs, then it pauses briefly to switch over.",
            MigrationMode::Paused => "The guest is suspended during the copy and resumed on the destination: usually faster, with a pause as long as the copy.",
            MigrationMode::Offline => "For a shut-off guest: only its definition moves (always permanent).",
        }
    }
}

impl Persistence {
    pub fn help(self) -> &'static str {
        match self {
            Persistence::Temporary => "The guest runs on the destination until it is shut down; its definition stays on the source, where it starts next time.",
            Persistence::Permanent => "The guest is defined on the destination and removed from the source: it lives there from now on.",
        }
    }
}

impl StorageMode {
    pub fn help(self) -> &'static str {
        match self {
            StorageMode::Shared => "The disks are on storage both hosts see (an iSCSI, NFS, Ceph… pool defined on both): nothing is copied.",
            StorageMode::Copy => "Every disk is copied to the destination during the migration, into the pool with the same name there: no shared storage needed, but slower.",
        }
    }
}

/// Tuning of a migration; `None` takes libvirt's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_downtime_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_mib_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_converge: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_connections: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_postcopy: Option<bool>,
    /// What virtdeck does when the copy stops getting closer to the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convergence: Option<Convergence>,
    /// Seconds without progress after which the migration is aborted (the
    /// guest stays on the source); default `DEFAULT_STALL_TIMEOUT_S`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_timeout_s: Option<u64>,
}

/// How long a migration may go without progress before it is aborted.
pub const DEFAULT_STALL_TIMEOUT_S: u64 = 240;

/// The maximum downtimes the *minimal downtime* policy steps through, one
/// step per pass over memory that did not get closer to the end.
pub const DOWNTIME_STEPS_MS: [u64; 6] = [100, 150, 200, 300, 400, 500];

/// What virtdeck does while a live migration does not converge (the guest
/// dirties memory faster than it is copied).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, EnumString, Display, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Convergence {
    /// Raise the allowed downtime step by step (`DOWNTIME_STEPS_MS`).
    MinimalDowntime,
    /// Let QEMU throttle the guest's CPUs more and more.
    AutoConverge,
    /// Switch to post-copy once two passes stalled.
    PostcopyWhenStalled,
}

impl Convergence {
    pub fn label(self) -> &'static str {
        match self {
            Convergence::MinimalDowntime => "Raise the allowed downtime step by step",
            Convergence::AutoConverge => "Slow the guest down (auto-converge)",
            Convergence::PostcopyWhenStalled => "Switch to post-copy",
        }
    }

    pub fn help(self) -> &'static str {
        match self {
            Convergence::MinimalDowntime => "Raises the allowed pause at the switch-over step by step (100 ms up to 500 ms) while passes over memory stall.",
            Convergence::AutoConverge => "Slows the guest's CPUs down more and more until the copy catches up.",
            Convergence::PostcopyWhenStalled => "Switches to post-copy after two stalled passes: the guest runs on the destination at once and fetches the rest of its memory; if the network fails then, the guest is paused on both hosts until the migration is resumed.",
        }
    }
}

/// One step of a migration's history: when, what phase, and what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// RFC 3339 UTC.
    pub at: String,
    /// `prepared`, `copying storage`, `copying memory`, `iteration`,
    /// `tuned`, `switching over`, `post-copy`, `source lost`, `destination lost`,
    /// `cancel requested`, `checked`, `done`, `failed`, `cancelled`.
    pub phase: String,
    pub text: String,
}

/// The help line of each advanced option, for the dialog.
pub const OPTION_HELP: [(&str, &str); 7] = [
    ("max_downtime_ms", "The longest pause allowed at the switch-over; larger values let a busy guest finish sooner."),
    ("bandwidth_mib_s", "Caps the migration's network use (MiB/s) so the hosts' other traffic keeps flowing."),
    ("auto_converge", "Slows the guest's CPUs down step by step when memory is dirtied faster than it can be copied."),
    ("compressed", "Compresses repeatedly sent memory pages (xbzrle): less network, more CPU."),
    ("parallel_connections", "Copies memory over several connections at once (2–16), for fast networks."),
    ("allow_postcopy", "Lets you switch to post-copy mid-flight: the guest runs on the destination at once and fetches the rest of its memory on demand; if the network fails then, the guest is lost."),
    ("stall_timeout_s", "Aborts the migration, with the guest still running on the source, when it makes no progress for this many seconds (default 240)."),
];

/// `POST /api/migrations` and `/preflight`: what to migrate, where, and how.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MigrationRequest {
    pub host: String,
    pub uuid: String,
    pub destination: String,
    /// `live`, `paused` or `offline`.
    pub mode: String,
    /// `temporary` (default) or `permanent`.
    #[serde(default)]
    pub persistence: Option<String>,
    /// `shared` (default) or `copy`.
    #[serde(default)]
    pub storage: Option<String>,
    #[serde(flatten)]
    pub options: MigrationOptions,
}

/// A migration request that passed every check that needs no host.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationSpec {
    pub host: String,
    pub uuid: String,
    pub destination: String,
    pub mode: MigrationMode,
    pub persistence: Persistence,
    pub storage: StorageMode,
    pub options: MigrationOptions,
}

impl MigrationRequest {
    /// Checks the request alone, including the flag combinations libvirt refuses.
    pub fn validate(&self) -> Result<MigrationSpec, ApiError> {
        let bad = |m: &str| Err(ApiError::BadRequest(m.to_string()));
        validate_uuid(&self.uuid)?;
        if self.host == self.destination {
            return Err(ApiError::BadRequest(format!(
                "the destination is the guest's own host {}; choose another host",
                clip(&self.host)
            )));
        }
        let mode: MigrationMode = parse_choice(Choice::Expected("mode"), &self.mode)?;
        let persistence: Persistence = match &self.persistence {
            None => match mode {
                MigrationMode::Offline => Persistence::Permanent,
                _ => Persistence::Temporary,
            },
            Some(p) => parse_choice(Choice::Expected("persistence"), p)?,
        };
        let storage: StorageMode = match &self.storage {
            None => StorageMode::Shared,
            Some(s) => parse_choice(Choice::Expected("storage"), s)?,
        };
        let o = &self.options;
        if mode == MigrationMode::Offline {
            if persistence == Persistence::Temporary {
                return bad("an offline migration moves only the definition, so it is always permanent: use persistence \"permanent\"");
            }
            if storage == StorageMode::Copy {
                return bad("an offline migration cannot copy disks (libvirt copies them only from a running guest): start the guest and migrate it live, or copy the volumes first");
            }
            if o.max_downtime_ms.is_some()
                || o.convergence.is_some()
                || o.bandwidth_mib_s.is_some()
                || o.auto_converge == Some(true)
                || o.compressed == Some(true)
                || o.parallel_connections.is_some()
                || o.allow_postcopy == Some(true)
            {
                return bad("an offline migration copies no memory: downtime, bandwidth, auto-converge, compression, parallel connections and post-copy do not apply");
            }
        }
        if o.convergence.is_some() && mode != MigrationMode::Live {
            return bad("a convergence policy applies to live migrations only (a paused guest dirties no memory)");
        }
        if o.convergence == Some(Convergence::PostcopyWhenStalled) && o.compressed == Some(true) {
            return bad("QEMU cannot combine post-copy with compression: choose one");
        }
        if let Some(s) = o.stall_timeout_s {
            if !(10..=86_400).contains(&s) {
                return bad("stall_timeout_s must be between 10 and 86400 (a day)");
            }
        }
        if o.allow_postcopy == Some(true) && mode != MigrationMode::Live {
            return bad("post-copy needs a live migration (the guest runs on the destination while its memory follows)");
        }
        if o.allow_postcopy == Some(true) && o.compressed == Some(true) {
            return bad("QEMU cannot combine post-copy with compression: choose one");
        }
        if let Some(ms) = o.max_downtime_ms {
            if !(1..=600_000).contains(&ms) {
                return bad("max_downtime_ms must be between 1 and 600000 (10 minutes)");
            }
        }
        if let Some(b) = o.bandwidth_mib_s {
            if !(1..=1_000_000).contains(&b) {
                return bad("bandwidth_mib_s must be between 1 and 1000000");
            }
        }
        if let Some(n) = o.parallel_connections {
            if !(2..=16).contains(&n) {
                return bad("parallel_connections must be between 2 and 16");
            }
        }
        Ok(MigrationSpec {
            host: self.host.clone(),
            uuid: self.uuid.to_ascii_lowercase(),
            destination: self.destination.clone(),
            mode,
            persistence,
            storage,
            options: o.clone(),
        })
    }
}

/// A pre-flight check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Display)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Verdict {
    Ok,
    Warning,
    Blocked,
}

/// One pre-flight check: what was checked, how it came out, and the fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
    pub message: String,
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(name: &str, message: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            verdict: Verdict::Ok,
            message: message.into(),
            fix: None,
        }
    }
    pub fn warning(name: &str, message: impl Into<String>, fix: Option<String>) -> Check {
        Check {
            name: name.into(),
            verdict: Verdict::Warning,
            message: message.into(),
            fix,
        }
    }
    pub fn blocked(name: &str, message: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            verdict: Verdict::Blocked,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preflight {
    pub checks: Vec<Check>,
}

impl Preflight {
    /// The worst verdict of all checks.
    pub fn verdict(&self) -> Verdict {
        self.checks
            .iter()
            .map(|c| c.verdict)
            .max_by_key(|v| match v {
                Verdict::Ok => 0,
                Verdict::Warning => 1,
                Verdict::Blocked => 2,
            })
            .unwrap_or(Verdict::Ok)
    }

    pub fn blocked(&self) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|c| c.verdict == Verdict::Blocked)
            .collect()
    }
}

/// Where a migration job stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, EnumString, Display, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum JobStatus {
    Running,
    Completed,
    Failed,
    Cancelled,
    /// virtdeck lost track of it (restarted while it ran, and the outcome
    /// could not be read from the hosts).
    Unknown,
}

impl JobStatus {
    pub fn is_running(self) -> bool {
        self == JobStatus::Running
    }
}

/// The latest progress sample of a migration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// What the migration is doing: `starting`, `copying storage`,
    /// `copying memory`, `re-copying dirty memory`, `post-copy`, `done`.
    pub phase: String,
    /// 0–100, never going backwards.
    pub percent: f64,
    pub data_processed: u64,
    pub data_remaining: u64,
    pub data_total: u64,
    /// Bytes of guest memory dirtied per second.
    pub dirty_rate: u64,
    /// Bytes transferred per second.
    pub speed: u64,
    pub iteration: u64,
    pub expected_downtime_ms: u64,
    pub elapsed_ms: u64,
    pub eta_ms: Option<u64>,
    /// When libvirt's statistics behind this sample were read (RFC 3339 UTC,
    /// milliseconds): how old the figures are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled_at: Option<String>,
}

/// One migration, running or finished. Times are RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationJob {
    pub id: String,
    pub host: String,
    pub uuid: String,
    pub guest: String,
    pub destination: String,
    pub mode: MigrationMode,
    pub persistence: Persistence,
    pub storage: StorageMode,
    pub options: MigrationOptions,
    pub user: String,
    pub status: JobStatus,
    pub progress: Option<Progress>,
    pub error: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub downtime_ms: Option<u64>,
    /// What happened, in order (the phases, each policy step, faults).
    #[serde(default)]
    pub timeline: Vec<Step>,
}

/// The phase of a post-copy migration whose connection broke: the guest is
/// paused on the source and runs on the destination without all of its
/// memory; virtdeck resumes the migration (`Tuning::resume`).
pub const PHASE_POSTCOPY_BROKEN: &str = "post-copy broken";

/// A `/ws` progress message: the job's whole state, flat.
///
/// Read through [`FlatProgressMessage`]: `#[serde(flatten)]` decodes through
/// serde's buffered `Content` path, which put ~30 KB (brotli) of wasm on
/// every page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "FlatProgressMessage")]
pub struct ProgressMessage {
    pub id: String,
    pub host: String,
    pub destination: String,
    pub uuid: String,
    pub guest: String,
    pub status: JobStatus,
    #[serde(flatten)]
    pub progress: Progress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downtime_ms: Option<u64>,
    /// The job's latest timeline step (`{"at", "phase", "text"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Step>,
}

/// [`ProgressMessage`] as it is on the wire: its fields and its progress's
/// side by side (what `#[serde(flatten)]` writes), decoded directly.
#[derive(Deserialize)]
struct FlatProgressMessage {
    id: String,
    host: String,
    destination: String,
    uuid: String,
    guest: String,
    status: JobStatus,
    phase: String,
    percent: f64,
    data_processed: u64,
    data_remaining: u64,
    data_total: u64,
    dirty_rate: u64,
    speed: u64,
    iteration: u64,
    expected_downtime_ms: u64,
    elapsed_ms: u64,
    eta_ms: Option<u64>,
    #[serde(default)]
    sampled_at: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    downtime_ms: Option<u64>,
    #[serde(default)]
    step: Option<Step>,
}

impl From<FlatProgressMessage> for ProgressMessage {
    fn from(m: FlatProgressMessage) -> Self {
        ProgressMessage {
            id: m.id,
            host: m.host,
            destination: m.destination,
            uuid: m.uuid,
            guest: m.guest,
            status: m.status,
            progress: Progress {
                phase: m.phase,
                percent: m.percent,
                data_processed: m.data_processed,
                data_remaining: m.data_remaining,
                data_total: m.data_total,
                dirty_rate: m.dirty_rate,
                speed: m.speed,
                iteration: m.iteration,
                expected_downtime_ms: m.expected_downtime_ms,
                elapsed_ms: m.elapsed_ms,
                eta_ms: m.eta_ms,
                sampled_at: m.sampled_at,
            },
            error: m.error,
            downtime_ms: m.downtime_ms,
            step: m.step,
        }
    }
}

impl MigrationJob {
    pub fn message(&self) -> ProgressMessage {
        ProgressMessage {
            id: self.id.clone(),
            host: self.host.clone(),
            destination: self.destination.clone(),
            uuid: self.uuid.clone(),
            guest: self.guest.clone(),
            status: self.status,
            progress: self.progress.clone().unwrap_or_default(),
            error: self.error.clone(),
            downtime_ms: self.downtime_ms,
            step: self.timeline.last().cloned(),
        }
    }
}

/// `POST /api/migrations/tune`: changes to a running migration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tuning {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_downtime_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_mib_s: Option<u64>,
    /// Switch to post-copy now (only if the migration allowed it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcopy: Option<bool>,
    /// Suspend the guest on the source so the migration completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_now: Option<bool>,
    /// Resume a post-copy migration whose connection broke, now (virtdeck
    /// also retries by itself); only while the job's phase is `post-copy broken`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<bool>,
}

impl Tuning {
    pub fn validate(&self) -> Result<(), ApiError> {
        let bad = |m: &str| Err(ApiError::BadRequest(m.to_string()));
        if self.max_downtime_ms.is_none()
            && self.bandwidth_mib_s.is_none()
            && self.postcopy != Some(true)
            && self.finish_now != Some(true)
            && self.resume != Some(true)
        {
            return bad(
                "nothing to change: give max_downtime_ms, bandwidth_mib_s, postcopy, finish_now or resume",
            );
        }
        if self.resume == Some(true)
            && (self.max_downtime_ms.is_some()
                || self.bandwidth_mib_s.is_some()
                || self.postcopy.is_some()
                || self.finish_now.is_some())
        {
            return bad("resume is asked alone");
        }
        if let Some(ms) = self.max_downtime_ms {
            if !(1..=600_000).contains(&ms) {
                return bad("max_downtime_ms must be between 1 and 600000 (10 minutes)");
            }
        }
        if let Some(b) = self.bandwidth_mib_s {
            if !(1..=1_000_000).contains(&b) {
                return bad("bandwidth_mib_s must be between 1 and 1000000");
            }
        }
        Ok(())
    }
}

/// A job id as the API hands them out (a UUID).
pub fn validate_job_id(id: &str) -> Result<(), ApiError> {
    validate_uuid(id)
        .map_err(|_| ApiError::BadRequest(format!("{:?} is not a migration id", clip(id))))
}

/// Runs the pre-flight checks of a migration without starting it.
#[server(name = PreflightFn, prefix = "/api", endpoint = "migrations/preflight", input = Json, output = crate::api::JsonText)]
pub async fn preflight(
    #[server(flatten)] request: MigrationRequest,
) -> Result<Preflight, ApiError> {
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        let spec = request.validate()?;
        Ok(ctx.services.migrations.preflight(&spec).await)
    })
    .await
}

/// The id of a started migration job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Started {
    pub id: String,
}

/// Starts a migration; refused with 409 and the blocking checks' messages
/// when a pre-flight check blocks it.
#[server(name = StartMigration, prefix = "/api", endpoint = "migrations", input = Json, output = crate::api::JsonText)]
pub async fn start_migration(
    #[server(flatten)] request: MigrationRequest,
) -> Result<Started, ApiError> {
    use super::audit::{AuditAction, Target};
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        let action = AuditAction::migration_start(request.mode.parse().ok());
        let target = Target::migration_of(&request.host, &request.uuid, &request.destination);
        ctx.audited(action, target, async {
            let spec = request.validate()?;
            ctx.services
                .migrations
                .start(&ctx.user.username, &spec)
                .await
                .map(|id| Started { id })
        })
        .await
    })
    .await
}

/// Migrations, newest first, history included; one job with `id`.
#[server(name = ListMigrations, prefix = "/api", endpoint = "migrations", input = GetUrl, output = crate::api::JsonText)]
pub async fn list_migrations(
    #[server(default)] id: Option<String>,
    #[server(default)] offset: Option<u32>,
    #[server(default)] limit: Option<u32>,
) -> Result<Vec<MigrationJob>, ApiError> {
    super::ssr::authorized(|ctx| async move {
        if let Some(id) = &id {
            validate_job_id(id)?;
            return Ok(vec![ctx.services.migrations.get(id).await?]);
        }
        let limit = limit.unwrap_or(100).clamp(1, 1000);
        ctx.services
            .migrations
            .list(offset.unwrap_or(0), limit)
            .await
    })
    .await
}

/// The migrations running now, oldest first, each as its latest progress
/// message (the `/ws` `migration_progress` shape): what the guest list marks
/// its rows with, without the history `list_migrations` carries.
#[server(name = RunningMigrations, prefix = "/api", endpoint = "migrations/running", input = GetUrl, output = crate::api::JsonText)]
pub async fn running_migrations() -> Result<Vec<ProgressMessage>, ApiError> {
    super::ssr::authorized(|ctx| async move { Ok(ctx.services.migrations.running().await) }).await
}

/// Cancels a running migration: the guest keeps running on the source.
#[server(name = CancelMigration, prefix = "/api", endpoint = "migrations/cancel", input = Json, output = crate::api::JsonText)]
pub async fn cancel_migration(id: String) -> Result<MigrationJob, ApiError> {
    use super::audit::{AuditAction, Target};
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        ctx.audited(
            AuditAction::MigrationCancel,
            Target::migration(&id),
            async {
                validate_job_id(&id)?;
                ctx.services.migrations.cancel(&id).await
            },
        )
        .await
    })
    .await
}

/// Changes a running migration: downtime, bandwidth, post-copy, finish now.
#[server(name = TuneMigration, prefix = "/api", endpoint = "migrations/tune", input = Json, output = crate::api::JsonText)]
pub async fn tune_migration(
    id: String,
    #[server(flatten)] tuning: Tuning,
) -> Result<MigrationJob, ApiError> {
    use super::audit::{AuditAction, Target};
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        ctx.audited(AuditAction::MigrationTune, Target::migration(&id), async {
            validate_job_id(&id)?;
            tuning.validate()?;
            ctx.services.migrations.tune(&id, &tuning).await
        })
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(mode: &str) -> MigrationRequest {
        MigrationRequest {
            host: "a".into(),
            uuid: "6b1f7c3e-0a11-4c5e-9a01-00000000a001".into(),
            destination: "b".into(),
            mode: mode.into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_follow_the_mode() {
        let live = request("live").validate().unwrap();
        assert_eq!(
            (live.persistence, live.storage),
            (Persistence::Temporary, StorageMode::Shared)
        );
        let offline = request("offline").validate().unwrap();
        assert_eq!(offline.persistence, Persistence::Permanent);
    }

    #[test]
    fn combinations_libvirt_refuses_are_refused_with_the_reason() {
        let cases: Vec<(MigrationRequest, &str)> = vec![
            (
                MigrationRequest {
                    destination: "a".into(),
                    ..request("live")
                },
                "own host",
            ),
            (request("sideways"), "expected one of live, paused, offline"),
            (
                MigrationRequest {
                    persistence: Some("temporary".into()),
                    ..request("offline")
                },
                "always permanent",
            ),
            (
                MigrationRequest {
                    storage: Some("copy".into()),
                    ..request("offline")
                },
                "cannot copy disks",
            ),
            (
                MigrationRequest {
                    options: MigrationOptions {
                        bandwidth_mib_s: Some(10),
                        ..Default::default()
                    },
                    ..request("offline")
                },
                "copies no memory",
            ),
            (
                MigrationRequest {
                    options: MigrationOptions {
                        allow_postcopy: Some(true),
                        ..Default::default()
                    },
                    ..request("paused")
                },
                "post-copy needs a live migration",
            ),
            (
                MigrationRequest {
                    options: MigrationOptions {
                        allow_postcopy: Some(true),
                        compressed: Some(true),
                        ..Default::default()
                    },
                    ..request("live")
                },
                "cannot combine post-copy with compression",
            ),
            (
                MigrationRequest {
                    options: MigrationOptions {
                        parallel_connections: Some(64),
                        ..Default::default()
                    },
                    ..request("live")
                },
                "between 2 and 16",
            ),
            (
                MigrationRequest {
                    options: MigrationOptions {
                        convergence: Some(Convergence::MinimalDowntime),
                        ..Default::default()
                    },
                    ..request("paused")
                },
                "live migrations only",
            ),
            (
                MigrationRequest {
                    options: MigrationOptions {
                        stall_timeout_s: Some(5),
                        ..Default::default()
                    },
                    ..request("live")
                },
                "stall_timeout_s must be between 10 and 86400",
            ),
            (
                MigrationRequest {
                    options: MigrationOptions {
                        max_downtime_ms: Some(0),
                        ..Default::default()
                    },
                    ..request("live")
                },
                "max_downtime_ms",
            ),
            (
                MigrationRequest {
                    uuid: "<x>".into(),
                    ..request("live")
                },
                "not a guest UUID",
            ),
            (
                MigrationRequest {
                    storage: Some("nfs".into()),
                    ..request("live")
                },
                "storage \"nfs\"",
            ),
        ];
        for (r, why) in cases {
            let err = r.validate().unwrap_err();
            assert!(err.to_string().contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn progress_messages_are_flat_snapshots() {
        let job = MigrationJob {
            id: "j".into(),
            host: "a".into(),
            uuid: "u".into(),
            guest: "g".into(),
            destination: "b".into(),
            mode: MigrationMode::Live,
            persistence: Persistence::Temporary,
            storage: StorageMode::Shared,
            options: MigrationOptions::default(),
            user: "admin".into(),
            status: JobStatus::Running,
            progress: Some(Progress {
                phase: "copying memory".into(),
                percent: 42.0,
                ..Default::default()
            }),
            error: None,
            started_at: "2026-11-26T18:00:00Z".into(),
            ended_at: None,
            downtime_ms: None,
            timeline: Vec::new(),
        };
        let event = crate::api::events::ServerEvent::MigrationProgress(Box::new(job.message()));
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "migration_progress");
        assert_eq!(json["percent"], 42.0);
        assert_eq!(json["phase"], "copying memory");
        assert_eq!(json["status"], "running");
        assert!(json.get("error").is_none());
        let back: crate::api::events::ServerEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn a_resume_is_asked_alone() {
        let resume = Tuning {
            resume: Some(true),
            ..Default::default()
        };
        assert!(resume.validate().is_ok());
        let mixed = Tuning {
            bandwidth_mib_s: Some(8),
            ..resume.clone()
        };
        assert_eq!(
            mixed.validate(),
            Err(ApiError::BadRequest("resume is asked alone".into()))
        );
        assert!(Tuning::default().validate().is_err());
    }
}
