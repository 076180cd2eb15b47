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

/// What migration compares between two hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostIdentity {
    /// `<host><uuid>`: libvirt refuses to migrate between hosts with the same one.
    pub uuid: Option<String>,
    pub arch: Option<String>,
    /// `(arch, domain types)` the host can run: `("x86_64", ["qemu", "kvm"])`.
    pub guests: Vec<(String, Vec<String>)>,
}

impl HostIdentity {
    /// Can this host run a guest of `virt_type` on `arch`?
    pub fn runs(&self, arch: &str, virt_type: &str) -> bool {
        self.guests
            .iter()
            .any(|(a, types)| a == arch && types.iter().any(|t| t == virt_type))
    }
}

/// Parses the host UUID and the guest architectures from the capabilities XML.
pub fn host_identity(capabilities: &str) -> HostIdentity {
    let Ok(doc) = roxmltree::Document::parse(capabilities) else {
        return HostIdentity::default();
    };
    let root = doc.root_element();
    let host = super::child(root, "host");
    let mut guests: Vec<(String, Vec<String>)> = Vec::new();
    for guest in super::children(root, "guest") {
        let Some(arch) = super::child(guest, "arch") else {
            continue;
        };
        let Some(name) = arch.attribute("name") else {
            continue;
        };
        let types: Vec<String> = super::children(arch, "domain")
            .filter_map(|d| d.attribute("type").map(str::to_string))
            .collect();
        match guests.iter_mut().find(|(a, _)| a == name) {
            Some((_, t)) => t.extend(types),
            None => guests.push((name.to_string(), types)),
        }
    }
    HostIdentity {
        uuid: host.and_then(|h| super::child_text(h, "uuid")),
        arch: host
            .and_then(|h| super::child(h, "cpu"))
            .and_then(|c| super::child_text(c, "arch")),
        guests,
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

/// Whether a domain capabilities document offers UEFI firmware (the
/// `firmware` enum lists `efi`, or a loader is an EDK2/OVMF image).
pub fn offers_uefi(domain_capabilities: &str) -> bool {
    let Ok(doc) = roxmltree::Document::parse(domain_capabilities) else {
        return false;
    };
    let Some(os) = super::child(doc.root_element(), "os") else {
        return false;
    };
    if os.attribute("supported") == Some("no") {
        return false;
    }
    let listed = super::children(os, "enum")
        .filter(|e| e.attribute("name") == Some("firmware"))
        .flat_map(|e| super::children(e, "value"))
        .any(|v| v.text() == Some("efi"));
    let loader = super::child(os, "loader").is_some_and(|l| {
        super::children(l, "value").any(|v| {
            v.text()
                .is_some_and(|t| t.contains("OVMF") || t.contains("edk2") || t.contains("AAVMF"))
        })
    });
    listed || loader
}

/// The bridge an interface definition describes (`<interface type='bridge' name=…>`).
pub fn bridge_name(interface_xml: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(interface_xml).ok()?;
    let root = doc.root_element();
    (root.attribute("type") == Some("bridge"))
        .then(|| root.attribute("name").map(str::to_string))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_host_uuid_and_what_it_can_run() {
        let caps = r#"<capabilities><host><uuid>0a0a0a0a-1111-4aaa-8aaa-00000000000a</uuid><cpu><arch>x86_64</arch></cpu></host>
          <guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest>
          <guest><os_type>hvm</os_type><arch name='i686'><domain type='qemu'/></arch></guest></capabilities>"#;
        let id = host_identity(caps);
        assert_eq!(
            id.uuid.as_deref(),
            Some("0a0a0a0a-1111-4aaa-8aaa-00000000000a")
        );
        assert_eq!(id.arch.as_deref(), Some("x86_64"));
        assert!(id.runs("x86_64", "kvm"));
        assert!(id.runs("i686", "qemu"));
        assert!(!id.runs("i686", "kvm"));
        assert!(!id.runs("aarch64", "qemu"));
    }

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
