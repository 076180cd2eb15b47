//! Storage pools: `GET /api/pools`, `GET /api/pools/types`, `POST /api/pools`,
//! `POST /api/pools/scan`, `POST /api/pools/action`.
//!
//! The pool types, their fields and what each can do are one table here
//! (`PoolType::fields`, `PoolType::build`, …), shared by the server (validation),
//! the API (`/api/pools/types`) and the create form.

use leptos::server;
use leptos::server_fn::codec::{GetUrl, Json};
use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter, EnumString, IntoEnumIterator, IntoStaticStr};

use super::{clip, size::StorageName, ApiError};

/// A libvirt storage pool type. Wire names are libvirt's (`iscsi-direct`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    EnumIter,
    EnumString,
    Display,
    IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum PoolType {
    Dir,
    Fs,
    Netfs,
    Logical,
    Disk,
    Iscsi,
    IscsiDirect,
    Scsi,
    Mpath,
    Rbd,
    Gluster,
    Zfs,
    /// A type libvirt knows and virtdeck does not manage (vstorage, …).
    #[serde(other)]
    Other,
}

/// A field of a pool definition, named as in `POST /api/pools`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    EnumIter,
    EnumString,
    Display,
    IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PoolField {
    TargetPath,
    SourceHost,
    SourcePort,
    SourcePath,
    SourceDevice,
    SourceName,
    SourceFormat,
    SourceAdapter,
    InitiatorIqn,
}

/// What building a pool of this type does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildKind {
    /// Nothing to build.
    None,
    /// Creates the target directory; done by virtdeck when it is missing.
    Mkdir,
    /// Formats a device or creates a volume group: only when the user asks.
    Format,
}

/// One field of a pool type's form, as `GET /api/pools/types` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldInfo {
    pub name: PoolField,
    pub label: String,
    pub required: bool,
    pub help: String,
    /// Filled in by the server when the field is left empty.
    pub default: Option<String>,
    /// The only values allowed, when the field is a choice.
    pub choices: Vec<String>,
}

/// Where the type's volumes come from and what can be done with them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolTypeInfo {
    #[serde(rename = "type")]
    pub pool_type: PoolType,
    pub description: String,
    pub fields: Vec<FieldInfo>,
    pub build: BuildKind,
    /// `find-storage-pool-sources` works for this type ("scan").
    pub scan: bool,
    /// Volumes can be created, deleted, resized through libvirt.
    pub volumes_manageable: bool,
    /// Volume formats this type offers (from libvirt's pool capabilities).
    pub volume_formats: Vec<String>,
    /// Those of `volume_formats` that QEMU can only read.
    pub read_only_formats: Vec<String>,
}

/// The pool types a host supports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolTypes {
    pub host: String,
    /// True when the list comes from the host's own pool capabilities.
    pub from_capabilities: bool,
    /// Why the full list is shown instead, when it is.
    pub note: Option<String>,
    pub types: Vec<PoolTypeInfo>,
}

/// Volume formats QEMU writes (offered when creating a volume).
pub const WRITABLE_FORMATS: [&str; 7] = ["raw", "qcow2", "qcow", "qed", "vmdk", "vdi", "vpc"];

struct Field {
    name: PoolField,
    label: &'static str,
    required: bool,
    help: &'static str,
    default: Option<&'static str>,
    choices: &'static [&'static str],
}

const fn field(name: PoolField, label: &'static str, help: &'static str) -> Field {
    Field {
        name,
        label,
        required: true,
        help,
        default: None,
        choices: &[],
    }
}

impl Field {
    const fn optional(mut self) -> Self {
        self.required = false;
        self
    }
    const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self.required = false;
        self
    }
    const fn choices(mut self, choices: &'static [&'static str]) -> Self {
        self.choices = choices;
        self
    }
}

use PoolField as F;

const TARGET_DIR: Field = field(
    F::TargetPath,
    "Target path",
    "Directory on the host where the pool's files live",
);
const NETFS_TARGET: Field = field(
    F::TargetPath,
    "Mount point",
    "Directory on the host where the share is mounted; created if missing",
)
.default("/var/lib/libvirt/images/<name>");
const PORTAL_HOST: Field = field(
    F::SourceHost,
    "Target portal host",
    "Host name or address of the iSCSI target portal",
);
const PORTAL_PORT: Field = field(F::SourcePort, "Port", "TCP port of the portal").default("3260");
const TARGET_IQN: Field = field(
    F::SourceDevice,
    "Target IQN",
    "The iSCSI target's name, e.g. iqn.2026-11.org.example:storage",
);

const DIR_FIELDS: &[Field] = &[TARGET_DIR];
const FS_FIELDS: &[Field] = &[
    field(
        F::SourceDevice,
        "Device",
        "Block device holding the file system, e.g. /dev/sdb1",
    ),
    field(
        F::SourceFormat,
        "File system",
        "Type of the file system on the device",
    )
    .default("auto")
    .choices(&[
        "auto", "ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "ocfs2", "gfs2",
    ]),
    TARGET_DIR,
];
const NETFS_FIELDS: &[Field] = &[
    field(
        F::SourceHost,
        "Server",
        "Host name or address of the file server",
    ),
    field(
        F::SourcePath,
        "Export path",
        "The exported directory on the server, e.g. /srv/vm (a share name for CIFS)",
    ),
    field(F::SourceFormat, "Protocol", "How the share is mounted")
        .default("nfs")
        .choices(&["nfs", "glusterfs", "cifs", "auto"]),
    NETFS_TARGET,
];
const LOGICAL_FIELDS: &[Field] = &[
    field(
        F::SourceName,
        "Volume group",
        "Name of the LVM volume group",
    ),
    field(
        F::SourceDevice,
        "Physical volume",
        "Device to make the volume group from, when building (e.g. /dev/sdc)",
    )
    .optional(),
    field(
        F::TargetPath,
        "Target path",
        "Where the logical volumes appear",
    )
    .default("/dev/<volume group>"),
];
const DISK_FIELDS: &[Field] = &[
    field(
        F::SourceDevice,
        "Disk",
        "Whole disk to partition, e.g. /dev/sdc",
    ),
    field(F::SourceFormat, "Partition table", "Partition table type")
        .default("gpt")
        .choices(&["gpt", "dos", "dvh", "mac", "bsd", "pc98", "sun", "lvm2"]),
    field(F::TargetPath, "Target path", "Where the partitions appear").default("/dev"),
];
const ISCSI_FIELDS: &[Field] = &[
    PORTAL_HOST,
    PORTAL_PORT,
    TARGET_IQN,
    field(
        F::InitiatorIqn,
        "Initiator IQN",
        "This host's initiator name; empty uses the host's own",
    )
    .optional(),
    field(F::TargetPath, "Target path", "Where the LUNs appear").default("/dev/disk/by-path"),
];
const ISCSI_DIRECT_FIELDS: &[Field] = &[
    PORTAL_HOST,
    PORTAL_PORT,
    TARGET_IQN,
    field(
        F::InitiatorIqn,
        "Initiator IQN",
        "The initiator name each host logs in with; {host} is replaced by the host's name",
    )
    .default("iqn.2026-11.org.virtdeck:{host}"),
];
const SCSI_FIELDS: &[Field] = &[
    field(F::SourceAdapter, "Adapter", "SCSI host adapter, e.g. host0"),
    field(F::TargetPath, "Target path", "Where the LUNs appear").default("/dev/disk/by-path"),
];
const MPATH_FIELDS: &[Field] = &[field(
    F::TargetPath,
    "Target path",
    "Where the multipath devices appear",
)
.default("/dev/mapper")];
const RBD_FIELDS: &[Field] = &[
    field(
        F::SourceHost,
        "Monitor",
        "Host name or address of a Ceph monitor",
    ),
    field(F::SourcePort, "Port", "Monitor port").default("6789"),
    field(F::SourceName, "Ceph pool", "Name of the RADOS pool"),
];
const GLUSTER_FIELDS: &[Field] = &[
    field(
        F::SourceHost,
        "Server",
        "Host name or address of a Gluster server",
    ),
    field(
        F::SourceName,
        "Gluster volume",
        "Name of the Gluster volume",
    ),
    field(F::SourcePath, "Directory", "Directory inside the volume").default("/"),
];
const ZFS_FIELDS: &[Field] = &[
    field(F::SourceName, "ZFS pool", "Name of the zpool"),
    field(
        F::SourceDevice,
        "Device",
        "Device to create the zpool on, when building",
    )
    .optional(),
];

impl PoolType {
    /// Every type virtdeck manages, in the order the form offers them.
    pub fn all() -> impl Iterator<Item = PoolType> {
        PoolType::iter().filter(|t| *t != PoolType::Other)
    }

    fn field_table(self) -> &'static [Field] {
        match self {
            PoolType::Dir => DIR_FIELDS,
            PoolType::Fs => FS_FIELDS,
            PoolType::Netfs => NETFS_FIELDS,
            PoolType::Logical => LOGICAL_FIELDS,
            PoolType::Disk => DISK_FIELDS,
            PoolType::Iscsi => ISCSI_FIELDS,
            PoolType::IscsiDirect => ISCSI_DIRECT_FIELDS,
            PoolType::Scsi => SCSI_FIELDS,
            PoolType::Mpath => MPATH_FIELDS,
            PoolType::Rbd => RBD_FIELDS,
            PoolType::Gluster => GLUSTER_FIELDS,
            PoolType::Zfs => ZFS_FIELDS,
            PoolType::Other => &[],
        }
    }

    /// The fields of this type's definition, in form order.
    pub fn fields(self) -> Vec<FieldInfo> {
        self.field_table()
            .iter()
            .map(|f| FieldInfo {
                name: f.name,
                label: f.label.to_string(),
                required: f.required,
                help: f.help.to_string(),
                default: f.default.map(str::to_string),
                choices: f.choices.iter().map(|c| c.to_string()).collect(),
            })
            .collect()
    }

    pub fn has_field(self, name: PoolField) -> bool {
        self.field_table().iter().any(|f| f.name == name)
    }

    pub fn description(self) -> &'static str {
        match self {
            PoolType::Dir => "Directory on the host (local: never shared between hosts)",
            PoolType::Fs => "File system on a block device, mounted on the host",
            PoolType::Netfs => "Network file system (NFS, GlusterFS, CIFS) mounted on the host",
            PoolType::Logical => "LVM volume group",
            PoolType::Disk => "Whole disk with a partition table",
            PoolType::Iscsi => "iSCSI target through the host's kernel initiator",
            PoolType::IscsiDirect => "iSCSI target through libiscsi (no kernel initiator needed)",
            PoolType::Scsi => "LUNs of a SCSI host adapter",
            PoolType::Mpath => "Multipath devices",
            PoolType::Rbd => "Ceph RBD pool",
            PoolType::Gluster => "Gluster volume through libgfapi",
            PoolType::Zfs => "ZFS pool",
            PoolType::Other => "A pool type virtdeck does not manage",
        }
    }

    pub fn build(self) -> BuildKind {
        match self {
            PoolType::Dir | PoolType::Netfs => BuildKind::Mkdir,
            PoolType::Fs | PoolType::Disk | PoolType::Logical | PoolType::Zfs => BuildKind::Format,
            _ => BuildKind::None,
        }
    }

    /// Libvirt can list this type's sources on a host ("scan").
    pub fn can_scan(self) -> bool {
        matches!(
            self,
            PoolType::Netfs | PoolType::Logical | PoolType::Iscsi | PoolType::IscsiDirect
        )
    }

    /// Volumes of this type can be created, deleted and resized through libvirt
    /// (an iSCSI target's LUNs cannot).
    pub fn volumes_manageable(self) -> bool {
        !matches!(
            self,
            PoolType::Iscsi
                | PoolType::IscsiDirect
                | PoolType::Scsi
                | PoolType::Mpath
                | PoolType::Other
        )
    }

    /// Storage that several hosts can reach at once (a `dir` pool never is,
    /// even with the same path).
    pub fn is_network(self) -> bool {
        matches!(
            self,
            PoolType::Netfs
                | PoolType::Iscsi
                | PoolType::IscsiDirect
                | PoolType::Rbd
                | PoolType::Gluster
        )
    }

    /// Volume formats of this type when the host's capabilities do not say.
    pub fn default_volume_formats(self) -> Vec<String> {
        match self {
            PoolType::Dir | PoolType::Fs | PoolType::Netfs | PoolType::Gluster => {
                let mut all: Vec<String> = WRITABLE_FORMATS.iter().map(|s| s.to_string()).collect();
                all.extend(["iso", "cloop", "cow", "dmg", "bochs"].map(String::from));
                all
            }
            _ => Vec::new(),
        }
    }

    /// The description of this type for `/api/pools/types`; `formats` are the
    /// volume formats libvirt offers for it (None: use the defaults).
    pub fn info(self, formats: Option<Vec<String>>) -> PoolTypeInfo {
        let volume_formats = formats.unwrap_or_else(|| self.default_volume_formats());
        let read_only_formats = volume_formats
            .iter()
            .filter(|f| f.as_str() != "none" && !WRITABLE_FORMATS.contains(&f.as_str()))
            .cloned()
            .collect();
        PoolTypeInfo {
            pool_type: self,
            description: self.description().to_string(),
            fields: self.fields(),
            build: self.build(),
            scan: self.can_scan(),
            volumes_manageable: self.volumes_manageable(),
            volume_formats,
            read_only_formats,
        }
    }
}

/// A pool's run state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Display)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PoolState {
    Active,
    Inactive,
    Building,
    Degraded,
    Inaccessible,
}

/// Where a pool's storage comes from; only the type's own fields are set.
/// Field names are those of `POST /api/pools`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PoolSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_adapter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator_iqn: Option<String>,
}

impl PoolSource {
    pub fn get(&self, field: PoolField) -> Option<String> {
        match field {
            F::SourceHost => self.source_host.clone(),
            F::SourcePort => self.source_port.map(|p| p.to_string()),
            F::SourcePath => self.source_path.clone(),
            F::SourceDevice => self.source_device.clone(),
            F::SourceName => self.source_name.clone(),
            F::SourceFormat => self.source_format.clone(),
            F::SourceAdapter => self.source_adapter.clone(),
            F::InitiatorIqn => self.initiator_iqn.clone(),
            F::TargetPath => None,
        }
    }

    /// A short line for people: `nfs 10.0.0.5:/srv/vm`, `iqn… @ 10.0.0.9:3260`.
    pub fn describe(&self) -> String {
        let host = self.source_host.as_deref().map(|h| match self.source_port {
            Some(p) => format!("{h}:{p}"),
            None => h.to_string(),
        });
        let mut parts = Vec::new();
        if let Some(f) = &self.source_format {
            parts.push(f.clone());
        }
        match (&host, &self.source_path) {
            (Some(h), Some(p)) => parts.push(format!("{h}:{p}")),
            (Some(h), None) => parts.push(h.clone()),
            (None, Some(p)) => parts.push(p.clone()),
            (None, None) => {}
        }
        for v in [&self.source_name, &self.source_device, &self.source_adapter]
            .into_iter()
            .flatten()
        {
            parts.push(v.clone());
        }
        parts.join(" ")
    }
}

/// One storage pool as the API shows it. Sizes are bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolSummary {
    pub host: String,
    pub name: String,
    pub uuid: String,
    #[serde(rename = "type")]
    pub pool_type: PoolType,
    pub state: PoolState,
    pub autostart: bool,
    pub persistent: bool,
    pub capacity: u64,
    pub allocation: u64,
    pub available: u64,
    pub target_path: Option<String>,
    pub source: PoolSource,
    /// The number of volumes; `null` while the pool is not active.
    pub volumes: Option<u32>,
}

impl PoolSummary {
    /// What makes two pools on different hosts the same storage: a network
    /// type with the same source. `None` for local pools.
    pub fn shared_key(&self) -> Option<String> {
        if !self.pool_type.is_network() {
            return None;
        }
        let s = &self.source;
        let host = s.source_host.as_deref().unwrap_or("").to_ascii_lowercase();
        let path = s
            .source_path
            .as_deref()
            .map(|p| p.trim_end_matches('/').to_string());
        Some(format!(
            "{}|{}|{}|{}|{}|{}",
            self.pool_type,
            host,
            s.source_port.map(|p| p.to_string()).unwrap_or_default(),
            path.unwrap_or_default(),
            s.source_device.as_deref().unwrap_or(""),
            s.source_name.as_deref().unwrap_or(""),
        ))
    }

    pub fn used_percent(&self) -> f64 {
        if self.capacity == 0 {
            0.0
        } else {
            (self.allocation as f64 * 100.0 / self.capacity as f64).clamp(0.0, 100.0)
        }
    }
}

/// Pools of the same name across hosts, and whether they are one shared storage.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolGroup {
    pub name: String,
    pub pools: Vec<PoolSummary>,
    /// Every host's pool of this name points at the same network source.
    pub shared: bool,
}

/// Groups pools by name (sorted), marking the groups that are shared storage.
pub fn group_by_name(pools: &[PoolSummary]) -> Vec<PoolGroup> {
    let mut groups: Vec<PoolGroup> = Vec::new();
    for pool in pools {
        match groups.iter_mut().find(|g| g.name == pool.name) {
            Some(group) => group.pools.push(pool.clone()),
            None => groups.push(PoolGroup {
                name: pool.name.clone(),
                pools: vec![pool.clone()],
                shared: false,
            }),
        }
    }
    for group in &mut groups {
        let first = group.pools[0].shared_key();
        group.shared = group.pools.len() > 1
            && first.is_some()
            && group.pools.iter().all(|p| p.shared_key() == first);
        group.pools.sort_by(|a, b| a.host.cmp(&b.host));
    }
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    groups
}

/// `POST /api/pools`: a new pool on one host (`host`) or several (`hosts`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewPool {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    pub name: String,
    #[serde(rename = "type")]
    pub pool_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_path: Option<String>,
    #[serde(flatten)]
    pub source: PoolSource,
    /// Start the pool when the host boots.
    #[serde(default)]
    pub autostart: bool,
    /// For types whose build formats a device or creates a volume group
    /// (`fs`, `disk`, `logical`, `zfs`): do build.
    #[serde(default)]
    pub build: bool,
    /// With `build`: format even if the device already holds data.
    #[serde(default)]
    pub overwrite: bool,
    /// Keep the definition when building or starting fails.
    #[serde(default)]
    pub keep_on_failure: bool,
}

/// A pool definition that passed every check: what the backend receives.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    pub name: StorageName,
    pub pool_type: PoolType,
    pub target_path: Option<String>,
    pub source: PoolSource,
    pub autostart: bool,
    pub build: bool,
    pub overwrite: bool,
    pub keep_on_failure: bool,
}

impl PoolSpec {
    /// This spec for one host: `{host}` in the initiator name becomes the host's name.
    pub fn for_host(&self, host: &str) -> PoolSpec {
        let mut spec = self.clone();
        if let Some(iqn) = &spec.source.initiator_iqn {
            let host_part: String = host
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            spec.source.initiator_iqn = Some(iqn.replace("{host}", &host_part));
        }
        spec
    }
}

fn bad(message: String) -> ApiError {
    ApiError::BadRequest(message)
}

/// An absolute path without `.`/`..` components or control characters.
pub fn validate_path(what: &str, path: &str) -> Result<String, ApiError> {
    if path.len() > 4096 {
        return Err(bad(format!("{what} is longer than 4096 bytes")));
    }
    if !path.starts_with('/') {
        return Err(bad(format!(
            "{what} {:?} must be an absolute path (starting with /)",
            clip(path)
        )));
    }
    if path.chars().any(char::is_control) {
        return Err(bad(format!("{what} must not contain control characters")));
    }
    if path.split('/').any(|c| c == ".." || c == ".") {
        return Err(bad(format!(
            "{what} {:?} must not contain . or .. components",
            clip(path)
        )));
    }
    Ok(path.to_string())
}

fn validate_hostname(host: &str) -> Result<String, ApiError> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    if ok {
        Ok(host.to_string())
    } else {
        Err(bad(format!(
            "{:?} is not a host name or address (letters, digits, . - : _ only)",
            clip(host)
        )))
    }
}

/// An iSCSI qualified name (`iqn.`, `eui.` or `naa.`), optionally with `{host}`.
pub fn validate_iqn(what: &str, iqn: &str) -> Result<String, ApiError> {
    let plain = iqn.replace("{host}", "h");
    let ok = plain.len() <= 223
        && ["iqn.", "eui.", "naa."]
            .iter()
            .any(|p| plain.starts_with(p))
        && plain.len() > 4
        && plain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if ok {
        Ok(iqn.to_string())
    } else {
        Err(bad(format!(
            "{what} {:?} is not an iSCSI name: it starts with iqn., eui. or naa. and has only letters, digits, . - :",
            clip(iqn)
        )))
    }
}

fn validate_simple_name(what: &str, name: &str) -> Result<String, ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-' | ':'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(bad(format!(
            "{what} {:?}: letters, digits and . _ + - : only, at most 128 characters",
            clip(name)
        )))
    }
}

impl NewPool {
    /// The hosts asked for: `host`, or `hosts` (at least one, no repeats).
    pub fn target_hosts(&self) -> Result<Vec<String>, ApiError> {
        let hosts = match (&self.host, &self.hosts) {
            (Some(h), None) => vec![h.clone()],
            (None, Some(hs)) if !hs.is_empty() => hs.clone(),
            (Some(_), Some(_)) => {
                return Err(bad("give either \"host\" or \"hosts\", not both".into()))
            }
            _ => return Err(bad("\"host\" (or \"hosts\", a list) is required".into())),
        };
        for (i, h) in hosts.iter().enumerate() {
            if hosts[..i].contains(h) {
                return Err(bad(format!("host {:?} is listed twice", clip(h))));
            }
        }
        Ok(hosts)
    }

    /// Every check that can be made without asking a host.
    pub fn validate(&self) -> Result<PoolSpec, ApiError> {
        let name = StorageName::parse("pool name", &self.name)?;
        let pool_type: PoolType = self
            .pool_type
            .parse()
            .ok()
            .filter(|t| *t != PoolType::Other)
            .ok_or_else(|| {
                let names: Vec<&str> = PoolType::all().map(<&str>::from).collect();
                bad(format!(
                    "unknown pool type {:?}; expected one of: {}",
                    clip(&self.pool_type),
                    names.join(", ")
                ))
            })?;
        let several = self.hosts.as_ref().is_some_and(|h| h.len() > 1);
        let non_empty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };

        let mut spec = PoolSpec {
            name: name.clone(),
            pool_type,
            target_path: None,
            source: PoolSource::default(),
            autostart: self.autostart,
            build: self.build,
            overwrite: self.overwrite,
            keep_on_failure: self.keep_on_failure,
        };
        if self.build && pool_type.build() != BuildKind::Format {
            return Err(bad(format!(
                "\"build\" formats a device and only applies to fs, disk, logical and zfs pools, not {pool_type}"
            )));
        }
        if self.overwrite && !self.build {
            return Err(bad(
                "\"overwrite\" only applies together with \"build\"".into()
            ));
        }
        for info in pool_type.fields() {
            let given = match info.name {
                F::TargetPath => non_empty(&self.target_path),
                other => non_empty(&self.source.get(other)),
            };
            let value = match given {
                Some(v) => v,
                None if info.required => {
                    return Err(bad(format!(
                        "{} ({}) is required for a {pool_type} pool",
                        info.name, info.label
                    )))
                }
                None => match info.name {
                    F::TargetPath if pool_type == PoolType::Netfs => {
                        format!("/var/lib/libvirt/images/{name}")
                    }
                    F::InitiatorIqn | F::SourceFormat => match info.default {
                        Some(d) => d,
                        None => continue,
                    },
                    _ => continue,
                },
            };
            if !info.choices.is_empty() && !info.choices.contains(&value) {
                return Err(bad(format!(
                    "{} {:?} is not one of: {}",
                    info.name,
                    clip(&value),
                    info.choices.join(", ")
                )));
            }
            let cifs = self.source.source_format.as_deref() == Some("cifs");
            match info.name {
                F::TargetPath => spec.target_path = Some(validate_path("target_path", &value)?),
                F::SourceHost => spec.source.source_host = Some(validate_hostname(&value)?),
                F::SourcePort => spec.source.source_port = self.source.source_port,
                F::SourcePath => {
                    spec.source.source_path = Some(if cifs {
                        validate_simple_name(
                            "source_path (CIFS share)",
                            value.trim_start_matches('/'),
                        )?
                    } else {
                        validate_path("source_path", &value)?
                    })
                }
                F::SourceDevice if matches!(pool_type, PoolType::Iscsi | PoolType::IscsiDirect) => {
                    spec.source.source_device =
                        Some(validate_iqn("source_device (target IQN)", &value)?)
                }
                F::SourceDevice => {
                    spec.source.source_device = Some(validate_path("source_device", &value)?)
                }
                F::SourceName => {
                    spec.source.source_name = Some(validate_simple_name("source_name", &value)?)
                }
                F::SourceFormat => spec.source.source_format = Some(value),
                F::SourceAdapter => {
                    spec.source.source_adapter =
                        Some(validate_simple_name("source_adapter", &value)?)
                }
                F::InitiatorIqn => {
                    let iqn = validate_iqn("initiator_iqn", &value)?;
                    if several && !iqn.contains("{host}") {
                        return Err(bad(
                            "each host needs its own initiator name: put {host} in initiator_iqn \
                             (it becomes each host's name) or leave it empty"
                                .into(),
                        ));
                    }
                    spec.source.initiator_iqn = Some(iqn);
                }
            }
        }
        if self.source.source_port == Some(0) {
            return Err(bad("source_port must be between 1 and 65535".into()));
        }
        // Fields that do not belong to this type are refused, not silently dropped.
        for field in PoolField::iter() {
            let given = match field {
                F::TargetPath => non_empty(&self.target_path),
                other => non_empty(&self.source.get(other)),
            };
            if given.is_some() && !pool_type.has_field(field) {
                return Err(bad(format!("{field} does not apply to a {pool_type} pool")));
            }
        }
        Ok(spec)
    }
}

/// The answer for one host of a pool created on several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostPoolResult {
    pub host: String,
    pub pool: Option<PoolSummary>,
    pub error: Option<ApiError>,
}

/// `POST /api/pools` answers one summary for `host`, one result per host for `hosts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CreatedPools {
    One(Box<PoolSummary>),
    Many(Vec<HostPoolResult>),
}

/// What `POST /api/pools/action` can do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, EnumIter, EnumString, Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PoolAction {
    Start,
    Stop,
    Refresh,
    AutostartOn,
    AutostartOff,
    /// Undefine (stopping it first); with `delete_storage` also the volumes and
    /// the directory or volume group.
    Delete,
}

impl PoolAction {
    pub fn parse(text: &str) -> Result<PoolAction, ApiError> {
        text.parse().map_err(|_| {
            let names: Vec<String> = PoolAction::iter().map(|a| a.to_string()).collect();
            bad(format!(
                "unknown pool action {:?}; expected one of: {}",
                clip(text),
                names.join(", ")
            ))
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            PoolAction::Start => "Start",
            PoolAction::Stop => "Stop",
            PoolAction::Refresh => "Refresh",
            PoolAction::AutostartOn => "Autostart on",
            PoolAction::AutostartOff => "Autostart off",
            PoolAction::Delete => "Delete",
        }
    }

    /// The actions offered for a pool in this state.
    pub fn offered(pool: &PoolSummary) -> Vec<PoolAction> {
        let mut actions = Vec::new();
        match pool.state {
            PoolState::Active | PoolState::Degraded => {
                actions.extend([PoolAction::Refresh, PoolAction::Stop])
            }
            _ => actions.push(PoolAction::Start),
        }
        if pool.persistent {
            actions.push(if pool.autostart {
                PoolAction::AutostartOff
            } else {
                PoolAction::AutostartOn
            });
        }
        actions.push(PoolAction::Delete);
        actions
    }
}

/// `POST /api/pools/scan`: what to look for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScanRequest {
    pub host: String,
    #[serde(rename = "type")]
    pub pool_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator_iqn: Option<String>,
}

/// A validated scan request.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanSpec {
    pub pool_type: PoolType,
    pub source_host: Option<String>,
    pub source_port: Option<u16>,
    pub initiator_iqn: Option<String>,
}

impl ScanRequest {
    pub fn validate(&self) -> Result<ScanSpec, ApiError> {
        let pool_type: PoolType = self
            .pool_type
            .parse()
            .ok()
            .filter(|t: &PoolType| t.can_scan())
            .ok_or_else(|| {
                bad(format!(
                    "scanning works for netfs, logical, iscsi and iscsi-direct pools, not {:?}",
                    clip(&self.pool_type)
                ))
            })?;
        let needs_host = pool_type != PoolType::Logical;
        let source_host = match self.source_host.as_deref().map(str::trim) {
            Some(h) if !h.is_empty() => Some(validate_hostname(h)?),
            _ if needs_host => {
                return Err(bad(format!(
                    "source_host is required to scan for {pool_type} sources"
                )))
            }
            _ => None,
        };
        let initiator_iqn = match self.initiator_iqn.as_deref().map(str::trim) {
            Some(i) if !i.is_empty() => Some(validate_iqn("initiator_iqn", i)?),
            _ if pool_type == PoolType::IscsiDirect => {
                Some("iqn.2026-11.org.virtdeck:{host}".to_string())
            }
            _ => None,
        };
        Ok(ScanSpec {
            pool_type,
            source_host,
            source_port: self.source_port.filter(|p| *p != 0),
            initiator_iqn,
        })
    }
}

/// Every pool on every reachable host.
#[server(prefix = "/api", endpoint = "pools", input = GetUrl)]
pub async fn list_pools() -> Result<Vec<PoolSummary>, ApiError> {
    super::ssr::authorized(|ctx| async move { Ok(ctx.services.storage.pools().await) }).await
}

/// The pool types `host` supports, each with its fields.
#[server(name = PoolTypesFn, prefix = "/api", endpoint = "pools/types", input = GetUrl)]
pub async fn pool_types(host: String) -> Result<PoolTypes, ApiError> {
    super::ssr::authorized(|ctx| async move { ctx.services.storage.pool_types(&host).await }).await
}

/// Lists the sources (exports, targets, volume groups) a host can see.
#[server(prefix = "/api", endpoint = "pools/scan", input = Json)]
pub async fn scan_pool_sources(
    #[server(flatten)] request: ScanRequest,
) -> Result<Vec<PoolSource>, ApiError> {
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        let spec = request.validate()?;
        let spec = ScanSpec {
            initiator_iqn: spec
                .initiator_iqn
                .map(|i| i.replace("{host}", &request.host.to_ascii_lowercase())),
            ..spec
        };
        ctx.services.storage.scan(&request.host, &spec).await
    })
    .await
}

/// Defines, builds and starts a pool on one or several hosts.
#[server(prefix = "/api", endpoint = "pools", input = Json)]
pub async fn create_pool(#[server(flatten)] request: NewPool) -> Result<CreatedPools, ApiError> {
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        let target = |host: &str| format!("pool {} on host {}", clip(&request.name), clip(host));
        let checked = request
            .target_hosts()
            .and_then(|hosts| Ok((hosts, request.validate()?)));
        let (hosts, spec) = match checked {
            Ok(ok) => ok,
            Err(e) => {
                let hosts = request
                    .host
                    .clone()
                    .or_else(|| request.hosts.as_ref().map(|h| h.join(",")))
                    .unwrap_or_default();
                let result: Result<(), _> = Err(e.clone());
                ctx.audit("pool.create", &target(&hosts), &result).await;
                return Err(e);
            }
        };
        let single = request.host.is_some();
        let results = futures_join(hosts.iter().map(|host| {
            let spec = spec.for_host(host);
            let storage = ctx.services.storage.clone();
            let host = host.clone();
            async move {
                let result = storage.create_pool(&host, &spec).await;
                (host, result)
            }
        }))
        .await;
        for (host, result) in &results {
            ctx.audit("pool.create", &target(host), result).await;
        }
        if single {
            let (_, result) = results.into_iter().next().expect("one host");
            return result.map(|p| CreatedPools::One(Box::new(p)));
        }
        Ok(CreatedPools::Many(
            results
                .into_iter()
                .map(|(host, result)| match result {
                    Ok(pool) => HostPoolResult {
                        host,
                        pool: Some(pool),
                        error: None,
                    },
                    Err(e) => HostPoolResult {
                        host,
                        pool: None,
                        error: Some(e),
                    },
                })
                .collect(),
        ))
    })
    .await
}

#[cfg(feature = "ssr")]
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    futures::future::join_all(futures).await
}

/// Starts, stops, refreshes, (un)sets autostart of, or deletes a pool. Answers
/// the pool's new summary, or `null` once it is deleted.
#[server(name = PoolActionFn, prefix = "/api", endpoint = "pools/action", input = Json)]
pub async fn pool_action(
    host: String,
    pool: String,
    action: String,
    #[server(default)] delete_storage: bool,
) -> Result<Option<PoolSummary>, ApiError> {
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        let result = async {
            let action = PoolAction::parse(&action)?;
            let name = StorageName::parse("pool name", &pool)?;
            if delete_storage && action != PoolAction::Delete {
                return Err(bad(
                    "delete_storage only applies to the delete action".into()
                ));
            }
            ctx.services
                .storage
                .pool_action(&host, &name, action, delete_storage)
                .await
        }
        .await;
        let verb = match (action.as_str(), delete_storage) {
            ("delete", true) => "delete+storage".to_string(),
            (a, _) => PoolAction::parse(a)
                .map(|a| a.to_string())
                .unwrap_or_else(|_| "invalid".into()),
        };
        let target = format!("pool {} on host {}", clip(&pool), clip(&host));
        ctx.audit(&format!("pool.{verb}"), &target, &result).await;
        result
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn netfs() -> NewPool {
        NewPool {
            host: Some("kvm1".into()),
            name: "shared".into(),
            pool_type: "netfs".into(),
            source: PoolSource {
                source_host: Some("nfs.example.org".into()),
                source_path: Some("/srv/vm".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn pool_types_use_libvirt_names() {
        assert_eq!(PoolType::IscsiDirect.to_string(), "iscsi-direct");
        assert_eq!(
            "iscsi-direct".parse::<PoolType>(),
            Ok(PoolType::IscsiDirect)
        );
        assert_eq!(
            serde_json::to_string(&PoolType::IscsiDirect).unwrap(),
            "\"iscsi-direct\""
        );
        assert_eq!(
            serde_json::from_str::<PoolType>("\"vstorage\"").unwrap(),
            PoolType::Other
        );
        assert_eq!(PoolType::all().count(), 12);
        assert_eq!(PoolAction::AutostartOn.to_string(), "autostart_on");
        assert!(PoolAction::parse("Start")
            .unwrap_err()
            .to_string()
            .contains("start, stop"));
    }

    #[test]
    fn every_type_has_fields_and_a_description() {
        for t in PoolType::all() {
            assert!(!t.fields().is_empty(), "{t}");
            assert!(!t.description().is_empty(), "{t}");
        }
        let netfs: Vec<_> = PoolType::Netfs.fields().iter().map(|f| f.name).collect();
        assert_eq!(
            netfs,
            [F::SourceHost, F::SourcePath, F::SourceFormat, F::TargetPath]
        );
        assert!(!PoolType::IscsiDirect.volumes_manageable());
        assert!(PoolType::Dir.volumes_manageable());
        assert!(!PoolType::Dir.is_network());
    }

    #[test]
    fn a_netfs_pool_gets_its_defaults() {
        let spec = netfs().validate().unwrap();
        assert_eq!(
            spec.target_path.as_deref(),
            Some("/var/lib/libvirt/images/shared")
        );
        assert_eq!(spec.source.source_format.as_deref(), Some("nfs"));
        assert_eq!(spec.source.source_host.as_deref(), Some("nfs.example.org"));
    }

    #[test]
    fn wrong_definitions_are_refused_with_the_reason() {
        let cases: Vec<(NewPool, &str)> = vec![
            (
                NewPool {
                    name: "../x".into(),
                    ..netfs()
                },
                "not a valid pool name",
            ),
            (
                NewPool {
                    name: "a<b>".into(),
                    ..netfs()
                },
                "not a valid pool name",
            ),
            (
                NewPool {
                    pool_type: "nfs".into(),
                    ..netfs()
                },
                "unknown pool type",
            ),
            (
                NewPool {
                    source: PoolSource {
                        source_host: None,
                        ..netfs().source
                    },
                    ..netfs()
                },
                "source_host (Server) is required",
            ),
            (
                NewPool {
                    target_path: Some("relative/dir".into()),
                    ..netfs()
                },
                "absolute path",
            ),
            (
                NewPool {
                    target_path: Some("/var/lib/../../etc".into()),
                    ..netfs()
                },
                ". or .. components",
            ),
            (
                NewPool {
                    target_path: Some("/var/\nlib".into()),
                    ..netfs()
                },
                "control characters",
            ),
            (
                NewPool {
                    source: PoolSource {
                        source_host: Some("a b<c>".into()),
                        ..netfs().source
                    },
                    ..netfs()
                },
                "not a host name",
            ),
            (
                NewPool {
                    source: PoolSource {
                        source_format: Some("zfs".into()),
                        ..netfs().source
                    },
                    ..netfs()
                },
                "not one of: nfs, glusterfs, cifs, auto",
            ),
            (
                NewPool {
                    source: PoolSource {
                        source_name: Some("vg0".into()),
                        ..netfs().source
                    },
                    ..netfs()
                },
                "source_name does not apply to a netfs pool",
            ),
            (
                NewPool {
                    build: true,
                    ..netfs()
                },
                "only applies to fs, disk, logical",
            ),
        ];
        for (request, why) in cases {
            let err = request.validate().unwrap_err();
            assert!(matches!(err, ApiError::BadRequest(_)));
            assert!(err.to_string().contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn iscsi_direct_initiators_differ_per_host() {
        let request = NewPool {
            host: None,
            hosts: Some(vec!["a".into(), "B_2".into()]),
            name: "lab-iscsi".into(),
            pool_type: "iscsi-direct".into(),
            source: PoolSource {
                source_host: Some("127.0.0.1".into()),
                source_device: Some("iqn.2026-11.org.virtdeck.lab:shared".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let spec = request.validate().unwrap();
        assert_eq!(
            spec.for_host("B_2").source.initiator_iqn.as_deref(),
            Some("iqn.2026-11.org.virtdeck:b-2")
        );
        let fixed = NewPool {
            source: PoolSource {
                initiator_iqn: Some("iqn.2026-11.org.example:one".into()),
                ..request.source.clone()
            },
            ..request.clone()
        };
        assert!(fixed.validate().unwrap_err().to_string().contains("{host}"));
        let bad_target = NewPool {
            source: PoolSource {
                source_device: Some("/dev/sdb".into()),
                ..request.source.clone()
            },
            ..request
        };
        assert!(bad_target
            .validate()
            .unwrap_err()
            .to_string()
            .contains("not an iSCSI name"));
    }

    #[test]
    fn hosts_are_one_or_a_list_without_repeats() {
        let mut r = netfs();
        assert_eq!(r.target_hosts().unwrap(), ["kvm1"]);
        r.hosts = Some(vec!["kvm2".into()]);
        assert!(r.target_hosts().is_err());
        r.host = None;
        r.hosts = Some(vec!["a".into(), "a".into()]);
        assert!(r.target_hosts().unwrap_err().to_string().contains("twice"));
        r.hosts = Some(vec![]);
        assert!(r.target_hosts().is_err());
    }

    fn summary(host: &str, pool_type: PoolType, source: PoolSource) -> PoolSummary {
        PoolSummary {
            host: host.into(),
            name: "p".into(),
            uuid: String::new(),
            pool_type,
            state: PoolState::Active,
            autostart: false,
            persistent: true,
            capacity: 0,
            allocation: 0,
            available: 0,
            target_path: Some("/var/lib/libvirt/images".into()),
            source,
            volumes: Some(0),
        }
    }

    #[test]
    fn pools_are_shared_only_with_the_same_network_source() {
        let nfs = |path: &str| PoolSource {
            source_host: Some("NFS1".into()),
            source_path: Some(path.into()),
            source_format: Some("nfs".into()),
            ..Default::default()
        };
        let groups = group_by_name(&[
            summary("b", PoolType::Netfs, nfs("/srv/vm/")),
            summary("a", PoolType::Netfs, nfs("/srv/vm")),
        ]);
        assert!(groups[0].shared);
        assert_eq!(groups[0].pools[0].host, "a");
        let groups = group_by_name(&[
            summary("a", PoolType::Netfs, nfs("/srv/vm")),
            summary("b", PoolType::Netfs, nfs("/srv/other")),
        ]);
        assert!(!groups[0].shared);
        // Local directories with the same path are different storage.
        let groups = group_by_name(&[
            summary("a", PoolType::Dir, PoolSource::default()),
            summary("b", PoolType::Dir, PoolSource::default()),
        ]);
        assert!(!groups[0].shared);
    }

    #[test]
    fn the_flat_request_reads_like_the_readme() {
        let r: NewPool = serde_json::from_value(serde_json::json!({
            "host": "kvm1", "name": "nfs1", "type": "netfs",
            "source_host": "10.0.0.5", "source_path": "/srv", "autostart": true
        }))
        .unwrap();
        assert_eq!(r.source.source_host.as_deref(), Some("10.0.0.5"));
        assert!(r.autostart);
        let s = serde_json::to_value(summary("a", PoolType::Dir, PoolSource::default())).unwrap();
        assert_eq!(s["type"], "dir");
        assert_eq!(s["source"], serde_json::json!({}));
    }
}
