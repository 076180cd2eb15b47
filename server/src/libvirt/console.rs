//! A guest's consoles, the libvirt half: the serial console as a
//! non-blocking stream (`virDomainOpenConsole`), and the graphical display's
//! address and password from the live definition read with its secrets.
//! Both run on a connection the caller got from `HostConnection`
//! (`run_dedicated` for a console that stays open for hours).

use std::time::Duration;

use virt::{connect::Connect, domain::Domain, stream::Stream};

use super::{
    error::Error,
    sys,
    xml::display::{display_of, Display},
};

/// Why a serial console could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Another session holds the console (and this one did not force).
    Busy,
    Failed(Error),
}

/// An open serial console; the stream is non-blocking and polled.
pub struct SerialConsole {
    // Dropped before the domain (fields drop in order).
    stream: Stream,
    dom: Domain,
}

/// What one poll of the console found.
pub enum Received {
    /// Bytes from the guest, in the caller's buffer.
    Data(usize),
    /// Nothing yet.
    Nothing,
    /// The stream ended.
    End,
}

impl SerialConsole {
    /// Opens guest `uuid`'s serial console on `conn` (blocking). `force`
    /// takes it over from another session.
    pub fn open(host: &str, conn: &Connect, uuid: &str, force: bool) -> Result<Self, OpenError> {
        let failed = |e: virt::error::Error| {
            OpenError::Failed(Error::Libvirt(format!(
                "host {host}: cannot open the console: {}",
                e.message().trim()
            )))
        };
        let dom = conn.lookup_domain_by_uuid_string(uuid).map_err(|e| {
            OpenError::Failed(Error::NotFound(format!(
                "host {host}: {}",
                e.message().trim()
            )))
        })?;
        let stream = Stream::new(conn, sys::VIR_STREAM_NONBLOCK).map_err(failed)?;
        let mut flags = sys::VIR_DOMAIN_CONSOLE_SAFE;
        if force {
            flags |= sys::VIR_DOMAIN_CONSOLE_FORCE;
        }
        if let Err(e) = dom.open_console(None, &stream, flags) {
            // libvirt: "Active console session exists for this domain".
            if e.message().contains("console session exists") {
                return Err(OpenError::Busy);
            }
            return Err(failed(e));
        }
        Ok(SerialConsole { stream, dom })
    }

    /// Takes what the guest wrote, if anything (libvirt's message on failure).
    pub fn recv(&self, buf: &mut [u8]) -> Result<Received, String> {
        match self.stream.recv(buf) {
            Ok(0) => Ok(Received::End),
            Ok(n) if n > 0 => Ok(Received::Data(n as usize)),
            // -2: nothing yet.
            Ok(_) => Ok(Received::Nothing),
            Err(e) => Err(e.message().trim().to_string()),
        }
    }

    /// Writes all of `data` (waiting up to 10 s for a guest that does not read).
    pub fn send_all(&self, mut data: &[u8]) -> Result<(), String> {
        let mut waited = Duration::ZERO;
        while !data.is_empty() {
            match self.stream.send(data) {
                Ok(n) if n > 0 => data = &data[n as usize..],
                // -2: the stream's queue is full for now.
                Ok(_) if waited < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(5));
                    waited += Duration::from_millis(5);
                }
                Ok(_) => return Err("the guest does not read its console".into()),
                Err(e) => return Err(e.message().trim().to_string()),
            }
        }
        Ok(())
    }

    /// Whether the guest still runs (a console ends when QEMU exits).
    pub fn guest_is_active(&self) -> bool {
        self.dom.is_active().unwrap_or(false)
    }

    /// Ends the session.
    pub fn abort(self) {
        let _ = self.stream.abort();
    }
}

/// Guest `uuid`'s VNC display: the live definition read with its secrets.
/// `fallback` is the address to dial when the display listens on every
/// address (the host's). `Ok(Err(why))`: the display cannot be used.
pub fn vnc_display(
    conn: &Connect,
    uuid: &str,
    fallback: &str,
) -> Result<Result<Option<Display>, String>, virt::error::Error> {
    let dom = conn.lookup_domain_by_uuid_string(uuid)?;
    let xml = dom.xml_desc(sys::VIR_DOMAIN_XML_SECURE)?;
    Ok(display_of(&xml, fallback))
}
