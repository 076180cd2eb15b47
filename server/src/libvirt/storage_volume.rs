//! Storage volumes: listing with the guests that use them, creation, delete,
//! resize, wipe, clone, and streamed upload and download. Blocking functions
//! on one connection; `storage::LibvirtStorage` runs them off the runtime
//! (the long ones, and transfers, on a connection of their own).

use std::{collections::HashMap, time::Duration};

use bytes::Bytes;
use tokio::sync::mpsc;
use virt::{
    connect::Connect, error::ErrorNumber, storage_pool::StoragePool, storage_vol::StorageVol,
    stream::Stream,
};

use super::{
    connection::Failure,
    domain::{self, GuestRef, RunState},
    error::{clip, Error},
    image::{self, Refers},
    storage_pool::{self, failed},
    sys,
    xml::{self, domain::DiskSource},
};

/// One volume as the host reports it, with the guests whose disks use it
/// (when they were asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub name: String,
    pub path: String,
    /// Libvirt's format name (`raw`, `qcow2`, …); `None` when it has none.
    pub format: Option<String>,
    pub capacity: u64,
    pub allocation: u64,
    pub used_by: Vec<GuestRef>,
}

/// A new volume, checked by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVolume {
    pub name: String,
    /// `None`: raw in a pool of files, none otherwise.
    pub format: Option<String>,
    pub capacity: u64,
    /// Bytes allocated now.
    pub allocation: u64,
    /// Allocated in full now (qcow2: its metadata preallocated).
    pub full: bool,
}

/// An action on a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolOp {
    Delete,
    /// Grow to this many bytes.
    Resize(u64),
    /// Overwrite the content with zeros.
    Wipe,
    /// A copy in the same pool under this name.
    Clone(String),
}

/// Pool types whose volumes are files (and so have a file format).
pub fn file_based(kind: &str) -> bool {
    matches!(kind, "dir" | "fs" | "netfs" | "gluster")
}

/// Pool types whose volumes libvirt can create, delete, resize and write
/// (not those whose volumes are the storage's own LUNs or devices, nor
/// types virtdeck does not know).
pub fn volumes_manageable(kind: &str) -> bool {
    matches!(
        kind,
        "dir" | "fs" | "netfs" | "logical" | "disk" | "rbd" | "gluster" | "zfs"
    )
}

/// A pool that is active and whose volumes libvirt can manage.
struct OpenPool {
    pool: StoragePool,
    /// Libvirt's pool type.
    kind: String,
    /// Its directory, for pools that have one.
    target: Option<String>,
}

fn open_pool(host: &str, conn: &Connect, name: &str) -> Result<OpenPool, Failure> {
    let pool = storage_pool::find(host, conn, name)?;
    if !pool.is_active()? {
        return Err(Failure::Own(Error::Conflict(format!(
            "pool {name} on host {host} is not active: start it to use its volumes"
        ))));
    }
    let (kind, target) = xml::pool::read(&pool.xml_desc(0)?)
        .map(|d| (d.kind, d.target_path))
        .unwrap_or_default();
    Ok(OpenPool { pool, kind, target })
}

impl OpenPool {
    fn require_manageable(&self, host: &str, name: &str, what: &str) -> Result<(), Failure> {
        if volumes_manageable(&self.kind) {
            return Ok(());
        }
        Err(Failure::Own(Error::Unsupported(format!(
            "cannot {what} in pool {name} on host {host}: the volumes of a {} pool are provided by the \
             storage itself (LUNs of the target) and cannot be created, deleted, resized or written through libvirt",
            self.kind_label()
        ))))
    }

    /// The pool's type as messages name it (`other` when libvirt gave none).
    fn kind_label(&self) -> &str {
        if self.kind.is_empty() {
            "other"
        } else {
            &self.kind
        }
    }

    /// Re-reads the pool so sizes and lists are true after a change.
    fn refresh(&self, host: &str) {
        if let Err(e) = self.pool.refresh(0) {
            tracing::warn!(host, "cannot refresh the pool: {}", e.message());
        }
    }

    fn volume(&self, host: &str, pool: &str, name: &str) -> Result<StorageVol, Failure> {
        self.pool.lookup_storage_vol_by_name(name).map_err(|e| {
            if e.code().is_known() && e.code().unwrap() == ErrorNumber::NoStorageVolume {
                Failure::Own(Error::NotFound(format!(
                    "pool {pool} on host {host} has no volume named {:?}",
                    clip(name)
                )))
            } else {
                Failure::Libvirt(e)
            }
        })
    }

    fn exists(&self, name: &str) -> bool {
        self.pool.lookup_storage_vol_by_name(name).is_ok()
    }

    /// Refuses an image (its first bytes, `head`) that refers to files
    /// outside itself, unless its backing file is a volume of this pool.
    fn refuse_foreign_files(&self, pool: &str, name: &str, head: &[u8]) -> Result<(), Failure> {
        let why = match image::references(head) {
            Refers::Nothing => return Ok(()),
            Refers::Backing(Some(b))
                if image::in_pool(&b, self.target.as_deref(), |n| self.exists(n)) =>
            {
                return Ok(())
            }
            Refers::Backing(Some(b)) => format!("names the backing file {:?}", clip(&b)),
            Refers::Backing(None) => "names a backing file".to_string(),
            Refers::DataFile => "keeps its data in an external data file".to_string(),
            Refers::Extents => "is a VMDK descriptor whose data is in other files".to_string(),
        };
        Err(Failure::Own(Error::Invalid(format!(
            "{name}: the image {why}, which the guest would read from the host. Only another \
             volume of pool {pool} may back an image: upload its base first, or flatten it \
             (qemu-img convert) before uploading"
        ))))
    }
}

/// `<backingStore><path>` of a volume's XML.
fn backing_store(xml: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let store = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("backingStore"))?;
    let path = store.children().find(|n| n.has_tag_name("path"))?;
    path.text()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// A qcow2 header naming `backing`, for the one check of references.
fn fake_qcow2(backing: &str) -> Vec<u8> {
    let mut h = vec![0u8; 112 + backing.len()];
    h[..4].copy_from_slice(b"QFI\xfb");
    h[4..8].copy_from_slice(&2u32.to_be_bytes());
    h[8..16].copy_from_slice(&112u64.to_be_bytes());
    h[16..20].copy_from_slice(&(backing.len() as u32).to_be_bytes());
    h[112..].copy_from_slice(backing.as_bytes());
    h
}

/// The first bytes of an upload (up to `image::HEAD`, or all of a shorter
/// one), read before anything is written.
fn read_head(rx: &mut mpsc::Receiver<Chunk>, length: u64) -> Result<Vec<u8>, Failure> {
    let want = (image::HEAD as u64).min(length) as usize;
    let mut head = Vec::with_capacity(want);
    while head.len() < want {
        match rx.blocking_recv() {
            Some(Ok(bytes)) => head.extend_from_slice(&bytes),
            Some(Err(why)) => return Err(Failure::Own(Error::Invalid(why))),
            None => break,
        }
    }
    Ok(head)
}

/// What an existing volume's image refers to outside itself, checked as an
/// upload's (before a guest is made to boot from it).
pub fn refuse_foreign_files(
    host: &str,
    conn: &Connect,
    pool: &str,
    name: &str,
) -> Result<(), Failure> {
    let open = open_pool(host, conn, pool)?;
    let vol = open.volume(host, pool, name)?;
    if !volumes_manageable(&open.kind) {
        // A LUN is raw storage, not an image file.
        return Ok(());
    }
    let stream = Stream::new(conn, 0)?;
    if let Err(e) = vol.download(&stream, 0, image::HEAD as u64, 0) {
        if e.code().is_known() && e.code().unwrap() == ErrorNumber::NoSupport {
            // A driver that cannot stream (the test driver): the backing file
            // libvirt itself read from the header.
            return match backing_store(&vol.xml_desc(0)?) {
                None => Ok(()),
                Some(b) => open.refuse_foreign_files(pool, name, &fake_qcow2(&b)),
            };
        }
        return Err(failed(host, e, |m| {
            format!("cannot read volume {name}: {m}")
        }));
    }
    let mut buf = vec![0u8; CHUNK];
    let mut head = Vec::new();
    while head.len() < image::HEAD {
        match stream.recv(&mut buf) {
            Ok(0) => break,
            Ok(n) if n > 0 => head.extend_from_slice(&buf[..n as usize]),
            Ok(_) => continue,
            Err(e) => {
                let _ = stream.abort();
                return Err(failed(host, e, |m| {
                    format!("cannot read volume {name}: {m}")
                }));
            }
        }
    }
    let _ = if head.len() < image::HEAD {
        stream.finish()
    } else {
        stream.abort()
    };
    open.refuse_foreign_files(pool, name, &head)
}

/// Which guests use which volume: by path, or by pool and volume name.
struct Users {
    by_path: HashMap<String, Vec<GuestRef>>,
    by_volume: HashMap<(String, String), Vec<GuestRef>>,
}

impl Users {
    fn read(conn: &Connect) -> Result<Users, Failure> {
        let mut users = Users {
            by_path: HashMap::new(),
            by_volume: HashMap::new(),
        };
        for user in domain::disk_users(conn)? {
            for disk in user.disks {
                let list = match disk {
                    DiskSource::Path(p) => users.by_path.entry(p).or_default(),
                    DiskSource::Volume { pool, volume } => {
                        users.by_volume.entry((pool, volume)).or_default()
                    }
                    DiskSource::Network { .. } => continue,
                };
                if !list.iter().any(|u| u.uuid == user.guest.uuid) {
                    list.push(user.guest.clone());
                }
            }
        }
        Ok(users)
    }

    fn of(&self, pool: &str, name: &str, path: &str) -> Vec<GuestRef> {
        let mut found: Vec<GuestRef> = self.by_path.get(path).cloned().unwrap_or_default();
        for u in self
            .by_volume
            .get(&(pool.to_string(), name.to_string()))
            .into_iter()
            .flatten()
        {
            if !found.iter().any(|f| f.uuid == u.uuid) {
                found.push(u.clone());
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found
    }
}

fn summary(pool: &str, vol: &StorageVol, users: Option<&Users>) -> Result<Volume, Failure> {
    let doc = xml::volume::read(&vol.xml_desc(0)?).map_err(|e| {
        tracing::error!("{e}");
        Failure::Own(Error::Internal)
    })?;
    let used_by = users
        .map(|u| u.of(pool, &doc.name, &doc.path))
        .unwrap_or_default();
    Ok(Volume {
        name: doc.name,
        path: doc.path,
        format: doc.format,
        capacity: doc.capacity,
        allocation: doc.allocation,
        used_by,
    })
}

/// A volume found in its (active) pool.
pub struct Resolved {
    /// Without its users.
    pub volume: Volume,
    /// Libvirt's volume type (0 file, 1 block, 3 network…).
    pub vol_type: u32,
    /// Libvirt's type of its pool.
    pub pool_kind: String,
}

/// A volume of an active pool, e.g. for a guest's disk.
pub fn resolve(host: &str, conn: &Connect, pool: &str, name: &str) -> Result<Resolved, Failure> {
    let open = open_pool(host, conn, pool)?;
    let vol = open.volume(host, pool, name)?;
    let vol_type = vol.info()?.kind;
    Ok(Resolved {
        volume: summary(pool, &vol, None)?,
        vol_type,
        pool_kind: open.kind,
    })
}

/// Every volume of the pool, sorted by name, with the guests that use each.
pub fn list(host: &str, conn: &Connect, pool: &str) -> Result<Vec<Volume>, Failure> {
    let open = open_pool(host, conn, pool)?;
    let users = Users::read(conn)?;
    let mut volumes = Vec::new();
    for vol in open.pool.list_all_volumes(0)? {
        match summary(pool, &vol, Some(&users)) {
            Ok(v) => volumes.push(v),
            // Deleted while being read.
            Err(Failure::Libvirt(e))
                if e.code().is_known() && e.code().unwrap() == ErrorNumber::NoStorageVolume => {}
            Err(e) => return Err(e),
        }
    }
    volumes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(volumes)
}

pub fn create(host: &str, conn: &Connect, pool: &str, spec: &NewVolume) -> Result<Volume, Failure> {
    let open = open_pool(host, conn, pool)?;
    open.require_manageable(host, pool, "create a volume")?;
    let name = spec.name.as_str();
    if open.exists(name) {
        return Err(Failure::Own(Error::Conflict(format!(
            "pool {pool} on host {host} already has a volume named {name}"
        ))));
    }
    let format = match (spec.format.as_deref(), file_based(&open.kind)) {
        (None, true) => Some("raw"),
        (f, true) => f,
        (None, false) => None,
        (Some(f), false) => {
            return Err(Failure::Own(Error::Invalid(format!(
                "volumes of a {} pool are not files and have no format: leave \"format\" empty, not {f}",
                open.kind_label()
            ))))
        }
    };
    let mut flags = 0;
    if spec.full {
        match format {
            Some("qcow2") => flags |= sys::VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA,
            Some("raw") | None => {}
            Some(f) => {
                return Err(Failure::Own(Error::Invalid(format!(
                    "a {f} volume cannot be fully allocated: only raw and qcow2 volumes can; choose sparse"
                ))))
            }
        }
    }
    let definition = xml::volume::definition(name, format, spec.capacity, spec.allocation);
    let vol = StorageVol::create_xml(&open.pool, &definition, flags).map_err(|e| {
        failed(host, e, |m| {
            format!("cannot create volume {name} in pool {pool}: {m}")
        })
    })?;
    open.refresh(host);
    summary(pool, &vol, None)
}

/// Which of a volume's users stop a change to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocking {
    /// Guests that run (or are paused) from it: it is read or grown.
    Running,
    /// Every guest whose definition names it, shut off too: its content goes.
    Any,
}

impl Blocking {
    pub fn blocks(self, state: RunState) -> bool {
        self == Blocking::Any || state.is_active()
    }

    /// The end of a refusal: what the user does about it.
    pub fn fix(self) -> &'static str {
        match self {
            Blocking::Running => "Shut them down first.",
            Blocking::Any => {
                "Remove the disk from them first (a shut-off guest's definition still names it)."
            }
        }
    }
}

/// `name (state)` of each guest, joined.
pub fn who(users: &[GuestRef]) -> String {
    users
        .iter()
        .map(|u| format!("{} ({})", u.name, u.state.label()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn refuse_if_used(
    host: &str,
    conn: &Connect,
    pool: &str,
    doc: &Volume,
    blocking: Blocking,
    what: &str,
) -> Result<(), Failure> {
    let users = Users::read(conn)?;
    let blocked: Vec<GuestRef> = users
        .of(pool, &doc.name, &doc.path)
        .into_iter()
        .filter(|u| blocking.blocks(u.state))
        .collect();
    if blocked.is_empty() {
        return Ok(());
    }
    let whose = match blocking {
        Blocking::Running => "running guests",
        Blocking::Any => "guests",
    };
    Err(Failure::Own(Error::Conflict(format!(
        "cannot {what} volume {} on host {host}: {whose} use it: {}. {}",
        doc.name,
        who(&blocked),
        blocking.fix()
    ))))
}

/// Runs a volume action. `Ok(None)` after delete; after clone, the clone.
pub fn act(
    host: &str,
    conn: &Connect,
    pool: &str,
    name: &str,
    op: &VolOp,
) -> Result<Option<Volume>, Failure> {
    let open = open_pool(host, conn, pool)?;
    let vol = open.volume(host, pool, name)?;
    let current = summary(pool, &vol, None)?;
    let ctx = |what: &'static str| move |m: String| format!("cannot {what} volume {name}: {m}");
    match op {
        VolOp::Delete => {
            open.require_manageable(host, pool, "delete a volume")?;
            refuse_if_used(host, conn, pool, &current, Blocking::Any, "delete")?;
            vol.delete(0).map_err(|e| failed(host, e, ctx("delete")))?;
            open.refresh(host);
            Ok(None)
        }
        VolOp::Resize(capacity) => {
            open.require_manageable(host, pool, "resize a volume")?;
            // Only growing is the caller's rule; shrinking is refused here too.
            if *capacity <= current.capacity {
                return Err(Failure::Own(Error::Invalid(format!(
                    "volume {name} is {} bytes already; only growing is supported",
                    current.capacity
                ))));
            }
            refuse_if_used(host, conn, pool, &current, Blocking::Running, "resize")?;
            vol.resize(*capacity, 0)
                .map_err(|e| failed(host, e, ctx("resize")))?;
            open.refresh(host);
            summary(pool, &vol, None).map(Some)
        }
        VolOp::Wipe => {
            if !matches!(current.format.as_deref(), None | Some("raw") | Some("iso")) {
                return Err(Failure::Own(Error::Invalid(format!(
                    "wiping overwrites the whole file with zeros, which would destroy the {} image \
                     structure of {name}; delete the volume and create it again instead",
                    current.format.clone().unwrap_or_default()
                ))));
            }
            refuse_if_used(host, conn, pool, &current, Blocking::Any, "wipe")?;
            vol.wipe(0).map_err(|e| failed(host, e, ctx("wipe")))?;
            open.refresh(host);
            summary(pool, &vol, None).map(Some)
        }
        VolOp::Clone(new_name) => {
            open.require_manageable(host, pool, "clone a volume")?;
            if open.exists(new_name) {
                return Err(Failure::Own(Error::Conflict(format!(
                    "pool {pool} on host {host} already has a volume named {new_name}"
                ))));
            }
            refuse_if_used(host, conn, pool, &current, Blocking::Running, "clone")?;
            let definition =
                xml::volume::definition(new_name, current.format.as_deref(), current.capacity, 0);
            let clone = StorageVol::create_xml_from(&open.pool, &definition, &vol, 0)
                .map_err(|e| failed(host, e, ctx("clone")))?;
            open.refresh(host);
            summary(pool, &clone, None).map(Some)
        }
    }
}

/// What a download will send, read before the transfer starts.
pub struct DownloadInfo {
    pub name: String,
    /// Bytes the stream will carry, when libvirt says (the file's size).
    pub length: Option<u64>,
}

pub fn download_info(
    host: &str,
    conn: &Connect,
    pool: &str,
    name: &str,
) -> Result<DownloadInfo, Failure> {
    let open = open_pool(host, conn, pool)?;
    open.require_manageable(host, pool, "download a volume")?;
    let vol = open.volume(host, pool, name)?;
    let xml = vol.xml_desc(0)?;
    let physical = roxmltree::Document::parse(&xml).ok().and_then(|d| {
        d.root_element()
            .children()
            .find(|n| n.has_tag_name("physical"))
            .and_then(|n| n.text())
            .and_then(|t| t.trim().parse::<u64>().ok())
    });
    Ok(DownloadInfo {
        name: name.to_string(),
        length: physical,
    })
}

/// A chunk of a transfer, or why the other side stopped.
pub type Chunk = Result<Bytes, String>;

const CHUNK: usize = 256 * 1024;

/// Streams a volume's content into `tx` until the end, or until the receiver
/// is dropped (the client went away: the libvirt stream is aborted).
pub fn download(
    host: &str,
    conn: &Connect,
    pool: &str,
    name: &str,
    tx: mpsc::Sender<Chunk>,
    idle: Duration,
) -> Result<u64, Failure> {
    let open = open_pool(host, conn, pool)?;
    let vol = open.volume(host, pool, name)?;
    let stream = Stream::new(conn, 0)?;
    vol.download(&stream, 0, 0, 0)
        .map_err(|e| failed(host, e, |m| format!("cannot download volume {name}: {m}")))?;
    let mut buf = vec![0u8; CHUNK];
    let mut sent: u64 = 0;
    loop {
        match stream.recv(&mut buf) {
            Ok(0) => {
                stream
                    .finish()
                    .map_err(|e| failed(host, e, |m| format!("download of {name} failed: {m}")))?;
                return Ok(sent);
            }
            Ok(n) if n > 0 => {
                let n = n as usize;
                if let Err(why) = send_within(&tx, Bytes::copy_from_slice(&buf[..n]), idle) {
                    let _ = stream.abort();
                    return Err(Failure::Own(Error::Invalid(format!(
                        "the download of {name} stopped after {sent} bytes: {why}"
                    ))));
                }
                sent += n as u64;
            }
            Ok(_) => continue,
            Err(e) => {
                let message = format!(
                    "download of {name} failed after {sent} bytes: {}",
                    e.message()
                );
                let _ = tx.blocking_send(Err(message.clone()));
                let _ = stream.abort();
                return Err(failed(host, e, |_| message));
            }
        }
    }
}

/// Hands `chunk` to the receiver, waiting at most `idle` for it to take it.
fn send_within(tx: &mpsc::Sender<Chunk>, chunk: Bytes, idle: Duration) -> Result<(), String> {
    let deadline = std::time::Instant::now() + idle;
    let mut chunk = Ok(chunk);
    loop {
        match tx.try_send(chunk) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err("the client went away".into()),
            Err(mpsc::error::TrySendError::Full(back)) => {
                if std::time::Instant::now() >= deadline {
                    return Err(format!("the client read nothing for {} s", idle.as_secs()));
                }
                chunk = back;
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Where an upload goes.
pub enum UploadInto {
    /// A new volume sized from the upload's length (removed again if the
    /// upload fails).
    New(Option<String>),
    /// An existing volume, overwritten from its start.
    Existing,
}

/// Writes `length` bytes from `rx` into a volume through a libvirt stream.
pub fn upload(
    host: &str,
    conn: &Connect,
    pool: &str,
    name: &str,
    into: UploadInto,
    length: u64,
    mut rx: mpsc::Receiver<Chunk>,
) -> Result<Volume, Failure> {
    let open = open_pool(host, conn, pool)?;
    open.require_manageable(host, pool, "upload into a volume")?;
    // What the image refers to is known before anything is created or written.
    let head = read_head(&mut rx, length)?;
    open.refuse_foreign_files(pool, name, &head)?;
    let (vol, created) = match into {
        UploadInto::New(format) => {
            if open.exists(name) {
                return Err(Failure::Own(Error::Conflict(format!(
                    "pool {pool} on host {host} already has a volume named {name}; upload into it \
                     explicitly to overwrite it"
                ))));
            }
            let format = format.or(file_based(&open.kind).then(|| "raw".to_string()));
            let definition = xml::volume::definition(name, format.as_deref(), length.max(1), 0);
            let vol = StorageVol::create_xml(&open.pool, &definition, 0).map_err(|e| {
                failed(host, e, |m| {
                    format!("cannot create volume {name} for the upload: {m}")
                })
            })?;
            (vol, true)
        }
        UploadInto::Existing => {
            let vol = open.volume(host, pool, name)?;
            let current = summary(pool, &vol, None)?;
            refuse_if_used(host, conn, pool, &current, Blocking::Any, "overwrite")?;
            (vol, false)
        }
    };
    let result = send_all(host, conn, &vol, name, length, head, &mut rx);
    if let Err(e) = result {
        let note = if created {
            match vol.delete(0) {
                Ok(()) => " The new volume was removed.".to_string(),
                Err(d) => format!(" Removing the new volume failed too: {}", d.message()),
            }
        } else {
            " The volume's content is now partly overwritten.".to_string()
        };
        open.refresh(host);
        return Err(match e {
            Failure::Own(own) => Failure::Own(own.map_message(|m| format!("{m}.{note}"))),
            Failure::Libvirt(le) => failed(host, le, |m| {
                format!("upload into {name} failed: {m}.{note}")
            }),
        });
    }
    open.refresh(host);
    summary(pool, &vol, None)
}

fn send_all(
    host: &str,
    conn: &Connect,
    vol: &StorageVol,
    name: &str,
    length: u64,
    head: Vec<u8>,
    rx: &mut mpsc::Receiver<Chunk>,
) -> Result<(), Failure> {
    let stream = Stream::new(conn, 0)?;
    vol.upload(&stream, 0, length, 0).map_err(|e| {
        failed(host, e, |m| {
            format!("cannot upload into volume {name}: {m}")
        })
    })?;
    let mut received: u64 = 0;
    let stop = |stream: Stream, why: String| -> Failure {
        let _ = stream.abort();
        Failure::Own(Error::Invalid(why))
    };
    // The first bytes were read already, to check the image.
    let mut first = Some(Bytes::from(head)).filter(|b| !b.is_empty());
    loop {
        let next = match first.take() {
            Some(b) => Some(Ok(b)),
            None => rx.blocking_recv(),
        };
        match next {
            Some(Ok(bytes)) => {
                received += bytes.len() as u64;
                if received > length {
                    return Err(stop(
                        stream,
                        format!("the upload sent more than the {length} bytes it announced"),
                    ));
                }
                let mut rest: &[u8] = &bytes;
                while !rest.is_empty() {
                    match stream.send(rest) {
                        Ok(n) if n > 0 => rest = &rest[n as usize..],
                        Ok(_) => continue,
                        Err(e) => {
                            let _ = stream.abort();
                            return Err(failed(host, e, |m| {
                                format!("upload into {name} failed after {received} bytes: {m}")
                            }));
                        }
                    }
                }
            }
            Some(Err(why)) => {
                return Err(stop(
                    stream,
                    format!(
                        "the upload was interrupted after {received} of {length} bytes ({why})"
                    ),
                ))
            }
            None if received < length => {
                return Err(stop(
                    stream,
                    format!("the upload ended after {received} of the {length} bytes it announced"),
                ))
            }
            None => {
                return stream
                    .finish()
                    .map_err(|e| failed(host, e, |m| format!("upload into {name} failed: {m}")))
            }
        }
    }
}
