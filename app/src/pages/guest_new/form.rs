//! What the wizard asks, typed, and the check of each step: plain functions
//! over the form, so that they are unit-tested without a browser. The server
//! checks everything again (`NewGuestArgs::validate`, which the last step
//! calls too).

use crate::api::{
    guest_new::{Firmware, GuestOptions, InstallSource, NewDiskArg, NewGuestArgs},
    size::{NumArg, SizeArg, StorageName},
    volumes::validate_new_volume,
    ApiError,
};

/// The wizard's steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Step {
    Host,
    Install,
    Name,
    Resources,
    Disk,
    Network,
    Firmware,
    Summary,
}

impl Step {
    pub(super) const ALL: [Step; 8] = [
        Step::Host,
        Step::Install,
        Step::Name,
        Step::Resources,
        Step::Disk,
        Step::Network,
        Step::Firmware,
        Step::Summary,
    ];

    /// Its title in the list of steps.
    pub(super) fn title(self) -> &'static str {
        match self {
            Step::Host => "Host",
            Step::Install => "Install from",
            Step::Name => "Name and system",
            Step::Resources => "CPUs and memory",
            Step::Disk => "Disk",
            Step::Network => "Network",
            Step::Firmware => "Firmware",
            Step::Summary => "Summary",
        }
    }

    /// Its number, from 1.
    pub(super) fn number(self) -> usize {
        self as usize + 1
    }

    /// The step after this one (the summary is the last).
    pub(super) fn next(self) -> Step {
        Step::ALL.get(self as usize + 1).copied().unwrap_or(self)
    }

    /// The step before this one (the host is the first).
    pub(super) fn back(self) -> Step {
        (self as usize)
            .checked_sub(1)
            .map_or(self, |i| Step::ALL[i])
    }

    pub(super) fn is_first(self) -> bool {
        self == Step::Host
    }

    pub(super) fn is_last(self) -> bool {
        self == Step::Summary
    }
}

/// Where the operating system comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Install {
    /// An installer image from a pool, attached as a CD-ROM.
    Iso,
    /// An existing disk volume from a pool, with an installed system.
    Import,
    /// Network boot (PXE).
    Network,
}

impl Install {
    /// The value of its radio button.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Install::Iso => "iso",
            Install::Import => "import",
            Install::Network => "network",
        }
    }

    /// It needs a pool and a volume.
    pub(super) fn needs_volume(self) -> bool {
        self != Install::Network
    }
}

/// How the guest is networked, when it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Nic {
    /// A libvirt network of the host, by name.
    Network(String),
    /// A bridge of the host, named in [`Form::bridge`] (kept while another
    /// choice is tried, like the text of any field).
    Bridge,
}

impl Nic {
    /// The network `<select>`'s value: `network:<name>`, `bridge:`, or empty
    /// for no network.
    pub(super) fn value(nic: Option<&Nic>) -> String {
        match nic {
            Some(Nic::Network(name)) => format!("network:{name}"),
            Some(Nic::Bridge) => "bridge:".to_string(),
            None => String::new(),
        }
    }

    /// The choice a `<select>` value stands for (see [`Nic::value`]).
    pub(super) fn parse(value: &str) -> Option<Nic> {
        match value.split_once(':') {
            Some(("network", name)) => Some(Nic::Network(name.to_string())),
            Some(("bridge", _)) => Some(Nic::Bridge),
            _ => None,
        }
    }
}

/// Everything the wizard asks, as the user gave it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Form {
    pub(super) host: String,
    pub(super) install: Install,
    pub(super) install_pool: String,
    pub(super) install_volume: String,
    pub(super) name: String,
    /// The id of an [`OsPreset`](crate::api::guest_new::OsPreset).
    pub(super) os: String,
    pub(super) memory_mib: String,
    pub(super) vcpus: String,
    /// A new disk, or none.
    pub(super) disk: bool,
    pub(super) disk_pool: String,
    /// `qcow2` or `raw`.
    pub(super) disk_format: String,
    pub(super) disk_capacity: String,
    /// `sparse` or `full`.
    pub(super) disk_allocation: String,
    pub(super) nic: Option<Nic>,
    pub(super) bridge: String,
    pub(super) firmware: Firmware,
    /// `kvm`, `qemu`, or empty for the server's choice.
    pub(super) accel: String,
    pub(super) start: bool,
}

impl Default for Form {
    fn default() -> Self {
        Form {
            host: String::new(),
            install: Install::Iso,
            install_pool: String::new(),
            install_volume: String::new(),
            name: String::new(),
            os: "linux".into(),
            memory_mib: "2048".into(),
            vcpus: "2".into(),
            disk: true,
            disk_pool: String::new(),
            disk_format: "qcow2".into(),
            disk_capacity: "20G".into(),
            disk_allocation: "sparse".into(),
            nic: None,
            bridge: String::new(),
            firmware: Firmware::Bios,
            accel: String::new(),
            start: true,
        }
    }
}

impl Form {
    /// The new volume's name: the guest's, with the format's extension.
    pub(super) fn disk_name(&self) -> String {
        let ext = match self.disk_format.as_str() {
            "qcow2" => ".qcow2",
            "raw" => ".img",
            _ => "",
        };
        format!("{}{ext}", self.name)
    }

    /// A new disk is made (an imported disk is the guest's disk).
    pub(super) fn makes_disk(&self) -> bool {
        self.disk && self.install != Install::Import
    }

    /// The request the server gets.
    pub(super) fn args(&self) -> NewGuestArgs {
        let (network, bridge) = match &self.nic {
            Some(Nic::Network(n)) => (Some(n.clone()), None),
            Some(Nic::Bridge) => (None, Some(self.bridge.trim().to_string())),
            None => (None, None),
        };
        NewGuestArgs {
            host: self.host.clone(),
            name: self.name.trim().to_string(),
            memory_mib: NumArg(serde_json::Value::String(self.memory_mib.trim().into())),
            vcpus: NumArg(serde_json::Value::String(self.vcpus.trim().into())),
            firmware: Some(self.firmware.as_str().to_string()),
            accel: (!self.accel.is_empty()).then(|| self.accel.clone()),
            install: Some(match self.install {
                Install::Import => InstallSource::Import {
                    pool: self.install_pool.clone(),
                    volume: self.install_volume.clone(),
                },
                Install::Network => InstallSource::Network,
                Install::Iso => InstallSource::Iso {
                    pool: self.install_pool.clone(),
                    volume: self.install_volume.clone(),
                },
            }),
            disk: self.makes_disk().then(|| NewDiskArg {
                pool: self.disk_pool.clone(),
                name: self.disk_name(),
                format: Some(self.disk_format.clone()),
                capacity: SizeArg::text(self.disk_capacity.trim()),
                allocation: SizeArg::text(self.disk_allocation.trim()),
            }),
            network,
            bridge,
            os: Some(self.os.clone()),
            start: self.start,
        }
    }

    /// The first problem of `step`, checked in the browser before the next
    /// step; `options` are the chosen host's (limits unknown without them).
    pub(super) fn check(&self, step: Step, options: Option<&GuestOptions>) -> Result<(), ApiError> {
        match step {
            Step::Host => check_host(self),
            Step::Install => check_install(self),
            Step::Name => check_name(self),
            Step::Resources => check_resources(self, options),
            Step::Disk => check_disk(self),
            Step::Network => check_network(self),
            Step::Firmware => Ok(()),
            Step::Summary => check_all(self),
        }
    }
}

fn bad(message: &str) -> Result<(), ApiError> {
    Err(ApiError::BadRequest(message.to_string()))
}

fn check_host(f: &Form) -> Result<(), ApiError> {
    if f.host.is_empty() {
        return bad("Choose a host.");
    }
    Ok(())
}

fn check_install(f: &Form) -> Result<(), ApiError> {
    if f.install.needs_volume() && (f.install_pool.is_empty() || f.install_volume.is_empty()) {
        return bad("Choose a pool and a volume to install from.");
    }
    Ok(())
}

fn check_name(f: &Form) -> Result<(), ApiError> {
    StorageName::parse("guest name", f.name.trim()).map(|_| ())
}

/// Memory within the host's and at least the system's; vCPUs within the host's.
fn check_resources(f: &Form, options: Option<&GuestOptions>) -> Result<(), ApiError> {
    let args = f.args();
    let total = options.map_or(u64::MAX, |o| o.memory_total_mib);
    let mib = args.memory_mib.parse("Memory (MiB)", 16, total.max(16))?;
    let preset = options.and_then(|o| o.presets.iter().find(|p| p.id == f.os));
    if let Some(p) = preset {
        if mib < p.min_memory_mib {
            return bad(&format!(
                "{} needs at least {} MiB of memory.",
                p.label, p.min_memory_mib
            ));
        }
    }
    let cpus = options.map_or(512, |o| o.cpus as u64);
    args.vcpus.parse("vCPUs", 1, cpus).map(|_| ())
}

/// The new disk, as the storage page checks a new volume.
fn check_disk(f: &Form) -> Result<(), ApiError> {
    if !f.makes_disk() {
        return Ok(());
    }
    if f.disk_pool.is_empty() {
        return bad("Choose a pool for the new disk, or no disk.");
    }
    validate_new_volume(
        &f.disk_name(),
        Some(&f.disk_format),
        &SizeArg::text(f.disk_capacity.trim()),
        &SizeArg::text(f.disk_allocation.trim()),
    )
    .map(|_| ())
}

fn check_network(f: &Form) -> Result<(), ApiError> {
    if f.install == Install::Network && f.nic.is_none() {
        return bad("Network boot needs a network.");
    }
    if f.nic == Some(Nic::Bridge) && f.bridge.trim().is_empty() {
        return bad("Name the bridge.");
    }
    Ok(())
}

/// The whole request, as the server checks it.
fn check_all(f: &Form) -> Result<(), ApiError> {
    f.args().validate().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::guest_new::{presets, NetworkChoice};

    /// A form filled in as far as the summary, for an ISO install.
    fn filled() -> Form {
        Form {
            host: "lab-a".into(),
            install_pool: "default".into(),
            install_volume: "installer.iso".into(),
            name: "web03".into(),
            disk_pool: "default".into(),
            nic: Some(Nic::Network("default".into())),
            ..Form::default()
        }
    }

    /// What a host with 4 CPUs and 8 GiB offers.
    fn options() -> GuestOptions {
        GuestOptions {
            host: "lab-a".into(),
            cpus: 4,
            memory_total_mib: 8192,
            memory_free_mib: 4096,
            accels: vec!["kvm".into()],
            firmware: vec![Firmware::Bios],
            networks: vec![NetworkChoice {
                name: "default".into(),
                active: true,
            }],
            bridges: vec!["br0".into()],
            presets: presets(),
        }
    }

    /// The message of a step's problem, or "" when it has none.
    fn problem(form: &Form, step: Step) -> String {
        match form.check(step, Some(&options())) {
            Ok(()) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn steps_go_in_order_and_stop_at_the_ends() {
        assert_eq!(Step::ALL.len(), 8);
        for (i, step) in Step::ALL.into_iter().enumerate() {
            assert_eq!(step.number(), i + 1);
        }
        assert_eq!(Step::Host.next(), Step::Install);
        assert_eq!(Step::Firmware.next(), Step::Summary);
        assert_eq!(Step::Summary.next(), Step::Summary);
        assert_eq!(Step::Install.back(), Step::Host);
        assert_eq!(Step::Host.back(), Step::Host);
        assert!(Step::Host.is_first() && !Step::Install.is_first());
        assert!(Step::Summary.is_last() && !Step::Firmware.is_last());
        assert!(Step::Name < Step::Resources);
        assert_eq!(Step::Resources.title(), "CPUs and memory");
    }

    #[test]
    fn a_filled_form_passes_every_step() {
        let form = filled();
        for step in Step::ALL {
            assert_eq!(problem(&form, step), "", "{step:?}");
        }
    }

    #[test]
    fn the_host_step_needs_a_host() {
        let form = Form::default();
        assert!(problem(&form, Step::Host).contains("Choose a host."));
    }

    #[test]
    fn the_install_step_needs_a_volume_unless_it_boots_from_the_network() {
        let mut form = filled();
        form.install_volume.clear();
        assert!(problem(&form, Step::Install).contains("Choose a pool and a volume"));
        form.install = Install::Import;
        assert!(problem(&form, Step::Install).contains("Choose a pool and a volume"));
        form.install = Install::Network;
        assert_eq!(problem(&form, Step::Install), "");
    }

    #[test]
    fn the_name_step_checks_the_name_as_the_server_does() {
        let mut form = filled();
        form.name = "  web03 ".into();
        assert_eq!(problem(&form, Step::Name), "");
        for bad in ["", "-web", ".web", "a/b"] {
            form.name = bad.into();
            assert!(problem(&form, Step::Name).contains("guest name"), "{bad:?}");
        }
    }

    #[test]
    fn memory_and_cpus_stay_within_the_host_and_the_system() {
        let mut form = filled();
        form.memory_mib = "9000".into();
        assert!(problem(&form, Step::Resources).contains("Memory (MiB)"));
        form.memory_mib = "lots".into();
        assert!(problem(&form, Step::Resources).contains("Memory (MiB)"));
        // Windows 10 needs more than a generic Linux.
        form.memory_mib = "1024".into();
        form.os = "win10".into();
        assert!(problem(&form, Step::Resources).contains("needs at least"));
        form.os = "linux".into();
        assert_eq!(problem(&form, Step::Resources), "");
        form.vcpus = "5".into();
        assert!(problem(&form, Step::Resources).contains("vCPUs"));
        form.vcpus = "0".into();
        assert!(problem(&form, Step::Resources).contains("vCPUs"));
        // Without the host's options only the absolute bounds apply.
        form.vcpus = "64".into();
        form.memory_mib = "65536".into();
        assert!(form.check(Step::Resources, None).is_ok());
    }

    #[test]
    fn the_disk_step_checks_a_new_volume_only() {
        let mut form = filled();
        form.disk_pool.clear();
        assert!(problem(&form, Step::Disk).contains("Choose a pool for the new disk"));
        form.disk_pool = "default".into();
        form.disk_capacity = "twenty".into();
        assert!(problem(&form, Step::Disk).contains("capacity"));
        // No new disk: no volume to check.
        form.disk = false;
        assert_eq!(problem(&form, Step::Disk), "");
        form.disk = true;
        form.install = Install::Import;
        assert_eq!(problem(&form, Step::Disk), "");
        assert_eq!(form.args().disk, None);
    }

    #[test]
    fn the_network_step_needs_a_network_for_network_boot_and_a_bridge_name() {
        let mut form = filled();
        form.install = Install::Network;
        form.nic = None;
        assert!(problem(&form, Step::Network).contains("Network boot needs a network."));
        form.nic = Some(Nic::Bridge);
        form.bridge = "  ".into();
        assert!(problem(&form, Step::Network).contains("Name the bridge."));
        form.bridge = "br0".into();
        assert_eq!(problem(&form, Step::Network), "");
        form.install = Install::Iso;
        form.nic = None;
        assert_eq!(problem(&form, Step::Network), "");
    }

    #[test]
    fn the_summary_step_is_the_servers_own_check() {
        let mut form = filled();
        form.accel = "xen".into();
        assert!(problem(&form, Step::Summary).contains("accel"));
        form.accel = "kvm".into();
        assert_eq!(problem(&form, Step::Summary), "");
        form.host.clear();
        assert!(problem(&form, Step::Summary).contains("a host is required"));
    }

    #[test]
    fn the_request_says_what_the_form_says() {
        let mut form = filled();
        form.bridge = " br0 ".into();
        let args = form.args();
        assert_eq!(
            args.install,
            Some(InstallSource::Iso {
                pool: "default".into(),
                volume: "installer.iso".into()
            })
        );
        assert_eq!(args.network.as_deref(), Some("default"));
        assert_eq!(args.bridge, None);
        assert_eq!(args.firmware.as_deref(), Some("bios"));
        assert_eq!(args.accel, None);
        let disk = args.disk.expect("a new disk");
        assert_eq!(disk.name, "web03.qcow2");
        assert_eq!(disk.format.as_deref(), Some("qcow2"));

        form.nic = Some(Nic::Bridge);
        form.install = Install::Network;
        form.disk_format = "raw".into();
        let args = form.args();
        assert_eq!(args.install, Some(InstallSource::Network));
        assert_eq!((args.network, args.bridge.as_deref()), (None, Some("br0")));
        assert_eq!(args.disk.map(|d| d.name).as_deref(), Some("web03.img"));
    }

    #[test]
    fn the_network_choice_round_trips_through_its_select_value() {
        for nic in [None, Some(Nic::Bridge), Some(Nic::Network("lan".into()))] {
            assert_eq!(Nic::parse(&Nic::value(nic.as_ref())), nic);
        }
        assert_eq!(Nic::value(Some(&Nic::Network("lan".into()))), "network:lan");
        assert_eq!(Nic::value(Some(&Nic::Bridge)), "bridge:");
        assert_eq!(Nic::parse(""), None);
        assert_eq!(Nic::parse("other:x"), None);
    }
}
