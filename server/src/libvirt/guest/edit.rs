//! Edits: memory and vCPUs, boot order, autostart, and disks and network
//! interfaces attached or detached — live where the guest runs (and to its
//! definition), as one new definition where it does not.

use virt::connect::Connect;

use super::{backing, config_tree, devices, lookup, refused, unreadable, Failure};
use crate::libvirt::{
    error::{clip, Error},
    sys,
    xml::{
        guest::{self as gx, DiskXml, NicSource},
        tree::Node,
    },
};

/// A volume to attach as a disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachDisk {
    pub pool: String,
    pub volume: String,
    /// `disk` (default) or `cdrom`.
    pub device: Option<String>,
    /// `virtio` (default), `sata`, …
    pub bus: Option<String>,
}

/// A network interface to attach.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttachNic {
    pub network: Option<String>,
    pub bridge: Option<String>,
    pub model: Option<String>,
}

/// The changes to make, checked by the caller (`None`: unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Edit {
    pub memory_mib: Option<u64>,
    pub vcpus: Option<u32>,
    pub autostart: Option<bool>,
    /// Boot devices in order: `hd`, `cdrom`, `network`.
    pub boot: Option<Vec<String>>,
    pub attach_disk: Option<AttachDisk>,
    /// The target (`vdb`) of the disk to detach.
    pub detach_disk: Option<String>,
    pub attach_nic: Option<AttachNic>,
    /// The MAC address of the interface to detach.
    pub detach_nic: Option<String>,
}

pub fn update(host: &str, conn: &Connect, uuid: &str, u: &Edit) -> Result<(), Failure> {
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
            crate::libvirt::storage_volume::refuse_foreign_files(host, conn, &d.pool, &d.volume)?;
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
