//! The libvirt layer's plain types as the API's wire types.

use app::api::{
    guest_detail::{
        AttachDisk, AttachNic, DeleteReport, DiskInfo, GraphicsInfo, GuestDetail, GuestStats,
        GuestUpdate, NicInfo, SnapshotInfo,
    },
    guest_new::{Firmware, GuestOptions, InstallSource, NetworkChoice, NewGuest, Nic},
    guests::{GuestAction, GuestState, GuestSummary},
    migrations::{Convergence, MigrationMode, MigrationSpec, Persistence, StorageMode},
    pools::{
        BuildKind, PoolAction, PoolSource, PoolSpec, PoolState, PoolSummary, PoolType, PoolTypes,
    },
    volumes::{Allocation, VolumeFormat, VolumeOp, VolumeSpec, VolumeSummary, VolumeUser},
};

use crate::libvirt::{
    domain::{Guest, GuestRef, Lifecycle, RunState},
    guest::{self, Deleted, Detail, Edit, Install, NewDomain, NicChoice, Offer, Stats},
    migration,
    snapshot::Snapshot,
    storage_pool::{NewPool, Pool, PoolOp, PoolStatus},
    storage_volume::{NewVolume, VolOp, Volume},
    xml::{
        capabilities::PoolTypeCaps,
        guest as gx,
        pool::{PoolDef, Source},
    },
};

impl From<RunState> for GuestState {
    fn from(s: RunState) -> Self {
        match s {
            RunState::Running => GuestState::Running,
            RunState::Paused => GuestState::Paused,
            RunState::Shutoff => GuestState::Shutoff,
            RunState::Shutdown => GuestState::Shutdown,
            RunState::Crashed => GuestState::Crashed,
            RunState::PmSuspended => GuestState::Pmsuspended,
            RunState::Blocked => GuestState::Blocked,
            RunState::NoState => GuestState::Nostate,
        }
    }
}

impl From<GuestAction> for Lifecycle {
    fn from(a: GuestAction) -> Self {
        match a {
            GuestAction::Start => Lifecycle::Start,
            GuestAction::Shutdown => Lifecycle::Shutdown,
            GuestAction::Reboot => Lifecycle::Reboot,
            GuestAction::Destroy => Lifecycle::Destroy,
            GuestAction::Suspend => Lifecycle::Suspend,
            GuestAction::Resume => Lifecycle::Resume,
        }
    }
}

/// A guest of `host` that uses a volume.
pub fn volume_user(host: &str, g: GuestRef) -> VolumeUser {
    VolumeUser {
        host: host.to_string(),
        uuid: g.uuid,
        name: g.name,
        state: g.state.into(),
    }
}

/// A guest of `host` as the API shows it.
pub fn guest_summary(host: &str, g: Guest) -> GuestSummary {
    GuestSummary {
        host: host.to_string(),
        name: g.name,
        uuid: g.uuid,
        state: g.state.into(),
        vcpus: g.vcpus,
        memory_kib: g.memory_kib,
        persistent: g.persistent,
        autostart: g.autostart,
        stale: false,
    }
}

impl From<PoolStatus> for PoolState {
    fn from(s: PoolStatus) -> Self {
        match s {
            PoolStatus::Active => PoolState::Active,
            PoolStatus::Inactive => PoolState::Inactive,
            PoolStatus::Building => PoolState::Building,
            PoolStatus::Degraded => PoolState::Degraded,
            PoolStatus::Inaccessible => PoolState::Inaccessible,
        }
    }
}

pub fn pool_source(s: Source) -> PoolSource {
    PoolSource {
        source_host: s.source_host,
        source_port: s.source_port,
        source_path: s.source_path,
        source_device: s.source_device,
        source_name: s.source_name,
        source_format: s.source_format,
        source_adapter: s.source_adapter,
        initiator_iqn: s.initiator_iqn,
    }
}

/// A pool of `host` as the API shows it (a type virtdeck does not know is `other`).
pub fn pool_summary(host: &str, p: Pool) -> PoolSummary {
    PoolSummary {
        host: host.to_string(),
        name: p.name,
        uuid: p.uuid,
        pool_type: p.kind.parse().unwrap_or(PoolType::Other),
        state: p.state.into(),
        autostart: p.autostart,
        persistent: p.persistent,
        capacity: p.capacity,
        allocation: p.allocation,
        available: p.available,
        target_path: p.target_path,
        source: pool_source(p.source),
        volumes: p.volumes,
    }
}

/// A volume of `pool` on `host` as the API shows it (a format virtdeck does
/// not know is `other`).
pub fn volume_summary(host: &str, pool: &str, v: Volume) -> VolumeSummary {
    VolumeSummary {
        host: host.to_string(),
        pool: pool.to_string(),
        name: v.name,
        path: v.path,
        format: v.format.map(|f| f.parse().unwrap_or(VolumeFormat::Other)),
        capacity: v.capacity,
        allocation: v.allocation,
        used_by: v
            .used_by
            .into_iter()
            .map(|g| volume_user(host, g))
            .collect(),
    }
}

impl From<&VolumeSpec> for NewVolume {
    fn from(spec: &VolumeSpec) -> Self {
        NewVolume {
            name: spec.name.to_string(),
            format: spec.format.map(|f| f.to_string()),
            capacity: spec.capacity.bytes(),
            allocation: spec.allocation_bytes(),
            full: spec.allocation == Allocation::Full,
        }
    }
}

impl From<&VolumeOp> for VolOp {
    fn from(op: &VolumeOp) -> Self {
        match op {
            VolumeOp::Delete => VolOp::Delete,
            VolumeOp::Resize(capacity) => VolOp::Resize(capacity.bytes()),
            VolumeOp::Wipe => VolOp::Wipe,
            VolumeOp::Clone(name) => VolOp::Clone(name.to_string()),
        }
    }
}

fn source_of(s: &PoolSource) -> Source {
    Source {
        source_host: s.source_host.clone(),
        source_port: s.source_port,
        source_path: s.source_path.clone(),
        source_device: s.source_device.clone(),
        source_name: s.source_name.clone(),
        source_format: s.source_format.clone(),
        source_adapter: s.source_adapter.clone(),
        initiator_iqn: s.initiator_iqn.clone(),
    }
}

/// A checked pool request in the libvirt layer's terms (the type's build
/// step from the pool type catalogue).
pub fn new_pool(spec: &PoolSpec) -> NewPool {
    NewPool {
        def: PoolDef {
            kind: spec.pool_type.to_string(),
            name: spec.name.to_string(),
            target_path: spec.target_path.clone(),
            source: source_of(&spec.source),
        },
        build: spec.build,
        overwrite: spec.overwrite,
        autostart: spec.autostart,
        keep_on_failure: spec.keep_on_failure,
        makes_directory: spec.pool_type.build() == BuildKind::Mkdir,
    }
}

impl From<PoolAction> for PoolOp {
    fn from(a: PoolAction) -> Self {
        match a {
            PoolAction::Start => PoolOp::Start,
            PoolAction::Stop => PoolOp::Stop,
            PoolAction::Refresh => PoolOp::Refresh,
            PoolAction::AutostartOn => PoolOp::AutostartOn,
            PoolAction::AutostartOff => PoolOp::AutostartOff,
            PoolAction::Delete => PoolOp::Delete,
        }
    }
}

/// The pool types `host` supports, from its capabilities (`Err(why)`: it
/// cannot tell, so every type is listed with a note).
pub fn pool_types(host: &str, caps: Result<Vec<PoolTypeCaps>, String>) -> PoolTypes {
    let caps = match caps {
        Ok(caps) => caps,
        Err(why) => {
            return PoolTypes {
                host: host.to_string(),
                from_capabilities: false,
                note: Some(format!(
                "host {host} cannot report which pool types it supports ({why}), so every type is \
                     listed; creating one it lacks fails with libvirt's message"
            )),
                types: PoolType::all().map(|t| t.info(None)).collect(),
            }
        }
    };
    let types = PoolType::all()
        .filter_map(|t| {
            let cap = caps
                .iter()
                .find(|c| c.pool_type == t.to_string() && c.supported)?;
            let formats = (!cap.volume_formats.is_empty()).then(|| cap.volume_formats.clone());
            Some(t.info(formats))
        })
        .collect();
    PoolTypes {
        host: host.to_string(),
        from_capabilities: true,
        note: None,
        types,
    }
}

impl From<gx::Firmware> for Firmware {
    fn from(f: gx::Firmware) -> Self {
        match f {
            gx::Firmware::Bios => Firmware::Bios,
            gx::Firmware::Uefi => Firmware::Uefi,
        }
    }
}

impl From<Firmware> for gx::Firmware {
    fn from(f: Firmware) -> Self {
        match f {
            Firmware::Bios => gx::Firmware::Bios,
            Firmware::Uefi => gx::Firmware::Uefi,
        }
    }
}

/// What `host` offers a new guest, with the OS presets of the wizard.
pub fn guest_options(host: &str, o: Offer) -> GuestOptions {
    GuestOptions {
        host: host.to_string(),
        cpus: o.cpus,
        memory_total_mib: o.memory_total_mib,
        memory_free_mib: o.memory_free_mib,
        accels: o.accels,
        firmware: o.firmware.into_iter().map(Firmware::from).collect(),
        networks: o
            .networks
            .into_iter()
            .map(|(name, active)| NetworkChoice { name, active })
            .collect(),
        bridges: o.bridges,
        presets: app::api::guest_new::presets(),
    }
}

/// A checked new guest in the libvirt layer's terms (bus, NIC model and
/// libosinfo id from its preset).
pub fn new_domain(spec: &NewGuest) -> NewDomain {
    NewDomain {
        name: spec.name.to_string(),
        memory_mib: spec.memory_mib,
        vcpus: spec.vcpus,
        firmware: spec.firmware.into(),
        accel: spec.accel.clone(),
        install: match &spec.install {
            InstallSource::Iso { pool, volume } => Install::Iso {
                pool: pool.clone(),
                volume: volume.clone(),
            },
            InstallSource::Import { pool, volume } => Install::Import {
                pool: pool.clone(),
                volume: volume.clone(),
            },
            InstallSource::Network => Install::Network,
        },
        disk: spec
            .disk
            .as_ref()
            .map(|(pool, vol)| (pool.to_string(), NewVolume::from(vol))),
        nic: spec.nic.as_ref().map(|n| match n {
            Nic::Network(n) => NicChoice::Network(n.clone()),
            Nic::Bridge(b) => NicChoice::Bridge(b.clone()),
        }),
        osinfo: spec.preset.osinfo.clone(),
        disk_bus: spec.preset.disk_bus.clone(),
        nic_model: spec.preset.nic_model.clone(),
        start: spec.start,
    }
}

/// A guest's overview as the API shows it; `running_since` as virtdeck saw it.
pub fn guest_detail(host: &str, d: Detail, running_since: Option<String>) -> GuestDetail {
    GuestDetail {
        memory_kib: d.guest.memory_kib,
        max_memory_kib: d.max_memory_kib,
        max_vcpus: d.max_vcpus,
        accel: d.accel,
        arch: d.arch,
        machine: d.machine,
        firmware: d.firmware.into(),
        boot: d.boot,
        os: d.os,
        disks: d
            .disks
            .into_iter()
            .map(|k| DiskInfo {
                target: k.target,
                device: k.device,
                bus: k.bus,
                path: k.path,
                pool: k.pool,
                volume: k.volume,
                format: k.format,
                capacity: k.capacity,
                readonly: k.readonly,
                shared_with: k
                    .shared_with
                    .into_iter()
                    .map(|g| volume_user(host, g))
                    .collect(),
            })
            .collect(),
        nics: d
            .nics
            .into_iter()
            .map(|n| NicInfo {
                mac: n.mac,
                kind: n.kind,
                source: n.source,
                model: n.model,
            })
            .collect(),
        graphics: d
            .graphics
            .into_iter()
            .map(|g| GraphicsInfo {
                kind: g.kind,
                port: g.port,
                listen: g.listen,
                password: g.password,
            })
            .collect(),
        serial: d.serial,
        snapshots: d.snapshots,
        running_since: d.running.then_some(running_since).flatten(),
        guest: guest_summary(host, d.guest),
    }
}

impl From<Stats> for GuestStats {
    fn from(s: Stats) -> Self {
        GuestStats {
            at_ms: s.at_ms,
            cpu_time_ns: s.cpu_time_ns,
            vcpus: s.vcpus,
            memory_kib: s.memory_kib,
            memory_used_kib: s.memory_used_kib,
            rss_kib: s.rss_kib,
        }
    }
}

impl From<&GuestUpdate> for Edit {
    fn from(u: &GuestUpdate) -> Self {
        Edit {
            memory_mib: u.memory_mib,
            vcpus: u.vcpus,
            autostart: u.autostart,
            boot: u.boot.clone(),
            attach_disk: u
                .attach_disk
                .as_ref()
                .map(|d: &AttachDisk| guest::AttachDisk {
                    pool: d.pool.clone(),
                    volume: d.volume.clone(),
                    device: d.device.clone(),
                    bus: d.bus.clone(),
                }),
            detach_disk: u.detach_disk.clone(),
            attach_nic: u.attach_nic.as_ref().map(|n: &AttachNic| guest::AttachNic {
                network: n.network.clone(),
                bridge: n.bridge.clone(),
                model: n.model.clone(),
            }),
            detach_nic: u.detach_nic.clone(),
        }
    }
}

impl From<Deleted> for DeleteReport {
    fn from(d: Deleted) -> Self {
        DeleteReport {
            name: d.name,
            deleted_volumes: d.deleted_volumes,
            stopped: d.stopped,
            errors: d.errors,
        }
    }
}

impl From<Snapshot> for SnapshotInfo {
    fn from(s: Snapshot) -> Self {
        SnapshotInfo {
            name: s.name,
            description: s.description,
            created: s.created,
            state: s.state,
            parent: s.parent,
            current: s.current,
            memory: s.memory,
        }
    }
}

/// A checked migration in the libvirt layer's terms.
pub fn migration_request(spec: &MigrationSpec) -> migration::Request {
    let o = &spec.options;
    migration::Request {
        mode: match spec.mode {
            MigrationMode::Live => migration::Mode::Live,
            MigrationMode::Paused => migration::Mode::Paused,
            MigrationMode::Offline => migration::Mode::Offline,
        },
        permanent: spec.persistence == Persistence::Permanent,
        copy_storage: spec.storage == StorageMode::Copy,
        max_downtime_ms: o.max_downtime_ms,
        bandwidth_mib_s: o.bandwidth_mib_s,
        auto_converge: o.auto_converge == Some(true)
            || o.convergence == Some(Convergence::AutoConverge),
        compressed: o.compressed == Some(true),
        parallel_connections: o.parallel_connections,
        allow_postcopy: o.allow_postcopy == Some(true)
            || o.convergence == Some(Convergence::PostcopyWhenStalled),
    }
}

#[cfg(test)]
mod tests {
    use app::api::pools::PoolType;

    use crate::libvirt::storage_volume;

    /// The libvirt layer's own table of which pool types have manageable
    /// volumes agrees with the catalogue the pages use.
    #[test]
    fn the_libvirt_layer_and_the_catalogue_agree_on_pool_types() {
        for t in PoolType::all() {
            let kind = if t == PoolType::Other {
                "vstorage".to_string()
            } else {
                t.to_string()
            };
            assert_eq!(
                storage_volume::volumes_manageable(&kind),
                t.volumes_manageable(),
                "{t}"
            );
        }
    }
}
