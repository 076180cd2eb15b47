//! `LibvirtConsoles`: the `Consoles` port. The serial console runs on a
//! thread with a libvirt connection of its own (`serial.rs`); the display is
//! read from the guest's live definition with its secrets and connected to
//! through the RFB handshake (`display.rs`).

mod display;
mod serial;

use std::sync::Arc;

use app::{
    api::{
        guests::{GuestState, GuestSummary},
        ApiError,
    },
    backend::consoles::{Consoles, Display, SerialRefusal, SerialSession},
};
use async_trait::async_trait;

use super::HostRegistry;

pub use display::vnc_auth_response;

pub struct LibvirtConsoles {
    hosts: Arc<HostRegistry>,
}

impl LibvirtConsoles {
    pub fn new(hosts: Arc<HostRegistry>) -> Self {
        LibvirtConsoles { hosts }
    }
}

#[async_trait]
impl Consoles for LibvirtConsoles {
    async fn running_guest(&self, host: &str, uuid: &str) -> Result<GuestSummary, ApiError> {
        let h = self.hosts.get(host)?;
        let guest = h.find_guest(uuid).await?.ok_or_else(|| {
            ApiError::NotFound(format!("host {} has no guest with UUID {uuid}", h.name()))
        })?;
        let stopped = match guest.state {
            GuestState::Shutoff => "shut off",
            GuestState::Crashed => "crashed",
            GuestState::Nostate => "no state",
            _ => return Ok(guest),
        };
        Err(ApiError::Conflict(format!(
            "guest {} is not running ({stopped}); start it to use its console",
            guest.name
        )))
    }

    async fn open_serial(
        &self,
        guest: &GuestSummary,
        force: bool,
    ) -> Result<SerialSession, SerialRefusal> {
        let host = self.hosts.get(&guest.host).map_err(SerialRefusal::Failed)?;
        serial::open(host, &guest.uuid, force).await
    }

    async fn open_display(&self, guest: &GuestSummary) -> Result<Display, ApiError> {
        let host = self.hosts.get(&guest.host)?;
        Ok(Box::new(display::connect(&host, guest).await?))
    }
}
