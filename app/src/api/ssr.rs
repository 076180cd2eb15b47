//! Server-side helpers for the server functions: the request context, sessions,
//! and mapping errors to HTTP statuses.

use std::future::Future;

use axum::http::StatusCode;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use tower_sessions::Session;

use super::{auth::SessionUser, ApiError};
use crate::backend::{AuditEntry, Outcome, Services};

/// The session key under which the logged-in user is stored.
pub const USER_KEY: &str = "user";

/// What an authorized server function gets to work with.
pub struct Ctx {
    pub user: SessionUser,
    pub services: Services,
    /// The client's address, for the audit log.
    pub client: Option<String>,
}

impl Ctx {
    /// Writes one audit record for a mutating action and its outcome
    /// (`refused` when it was not allowed or not understood).
    pub async fn audit<T>(&self, action: &str, target: &str, result: &Result<T, ApiError>) {
        let message = result
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default();
        self.services
            .audit
            .write(AuditEntry {
                user: Some(&self.user.username),
                client: self.client.as_deref(),
                action,
                target,
                outcome: Outcome::of(result, &message),
            })
            .await;
    }
}

/// The address of the client of the current request, if known.
pub async fn client_address() -> Option<String> {
    leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .ok()
        .map(|axum::extract::ConnectInfo(addr)| addr.to_string())
}

/// Runs `f` for a logged-in user; refuses with 401 otherwise.
pub async fn authorized<T, F, Fut>(f: F) -> Result<T, ApiError>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    respond(
        async {
            let services = services()?;
            let user = session_user().await?.ok_or_else(ApiError::unauthorized)?;
            let client = client_address().await;
            f(Ctx {
                user,
                services,
                client,
            })
            .await
        }
        .await,
    )
}

/// Sets the HTTP status of an error response; passes the result through.
pub fn respond<T>(result: Result<T, ApiError>) -> Result<T, ApiError> {
    if let Err(e) = &result {
        set_status(e);
    }
    result
}

pub fn set_status(e: &ApiError) {
    if let Some(opts) = use_context::<ResponseOptions>() {
        opts.set_status(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        );
    }
}

pub fn services() -> Result<Services, ApiError> {
    use_context::<Services>().ok_or_else(|| {
        tracing::error!("Services missing from the Leptos context");
        ApiError::internal()
    })
}

async fn session() -> Result<Session, ApiError> {
    leptos_axum::extract::<Session>().await.map_err(|e| {
        tracing::error!("no session layer on this request: {e}");
        ApiError::internal()
    })
}

fn session_error(e: tower_sessions::session::Error) -> ApiError {
    tracing::error!("session store: {e}");
    ApiError::internal()
}

/// The user of the current session, if any.
pub async fn session_user() -> Result<Option<SessionUser>, ApiError> {
    session()
        .await?
        .get::<SessionUser>(USER_KEY)
        .await
        .map_err(session_error)
}

/// Logs `user` in: a new session id (no fixation), then the user.
pub async fn start_session(user: &SessionUser) -> Result<(), ApiError> {
    let session = session().await?;
    session.cycle_id().await.map_err(session_error)?;
    session.insert(USER_KEY, user).await.map_err(session_error)
}

/// Ends the session; returns who was logged in.
pub async fn end_session() -> Result<Option<SessionUser>, ApiError> {
    let session = session().await?;
    let user = session
        .get::<SessionUser>(USER_KEY)
        .await
        .map_err(session_error)?;
    session.flush().await.map_err(session_error)?;
    Ok(user)
}
