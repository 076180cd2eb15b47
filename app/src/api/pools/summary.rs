//! Pools as the API shows them, what can be done to one, and the storage
//! page's grouping of same-named pools across hosts.

use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter, EnumString};

use super::{PoolField, PoolField as F, PoolType};
use crate::api::{
    validate::{parse_choice, Choice},
    ApiError,
};
/// A pool's run state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Display)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PoolState {
    Active,
    Inactive,
    Building,
    Degraded,
    Inaccessible,
}

/// Where a pool's storage comes from; only the type's own fields are set.
/// Field names are those of `POST /api/pools`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PoolSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_adapter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator_iqn: Option<String>,
}

impl PoolSource {
    pub fn get(&self, field: PoolField) -> Option<String> {
        match field {
            F::SourceHost => self.source_host.clone(),
            F::SourcePort => self.source_port.map(|p| p.to_string()),
            F::SourcePath => self.source_path.clone(),
            F::SourceDevice => self.source_device.clone(),
            F::SourceName => self.source_name.clone(),
            F::SourceFormat => self.source_format.clone(),
            F::SourceAdapter => self.source_adapter.clone(),
            F::InitiatorIqn => self.initiator_iqn.clone(),
            F::TargetPath => None,
        }
    }

    /// A short line for people: `nfs 10.0.0.5:/srv/vm`, `iqn… @ 10.0.0.9:3260`.
    pub fn describe(&self) -> String {
        let host = self.source_host.as_deref().map(|h| match self.source_port {
            Some(p) => format!("{h}:{p}"),
            None => h.to_string(),
        });
        let mut parts = Vec::new();
        if let Some(f) = &self.source_format {
            parts.push(f.clone());
        }
        match (&host, &self.source_path) {
            (Some(h), Some(p)) => parts.push(format!("{h}:{p}")),
            (Some(h), None) => parts.push(h.clone()),
            (None, Some(p)) => parts.push(p.clone()),
            (None, None) => {}
        }
        for v in [&self.source_name, &self.source_device, &self.source_adapter]
            .into_iter()
            .flatten()
        {
            parts.push(v.clone());
        }
        parts.join(" ")
    }
}

/// One storage pool as the API shows it. Sizes are bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolSummary {
    pub host: String,
    pub name: String,
    pub uuid: String,
    #[serde(rename = "type")]
    pub pool_type: PoolType,
    pub state: PoolState,
    pub autostart: bool,
    pub persistent: bool,
    pub capacity: u64,
    pub allocation: u64,
    pub available: u64,
    pub target_path: Option<String>,
    pub source: PoolSource,
    /// The number of volumes; `null` while the pool is not active.
    pub volumes: Option<u32>,
}

impl PoolSummary {
    /// What makes two pools on different hosts the same storage: a network
    /// type with the same source. `None` for local pools.
    pub fn shared_key(&self) -> Option<String> {
        if !self.pool_type.is_network() {
            return None;
        }
        let s = &self.source;
        let host = s.source_host.as_deref().unwrap_or("").to_ascii_lowercase();
        let path = s
            .source_path
            .as_deref()
            .map(|p| p.trim_end_matches('/').to_string());
        Some(format!(
            "{}|{}|{}|{}|{}|{}",
            self.pool_type,
            host,
            s.source_port.map(|p| p.to_string()).unwrap_or_default(),
            path.unwrap_or_default(),
            s.source_device.as_deref().unwrap_or(""),
            s.source_name.as_deref().unwrap_or(""),
        ))
    }

    pub fn used_percent(&self) -> f64 {
        if self.capacity == 0 {
            0.0
        } else {
            (self.allocation as f64 * 100.0 / self.capacity as f64).clamp(0.0, 100.0)
        }
    }
}

/// Pools of the same name across hosts, and whether they are one shared storage.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolGroup {
    pub name: String,
    pub pools: Vec<PoolSummary>,
    /// Every host's pool of this name points at the same network source.
    pub shared: bool,
}

/// Groups pools by name (sorted), marking the groups that are shared storage.
pub fn group_by_name(pools: &[PoolSummary]) -> Vec<PoolGroup> {
    let mut groups: Vec<PoolGroup> = Vec::new();
    for pool in pools {
        match groups.iter_mut().find(|g| g.name == pool.name) {
            Some(group) => group.pools.push(pool.clone()),
            None => groups.push(PoolGroup {
                name: pool.name.clone(),
                pools: vec![pool.clone()],
                shared: false,
            }),
        }
    }
    for group in &mut groups {
        let first = group.pools[0].shared_key();
        group.shared = group.pools.len() > 1
            && first.is_some()
            && group.pools.iter().all(|p| p.shared_key() == first);
        group.pools.sort_by(|a, b| a.host.cmp(&b.host));
    }
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    groups
}

/// What `POST /api/pools/action` can do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, EnumIter, EnumString, Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PoolAction {
    Start,
    Stop,
    Refresh,
    AutostartOn,
    AutostartOff,
    /// Undefine (stopping it first); with `delete_storage` also the volumes and
    /// the directory or volume group.
    Delete,
}

impl PoolAction {
    pub fn parse(text: &str) -> Result<PoolAction, ApiError> {
        parse_choice(Choice::Unknown("pool action"), text)
    }

    pub fn label(self) -> &'static str {
        match self {
            PoolAction::Start => "Start",
            PoolAction::Stop => "Stop",
            PoolAction::Refresh => "Refresh",
            PoolAction::AutostartOn => "Autostart on",
            PoolAction::AutostartOff => "Autostart off",
            PoolAction::Delete => "Delete",
        }
    }

    /// The actions offered for a pool in this state.
    pub fn offered(pool: &PoolSummary) -> Vec<PoolAction> {
        let mut actions = Vec::new();
        match pool.state {
            PoolState::Active | PoolState::Degraded => {
                actions.extend([PoolAction::Refresh, PoolAction::Stop])
            }
            _ => actions.push(PoolAction::Start),
        }
        if pool.persistent {
            actions.push(if pool.autostart {
                PoolAction::AutostartOff
            } else {
                PoolAction::AutostartOn
            });
        }
        actions.push(PoolAction::Delete);
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_actions_use_their_wire_names() {
        assert_eq!(PoolAction::AutostartOn.to_string(), "autostart_on");
        assert!(PoolAction::parse("Start")
            .unwrap_err()
            .to_string()
            .contains("start, stop"));
    }

    fn summary(host: &str, pool_type: PoolType, source: PoolSource) -> PoolSummary {
        PoolSummary {
            host: host.into(),
            name: "p".into(),
            uuid: String::new(),
            pool_type,
            state: PoolState::Active,
            autostart: false,
            persistent: true,
            capacity: 0,
            allocation: 0,
            available: 0,
            target_path: Some("/var/lib/libvirt/images".into()),
            source,
            volumes: Some(0),
        }
    }

    #[test]
    fn pools_are_shared_only_with_the_same_network_source() {
        let nfs = |path: &str| PoolSource {
            source_host: Some("NFS1".into()),
            source_path: Some(path.into()),
            source_format: Some("nfs".into()),
            ..Default::default()
        };
        let groups = group_by_name(&[
            summary("b", PoolType::Netfs, nfs("/srv/vm/")),
            summary("a", PoolType::Netfs, nfs("/srv/vm")),
        ]);
        assert!(groups[0].shared);
        assert_eq!(groups[0].pools[0].host, "a");
        let groups = group_by_name(&[
            summary("a", PoolType::Netfs, nfs("/srv/vm")),
            summary("b", PoolType::Netfs, nfs("/srv/other")),
        ]);
        assert!(!groups[0].shared);
        // Local directories with the same path are different storage.
        let groups = group_by_name(&[
            summary("a", PoolType::Dir, PoolSource::default()),
            summary("b", PoolType::Dir, PoolSource::default()),
        ]);
        assert!(!groups[0].shared);
    }

    #[test]
    fn summaries_name_the_type_and_leave_out_empty_sources() {
        let s = serde_json::to_value(summary("a", PoolType::Dir, PoolSource::default())).unwrap();
        assert_eq!(s["type"], "dir");
        assert_eq!(s["source"], serde_json::json!({}));
    }
}
