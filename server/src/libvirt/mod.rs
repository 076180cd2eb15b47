//! The libvirt backend, laid out by libvirt object:
//! - `connection`: one connection per host, opened lazily, reopened after failure,
//!   every blocking call on tokio's blocking pool; dedicated connections for long calls;
//! - `registry`: the configured hosts and what every action shares (find the host,
//!   bound the call, announce the change);
//! - `host`: host facts (versions, CPU, memory);
//! - `domain`: guests (list, summary, lifecycle actions, the disks they use);
//! - `guest`: what a host offers a new guest, creating one, its overview,
//!   usage, edits and delete; `snapshot`: its snapshots; `clone`: copies;
//!   `guests::LibvirtGuests` implements the `Guests` port over them;
//! - `storage_pool`, `storage_volume`: pools and volumes, including streamed transfers;
//! - `migration`: flags, the peer-to-peer migrate call, job statistics, abort and tuning;
//! - `preflight`: facts of both hosts and the checks made from them;
//! - `xml`: libvirt's XML documents, built and parsed per object;
//! - `sys`: the few calls `virt` does not wrap;
//! - `error`: libvirt errors mapped to the API's errors.
//!
//! `LibvirtFleet` implements the app's `Fleet` port (hosts and guests),
//! `storage::LibvirtStorage` its `Storage` port.

pub mod clone;
pub mod connection;
pub mod console;
pub use connection::{rfc3339, uri_host};
pub mod domain;
pub mod error;
pub mod guest;
pub mod host;
pub mod migration;
pub mod preflight;
pub mod snapshot;
pub mod storage_pool;
pub mod storage_volume;
// libvirt's C API where `virt` does not wrap it: the crate's only unsafe code.
#[allow(unsafe_code)]
pub mod sys;
pub mod xml;

pub use connection::HostConnection;
pub use domain::find as domain_find;
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
