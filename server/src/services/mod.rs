//! The app's ports implemented, one module per area. Each turns the libvirt
//! layer's plain types and errors into the API's wire types and `ApiError`s,
//! records what changed in the host caches and publishes events:
//! - `registry`: the configured hosts and what every action shares (find the
//!   host, bound the call, announce the change);
//! - `fleet`: `LibvirtFleet`, the `Fleet` port (hosts, guests, lifecycle);
//! - `jobs`: the registry every kind of job shares (running ones in memory,
//!   all in the database, snapshots published, recovery at start, cancel);
//! - `guests`: `LibvirtGuests`, the `Guests` port (create, detail, edit,
//!   snapshots, delete) and the clone jobs;
//! - `storage`: `LibvirtStorage`, the `Storage` port (pools, volumes, transfers);
//! - `migration`: the `Migrations` port: jobs, pre-flight policy, history.

pub mod balance;
pub mod cache;
pub mod consoles;
pub mod convert;
mod error;
pub mod fleet;
pub mod guests;
pub mod host;
pub mod jobs;
pub mod maintenance;
pub mod migration;
pub mod notify;
pub mod placement;
pub mod registry;
pub mod roots;
pub mod sharing;
pub mod storage;
pub mod transfers;

pub use consoles::LibvirtConsoles;
pub use fleet::LibvirtFleet;
pub use guests::LibvirtGuests;
pub use host::Host;
pub use registry::HostRegistry;
pub use storage::LibvirtStorage;
