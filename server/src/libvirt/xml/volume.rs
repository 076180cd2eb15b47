//! Storage volume XML: the definition of a new volume (or a clone), and a
//! volume's XML read back.

use super::{child, child_attr, child_text, el, parse, size, XmlError};

/// The definition `virStorageVolCreateXML(From)` takes. `format` is left out
/// for pools whose volumes have none (block devices). qcow2 volumes get the
/// current on-disk version (compat 1.1); libvirt 9 would write 0.10.
pub fn definition(name: &str, format: Option<&str>, capacity: u64, allocation: u64) -> String {
    el("volume")
        .child(el("name").text(name))
        .child(el("capacity").attr("unit", "bytes").text(capacity))
        .child(el("allocation").attr("unit", "bytes").text(allocation))
        .child_opt(format.map(|f| {
            el("target")
                .child(el("format").attr("type", f))
                .child_opt((f == "qcow2").then(|| el("compat").text("1.1")))
        }))
        .to_xml()
}

/// What a volume's XML says.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeDoc {
    pub name: String,
    pub path: String,
    /// The format libvirt reports (`raw`, `qcow2`, …); `None` when it reports none.
    pub format: Option<String>,
    pub capacity: u64,
    pub allocation: u64,
}

/// Reads a volume's XML (`virStorageVolGetXMLDesc`).
pub fn read(xml: &str) -> Result<VolumeDoc, XmlError> {
    let doc = parse("storage volume", xml)?;
    let vol = doc.root_element();
    let target = child(vol, "target");
    Ok(VolumeDoc {
        name: child_text(vol, "name").unwrap_or_default(),
        path: target
            .and_then(|t| child_text(t, "path"))
            .or_else(|| child_text(vol, "key"))
            .unwrap_or_default(),
        format: target
            .and_then(|t| child_attr(t, "format", "type"))
            .filter(|f| f != "none"),
        capacity: size(vol, "capacity"),
        allocation: size(vol, "allocation"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_definition_reads_back_the_same() {
        let xml = definition("disk&1", Some("qcow2"), 1 << 30, 0);
        let doc = read(&xml).unwrap();
        assert_eq!(doc.name, "disk&1");
        assert_eq!(doc.format.as_deref(), Some("qcow2"));
        assert_eq!((doc.capacity, doc.allocation), (1 << 30, 0));
        assert!(!definition("lv1", None, 1 << 30, 1 << 30).contains("<target"));
    }

    #[test]
    fn reads_a_volume_as_libvirt_writes_it() {
        // `virsh vol-dumpxml` of a qcow2 file on libvirt 9.0.
        let xml = r#"<volume type='file'>
  <name>web01.qcow2</name>
  <key>/var/lib/libvirt/images/web01.qcow2</key>
  <capacity unit='bytes'>21474836480</capacity>
  <allocation unit='bytes'>200704</allocation>
  <physical unit='bytes'>196624</physical>
  <target>
    <path>/var/lib/libvirt/images/web01.qcow2</path>
    <format type='qcow2'/>
    <permissions><mode>0600</mode><owner>0</owner><group>0</group></permissions>
    <compat>1.1</compat>
  </target>
</volume>"#;
        let doc = read(xml).unwrap();
        assert_eq!(doc.path, "/var/lib/libvirt/images/web01.qcow2");
        assert_eq!(doc.capacity, 21_474_836_480);
        assert_eq!(doc.allocation, 200_704);
        assert_eq!(doc.format.as_deref(), Some("qcow2"));
        // A LUN of an iSCSI pool: no file format.
        let lun = r#"<volume type='network'><name>unit:0:0:1</name><key>ip-127.0.0.1:3260-iscsi-iqn.x-lun-1</key>
          <capacity unit='bytes'>268435456</capacity><allocation unit='bytes'>268435456</allocation>
          <target><path>ip-127.0.0.1:3260-iscsi-iqn.x-lun-1</path><format type='none'/></target></volume>"#;
        let doc = read(lun).unwrap();
        assert_eq!(doc.format, None);
        assert_eq!(doc.name, "unit:0:0:1");
    }
}
