//! Messages on the `/ws` WebSocket. One socket carries every kind, tagged by
//! `type`. Each message is a full snapshot of the object it names (or says
//! "re-read this"), so a page that missed one is right again with the next.

use serde::{Deserialize, Serialize};

use super::{
    guest_detail::GuestJob, guests::GuestSummary, hosts::HostSummary, migrations::ProgressMessage,
    pools::PoolSummary,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    /// First message on a new socket. A page that receives it again after its
    /// socket reconnected reads what it shows again (it may have missed events).
    Hello { user: String },
    /// A host's connection state or facts changed.
    HostChanged { host: Box<HostSummary> },
    /// A guest changed (through virtdeck or outside it); pages update its row.
    GuestChanged { guest: GuestSummary },
    /// A guest is no longer defined on a host (moved away for good, or gone).
    GuestRemoved { host: String, uuid: String },
    /// A migration job's whole state: sent at least twice a second while it
    /// runs, and once more when it ends (`status` other than `running`).
    MigrationProgress(Box<ProgressMessage>),
    /// A pool was created or changed (state, autostart, sizes).
    PoolChanged { pool: Box<PoolSummary> },
    /// A pool was deleted (undefined) or vanished.
    PoolRemoved { host: String, name: String },
    /// A pool's volumes changed: pages showing them re-read the list.
    VolumesChanged { host: String, pool: String },
    /// A guest job's (clone) whole state: while it runs, and when it ends.
    GuestJob(Box<GuestJob>),
}

/// The close code of a `/ws` socket whose session has ended (logout, expiry,
/// a disabled user): the page goes back to the login page.
pub const SESSION_ENDED: u16 = 4001;
