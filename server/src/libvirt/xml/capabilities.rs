//! Host capabilities (`virConnectGetCapabilities`) and storage pool
//! capabilities (`virConnectGetStoragePoolCapabilities`).

/// What the host section of the capabilities XML says about the CPU.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HostCpu {
    pub arch: Option<String>,
    pub model: Option<String>,
}

/// Parses `<capabilities><host><cpu><arch/><model/>` from `virConnectGetCapabilities`.
pub fn host_cpu(capabilities: &str) -> HostCpu {
    let Ok(doc) = roxmltree::Document::parse(capabilities) else {
        return HostCpu::default();
    };
    let cpu = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("host"))
        .and_then(|host| host.children().find(|n| n.has_tag_name("cpu")));
    let text = |tag: &str| {
        cpu.and_then(|cpu| cpu.children().find(|n| n.has_tag_name(tag)))
            .and_then(|n| n.text())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    };
    HostCpu {
        arch: text("arch"),
        model: text("model"),
    }
}

/// One pool type in the storage pool capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolTypeCaps {
    pub pool_type: String,
    pub supported: bool,
    /// The volume formats (`targetFormatType`) of this type.
    pub volume_formats: Vec<String>,
}

/// Parses `<storagepoolCapabilities><pool type='dir' supported='yes'>…`.
pub fn storage_pool_types(xml: &str) -> Result<Vec<PoolTypeCaps>, super::XmlError> {
    let doc = super::parse("storage pool capabilities", xml)?;
    Ok(super::children(doc.root_element(), "pool")
        .filter_map(|pool| {
            let pool_type = pool.attribute("type")?.to_string();
            let volume_formats = super::child(pool, "volOptions")
                .into_iter()
                .flat_map(|opts| super::children(opts, "enum"))
                .filter(|e| e.attribute("name") == Some("targetFormatType"))
                .flat_map(|e| super::children(e, "value"))
                .filter_map(|v| v.text().map(|t| t.trim().to_string()))
                .filter(|t| !t.is_empty() && t != "none")
                .collect();
            Some(PoolTypeCaps {
                pool_type,
                supported: pool.attribute("supported") == Some("yes"),
                volume_formats,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pool_types_and_their_volume_formats() {
        // Trimmed from `virsh pool-capabilities` of libvirt 9.0.
        let xml = r#"<storagepoolCapabilities>
  <pool type='dir' supported='yes'>
    <volOptions>
      <defaultFormat type='raw'/>
      <enum name='targetFormatType'>
        <value>none</value><value>raw</value><value>cloop</value><value>qcow2</value>
      </enum>
    </volOptions>
  </pool>
  <pool type='rbd' supported='no'/>
  <pool type='iscsi-direct' supported='yes'/>
</storagepoolCapabilities>"#;
        let types = storage_pool_types(xml).unwrap();
        assert_eq!(types.len(), 3);
        assert_eq!(types[0].pool_type, "dir");
        assert!(types[0].supported);
        assert_eq!(types[0].volume_formats, ["raw", "cloop", "qcow2"]);
        assert!(!types[1].supported);
        assert!(types[2].volume_formats.is_empty());
        assert!(storage_pool_types("<oops").is_err());
    }

    #[test]
    fn reads_arch_and_model() {
        let caps = r#"<capabilities><host><uuid>x</uuid><cpu><arch>x86_64</arch><model>Skylake-Client-IBRS</model><vendor>Intel</vendor></cpu></host><guest><arch name='i686'/></guest></capabilities>"#;
        assert_eq!(
            host_cpu(caps),
            HostCpu {
                arch: Some("x86_64".into()),
                model: Some("Skylake-Client-IBRS".into())
            }
        );
    }

    #[test]
    fn tolerates_missing_parts_and_garbage() {
        assert_eq!(
            host_cpu("<capabilities><host><cpu><arch>aarch64</arch></cpu></host></capabilities>")
                .model,
            None
        );
        assert_eq!(host_cpu("not xml"), HostCpu::default());
    }
}
