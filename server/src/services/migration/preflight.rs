//! Pre-flight checks of a migration: the facts read from both hosts (by
//! `libvirt::preflight`) turned into checks with a verdict, an explanation
//! and, when one fails, the fix. Pure: tested without libvirt. The evaluation
//! also says which disks a copy-storage migration has to copy (those not on
//! storage both hosts share).

use app::api::{
    guests::GuestState,
    migrations::{Check, MigrationMode, MigrationSpec, Persistence, StorageMode},
    pools::{PoolState, PoolSummary},
    size::human_bytes,
    ApiError,
};

use super::super::convert::pool_summary;
use crate::libvirt::{
    preflight as facts,
    sys::CpuFit,
    xml::{
        capabilities::HostIdentity,
        domain::{DiskDef, DiskSource, GuestDef},
    },
};

/// A disk of the guest and the pool (on the source) it lives in.
#[derive(Debug, Clone)]
pub struct DiskFacts {
    pub def: DiskDef,
    pub pool: Option<PoolSummary>,
    /// `(capacity, allocation)` of its volume, when it is one.
    pub size: Option<(u64, u64)>,
    /// Its volume's name in `pool`.
    pub volume: Option<String>,
}

/// What the source host says about itself and the guest, in the API's terms.
#[derive(Debug, Clone)]
pub struct SourceFacts {
    pub identity: HostIdentity,
    pub driver: String,
    pub guest: GuestDef,
    pub state: GuestState,
    pub persistent: bool,
    pub memory_kib: u64,
    pub disks: Vec<DiskFacts>,
}

impl SourceFacts {
    pub fn from_host(host: &str, f: facts::SourceFacts) -> Self {
        SourceFacts {
            identity: f.identity,
            driver: f.driver,
            guest: f.guest,
            state: f.state.into(),
            persistent: f.persistent,
            memory_kib: f.memory_kib,
            disks: f
                .disks
                .into_iter()
                .map(|d| DiskFacts {
                    def: d.def,
                    pool: d.pool.map(|p| pool_summary(host, p)),
                    size: d.size,
                    volume: d.volume,
                })
                .collect(),
        }
    }
}

/// What the destination host says, in the API's terms.
#[derive(Debug, Clone)]
pub struct DestFacts {
    pub identity: HostIdentity,
    pub driver: String,
    /// Bytes a new guest can have (free, buffers and page cache).
    pub free_memory: u64,
    pub pools: Vec<PoolSummary>,
    /// A guest with the same UUID: its name and whether it runs.
    pub same_uuid: Option<(String, bool)>,
    /// Another guest with the same name: its UUID.
    pub same_name: Option<String>,
    /// The destination hypervisor's verdict on the guest's CPU.
    pub cpu: Option<Result<CpuFit, String>>,
    /// `(pool, volume)` of the source's disks the destination's same-named
    /// pool has already.
    pub existing_volumes: Vec<(String, String)>,
}

impl DestFacts {
    pub fn from_host(host: &str, f: facts::DestFacts) -> Self {
        DestFacts {
            identity: f.identity,
            driver: f.driver,
            free_memory: f.free_memory,
            pools: f.pools.into_iter().map(|p| pool_summary(host, p)).collect(),
            same_uuid: f.same_uuid,
            same_name: f.same_name,
            cpu: f.cpu,
            existing_volumes: f.existing_volumes,
        }
    }
}

/// Everything the evaluation needs besides the facts.
pub struct Context<'a> {
    pub spec: &'a MigrationSpec,
    /// The URI the source host's libvirtd will open to reach the destination.
    pub destination_uri: &'a str,
    /// Another migration of this guest is running.
    pub busy: bool,
    /// Why the destination takes no guests now (it is in or entering maintenance).
    pub destination_closed: Option<String>,
}

/// The checks, and the disks (target devices) a copy-storage migration copies.
pub struct Evaluation {
    pub checks: Vec<Check>,
    pub copy_disks: Vec<String>,
}

/// Turns the facts into checks. Pure: tested without libvirt.
pub fn evaluate(
    ctx: &Context,
    source: &Result<SourceFacts, ApiError>,
    dest: &Result<DestFacts, ApiError>,
) -> Evaluation {
    let spec = ctx.spec;
    let (from, to) = (spec.host.as_str(), spec.destination.as_str());
    let mut checks = Vec::new();
    let mut copy_disks = Vec::new();

    let dest = match dest {
        Ok(d) => {
            checks.push(Check::ok(
                "destination_connected",
                format!("{to} is connected"),
            ));
            Some(d)
        }
        Err(e) => {
            checks.push(Check::blocked(
                "destination_connected",
                format!("{to} cannot be reached: {e}"),
                "check the host on the Hosts page; virtdeck reconnects by itself once it answers",
            ));
            None
        }
    };
    let source = match source {
        Ok(s) => s,
        Err(e) => {
            checks.push(Check::blocked(
                "source_connected",
                format!("the guest cannot be read on {from}: {e}"),
                "check the source host on the Hosts page",
            ));
            return Evaluation { checks, copy_disks };
        }
    };
    let g = &source.guest;

    // What the source host needs to drive the migration (peer to peer).
    checks.push(migration_uri_check(to, ctx.destination_uri));

    if let Some(d) = dest {
        checks.push(match (&source.identity.uuid, &d.identity.uuid) {
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => Check::blocked(
                "different_host",
                format!("{from} and {to} are the same libvirt host (host UUID {a})"),
                "choose another destination; if these really are two machines, give each a distinct host_uuid in libvirtd.conf",
            ),
            _ => Check::ok("different_host", format!("{from} and {to} are different hosts")),
        });
        let arch = g.arch.clone().unwrap_or_else(|| "x86_64".into());
        checks.push(if !d.identity.runs(&arch, &g.virt_type) {
            Check::blocked(
                "architecture",
                format!("{to} cannot run {arch} guests of type {}", g.virt_type),
                "choose a destination of the same architecture and hypervisor",
            )
        } else if !source.driver.eq_ignore_ascii_case(&d.driver) {
            Check::blocked(
                "architecture",
                format!("{from} runs {} and {to} runs {}", source.driver, d.driver),
                "choose a destination with the same hypervisor",
            )
        } else {
            Check::ok(
                "architecture",
                format!("{arch}, {} ({}) on both", g.virt_type, d.driver),
            )
        });
        checks.push(cpu_check(g, d, to));
        checks.push(names_check(spec, g, d, to));
        if spec.mode != MigrationMode::Offline {
            let need = source.memory_kib.saturating_mul(1024);
            let free = d.free_memory;
            let figures = format!(
                "the guest needs {}, {to} has {} available",
                human_bytes(need),
                human_bytes(free)
            );
            checks.push(if free < need {
                Check::blocked(
                    "memory",
                    format!("not enough memory: {figures}"),
                    format!("free memory on {to}, or choose another destination"),
                )
            } else if free < need + need / 10 {
                Check::warning(
                    "memory",
                    format!("tight: {figures}"),
                    Some("the destination will have almost no memory left".into()),
                )
            } else {
                Check::ok("memory", figures)
            });
        }
    }

    checks.push(state_check(spec, source));
    if let Some(why) = &ctx.destination_closed {
        checks.push(Check::blocked(
            "destination_open",
            why.clone(),
            "choose another destination, or take the host out of maintenance first",
        ));
    }
    checks.push(if ctx.busy {
        Check::blocked(
            "no_other_job",
            "another migration of this guest is running",
            "wait for it to end, or cancel it on the Migrations page",
        )
    } else {
        Check::ok(
            "no_other_job",
            "no other migration of this guest is running",
        )
    });

    let real_disks: Vec<&DiskFacts> = source
        .disks
        .iter()
        .filter(|d| d.def.source.is_some())
        .collect();
    if real_disks.is_empty() {
        checks.push(Check::ok("disks", "the guest has no disks to move"));
    }
    for disk in real_disks {
        let (check, copy) = disk_check(spec, disk, dest, to, from);
        if copy {
            copy_disks.push(disk.def.target.clone());
        }
        checks.push(check);
    }
    if spec.options.allow_postcopy == Some(true) {
        checks.push(Check::ok(
            "postcopy",
            "post-copy can be switched on while the migration runs (QEMU on the destination needs userfaultfd); during post-copy a network failure loses the guest",
        ));
    }
    Evaluation { checks, copy_disks }
}

fn migration_uri_check(to: &str, uri: &str) -> Check {
    let local = uri.starts_with("qemu:///") || uri.contains("+unix") || !uri.contains("://");
    if uri.starts_with("test:") {
        Check::blocked(
            "migration_uri",
            format!("{to} is a test-driver host ({uri}): it cannot take part in a migration"),
            "migrate between real libvirt hosts",
        )
    } else if local {
        Check::blocked(
            "migration_uri",
            format!(
                "the source host's libvirtd connects to {to} itself (peer to peer), and {uri} only works on virtdeck's own machine"
            ),
            format!("set migration_uri for host {to} in virtdeck.toml to an address the other hosts reach, e.g. qemu+tcp://{to}.example.org/system or qemu+ssh://root@{to}.example.org/system"),
        )
    } else if uri.contains("keyfile=") {
        Check::warning(
            "migration_uri",
            format!(
                "the source host's libvirtd connects to {uri} itself: it needs that key file too"
            ),
            Some(format!(
                "set migration_uri for host {to} if only virtdeck's machine has the key"
            )),
        )
    } else {
        Check::ok(
            "migration_uri",
            format!("the source host's libvirtd connects to {uri} (peer to peer)"),
        )
    }
}

fn cpu_check(g: &GuestDef, d: &DestFacts, to: &str) -> Check {
    match (g.cpu_mode.as_deref(), &d.cpu) {
        (None, _) => Check::warning(
            "cpu",
            "the guest defines no CPU model: it gets QEMU's default CPU, which the destination must provide as well",
            Some("give the guest a CPU model for a check that can be trusted".into()),
        ),
        (Some("host-passthrough"), _) => Check::warning(
            "cpu",
            "the guest sees the source host's own CPU (host-passthrough): it can only move to a host with the very same CPU",
            Some("give the guest a named CPU model common to both hosts".into()),
        ),
        (_, Some(Ok(CpuFit::Incompatible))) => Check::blocked(
            "cpu",
            format!(
                "{to} cannot run the guest's CPU ({})",
                g.cpu_model.as_deref().unwrap_or("its model")
            ),
            "choose a destination with a compatible CPU, or give the guest an older CPU model while it is shut off",
        ),
        (_, Some(Ok(_))) => Check::ok(
            "cpu",
            format!(
                "{to} can run the guest's CPU ({})",
                g.cpu_model.as_deref().unwrap_or("as defined")
            ),
        ),
        (_, Some(Err(e))) => Check::warning(
            "cpu",
            format!("{to} could not compare the guest's CPU: {e}"),
            None,
        ),
        (Some(mode), None) => Check::warning(
            "cpu",
            format!("the guest's CPU ({mode}) could not be compared before the guest runs"),
            None,
        ),
    }
}

fn names_check(spec: &MigrationSpec, g: &GuestDef, d: &DestFacts, to: &str) -> Check {
    if let Some(other) = &d.same_name {
        return Check::blocked(
            "name_and_uuid",
            format!(
                "{to} already has another guest named {} (UUID {other})",
                g.name
            ),
            format!("rename one of the two guests, or remove the other one from {to}"),
        );
    }
    match &d.same_uuid {
        Some((name, true)) => Check::blocked(
            "name_and_uuid",
            format!("this guest (UUID {}) is already running on {to} as {name}", spec.uuid),
            format!("shut down the copy on {to} first: two running copies would corrupt shared disks"),
        ),
        Some((_, false)) => Check::ok(
            "name_and_uuid",
            format!("{to} holds an inactive definition of this guest (left by an earlier temporary migration): the way back, replaced by this migration"),
        ),
        None => Check::ok(
            "name_and_uuid",
            format!("no guest with this name or UUID on {to}"),
        ),
    }
}

fn state_check(spec: &MigrationSpec, s: &SourceFacts) -> Check {
    let running = matches!(
        s.state,
        GuestState::Running | GuestState::Paused | GuestState::Blocked
    );
    match spec.mode {
        MigrationMode::Live | MigrationMode::Paused if !running => Check::blocked(
            "guest_state",
            format!("the guest is {}: a {} migration moves a running guest", s.state.label(), spec.mode),
            "choose Offline to move its definition, or start it first",
        ),
        MigrationMode::Offline if s.state != GuestState::Shutoff => Check::blocked(
            "guest_state",
            format!("the guest is {}: an offline migration moves a shut-off guest", s.state.label()),
            "choose Live or Paused, or shut the guest down first",
        ),
        MigrationMode::Offline if !s.persistent => Check::blocked(
            "guest_state",
            "the guest is transient: it has no definition to move",
            "define the guest first",
        ),
        _ if spec.persistence == Persistence::Permanent && !s.persistent => Check::warning(
            "guest_state",
            "the guest is transient: the destination gets a definition, the source has none to remove",
            None,
        ),
        _ => Check::ok("guest_state", format!("the guest is {}", s.state.label())),
    }
}

/// A destination pool that is the same storage as `pool`.
fn shared_twin<'a>(pool: &PoolSummary, dest: &'a DestFacts) -> Option<&'a PoolSummary> {
    let key = pool.shared_key()?;
    dest.pools
        .iter()
        .find(|p| p.shared_key().as_ref() == Some(&key))
}

/// One disk's check, and whether a copy-storage migration copies it.
fn disk_check(
    spec: &MigrationSpec,
    disk: &DiskFacts,
    dest: Option<&DestFacts>,
    to: &str,
    from: &str,
) -> (Check, bool) {
    let name = format!("disk:{}", disk.def.target);
    let what = if disk.def.device == "cdrom" {
        "CD-ROM"
    } else {
        "disk"
    };
    let where_ = match (&disk.def.source, &disk.pool) {
        (_, Some(p)) => format!("pool {} ({})", p.name, p.pool_type),
        (Some(DiskSource::Path(p)), None) => p.clone(),
        (Some(DiskSource::Network { protocol, name }), None) => format!("{protocol} {name}"),
        (Some(DiskSource::Volume { pool, volume }), None) => format!("{pool}/{volume}"),
        (None, None) => "nothing".into(),
    };
    let target = &disk.def.target;
    let Some(dest) = dest else {
        return (
            Check::warning(
                &name,
                format!("{what} {target} on {where_}: the destination could not be asked"),
                None,
            ),
            false,
        );
    };
    if let Some(DiskSource::Network { protocol, .. }) = &disk.def.source {
        return (
            Check::ok(
                &name,
                format!("{what} {target} is a {protocol} network disk, reached from either host"),
            ),
            false,
        );
    }
    let Some(pool) = &disk.pool else {
        let check = if disk.def.readonly || disk.def.device == "cdrom" {
            Check::warning(&name, format!("{what} {target} uses {where_}, outside any storage pool: {to} must have the same file"), Some(format!("eject it, or make sure {to} has it")))
        } else {
            Check::blocked(
                &name,
                format!("{what} {target} ({where_}) is in no storage pool, so virtdeck cannot tell whether {to} sees it or copy it"),
                "define a pool for its directory on both hosts (a shared pool if the storage is shared)",
            )
        };
        return (check, false);
    };
    if let Some(twin) = shared_twin(pool, dest) {
        let check = if twin.state != PoolState::Active {
            Check::blocked(
                &name,
                format!(
                    "{what} {target} is on shared pool {} , which {to} has as {} but not active",
                    pool.name, twin.name
                ),
                format!("start pool {} on {to}", twin.name),
            )
        } else {
            Check::ok(&name, format!("{what} {target} is on {where_}, shared: {to} sees the same storage as pool {}; nothing is copied", twin.name))
        };
        return (check, false);
    }
    let local = if pool.pool_type.is_network() {
        format!(
            "shared pool {}, but {to} has no pool with the same source",
            pool.name
        )
    } else {
        format!("{where_}, which is local to {from} (a {} pool is never shared, even with the same path on {to})", pool.pool_type)
    };
    if disk.def.readonly || disk.def.device == "cdrom" {
        return (
            Check::warning(
                &name,
                format!("{what} {target} is on {local}"),
                Some(format!(
                    "eject it before migrating, or make the same file available on {to}"
                )),
            ),
            false,
        );
    }
    match spec.storage {
        StorageMode::Shared => (
            Check::blocked(&name, format!("{what} {target} is on {local}"), format!("choose Storage: copy, or first create the same shared pool on {to} and move the disk there")),
            false,
        ),
        StorageMode::Copy => {
            let clash = disk.volume.as_ref().filter(|v| {
                dest.existing_volumes
                    .iter()
                    .any(|(p, name)| *p == pool.name && name == *v)
            });
            let check = match dest.pools.iter().find(|p| p.name == pool.name) {
                Some(p) if clash.is_some() => {
                    let volume = clash.map(String::as_str).unwrap_or_default();
                    Check::blocked(
                        &name,
                        format!(
                            "pool {} on {to} already has a volume named {volume}: libvirt would \
                             copy {what} {target} over it, and it may be another guest's disk",
                            p.name
                        ),
                        format!(
                            "rename or remove volume {volume} in pool {} on {to} if nothing needs \
                             it, or give the disk's volume another name on {from} first",
                            p.name
                        ),
                    )
                }
                None => Check::blocked(&name, format!("copying {what} {target} needs a pool named {} on {to} (libvirt creates the copy only in the pool with the same name), and there is none", pool.name), format!("create pool {} on {to} (storage page)", pool.name)),
                Some(p) if p.state != PoolState::Active => Check::blocked(&name, format!("pool {} on {to} is {}", p.name, p.state), format!("start pool {} on {to}", p.name)),
                Some(p) => {
                    let (capacity, allocation) = disk.size.unwrap_or((0, 0));
                    if p.available < allocation {
                        Check::blocked(&name, format!("pool {} on {to} has {} free, the copy of {target} needs {}", p.name, human_bytes(p.available), human_bytes(allocation)), format!("free space in pool {} on {to}", p.name))
                    } else if p.available < capacity {
                        Check::warning(&name, format!("{target} is copied into pool {} on {to}: {} free, enough for its {} in use but not for all of its {}", p.name, human_bytes(p.available), human_bytes(allocation), human_bytes(capacity)), None)
                    } else {
                        Check::ok(&name, format!("{target} is copied into pool {} on {to} ({} free)", p.name, human_bytes(p.available)))
                    }
                }
            };
            (check, true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::{
        migrations::{MigrationOptions, Verdict},
        pools::{PoolSource, PoolType},
    };

    fn spec(mode: MigrationMode, storage: StorageMode) -> MigrationSpec {
        MigrationSpec {
            host: "a".into(),
            uuid: "6b1f7c3e-0a11-4c5e-9a01-00000000a001".into(),
            destination: "b".into(),
            mode,
            persistence: Persistence::Temporary,
            storage,
            options: MigrationOptions::default(),
        }
    }

    fn identity(uuid: &str) -> HostIdentity {
        HostIdentity {
            uuid: Some(uuid.into()),
            arch: Some("x86_64".into()),
            guests: vec![("x86_64".into(), vec!["qemu".into(), "kvm".into()])],
        }
    }

    fn pool(host: &str, name: &str, pool_type: PoolType, source: PoolSource) -> PoolSummary {
        PoolSummary {
            host: host.into(),
            name: name.into(),
            uuid: String::new(),
            pool_type,
            state: PoolState::Active,
            autostart: true,
            persistent: true,
            capacity: 100 << 30,
            allocation: 0,
            available: 100 << 30,
            target_path: None,
            source,
            volumes: Some(1),
        }
    }

    fn iscsi() -> PoolSource {
        PoolSource {
            source_host: Some("127.0.0.1".into()),
            source_device: Some("iqn.x:shared".into()),
            ..Default::default()
        }
    }

    fn source(disks: Vec<DiskFacts>) -> SourceFacts {
        SourceFacts {
            identity: identity("aaaa"),
            driver: "QEMU".into(),
            guest: GuestDef {
                name: "web".into(),
                virt_type: "qemu".into(),
                arch: Some("x86_64".into()),
                ..Default::default()
            },
            state: GuestState::Running,
            persistent: true,
            memory_kib: 256 * 1024,
            disks,
        }
    }

    fn dest(pools: Vec<PoolSummary>) -> DestFacts {
        DestFacts {
            identity: identity("bbbb"),
            driver: "QEMU".into(),
            free_memory: 8 << 30,
            pools,
            same_uuid: None,
            same_name: None,
            cpu: None,
            existing_volumes: Vec::new(),
        }
    }

    fn disk(target: &str, pool: Option<PoolSummary>) -> DiskFacts {
        DiskFacts {
            def: DiskDef {
                target: target.into(),
                device: "disk".into(),
                readonly: false,
                source: Some(DiskSource::Path(format!("/x/{target}"))),
            },
            pool,
            size: Some((1 << 30, 200 << 20)),
            volume: Some(format!("{target}.qcow2")),
        }
    }

    fn run(spec: &MigrationSpec, s: SourceFacts, d: Result<DestFacts, ApiError>) -> Evaluation {
        let ctx = Context {
            spec,
            destination_uri: "qemu+tcp://b/system",
            busy: false,
            destination_closed: None,
        };
        evaluate(&ctx, &Ok(s), &d)
    }

    fn verdict<'a>(e: &'a Evaluation, name: &str) -> &'a Check {
        e.checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name}: {:?}", e.checks))
    }

    #[test]
    fn a_diskless_guest_between_two_hosts_passes_with_a_cpu_warning() {
        let s = spec(MigrationMode::Live, StorageMode::Shared);
        let e = run(&s, source(vec![]), Ok(dest(vec![])));
        assert_eq!(
            verdict(&e, "cpu").verdict,
            Verdict::Warning,
            "no CPU model defined"
        );
        for c in &e.checks {
            if c.name != "cpu" {
                assert_eq!(c.verdict, Verdict::Ok, "{c:?}");
            }
        }
        assert!(e.copy_disks.is_empty());
    }

    #[test]
    fn the_same_host_under_two_names_is_blocked() {
        let s = spec(MigrationMode::Live, StorageMode::Shared);
        let mut d = dest(vec![]);
        d.identity.uuid = Some("AAAA".into());
        let e = run(&s, source(vec![]), Ok(d));
        let c = verdict(&e, "different_host");
        assert_eq!(c.verdict, Verdict::Blocked);
        assert!(c.fix.as_deref().unwrap().contains("host_uuid"));
    }

    #[test]
    fn a_local_disk_needs_copy_and_copy_needs_the_same_pool() {
        let local = pool("a", "default", PoolType::Dir, PoolSource::default());
        let shared = pool("a", "lab-iscsi", PoolType::IscsiDirect, iscsi());
        let twin = pool("b", "san", PoolType::IscsiDirect, iscsi());
        let disks = vec![disk("vda", Some(local.clone())), disk("vdb", Some(shared))];
        // Shared storage: the local disk blocks, the iSCSI one is fine under another name.
        let s = spec(MigrationMode::Live, StorageMode::Shared);
        let e = run(&s, source(disks.clone()), Ok(dest(vec![twin.clone()])));
        assert_eq!(verdict(&e, "disk:vda").verdict, Verdict::Blocked);
        assert!(verdict(&e, "disk:vda").message.contains("never shared"));
        assert_eq!(verdict(&e, "disk:vdb").verdict, Verdict::Ok);
        // Copy: only the local disk is copied, into a pool of the same name.
        let s = spec(MigrationMode::Live, StorageMode::Copy);
        let e = run(&s, source(disks.clone()), Ok(dest(vec![twin.clone()])));
        let c = verdict(&e, "disk:vda");
        assert_eq!(c.verdict, Verdict::Blocked);
        assert!(c.message.contains("needs a pool named default"), "{c:?}");
        let mut d = dest(vec![
            twin,
            pool("b", "default", PoolType::Dir, PoolSource::default()),
        ]);
        let e = run(&s, source(disks.clone()), Ok(d.clone()));
        assert_eq!(verdict(&e, "disk:vda").verdict, Verdict::Ok);
        assert_eq!(e.copy_disks, ["vda"]);
        // A volume of that name there already would be written over: blocked.
        d.existing_volumes = vec![("default".into(), "vda.qcow2".into())];
        let e = run(&s, source(disks), Ok(d));
        let c = verdict(&e, "disk:vda");
        assert_eq!(c.verdict, Verdict::Blocked);
        assert!(
            c.message.contains("already has a volume named vda.qcow2"),
            "{c:?}"
        );
        assert!(c.fix.as_deref().unwrap().contains("rename"), "{c:?}");
    }

    #[test]
    fn a_name_clash_blocks_and_an_inactive_copy_is_the_way_back() {
        let s = spec(MigrationMode::Live, StorageMode::Shared);
        let mut d = dest(vec![]);
        d.same_name = Some("0000".into());
        assert_eq!(
            verdict(&run(&s, source(vec![]), Ok(d)), "name_and_uuid").verdict,
            Verdict::Blocked
        );
        let mut d = dest(vec![]);
        d.same_uuid = Some(("web".into(), false));
        assert_eq!(
            verdict(&run(&s, source(vec![]), Ok(d.clone())), "name_and_uuid").verdict,
            Verdict::Ok
        );
        d.same_uuid = Some(("web".into(), true));
        assert_eq!(
            verdict(&run(&s, source(vec![]), Ok(d)), "name_and_uuid").verdict,
            Verdict::Blocked
        );
    }

    #[test]
    fn state_memory_uri_and_reachability() {
        let s = spec(MigrationMode::Offline, StorageMode::Shared);
        assert_eq!(
            verdict(&run(&s, source(vec![]), Ok(dest(vec![]))), "guest_state").verdict,
            Verdict::Blocked
        );
        let s = spec(MigrationMode::Live, StorageMode::Shared);
        let mut d = dest(vec![]);
        d.free_memory = 100 << 20;
        assert_eq!(
            verdict(&run(&s, source(vec![]), Ok(d)), "memory").verdict,
            Verdict::Blocked
        );
        let e = run(
            &s,
            source(vec![]),
            Err(ApiError::HostUnavailable("down".into())),
        );
        assert_eq!(
            verdict(&e, "destination_connected").verdict,
            Verdict::Blocked
        );
        let ctx = Context {
            spec: &s,
            destination_uri: "qemu:///system",
            busy: true,
            destination_closed: None,
        };
        let e = evaluate(&ctx, &Ok(source(vec![])), &Ok(dest(vec![])));
        assert_eq!(verdict(&e, "migration_uri").verdict, Verdict::Blocked);
        assert_eq!(verdict(&e, "no_other_job").verdict, Verdict::Blocked);
        let ctx = Context {
            spec: &s,
            destination_uri: "qemu+tcp://b/system",
            busy: false,
            destination_closed: Some("host b is in maintenance".into()),
        };
        let e = evaluate(&ctx, &Ok(source(vec![])), &Ok(dest(vec![])));
        let closed = verdict(&e, "destination_open");
        assert_eq!(closed.verdict, Verdict::Blocked);
        assert_eq!(closed.message, "host b is in maintenance");
    }
}
