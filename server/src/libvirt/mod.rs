//! The libvirt layer: libvirt and its XML, nothing else. It depends on `virt`
//! (and the XML crates), never on the web application's crate, its HTTP or
//! UI framework, sessions or the server's configuration; it has its own error (`error::Error`) and its own
//! plain data types, so it could be lifted into a crate of its own. The
//! services (`crate::services`) turn both into the API's terms. By libvirt
//! object:
//! - `connection`: `HostConnection`, one per host, kept up by a supervisor
//!   task off the request path (keepalive, close and event callbacks,
//!   reconnects with back-off); what it reads goes to the host's
//!   `HostWatcher`. Every blocking call runs on tokio's blocking pool
//!   (`run`, `run_mapped`), long ones on a connection of their own
//!   (`run_dedicated`);
//! - `host`: host facts (versions, CPU, memory);
//! - `domain`: guests (list, run state, lifecycle actions, the disks they use);
//! - `guest/`: what a host offers a new guest and creating one, the overview
//!   and usage, edits, delete; `snapshot`: snapshots; `clone`: a checked plan,
//!   the copies, the new definition;
//! - `storage_pool`, `storage_volume`: pools and volumes, streamed transfers;
//! - `migration`: flags, the peer-to-peer migrate call, job statistics,
//!   abort and tuning; `preflight`: the facts both hosts give for the checks;
//! - `stats`: load figures (guests' CPU time and memory, the host's CPU
//!   times) in one call per host, for the balance advisor;
//! - `console`: the serial console stream and the VNC display's address;
//! - `xml/`: libvirt's XML documents, built and parsed per object;
//! - `sys`: every use of `virt::sys` — the calls `virt` does not wrap, the
//!   event loop, and the flag constants the layer uses;
//! - `error`: the layer's error, kept close to libvirt's message.

pub mod clone;
pub mod connection;
pub mod console;
pub use connection::uri_host;
pub mod domain;
pub mod error;
pub mod guest;
pub mod host;
pub mod image;
pub mod migration;
pub mod pool_users;
pub mod preflight;
pub mod snapshot;
pub mod stats;
pub mod storage_pool;
pub mod storage_volume;
// libvirt's C API where `virt` does not wrap it: the crate's only unsafe code.
#[allow(unsafe_code)]
pub mod sys;
pub mod xml;

pub use connection::HostConnection;
pub use error::Error;
/// A libvirt connection, as the closures given to `HostConnection::run…` see it.
pub use virt::connect::Connect;

/// Prepares libvirt for this process, once, before the first connection:
/// libvirt's default event loop (callbacks and keepalive need it) and no
/// printing of every error to stderr (errors are reported by the caller,
/// with the host they concern).
pub fn init() {
    virt::error::clear_error_callback();
    sys::start_event_loop();
}
