//! One guest: its overview (`GET /api/guests/detail`), usage samples
//! (`/api/guests/stats`), edits (`/api/guests/update`), clone as a job
//! (`/api/guests/clone`, `/api/guests/jobs`), snapshots and delete.

use leptos::server;
use leptos::server_fn::codec::{GetUrl, Json};
use serde::{Deserialize, Serialize};
use strum::{AsRefStr, Display, EnumIter, EnumString, IntoStaticStr};

#[cfg(feature = "ssr")]
use super::audit::{AuditAction as A, Target};
use super::{
    clip,
    guest_new::{Firmware, MAX_MEMORY_MIB, MAX_VCPUS},
    guests::{validate_uuid, GuestSummary},
    size::{NumArg, StorageName},
    validate::{parse_choice, Choice},
    volumes::VolumeUser,
    ApiError,
};

/// One disk (or CD-ROM) of a guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskInfo {
    /// The guest's name for it: `vda`, `sda`.
    pub target: String,
    /// `disk`, `cdrom`, `floppy`, `lun`.
    pub device: String,
    /// `virtio`, `sata`, `scsi`, `ide`.
    pub bus: Option<String>,
    /// The file or device on the host; `None` for an empty CD-ROM drive.
    pub path: Option<String>,
    /// The pool and volume it is, when virtdeck found it in a pool.
    pub pool: Option<String>,
    pub volume: Option<String>,
    /// `qcow2`, `raw`.
    pub format: Option<String>,
    pub capacity: Option<u64>,
    pub readonly: bool,
    /// Other guests that use the same volume: of this host, and on shared
    /// storage of the other hosts that have it (`host` says whose).
    pub shared_with: Vec<VolumeUser>,
}

/// One network interface of a guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NicInfo {
    pub mac: Option<String>,
    /// `network`, `bridge`, `user`, `direct`.
    pub kind: String,
    /// The network or bridge name.
    pub source: Option<String>,
    pub model: Option<String>,
}

/// A graphical display (the password is never sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphicsInfo {
    /// `vnc`, `spice`.
    pub kind: String,
    /// The TCP port while running (`None` when shut off or automatic).
    pub port: Option<u32>,
    pub listen: Option<String>,
    pub password: bool,
}

/// A guest's whole overview (`GET /api/guests/detail?host=…&uuid=…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestDetail {
    pub guest: GuestSummary,
    /// The balloon's current size and its maximum.
    pub memory_kib: u64,
    pub max_memory_kib: u64,
    pub max_vcpus: u32,
    /// `kvm`, `qemu`.
    pub accel: String,
    pub arch: Option<String>,
    pub machine: Option<String>,
    pub firmware: Firmware,
    /// Boot devices in order (`hd`, `cdrom`, `network`).
    pub boot: Vec<String>,
    /// libosinfo's id of the operating system, when recorded.
    pub os: Option<String>,
    pub disks: Vec<DiskInfo>,
    pub nics: Vec<NicInfo>,
    pub graphics: Vec<GraphicsInfo>,
    /// The guest has a serial console (for the in-browser terminal).
    pub serial: bool,
    pub snapshots: u32,
    /// Since when virtdeck has seen the guest running (RFC 3339 UTC); `None`
    /// when it was already running when virtdeck connected to the host.
    pub running_since: Option<String>,
}

/// One usage sample (`GET /api/guests/stats`): the page turns two samples
/// into a CPU percentage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestStats {
    /// Milliseconds since the Unix epoch, when sampled.
    pub at_ms: u64,
    /// CPU time used by the guest since it started, in nanoseconds.
    pub cpu_time_ns: u64,
    pub vcpus: u32,
    /// The balloon's size.
    pub memory_kib: u64,
    /// Memory the guest uses (balloon minus its free memory), when the
    /// guest's balloon driver reports it.
    pub memory_used_kib: Option<u64>,
    /// The QEMU process's resident memory on the host.
    pub rss_kib: Option<u64>,
}

/// A guest's detail or usage: by host and UUID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestRef {
    pub host: String,
    pub uuid: String,
}

/// A disk to attach: a volume of one of the host's pools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AttachDisk {
    pub pool: String,
    pub volume: String,
    /// `disk` (default) or `cdrom`.
    #[serde(default)]
    pub device: Option<String>,
    /// `virtio` (default for disks), `sata`, `scsi`.
    #[serde(default)]
    pub bus: Option<String>,
}

/// A network interface to attach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AttachNic {
    #[serde(default)]
    pub network: Option<String>,
    #[serde(default)]
    pub bridge: Option<String>,
    /// `virtio` (default), `e1000e`, `rtl8139`.
    #[serde(default)]
    pub model: Option<String>,
}

/// The raw `POST /api/guests/update` body: every field is optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct GuestUpdateArgs {
    pub host: String,
    pub uuid: String,
    #[serde(default)]
    pub memory_mib: NumArg,
    #[serde(default)]
    pub vcpus: NumArg,
    #[serde(default)]
    pub autostart: Option<bool>,
    /// Boot devices in order: `hd`, `cdrom`, `network`.
    #[serde(default)]
    pub boot: Option<Vec<String>>,
    #[serde(default)]
    pub attach_disk: Option<AttachDisk>,
    /// The target (`vdb`) of the disk to detach.
    #[serde(default)]
    pub detach_disk: Option<String>,
    #[serde(default)]
    pub attach_nic: Option<AttachNic>,
    /// The MAC address of the interface to detach.
    #[serde(default)]
    pub detach_nic: Option<String>,
}

/// A checked update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuestUpdate {
    pub memory_mib: Option<u64>,
    pub vcpus: Option<u32>,
    pub autostart: Option<bool>,
    pub boot: Option<Vec<String>>,
    pub attach_disk: Option<AttachDisk>,
    pub detach_disk: Option<String>,
    pub attach_nic: Option<AttachNic>,
    pub detach_nic: Option<String>,
}

pub const BOOT_DEVICES: [&str; 3] = ["hd", "cdrom", "network"];
const DISK_BUSES: [&str; 4] = ["virtio", "sata", "scsi", "ide"];
const NIC_MODELS: [&str; 4] = ["virtio", "e1000e", "e1000", "rtl8139"];

fn one_of(what: &str, value: &str, allowed: &[&str]) -> Result<String, ApiError> {
    super::validate::one_of(Choice::NotOneOf(what), value, allowed)
}

/// Checks a MAC address (`52:54:00:12:34:56`).
pub fn validate_mac(mac: &str) -> Result<String, ApiError> {
    let parts: Vec<&str> = mac.split(':').collect();
    if parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        Ok(mac.to_ascii_lowercase())
    } else {
        Err(ApiError::BadRequest(format!(
            "{:?} is not a MAC address (six pairs of hexadecimal digits: 52:54:00:12:34:56)",
            clip(mac)
        )))
    }
}

/// Checks a disk target name (`vda`, `sdb`, `hdc`).
pub fn validate_target(target: &str) -> Result<String, ApiError> {
    let ok = (3..=6).contains(&target.len())
        && ["vd", "sd", "hd", "xvd"]
            .iter()
            .any(|p| target.starts_with(p))
        && target.bytes().all(|b| b.is_ascii_lowercase());
    if ok {
        Ok(target.to_string())
    } else {
        Err(ApiError::BadRequest(format!(
            "{:?} is not a disk target (such as vda, sdb)",
            clip(target)
        )))
    }
}

impl GuestUpdateArgs {
    pub fn validate(&self) -> Result<GuestUpdate, ApiError> {
        validate_uuid(&self.uuid)?;
        let memory_mib = if self.memory_mib.is_missing() {
            None
        } else {
            Some(self.memory_mib.parse("memory_mib", 16, MAX_MEMORY_MIB)?)
        };
        let vcpus = if self.vcpus.is_missing() {
            None
        } else {
            Some(self.vcpus.parse("vcpus", 1, MAX_VCPUS)? as u32)
        };
        let boot = match &self.boot {
            None => None,
            Some(list) => {
                if list.is_empty() || list.len() > 3 {
                    return Err(ApiError::BadRequest(
                        "boot: give one to three of hd, cdrom, network".into(),
                    ));
                }
                let mut seen = Vec::new();
                for d in list {
                    let d = one_of("boot", d, &BOOT_DEVICES)?;
                    if seen.contains(&d) {
                        return Err(ApiError::BadRequest(format!("boot: {d} is listed twice")));
                    }
                    seen.push(d);
                }
                Some(seen)
            }
        };
        let attach_disk = match &self.attach_disk {
            None => None,
            Some(d) => Some(AttachDisk {
                pool: StorageName::parse("pool name", &d.pool)?.to_string(),
                volume: StorageName::existing("volume name", &d.volume)?.to_string(),
                device: Some(one_of(
                    "device",
                    d.device.as_deref().unwrap_or("disk"),
                    &["disk", "cdrom"],
                )?),
                bus: match d.bus.as_deref() {
                    None | Some("") => None,
                    Some(b) => Some(one_of("bus", b, &DISK_BUSES)?),
                },
            }),
        };
        let attach_nic = match &self.attach_nic {
            None => None,
            Some(n) => {
                let network = n.network.as_deref().filter(|s| !s.is_empty());
                let bridge = n.bridge.as_deref().filter(|s| !s.is_empty());
                if network.is_some() == bridge.is_some() {
                    return Err(ApiError::BadRequest(
                        "attach_nic: give either network or bridge".into(),
                    ));
                }
                Some(AttachNic {
                    network: network
                        .map(|n| StorageName::parse("network name", n).map(|n| n.to_string()))
                        .transpose()?,
                    bridge: bridge
                        .map(|b| StorageName::parse("bridge name", b).map(|b| b.to_string()))
                        .transpose()?,
                    model: Some(one_of(
                        "model",
                        n.model.as_deref().unwrap_or("virtio"),
                        &NIC_MODELS,
                    )?),
                })
            }
        };
        let update = GuestUpdate {
            memory_mib,
            vcpus,
            autostart: self.autostart,
            boot,
            attach_disk,
            detach_disk: self
                .detach_disk
                .as_deref()
                .map(validate_target)
                .transpose()?,
            attach_nic,
            detach_nic: self.detach_nic.as_deref().map(validate_mac).transpose()?,
        };
        if update == GuestUpdate::default() {
            return Err(ApiError::BadRequest("nothing to change".into()));
        }
        Ok(update)
    }
}

/// What `POST /api/guests/delete` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteReport {
    pub name: String,
    /// The volumes deleted (their paths).
    pub deleted_volumes: Vec<String>,
    /// Whether the guest was running and was forced off first.
    pub stopped: bool,
    /// Volumes that could not be deleted after the guest was (libvirt's words).
    pub errors: Vec<String>,
}

/// A job's reference (`POST /api/guests/clone`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRef {
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Running,
    Done,
    Failed,
}

/// A guest job's whole state (clone), also sent on `/ws` as `guest_job`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestJob {
    pub id: String,
    /// `clone`.
    pub kind: String,
    pub host: String,
    /// The guest the job works on.
    pub uuid: String,
    pub source_name: String,
    /// The new guest's name.
    pub name: String,
    pub user: String,
    pub state: JobState,
    /// What it is doing now ("copying disk vda (2 of 3)").
    pub phase: String,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub percent: f64,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub ended_at: Option<String>,
    pub error: Option<String>,
    /// The new guest, once done.
    pub result: Option<GuestSummary>,
}

/// One snapshot of a guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub name: String,
    pub description: Option<String>,
    /// Seconds since the Unix epoch.
    pub created: i64,
    /// The guest's state when it was taken (`running`, `shutoff`).
    pub state: String,
    pub parent: Option<String>,
    /// The guest is at this snapshot now (the next one's parent).
    pub current: bool,
    /// It includes the guest's memory: reverting resumes it running.
    pub memory: bool,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Display,
    EnumIter,
    EnumString,
    IntoStaticStr,
    AsRefStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum SnapshotAction {
    Revert,
    Delete,
}

impl SnapshotAction {
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        parse_choice(Choice::NotOneOf("action"), text)
    }
    /// The wire name (`revert`, `delete`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A snapshot's description: at most 1,000 characters, no control characters
/// except new lines.
pub fn validate_description(text: &str) -> Result<String, ApiError> {
    if text.chars().count() > 1000 {
        return Err(ApiError::BadRequest(
            "description: at most 1,000 characters".into(),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::BadRequest(
            "description: control characters are not allowed".into(),
        ));
    }
    Ok(text.to_string())
}

/// The overview of one guest, read from libvirt now.
#[server(name = GuestDetailFn, prefix = "/api", endpoint = "guests/detail", input = GetUrl, output = crate::api::JsonText)]
pub async fn guest_detail(host: String, uuid: String) -> Result<GuestDetail, ApiError> {
    super::ssr::authorized(|ctx| async move {
        validate_uuid(&uuid)?;
        ctx.services.guests.detail(&host, &uuid).await
    })
    .await
}

/// One usage sample of a guest.
#[server(name = GuestStatsFn, prefix = "/api", endpoint = "guests/stats", input = GetUrl, output = crate::api::JsonText)]
pub async fn guest_stats(host: String, uuid: String) -> Result<GuestStats, ApiError> {
    super::ssr::authorized(|ctx| async move {
        validate_uuid(&uuid)?;
        ctx.services.guests.stats(&host, &uuid).await
    })
    .await
}

/// Changes memory, vCPUs, autostart, boot order, disks or interfaces. On a
/// running guest, memory and vCPUs within their maximum and device changes
/// apply at once where libvirt can hot-plug them, and to the definition too.
#[server(name = GuestUpdateFn, prefix = "/api", endpoint = "guests/update", input = Json, output = crate::api::JsonText)]
pub async fn update_guest(
    #[server(flatten)] args: GuestUpdateArgs,
) -> Result<GuestDetail, ApiError> {
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        ctx.audited(
            A::GuestUpdate,
            Target::guest(&args.host, &args.uuid),
            async {
                let update = args.validate()?;
                ctx.services
                    .guests
                    .update(&args.host, &args.uuid, &update)
                    .await
            },
        )
        .await
    })
    .await
}

/// Deletes a guest: forces it off if running, removes its definition with
/// its snapshots and NVRAM, and deletes the listed volumes (paths of its own
/// disks; one another guest also uses is refused, and nothing is changed).
#[server(name = DeleteGuestFn, prefix = "/api", endpoint = "guests/delete", input = Json, output = crate::api::JsonText)]
pub async fn delete_guest(
    host: String,
    uuid: String,
    #[server(default)] delete_volumes: Vec<String>,
) -> Result<DeleteReport, ApiError> {
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        ctx.audited(A::GuestDelete, Target::guest(&host, &uuid), async {
            validate_uuid(&uuid)?;
            if delete_volumes.len() > 64 {
                return Err(ApiError::BadRequest("at most 64 volumes".into()));
            }
            ctx.services
                .guests
                .delete(&host, &uuid, &delete_volumes)
                .await
        })
        .await
    })
    .await
}

/// A checked clone request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneSpec {
    pub name: StorageName,
    /// Where the copies go; `None`: each disk's own pool.
    pub pool: Option<StorageName>,
    /// Disks (target devices) the clone does not get.
    pub leave_out: Vec<String>,
}

/// Starts a clone job: a new guest `name` (new UUID and MAC addresses) with
/// its own copy of every writable disk, in `pool` or the disk's own pool.
/// The guest must be shut off or paused. Progress on `/ws` as `guest_job`.
/// A writable network disk or LUN cannot be copied: the clone is refused
/// unless it is read-only or shareable, or listed in `leave_out` (target
/// devices such as `vdb`: left out of the clone).
#[server(name = CloneGuestFn, prefix = "/api", endpoint = "guests/clone", input = Json, output = crate::api::JsonText)]
pub async fn clone_guest(
    host: String,
    uuid: String,
    name: String,
    #[server(default)] pool: Option<String>,
    #[server(default)] leave_out: Vec<String>,
) -> Result<JobRef, ApiError> {
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        ctx.audited(A::GuestClone, Target::guest(&host, &uuid), async {
            validate_uuid(&uuid)?;
            let name = StorageName::parse("guest name", &name)?;
            let pool = match pool.as_deref().filter(|p| !p.is_empty()) {
                None => None,
                Some(p) => Some(StorageName::parse("pool name", p)?),
            };
            if leave_out.len() > 64 {
                return Err(ApiError::BadRequest("at most 64 disks to leave out".into()));
            }
            let leave_out = leave_out
                .iter()
                .map(|t| validate_target(t))
                .collect::<Result<Vec<_>, _>>()?;
            let spec = CloneSpec {
                name,
                pool,
                leave_out,
            };
            let id = ctx
                .services
                .guests
                .clone_guest(&ctx.user.username, &host, &uuid, &spec)
                .await?;
            Ok(JobRef { id })
        })
        .await
    })
    .await
}

/// A guest job by id (running or recently ended).
#[server(name = GuestJobFn, prefix = "/api", endpoint = "guests/jobs", input = GetUrl, output = crate::api::JsonText)]
pub async fn guest_job(id: String) -> Result<GuestJob, ApiError> {
    super::ssr::authorized(|ctx| async move { ctx.services.guests.job(&id).await }).await
}

/// A guest's snapshots, oldest first (the page draws them as a tree by `parent`).
#[server(name = SnapshotsFn, prefix = "/api", endpoint = "guests/snapshots", input = GetUrl, output = crate::api::JsonText)]
pub async fn list_snapshots(host: String, uuid: String) -> Result<Vec<SnapshotInfo>, ApiError> {
    super::ssr::authorized(|ctx| async move {
        validate_uuid(&uuid)?;
        ctx.services.guests.snapshots(&host, &uuid).await
    })
    .await
}

/// Takes a snapshot. `memory` (for a running guest) includes its memory;
/// it is the default for running guests where the host can.
#[server(name = CreateSnapshotFn, prefix = "/api", endpoint = "guests/snapshots", input = Json, output = crate::api::JsonText)]
pub async fn create_snapshot(
    host: String,
    uuid: String,
    name: String,
    #[server(default)] description: Option<String>,
    #[server(default)] memory: Option<bool>,
) -> Result<SnapshotInfo, ApiError> {
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        ctx.audited(A::GuestSnapshotCreate, Target::guest(&host, &uuid), async {
            validate_uuid(&uuid)?;
            let name = StorageName::parse("snapshot name", &name)?;
            let description = description
                .as_deref()
                .map(validate_description)
                .transpose()?;
            ctx.services
                .guests
                .create_snapshot(&host, &uuid, &name, description.as_deref(), memory)
                .await
        })
        .await
    })
    .await
}

/// Reverts to or deletes a snapshot; answers the snapshots afterwards.
#[server(name = SnapshotActionFn, prefix = "/api", endpoint = "guests/snapshots/action", input = Json, output = crate::api::JsonText)]
pub async fn snapshot_action(
    host: String,
    uuid: String,
    snapshot: String,
    action: String,
) -> Result<Vec<SnapshotInfo>, ApiError> {
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        let parsed = SnapshotAction::parse(&action);
        let audit = A::snapshot(parsed.as_ref().ok().copied());
        ctx.audited(audit, Target::guest(&host, &uuid), async {
            validate_uuid(&uuid)?;
            let action = parsed?;
            let snapshot = StorageName::parse("snapshot name", &snapshot)?;
            ctx.services
                .guests
                .snapshot_action(&host, &uuid, &snapshot, action)
                .await
        })
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "6b1f7c3e-0a11-4c5e-9a01-00000000a001";

    fn args() -> GuestUpdateArgs {
        GuestUpdateArgs {
            host: "a".into(),
            uuid: UUID.into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_empty_update_is_refused_and_fields_are_checked() {
        assert!(args()
            .validate()
            .unwrap_err()
            .to_string()
            .contains("nothing"));
        let ok = GuestUpdateArgs {
            memory_mib: NumArg::from(2048),
            boot: Some(vec!["cdrom".into(), "hd".into()]),
            ..args()
        }
        .validate()
        .unwrap();
        assert_eq!(ok.memory_mib, Some(2048));
        for (bad, word) in [
            (
                GuestUpdateArgs {
                    memory_mib: NumArg(serde_json::json!(-1)),
                    ..args()
                },
                "memory_mib",
            ),
            (
                GuestUpdateArgs {
                    boot: Some(vec!["hd".into(), "hd".into()]),
                    ..args()
                },
                "twice",
            ),
            (
                GuestUpdateArgs {
                    boot: Some(vec!["floppy".into()]),
                    ..args()
                },
                "boot",
            ),
            (
                GuestUpdateArgs {
                    detach_disk: Some("../vda".into()),
                    ..args()
                },
                "disk target",
            ),
            (
                GuestUpdateArgs {
                    detach_nic: Some("52:54:00:zz:00:01".into()),
                    ..args()
                },
                "MAC",
            ),
            (
                GuestUpdateArgs {
                    attach_nic: Some(AttachNic::default()),
                    ..args()
                },
                "network or bridge",
            ),
            (
                GuestUpdateArgs {
                    attach_disk: Some(AttachDisk {
                        pool: "p".into(),
                        volume: "v<x>".into(),
                        ..Default::default()
                    }),
                    ..args()
                },
                "volume name",
            ),
        ] {
            let err = bad.validate().unwrap_err();
            assert!(err.to_string().contains(word), "{word}: {err}");
        }
    }

    #[test]
    fn descriptions_and_snapshot_actions_are_checked() {
        assert!(validate_description("line one\nline two").is_ok());
        assert!(validate_description("bell\u{7}").is_err());
        assert!(validate_description(&"x".repeat(1001)).is_err());
        assert_eq!(
            SnapshotAction::parse("revert").unwrap(),
            SnapshotAction::Revert
        );
        assert_eq!(
            SnapshotAction::parse("Revert").unwrap_err().to_string(),
            "action: \"Revert\" is not one of revert, delete"
        );
        assert_eq!(
            serde_json::to_value(SnapshotAction::Delete).unwrap(),
            SnapshotAction::Delete.as_str()
        );
    }
}
