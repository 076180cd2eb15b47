//! Configuration: a TOML file (`VIRTDECK_CONFIG`, default `./virtdeck.toml`)
//! with environment overrides. No file at all means defaults and the demo fleet.
//!
//! ```toml
//! listen = "127.0.0.1:3000"
//! database_url = "sqlite://virtdeck.db"
//! public_url = "https://virtdeck.example.org"   # https here makes cookies Secure
//!
//! [[hosts]]
//! name = "kvm1"
//! uri = "qemu+ssh://root@kvm1/system"
//! migration_uri = "qemu+tcp://kvm1.internal/system"   # optional, see HostConfig
//!
//! [[notify]]                                 # webhooks, see NotifyConfig
//! url = "https://hooks.example.org/virtdeck"
//! events = ["evacuation.failed", "migration.failed", "host.unreachable"]
//! secret = "a long random string"            # optional: signs each body
//! ```

use std::{collections::HashSet, net::SocketAddr, path::PathBuf};

use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";
/// The database file's name in the data directory.
pub const DATABASE_FILE: &str = "virtdeck.db";

/// virtdeck's own data (database, first password) outside any source tree:
/// `$XDG_DATA_HOME/virtdeck`, else `~/.local/share/virtdeck`, else
/// `/var/lib/virtdeck`.
pub fn default_data_dir(env: &impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(xdg) = env("XDG_DATA_HOME").filter(|p| p.starts_with('/')) {
        return PathBuf::from(xdg).join("virtdeck");
    }
    match env("HOME").filter(|p| p.starts_with('/') && p != "/") {
        Some(home) => PathBuf::from(home).join(".local/share/virtdeck"),
        None => PathBuf::from("/var/lib/virtdeck"),
    }
}

/// One managed libvirt host.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// A short unique name shown in the UI and used in the API.
    pub name: String,
    /// Any libvirt URI: `qemu:///system`, `qemu+ssh://user@host/system`, `test:///path.xml`.
    pub uri: String,
    /// The URI another host's libvirtd uses to reach this one when it drives a
    /// migration here (peer to peer). Default: `uri`, which must then work
    /// from the other hosts too (a `qemu:///system` or an ssh key that only
    /// virtdeck's machine holds does not).
    #[serde(default)]
    pub migration_uri: Option<String>,
    /// Where this host's pools may put their directories and mount points
    /// (replaces the global `storage_roots` for this host).
    #[serde(default)]
    pub storage_roots: Option<Vec<String>>,
    /// The memory this host gives to guests, for placement and balance
    /// (default: its memory less 10 % or 2 GiB, whichever is larger).
    #[serde(default)]
    pub allocatable_memory_mib: Option<u64>,
    /// The CPUs this host gives to guests (default: all of them).
    #[serde(default)]
    pub allocatable_cpus: Option<u32>,
}

impl HostConfig {
    pub fn new(name: &str, uri: &str) -> Self {
        HostConfig {
            name: name.to_string(),
            uri: uri.to_string(),
            migration_uri: None,
            storage_roots: None,
            allocatable_memory_mib: None,
            allocatable_cpus: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<String>,
    database_url: Option<String>,
    public_url: Option<String>,
    login_attempts: Option<u32>,
    login_window_secs: Option<u64>,
    audit_retention_days: Option<u32>,
    transfer_idle_secs: Option<u64>,
    migration_host_wait_secs: Option<u64>,
    balance_sample_secs: Option<u64>,
    balance_bandwidth_mib_s: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
    storage_roots: Option<Vec<String>>,
    #[serde(default)]
    hosts: Vec<HostConfig>,
    #[serde(default)]
    notify: Vec<NotifyConfig>,
}

/// A webhook: a JSON POST to `url` for each of `events` (see
/// `services::notify::EVENTS`), signed with HMAC-SHA256 of the body in the
/// `X-Virtdeck-Signature` header (`sha256=<hex>`) when `secret` is set.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub secret: Option<String>,
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("url", &self.url)
            .field("events", &self.events)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn validate_notify(path: &str, targets: &[NotifyConfig]) -> Result<(), ConfigError> {
    use crate::services::notify::EVENTS;
    for (i, t) in targets.iter().enumerate() {
        let key = |field: &str| format!("{path}: notify[{i}].{field}");
        let scheme_ok = t.url.starts_with("https://") || t.url.starts_with("http://");
        if !scheme_ok || t.url.len() > 2000 || t.url.chars().any(char::is_whitespace) {
            return Err(ConfigError::Invalid {
                key: key("url"),
                message: format!("{:?} must be an http:// or https:// URL", t.url),
            });
        }
        if t.events.is_empty() {
            return Err(ConfigError::Invalid {
                key: key("events"),
                message: format!("name at least one of {}", EVENTS.join(", ")),
            });
        }
        if let Some(e) = t.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
            return Err(ConfigError::Invalid {
                key: key("events"),
                message: format!("{e:?} is not one of {}", EVENTS.join(", ")),
            });
        }
        if t.secret.as_deref().is_some_and(|s| s.len() < 16) {
            return Err(ConfigError::Invalid {
                key: key("secret"),
                message: "a secret has at least 16 characters".into(),
            });
        }
    }
    Ok(())
}

/// Where pools may put their directories and mount points unless
/// `storage_roots` says otherwise (with the paths of pools that exist).
pub const DEFAULT_STORAGE_ROOTS: [&str; 3] = [
    "/var/lib/libvirt/images",
    "/var/lib/libvirt/iso",
    "/srv/virtdeck",
];

/// Not `Debug`-derived: it may hold a password (see the `Debug` impl).
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// virtdeck's own data (`data_dir`, `VIRTDECK_DATA_DIR`): the database
    /// by default and the first password; made at start, owner only.
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Set session cookies `Secure` (the public address is https).
    pub secure_cookies: bool,
    /// The address browsers use (`public_url`, without a path): the only
    /// `Origin` accepted besides the request's own `Host`.
    pub public_origin: Option<String>,
    /// Configured hosts; empty means the demo fleet.
    pub hosts: Vec<HostConfig>,
    /// Webhooks (`[[notify]]`).
    pub notify: Vec<NotifyConfig>,
    /// Where the configuration came from, for the log.
    pub source: String,
    /// Password for the first `admin` user (`VIRTDECK_ADMIN_PASSWORD`).
    pub admin_password: Option<String>,
    /// Failed logins allowed per client address within `login_window`
    /// (`login_attempts`, default 10) before it is answered 429.
    pub login_attempts: u32,
    /// `login_window_secs`, default 300.
    pub login_window: std::time::Duration,
    /// Audit rows older than this are deleted (`audit_retention_days`, default 365).
    pub audit_retention_days: u32,
    /// Where pools may put their directories and mount points, on every host
    /// without roots of its own (`storage_roots`).
    pub storage_roots: Vec<String>,
    /// How long an upload or download waits for a client that sends or reads
    /// nothing (`transfer_idle_secs`, default 60).
    pub transfer_idle: std::time::Duration,
    /// How long a migration job waits for a host that stopped answering
    /// (its libvirtd restarting, a source host reconnecting after virtdeck
    /// restarted) before it records what it knows
    /// (`migration_host_wait_secs`, default 120).
    pub migration_host_wait: std::time::Duration,
    /// How often the balance advisor samples every host's load
    /// (`balance_sample_secs`, default 10).
    pub balance_sample: std::time::Duration,
    /// The bandwidth a balancing migration is expected to get, for its cost
    /// estimate (`balance_bandwidth_mib_s`, default 100 MiB/s).
    pub balance_bandwidth_mib_s: u64,
    /// Reverse proxies whose `X-Forwarded-For` names the client
    /// (`trusted_proxies`, `VIRTDECK_TRUSTED_PROXIES`: addresses).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url)
            .field("secure_cookies", &self.secure_cookies)
            .field("public_origin", &self.public_origin)
            .field("hosts", &self.hosts)
            .field("notify", &self.notify)
            .field("source", &self.source)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "<redacted>"),
            )
            .field("login_attempts", &self.login_attempts)
            .field("login_window", &self.login_window)
            .field("audit_retention_days", &self.audit_retention_days)
            .field("storage_roots", &self.storage_roots)
            .field("transfer_idle", &self.transfer_idle)
            .field("migration_host_wait", &self.migration_host_wait)
            .field("balance_sample", &self.balance_sample)
            .field("balance_bandwidth_mib_s", &self.balance_bandwidth_mib_s)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl Config {
    /// Reads `VIRTDECK_CONFIG` (or `./virtdeck.toml`) and the environment.
    pub fn load() -> Result<Config, ConfigError> {
        let path = std::env::var("VIRTDECK_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from("virtdeck.toml"));
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        Config::from_sources(&path.display().to_string(), text.as_deref(), |key| {
            std::env::var(key).ok().filter(|v| !v.is_empty())
        })
    }

    /// Builds the configuration from a file's text (if any) and an environment.
    pub fn from_sources(
        path: &str,
        text: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file: FileConfig = match text {
            Some(text) => toml::from_str(text).map_err(|e| ConfigError::Parse {
                path: path.to_string(),
                message: e.to_string().trim_end().to_string(),
            })?,
            None => FileConfig::default(),
        };

        let (listen_key, listen) = match env("VIRTDECK_LISTEN") {
            Some(v) => ("VIRTDECK_LISTEN".to_string(), v),
            None => (
                format!("{path}: listen"),
                file.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
            ),
        };
        let listen: SocketAddr = listen.trim().parse().map_err(|_| ConfigError::Invalid {
            key: listen_key,
            message: format!("{listen:?} is not an address and port like 127.0.0.1:3000"),
        })?;

        let data_dir = env("VIRTDECK_DATA_DIR")
            .or(file.data_dir)
            .map(PathBuf::from)
            .unwrap_or_else(|| default_data_dir(&env));
        if !data_dir.is_absolute() {
            return Err(ConfigError::Invalid {
                key: "data_dir".into(),
                message: format!("{} must be an absolute path", data_dir.display()),
            });
        }
        let database_url = env("VIRTDECK_DATABASE_URL")
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join(DATABASE_FILE).display()));
        if !database_url.starts_with("sqlite:") {
            return Err(ConfigError::Invalid {
                key: "database_url".into(),
                message: format!("{database_url:?} is not supported; use sqlite://FILE"),
            });
        }

        let secure_cookies = match &file.public_url {
            Some(url) if url.starts_with("https://") => true,
            Some(url) if url.starts_with("http://") => false,
            Some(url) => {
                return Err(ConfigError::Invalid {
                    key: format!("{path}: public_url"),
                    message: format!("{url:?} must start with https:// or http://"),
                })
            }
            None => false,
        };

        validate_hosts(path, &file.hosts)?;
        validate_notify(path, &file.notify)?;
        let storage_roots = match &file.storage_roots {
            Some(roots) => {
                validate_roots(&format!("{path}: storage_roots"), roots)?;
                roots.clone()
            }
            None => DEFAULT_STORAGE_ROOTS.map(String::from).to_vec(),
        };
        let number = |key: &str, env_key: &str, file: Option<u64>, default: u64, max: u64| {
            let (shown, value) = match env(env_key) {
                Some(v) => (env_key.to_string(), v),
                None => (
                    format!("{path}: {key}"),
                    file.unwrap_or(default).to_string(),
                ),
            };
            match value.trim().parse::<u64>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ConfigError::Invalid {
                    key: shown,
                    message: format!("{value:?} is not a whole number from 1 to {max}"),
                }),
            }
        };
        let login_attempts = number(
            "login_attempts",
            "VIRTDECK_LOGIN_ATTEMPTS",
            file.login_attempts.map(u64::from),
            10,
            10_000,
        )? as u32;
        let login_window = std::time::Duration::from_secs(number(
            "login_window_secs",
            "VIRTDECK_LOGIN_WINDOW_SECS",
            file.login_window_secs,
            300,
            86_400,
        )?);
        let audit_retention_days = number(
            "audit_retention_days",
            "VIRTDECK_AUDIT_RETENTION_DAYS",
            file.audit_retention_days.map(u64::from),
            365,
            36_500,
        )? as u32;
        let transfer_idle = std::time::Duration::from_secs(number(
            "transfer_idle_secs",
            "VIRTDECK_TRANSFER_IDLE_SECS",
            file.transfer_idle_secs,
            60,
            86_400,
        )?);
        let migration_host_wait = std::time::Duration::from_secs(number(
            "migration_host_wait_secs",
            "VIRTDECK_MIGRATION_HOST_WAIT_SECS",
            file.migration_host_wait_secs,
            120,
            86_400,
        )?);
        let balance_sample = std::time::Duration::from_secs(number(
            "balance_sample_secs",
            "VIRTDECK_BALANCE_SAMPLE_SECS",
            file.balance_sample_secs,
            10,
            3_600,
        )?);
        let balance_bandwidth_mib_s = number(
            "balance_bandwidth_mib_s",
            "VIRTDECK_BALANCE_BANDWIDTH_MIB_S",
            file.balance_bandwidth_mib_s,
            100,
            1_000_000,
        )?;
        let proxies: Vec<String> = match env("VIRTDECK_TRUSTED_PROXIES") {
            Some(v) => v.split(',').map(|s| s.trim().to_string()).collect(),
            None => file.trusted_proxies.clone().unwrap_or_default(),
        };
        let trusted_proxies = proxies
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse().map_err(|_| ConfigError::Invalid {
                    key: "trusted_proxies".into(),
                    message: format!("{p:?} is not an IP address"),
                })
            })
            .collect::<Result<Vec<std::net::IpAddr>, _>>()?;
        Ok(Config {
            listen,
            data_dir,
            database_url,
            secure_cookies,
            public_origin: file.public_url.as_deref().map(origin_of),
            hosts: file.hosts,
            notify: file.notify,
            source: if text.is_some() {
                path.to_string()
            } else {
                format!("defaults (no file at {path})")
            },
            admin_password: env("VIRTDECK_ADMIN_PASSWORD"),
            login_attempts,
            login_window,
            audit_retention_days,
            storage_roots,
            transfer_idle,
            migration_host_wait,
            balance_sample,
            balance_bandwidth_mib_s,
            trusted_proxies,
        })
    }
}

/// Storage roots are absolute, plain paths: no `.` or `..`, no empty parts.
fn validate_roots(key: &str, roots: &[String]) -> Result<(), ConfigError> {
    for root in roots {
        let plain = root.starts_with('/')
            && root.len() > 1
            && root
                .trim_end_matches('/')
                .split('/')
                .skip(1)
                .all(|p| !p.is_empty() && p != "." && p != "..");
        if !plain {
            return Err(ConfigError::Invalid {
                key: key.to_string(),
                message: format!(
                    "{root:?} is not an absolute directory without . or .. (and not / itself)"
                ),
            });
        }
    }
    Ok(())
}

/// `https://virtdeck.example.org/x/` as an origin: `https://virtdeck.example.org`.
fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}").to_ascii_lowercase()
}

/// Host names are short identifiers: they appear in URLs, logs and the API.
pub fn valid_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn validate_hosts(path: &str, hosts: &[HostConfig]) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for (i, host) in hosts.iter().enumerate() {
        let key = |field: &str| format!("{path}: hosts[{i}].{field}");
        if !valid_host_name(&host.name) {
            return Err(ConfigError::Invalid {
                key: key("name"),
                message: format!(
                    "{:?} must be 1 to 64 letters, digits, '-', '_' or '.'",
                    host.name
                ),
            });
        }
        if !seen.insert(host.name.as_str()) {
            return Err(ConfigError::Invalid {
                key: key("name"),
                message: format!("{:?} is used by two hosts", host.name),
            });
        }
        if !host.uri.contains(':') || host.uri.trim() != host.uri {
            return Err(ConfigError::Invalid {
                key: key("uri"),
                message: format!("{:?} is not a libvirt URI such as qemu:///system", host.uri),
            });
        }
        if let Some(roots) = &host.storage_roots {
            validate_roots(&key("storage_roots"), roots)?;
        }
        // 1 MiB to 1 PiB, 1 to 65,536 CPUs: anything else is a typo.
        if let Some(m) = host.allocatable_memory_mib {
            if !(1..=1 << 30).contains(&m) {
                return Err(ConfigError::Invalid {
                    key: key("allocatable_memory_mib"),
                    message: format!("{m} must be between 1 and 1073741824 (1 PiB)"),
                });
            }
        }
        if let Some(c) = host.allocatable_cpus {
            if !(1..=65_536).contains(&c) {
                return Err(ConfigError::Invalid {
                    key: key("allocatable_cpus"),
                    message: format!("{c} must be between 1 and 65536"),
                });
            }
        }
        if let Some(m) = &host.migration_uri {
            if !m.contains("://") || m.trim() != m {
                return Err(ConfigError::Invalid {
                    key: key("migration_uri"),
                    message: format!(
                        "{m:?} is not a libvirt URI such as qemu+tcp://kvm2.example.org/system"
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn no_file_means_defaults_and_no_hosts() {
        let c = Config::from_sources("virtdeck.toml", None, no_env).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        // Never in the working directory (a checkout): a data directory.
        assert_eq!(c.database_url, "sqlite:///var/lib/virtdeck/virtdeck.db");
        let home = |k: &str| (k == "HOME").then(|| "/home/ann".to_string());
        let c = Config::from_sources("virtdeck.toml", None, home).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/home/ann/.local/share/virtdeck"));
        assert_eq!(
            c.database_url,
            "sqlite:///home/ann/.local/share/virtdeck/virtdeck.db"
        );
        assert!(c.hosts.is_empty());
        assert!(!c.secure_cookies);
    }

    #[test]
    fn file_hosts_and_env_overrides() {
        let text = r#"
            listen = "0.0.0.0:8080"
            database_url = "sqlite://file.db"
            public_url = "https://virtdeck.example.org"
            [[hosts]]
            name = "kvm1"
            uri = "qemu+ssh://root@kvm1/system"
        "#;
        let env = |k: &str| (k == "VIRTDECK_LISTEN").then(|| "127.0.0.1:4000".to_string());
        let c = Config::from_sources("v.toml", Some(text), env).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:4000");
        assert_eq!(c.database_url, "sqlite://file.db");
        assert!(c.secure_cookies);
        assert_eq!(
            c.public_origin.as_deref(),
            Some("https://virtdeck.example.org")
        );
        assert_eq!(c.hosts[0].name, "kvm1");
        assert_eq!(c.hosts[0].migration_uri, None);
    }

    #[test]
    fn what_a_host_gives_to_guests_is_read_and_checked() {
        let host =
            |extra: &str| format!("[[hosts]]\nname = \"kvm1\"\nuri = \"qemu:///system\"\n{extra}");
        let c = Config::from_sources(
            "v.toml",
            Some(&host(
                "allocatable_memory_mib = 120000\nallocatable_cpus = 30",
            )),
            no_env,
        )
        .unwrap();
        assert_eq!(c.hosts[0].allocatable_memory_mib, Some(120_000));
        assert_eq!(c.hosts[0].allocatable_cpus, Some(30));
        for (extra, field) in [
            ("allocatable_memory_mib = 0", "allocatable_memory_mib"),
            ("allocatable_cpus = 0", "allocatable_cpus"),
            ("allocatable_cpus = 70000", "allocatable_cpus"),
        ] {
            let c = Config::from_sources("v.toml", Some(&host(extra)), no_env);
            let want = format!("v.toml: hosts[0].{field}");
            assert!(
                matches!(c, Err(ConfigError::Invalid { ref key, .. }) if *key == want),
                "{extra}: {c:?}"
            );
        }
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let c = Config::from_sources("x.toml", None, |k| {
            (k == "VIRTDECK_ADMIN_PASSWORD").then(|| "hunter2-secret".to_string())
        })
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn login_limits_are_checked() {
        let c = Config::from_sources("x.toml", Some("login_attempts = 0"), no_env);
        assert!(
            matches!(c, Err(ConfigError::Invalid { ref key, .. }) if key == "x.toml: login_attempts")
        );
        let c = Config::from_sources("x.toml", None, |k| {
            (k == "VIRTDECK_LOGIN_WINDOW_SECS").then(|| "-5".to_string())
        });
        assert!(
            matches!(c, Err(ConfigError::Invalid { ref key, .. }) if key == "VIRTDECK_LOGIN_WINDOW_SECS")
        );
        let c = Config::from_sources("x.toml", None, no_env).unwrap();
        assert_eq!(
            (
                c.login_attempts,
                c.login_window.as_secs(),
                c.audit_retention_days
            ),
            (10, 300, 365)
        );
    }

    #[test]
    fn webhooks_are_checked_and_their_secrets_never_shown() {
        let ok = "[[notify]]\nurl = \"https://hooks.example.org/v\"\nevents = [\"evacuation.done\", \"host.unreachable\"]\nsecret = \"0123456789abcdef-secret\"";
        let c = Config::from_sources("v.toml", Some(ok), no_env).unwrap();
        assert_eq!(c.notify.len(), 1);
        assert_eq!(c.notify[0].events, ["evacuation.done", "host.unreachable"]);
        let shown = format!("{c:?}");
        assert!(!shown.contains("0123456789abcdef-secret"), "{shown}");
        let err = |text: &str| {
            Config::from_sources("v.toml", Some(text), no_env)
                .unwrap_err()
                .to_string()
        };
        let e = err("[[notify]]\nurl = \"ftp://x\"\nevents = [\"evacuation.done\"]");
        assert!(e.starts_with("v.toml: notify[0].url"), "{e}");
        let e = err("[[notify]]\nurl = \"http://x\"\nevents = []");
        assert!(e.starts_with("v.toml: notify[0].events"), "{e}");
        let e = err("[[notify]]\nurl = \"http://x\"\nevents = [\"guest.eaten\"]");
        assert!(
            e.contains("\"guest.eaten\" is not one of evacuation.started"),
            "{e}"
        );
        let e = err(
            "[[notify]]\nurl = \"http://x\"\nevents = [\"host.reachable\"]\nsecret = \"short\"",
        );
        assert!(e.starts_with("v.toml: notify[0].secret"), "{e}");
    }

    #[test]
    fn errors_name_the_key() {
        let err = |text: &str| {
            Config::from_sources("v.toml", Some(text), no_env)
                .unwrap_err()
                .to_string()
        };
        assert!(err("listen = \"nonsense\"").contains("listen"));
        assert!(err("lisen = \"127.0.0.1:1\"").contains("lisen"));
        assert!(err("[[hosts]]\nname = \"a\"").contains("uri"));
        assert!(
            err("[[hosts]]\nname = \"a b\"\nuri = \"test:///default\"").contains("hosts[0].name")
        );
        assert!(err(
            "[[hosts]]\nname = \"a\"\nuri = \"test:///default\"\n[[hosts]]\nname = \"a\"\nuri = \"test:///default\""
        )
        .contains("used by two hosts"));
        assert!(err("listen = 5").contains("listen"));
        assert!(
            err("[[hosts]]\nname = \"a\"\nuri = \"qemu:///system\"\nmigration_uri = \"kvm1\"")
                .contains("hosts[0].migration_uri")
        );
        let e = Config::from_sources("v.toml", None, |k: &str| {
            (k == "VIRTDECK_LISTEN").then(|| "x".to_string())
        })
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("VIRTDECK_LISTEN"), "{e}");
    }
}
