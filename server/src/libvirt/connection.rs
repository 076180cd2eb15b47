//! One libvirt connection per host: opened on first use, shared by all callers,
//! reopened after it breaks. A host that failed to connect is not retried for
//! `RETRY_AFTER`, so a dead host answers at once instead of holding pages up.
//! Every libvirt call runs on tokio's blocking pool.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use app::api::ApiError;
use tokio::sync::Mutex;
use virt::connect::Connect;

use super::error::{is_connection_lost, to_api};

const RETRY_AFTER: Duration = Duration::from_secs(5);

enum State {
    Closed,
    Open(Arc<Connect>),
    Failed { at: Instant, error: String },
}

pub struct HostConnection {
    name: String,
    uri: String,
    /// What another host's libvirtd opens to reach this one (peer-to-peer migration).
    migration_uri: String,
    state: Mutex<State>,
}

impl HostConnection {
    pub fn new(name: &str, uri: &str, migration_uri: Option<&str>) -> Self {
        HostConnection {
            name: name.to_string(),
            uri: uri.to_string(),
            migration_uri: migration_uri.unwrap_or(uri).to_string(),
            state: Mutex::new(State::Closed),
        }
    }

    pub fn migration_uri(&self) -> &str {
        &self.migration_uri
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    fn unreachable(&self, error: &str) -> ApiError {
        ApiError::HostUnavailable(format!("host {} is unreachable: {error}", self.name))
    }

    /// The open connection, opening it if needed.
    async fn connection(&self) -> Result<Arc<Connect>, ApiError> {
        let mut state = self.state.lock().await;
        match &*state {
            State::Open(conn) => return Ok(conn.clone()),
            State::Failed { at, error } if at.elapsed() < RETRY_AFTER => {
                return Err(self.unreachable(error))
            }
            _ => {}
        }
        let uri = self.uri.clone();
        let opened = tokio::task::spawn_blocking(move || Connect::open(Some(&uri))).await;
        match opened {
            Ok(Ok(conn)) => {
                let conn = Arc::new(conn);
                *state = State::Open(conn.clone());
                tracing::info!(host = %self.name, uri = %self.uri, "connected");
                Ok(conn)
            }
            Ok(Err(e)) => {
                let error = e.message().trim().to_string();
                tracing::warn!(host = %self.name, uri = %self.uri, "cannot connect: {error}");
                *state = State::Failed {
                    at: Instant::now(),
                    error: error.clone(),
                };
                Err(self.unreachable(&error))
            }
            Err(join) => {
                tracing::error!(host = %self.name, "connect task failed: {join}");
                Err(ApiError::internal())
            }
        }
    }

    /// Runs `f` with the host's connection on the blocking pool. A broken
    /// connection is dropped so that the next call reconnects.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connect) -> Result<T, virt::error::Error> + Send + 'static,
    {
        self.run_mapped(move |conn| f(conn).map_err(Failure::Libvirt))
            .await
    }

    /// Like `run`, for closures that can also fail with an API error of their own.
    pub async fn run_mapped<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connect) -> Result<T, Failure> + Send + 'static,
    {
        let conn = self.connection().await?;
        let span = tracing::Span::current();
        let worker = conn.clone();
        let result = tokio::task::spawn_blocking(move || span.in_scope(|| f(&worker)))
            .await
            .map_err(|join| {
                tracing::error!(host = %self.name, "libvirt task failed: {join}");
                ApiError::internal()
            })?;
        match result {
            Ok(value) => Ok(value),
            Err(Failure::Api(e)) => Err(e),
            Err(Failure::Libvirt(e)) => {
                if is_connection_lost(&e) {
                    tracing::warn!(host = %self.name, "connection lost: {}", e.message());
                    let mut state = self.state.lock().await;
                    if matches!(&*state, State::Open(c) if Arc::ptr_eq(c, &conn)) {
                        *state = State::Closed;
                    }
                }
                Err(to_api(&self.name, &e))
            }
        }
    }
}

impl HostConnection {
    /// Runs `f` on a connection of its own, opened for this call and closed
    /// after it, on the blocking pool: for long calls (volume transfers, wipe,
    /// clone) that would otherwise hold one of the few concurrent calls
    /// libvirtd serves per connection (5 by default) while pages wait.
    /// The test driver keeps its state per connection (a second connection to
    /// the same file sees a fresh copy) and has no such limit: it uses the
    /// shared connection.
    pub async fn run_dedicated<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connect) -> Result<T, Failure> + Send + 'static,
    {
        if self.uri.starts_with("test:") {
            return self.run_mapped(f).await;
        }
        let (name, uri) = (self.name.clone(), self.uri.clone());
        let span = tracing::Span::current();
        let result = tokio::task::spawn_blocking(move || {
            span.in_scope(|| {
                let conn = Connect::open(Some(&uri)).map_err(|e| {
                    Failure::Api(ApiError::HostUnavailable(format!(
                        "host {name} is unreachable: {}",
                        e.message().trim()
                    )))
                })?;
                // Dropped (closed) here, still on the blocking thread.
                f(&conn)
            })
        })
        .await
        .map_err(|join| {
            tracing::error!(host = %self.name, "libvirt task failed: {join}");
            ApiError::internal()
        })?;
        match result {
            Ok(value) => Ok(value),
            Err(Failure::Api(e)) => Err(e),
            Err(Failure::Libvirt(e)) => Err(to_api(&self.name, &e)),
        }
    }
}

/// Why a blocking libvirt closure failed.
pub enum Failure {
    Libvirt(virt::error::Error),
    Api(ApiError),
}

impl From<virt::error::Error> for Failure {
    fn from(e: virt::error::Error) -> Self {
        Failure::Libvirt(e)
    }
}
