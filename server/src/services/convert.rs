//! The libvirt layer's plain types as the API's wire types.

use app::api::{
    guests::{GuestAction, GuestState, GuestSummary},
    pools::{PoolSource, PoolState, PoolSummary, PoolType},
    volumes::VolumeUser,
};

use crate::libvirt::{
    domain::{Guest, GuestRef, Lifecycle, RunState},
    storage_pool::{Pool, PoolStatus},
    xml::pool::Source,
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

impl From<GuestRef> for VolumeUser {
    fn from(g: GuestRef) -> Self {
        VolumeUser {
            uuid: g.uuid,
            name: g.name,
            state: g.state.into(),
        }
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
