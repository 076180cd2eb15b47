//! The parts of a guest's definition that virtdeck reads: where its disks are
//! (storage, migration), and its architecture, machine and CPU (migration).

use super::{child, child_text, children, parse, XmlError};

/// Where one disk of a guest reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskSource {
    /// A file or block device on the host (`<source file=…>` / `<source dev=…>`).
    Path(String),
    /// A volume named by pool (`<disk type='volume'>`).
    Volume { pool: String, volume: String },
    /// A network disk (iSCSI, NBD, RBD…): `name` as the protocol spells it.
    Network { protocol: String, name: String },
}

/// The disks (not CD-ROMs without media) of a guest definition.
pub fn disks(xml: &str) -> Result<Vec<DiskSource>, XmlError> {
    let doc = parse("domain", xml)?;
    let Some(devices) = child(doc.root_element(), "devices") else {
        return Ok(Vec::new());
    };
    Ok(children(devices, "disk").filter_map(disk_source).collect())
}

/// One disk device of a guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskDef {
    /// The guest's name for it: `vda`, `sda`.
    pub target: String,
    /// `disk`, `cdrom`, `floppy`, `lun`.
    pub device: String,
    pub readonly: bool,
    /// `None` for an empty CD-ROM drive.
    pub source: Option<DiskSource>,
}

/// What migration needs to know of a guest's definition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuestDef {
    pub name: String,
    /// `kvm`, `qemu`.
    pub virt_type: String,
    pub arch: Option<String>,
    pub machine: Option<String>,
    /// `custom`, `host-model`, `host-passthrough`, `maximum`; `None` without `<cpu>`.
    pub cpu_mode: Option<String>,
    pub cpu_model: Option<String>,
    /// The `<cpu>` element as written, to compare on another host.
    pub cpu_xml: Option<String>,
    pub disks: Vec<DiskDef>,
}

fn disk_source(disk: roxmltree::Node) -> Option<DiskSource> {
    let source = child(disk, "source")?;
    match disk.attribute("type").unwrap_or("file") {
        "volume" => Some(DiskSource::Volume {
            pool: source.attribute("pool")?.to_string(),
            volume: source.attribute("volume")?.to_string(),
        }),
        "network" => Some(DiskSource::Network {
            protocol: source.attribute("protocol").unwrap_or("").to_string(),
            name: source.attribute("name").unwrap_or("").to_string(),
        }),
        "block" => source
            .attribute("dev")
            .map(|p| DiskSource::Path(p.to_string())),
        _ => source
            .attribute("file")
            .or_else(|| source.attribute("dev"))
            .map(|p| DiskSource::Path(p.to_string())),
    }
}

/// Reads a guest's definition (`virDomainGetXMLDesc`).
pub fn guest(xml: &str) -> Result<GuestDef, XmlError> {
    let doc = parse("domain", xml)?;
    let dom = doc.root_element();
    let os_type = child(dom, "os").and_then(|os| child(os, "type"));
    let cpu = child(dom, "cpu");
    let disks = child(dom, "devices")
        .into_iter()
        .flat_map(|d| children(d, "disk"))
        .map(|disk| DiskDef {
            target: child(disk, "target")
                .and_then(|t| t.attribute("dev"))
                .unwrap_or("")
                .to_string(),
            device: disk.attribute("device").unwrap_or("disk").to_string(),
            readonly: child(disk, "readonly").is_some(),
            source: disk_source(disk),
        })
        .collect();
    Ok(GuestDef {
        name: child_text(dom, "name").unwrap_or_default(),
        virt_type: dom.attribute("type").unwrap_or("").to_string(),
        arch: os_type
            .and_then(|t| t.attribute("arch"))
            .map(str::to_string),
        machine: os_type
            .and_then(|t| t.attribute("machine"))
            .map(str::to_string),
        cpu_mode: cpu.map(|c| c.attribute("mode").unwrap_or("custom").to_string()),
        cpu_model: cpu.and_then(|c| child_text(c, "model")),
        cpu_xml: cpu.map(|c| xml[c.range()].to_string()),
        disks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_migration_needs() {
        let xml = r#"<domain type='qemu' id='3'><name>lab-guest</name>
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
  <cpu mode='custom' match='exact' check='full'><model fallback='forbid'>qemu64</model></cpu>
  <devices>
    <disk type='volume' device='disk'><source pool='lab-iscsi' volume='unit:0:0:1'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>
  </devices></domain>"#;
        let g = guest(xml).unwrap();
        assert_eq!(g.name, "lab-guest");
        assert_eq!(g.virt_type, "qemu");
        assert_eq!(g.arch.as_deref(), Some("x86_64"));
        assert_eq!(g.machine.as_deref(), Some("pc-i440fx-7.2"));
        assert_eq!(g.cpu_mode.as_deref(), Some("custom"));
        assert_eq!(g.cpu_model.as_deref(), Some("qemu64"));
        assert!(g
            .cpu_xml
            .as_deref()
            .unwrap()
            .starts_with("<cpu mode='custom'"));
        assert!(g.cpu_xml.as_deref().unwrap().ends_with("</cpu>"));
        assert_eq!(g.disks.len(), 2);
        assert_eq!(g.disks[0].target, "vda");
        assert_eq!(g.disks[1].device, "cdrom");
        assert!(g.disks[1].readonly && g.disks[1].source.is_none());
        let bare =
            guest("<domain type='kvm'><name>x</name><os><type>hvm</type></os></domain>").unwrap();
        assert_eq!((bare.cpu_mode, bare.cpu_xml, bare.arch), (None, None, None));
    }

    #[test]
    fn reads_every_kind_of_disk_source() {
        let xml = r#"<domain type='kvm'><name>g</name><devices>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/g.qcow2'/><target dev='vda'/></disk>
  <disk type='block' device='disk'><source dev='/dev/vg0/g-data'/><target dev='vdb'/></disk>
  <disk type='volume' device='disk'><source pool='lab-iscsi' volume='unit:0:0:1'/><target dev='vdc'/></disk>
  <disk type='network' device='disk'><source protocol='iscsi' name='iqn.x/1'><host name='h'/></source><target dev='vdd'/></disk>
  <disk type='file' device='cdrom'><target dev='sda'/></disk>
</devices></domain>"#;
        assert_eq!(
            disks(xml).unwrap(),
            [
                DiskSource::Path("/var/lib/libvirt/images/g.qcow2".into()),
                DiskSource::Path("/dev/vg0/g-data".into()),
                DiskSource::Volume {
                    pool: "lab-iscsi".into(),
                    volume: "unit:0:0:1".into()
                },
                DiskSource::Network {
                    protocol: "iscsi".into(),
                    name: "iqn.x/1".into()
                },
            ]
        );
        assert!(disks("<domain><name>x</name></domain>").unwrap().is_empty());
    }
}
