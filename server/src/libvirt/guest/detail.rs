//! A guest's overview (its definition read back, with the storage behind
//! each disk and who else uses it) and its usage now.

use virt::connect::Connect;

use super::{lookup, path_of, sharing, unreadable, volume_of, Failure};
use crate::libvirt::{
    domain::{self, Guest, GuestRef},
    error::Error,
    sys,
    xml::guest::{self as gx, Firmware, GraphicsRead, NicRead},
};

/// One disk of the guest, with the volume behind it when libvirt knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskDetail {
    pub target: String,
    pub device: String,
    pub bus: Option<String>,
    pub path: Option<String>,
    pub pool: Option<String>,
    pub volume: Option<String>,
    pub format: Option<String>,
    pub capacity: Option<u64>,
    pub readonly: bool,
    /// The host's other guests whose disks use the same storage.
    pub shared_with: Vec<GuestRef>,
}

/// A guest's overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub guest: Guest,
    pub max_memory_kib: u64,
    pub max_vcpus: u32,
    pub accel: String,
    pub arch: Option<String>,
    pub machine: Option<String>,
    pub firmware: Firmware,
    pub boot: Vec<String>,
    pub os: Option<String>,
    pub disks: Vec<DiskDetail>,
    pub nics: Vec<NicRead>,
    pub graphics: Vec<GraphicsRead>,
    pub serial: bool,
    pub snapshots: u32,
    /// Whether it runs now.
    pub running: bool,
}

/// A guest's usage now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// When it was read (ms since the epoch).
    pub at_ms: u64,
    pub cpu_time_ns: u64,
    pub vcpus: u32,
    pub memory_kib: u64,
    /// Used by the guest's own reckoning (balloon driver), when it reports it.
    pub memory_used_kib: Option<u64>,
    pub rss_kib: Option<u64>,
}

pub fn detail(host: &str, conn: &Connect, uuid: &str) -> Result<Detail, Failure> {
    let dom = lookup(host, conn, uuid)?;
    let guest = domain::read_one(conn, uuid)?.ok_or_else(|| {
        Failure::Own(Error::NotFound(format!(
            "host {host} has no guest with UUID {uuid}"
        )))
    })?;
    let o = gx::overview(&dom.xml_desc(0)?).map_err(unreadable)?;
    let users = domain::disk_users(conn)?;
    let disks = o
        .disks
        .iter()
        .map(|d| {
            let found = d.backing.as_ref().and_then(|b| volume_of(conn, b));
            let path = d
                .backing
                .as_ref()
                .and_then(|b| path_of(b).map(str::to_string))
                .or_else(|| found.as_ref().map(|f| f.3.clone()));
            DiskDetail {
                target: d.target.clone(),
                device: d.device.clone(),
                bus: d.bus.clone(),
                shared_with: d
                    .backing
                    .as_ref()
                    .map(|b| sharing(&users, uuid, b, path.as_deref()))
                    .unwrap_or_default(),
                path,
                pool: found.as_ref().map(|f| f.0.clone()),
                volume: found.as_ref().map(|f| f.1.clone()),
                format: d.format.clone(),
                capacity: found.as_ref().map(|f| f.2),
                readonly: d.readonly,
            }
        })
        .collect();
    let snapshots = dom.list_all_snapshots(0).map(|s| s.len()).unwrap_or(0) as u32;
    let running = dom.is_active().unwrap_or(false);
    Ok(Detail {
        max_memory_kib: o.max_memory_kib,
        max_vcpus: o.max_vcpus,
        accel: o.accel,
        arch: o.arch,
        machine: o.machine,
        firmware: o.firmware.unwrap_or_default(),
        boot: o.boot,
        os: o.os,
        disks,
        nics: o.nics,
        graphics: o.graphics,
        serial: o.serial,
        snapshots,
        running,
        guest,
    })
}

pub fn stats(host: &str, conn: &Connect, uuid: &str) -> Result<Stats, Failure> {
    let dom = lookup(host, conn, uuid)?;
    let info = dom.info()?;
    let mut used = None;
    let mut rss = None;
    if dom.is_active().unwrap_or(false) {
        if let Ok(stats) = dom.memory_stats(0) {
            let get = |tag: u32| stats.iter().find(|s| s.tag == tag).map(|s| s.val);
            rss = get(sys::VIR_DOMAIN_MEMORY_STAT_RSS);
            if let (Some(avail), Some(unused)) = (
                get(sys::VIR_DOMAIN_MEMORY_STAT_AVAILABLE),
                get(sys::VIR_DOMAIN_MEMORY_STAT_UNUSED),
            ) {
                used = Some(avail.saturating_sub(unused));
            }
        }
    }
    let at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Ok(Stats {
        at_ms,
        cpu_time_ns: info.cpu_time,
        vcpus: info.nr_virt_cpu,
        memory_kib: info.memory,
        memory_used_kib: used,
        rss_kib: rss,
    })
}
