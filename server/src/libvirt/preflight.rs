//! What a migration's pre-flight checks are made from: facts read from both
//! hosts (blocking functions, one connection each). The checks themselves —
//! verdicts, explanations, fixes — are policy: `services::migration::preflight`.

use super::error::Error;
use virt::connect::Connect;

use super::{
    connection::Failure,
    domain::{self, RunState},
    storage_pool::{self, Pool},
    sys::{self, CpuFit},
    xml::{
        self,
        capabilities::HostIdentity,
        domain::{DiskDef, DiskSource, GuestDef},
    },
};

/// A disk of the guest and the pool (on the source) it lives in.
#[derive(Debug, Clone)]
pub struct DiskFacts {
    pub def: DiskDef,
    pub pool: Option<Pool>,
    /// `(capacity, allocation)` of its volume, when it is one.
    pub size: Option<(u64, u64)>,
    /// Its volume's name in `pool`.
    pub volume: Option<String>,
}

/// What the source host says about itself and the guest.
#[derive(Debug, Clone)]
pub struct SourceFacts {
    pub identity: HostIdentity,
    pub driver: String,
    pub guest: GuestDef,
    pub state: RunState,
    pub persistent: bool,
    pub memory_kib: u64,
    pub disks: Vec<DiskFacts>,
}

/// What the destination host says.
#[derive(Debug, Clone)]
pub struct DestFacts {
    pub identity: HostIdentity,
    pub driver: String,
    /// Bytes a new guest can have (free, buffers and page cache).
    pub free_memory: u64,
    pub pools: Vec<Pool>,
    /// A guest with the same UUID: its name and whether it runs.
    pub same_uuid: Option<(String, bool)>,
    /// Another guest with the same name: its UUID.
    pub same_name: Option<String>,
    /// The destination hypervisor's verdict on the guest's CPU.
    pub cpu: Option<Result<CpuFit, String>>,
    /// `(pool, volume)` of the source's disks that the destination's pool of
    /// the same name has already: a copy-storage migration would write into
    /// it (libvirt does not pre-create a volume that exists).
    pub existing_volumes: Vec<(String, String)>,
}

/// The source's disk volumes that exist by name in the destination's pool of
/// the same name (read after a refresh, so files made outside libvirt count).
fn existing_volumes(conn: &Connect, source: Option<&SourceFacts>) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for disk in source.map(|s| s.disks.as_slice()).unwrap_or_default() {
        let (Some(pool), Some(volume)) = (&disk.pool, &disk.volume) else {
            continue;
        };
        let Ok(p) = conn.lookup_storage_pool_by_name(&pool.name) else {
            continue;
        };
        if p.is_active().unwrap_or(false) {
            let _ = p.refresh(0);
            if p.lookup_storage_vol_by_name(volume).is_ok() {
                found.push((pool.name.clone(), volume.clone()));
            }
        }
    }
    found
}

fn xml_failure(e: xml::XmlError) -> Failure {
    tracing::error!("{e}");
    Failure::Own(Error::Internal)
}

pub fn source_facts(host: &str, conn: &Connect, uuid: &str) -> Result<SourceFacts, Failure> {
    let dom = conn
        .lookup_domain_by_uuid_string(uuid)
        .map_err(|e| storage_pool::failed(host, e, |m| format!("cannot find the guest: {m}")))?;
    let info = dom.info()?;
    let guest = xml::domain::guest(&dom.xml_desc(0)?).map_err(xml_failure)?;
    let mut disks = Vec::new();
    for def in &guest.disks {
        let (pool, size, volume) = match &def.source {
            Some(DiskSource::Path(path)) => match conn.lookup_storage_vol_by_path(path) {
                Ok(vol) => {
                    let pool = vol
                        .lookup_storage_pool()
                        .ok()
                        .and_then(|p| storage_pool::summary(&p).ok());
                    let size = vol.info().ok().map(|i| (i.capacity, i.allocation));
                    (pool, size, vol.name().ok())
                }
                Err(_) => (None, None, None),
            },
            Some(DiskSource::Volume { pool, volume }) => {
                match conn.lookup_storage_pool_by_name(pool) {
                    Ok(p) => {
                        let size = p
                            .lookup_storage_vol_by_name(volume)
                            .ok()
                            .and_then(|v| v.info().ok())
                            .map(|i| (i.capacity, i.allocation));
                        (storage_pool::summary(&p).ok(), size, Some(volume.clone()))
                    }
                    Err(_) => (None, None, None),
                }
            }
            _ => (None, None, None),
        };
        disks.push(DiskFacts {
            def: def.clone(),
            pool,
            size,
            volume,
        });
    }
    Ok(SourceFacts {
        identity: xml::capabilities::host_identity(&conn.capabilities()?),
        driver: conn.driver_type().unwrap_or_default(),
        state: domain::state_of(info.state),
        persistent: dom.is_persistent()?,
        memory_kib: info.memory,
        guest,
        disks,
    })
}

pub fn dest_facts(
    host: &str,
    conn: &Connect,
    uuid: &str,
    source: Option<&SourceFacts>,
) -> Result<DestFacts, Failure> {
    let same_uuid = match conn.lookup_domain_by_uuid_string(uuid) {
        Ok(d) => Some((d.name().unwrap_or_default(), d.is_active().unwrap_or(false))),
        Err(_) => None,
    };
    let same_name = source
        .and_then(|s| conn.lookup_domain_by_name(&s.guest.name).ok())
        .and_then(|d| d.uuid_string().ok())
        .filter(|other| !other.eq_ignore_ascii_case(uuid));
    let cpu = source.and_then(|s| {
        let xml = s.guest.cpu_xml.as_ref()?;
        if s.guest.cpu_mode.as_deref() != Some("custom") {
            return None;
        }
        Some(
            sys::compare_hypervisor_cpu(
                conn,
                s.guest.arch.as_deref(),
                s.guest.machine.as_deref(),
                Some(&s.guest.virt_type),
                xml,
            )
            .map_err(|e| e.message().trim().to_string()),
        )
    });
    Ok(DestFacts {
        identity: xml::capabilities::host_identity(&conn.capabilities()?),
        driver: conn.driver_type().unwrap_or_default(),
        free_memory: sys::node_available_memory(conn).or_else(|_| conn.free_memory())?,
        pools: storage_pool::list(host, conn)?,
        same_uuid,
        same_name,
        cpu,
        existing_volumes: existing_volumes(conn, source),
    })
}
