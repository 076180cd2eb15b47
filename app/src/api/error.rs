//! The one error type of the HTTP API, shared by the server and the browser.
//!
//! On the wire an error is `{"error": "<kind>", "message": "<text for a person>"}`
//! with the matching HTTP status. Messages never carry internals (SQL, paths,
//! panics): the server logs those and sends a generic text instead. Libvirt's own
//! message is kept where it tells the user what to fix.

use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};

use super::codec::JsonTextEncoding;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", content = "message", rename_all = "snake_case")]
pub enum ApiError {
    /// No valid session (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Logged in, but the user's role does not allow this (403).
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts (429); try again later.
    #[error("{0}")]
    TooManyRequests(String),
    /// The request itself is wrong: bad JSON, an unknown action, a malformed id (400).
    #[error("{0}")]
    BadRequest(String),
    /// The host or guest named does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The object is not in a state that allows this (409), e.g. starting a running guest.
    #[error("{0}")]
    Conflict(String),
    /// The host's driver cannot do this (422).
    #[error("{0}")]
    Unsupported(String),
    /// Libvirt refused or failed; the message is libvirt's, prefixed with the host (502).
    #[error("{0}")]
    Libvirt(String),
    /// The host cannot be reached right now (503).
    #[error("{0}")]
    HostUnavailable(String),
    /// Something went wrong inside virtdeck; details are in the server log (500).
    #[error("{0}")]
    Internal(String),
    /// The browser could not reach the server at all (never sent by the server).
    #[error("{0}")]
    Network(String),
}

impl ApiError {
    /// The HTTP status code this error is sent with.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::TooManyRequests(_) => 429,
            ApiError::BadRequest(_) => 400,
            ApiError::NotFound(_) => 404,
            ApiError::Conflict(_) => 409,
            ApiError::Unsupported(_) => 422,
            ApiError::Libvirt(_) => 502,
            ApiError::HostUnavailable(_) => 503,
            ApiError::Internal(_) | ApiError::Network(_) => 500,
        }
    }

    pub fn unauthorized() -> Self {
        ApiError::Unauthorized("not logged in, or the session has expired".into())
    }

    /// The person-readable message.
    pub fn message(&self) -> &str {
        match self {
            ApiError::Unauthorized(m)
            | ApiError::Forbidden(m)
            | ApiError::TooManyRequests(m)
            | ApiError::BadRequest(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::Unsupported(m)
            | ApiError::Libvirt(m)
            | ApiError::HostUnavailable(m)
            | ApiError::Internal(m)
            | ApiError::Network(m) => m,
        }
    }

    /// The same kind of error with its message rewritten (to add context).
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> Self {
        match self {
            ApiError::Unauthorized(m) => ApiError::Unauthorized(f(m)),
            ApiError::Forbidden(m) => ApiError::Forbidden(f(m)),
            ApiError::TooManyRequests(m) => ApiError::TooManyRequests(f(m)),
            ApiError::BadRequest(m) => ApiError::BadRequest(f(m)),
            ApiError::NotFound(m) => ApiError::NotFound(f(m)),
            ApiError::Conflict(m) => ApiError::Conflict(f(m)),
            ApiError::Unsupported(m) => ApiError::Unsupported(f(m)),
            ApiError::Libvirt(m) => ApiError::Libvirt(f(m)),
            ApiError::HostUnavailable(m) => ApiError::HostUnavailable(f(m)),
            ApiError::Internal(m) => ApiError::Internal(f(m)),
            ApiError::Network(m) => ApiError::Network(f(m)),
        }
    }

    /// Refused before anything was tried: not logged in, not allowed,
    /// not understood, or throttled.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ApiError::Unauthorized(_)
                | ApiError::Forbidden(_)
                | ApiError::TooManyRequests(_)
                | ApiError::BadRequest(_)
        )
    }

    /// For a 429 whose message says "try again in N s": N.
    pub fn retry_after_secs(&self) -> Option<u64> {
        let ApiError::TooManyRequests(m) = self else {
            return None;
        };
        m.rsplit_once("try again in ")
            .and_then(|(_, rest)| rest.strip_suffix(" s"))
            .and_then(|n| n.parse().ok())
    }

    pub fn internal() -> Self {
        ApiError::Internal("internal error; the details are in the server log".into())
    }
}

/// How the server sends an error outside the server functions (the gate,
/// uploads, sockets, consoles): its status and
/// `{"error": "<kind>", "message": "<text>"}`, as the server functions do.
#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::StatusCode;
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self)).into_response()
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonTextEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let err = match value {
            ServerFnErrorErr::Args(m) => ApiError::BadRequest(format!("invalid request: {m}")),
            ServerFnErrorErr::MissingArg(m) => {
                ApiError::BadRequest(format!("invalid request: missing field {m}"))
            }
            ServerFnErrorErr::Request(m) => {
                ApiError::Network(format!("cannot reach the virtdeck server: {m}"))
            }
            // On the server this is the request body; in the browser, the answer.
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(m) => {
                ApiError::BadRequest(format!("invalid request: {m}"))
            }
            #[cfg(not(feature = "ssr"))]
            ServerFnErrorErr::Deserialization(m) => {
                ApiError::Network(format!("unexpected answer from the server: {m}"))
            }
            _ => ApiError::internal(),
        };
        // Errors raised by the framework on the server (bad arguments) get their status too.
        #[cfg(feature = "ssr")]
        crate::api::ssr::set_status(&err);
        err
    }
}
