//! The parts of a guest's definition that storage needs: where its disks are.

use super::{child, children, parse, XmlError};

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
    Ok(children(devices, "disk")
        .filter_map(|disk| {
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
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
