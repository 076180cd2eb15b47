//! Load figures for the balance advisor: one `virConnectGetAllDomainStats`
//! call per host (NOWAIT: a guest busy in a migration does not stall it)
//! for every running guest's CPU time and memory, and the host's CPU times.

use virt::connect::Connect;

use super::sys;

/// A running guest's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuestStats {
    pub uuid: String,
    /// CPU time used since it started (ns); absent where the driver keeps none.
    pub cpu_time_ns: Option<u64>,
    /// The memory the balloon gives it now (KiB).
    pub memory_kib: Option<u64>,
    /// Its resident memory on the host (KiB).
    pub rss_kib: Option<u64>,
    pub vcpus: Option<u32>,
}

/// A host's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostStats {
    pub guests: Vec<GuestStats>,
    /// The host's CPU time busy and idle since boot (ns), all CPUs.
    pub cpu_busy_idle_ns: Option<(u64, u64)>,
}

fn field(values: &[(String, f64)], name: &str) -> Option<f64> {
    values
        .iter()
        .find(|(f, _)| f == name)
        .map(|(_, v)| *v)
        .filter(|v| v.is_finite() && *v >= 0.0)
}

/// One reading of the host and its running guests.
pub fn sample(conn: &Connect) -> Result<HostStats, virt::error::Error> {
    let records = sys::all_domain_stats(
        conn,
        sys::VIR_DOMAIN_STATS_CPU_TOTAL
            | sys::VIR_DOMAIN_STATS_BALLOON
            | sys::VIR_DOMAIN_STATS_VCPU,
    )?;
    let guests = records
        .into_iter()
        .map(|r| GuestStats {
            uuid: r.uuid.to_ascii_lowercase(),
            cpu_time_ns: field(&r.values, "cpu.time").map(|v| v as u64),
            memory_kib: field(&r.values, "balloon.current").map(|v| v as u64),
            rss_kib: field(&r.values, "balloon.rss").map(|v| v as u64),
            vcpus: field(&r.values, "vcpu.current").map(|v| v as u32),
        })
        .collect();
    // A driver without node CPU figures still gives the guests'.
    let cpu_busy_idle_ns = sys::node_cpu_times(conn).unwrap_or(None);
    Ok(HostStats {
        guests,
        cpu_busy_idle_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_driver_answers_its_running_guest_and_the_host_cpu() {
        let conn = Connect::open(Some("test:///default")).expect("test driver");
        let stats = sample(&conn).expect("stats");
        assert_eq!(stats.guests.len(), 1, "{stats:?}");
        assert_eq!(stats.guests[0].uuid.len(), 36);
        let (busy, idle) = stats
            .cpu_busy_idle_ns
            .expect("the test driver has node CPU stats");
        assert!(busy > 0 && idle > 0, "{busy} {idle}");
    }
}
