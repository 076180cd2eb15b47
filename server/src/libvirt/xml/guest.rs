//! A new guest's definition, the devices virtdeck attaches, and the overview
//! read back from a definition. Built from typed values with the XML writer.

use super::{child, child_attr, child_text, children, el, parse, Element, XmlError};

/// What a guest boots from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Firmware {
    #[default]
    Bios,
    Uefi,
}

/// One network interface as a definition describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicRead {
    pub mac: Option<String>,
    /// `network`, `bridge`, `direct`, …
    pub kind: String,
    /// The network, bridge or device it is attached to.
    pub source: Option<String>,
    pub model: Option<String>,
}

/// One graphical display as a definition describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphicsRead {
    /// `vnc`, `spice`, …
    pub kind: String,
    pub port: Option<u32>,
    pub listen: Option<String>,
    /// It has a password (never read back here).
    pub password: bool,
}

/// How a disk's storage is named in the definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskBacking {
    File(String),
    Block(String),
    Volume { pool: String, volume: String },
}

/// One disk or CD-ROM to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskXml {
    pub backing: DiskBacking,
    /// `disk` or `cdrom`.
    pub device: String,
    /// `qcow2`, `raw`; `None`: let libvirt probe nothing, say raw.
    pub format: Option<String>,
    pub target: String,
    pub bus: String,
    pub readonly: bool,
}

/// One network interface to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NicSource {
    Network(String),
    Bridge(String),
}

/// Everything a new guest's definition says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestXml {
    pub name: String,
    /// `kvm`, `qemu` or `test`.
    pub accel: String,
    pub arch: Option<String>,
    /// `q35` for QEMU guests on x86; `None` lets libvirt choose.
    pub machine: Option<String>,
    pub memory_kib: u64,
    pub vcpus: u32,
    pub firmware: Firmware,
    pub osinfo: String,
    pub disks: Vec<DiskXml>,
    pub nic: Option<(NicSource, String)>,
    /// Boot devices in order: `hd`, `cdrom`, `network`.
    pub boot: Vec<String>,
    /// Where the VNC display listens, and its password.
    pub vnc: Option<(String, String)>,
}

pub fn disk_element(d: &DiskXml) -> Element {
    let (kind, source) = match &d.backing {
        DiskBacking::File(p) => ("file", el("source").attr("file", p)),
        DiskBacking::Block(p) => ("block", el("source").attr("dev", p)),
        DiskBacking::Volume { pool, volume } => (
            "volume",
            el("source").attr("pool", pool).attr("volume", volume),
        ),
    };
    el("disk")
        .attr("type", kind)
        .attr("device", &d.device)
        .child(
            el("driver")
                .attr("name", "qemu")
                .attr("type", d.format.as_deref().unwrap_or("raw")),
        )
        .child(source)
        .child(el("target").attr("dev", &d.target).attr("bus", &d.bus))
        .child_opt(d.readonly.then(|| el("readonly")))
}

pub fn nic_element(source: &NicSource, model: &str, mac: Option<&str>) -> Element {
    let (kind, src) = match source {
        NicSource::Network(n) => ("network", el("source").attr("network", n)),
        NicSource::Bridge(b) => ("bridge", el("source").attr("bridge", b)),
    };
    el("interface")
        .attr("type", kind)
        .child_opt(mac.map(|m| el("mac").attr("address", m)))
        .child(src)
        .child(el("model").attr("type", model))
}

/// The definition of a new guest.
pub fn new_guest(g: &GuestXml) -> String {
    let qemu = g.accel != "test";
    let mut os_type = el("type").text("hvm");
    if let Some(arch) = &g.arch {
        os_type = os_type.attr("arch", arch);
    }
    if let Some(machine) = &g.machine {
        os_type = os_type.attr("machine", machine);
    }
    let mut os = el("os");
    if g.firmware == Firmware::Uefi {
        os = os.attr("firmware", "efi");
    }
    os = os.child(os_type);
    for dev in &g.boot {
        os = os.child(el("boot").attr("dev", dev));
    }
    let mut devices = el("devices");
    for d in &g.disks {
        devices = devices.child(disk_element(d));
    }
    if let Some((source, model)) = &g.nic {
        devices = devices.child(nic_element(source, model, None));
    }
    if qemu {
        // A serial console (for the in-browser terminal) and a display.
        devices = devices
            .child(
                el("serial")
                    .attr("type", "pty")
                    .child(el("target").attr("port", 0)),
            )
            .child(
                el("console")
                    .attr("type", "pty")
                    .child(el("target").attr("type", "serial").attr("port", 0)),
            );
        if let Some((listen, password)) = &g.vnc {
            devices = devices
                .child(
                    el("graphics")
                        .attr("type", "vnc")
                        .attr("port", -1)
                        .attr("autoport", "yes")
                        .attr("passwd", password)
                        .child(el("listen").attr("type", "address").attr("address", listen)),
                )
                .child(el("video").child(el("model").attr("type", "virtio")))
                .child(el("input").attr("type", "tablet").attr("bus", "usb"));
        }
        devices = devices.child(el("memballoon").attr("model", "virtio"));
    }
    let mut domain = el("domain")
        .attr("type", &g.accel)
        .child(el("name").text(&g.name))
        .child(
            el("metadata").child(
                el("libosinfo:libosinfo")
                    .attr(
                        "xmlns:libosinfo",
                        "http://libosinfo.org/xmlns/libvirt/domain/1.0",
                    )
                    .child(el("libosinfo:os").attr("id", &g.osinfo)),
            ),
        )
        .child(el("memory").attr("unit", "KiB").text(g.memory_kib))
        .child(el("currentMemory").attr("unit", "KiB").text(g.memory_kib))
        .child(el("vcpu").text(g.vcpus))
        .child(os);
    if qemu {
        domain = domain
            .child(el("features").child(el("acpi")).child(el("apic")))
            .child_opt((g.accel == "kvm").then(|| el("cpu").attr("mode", "host-model")))
            .child(el("clock").attr("offset", "utc"));
    }
    domain
        .child(el("on_poweroff").text("destroy"))
        .child(el("on_reboot").text("restart"))
        .child(el("on_crash").text("destroy"))
        .child(devices)
        .to_xml()
}

/// One disk as a definition describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskRead {
    pub target: String,
    pub device: String,
    pub bus: Option<String>,
    pub backing: Option<DiskBacking>,
    pub format: Option<String>,
    pub readonly: bool,
    pub shareable: bool,
    /// `<disk type='network'>`: iSCSI, RBD, NBD… reached over the network,
    /// `protocol name` (the backing is `None`).
    pub network: Option<String>,
}

/// The overview's parts a definition holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Overview {
    pub accel: String,
    pub arch: Option<String>,
    pub machine: Option<String>,
    pub max_memory_kib: u64,
    pub memory_kib: u64,
    pub max_vcpus: u32,
    pub firmware: Option<Firmware>,
    pub boot: Vec<String>,
    pub os: Option<String>,
    pub disks: Vec<DiskRead>,
    pub nics: Vec<NicRead>,
    pub graphics: Vec<GraphicsRead>,
    pub serial: bool,
}

fn kib(node: roxmltree::Node, tag: &str) -> u64 {
    super::size(node, tag) / 1024
}

pub fn overview(xml: &str) -> Result<Overview, XmlError> {
    let doc = parse("domain", xml)?;
    let dom = doc.root_element();
    let os = child(dom, "os");
    let os_type = os.and_then(|os| child(os, "type"));
    let devices = child(dom, "devices");
    let devs = |tag: &'static str| devices.into_iter().flat_map(move |d| children(d, tag));
    let uefi = os.is_some_and(|os| {
        os.attribute("firmware") == Some("efi")
            || child(os, "loader").is_some_and(|l| l.attribute("type") == Some("pflash"))
    });
    let memory_unit_fix = |tag| {
        // `<memory>` defaults to KiB, unlike the storage sizes.
        let n = child(dom, tag);
        match n.and_then(|n| n.attribute("unit")) {
            None => n
                .and_then(|n| n.text())
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0),
            Some(_) => kib(dom, tag),
        }
    };
    Ok(Overview {
        accel: dom.attribute("type").unwrap_or("").to_string(),
        arch: os_type
            .and_then(|t| t.attribute("arch"))
            .map(str::to_string),
        machine: os_type
            .and_then(|t| t.attribute("machine"))
            .map(str::to_string),
        max_memory_kib: memory_unit_fix("memory"),
        memory_kib: memory_unit_fix("currentMemory"),
        max_vcpus: child_text(dom, "vcpu")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
        firmware: Some(if uefi { Firmware::Uefi } else { Firmware::Bios }),
        boot: os
            .into_iter()
            .flat_map(|os| children(os, "boot"))
            .filter_map(|b| b.attribute("dev").map(str::to_string))
            .collect(),
        os: dom
            .descendants()
            .find(|n| n.tag_name().name() == "os" && n.tag_name().namespace().is_some())
            .and_then(|n| n.attribute("id"))
            .map(str::to_string),
        disks: devs("disk")
            .map(|d| {
                let source = child(d, "source");
                let backing = source.and_then(|s| match d.attribute("type").unwrap_or("file") {
                    "volume" => Some(DiskBacking::Volume {
                        pool: s.attribute("pool")?.to_string(),
                        volume: s.attribute("volume")?.to_string(),
                    }),
                    "block" => s.attribute("dev").map(|p| DiskBacking::Block(p.into())),
                    "file" => s.attribute("file").map(|p| DiskBacking::File(p.into())),
                    _ => None,
                });
                DiskRead {
                    target: child_attr(d, "target", "dev").unwrap_or_default(),
                    device: d.attribute("device").unwrap_or("disk").to_string(),
                    bus: child_attr(d, "target", "bus"),
                    backing,
                    format: child_attr(d, "driver", "type"),
                    readonly: child(d, "readonly").is_some(),
                    shareable: child(d, "shareable").is_some(),
                    network: (d.attribute("type") == Some("network")).then(|| {
                        let protocol = source.and_then(|s| s.attribute("protocol"));
                        let name = source.and_then(|s| s.attribute("name"));
                        format!("{} {}", protocol.unwrap_or("network"), name.unwrap_or(""))
                            .trim_end()
                            .to_string()
                    }),
                }
            })
            .collect(),
        nics: devs("interface")
            .map(|i| {
                let kind = i.attribute("type").unwrap_or("").to_string();
                let source = child(i, "source").and_then(|s| {
                    s.attribute("network")
                        .or_else(|| s.attribute("bridge"))
                        .or_else(|| s.attribute("dev"))
                        .map(str::to_string)
                });
                NicRead {
                    mac: child_attr(i, "mac", "address"),
                    kind,
                    source,
                    model: child_attr(i, "model", "type"),
                }
            })
            .collect(),
        graphics: devs("graphics")
            .map(|g| GraphicsRead {
                kind: g.attribute("type").unwrap_or("").to_string(),
                port: g
                    .attribute("port")
                    .and_then(|p| p.parse::<i64>().ok())
                    .filter(|p| *p > 0)
                    .map(|p| p as u32),
                listen: g
                    .attribute("listen")
                    .map(str::to_string)
                    .or_else(|| child_attr(g, "listen", "address")),
                password: g.attribute("passwd").is_some(),
            })
            .collect(),
        serial: devs("serial").any(|s| s.attribute("type") == Some("pty"))
            || devs("console").any(|s| s.attribute("type") == Some("pty")),
    })
}

/// The next free target name (`vdb`, `sdc`) for a disk on `bus`.
pub fn next_target(bus: &str, taken: &[String]) -> String {
    let prefix = match bus {
        "virtio" => "vd",
        "ide" => "hd",
        _ => "sd",
    };
    (b'a'..=b'z')
        .map(|c| format!("{prefix}{}", c as char))
        .find(|t| !taken.contains(t))
        .unwrap_or_else(|| format!("{prefix}aa"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> GuestXml {
        GuestXml {
            name: "web<01>&'x".into(),
            accel: "qemu".into(),
            arch: Some("x86_64".into()),
            machine: Some("q35".into()),
            memory_kib: 1 << 20,
            vcpus: 2,
            firmware: Firmware::Uefi,
            osinfo: "http://debian.org/debian/12".into(),
            disks: vec![
                DiskXml {
                    backing: DiskBacking::File("/var/lib/libvirt/images/web01.qcow2".into()),
                    device: "disk".into(),
                    format: Some("qcow2".into()),
                    target: "vda".into(),
                    bus: "virtio".into(),
                    readonly: false,
                },
                DiskXml {
                    backing: DiskBacking::Volume {
                        pool: "isos".into(),
                        volume: "debian.iso".into(),
                    },
                    device: "cdrom".into(),
                    format: None,
                    target: "sda".into(),
                    bus: "sata".into(),
                    readonly: true,
                },
            ],
            nic: Some((NicSource::Network("default".into()), "virtio".into())),
            boot: vec!["cdrom".into(), "hd".into()],
            vnc: Some(("127.0.0.2".into(), "pw'\"<>".into())),
        }
    }

    #[test]
    fn a_new_definition_reads_back_as_written() {
        let xml = new_guest(&spec());
        let o = overview(&xml).unwrap();
        assert_eq!(o.accel, "qemu");
        assert_eq!(o.machine.as_deref(), Some("q35"));
        assert_eq!(
            (o.memory_kib, o.max_memory_kib, o.max_vcpus),
            (1 << 20, 1 << 20, 2)
        );
        assert_eq!(o.firmware, Some(Firmware::Uefi));
        assert_eq!(o.boot, ["cdrom", "hd"]);
        assert_eq!(o.os.as_deref(), Some("http://debian.org/debian/12"));
        assert_eq!(o.disks.len(), 2);
        assert_eq!(
            o.disks[0].backing,
            Some(DiskBacking::File(
                "/var/lib/libvirt/images/web01.qcow2".into()
            ))
        );
        assert_eq!(o.disks[0].format.as_deref(), Some("qcow2"));
        assert!(o.disks[1].readonly);
        assert_eq!(o.nics[0].source.as_deref(), Some("default"));
        assert_eq!(o.graphics[0].listen.as_deref(), Some("127.0.0.2"));
        assert!(o.graphics[0].password && o.serial);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(
            child_text(doc.root_element(), "name").as_deref(),
            Some("web<01>&'x")
        );
    }

    #[test]
    fn test_driver_guests_get_no_qemu_devices_and_targets_are_found() {
        let xml = new_guest(&GuestXml {
            accel: "test".into(),
            machine: None,
            vnc: None,
            ..spec()
        });
        let o = overview(&xml).unwrap();
        assert!(o.graphics.is_empty() && !o.serial);
        assert_eq!(next_target("virtio", &["vda".into()]), "vdb");
        assert_eq!(next_target("sata", &[]), "sda");
    }
}
