//! The libvirt layer's own error. Libvirt's message is kept (it names the
//! problem: "domain is already running", "unable to connect to server"), its
//! internal codes are not. The services turn it into the API's error; this
//! layer knows nothing of HTTP.

use virt::error::{Error as VirtError, ErrorDomain, ErrorNumber};

/// What went wrong, by kind, with a message for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request itself is wrong (a bad value, a name libvirt cannot take).
    #[error("{0}")]
    Invalid(String),
    /// The host, guest, pool or volume does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The object is not in a state that allows this.
    #[error("{0}")]
    Conflict(String),
    /// The host's driver cannot do this.
    #[error("{0}")]
    Unsupported(String),
    /// The host cannot be reached right now.
    #[error("{0}")]
    Unreachable(String),
    /// Libvirt refused or failed; the message is libvirt's, with the host.
    #[error("{0}")]
    Libvirt(String),
    /// A failure inside this process (logged where it happened).
    #[error("internal error; the details are in the server log")]
    Internal,
}

impl Error {
    /// The person-readable message.
    pub fn message(&self) -> &str {
        match self {
            Error::Invalid(m)
            | Error::NotFound(m)
            | Error::Conflict(m)
            | Error::Unsupported(m)
            | Error::Unreachable(m)
            | Error::Libvirt(m) => m,
            Error::Internal => "internal error; the details are in the server log",
        }
    }

    /// The same kind of error with its message rewritten (to add context).
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> Self {
        match self {
            Error::Invalid(m) => Error::Invalid(f(m)),
            Error::NotFound(m) => Error::NotFound(f(m)),
            Error::Conflict(m) => Error::Conflict(f(m)),
            Error::Unsupported(m) => Error::Unsupported(f(m)),
            Error::Unreachable(m) => Error::Unreachable(f(m)),
            Error::Libvirt(m) => Error::Libvirt(f(m)),
            Error::Internal => Error::Internal,
        }
    }
}

/// Does this error mean the connection itself is broken (so it must be reopened)?
pub fn is_connection_lost(e: &VirtError) -> bool {
    matches!(
        e.code().is_known().then(|| e.code()),
        Some(code) if matches!(code.unwrap(), ErrorNumber::SystemError | ErrorNumber::Rpc | ErrorNumber::NoConnect | ErrorNumber::InvalidConn)
    ) || matches!(e.domain().is_known().then(|| e.domain()), Some(d) if matches!(d.unwrap(), ErrorDomain::Rpc))
}

/// Maps a failed libvirt call on `host` to this layer's error.
pub fn from_virt(host: &str, e: &VirtError) -> Error {
    let message = e.message().trim().to_string();
    let code = if e.code().is_known() {
        Some(e.code().unwrap())
    } else {
        None
    };
    match code {
        Some(ErrorNumber::NoDomain | ErrorNumber::NoStoragePool | ErrorNumber::NoStorageVolume) => {
            Error::NotFound(format!("host {host}: {message}"))
        }
        Some(ErrorNumber::OperationInvalid | ErrorNumber::StorageVolExist) => {
            Error::Conflict(format!("host {host}: {message}"))
        }
        Some(
            ErrorNumber::NoSupport
            | ErrorNumber::OperationUnsupported
            | ErrorNumber::ArgumentUnsupported,
        ) => Error::Unsupported(format!("host {host}: {message}")),
        _ if is_connection_lost(e) => {
            Error::Unreachable(format!("host {host} is unreachable: {message}"))
        }
        _ => Error::Libvirt(format!("host {host}: {message}")),
    }
}

/// At most 80 characters of `s` (a name quoted back in a message).
pub fn clip(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}
