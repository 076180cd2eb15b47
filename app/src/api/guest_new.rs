//! New guests: `GET /api/guests/options` (what a host offers the wizard) and
//! `POST /api/guests` (define, and optionally start, a guest).

use leptos::server;
use leptos::server_fn::codec::{GetUrl, Json};
use serde::{Deserialize, Serialize};
use strum::{AsRefStr, Display, EnumIter, EnumString, IntoStaticStr};

use super::{
    guests::GuestSummary,
    size::{NumArg, SizeArg, StorageName},
    validate::{one_of, parse_choice, Choice},
    volumes::{validate_new_volume, VolumeSpec},
    ApiError,
};

/// The guest's firmware.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Default,
    Display,
    EnumIter,
    EnumString,
    IntoStaticStr,
    AsRefStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Firmware {
    #[default]
    Bios,
    Uefi,
}

impl Firmware {
    /// The wire name (`bios`, `uefi`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn label(self) -> &'static str {
        match self {
            Firmware::Bios => "BIOS",
            Firmware::Uefi => "UEFI",
        }
    }

    /// A wire name; empty means the default (BIOS).
    pub fn parse(text: &str) -> Result<Firmware, ApiError> {
        match text {
            "" => Ok(Firmware::default()),
            text => parse_choice(Choice::NotOneOf("firmware"), text),
        }
    }
}

/// Defaults for one kind of operating system: what its installer has drivers
/// for and needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsPreset {
    /// `linux`, `debian12`, `windows11`, …
    pub id: String,
    pub label: String,
    /// libosinfo's id, written into the guest's metadata (virt-manager reads it).
    pub osinfo: String,
    /// `virtio`, `sata`.
    pub disk_bus: String,
    /// `virtio`, `e1000e`.
    pub nic_model: String,
    pub min_memory_mib: u64,
    pub recommended_memory_mib: u64,
    pub recommended_disk_gib: u64,
    pub firmware: Firmware,
}

/// The presets the wizard offers; `generic` fits anything.
pub fn presets() -> Vec<OsPreset> {
    let p = |id: &str,
             label: &str,
             osinfo: &str,
             virtio: bool,
             min: u64,
             rec: u64,
             disk: u64,
             firmware: Firmware| OsPreset {
        id: id.into(),
        label: label.into(),
        osinfo: osinfo.into(),
        disk_bus: if virtio { "virtio" } else { "sata" }.into(),
        nic_model: if virtio { "virtio" } else { "e1000e" }.into(),
        min_memory_mib: min,
        recommended_memory_mib: rec,
        recommended_disk_gib: disk,
        firmware,
    };
    vec![
        p(
            "linux",
            "Linux (generic, virtio)",
            "http://libosinfo.org/linux/2022",
            true,
            256,
            2048,
            20,
            Firmware::Bios,
        ),
        p(
            "debian12",
            "Debian 12",
            "http://debian.org/debian/12",
            true,
            512,
            2048,
            20,
            Firmware::Bios,
        ),
        p(
            "ubuntu24.04",
            "Ubuntu 24.04 LTS",
            "http://ubuntu.com/ubuntu/24.04",
            true,
            1024,
            4096,
            25,
            Firmware::Uefi,
        ),
        p(
            "rhel9",
            "RHEL / AlmaLinux / Rocky 9",
            "http://redhat.com/rhel/9.0",
            true,
            1536,
            2048,
            20,
            Firmware::Uefi,
        ),
        p(
            "win10",
            "Windows 10",
            "http://microsoft.com/win/10",
            false,
            2048,
            4096,
            64,
            Firmware::Bios,
        ),
        p(
            "win2022",
            "Windows Server 2022",
            "http://microsoft.com/win/2k22",
            false,
            2048,
            4096,
            64,
            Firmware::Uefi,
        ),
        p(
            "generic",
            "Other (compatible devices)",
            "http://libosinfo.org/unknown",
            false,
            16,
            1024,
            10,
            Firmware::Bios,
        ),
    ]
}

/// A libvirt network a new guest can join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkChoice {
    pub name: String,
    pub active: bool,
}

/// What a host offers a new guest (`GET /api/guests/options?host=…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestOptions {
    pub host: String,
    pub cpus: u32,
    pub memory_total_mib: u64,
    pub memory_free_mib: u64,
    /// The domain types the host runs, best first (`kvm`, `qemu`).
    pub accels: Vec<String>,
    /// The firmware the host can boot guests with (domain capabilities).
    pub firmware: Vec<Firmware>,
    pub networks: Vec<NetworkChoice>,
    /// Bridges on the host a guest can be attached to directly.
    pub bridges: Vec<String>,
    pub presets: Vec<OsPreset>,
}

/// Where the new guest's operating system comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum InstallSource {
    /// An installer image: a volume attached as a CD-ROM, booted first.
    Iso { pool: String, volume: String },
    /// An existing disk volume with an installed system, booted as the first disk.
    Import { pool: String, volume: String },
    /// Network boot (PXE).
    Network,
}

/// A new disk volume for the guest, as on the storage page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct NewDiskArg {
    pub pool: String,
    pub name: String,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub capacity: SizeArg,
    #[serde(default)]
    pub allocation: SizeArg,
}

/// How the guest is networked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nic {
    Network(String),
    Bridge(String),
}

/// A checked request for a new guest: names are valid, numbers in range.
/// The host's own limits (memory, CPUs, what exists) are checked by the backend.
#[derive(Debug, Clone, PartialEq)]
pub struct NewGuest {
    pub host: String,
    pub name: StorageName,
    pub memory_mib: u64,
    pub vcpus: u32,
    pub firmware: Firmware,
    /// `None`: the best the host offers.
    pub accel: Option<String>,
    pub install: InstallSource,
    pub disk: Option<(StorageName, VolumeSpec)>,
    pub nic: Option<Nic>,
    pub preset: OsPreset,
    pub start: bool,
}

/// The most memory (1 TiB) and vCPUs (512) virtdeck puts in one guest.
pub const MAX_MEMORY_MIB: u64 = 1 << 20;
pub const MAX_VCPUS: u64 = 512;

/// The raw request, as `POST /api/guests` takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct NewGuestArgs {
    pub host: String,
    pub name: String,
    pub memory_mib: NumArg,
    pub vcpus: NumArg,
    pub firmware: Option<String>,
    pub accel: Option<String>,
    pub install: Option<InstallSource>,
    pub disk: Option<NewDiskArg>,
    pub network: Option<String>,
    pub bridge: Option<String>,
    pub os: Option<String>,
    pub start: bool,
}

fn name_of(what: &str, text: &str) -> Result<StorageName, ApiError> {
    StorageName::parse(what, text)
}

impl NewGuestArgs {
    /// Checks every field; the first problem is the error.
    pub fn validate(&self) -> Result<NewGuest, ApiError> {
        if self.host.trim().is_empty() {
            return Err(ApiError::BadRequest("a host is required".into()));
        }
        let name = name_of("guest name", &self.name)?;
        let preset_id = self.os.as_deref().unwrap_or("linux");
        let preset = presets()
            .into_iter()
            .find(|p| p.id == preset_id)
            .ok_or_else(|| {
                Choice::NotOneOf("os").refuse(preset_id, presets().into_iter().map(|p| p.id))
            })?;
        let memory_mib =
            self.memory_mib
                .parse("memory_mib", preset.min_memory_mib.min(16), MAX_MEMORY_MIB)?;
        if memory_mib < preset.min_memory_mib {
            return Err(ApiError::BadRequest(format!(
                "memory_mib: {} needs at least {} MiB",
                preset.label, preset.min_memory_mib
            )));
        }
        let vcpus = self.vcpus.parse("vcpus", 1, MAX_VCPUS)? as u32;
        let firmware = Firmware::parse(self.firmware.as_deref().unwrap_or(""))?;
        let accel = match self.accel.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(a) => Some(one_of(Choice::NotOneOf("accel"), a, &["kvm", "qemu"])?),
        };
        let install = match &self.install {
            None => {
                return Err(ApiError::BadRequest(
                    "install is required: {\"kind\": \"iso\"|\"import\", \"pool\", \"volume\"} or {\"kind\": \"network\"}".into(),
                ))
            }
            Some(InstallSource::Iso { pool, volume }) => InstallSource::Iso {
                pool: name_of("pool name", pool)?.to_string(),
                volume: name_of("volume name", volume)?.to_string(),
            },
            Some(InstallSource::Import { pool, volume }) => InstallSource::Import {
                pool: name_of("pool name", pool)?.to_string(),
                volume: name_of("volume name", volume)?.to_string(),
            },
            Some(InstallSource::Network) => InstallSource::Network,
        };
        let disk = match &self.disk {
            None => None,
            Some(d) => {
                let pool = name_of("pool name", &d.pool)?;
                let spec =
                    validate_new_volume(&d.name, d.format.as_deref(), &d.capacity, &d.allocation)?;
                Some((pool, spec))
            }
        };
        let nic = match (
            self.network.as_deref().filter(|n| !n.is_empty()),
            self.bridge.as_deref().filter(|b| !b.is_empty()),
        ) {
            (Some(_), Some(_)) => {
                return Err(ApiError::BadRequest(
                    "give either network or bridge, not both".into(),
                ));
            }
            (Some(n), None) => Some(Nic::Network(name_of("network name", n)?.to_string())),
            (None, Some(b)) => Some(Nic::Bridge(name_of("bridge name", b)?.to_string())),
            (None, None) => None,
        };
        if install == InstallSource::Network && nic.is_none() {
            return Err(ApiError::BadRequest(
                "network boot needs a network: choose a libvirt network or a bridge".into(),
            ));
        }
        Ok(NewGuest {
            host: self.host.clone(),
            name,
            memory_mib,
            vcpus,
            firmware,
            accel,
            install,
            disk,
            nic,
            preset,
            start: self.start,
        })
    }
}

/// What `host` offers a new guest: its CPUs and memory (free now), domain
/// types, firmware, networks and bridges, and the OS presets.
#[server(name = GuestOptionsFn, prefix = "/api", endpoint = "guests/options", input = GetUrl, output = crate::api::JsonText)]
pub async fn guest_options(host: String) -> Result<GuestOptions, ApiError> {
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        ctx.services.guests.options(&host).await
    })
    .await
}

/// Creates a guest: a new disk volume if asked, the definition (VNC display
/// with its own password, serial console), and starts it if asked. On any
/// failure nothing is left behind: no volume, no definition.
#[server(name = CreateGuestFn, prefix = "/api", endpoint = "guests", input = Json, output = crate::api::JsonText)]
pub async fn create_guest(#[server(flatten)] args: NewGuestArgs) -> Result<GuestSummary, ApiError> {
    use super::audit::{AuditAction, Target};
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        let target = Target::guest(&args.host, &args.name);
        ctx.audited(AuditAction::GuestCreate, target, async {
            let spec = args.validate()?;
            ctx.services.guests.create(&spec).await
        })
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_has_one_name_for_serde_and_strum() {
        for fw in [Firmware::Bios, Firmware::Uefi] {
            assert_eq!(serde_json::to_value(fw).unwrap(), fw.as_str());
            assert_eq!(Firmware::parse(fw.as_str()), Ok(fw));
        }
        assert_eq!(Firmware::parse(""), Ok(Firmware::Bios));
        assert_eq!(
            Firmware::parse("UEFI").unwrap_err().to_string(),
            "firmware: \"UEFI\" is not one of bios, uefi"
        );
    }

    fn args() -> NewGuestArgs {
        NewGuestArgs {
            host: "a".into(),
            name: "web01".into(),
            memory_mib: NumArg::from(1024),
            vcpus: NumArg::from(2),
            install: Some(InstallSource::Network),
            network: Some("default".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_plain_request_is_accepted() {
        let g = args().validate().unwrap();
        assert_eq!(g.memory_mib, 1024);
        assert_eq!(g.vcpus, 2);
        assert_eq!(g.nic, Some(Nic::Network("default".into())));
        assert_eq!(g.preset.id, "linux");
    }

    #[test]
    fn hostile_and_out_of_range_fields_are_refused_with_their_name() {
        let cases: Vec<(NewGuestArgs, &str)> = vec![
            (
                NewGuestArgs {
                    name: "a'<b>".into(),
                    ..args()
                },
                "guest name",
            ),
            (
                NewGuestArgs {
                    name: "../etc".into(),
                    ..args()
                },
                "guest name",
            ),
            (
                NewGuestArgs {
                    memory_mib: NumArg(serde_json::json!(-1)),
                    ..args()
                },
                "memory_mib",
            ),
            (
                NewGuestArgs {
                    memory_mib: NumArg(serde_json::json!(1e30)),
                    ..args()
                },
                "memory_mib",
            ),
            (
                NewGuestArgs {
                    vcpus: NumArg(serde_json::json!(0)),
                    ..args()
                },
                "vcpus",
            ),
            (
                NewGuestArgs {
                    vcpus: NumArg(serde_json::json!("many")),
                    ..args()
                },
                "vcpus",
            ),
            (
                NewGuestArgs {
                    firmware: Some("coreboot".into()),
                    ..args()
                },
                "firmware",
            ),
            (
                NewGuestArgs {
                    network: None,
                    ..args()
                },
                "network boot",
            ),
            (
                NewGuestArgs {
                    os: Some("beos".into()),
                    ..args()
                },
                "os",
            ),
            (
                NewGuestArgs {
                    install: None,
                    ..args()
                },
                "install",
            ),
            (
                NewGuestArgs {
                    disk: Some(NewDiskArg {
                        pool: "default".into(),
                        name: "d.qcow2".into(),
                        capacity: SizeArg(serde_json::json!(-5)),
                        ..Default::default()
                    }),
                    ..args()
                },
                "capacity",
            ),
        ];
        for (a, word) in cases {
            let err = a.validate().unwrap_err();
            assert!(matches!(err, ApiError::BadRequest(_)), "{err:?}");
            assert!(err.to_string().contains(word), "{word}: {err}");
        }
    }

    #[test]
    fn presets_keep_their_memory_minimum() {
        let err = NewGuestArgs {
            os: Some("win10".into()),
            memory_mib: NumArg::from(512),
            ..args()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("at least 2048 MiB"), "{err}");
    }
}
