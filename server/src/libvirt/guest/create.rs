//! What a host offers a new guest, and creating one: every check before
//! anything is made, the disk made last, everything undone on failure.

use virt::{connect::Connect, error::ErrorNumber};

use super::{accels, backing, code, offers_uefi, random_password, refused, remove_volume, Failure};
use crate::libvirt::{
    domain,
    error::{clip, Error},
    storage_volume::{self, NewVolume},
    sys,
    xml::{
        self,
        guest::{self as gx, DiskXml, Firmware, GuestXml, NicSource},
    },
};

/// What a host offers a new guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub cpus: u32,
    pub memory_total_mib: u64,
    pub memory_free_mib: u64,
    /// The domain types the host runs, best first (`kvm`, `qemu`).
    pub accels: Vec<String>,
    /// The firmware it can boot guests with.
    pub firmware: Vec<Firmware>,
    /// Its libvirt networks: name and whether active.
    pub networks: Vec<(String, bool)>,
    /// Bridges a guest can be attached to directly.
    pub bridges: Vec<String>,
}

/// Where a new guest's system comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    /// An installer image attached as a CD-ROM, booted first.
    Iso { pool: String, volume: String },
    /// An existing disk volume, booted as the first disk.
    Import { pool: String, volume: String },
    /// Network boot.
    Network,
}

/// A new guest's network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NicChoice {
    Network(String),
    Bridge(String),
}

/// A new guest, checked by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDomain {
    pub name: String,
    pub memory_mib: u64,
    pub vcpus: u32,
    pub firmware: Firmware,
    /// `None`: the best the host offers.
    pub accel: Option<String>,
    pub install: Install,
    /// A new disk volume, in this pool.
    pub disk: Option<(String, NewVolume)>,
    pub nic: Option<NicChoice>,
    /// libosinfo's id, written into the metadata.
    pub osinfo: String,
    pub disk_bus: String,
    pub nic_model: String,
    pub start: bool,
}

pub fn options(conn: &Connect) -> Result<Offer, Failure> {
    let node = conn.node_info()?;
    let free = conn.free_memory().unwrap_or(0);
    let (arch, accels) = accels(conn)?;
    let mut firmware = vec![Firmware::Bios];
    if let Some(best) = accels.first() {
        if offers_uefi(conn, arch.as_deref(), best) {
            firmware.push(Firmware::Uefi);
        }
    }
    let mut networks: Vec<(String, bool)> = conn
        .list_all_networks(0)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| Some((n.name().ok()?, n.is_active().unwrap_or(false))))
        .collect();
    networks.sort();
    let mut bridges: Vec<String> = conn
        .list_all_interfaces(0)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| {
            let xml = i.xml_desc(0).ok()?;
            xml::capabilities::bridge_name(&xml)
        })
        .collect();
    bridges.sort();
    Ok(Offer {
        cpus: node.cpus,
        memory_total_mib: node.memory / 1024,
        memory_free_mib: free / (1024 * 1024),
        accels,
        firmware,
        networks,
        bridges,
    })
}

/// Creates the guest; on any failure removes what it made.
pub fn create(
    host: &str,
    uri: &str,
    conn: &Connect,
    spec: &NewDomain,
) -> Result<domain::Guest, Failure> {
    let name = spec.name.as_str();
    match conn.lookup_domain_by_name(name) {
        Ok(_) => {
            return Err(Failure::Own(Error::Conflict(format!(
                "host {host} already has a guest named {name}: choose another name"
            ))));
        }
        Err(e) if code(&e) == Some(ErrorNumber::NoDomain) => {}
        Err(e) => return Err(e.into()),
    }
    let node = conn.node_info()?;
    let total_mib = node.memory / 1024;
    if spec.memory_mib > total_mib {
        return Err(Failure::Own(Error::Invalid(format!(
            "memory_mib: {} MiB is more than host {host} has ({total_mib} MiB)",
            spec.memory_mib
        ))));
    }
    if spec.vcpus > node.cpus {
        return Err(Failure::Own(Error::Invalid(format!(
            "vcpus: {} is more than host {host} has ({} CPUs)",
            spec.vcpus, node.cpus
        ))));
    }
    let (arch, offered) = accels(conn)?;
    let accel = match &spec.accel {
        Some(a) if offered.contains(a) => a.clone(),
        Some(a) => {
            return Err(Failure::Own(Error::Invalid(format!(
                "accel: host {host} cannot run {a} guests; it offers {}",
                offered.join(", ")
            ))));
        }
        None => offered.first().cloned().ok_or_else(|| {
            Failure::Own(Error::Unsupported(format!(
                "host {host} offers no guest type for its architecture"
            )))
        })?,
    };
    if spec.firmware == Firmware::Uefi && !offers_uefi(conn, arch.as_deref(), &accel) {
        return Err(Failure::Own(Error::Unsupported(format!(
            "host {host} cannot boot {accel} guests with UEFI (no UEFI firmware is installed there): choose BIOS"
        ))));
    }
    let nic = match &spec.nic {
        None => None,
        Some(NicChoice::Network(n)) => {
            conn.lookup_network_by_name(n).map_err(|e| {
                if code(&e) == Some(ErrorNumber::NoNetwork) {
                    Failure::Own(Error::NotFound(format!(
                        "host {host} has no network named {:?}",
                        clip(n)
                    )))
                } else {
                    Failure::Libvirt(e)
                }
            })?;
            Some((NicSource::Network(n.clone()), spec.nic_model.clone()))
        }
        Some(NicChoice::Bridge(b)) => Some((NicSource::Bridge(b.clone()), spec.nic_model.clone())),
    };
    let bus = spec.disk_bus.clone();
    let mut disks = Vec::new();
    let mut boot = Vec::new();
    let mut targets: Vec<String> = Vec::new();
    let mut add_disk = |backing, format, device: &str, disks: &mut Vec<DiskXml>| {
        let bus = if device == "cdrom" {
            "sata".to_string()
        } else {
            bus.clone()
        };
        let target = gx::next_target(&bus, &targets);
        targets.push(target.clone());
        disks.push(DiskXml {
            backing,
            device: device.to_string(),
            format,
            target,
            bus,
            readonly: device == "cdrom",
        });
    };
    match &spec.install {
        Install::Import { pool, volume } => {
            // An image from elsewhere must not read the host's files.
            storage_volume::refuse_foreign_files(host, conn, pool, volume)?;
            let (b, format, _) = backing(host, conn, pool, volume)?;
            add_disk(b, format, "disk", &mut disks);
        }
        Install::Iso { pool, volume } => {
            let (b, _, _) = backing(host, conn, pool, volume)?;
            add_disk(b, Some("raw".into()), "cdrom", &mut disks);
            boot.push("cdrom".to_string());
        }
        Install::Network => boot.push("network".to_string()),
    }
    // The new disk is made last, after every check: nothing to undo before.
    let mut made: Option<String> = None;
    if let Some((pool, vol)) = &spec.disk {
        let summary = storage_volume::create(host, conn, pool, vol)?;
        made = Some(summary.path.clone());
        match backing(host, conn, pool, &vol.name) {
            Ok((b, format, _)) => add_disk(b, format, "disk", &mut disks),
            Err(e) => {
                remove_volume(host, conn, &summary.path);
                return Err(e);
            }
        }
    }
    boot.push("hd".to_string());
    // The installer disc is booted first; a disk volume comes first among disks.
    disks.sort_by_key(|d| d.device == "cdrom");
    let qemu = accel != "test";
    let definition = gx::new_guest(&GuestXml {
        name: name.to_string(),
        accel: accel.clone(),
        arch: arch.clone(),
        machine: (qemu && arch.as_deref() == Some("x86_64")).then(|| "q35".to_string()),
        memory_kib: spec.memory_mib * 1024,
        vcpus: spec.vcpus,
        firmware: spec.firmware,
        osinfo: spec.osinfo.clone(),
        disks,
        nic,
        boot,
        // The display listens where virtdeck reaches the host.
        vnc: qemu.then(|| (crate::libvirt::uri_host(uri), random_password())),
    });
    let undo = |conn: &Connect| made.as_deref().and_then(|p| remove_volume(host, conn, p));
    let dom = match conn.define_domain_xml(&definition) {
        Ok(dom) => dom,
        Err(e) => {
            let note = undo(conn).unwrap_or_default();
            return Err(refused(host, conn, e, |m| {
                format!("cannot define guest {name}: {m}.{note}")
            }));
        }
    };
    if spec.start {
        if let Err(e) = dom.create() {
            let _ = dom.undefine_flags(sys::VIR_DOMAIN_UNDEFINE_NVRAM);
            let note = undo(conn).unwrap_or_default();
            return Err(refused(host, conn, e, |m| {
                format!("guest {name} could not start, so it was not kept: {m}.{note}")
            }));
        }
    }
    let uuid = dom.uuid_string()?;
    domain::read_one(conn, &uuid)?
        .ok_or_else(|| Failure::Own(Error::Conflict(format!("guest {name} vanished at once"))))
}
