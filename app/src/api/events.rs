//! Messages on the `/ws` WebSocket. One socket carries every kind, tagged by `type`;
//! later kinds (migration progress, host state) are added as variants.

use serde::{Deserialize, Serialize};

use super::guests::GuestSummary;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    /// First message on a new socket.
    Hello { user: String },
    /// A guest changed through virtdeck; clients update the row in place.
    GuestChanged { guest: GuestSummary },
}
