//! Host facts: versions, CPU, memory, number of guests.

use app::api::{hosts::HostSummary, ApiError};

use super::{xml, HostConnection};

/// Libvirt encodes versions as major * 1,000,000 + minor * 1,000 + release.
pub fn version_string(v: u32) -> String {
    format!("{}.{}.{}", v / 1_000_000, (v / 1_000) % 1_000, v % 1_000)
}

pub async fn summary(host: &HostConnection) -> Result<HostSummary, ApiError> {
    let (name, uri) = (host.name().to_string(), host.uri().to_string());
    host.run(move |conn| {
        let node = conn.node_info()?;
        let cpu = xml::capabilities::host_cpu(&conn.capabilities()?);
        let guests = conn.num_of_domains()? + conn.num_of_defined_domains()?;
        let driver = conn.driver_type().unwrap_or_default();
        Ok(HostSummary {
            name,
            uri,
            connected: true,
            error: None,
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
            guests: Some(guests),
        })
    })
    .await
}

/// The summary of a host that could not be asked.
pub fn unreachable(host: &HostConnection, error: ApiError) -> HostSummary {
    HostSummary {
        name: host.name().to_string(),
        uri: host.uri().to_string(),
        connected: false,
        error: Some(error.to_string()),
        arch: None,
        cpu_model: None,
        cpus: None,
        memory_kib: None,
        libvirt_version: None,
        hypervisor_version: None,
        guests: None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions() {
        assert_eq!(super::version_string(9_000_000), "9.0.0");
        assert_eq!(super::version_string(7_002_015), "7.2.15");
    }
}
