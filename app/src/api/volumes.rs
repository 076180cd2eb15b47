//! Storage volumes: `GET /api/volumes`, `GET /api/volumes/page`,
//! `POST /api/volumes`, `POST /api/volumes/action`. Uploads and downloads are
//! streamed HTTP bodies served by the server itself (`/api/volumes/upload`,
//! `/api/volumes/download`), not server functions.

use leptos::server;
use leptos::server_fn::codec::{GetUrl, Json};
use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter, EnumString, IntoEnumIterator};

use super::{
    clip,
    guests::GuestState,
    size::{ByteSize, SizeArg, StorageName},
    validate::{parse_choice, Choice},
    ApiError,
};

/// A volume's file format as libvirt names it. Formats of block pools
/// (partition types, none) are `other`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, EnumIter, EnumString, Display,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum VolumeFormat {
    Raw,
    Qcow2,
    Qcow,
    Qed,
    Vmdk,
    Vdi,
    Vpc,
    Vhd,
    Iso,
    Cloop,
    Cow,
    Dmg,
    Bochs,
    Ploop,
    Fat,
    Dir,
    #[serde(other)]
    Other,
}

impl VolumeFormat {
    /// QEMU can create and write volumes of this format.
    pub fn writable(self) -> bool {
        super::pools::WRITABLE_FORMATS.contains(&self.to_string().as_str())
    }

    /// Formats whose allocation is all or nothing (a partial preallocation
    /// means nothing to them): the form offers just sparse or full.
    pub fn all_or_nothing_allocation(self) -> bool {
        !matches!(self, VolumeFormat::Raw)
    }

    /// Parses a format given in a request.
    pub fn parse_writable(text: &str) -> Result<VolumeFormat, ApiError> {
        let writable: Vec<String> = VolumeFormat::iter()
            .filter(|f| f.writable())
            .map(|f| f.to_string())
            .collect();
        match text.parse::<VolumeFormat>() {
            Ok(f) if f.writable() => Ok(f),
            Ok(VolumeFormat::Other) | Err(_) => Err(ApiError::BadRequest(format!(
                "unknown volume format {:?}; choose one of: {}",
                clip(text),
                writable.join(", ")
            ))),
            Ok(f) => Err(ApiError::BadRequest(format!(
                "{f} volumes can only be read by QEMU, not created; choose one of: {}",
                writable.join(", ")
            ))),
        }
    }
}

/// A guest whose disks use a volume. On shared storage it may be a guest of
/// another host: `host` says whose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeUser {
    #[serde(default)]
    pub host: String,
    pub uuid: String,
    pub name: String,
    pub state: GuestState,
}

/// The users' labels as `VolumeUser::label` gives them, joined.
pub fn user_labels(users: &[VolumeUser], here: &str) -> String {
    users
        .iter()
        .map(|u| u.label(here))
        .collect::<Vec<_>>()
        .join(", ")
}

impl VolumeUser {
    /// `name`, or `name (on host)` when it is not a guest of `here`.
    pub fn label(&self, here: &str) -> String {
        if self.host.is_empty() || self.host == here {
            self.name.clone()
        } else {
            format!("{} (on {})", self.name, self.host)
        }
    }

    pub fn is_running(&self) -> bool {
        !matches!(self.state, GuestState::Shutoff | GuestState::Crashed)
    }
}

/// One volume as the API shows it. Sizes are bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeSummary {
    pub host: String,
    pub pool: String,
    pub name: String,
    pub path: String,
    /// `null` for volumes without a file format (block devices, LUNs).
    pub format: Option<VolumeFormat>,
    pub capacity: u64,
    pub allocation: u64,
    /// The guests defined on the host whose disks use this volume.
    pub used_by: Vec<VolumeUser>,
}

/// A page of a pool's volumes (`GET /api/volumes/page`), for lists of thousands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumePage {
    /// Volumes matching the search, in all.
    pub total: usize,
    pub offset: usize,
    /// The sum of every volume's capacity in the pool (to see over-commitment).
    pub committed: u64,
    pub volumes: Vec<VolumeSummary>,
}

/// How much of a new volume's capacity is reserved now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// A sparse file that grows as the guest writes.
    Sparse,
    /// All of it, now.
    Full,
    /// This many bytes now (raw files only).
    Bytes(ByteSize),
}

/// A new volume that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeSpec {
    pub name: StorageName,
    pub format: Option<VolumeFormat>,
    pub capacity: ByteSize,
    pub allocation: Allocation,
}

impl VolumeSpec {
    /// The allocation in bytes, as libvirt's volume XML wants it.
    pub fn allocation_bytes(&self) -> u64 {
        match self.allocation {
            Allocation::Sparse => 0,
            Allocation::Full => self.capacity.bytes(),
            Allocation::Bytes(b) => b.bytes(),
        }
    }
}

/// Checks a new volume's fields. `allocation` is a size, `"sparse"` or `"full"`;
/// missing means sparse. `format` empty means the pool's default (block pools
/// have none).
pub fn validate_new_volume(
    name: &str,
    format: Option<&str>,
    capacity: &SizeArg,
    allocation: &SizeArg,
) -> Result<VolumeSpec, ApiError> {
    let name = StorageName::parse("volume name", name)?;
    let format = match format.map(str::trim) {
        None | Some("") => None,
        Some(f) => Some(VolumeFormat::parse_writable(f)?),
    };
    let capacity = capacity.parse_capacity("capacity")?;
    let allocation = match &allocation.0 {
        serde_json::Value::Null => Allocation::Sparse,
        serde_json::Value::String(s) if s.trim().eq_ignore_ascii_case("sparse") => {
            Allocation::Sparse
        }
        serde_json::Value::String(s) if s.trim().eq_ignore_ascii_case("full") => Allocation::Full,
        _ => {
            let bytes = allocation.parse("allocation")?;
            if bytes > capacity {
                return Err(ApiError::BadRequest(format!(
                    "allocation ({bytes}) cannot be larger than the capacity ({capacity})"
                )));
            }
            if bytes.bytes() == 0 {
                Allocation::Sparse
            } else if bytes == capacity {
                Allocation::Full
            } else if format.is_some_and(VolumeFormat::all_or_nothing_allocation) {
                return Err(ApiError::BadRequest(format!(
                    "a {} volume is either sparse or fully allocated: give allocation \"sparse\" (0) or \"full\" (the capacity)",
                    format.expect("checked")
                )));
            } else {
                Allocation::Bytes(bytes)
            }
        }
    };
    Ok(VolumeSpec {
        name,
        format,
        capacity,
        allocation,
    })
}

/// What `POST /api/volumes/action` can do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, EnumIter, EnumString, Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum VolumeAction {
    Delete,
    Resize,
    Wipe,
    Clone,
}

/// A checked volume action with its argument.
#[derive(Debug, Clone, PartialEq)]
pub enum VolumeOp {
    Delete,
    /// Grow to this capacity.
    Resize(ByteSize),
    /// Overwrite the content with zeros.
    Wipe,
    /// A copy in the same pool under this name.
    Clone(StorageName),
}

impl VolumeOp {
    pub fn parse(
        action: &str,
        capacity: &SizeArg,
        new_name: Option<&str>,
    ) -> Result<VolumeOp, ApiError> {
        let action: VolumeAction = parse_choice(Choice::Unknown("volume action"), action)?;
        Ok(match action {
            VolumeAction::Delete => VolumeOp::Delete,
            VolumeAction::Wipe => VolumeOp::Wipe,
            VolumeAction::Resize => VolumeOp::Resize(capacity.parse_capacity("capacity")?),
            VolumeAction::Clone => VolumeOp::Clone(StorageName::parse(
                "volume name",
                new_name.ok_or_else(|| {
                    ApiError::BadRequest("new_name is required to clone a volume".into())
                })?,
            )?),
        })
    }

    pub fn action(&self) -> VolumeAction {
        match self {
            VolumeOp::Delete => VolumeAction::Delete,
            VolumeOp::Resize(_) => VolumeAction::Resize,
            VolumeOp::Wipe => VolumeAction::Wipe,
            VolumeOp::Clone(_) => VolumeAction::Clone,
        }
    }
}

/// Every volume of a pool, sorted by name.
#[server(prefix = "/api", endpoint = "volumes", input = GetUrl, output = crate::api::JsonText)]
pub async fn list_volumes(host: String, pool: String) -> Result<Vec<VolumeSummary>, ApiError> {
    super::ssr::authorized(|ctx| async move {
        let pool = StorageName::parse("pool name", &pool)?;
        ctx.services.storage.volumes(&host, &pool).await
    })
    .await
}

/// One page of a pool's volumes whose name contains `q`.
#[server(name = VolumePageFn, prefix = "/api", endpoint = "volumes/page", input = GetUrl, output = crate::api::JsonText)]
pub async fn volume_page(
    host: String,
    pool: String,
    #[server(default)] q: Option<String>,
    #[server(default)] offset: Option<usize>,
    #[server(default)] limit: Option<usize>,
) -> Result<VolumePage, ApiError> {
    super::ssr::authorized(|ctx| async move {
        let pool = StorageName::parse("pool name", &pool)?;
        let all = ctx.services.storage.volumes(&host, &pool).await?;
        Ok(page_of(all, q.as_deref(), offset, limit))
    })
    .await
}

/// Filters `all` by a name search and cuts one page out of it.
pub fn page_of(
    all: Vec<VolumeSummary>,
    q: Option<&str>,
    offset: Option<usize>,
    limit: Option<usize>,
) -> VolumePage {
    let committed = all.iter().map(|v| v.capacity).sum();
    let needle = q.unwrap_or("").trim().to_lowercase();
    let matching: Vec<VolumeSummary> = all
        .into_iter()
        .filter(|v| needle.is_empty() || v.name.to_lowercase().contains(&needle))
        .collect();
    let total = matching.len();
    let offset = offset.unwrap_or(0).min(total);
    let limit = limit.unwrap_or(100).clamp(1, 1000);
    VolumePage {
        total,
        offset,
        committed,
        volumes: matching.into_iter().skip(offset).take(limit).collect(),
    }
}

/// Creates a volume and answers its summary.
#[server(prefix = "/api", endpoint = "volumes", input = Json, output = crate::api::JsonText)]
pub async fn create_volume(
    host: String,
    pool: String,
    name: String,
    #[server(default)] format: Option<String>,
    #[server(default)] capacity: SizeArg,
    #[server(default)] allocation: SizeArg,
) -> Result<VolumeSummary, ApiError> {
    use super::audit::{AuditAction, Target};
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        let target = Target::volume(&host, &pool, &name);
        ctx.audited(AuditAction::VolumeCreate, target, async {
            let pool = StorageName::parse("pool name", &pool)?;
            let spec = validate_new_volume(&name, format.as_deref(), &capacity, &allocation)?;
            ctx.services
                .storage
                .create_volume(&host, &pool, &spec)
                .await
        })
        .await
    })
    .await
}

/// Deletes, resizes, wipes or clones a volume. Answers the volume's (or the
/// clone's) new summary, `null` after delete.
#[server(name = VolumeActionFn, prefix = "/api", endpoint = "volumes/action", input = Json, output = crate::api::JsonText)]
pub async fn volume_action(
    host: String,
    pool: String,
    name: String,
    action: String,
    #[server(default)] capacity: SizeArg,
    #[server(default)] new_name: Option<String>,
) -> Result<Option<VolumeSummary>, ApiError> {
    use super::audit::{AuditAction, Target};
    super::ssr::authorized_as(super::auth::Role::Operator, |ctx| async move {
        let op = VolumeOp::parse(&action, &capacity, new_name.as_deref());
        let audit = AuditAction::volume(op.as_ref().ok().map(VolumeOp::action));
        ctx.audited(audit, Target::volume(&host, &pool, &name), async {
            let op = op?;
            let pool = StorageName::parse("pool name", &pool)?;
            let volume = StorageName::existing("volume name", &name)?;
            ctx.services
                .storage
                .volume_action(&host, &pool, &volume, &op)
                .await
        })
        .await
    })
    .await
}

/// Where an upload goes: `mode` and `format` of `PUT /api/volumes/upload`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadInto {
    /// `mode=new` (the default): a new volume sized from the upload's length,
    /// in `format` (an ISO image, or a writable format; the pool's default
    /// when absent). It is removed again if the upload fails.
    New(Option<VolumeFormat>),
    /// `mode=overwrite`: an existing volume, overwritten from its start.
    Overwrite,
}

impl UploadInto {
    pub fn parse(mode: Option<&str>, format: Option<&str>) -> Result<Self, ApiError> {
        match mode.unwrap_or("new") {
            "new" => Ok(UploadInto::New(match format {
                None | Some("") => None,
                Some("iso") => Some(VolumeFormat::Iso),
                Some(f) => Some(VolumeFormat::parse_writable(f)?),
            })),
            "overwrite" => Ok(UploadInto::Overwrite),
            other => Err(ApiError::BadRequest(format!(
                "mode {:?}: expected new or overwrite",
                clip(other)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn new(
        format: Option<&str>,
        capacity: serde_json::Value,
        allocation: serde_json::Value,
    ) -> Result<VolumeSpec, ApiError> {
        validate_new_volume("disk1", format, &SizeArg(capacity), &SizeArg(allocation))
    }

    #[test]
    fn formats_that_qemu_only_reads_are_refused_by_name() {
        assert_eq!(
            VolumeFormat::parse_writable("qcow2"),
            Ok(VolumeFormat::Qcow2)
        );
        let err = VolumeFormat::parse_writable("cloop")
            .unwrap_err()
            .to_string();
        assert!(err.contains("only be read"), "{err}");
        let err = VolumeFormat::parse_writable("exe").unwrap_err().to_string();
        assert!(err.contains("unknown volume format"), "{err}");
        assert_eq!(
            serde_json::from_str::<VolumeFormat>("\"linux-lvm\"").unwrap(),
            VolumeFormat::Other
        );
    }

    #[test]
    fn allocation_is_sparse_full_or_a_size_for_raw_only() {
        let spec = new(Some("qcow2"), json!("20G"), json!(null)).unwrap();
        assert_eq!(spec.allocation, Allocation::Sparse);
        assert_eq!(spec.capacity.bytes(), 20 << 30);
        let spec = new(Some("qcow2"), json!("1G"), json!("1024M")).unwrap();
        assert_eq!(spec.allocation, Allocation::Full);
        assert_eq!(spec.allocation_bytes(), 1 << 30);
        let spec = new(Some("raw"), json!("1G"), json!("256M")).unwrap();
        assert_eq!(spec.allocation_bytes(), 256 << 20);
        let err = new(Some("qcow2"), json!("1G"), json!("256M"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("either sparse or fully allocated"), "{err}");
        let err = new(Some("raw"), json!("1G"), json!("2G"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be larger than the capacity"), "{err}");
        assert!(new(Some("raw"), json!(0), json!(null)).is_err());
        assert!(new(Some("raw"), json!(-1), json!(null)).is_err());
        assert!(new(Some("raw"), json!("2E"), json!(null)).is_err());
        assert_eq!(new(None, json!("1G"), json!("full")).unwrap().format, None);
    }

    #[test]
    fn volume_actions_need_their_arguments() {
        let none = SizeArg::default();
        assert_eq!(VolumeOp::parse("delete", &none, None), Ok(VolumeOp::Delete));
        assert!(VolumeOp::parse("resize", &none, None).is_err());
        assert_eq!(
            VolumeOp::parse("resize", &SizeArg::text("2G"), None),
            Ok(VolumeOp::Resize(ByteSize::parse("2G").unwrap()))
        );
        assert!(VolumeOp::parse("clone", &none, None)
            .unwrap_err()
            .to_string()
            .contains("new_name"));
        assert!(VolumeOp::parse("clone", &none, Some("../x")).is_err());
        assert!(VolumeOp::parse("shred", &none, None)
            .unwrap_err()
            .to_string()
            .contains("delete, resize, wipe, clone"));
    }

    #[test]
    fn pages_cut_the_sorted_list() {
        let vol = |name: &str, capacity: u64| VolumeSummary {
            host: "h".into(),
            pool: "p".into(),
            name: name.into(),
            path: format!("/p/{name}"),
            format: Some(VolumeFormat::Raw),
            capacity,
            allocation: 0,
            used_by: vec![],
        };
        let all: Vec<_> = (0..250).map(|i| vol(&format!("vol{i:03}"), 10)).collect();
        let page = page_of(all.clone(), None, Some(200), Some(100));
        assert_eq!(
            (page.total, page.offset, page.volumes.len()),
            (250, 200, 50)
        );
        assert_eq!(page.committed, 2500);
        let page = page_of(all.clone(), Some("VOL01"), None, None);
        assert_eq!(page.total, 10);
        assert_eq!(page.volumes[0].name, "vol010");
        let page = page_of(all, None, Some(9999), Some(0));
        assert_eq!((page.offset, page.volumes.len()), (250, 0));
    }

    #[test]
    fn an_upload_names_where_it_goes() {
        assert_eq!(
            UploadInto::parse(None, None).unwrap(),
            UploadInto::New(None)
        );
        assert_eq!(
            UploadInto::parse(Some("new"), Some("iso")).unwrap(),
            UploadInto::New(Some(VolumeFormat::Iso))
        );
        assert_eq!(
            UploadInto::parse(None, Some("qcow2")).unwrap(),
            UploadInto::New(Some(VolumeFormat::Qcow2))
        );
        assert_eq!(
            UploadInto::parse(Some("overwrite"), None).unwrap(),
            UploadInto::Overwrite
        );
        assert!(UploadInto::parse(Some("append"), None).is_err());
        assert!(UploadInto::parse(None, Some("<x/>")).is_err());
    }
}
