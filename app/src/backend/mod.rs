//! The ports the server functions call (server build only), one file per
//! area. `server/` implements them: libvirt for `Fleet`, `Guests`, `Storage`,
//! `Migrations`, `Maintenance`, `Balance` and `Consoles`, SQLite for `Accounts` and `Audit`. Tests and other
//! backends can provide their own.

use std::sync::Arc;

mod accounts;
mod audit;
mod balance;
pub mod consoles;
mod guests;
mod maintenance;
mod migrations;
mod notifications;
mod storage;

pub use accounts::Accounts;
pub use audit::{Audit, AuditEntry, Outcome};
pub use balance::Balance;
pub use consoles::Consoles;
pub use guests::{Fleet, Guests};
pub use maintenance::Maintenance;
pub use migrations::Migrations;
pub use notifications::Notifications;
pub use storage::{ByteStream, Download, Storage, Transfer};

/// Everything the server functions need, provided as Leptos context.
#[derive(Clone)]
pub struct Services {
    pub fleet: Arc<dyn Fleet>,
    pub guests: Arc<dyn Guests>,
    pub storage: Arc<dyn Storage>,
    pub migrations: Arc<dyn Migrations>,
    pub maintenance: Arc<dyn Maintenance>,
    pub balance: Arc<dyn Balance>,
    pub notifications: Arc<dyn Notifications>,
    pub consoles: Arc<dyn Consoles>,
    pub accounts: Arc<dyn Accounts>,
    pub audit: Arc<dyn Audit>,
}
