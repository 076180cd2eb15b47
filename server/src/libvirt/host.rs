//! Host facts: versions, CPU, memory.

use virt::connect::Connect;

use super::xml;

/// The host facts that do not change while a host runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    pub arch: Option<String>,
    pub cpu_model: Option<String>,
    pub cpus: Option<u32>,
    pub memory_kib: Option<u64>,
    pub libvirt_version: Option<String>,
    pub hypervisor_version: Option<String>,
}

/// Libvirt encodes versions as major * 1,000,000 + minor * 1,000 + release.
pub fn version_string(v: u32) -> String {
    format!("{}.{}.{}", v / 1_000_000, (v / 1_000) % 1_000, v % 1_000)
}

/// The facts of the host behind `conn` (blocking; read once per connection).
pub fn facts(conn: &Connect) -> Result<HostFacts, virt::error::Error> {
    let node = conn.node_info()?;
    let cpu = xml::capabilities::host_cpu(&conn.capabilities()?);
    let driver = conn.driver_type().unwrap_or_default();
    Ok(HostFacts {
        arch: cpu.arch.or(Some(node.model)),
        cpu_model: cpu.model,
        cpus: Some(node.cpus),
        memory_kib: Some(node.memory),
        libvirt_version: Some(version_string(conn.lib_version()?)),
        hypervisor_version: Some(
            format!("{driver} {}", version_string(conn.hyp_version()?))
                .trim()
                .to_string(),
        ),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions() {
        assert_eq!(super::version_string(9_000_000), "9.0.0");
        assert_eq!(super::version_string(7_002_015), "7.2.15");
    }
}
