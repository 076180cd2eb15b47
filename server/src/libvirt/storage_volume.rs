//! Storage volumes: listing with the guests that use them, creation, delete,
//! resize, wipe, clone, and streamed upload and download. Blocking functions
//! on one connection; `storage::LibvirtStorage` runs them off the runtime
//! (the long ones, and transfers, on a connection of their own).

use std::collections::HashMap;

use super::error::{clip, Error};
use app::api::{
    pools::PoolType,
    size::StorageName,
    volumes::{Allocation, VolumeFormat, VolumeOp, VolumeSpec, VolumeSummary, VolumeUser},
};
use bytes::Bytes;
use tokio::sync::mpsc;
use virt::{
    connect::Connect, error::ErrorNumber, storage_pool::StoragePool, storage_vol::StorageVol,
    stream::Stream,
};

use super::sys;
use super::{
    connection::Failure,
    domain::{self, GuestRef},
    storage_pool::{self, failed},
    xml::{self, domain::DiskSource},
};

/// A pool that is active and whose volumes libvirt can manage.
struct OpenPool {
    pool: StoragePool,
    pool_type: PoolType,
}

fn open_pool(host: &str, conn: &Connect, name: &StorageName) -> Result<OpenPool, Failure> {
    let pool = storage_pool::find(host, conn, name.as_str())?;
    if !pool.is_active()? {
        return Err(Failure::Own(Error::Conflict(format!(
            "pool {name} on host {host} is not active: start it to use its volumes"
        ))));
    }
    let pool_type = xml::pool::read(&pool.xml_desc(0)?)
        .ok()
        .and_then(|d| d.kind.parse().ok())
        .unwrap_or(PoolType::Other);
    Ok(OpenPool { pool, pool_type })
}

impl OpenPool {
    fn require_manageable(
        &self,
        host: &str,
        name: &StorageName,
        what: &str,
    ) -> Result<(), Failure> {
        if self.pool_type.volumes_manageable() {
            return Ok(());
        }
        Err(Failure::Own(Error::Unsupported(format!(
            "cannot {what} in pool {name} on host {host}: the volumes of a {} pool are provided by the \
             storage itself (LUNs of the target) and cannot be created, deleted, resized or written through libvirt",
            self.pool_type
        ))))
    }

    /// Re-reads the pool so sizes and lists are true after a change.
    fn refresh(&self, host: &str) {
        if let Err(e) = self.pool.refresh(0) {
            tracing::warn!(host, "cannot refresh the pool: {}", e.message());
        }
    }

    fn volume(&self, host: &str, pool: &StorageName, name: &str) -> Result<StorageVol, Failure> {
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

fn summary(
    host: &str,
    pool: &StorageName,
    vol: &StorageVol,
    users: Option<&Users>,
) -> Result<VolumeSummary, Failure> {
    let doc = xml::volume::read(&vol.xml_desc(0)?).map_err(|e| {
        tracing::error!("{e}");
        Failure::Own(Error::Internal)
    })?;
    let used_by = users
        .map(|u| u.of(pool.as_str(), &doc.name, &doc.path))
        .unwrap_or_default()
        .into_iter()
        .map(VolumeUser::from)
        .collect();
    Ok(VolumeSummary {
        host: host.to_string(),
        pool: pool.to_string(),
        name: doc.name,
        path: doc.path,
        format: doc.format,
        capacity: doc.capacity,
        allocation: doc.allocation,
        used_by,
    })
}

/// A volume of an active pool, for a guest's disk: its summary (without
/// users) and libvirt's volume type (0 file, 1 block, 3 network…).
pub fn resolve(
    host: &str,
    conn: &Connect,
    pool: &StorageName,
    name: &str,
) -> Result<(VolumeSummary, u32), Failure> {
    let open = open_pool(host, conn, pool)?;
    let vol = open.volume(host, pool, name)?;
    let kind = vol.info()?.kind;
    Ok((summary(host, pool, &vol, None)?, kind))
}

/// Every volume of the pool, sorted by name, with the guests that use each.
pub fn list(host: &str, conn: &Connect, pool: &StorageName) -> Result<Vec<VolumeSummary>, Failure> {
    let open = open_pool(host, conn, pool)?;
    let users = Users::read(conn)?;
    let mut volumes = Vec::new();
    for vol in open.pool.list_all_volumes(0)? {
        match summary(host, pool, &vol, Some(&users)) {
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

/// Pools whose volumes are files (and so have a file format).
fn file_based(pool_type: PoolType) -> bool {
    matches!(
        pool_type,
        PoolType::Dir | PoolType::Fs | PoolType::Netfs | PoolType::Gluster
    )
}

pub fn create(
    host: &str,
    conn: &Connect,
    pool: &StorageName,
    spec: &VolumeSpec,
) -> Result<VolumeSummary, Failure> {
    let open = open_pool(host, conn, pool)?;
    open.require_manageable(host, pool, "create a volume")?;
    let name = spec.name.as_str();
    if open.exists(name) {
        return Err(Failure::Own(Error::Conflict(format!(
            "pool {pool} on host {host} already has a volume named {name}"
        ))));
    }
    let format = match (spec.format, file_based(open.pool_type)) {
        (None, true) => Some(VolumeFormat::Raw),
        (f, true) => f,
        (None, false) => None,
        (Some(f), false) => {
            return Err(Failure::Own(Error::Invalid(format!(
                "volumes of a {} pool are not files and have no format: leave \"format\" empty, not {f}",
                open.pool_type
            ))))
        }
    };
    let mut flags = 0;
    if spec.allocation == Allocation::Full {
        match format {
            Some(VolumeFormat::Qcow2) => flags |= sys::VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA,
            Some(VolumeFormat::Raw) | None => {}
            Some(f) => {
                return Err(Failure::Own(Error::Invalid(format!(
                    "a {f} volume cannot be fully allocated: only raw and qcow2 volumes can; choose sparse"
                ))))
            }
        }
    }
    let definition =
        xml::volume::definition(name, format, spec.capacity.bytes(), spec.allocation_bytes());
    let vol = StorageVol::create_xml(&open.pool, &definition, flags).map_err(|e| {
        failed(host, e, |m| {
            format!("cannot create volume {name} in pool {pool}: {m}")
        })
    })?;
    open.refresh(host);
    summary(host, pool, &vol, None)
}

fn refuse_if_running(
    host: &str,
    conn: &Connect,
    pool: &StorageName,
    doc: &VolumeSummary,
    what: &str,
) -> Result<(), Failure> {
    let users = Users::read(conn)?;
    let running: Vec<String> = users
        .of(pool.as_str(), &doc.name, &doc.path)
        .into_iter()
        .filter(|u| u.state.is_active())
        .map(|u| u.name)
        .collect();
    if running.is_empty() {
        return Ok(());
    }
    Err(Failure::Own(Error::Conflict(format!(
        "cannot {what} volume {} on host {host}: running guests use it: {}. Shut them down first.",
        doc.name,
        running.join(", ")
    ))))
}

/// Runs a volume action. `Ok(None)` after delete; after clone, the clone.
pub fn act(
    host: &str,
    conn: &Connect,
    pool: &StorageName,
    name: &StorageName,
    op: &VolumeOp,
) -> Result<Option<VolumeSummary>, Failure> {
    let open = open_pool(host, conn, pool)?;
    let vol = open.volume(host, pool, name.as_str())?;
    let current = summary(host, pool, &vol, None)?;
    let ctx = |what: &'static str| move |m: String| format!("cannot {what} volume {name}: {m}");
    match op {
        VolumeOp::Delete => {
            open.require_manageable(host, pool, "delete a volume")?;
            refuse_if_running(host, conn, pool, &current, "delete")?;
            vol.delete(0).map_err(|e| failed(host, e, ctx("delete")))?;
            open.refresh(host);
            Ok(None)
        }
        VolumeOp::Resize(capacity) => {
            open.require_manageable(host, pool, "resize a volume")?;
            if capacity.bytes() <= current.capacity {
                return Err(Failure::Own(Error::Invalid(format!(
                    "volume {name} is {} already; virtdeck only grows volumes (shrinking cuts off the \
                     guest's data): give a capacity larger than that",
                    app::api::size::human_bytes(current.capacity)
                ))));
            }
            refuse_if_running(host, conn, pool, &current, "resize")?;
            vol.resize(capacity.bytes(), 0)
                .map_err(|e| failed(host, e, ctx("resize")))?;
            open.refresh(host);
            summary(host, pool, &vol, None).map(Some)
        }
        VolumeOp::Wipe => {
            if !matches!(
                current.format,
                None | Some(VolumeFormat::Raw) | Some(VolumeFormat::Iso)
            ) {
                return Err(Failure::Own(Error::Invalid(format!(
                    "wiping overwrites the whole file with zeros, which would destroy the {} image                      structure of {name}; delete the volume and create it again instead",
                    current.format.map(|f| f.to_string()).unwrap_or_default()
                ))));
            }
            refuse_if_running(host, conn, pool, &current, "wipe")?;
            vol.wipe(0).map_err(|e| failed(host, e, ctx("wipe")))?;
            open.refresh(host);
            summary(host, pool, &vol, None).map(Some)
        }
        VolumeOp::Clone(new_name) => {
            open.require_manageable(host, pool, "clone a volume")?;
            if open.exists(new_name.as_str()) {
                return Err(Failure::Own(Error::Conflict(format!(
                    "pool {pool} on host {host} already has a volume named {new_name}"
                ))));
            }
            refuse_if_running(host, conn, pool, &current, "clone")?;
            let definition =
                xml::volume::definition(new_name.as_str(), current.format, current.capacity, 0);
            let clone = StorageVol::create_xml_from(&open.pool, &definition, &vol, 0)
                .map_err(|e| failed(host, e, ctx("clone")))?;
            open.refresh(host);
            summary(host, pool, &clone, None).map(Some)
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
    pool: &StorageName,
    name: &StorageName,
) -> Result<DownloadInfo, Failure> {
    let open = open_pool(host, conn, pool)?;
    open.require_manageable(host, pool, "download a volume")?;
    let vol = open.volume(host, pool, name.as_str())?;
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
    pool: &StorageName,
    name: &StorageName,
    tx: mpsc::Sender<Chunk>,
) -> Result<u64, Failure> {
    let open = open_pool(host, conn, pool)?;
    let vol = open.volume(host, pool, name.as_str())?;
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
                if tx
                    .blocking_send(Ok(Bytes::copy_from_slice(&buf[..n])))
                    .is_err()
                {
                    let _ = stream.abort();
                    return Err(Failure::Own(Error::Invalid(format!(
                        "the download of {name} was cancelled by the client after {sent} bytes"
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

/// Where an upload goes.
pub enum UploadInto {
    /// A new volume sized from the upload's length (removed again if the
    /// upload fails).
    New(Option<VolumeFormat>),
    /// An existing volume, overwritten from its start.
    Existing,
}

/// Writes `length` bytes from `rx` into a volume through a libvirt stream.
pub fn upload(
    host: &str,
    conn: &Connect,
    pool: &StorageName,
    name: &StorageName,
    into: UploadInto,
    length: u64,
    mut rx: mpsc::Receiver<Chunk>,
) -> Result<VolumeSummary, Failure> {
    let open = open_pool(host, conn, pool)?;
    open.require_manageable(host, pool, "upload into a volume")?;
    let (vol, created) = match into {
        UploadInto::New(format) => {
            if open.exists(name.as_str()) {
                return Err(Failure::Own(Error::Conflict(format!(
                    "pool {pool} on host {host} already has a volume named {name}; upload into it \
                     explicitly to overwrite it"
                ))));
            }
            let format = format.or(file_based(open.pool_type).then_some(VolumeFormat::Raw));
            let definition = xml::volume::definition(name.as_str(), format, length.max(1), 0);
            let vol = StorageVol::create_xml(&open.pool, &definition, 0).map_err(|e| {
                failed(host, e, |m| {
                    format!("cannot create volume {name} for the upload: {m}")
                })
            })?;
            (vol, true)
        }
        UploadInto::Existing => (open.volume(host, pool, name.as_str())?, false),
    };
    let result = send_all(host, conn, &vol, name, length, &mut rx);
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
            Failure::Own(api) => Failure::Own(api.map_message(|m| format!("{m}.{note}"))),
            Failure::Libvirt(le) => failed(host, le, |m| {
                format!("upload into {name} failed: {m}.{note}")
            }),
        });
    }
    open.refresh(host);
    summary(host, pool, &vol, None)
}

fn send_all(
    host: &str,
    conn: &Connect,
    vol: &StorageVol,
    name: &StorageName,
    length: u64,
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
    loop {
        match rx.blocking_recv() {
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
