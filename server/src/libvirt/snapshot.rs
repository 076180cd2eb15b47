//! Guest snapshots (libvirt domain snapshots): list, create, revert, delete.
//! Blocking functions on one connection.

use virt::{connect::Connect, domain::Domain, domain_snapshot::DomainSnapshot, error::ErrorNumber};

use super::{
    connection::Failure,
    error::Error,
    guest::{lookup, refused},
    xml::{child, child_text, el, parse, XmlError},
};

/// A snapshot, as its definition describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub name: String,
    pub description: Option<String>,
    /// Seconds since the Unix epoch.
    pub created: i64,
    /// The guest's state when it was taken (`running`, `shutoff`).
    pub state: String,
    pub parent: Option<String>,
    /// The guest is at this snapshot now.
    pub current: bool,
    /// It includes the guest's memory.
    pub memory: bool,
}

/// What to do with a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOp {
    Revert,
    Delete,
}

/// A snapshot definition as libvirt describes it.
pub fn read(xml: &str, current: bool) -> Result<Snapshot, XmlError> {
    let doc = parse("domainsnapshot", xml)?;
    let root = doc.root_element();
    let state = child_text(root, "state").unwrap_or_default();
    let memory = match child(root, "memory").and_then(|m| m.attribute("snapshot")) {
        Some("no") => false,
        Some(_) => true,
        None => state == "running" || state == "paused",
    };
    Ok(Snapshot {
        name: child_text(root, "name").unwrap_or_default(),
        description: child_text(root, "description"),
        created: child_text(root, "creationTime")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
        state,
        parent: child(root, "parent").and_then(|p| child_text(p, "name")),
        current,
        memory,
    })
}

pub fn list_of(dom: &Domain) -> Result<Vec<Snapshot>, Failure> {
    let mut all = Vec::new();
    for snap in dom.list_all_snapshots(0)? {
        let current = snap.is_current(0).unwrap_or(false);
        match read(&snap.xml_desc(0)?, current) {
            Ok(info) => all.push(info),
            Err(e) => tracing::warn!("{e}"),
        }
    }
    all.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
    Ok(all)
}

pub fn list(host: &str, conn: &Connect, uuid: &str) -> Result<Vec<Snapshot>, Failure> {
    list_of(&lookup(host, conn, uuid)?)
}

fn find(host: &str, dom: &Domain, name: &str) -> Result<DomainSnapshot, Failure> {
    Domain::lookup_snapshot_by_name(dom, name, 0).map_err(|e| {
        if e.code().is_known() && e.code().unwrap() == ErrorNumber::NoDomainSnapshot {
            Failure::Own(Error::NotFound(format!(
                "the guest has no snapshot named {name} on host {host}"
            )))
        } else {
            Failure::Libvirt(e)
        }
    })
}

pub fn create(
    host: &str,
    conn: &Connect,
    uuid: &str,
    name: &str,
    description: Option<&str>,
    memory: Option<bool>,
) -> Result<Snapshot, Failure> {
    let dom = lookup(host, conn, uuid)?;
    let guest = dom.name()?;
    if Domain::lookup_snapshot_by_name(&dom, name, 0).is_ok() {
        return Err(Failure::Own(Error::Conflict(format!(
            "{guest} already has a snapshot named {name}"
        ))));
    }
    let running = dom.is_active()?;
    let memory = match (memory, running) {
        (Some(true), false) => {
            return Err(Failure::Own(Error::Invalid(format!(
                "{guest} is shut off: it has no memory to include in the snapshot"
            ))));
        }
        (Some(m), true) => m,
        (None, r) => r,
        (Some(false), false) => false,
    };
    let mut xml = el("domainsnapshot").child(el("name").text(name));
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        xml = xml.child(el("description").text(d));
    }
    if running && !memory {
        xml = xml.child(el("memory").attr("snapshot", "no"));
    }
    let snap = dom.create_snapshot_xml(&xml.to_xml(), 0).map_err(|e| {
        refused(host, conn, e, |m| {
            format!(
                "cannot take snapshot {name} of {guest}: {m}{}",
                if m.contains("qcow2") || m.contains("internal") {
                    " (snapshots need qcow2 disks)"
                } else {
                    ""
                }
            )
        })
    })?;
    read(&snap.xml_desc(0)?, true).map_err(|e| {
        tracing::error!("{e}");
        Failure::Own(Error::Internal)
    })
}

pub fn act(
    host: &str,
    conn: &Connect,
    uuid: &str,
    name: &str,
    action: SnapshotOp,
) -> Result<Vec<Snapshot>, Failure> {
    let dom = lookup(host, conn, uuid)?;
    let snap = find(host, &dom, name)?;
    let (result, what) = match action {
        SnapshotOp::Revert => (snap.revert(0), "revert"),
        SnapshotOp::Delete => (snap.delete(0), "delete"),
    };
    result.map_err(|e| {
        refused(host, conn, e, |m| {
            format!("cannot {what} snapshot {name}: {m}")
        })
    })?;
    list_of(&dom)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_a_snapshot_description() {
        let xml = "<domainsnapshot><name>before-upgrade</name><description>kernel &amp; libc</description>\
            <state>running</state><parent><name>base</name></parent><creationTime>1764200000</creationTime>\
            <memory snapshot='internal'/><domain type='kvm'><name>g</name></domain></domainsnapshot>";
        let s = super::read(xml, true).unwrap();
        assert_eq!(s.name, "before-upgrade");
        assert_eq!(s.description.as_deref(), Some("kernel & libc"));
        assert_eq!(s.parent.as_deref(), Some("base"));
        assert_eq!(s.created, 1_764_200_000);
        assert!(s.memory && s.current);
        let off = super::read(
            "<domainsnapshot><name>a</name><state>shutoff</state></domainsnapshot>",
            false,
        )
        .unwrap();
        assert!(!off.memory && off.parent.is_none());
    }
}
