//! Cloning a guest: a plan made and checked before anything is copied (every
//! writable disk, its new volume's name and pool), then the copies through
//! libvirt (`virStorageVolCreateXMLFrom`) and the new definition (new name,
//! UUID, MAC addresses, disks, display password). Whatever was copied is
//! removed again when a later step fails.

use super::error::{clip, Error};
use virt::{connect::Connect, storage_vol::StorageVol};

use super::sys;

use super::{
    connection::Failure,
    guest::lookup,
    storage_pool::failed,
    xml::{self, el, tree::Node},
};

/// One disk to copy.
#[derive(Debug, Clone)]
pub struct DiskCopy {
    pub target: String,
    pub source_path: String,
    pub pool: String,
    pub new_name: String,
    pub capacity: u64,
    pub allocation: u64,
    pub format: Option<String>,
}

/// What a clone will do, checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub source_name: String,
    pub name: String,
    pub disks: Vec<DiskCopy>,
    /// Disks (target devices) the clone does not get.
    pub left_out: Vec<String>,
    /// The source's definition for the next boot, with its secrets.
    pub definition: String,
}

impl Plan {
    pub fn bytes(&self) -> u64 {
        self.disks.iter().map(|d| d.allocation.max(1)).sum()
    }
}

fn extension(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((_, ext)) if ["qcow2", "img", "raw", "qed", "vmdk", "vdi"].contains(&ext) => ext,
        _ => "",
    }
}

/// The new volume names: `<name>.qcow2` for the first disk, `<name>-vdb.qcow2` after.
fn new_volume_name(name: &str, target: &str, first: bool, source: &str) -> String {
    let ext = extension(source);
    let base = if first {
        name.to_string()
    } else {
        format!("{name}-{target}")
    };
    if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    }
}

/// Pool types whose volumes are a SAN's LUNs: one device every host and
/// guest sees, which libvirt cannot copy.
const LUN_POOLS: [&str; 4] = ["iscsi", "iscsi-direct", "scsi", "mpath"];

/// Why a writable disk cannot be copied and would be shared with the clone
/// (a network disk, a LUN), or `None`.
fn shared_only(conn: &Connect, d: &xml::guest::DiskRead) -> Option<String> {
    if d.readonly || d.shareable || !matches!(d.device.as_str(), "disk" | "lun") {
        return None;
    }
    if let Some(network) = &d.network {
        return Some(format!("a network disk ({network})"));
    }
    if d.device == "lun" {
        return Some("a LUN passed through to the guest".into());
    }
    if let Some(xml::guest::DiskBacking::Volume { pool, volume }) = &d.backing {
        let kind = conn
            .lookup_storage_pool_by_name(pool)
            .ok()
            .and_then(|p| super::storage_pool::summary(&p).ok())
            .map(|p| p.kind)?;
        if LUN_POOLS.contains(&kind.as_str()) {
            return Some(format!("LUN {volume} of {kind} pool {pool}"));
        }
    }
    None
}

/// Checks everything a clone needs and plans it; nothing changes. The
/// clone is `name`, its copies go to `pool` (default: each disk's own), and
/// `valid_name` checks each new volume's name. The disks named in
/// `leave_out` (target devices) are neither copied nor in the clone's
/// definition. A writable network disk or LUN cannot be copied, and two
/// guests writing one such disk corrupt it: the plan refuses it unless it is
/// read-only or shareable, or left out.
pub fn plan(
    host: &str,
    conn: &Connect,
    uuid: &str,
    name: &str,
    pool: Option<&str>,
    leave_out: &[String],
    valid_name: impl Fn(&str) -> Result<(), Error>,
) -> Result<Plan, Failure> {
    let dom = lookup(host, conn, uuid)?;
    let source_name = dom.name()?;
    let (state, _) = dom.state()?;
    let state = super::domain::state_of(state);
    use super::domain::RunState::*;
    if !matches!(state, Shutoff | Paused | Crashed) {
        return Err(Failure::Own(Error::Conflict(format!(
            "{source_name} is {}: shut it down (or pause it) before cloning, so that its disks do not change while they are copied",
            state.label()
        ))));
    }
    if conn.lookup_domain_by_name(name).is_ok() {
        return Err(Failure::Own(Error::Conflict(format!(
            "host {host} already has a guest named {name}: choose another name"
        ))));
    }
    let target_pool = match pool {
        Some(p) => Some(super::storage_pool::find(host, conn, p)?),
        None => None,
    };
    let definition = dom.xml_desc(sys::VIR_DOMAIN_XML_INACTIVE | sys::VIR_DOMAIN_XML_SECURE)?;
    let o = xml::guest::overview(&definition).map_err(|e| {
        tracing::error!("{e}");
        Failure::Own(Error::Internal)
    })?;
    for target in leave_out {
        if !o.disks.iter().any(|d| d.target == *target) {
            return Err(Failure::Own(Error::Invalid(format!(
                "{source_name} has no disk {}: nothing to leave out",
                clip(target)
            ))));
        }
    }
    let shared: Vec<String> = o
        .disks
        .iter()
        .filter(|d| !leave_out.contains(&d.target))
        .filter_map(|d| shared_only(conn, d).map(|why| format!("{} is {why}", d.target)))
        .collect();
    if !shared.is_empty() {
        return Err(Failure::Own(Error::Conflict(format!(
            "the clone cannot have its own copy of every writable disk of {source_name}: {}. \
             Two guests writing one disk corrupt it. Leave those disks out of the clone, or mark \
             them read-only or shareable in {source_name}'s definition first.",
            shared.join("; ")
        ))));
    }
    let mut disks: Vec<DiskCopy> = Vec::new();
    for d in o.disks.iter().filter(|d| {
        d.device == "disk" && !d.readonly && !d.shareable && !leave_out.contains(&d.target)
    }) {
        let Some(backing) = &d.backing else { continue };
        let vol = match backing {
            xml::guest::DiskBacking::File(p) | xml::guest::DiskBacking::Block(p) => {
                conn.lookup_storage_vol_by_path(p)
            }
            xml::guest::DiskBacking::Volume { pool, volume } => conn
                .lookup_storage_pool_by_name(pool)
                .and_then(|p| p.lookup_storage_vol_by_name(volume)),
        }
        .map_err(|_| {
            Failure::Own(Error::Conflict(format!(
                "disk {} of {source_name} is not a volume of a storage pool of host {host}, so libvirt cannot copy it",
                d.target
            )))
        })?;
        let src_pool = vol.lookup_storage_pool()?;
        let pool_name = match &target_pool {
            Some(p) => p.name()?,
            None => src_pool.name()?,
        };
        let vol_name = vol.name()?;
        let new_name = new_volume_name(name, &d.target, disks.is_empty(), &vol_name);
        valid_name(&new_name).map_err(Failure::Own)?;
        let dest = conn.lookup_storage_pool_by_name(&pool_name)?;
        if dest.lookup_storage_vol_by_name(&new_name).is_ok() {
            return Err(Failure::Own(Error::Conflict(format!(
                "pool {pool_name} on host {host} already has a volume named {new_name}: choose another name for the clone"
            ))));
        }
        let info = vol.info()?;
        disks.push(DiskCopy {
            target: d.target.clone(),
            source_path: vol.path()?,
            pool: pool_name,
            new_name,
            capacity: info.capacity,
            allocation: info.allocation,
            format: d.format.clone(),
        });
    }
    Ok(Plan {
        source_name,
        name: name.to_string(),
        disks,
        left_out: leave_out.to_vec(),
        definition,
    })
}

/// Copies one disk (blocking for as long as the copy takes); answers the new path.
pub fn copy_disk(host: &str, conn: &Connect, d: &DiskCopy) -> Result<String, Failure> {
    let source = conn.lookup_storage_vol_by_path(&d.source_path)?;
    let pool = conn.lookup_storage_pool_by_name(&d.pool)?;
    let mut target = el("target");
    if let Some(f) = &d.format {
        target = target.child(el("format").attr("type", f));
    }
    let definition = el("volume")
        .child(el("name").text(&d.new_name))
        .child(el("capacity").attr("unit", "bytes").text(d.capacity))
        .child(target)
        .to_xml();
    let vol = StorageVol::create_xml_from(&pool, &definition, &source, 0).map_err(|e| {
        failed(host, e, |m| {
            format!("cannot copy disk {} to pool {}: {m}", d.target, d.pool)
        })
    })?;
    let _ = pool.refresh(0);
    Ok(vol.path()?)
}

/// Bytes written so far to the copy `d` (while it is being made).
pub fn copied(conn: &Connect, d: &DiskCopy) -> Option<u64> {
    // Reading a volume's info stats it: no pool refresh (a rescan of every
    // volume) twice a second while the copy runs.
    let pool = conn.lookup_storage_pool_by_name(&d.pool).ok()?;
    let vol = pool.lookup_storage_vol_by_name(&d.new_name).ok()?;
    Some(vol.info().ok()?.allocation)
}

/// The clone's definition: the source's with a new name, no UUID (libvirt
/// makes one), no MAC addresses (new ones), the copied disks, a new display
/// password, and no NVRAM path (a fresh one from the template).
pub fn definition(
    plan: &Plan,
    new_paths: &[(String, String)],
    password: &str,
) -> Result<String, Failure> {
    let mut tree = Node::parse("domain", &plan.definition).map_err(|e| {
        tracing::error!("{e}");
        Failure::Own(Error::Internal)
    })?;
    tree.ensure_child("name").set_text(&plan.name);
    tree.remove_children("uuid", |_| true);
    if let Some(os) = tree.child_mut("os") {
        os.remove_children("nvram", |_| true);
    }
    let devices = tree.ensure_child("devices");
    devices.remove_children("disk", |disk| {
        disk.child("target")
            .and_then(|t| t.attr("dev"))
            .is_some_and(|dev| plan.left_out.iter().any(|l| l == dev))
    });
    for nic in devices.children_named_mut("interface") {
        nic.remove_children("mac", |_| true);
        nic.remove_children("target", |_| true);
    }
    for disk in devices.children_named_mut("disk") {
        let target = disk
            .child("target")
            .and_then(|t| t.attr("dev"))
            .unwrap_or("")
            .to_string();
        let Some((_, path)) = new_paths.iter().find(|(t, _)| *t == target) else {
            continue;
        };
        let block = path.starts_with("/dev/");
        disk.set_attr("type", if block { "block" } else { "file" });
        let source = disk.ensure_child("source");
        source.attrs.clear();
        source.set_attr(if block { "dev" } else { "file" }, path);
        source.children.clear();
    }
    for g in devices.children_named_mut("graphics") {
        if g.attr("passwd").is_some() {
            g.set_attr("passwd", password);
        }
        if g.attr("autoport") == Some("yes") {
            g.remove_attr("port");
        }
    }
    Ok(tree.to_xml())
}

/// Removes copies already made (after a failure); notes what could not be.
pub fn remove_copies(host: &str, conn: &Connect, paths: &[String]) -> String {
    let mut note = String::new();
    for path in paths {
        if let Err(e) = conn
            .lookup_storage_vol_by_path(path)
            .and_then(|v| v.delete(0))
        {
            tracing::error!(host, path, "cannot remove a clone's copy: {}", e.message());
            note.push_str(&format!(
                " The copy {} could not be removed: delete it on the storage page.",
                clip(path)
            ));
        }
    }
    note
}

/// What recovery found of a clone that was running when virtdeck stopped.
pub enum Leftovers {
    /// A guest of the clone's name exists (the clone may have been defined
    /// before the stop): nothing was removed.
    GuestDefined,
    /// The copies found were removed; these could not be (libvirt's words).
    Removed { kept: Vec<String> },
}

/// Removes the volumes (pool, name) that a clone named `name` began to copy,
/// unless a guest of that name exists. Volumes not there (never created, or
/// removed already) are skipped; one libvirt still writes is refused by it
/// and reported.
pub fn remove_leftovers(
    host: &str,
    conn: &Connect,
    name: &str,
    volumes: &[(String, String)],
) -> Result<Leftovers, Failure> {
    if conn.lookup_domain_by_name(name).is_ok() {
        return Ok(Leftovers::GuestDefined);
    }
    let mut kept = Vec::new();
    for (pool, volume) in volumes {
        let Ok(p) = conn.lookup_storage_pool_by_name(pool) else {
            kept.push(format!("{volume} in pool {pool} (the pool is not there)"));
            continue;
        };
        let Ok(v) = p.lookup_storage_vol_by_name(volume) else {
            continue;
        };
        if let Err(e) = v.delete(0) {
            tracing::error!(
                host,
                pool,
                volume,
                "cannot remove a clone's partial copy: {}",
                e.message()
            );
            kept.push(format!("{volume} in pool {pool} ({})", e.message()));
        }
    }
    Ok(Leftovers::Removed { kept })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_named_after_the_clone() {
        assert_eq!(
            new_volume_name("web02", "vda", true, "web01.qcow2"),
            "web02.qcow2"
        );
        assert_eq!(
            new_volume_name("web02", "vdb", false, "web01-data.img"),
            "web02-vdb.img"
        );
        assert_eq!(new_volume_name("web02", "vda", true, "lun-0"), "web02");
    }

    #[test]
    fn a_clone_definition_has_a_new_identity() {
        let source = "<domain type='kvm'><name>web01</name><uuid>6b1f7c3e-0a11-4c5e-9a01-00000000a001</uuid>\
            <os><type>hvm</type><nvram>/var/lib/libvirt/qemu/nvram/web01_VARS.fd</nvram></os><devices>\
            <disk type='file' device='disk'><source file='/p/web01.qcow2'/><target dev='vda'/></disk>\
            <disk type='file' device='cdrom'><source file='/p/debian.iso'/><target dev='sda'/><readonly/></disk>\
            <disk type='network' device='disk'><source protocol='iscsi' name='iqn.x/1'/><target dev='vdb'/></disk>\
            <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/></interface>\
            <graphics type='vnc' port='5900' autoport='yes' passwd='old'/></devices></domain>";
        let plan = Plan {
            source_name: "web01".into(),
            name: "web02".into(),
            disks: vec![],
            left_out: vec!["vdb".into()],
            definition: source.into(),
        };
        let xml = definition(
            &plan,
            &[("vda".into(), "/p/web02.qcow2".into())],
            "newpass1",
        )
        .unwrap_or_else(|_| panic!("the clone's definition"));
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let find = |tag: &'static str| doc.descendants().filter(move |n| n.has_tag_name(tag));
        assert_eq!(find("name").next().unwrap().text(), Some("web02"));
        assert_eq!(find("uuid").count(), 0);
        assert_eq!(find("mac").count(), 0);
        assert_eq!(find("nvram").count(), 0);
        let files: Vec<_> = find("source").filter_map(|s| s.attribute("file")).collect();
        assert_eq!(files, ["/p/web02.qcow2", "/p/debian.iso"]);
        assert_eq!(find("target").count(), 2, "the network disk was left out");
        let g = find("graphics").next().unwrap();
        assert_eq!(
            (g.attribute("passwd"), g.attribute("port")),
            (Some("newpass1"), None)
        );
    }
}
