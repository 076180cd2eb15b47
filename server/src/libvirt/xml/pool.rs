//! Storage pool XML: the definition of a new pool (`PoolDef`), a pool's
//! XML read back in this layer's terms, and the sources a scan found.

use super::{child, child_attr, child_text, children, el, parse, size, Element, XmlError};

/// Where a pool's storage comes from, as its XML says (the fields of the
/// `<source>` element that virtdeck reads and writes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    pub source_host: Option<String>,
    pub source_port: Option<u16>,
    pub source_path: Option<String>,
    pub source_device: Option<String>,
    pub source_name: Option<String>,
    pub source_format: Option<String>,
    pub source_adapter: Option<String>,
    pub initiator_iqn: Option<String>,
}

/// A pool to define: libvirt's type, name, target and source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolDef {
    /// Libvirt's pool type (`dir`, `netfs`, `iscsi-direct`, …).
    pub kind: String,
    pub name: String,
    pub target_path: Option<String>,
    pub source: Source,
}

/// The `<source>` element of a pool definition (or of a scan's hint).
fn source_element(kind: &str, source: &Source) -> Element {
    let mut s = el("source");
    if let Some(host) = &source.source_host {
        let mut h = el("host").attr("name", host);
        if let Some(port) = source.source_port {
            h = h.attr("port", port);
        }
        s = s.child(h);
    }
    if let Some(device) = &source.source_device {
        s = s.child(el("device").attr("path", device));
    }
    if let Some(path) = &source.source_path {
        s = s.child(el("dir").attr("path", path));
    }
    if let Some(adapter) = &source.source_adapter {
        s = s.child(
            el("adapter")
                .attr("type", "scsi_host")
                .attr("name", adapter),
        );
    }
    if let Some(name) = &source.source_name {
        s = s.child(el("name").text(name));
    }
    match (&source.source_format, kind) {
        (Some(format), _) => s = s.child(el("format").attr("type", format)),
        (None, "logical") => s = s.child(el("format").attr("type", "lvm2")),
        _ => {}
    }
    if let Some(iqn) = &source.initiator_iqn {
        s = s.child(el("initiator").child(el("iqn").attr("name", iqn)));
    }
    s
}

/// The pool definition libvirt's `virStoragePoolDefineXML` takes.
pub fn definition(def: &PoolDef) -> String {
    let source = source_element(&def.kind, &def.source);
    el("pool")
        .attr("type", &def.kind)
        .child(el("name").text(&def.name))
        .child_opt(source.has_children().then_some(source))
        .child_opt(
            def.target_path
                .as_ref()
                .map(|p| el("target").child(el("path").text(p))),
        )
        .to_xml()
}

/// The hint `virConnectFindStoragePoolSources` takes, if the type needs one.
/// Only the source's host, port and initiator are used.
pub fn scan_hint(hint: &Source) -> Option<String> {
    let source = Source {
        source_host: hint.source_host.clone(),
        source_port: hint.source_port,
        initiator_iqn: hint.initiator_iqn.clone(),
        ..Default::default()
    };
    let s = source_element("dir", &source);
    s.has_children().then(|| s.to_xml())
}

/// What a pool's XML says.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolDoc {
    pub name: String,
    pub uuid: String,
    /// Libvirt's pool type (`dir`, `netfs`, `iscsi-direct`, …).
    pub kind: String,
    pub capacity: u64,
    pub allocation: u64,
    pub available: u64,
    pub target_path: Option<String>,
    pub source: Source,
}

fn read_source(node: Option<roxmltree::Node>) -> Source {
    let Some(s) = node else {
        return Source::default();
    };
    let host = child(s, "host");
    Source {
        source_host: host
            .and_then(|h| h.attribute("name"))
            .map(str::to_string)
            .filter(|v| !v.is_empty()),
        source_port: host
            .and_then(|h| h.attribute("port"))
            .and_then(|p| p.parse().ok()),
        source_path: child_attr(s, "dir", "path"),
        source_device: child_attr(s, "device", "path"),
        source_name: child_text(s, "name"),
        source_format: child_attr(s, "format", "type"),
        source_adapter: child_attr(s, "adapter", "name")
            .or_else(|| child_attr(s, "adapter", "parent")),
        initiator_iqn: child(s, "initiator").and_then(|i| child_attr(i, "iqn", "name")),
    }
}

/// Reads a pool's XML (`virStoragePoolGetXMLDesc`).
pub fn read(xml: &str) -> Result<PoolDoc, XmlError> {
    let doc = parse("storage pool", xml)?;
    let pool = doc.root_element();
    let kind = pool.attribute("type").unwrap_or_default().to_string();
    let mut source = read_source(child(pool, "source"));
    // Libvirt fills in lvm2 for every logical pool: not something the user chose.
    if kind == "logical" && source.source_format.as_deref() == Some("lvm2") {
        source.source_format = None;
    }
    Ok(PoolDoc {
        name: child_text(pool, "name").unwrap_or_default(),
        uuid: child_text(pool, "uuid").unwrap_or_default(),
        kind,
        capacity: size(pool, "capacity"),
        allocation: size(pool, "allocation"),
        available: size(pool, "available"),
        target_path: child(pool, "target").and_then(|t| child_text(t, "path")),
        source,
    })
}

/// Reads the `<sources>` that `virConnectFindStoragePoolSources` answers.
pub fn read_sources(xml: &str) -> Result<Vec<Source>, XmlError> {
    let doc = parse("storage pool sources", xml)?;
    Ok(children(doc.root_element(), "source")
        .map(|s| read_source(Some(s)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_netfs_definition_reads_back_the_same() {
        let def = PoolDef {
            kind: "netfs".into(),
            name: "nfs1".into(),
            target_path: Some("/mnt/a&b <c>".into()),
            source: Source {
                source_host: Some("10.0.0.5".into()),
                source_path: Some("/srv/vm's".into()),
                source_format: Some("nfs".into()),
                ..Default::default()
            },
        };
        let xml = definition(&def);
        assert!(xml.contains("<pool type=\"netfs\">"), "{xml}");
        let back = read(&xml).unwrap();
        assert_eq!(back.name, "nfs1");
        assert_eq!(back.kind, "netfs");
        assert_eq!(back.target_path.as_deref(), Some("/mnt/a&b <c>"));
        assert_eq!(back.source, def.source);
    }

    #[test]
    fn an_iscsi_direct_definition_has_host_port_target_and_initiator() {
        let def = PoolDef {
            kind: "iscsi-direct".into(),
            name: "lab-iscsi".into(),
            target_path: None,
            source: Source {
                source_host: Some("127.0.0.1".into()),
                source_port: Some(3260),
                source_device: Some("iqn.2026-11.org.virtdeck.lab:shared".into()),
                initiator_iqn: Some("iqn.2026-11.org.virtdeck:a".into()),
                ..Default::default()
            },
        };
        let xml = definition(&def);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let source = child(doc.root_element(), "source").unwrap();
        assert_eq!(child_attr(source, "host", "port").as_deref(), Some("3260"));
        assert!(child(doc.root_element(), "target").is_none());
        assert_eq!(read(&xml).unwrap().source, def.source);
    }

    #[test]
    fn reads_a_pool_as_libvirt_writes_it() {
        // `virsh pool-dumpxml default` on libvirt 9.0.
        let xml = r#"<pool type='dir'>
  <name>default</name>
  <uuid>3b4c2a6e-8a7b-4ac7-9f4e-0e4b8b3f6a11</uuid>
  <capacity unit='bytes'>105089261568</capacity>
  <allocation unit='bytes'>37946793984</allocation>
  <available unit='bytes'>67142467584</available>
  <source>
  </source>
  <target>
    <path>/var/lib/libvirt/images</path>
    <permissions><mode>0711</mode><owner>0</owner><group>0</group></permissions>
  </target>
</pool>"#;
        let doc = read(xml).unwrap();
        assert_eq!(doc.uuid, "3b4c2a6e-8a7b-4ac7-9f4e-0e4b8b3f6a11");
        assert_eq!(doc.capacity, 105_089_261_568);
        assert_eq!(doc.available, 67_142_467_584);
        assert_eq!(doc.target_path.as_deref(), Some("/var/lib/libvirt/images"));
        assert_eq!(doc.source, Source::default());
    }

    #[test]
    fn reads_found_sources() {
        let xml = r#"<sources>
  <source><host name='127.0.0.1' port='3260'/><device path='iqn.2026-11.org.virtdeck.lab:shared'/></source>
  <source><host name='nfs1'/><dir path='/srv/vm'/><format type='nfs'/></source>
</sources>"#;
        let sources = read_sources(xml).unwrap();
        assert_eq!(sources.len(), 2);
        assert_eq!(
            sources[0].source_device.as_deref(),
            Some("iqn.2026-11.org.virtdeck.lab:shared")
        );
        assert_eq!(sources[1].source_path.as_deref(), Some("/srv/vm"));
        assert!(read_sources("<sources/>").unwrap().is_empty());
    }

    #[test]
    fn scan_hints_carry_the_host_and_initiator() {
        let hint = scan_hint(&Source {
            source_host: Some("127.0.0.1".into()),
            source_port: Some(3260),
            initiator_iqn: Some("iqn.2026-11.org.virtdeck:a".into()),
            ..Default::default()
        })
        .unwrap();
        let doc = roxmltree::Document::parse(&hint).unwrap();
        assert_eq!(
            child_attr(doc.root_element(), "host", "name").as_deref(),
            Some("127.0.0.1")
        );
        assert!(scan_hint(&Source::default()).is_none());
    }
}
