//! The pool types virtdeck manages: one table of their fields, what building
//! does, whether they can be scanned and hold manageable volumes. Shared by the
//! server (validation), the API (`/api/pools/types`) and the create form.

use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter, EnumString, IntoEnumIterator, IntoStaticStr};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
