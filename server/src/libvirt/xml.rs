//! Reading libvirt's XML documents.

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

#[cfg(test)]
mod tests {
    use super::*;

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
