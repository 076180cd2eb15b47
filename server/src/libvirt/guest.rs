//! A guest's life beyond start and stop, as blocking functions on one
//! connection: what a host offers a new guest, creating one (rolled back
//! whole on failure), its overview and usage, edits, and delete.
//! `guests::LibvirtGuests` runs them off the runtime.

use std::collections::BTreeSet;

use super::error::{clip, Error};
use app::api::{
    guest_detail::{DeleteReport, DiskInfo, GuestDetail, GuestStats, GuestUpdate},
    guest_new::{Firmware, GuestOptions, InstallSource, NetworkChoice, NewGuest, Nic},
    guests::GuestSummary,
};
use rand::{distributions::Alphanumeric, Rng};
use virt::{connect::Connect, domain::Domain, error::ErrorNumber};

use super::sys;

use super::{
    connection::Failure,
    domain::{self, DiskUser},
    storage_pool::failed,
    storage_volume,
    xml::{
        self,
        domain::DiskSource,
        guest::{self as gx, DiskBacking, DiskXml, GuestXml, NicSource},
        tree::Node,
    },
};

fn unreadable(e: xml::XmlError) -> Failure {
    tracing::error!("{e}");
    Failure::Own(Error::Internal)
}

fn code(e: &virt::error::Error) -> Option<ErrorNumber> {
    e.code().is_known().then(|| e.code().unwrap())
}

/// The guest `uuid`, or NotFound.
pub fn lookup(host: &str, conn: &Connect, uuid: &str) -> Result<Domain, Failure> {
    conn.lookup_domain_by_uuid_string(uuid).map_err(|e| {
        if code(&e) == Some(ErrorNumber::NoDomain) {
            Failure::Own(Error::NotFound(format!(
                "host {host} has no guest with UUID {uuid}"
            )))
        } else {
            Failure::Libvirt(e)
        }
    })
}

/// The domain types the host runs on its own architecture, best first.
fn accels(conn: &Connect) -> Result<(Option<String>, Vec<String>), Failure> {
    let caps = conn.capabilities()?;
    let identity = xml::capabilities::host_identity(&caps);
    let arch = xml::capabilities::host_cpu(&caps).arch;
    let mut found: Vec<String> = identity
        .guests
        .iter()
        .filter(|(a, _)| arch.as_deref().is_none_or(|h| h == a))
        .flat_map(|(_, types)| types.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rank = |t: &str| match t {
        "kvm" => 0,
        "qemu" => 1,
        _ => 2,
    };
    found.sort_by_key(|t| rank(t));
    // The test driver's guests run on i686 whatever the host says.
    let arch = arch.filter(|a| identity.guests.iter().any(|(g, _)| g == a));
    let arch = arch.or_else(|| identity.guests.first().map(|(a, _)| a.clone()));
    Ok((arch, found))
}

/// Whether the host can boot `accel` guests with UEFI firmware.
fn offers_uefi(conn: &Connect, arch: Option<&str>, accel: &str) -> bool {
    match conn.domain_capabilities(None, arch, None, Some(accel), 0) {
        Ok(xml) => xml::capabilities::offers_uefi(&xml),
        Err(_) => false,
    }
}

pub fn options(host: &str, conn: &Connect) -> Result<GuestOptions, Failure> {
    let node = conn.node_info()?;
    let free = conn.free_memory().unwrap_or(0);
    let (arch, accels) = accels(conn)?;
    let mut firmware = vec![Firmware::Bios];
    if let Some(best) = accels.first() {
        if offers_uefi(conn, arch.as_deref(), best) {
            firmware.push(Firmware::Uefi);
        }
    }
    let mut networks: Vec<NetworkChoice> = conn
        .list_all_networks(0)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| {
            Some(NetworkChoice {
                name: n.name().ok()?,
                active: n.is_active().unwrap_or(false),
            })
        })
        .collect();
    networks.sort_by(|a, b| a.name.cmp(&b.name));
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
    Ok(GuestOptions {
        host: host.to_string(),
        cpus: node.cpus,
        memory_total_mib: node.memory / 1024,
        memory_free_mib: free / (1024 * 1024),
        accels,
        firmware,
        networks,
        bridges,
        presets: app::api::guest_new::presets(),
    })
}

/// A new VNC password (VNC uses at most 8 characters).
pub fn random_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(8)
        .map(char::from)
        .collect()
}

/// A volume as a guest's disk names it: by path for files and devices, by
/// pool and name otherwise (LUNs of a network pool).
fn backing(
    host: &str,
    conn: &Connect,
    pool: &str,
    volume: &str,
) -> Result<(DiskBacking, Option<String>, u64), Failure> {
    let found = storage_volume::resolve(host, conn, pool, volume)?;
    let vol = found.volume;
    let format = vol.format.clone();
    let backing = match found.vol_type {
        sys::VIR_STORAGE_VOL_FILE => DiskBacking::File(vol.path.clone()),
        sys::VIR_STORAGE_VOL_BLOCK => DiskBacking::Block(vol.path.clone()),
        _ => DiskBacking::Volume {
            pool: pool.to_string(),
            volume: volume.to_string(),
        },
    };
    Ok((backing, format, vol.capacity))
}

/// Deletes a volume made for a guest that could not be made; says what
/// happened when that fails too.
fn remove_volume(host: &str, conn: &Connect, path: &str) -> Option<String> {
    let result = conn
        .lookup_storage_vol_by_path(path)
        .and_then(|v| v.delete(0));
    match result {
        Ok(()) => None,
        Err(e) => {
            tracing::error!(host, path, "cannot remove volume: {}", e.message());
            Some(format!(
                " The new volume {path} could not be removed ({}): delete it on the storage page.",
                e.message()
            ))
        }
    }
}

/// A call libvirt refused. QEMU's start-up failures come as system errors
/// ("Cannot get interface MTU on 'br9': No such device"), which otherwise
/// read as a lost connection: while the connection is alive they are the
/// host's answer, with its words.
pub(super) fn refused(
    host: &str,
    conn: &Connect,
    e: virt::error::Error,
    context: impl FnOnce(String) -> String,
) -> Failure {
    if conn.is_alive().unwrap_or(false) {
        Failure::Own(Error::Libvirt(format!(
            "host {host}: {}",
            context(e.message().trim().to_string())
        )))
    } else {
        failed(host, e, context)
    }
}

/// Creates the guest; on any failure removes what it made.
pub fn create(
    host: &str,
    uri: &str,
    conn: &Connect,
    spec: &NewGuest,
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
        Some(Nic::Network(n)) => {
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
            Some((NicSource::Network(n.clone()), spec.preset.nic_model.clone()))
        }
        Some(Nic::Bridge(b)) => Some((NicSource::Bridge(b.clone()), spec.preset.nic_model.clone())),
    };
    let bus = spec.preset.disk_bus.clone();
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
        InstallSource::Import { pool, volume } => {
            let (b, format, _) = backing(host, conn, pool, volume)?;
            add_disk(b, format, "disk", &mut disks);
        }
        InstallSource::Iso { pool, volume } => {
            let (b, _, _) = backing(host, conn, pool, volume)?;
            add_disk(b, Some("raw".into()), "cdrom", &mut disks);
            boot.push("cdrom".to_string());
        }
        InstallSource::Network => boot.push("network".to_string()),
    }
    // The new disk is made last, after every check: nothing to undo before.
    let mut made: Option<String> = None;
    if let Some((pool, vol)) = &spec.disk {
        let summary = storage_volume::create(host, conn, pool.as_str(), &vol.into())?;
        made = Some(summary.path.clone());
        match backing(host, conn, pool.as_str(), vol.name.as_str()) {
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
        osinfo: spec.preset.osinfo.clone(),
        disks,
        nic,
        boot,
        // The display listens where virtdeck reaches the host.
        vnc: qemu.then(|| (super::uri_host(uri), random_password())),
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

/// The volume behind a disk: (pool, volume, capacity) if libvirt knows it.
fn volume_of(conn: &Connect, backing: &DiskBacking) -> Option<(String, String, u64, String)> {
    let vol = match backing {
        DiskBacking::File(p) | DiskBacking::Block(p) => conn.lookup_storage_vol_by_path(p).ok()?,
        DiskBacking::Volume { pool, volume } => conn
            .lookup_storage_pool_by_name(pool)
            .ok()?
            .lookup_storage_vol_by_name(volume)
            .ok()?,
    };
    let pool = vol.lookup_storage_pool().ok()?.name().ok()?;
    let info = vol.info().ok()?;
    Some((pool, vol.name().ok()?, info.capacity, vol.path().ok()?))
}

fn same_disk(source: &DiskSource, backing: &DiskBacking, path: Option<&str>) -> bool {
    match (source, backing) {
        (DiskSource::Path(p), _) => Some(p.as_str()) == path,
        (
            DiskSource::Volume { pool, volume },
            DiskBacking::Volume {
                pool: bp,
                volume: bv,
            },
        ) => pool == bp && volume == bv,
        _ => false,
    }
}

fn path_of(backing: &DiskBacking) -> Option<&str> {
    match backing {
        DiskBacking::File(p) | DiskBacking::Block(p) => Some(p),
        DiskBacking::Volume { .. } => None,
    }
}

/// The other guests of the host using the same storage as `backing`.
fn sharing(
    users: &[DiskUser],
    uuid: &str,
    backing: &DiskBacking,
    path: Option<&str>,
) -> Vec<String> {
    users
        .iter()
        .filter(|u| !u.guest.uuid.eq_ignore_ascii_case(uuid))
        .filter(|u| u.disks.iter().any(|d| same_disk(d, backing, path)))
        .map(|u| u.guest.name.clone())
        .collect()
}

pub fn detail(
    host: &str,
    conn: &Connect,
    uuid: &str,
    running_since: Option<String>,
) -> Result<GuestDetail, Failure> {
    let dom = lookup(host, conn, uuid)?;
    let guest = domain::read_one(conn, uuid)?.ok_or_else(|| {
        Failure::Own(Error::NotFound(format!(
            "host {host} has no guest with UUID {uuid}"
        )))
    })?;
    let o = gx::overview(&dom.xml_desc(0)?).map_err(unreadable)?;
    let users = domain::disk_users(conn)?;
    let disks = o
        .disks
        .iter()
        .map(|d| {
            let found = d.backing.as_ref().and_then(|b| volume_of(conn, b));
            let path = d
                .backing
                .as_ref()
                .and_then(|b| path_of(b).map(str::to_string))
                .or_else(|| found.as_ref().map(|f| f.3.clone()));
            DiskInfo {
                target: d.target.clone(),
                device: d.device.clone(),
                bus: d.bus.clone(),
                shared_with: d
                    .backing
                    .as_ref()
                    .map(|b| sharing(&users, uuid, b, path.as_deref()))
                    .unwrap_or_default(),
                path,
                pool: found.as_ref().map(|f| f.0.clone()),
                volume: found.as_ref().map(|f| f.1.clone()),
                format: d.format.clone(),
                capacity: found.as_ref().map(|f| f.2),
                readonly: d.readonly,
            }
        })
        .collect();
    let snapshots = dom.list_all_snapshots(0).map(|s| s.len()).unwrap_or(0) as u32;
    let running = dom.is_active().unwrap_or(false);
    Ok(GuestDetail {
        memory_kib: guest.memory_kib,
        max_memory_kib: o.max_memory_kib,
        max_vcpus: o.max_vcpus,
        accel: o.accel,
        arch: o.arch,
        machine: o.machine,
        firmware: o.firmware.unwrap_or_default(),
        boot: o.boot,
        os: o.os,
        disks,
        nics: o.nics,
        graphics: o.graphics,
        serial: o.serial,
        snapshots,
        running_since: running.then_some(running_since).flatten(),
        // Until this module answers in its own types too.
        guest: GuestSummary {
            host: host.to_string(),
            name: guest.name,
            uuid: guest.uuid,
            state: guest.state.into(),
            vcpus: guest.vcpus,
            memory_kib: guest.memory_kib,
            persistent: guest.persistent,
            autostart: guest.autostart,
            stale: false,
        },
    })
}

pub fn stats(host: &str, conn: &Connect, uuid: &str) -> Result<GuestStats, Failure> {
    let dom = lookup(host, conn, uuid)?;
    let info = dom.info()?;
    let mut used = None;
    let mut rss = None;
    if dom.is_active().unwrap_or(false) {
        if let Ok(stats) = dom.memory_stats(0) {
            let get = |tag: u32| stats.iter().find(|s| s.tag == tag).map(|s| s.val);
            rss = get(sys::VIR_DOMAIN_MEMORY_STAT_RSS);
            if let (Some(avail), Some(unused)) = (
                get(sys::VIR_DOMAIN_MEMORY_STAT_AVAILABLE),
                get(sys::VIR_DOMAIN_MEMORY_STAT_UNUSED),
            ) {
                used = Some(avail.saturating_sub(unused));
            }
        }
    }
    let at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Ok(GuestStats {
        at_ms,
        cpu_time_ns: info.cpu_time,
        vcpus: info.nr_virt_cpu,
        memory_kib: info.memory,
        memory_used_kib: used,
        rss_kib: rss,
    })
}

/// The definition for the next boot, editable.
fn config_tree(dom: &Domain) -> Result<Node, Failure> {
    let xml = dom.xml_desc(sys::VIR_DOMAIN_XML_INACTIVE | sys::VIR_DOMAIN_XML_SECURE)?;
    Node::parse("domain", &xml).map_err(unreadable)
}

fn devices(tree: &mut Node) -> &mut Node {
    tree.ensure_child("devices")
}

pub fn update(host: &str, conn: &Connect, uuid: &str, u: &GuestUpdate) -> Result<(), Failure> {
    let dom = lookup(host, conn, uuid)?;
    let name = dom.name()?;
    let active = dom.is_active()?;
    let persistent = dom.is_persistent()?;
    let node = conn.node_info()?;
    if let Some(mib) = u.memory_mib {
        if mib > node.memory / 1024 {
            return Err(Failure::Own(Error::Invalid(format!(
                "memory_mib: {mib} MiB is more than host {host} has ({} MiB)",
                node.memory / 1024
            ))));
        }
    }
    if let Some(n) = u.vcpus {
        if n > node.cpus {
            return Err(Failure::Own(Error::Invalid(format!(
                "vcpus: {n} is more than host {host} has ({} CPUs)",
                node.cpus
            ))));
        }
    }
    if !persistent && (u.boot.is_some() || u.autostart.is_some()) {
        return Err(Failure::Own(Error::Conflict(format!(
            "{name} is a transient guest (it has no definition to keep a boot order or autostart)"
        ))));
    }
    // Everything is checked before anything changes.
    let disk = match &u.attach_disk {
        None => None,
        Some(d) => {
            let (b, format, _) = backing(host, conn, &d.pool, &d.volume)?;
            Some((b, format, d.clone()))
        }
    };
    if let Some(a) = &u.attach_nic {
        if let Some(n) = &a.network {
            conn.lookup_network_by_name(n).map_err(|_| {
                Failure::Own(Error::NotFound(format!(
                    "host {host} has no network named {:?}",
                    clip(n)
                )))
            })?;
        }
    }
    let mut tree = config_tree(&dom)?;
    let live_tree = if active {
        Some(Node::parse("domain", &dom.xml_desc(0)?).map_err(unreadable)?)
    } else {
        None
    };
    let current = live_tree.as_ref().unwrap_or(&tree);
    let find_disk = |t: &Node, target: &str| -> Option<Node> {
        t.child("devices")?
            .children_named("disk")
            .find(|d| d.child("target").and_then(|t| t.attr("dev")) == Some(target))
            .cloned()
    };
    let find_nic = |t: &Node, mac: &str| -> Option<Node> {
        t.child("devices")?
            .children_named("interface")
            .find(|i| {
                i.child("mac")
                    .and_then(|m| m.attr("address"))
                    .is_some_and(|a| a.eq_ignore_ascii_case(mac))
            })
            .cloned()
    };
    let detach_disk = match &u.detach_disk {
        None => None,
        Some(t) => Some(
            find_disk(current, t)
                .ok_or_else(|| Failure::Own(Error::NotFound(format!("{name} has no disk {t}"))))?,
        ),
    };
    let detach_nic = match &u.detach_nic {
        None => None,
        Some(m) => Some(find_nic(current, m).ok_or_else(|| {
            Failure::Own(Error::NotFound(format!(
                "{name} has no network interface {m}"
            )))
        })?),
    };
    let defined = gx::overview(&tree.to_xml()).map_err(unreadable)?;
    let (max_kib, max_vcpus) = (defined.max_memory_kib, defined.max_vcpus);
    if active {
        if let Some(mib) = u.memory_mib {
            if mib * 1024 > max_kib {
                return Err(Failure::Own(Error::Conflict(format!(
                    "{name} is running and can have at most {} MiB until it is shut down: shut it down to give it more",
                    max_kib / 1024
                ))));
            }
        }
        if let Some(n) = u.vcpus {
            if n > max_vcpus {
                return Err(Failure::Own(Error::Conflict(format!(
                    "{name} is running and can have at most {max_vcpus} vCPUs until it is shut down: shut it down to give it more"
                ))));
            }
        }
    }
    let flags_live = sys::VIR_DOMAIN_AFFECT_LIVE
        | if persistent {
            sys::VIR_DOMAIN_AFFECT_CONFIG
        } else {
            0
        };
    let failed_here =
        |what: &'static str| move |e| refused(host, conn, e, |m| format!("cannot {what}: {m}"));

    // The new disk's and interface's elements.
    let disk_node = disk.map(|(b, format, d)| {
        let device = d.device.clone().unwrap_or_else(|| "disk".into());
        let bus = if device == "cdrom" {
            "sata".to_string()
        } else {
            d.bus.clone().unwrap_or_else(|| "virtio".into())
        };
        let taken: Vec<String> = current
            .child("devices")
            .map(|devs| {
                devs.children_named("disk")
                    .filter_map(|d| d.child("target").and_then(|t| t.attr("dev")))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Node::from(&gx::disk_element(&DiskXml {
            backing: b,
            device: device.clone(),
            format: if device == "cdrom" {
                Some("raw".into())
            } else {
                format
            },
            target: gx::next_target(&bus, &taken),
            bus,
            readonly: device == "cdrom",
        }))
    });
    let nic_node = u.attach_nic.as_ref().map(|a| {
        let source = match (&a.network, &a.bridge) {
            (Some(n), _) => NicSource::Network(n.clone()),
            (None, Some(b)) => NicSource::Bridge(b.clone()),
            (None, None) => NicSource::Network("default".into()),
        };
        Node::from(&gx::nic_element(
            &source,
            a.model.as_deref().unwrap_or("virtio"),
            None,
        ))
    });

    if active {
        // Applied now (and to the definition): libvirt says when it cannot.
        // The running guest first, then its definition (some drivers refuse both at once).
        let scopes: &[u32] = if persistent {
            &[sys::VIR_DOMAIN_AFFECT_LIVE, sys::VIR_DOMAIN_AFFECT_CONFIG]
        } else {
            &[sys::VIR_DOMAIN_AFFECT_LIVE]
        };
        for &scope in scopes {
            if let Some(mib) = u.memory_mib {
                dom.set_memory_flags(mib * 1024, scope)
                    .map_err(failed_here("change the memory"))?;
            }
            if let Some(n) = u.vcpus {
                dom.set_vcpus_flags(n, scope)
                    .map_err(failed_here("change the vCPUs"))?;
            }
        }
        if let Some(d) = &disk_node {
            dom.attach_device_flags(&d.to_xml(), flags_live)
                .map_err(failed_here("attach the disk"))?;
        }
        if let Some(d) = &detach_disk {
            dom.detach_device_flags(&d.to_xml(), flags_live)
                .map_err(failed_here("detach the disk"))?;
        }
        if let Some(n) = &nic_node {
            dom.attach_device_flags(&n.to_xml(), flags_live)
                .map_err(failed_here("attach the network interface"))?;
        }
        if let Some(n) = &detach_nic {
            dom.detach_device_flags(&n.to_xml(), flags_live)
                .map_err(failed_here("detach the network interface"))?;
        }
        if u.boot.is_some() {
            tree = config_tree(&dom)?;
        }
    } else {
        // One new definition with every change.
        if let Some(mib) = u.memory_mib {
            for tag in ["memory", "currentMemory"] {
                let n = tree.ensure_child(tag);
                n.attrs.clear();
                n.set_attr("unit", "KiB");
                n.set_text(mib * 1024);
            }
        }
        if let Some(n) = u.vcpus {
            let v = tree.ensure_child("vcpu");
            v.remove_attr("current");
            v.set_text(n);
        }
        if let Some(d) = disk_node {
            devices(&mut tree).insert_grouped(d);
        }
        if let Some(target) = &u.detach_disk {
            devices(&mut tree).remove_children("disk", |d| {
                d.child("target").and_then(|t| t.attr("dev")) == Some(target.as_str())
            });
        }
        if let Some(n) = nic_node {
            devices(&mut tree).insert_grouped(n);
        }
        if let Some(mac) = &u.detach_nic {
            devices(&mut tree).remove_children("interface", |i| {
                i.child("mac")
                    .and_then(|m| m.attr("address"))
                    .is_some_and(|a| a.eq_ignore_ascii_case(mac))
            });
        }
    }
    if let Some(order) = &u.boot {
        let os = tree.ensure_child("os");
        os.remove_children("boot", |_| true);
        for dev in order {
            let mut b = Node::new("boot");
            b.set_attr("dev", dev);
            os.insert_grouped(b);
        }
        // Per-device boot order cannot be mixed with the list: it goes.
        for dev in devices(&mut tree).children.iter_mut() {
            dev.remove_children("boot", |_| true);
        }
    }
    let redefine = !active
        && (u.memory_mib.is_some()
            || u.vcpus.is_some()
            || u.attach_disk.is_some()
            || u.detach_disk.is_some()
            || u.attach_nic.is_some()
            || u.detach_nic.is_some())
        || u.boot.is_some();
    if redefine {
        conn.define_domain_xml(&tree.to_xml())
            .map_err(failed_here("save the guest's new definition"))?;
    }
    if let Some(on) = u.autostart {
        dom.set_autostart(on)
            .map_err(failed_here("change autostart"))?;
    }
    Ok(())
}

/// Deletes the guest and those of its volumes listed in `paths`.
pub fn delete(
    host: &str,
    conn: &Connect,
    uuid: &str,
    paths: &[String],
) -> Result<DeleteReport, Failure> {
    let dom = lookup(host, conn, uuid)?;
    let name = dom.name()?;
    let o = gx::overview(&dom.xml_desc(0)?).map_err(unreadable)?;
    // Every requested volume must be one of this guest's disks, used by no other.
    let users = domain::disk_users(conn)?;
    let mut volumes = Vec::new();
    for path in paths {
        let disk = o.disks.iter().find_map(|d| {
            let b = d.backing.as_ref()?;
            let p = path_of(b)
                .map(str::to_string)
                .or_else(|| volume_of(conn, b).map(|f| f.3))?;
            (p == *path).then_some(b)
        });
        let Some(backing) = disk else {
            return Err(Failure::Own(Error::Invalid(format!(
                "{:?} is not a disk of {name}: nothing was deleted",
                clip(path)
            ))));
        };
        let others = sharing(&users, uuid, backing, Some(path));
        if !others.is_empty() {
            return Err(Failure::Own(Error::Conflict(format!(
                "volume {path} is also used by {}: it cannot be deleted with {name}. Untick it to keep it; nothing was deleted.",
                others.join(", ")
            ))));
        }
        let vol = conn.lookup_storage_vol_by_path(path).map_err(|_| {
            Failure::Own(Error::Conflict(format!(
                "{path} is not a volume of any storage pool of host {host}, so virtdeck cannot delete it: untick it; nothing was deleted"
            )))
        })?;
        volumes.push((path.clone(), vol));
    }
    let mut stopped = false;
    if dom.is_active()? {
        dom.destroy()
            .map_err(|e| failed(host, e, |m| format!("cannot stop {name}: {m}")))?;
        stopped = true;
    }
    if dom.is_persistent().unwrap_or(false) {
        let all = sys::VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
            | sys::VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
            | sys::VIR_DOMAIN_UNDEFINE_NVRAM
            | sys::VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
        if let Err(e) = dom.undefine_flags(all) {
            // Drivers without NVRAM or checkpoints refuse those flags.
            if matches!(
                code(&e),
                Some(
                    ErrorNumber::InvalidArg
                        | ErrorNumber::NoSupport
                        | ErrorNumber::ArgumentUnsupported
                )
            ) {
                dom.undefine_flags(
                    sys::VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                        | sys::VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
                )
                .map_err(|e| failed(host, e, |m| format!("cannot delete {name}: {m}")))?;
            } else {
                return Err(failed(host, e, |m| format!("cannot delete {name}: {m}")));
            }
        }
    }
    let mut deleted_volumes = Vec::new();
    let mut errors = Vec::new();
    for (path, vol) in volumes {
        match vol.delete(0) {
            Ok(()) => deleted_volumes.push(path),
            Err(e) => errors.push(format!(
                "volume {path} could not be deleted: {}",
                e.message()
            )),
        }
    }
    Ok(DeleteReport {
        name,
        deleted_volumes,
        stopped,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_passwords_fit_vnc() {
        assert_eq!(random_password().len(), 8);
        assert_ne!(random_password(), random_password());
    }
}
