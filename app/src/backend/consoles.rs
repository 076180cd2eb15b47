//! A guest's consoles: its serial console as bytes both ways, and its
//! graphical display as a connection that is ready for a VNC client. The
//! server's console sockets (`/ws/console/…`) bridge these to the browser;
//! who may open them and the audit record are theirs.

use async_trait::async_trait;
use axum::body::Bytes;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::mpsc,
};

use crate::api::{guests::GuestSummary, ApiError};

/// The close code of a serial console another session holds (or took over).
pub const BUSY: u16 = 4409;
/// The reason a serial console is refused without `force`.
pub const BUSY_REASON: &str =
    "another session has this console open; reconnect with force to take it over";
/// The reason a session ends when another one forced it out.
pub const TAKEN_OVER: &str = "another session took over this console";

/// What the guest's serial console sends.
#[derive(Debug)]
pub enum SerialOut {
    Data(Bytes),
    /// The end: the socket closes with this code and reason.
    End(u16, String),
}

/// An open serial console. Dropping `to_guest` ends the session.
pub struct SerialSession {
    pub to_guest: mpsc::Sender<Bytes>,
    pub from_guest: mpsc::Receiver<SerialOut>,
}

/// Why a serial console was not opened.
#[derive(Debug)]
pub enum SerialRefusal {
    /// Another session holds it (open again with `force` to take it over).
    Busy,
    Failed(ApiError),
}

/// Both ways of a connection.
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

/// A guest's display, past its own handshake and authentication: the next
/// bytes are the client's `ClientInit` (RFB 3.7 or 3.8).
pub type Display = Box<dyn Duplex>;

#[async_trait]
pub trait Consoles: Send + Sync + 'static {
    /// Guest `uuid` of `host`, if it runs (not found, or a conflict saying
    /// it is not running).
    async fn running_guest(&self, host: &str, uuid: &str) -> Result<GuestSummary, ApiError>;
    /// Opens the guest's first serial port; one session per console, `force`
    /// takes it over (the other session ends with `BUSY`, `TAKEN_OVER`).
    async fn open_serial(
        &self,
        guest: &GuestSummary,
        force: bool,
    ) -> Result<SerialSession, SerialRefusal>;
    /// Connects to the guest's VNC display and authenticates to it: its
    /// password never leaves the server.
    async fn open_display(&self, guest: &GuestSummary) -> Result<Display, ApiError>;
}
