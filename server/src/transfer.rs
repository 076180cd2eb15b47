//! Volume uploads and downloads: streamed HTTP bodies, never held whole in
//! memory or written to the web server's disk, and not bound by the API's
//! small body limit. Each transfer runs on a libvirt connection of its own.
//!
//! - `PUT /api/volumes/upload?host=…&pool=…&name=…[&mode=new|overwrite][&format=raw]`
//!   with `Content-Type: application/octet-stream` and a `Content-Length`;
//!   `mode=new` (the default) creates a volume sized from the upload's length.
//! - `GET /api/volumes/download?host=…&pool=…&name=…` answers the content.

use crate::startup::AppState;
use app::api::{
    audit::{AuditAction, Target},
    auth::{Role, SessionUser},
    size::StorageName,
    ssr::CurrentUser,
    volumes::{UploadInto, VolumeSummary},
    ApiError,
};
use app::backend::{AuditEntry, Outcome, Transfer};
use axum::{
    body::Body,
    extract::{Query, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
    Json,
};
use futures::StreamExt;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct VolumeRef {
    host: String,
    pool: String,
    name: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

fn target(q: &VolumeRef) -> String {
    Target::volume(&q.host, &q.pool, &q.name).to_string()
}

/// The gate's user of this request, who must be an operator: volume
/// contents are guests' disks. A refusal is audited.
async fn operator(
    state: &AppState,
    current: Option<axum::Extension<CurrentUser>>,
    action: AuditAction,
    target: &str,
) -> Result<SessionUser, ApiError> {
    let Some(axum::Extension(CurrentUser { user, .. })) = current else {
        return Err(ApiError::unauthorized());
    };
    if user.must_change_password || !user.can(Role::Operator) {
        let error = ApiError::Forbidden(format!(
            "your role ({}) cannot do this; it needs operator",
            user.role
        ));
        state
            .services
            .audit
            .write(AuditEntry {
                user: Some(&user.username),
                client: None,
                action: action.as_str(),
                target,
                outcome: Outcome::Refused(error.message()),
            })
            .await;
        return Err(error);
    }
    Ok(user)
}

fn names(q: &VolumeRef) -> Result<(StorageName, StorageName), ApiError> {
    Ok((
        StorageName::parse("pool name", &q.pool)?,
        // Download and overwrite name a volume that exists; a new one is checked again.
        StorageName::existing("volume name", &q.name)?,
    ))
}

pub async fn upload(
    State(state): State<AppState>,
    current: Option<axum::Extension<CurrentUser>>,
    Query(q): Query<VolumeRef>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let user = match operator(&state, current, AuditAction::VolumeUpload, &target(&q)).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    // Its own task: if the client goes away mid-upload, the request's future
    // is dropped, but the clean-up (removing a half-made volume) and the
    // audit record still happen.
    let work = tokio::spawn(async move {
        let result = run_upload(&state, &user, &q, &headers, body).await;
        state
            .services
            .audit
            .record(
                Some(&user),
                AuditAction::VolumeUpload.as_str(),
                &target(&q),
                result.as_ref().map(|_| ()).map_err(|e| e.message()),
            )
            .await;
        result
    });
    match work.await {
        Ok(Ok(volume)) => Json(volume).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(join) => {
            tracing::error!("upload task failed: {join}");
            ApiError::internal().into_response()
        }
    }
}

async fn run_upload(
    state: &AppState,
    user: &SessionUser,
    q: &VolumeRef,
    headers: &HeaderMap,
    body: Body,
) -> Result<VolumeSummary, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/octet-stream") {
        return Err(ApiError::BadRequest(
            "an upload is sent with Content-Type: application/octet-stream".into(),
        ));
    }
    let length: u64 = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            ApiError::BadRequest("an upload needs a Content-Length (its size in bytes)".into())
        })?;
    if length == 0 {
        return Err(ApiError::BadRequest("the upload is empty".into()));
    }
    app::api::size::ByteSize::from_bytes(length)?;
    let (pool, name) = names(q)?;
    let into = UploadInto::parse(q.mode.as_deref(), q.format.as_deref())?;
    if matches!(into, UploadInto::New(_)) {
        StorageName::parse("volume name", name.as_str())?;
    }
    let body = body
        .into_data_stream()
        .map(|chunk| chunk.map_err(|e| format!("the connection broke: {e}")))
        .boxed();
    state
        .services
        .storage
        .upload(
            Transfer {
                user: &user.username,
                host: &q.host,
                pool: &pool,
                volume: &name,
            },
            into,
            length,
            body,
        )
        .await
}

pub async fn download(
    State(state): State<AppState>,
    current: Option<axum::Extension<CurrentUser>>,
    Query(q): Query<VolumeRef>,
) -> Response {
    let user = match operator(&state, current, AuditAction::VolumeDownload, &target(&q)).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let prepared = async {
        let (pool, name) = names(&q)?;
        state
            .services
            .storage
            .download(Transfer {
                user: &user.username,
                host: &q.host,
                pool: &pool,
                volume: &name,
            })
            .await
    }
    .await;
    state
        .services
        .audit
        .record(
            Some(&user),
            AuditAction::VolumeDownload.as_str(),
            &target(&q),
            prepared.as_ref().map(|_| ()).map_err(|e| e.message()),
        )
        .await;
    let download = match prepared {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let body = Body::from_stream(download.body.map(|c| c.map_err(std::io::Error::other)));
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        "application/octet-stream".parse().expect("static header"),
    );
    // The name is a checked storage name: no quotes or separators in it.
    if let Ok(v) = format!("attachment; filename=\"{}\"", download.name).parse() {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(length) = download.length {
        h.insert(header::CONTENT_LENGTH, length.into());
    }
    h.insert(
        header::CACHE_CONTROL,
        "no-store".parse().expect("static header"),
    );
    response
}
