//! The requests that change pools: `POST /api/pools` (one host or several)
//! and `POST /api/pools/scan`, with every check that needs no host.

use serde::{Deserialize, Serialize};
use strum::IntoEnumIterator;

use super::{BuildKind, PoolField as F, PoolField, PoolSource, PoolSummary, PoolType};
use crate::api::{
    clip,
    size::StorageName,
    validate::{validate_hostname, validate_iqn, validate_path, validate_simple_name, Choice},
    ApiError,
};
/// `POST /api/pools`: a new pool on one host (`host`) or several (`hosts`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewPool {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    pub name: String,
    #[serde(rename = "type")]
    pub pool_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_path: Option<String>,
    #[serde(flatten)]
    pub source: PoolSource,
    /// Start the pool when the host boots.
    #[serde(default)]
    pub autostart: bool,
    /// For types whose build formats a device or creates a volume group
    /// (`fs`, `disk`, `logical`, `zfs`): do build.
    #[serde(default)]
    pub build: bool,
    /// With `build`: format even if the device already holds data.
    #[serde(default)]
    pub overwrite: bool,
    /// Keep the definition when building or starting fails.
    #[serde(default)]
    pub keep_on_failure: bool,
}

/// A pool definition that passed every check: what the backend receives.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    pub name: StorageName,
    pub pool_type: PoolType,
    pub target_path: Option<String>,
    pub source: PoolSource,
    pub autostart: bool,
    pub build: bool,
    pub overwrite: bool,
    pub keep_on_failure: bool,
}

impl PoolSpec {
    /// This spec for one host: `{host}` in the initiator name becomes the host's name.
    pub fn for_host(&self, host: &str) -> PoolSpec {
        let mut spec = self.clone();
        if let Some(iqn) = &spec.source.initiator_iqn {
            let host_part: String = host
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            spec.source.initiator_iqn = Some(iqn.replace("{host}", &host_part));
        }
        spec
    }
}

fn bad(message: String) -> ApiError {
    ApiError::BadRequest(message)
}

impl NewPool {
    /// The hosts asked for: `host`, or `hosts` (at least one, no repeats).
    pub fn target_hosts(&self) -> Result<Vec<String>, ApiError> {
        let hosts = match (&self.host, &self.hosts) {
            (Some(h), None) => vec![h.clone()],
            (None, Some(hs)) if !hs.is_empty() => hs.clone(),
            (Some(_), Some(_)) => {
                return Err(bad("give either \"host\" or \"hosts\", not both".into()))
            }
            _ => return Err(bad("\"host\" (or \"hosts\", a list) is required".into())),
        };
        for (i, h) in hosts.iter().enumerate() {
            if hosts[..i].contains(h) {
                return Err(bad(format!("host {:?} is listed twice", clip(h))));
            }
        }
        Ok(hosts)
    }

    /// Every check that can be made without asking a host.
    pub fn validate(&self) -> Result<PoolSpec, ApiError> {
        let name = StorageName::parse("pool name", &self.name)?;
        let pool_type: PoolType = self
            .pool_type
            .parse()
            .ok()
            .filter(|t| *t != PoolType::Other)
            .ok_or_else(|| {
                Choice::Unknown("pool type")
                    .refuse(&self.pool_type, PoolType::all().map(<&str>::from))
            })?;
        let several = self.hosts.as_ref().is_some_and(|h| h.len() > 1);
        let non_empty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };

        let mut spec = PoolSpec {
            name: name.clone(),
            pool_type,
            target_path: None,
            source: PoolSource::default(),
            autostart: self.autostart,
            build: self.build,
            overwrite: self.overwrite,
            keep_on_failure: self.keep_on_failure,
        };
        if self.build && pool_type.build() != BuildKind::Format {
            return Err(bad(format!(
                "\"build\" formats a device and only applies to fs, disk, logical and zfs pools, not {pool_type}"
            )));
        }
        if self.overwrite && !self.build {
            return Err(bad(
                "\"overwrite\" only applies together with \"build\"".into()
            ));
        }
        for info in pool_type.fields() {
            let given = match info.name {
                F::TargetPath => non_empty(&self.target_path),
                other => non_empty(&self.source.get(other)),
            };
            let value = match given {
                Some(v) => v,
                None if info.required => {
                    return Err(bad(format!(
                        "{} ({}) is required for a {pool_type} pool",
                        info.name, info.label
                    )))
                }
                None => match info.name {
                    F::TargetPath if pool_type == PoolType::Netfs => {
                        format!("/var/lib/libvirt/images/{name}")
                    }
                    F::InitiatorIqn | F::SourceFormat => match info.default {
                        Some(d) => d,
                        None => continue,
                    },
                    _ => continue,
                },
            };
            if !info.choices.is_empty() && !info.choices.contains(&value) {
                return Err(bad(format!(
                    "{} {:?} is not one of: {}",
                    info.name,
                    clip(&value),
                    info.choices.join(", ")
                )));
            }
            let cifs = self.source.source_format.as_deref() == Some("cifs");
            match info.name {
                F::TargetPath => spec.target_path = Some(validate_path("target_path", &value)?),
                F::SourceHost => spec.source.source_host = Some(validate_hostname(&value)?),
                F::SourcePort => spec.source.source_port = self.source.source_port,
                F::SourcePath => {
                    spec.source.source_path = Some(if cifs {
                        validate_simple_name(
                            "source_path (CIFS share)",
                            value.trim_start_matches('/'),
                        )?
                    } else {
                        validate_path("source_path", &value)?
                    })
                }
                F::SourceDevice if matches!(pool_type, PoolType::Iscsi | PoolType::IscsiDirect) => {
                    spec.source.source_device =
                        Some(validate_iqn("source_device (target IQN)", &value)?)
                }
                F::SourceDevice => {
                    spec.source.source_device = Some(validate_path("source_device", &value)?)
                }
                F::SourceName => {
                    spec.source.source_name = Some(validate_simple_name("source_name", &value)?)
                }
                F::SourceFormat => spec.source.source_format = Some(value),
                F::SourceAdapter => {
                    spec.source.source_adapter =
                        Some(validate_simple_name("source_adapter", &value)?)
                }
                F::InitiatorIqn => {
                    let iqn = validate_iqn("initiator_iqn", &value)?;
                    if several && !iqn.contains("{host}") {
                        return Err(bad(
                            "each host needs its own initiator name: put {host} in initiator_iqn \
                             (it becomes each host's name) or leave it empty"
                                .into(),
                        ));
                    }
                    spec.source.initiator_iqn = Some(iqn);
                }
            }
        }
        if self.source.source_port == Some(0) {
            return Err(bad("source_port must be between 1 and 65535".into()));
        }
        // Fields that do not belong to this type are refused, not silently dropped.
        for field in PoolField::iter() {
            let given = match field {
                F::TargetPath => non_empty(&self.target_path),
                other => non_empty(&self.source.get(other)),
            };
            if given.is_some() && !pool_type.has_field(field) {
                return Err(bad(format!("{field} does not apply to a {pool_type} pool")));
            }
        }
        Ok(spec)
    }
}

/// The answer for one host of a pool created on several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostPoolResult {
    pub host: String,
    pub pool: Option<PoolSummary>,
    pub error: Option<ApiError>,
}

/// `POST /api/pools` answers one summary for `host`, one result per host for `hosts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CreatedPools {
    One(Box<PoolSummary>),
    Many(Vec<HostPoolResult>),
}

/// `POST /api/pools/scan`: what to look for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScanRequest {
    pub host: String,
    #[serde(rename = "type")]
    pub pool_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator_iqn: Option<String>,
}

/// A validated scan request.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanSpec {
    pub pool_type: PoolType,
    pub source_host: Option<String>,
    pub source_port: Option<u16>,
    pub initiator_iqn: Option<String>,
}

impl ScanRequest {
    pub fn validate(&self) -> Result<ScanSpec, ApiError> {
        let pool_type: PoolType = self
            .pool_type
            .parse()
            .ok()
            .filter(|t: &PoolType| t.can_scan())
            .ok_or_else(|| {
                bad(format!(
                    "scanning works for netfs, logical, iscsi and iscsi-direct pools, not {:?}",
                    clip(&self.pool_type)
                ))
            })?;
        let needs_host = pool_type != PoolType::Logical;
        let source_host = match self.source_host.as_deref().map(str::trim) {
            Some(h) if !h.is_empty() => Some(validate_hostname(h)?),
            _ if needs_host => {
                return Err(bad(format!(
                    "source_host is required to scan for {pool_type} sources"
                )))
            }
            _ => None,
        };
        let initiator_iqn = match self.initiator_iqn.as_deref().map(str::trim) {
            Some(i) if !i.is_empty() => Some(validate_iqn("initiator_iqn", i)?),
            _ if pool_type == PoolType::IscsiDirect => {
                Some("iqn.2026-11.org.virtdeck:{host}".to_string())
            }
            _ => None,
        };
        Ok(ScanSpec {
            pool_type,
            source_host,
            source_port: self.source_port.filter(|p| *p != 0),
            initiator_iqn,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn netfs() -> NewPool {
        NewPool {
            host: Some("kvm1".into()),
            name: "shared".into(),
            pool_type: "netfs".into(),
            source: PoolSource {
                source_host: Some("nfs.example.org".into()),
                source_path: Some("/srv/vm".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_netfs_pool_gets_its_defaults() {
        let spec = netfs().validate().unwrap();
        assert_eq!(
            spec.target_path.as_deref(),
            Some("/var/lib/libvirt/images/shared")
        );
        assert_eq!(spec.source.source_format.as_deref(), Some("nfs"));
        assert_eq!(spec.source.source_host.as_deref(), Some("nfs.example.org"));
    }

    #[test]
    fn wrong_definitions_are_refused_with_the_reason() {
        let cases: Vec<(NewPool, &str)> = vec![
            (
                NewPool {
                    name: "../x".into(),
                    ..netfs()
                },
                "not a valid pool name",
            ),
            (
                NewPool {
                    name: "a<b>".into(),
                    ..netfs()
                },
                "not a valid pool name",
            ),
            (
                NewPool {
                    pool_type: "nfs".into(),
                    ..netfs()
                },
                "unknown pool type",
            ),
            (
                NewPool {
                    source: PoolSource {
                        source_host: None,
                        ..netfs().source
                    },
                    ..netfs()
                },
                "source_host (Server) is required",
            ),
            (
                NewPool {
                    target_path: Some("relative/dir".into()),
                    ..netfs()
                },
                "absolute path",
            ),
            (
                NewPool {
                    target_path: Some("/var/lib/../../etc".into()),
                    ..netfs()
                },
                ". or .. components",
            ),
            (
                NewPool {
                    target_path: Some("/var/\nlib".into()),
                    ..netfs()
                },
                "control characters",
            ),
            (
                NewPool {
                    source: PoolSource {
                        source_host: Some("a b<c>".into()),
                        ..netfs().source
                    },
                    ..netfs()
                },
                "not a host name",
            ),
            (
                NewPool {
                    source: PoolSource {
                        source_format: Some("zfs".into()),
                        ..netfs().source
                    },
                    ..netfs()
                },
                "not one of: nfs, glusterfs, cifs, auto",
            ),
            (
                NewPool {
                    source: PoolSource {
                        source_name: Some("vg0".into()),
                        ..netfs().source
                    },
                    ..netfs()
                },
                "source_name does not apply to a netfs pool",
            ),
            (
                NewPool {
                    build: true,
                    ..netfs()
                },
                "only applies to fs, disk, logical",
            ),
        ];
        for (request, why) in cases {
            let err = request.validate().unwrap_err();
            assert!(matches!(err, ApiError::BadRequest(_)));
            assert!(err.to_string().contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn iscsi_direct_initiators_differ_per_host() {
        let request = NewPool {
            host: None,
            hosts: Some(vec!["a".into(), "B_2".into()]),
            name: "lab-iscsi".into(),
            pool_type: "iscsi-direct".into(),
            source: PoolSource {
                source_host: Some("127.0.0.1".into()),
                source_device: Some("iqn.2026-11.org.virtdeck.lab:shared".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let spec = request.validate().unwrap();
        assert_eq!(
            spec.for_host("B_2").source.initiator_iqn.as_deref(),
            Some("iqn.2026-11.org.virtdeck:b-2")
        );
        let fixed = NewPool {
            source: PoolSource {
                initiator_iqn: Some("iqn.2026-11.org.example:one".into()),
                ..request.source.clone()
            },
            ..request.clone()
        };
        assert!(fixed.validate().unwrap_err().to_string().contains("{host}"));
        let bad_target = NewPool {
            source: PoolSource {
                source_device: Some("/dev/sdb".into()),
                ..request.source.clone()
            },
            ..request
        };
        assert!(bad_target
            .validate()
            .unwrap_err()
            .to_string()
            .contains("not an iSCSI name"));
    }

    #[test]
    fn hosts_are_one_or_a_list_without_repeats() {
        let mut r = netfs();
        assert_eq!(r.target_hosts().unwrap(), ["kvm1"]);
        r.hosts = Some(vec!["kvm2".into()]);
        assert!(r.target_hosts().is_err());
        r.host = None;
        r.hosts = Some(vec!["a".into(), "a".into()]);
        assert!(r.target_hosts().unwrap_err().to_string().contains("twice"));
        r.hosts = Some(vec![]);
        assert!(r.target_hosts().is_err());
    }

    #[test]
    fn the_flat_request_reads_like_the_readme() {
        let r: NewPool = serde_json::from_value(serde_json::json!({
            "host": "kvm1", "name": "nfs1", "type": "netfs",
            "source_host": "10.0.0.5", "source_path": "/srv", "autostart": true
        }))
        .unwrap();
        assert_eq!(r.source.source_host.as_deref(), Some("10.0.0.5"));
        assert!(r.autostart);
    }
}
