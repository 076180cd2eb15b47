//! Libvirt's errors as the API's errors. Libvirt's own message is kept (it names
//! the problem: "domain is already running", "unable to connect to server"),
//! its internal codes are not.

use app::api::ApiError;
use virt::error::{Error, ErrorDomain, ErrorNumber};

/// Does this error mean the connection itself is broken (so it must be reopened)?
pub fn is_connection_lost(e: &Error) -> bool {
    matches!(
        e.code().is_known().then(|| e.code()),
        Some(code) if matches!(code.unwrap(), ErrorNumber::SystemError | ErrorNumber::Rpc | ErrorNumber::NoConnect | ErrorNumber::InvalidConn)
    ) || matches!(e.domain().is_known().then(|| e.domain()), Some(d) if matches!(d.unwrap(), ErrorDomain::Rpc))
}

/// Maps a failed libvirt call on `host` to an API error.
pub fn to_api(host: &str, e: &Error) -> ApiError {
    let message = e.message().trim().to_string();
    let code = if e.code().is_known() {
        Some(e.code().unwrap())
    } else {
        None
    };
    match code {
        Some(ErrorNumber::NoDomain | ErrorNumber::NoStoragePool | ErrorNumber::NoStorageVolume) => {
            ApiError::NotFound(format!("host {host}: {message}"))
        }
        Some(ErrorNumber::OperationInvalid | ErrorNumber::StorageVolExist) => {
            ApiError::Conflict(format!("host {host}: {message}"))
        }
        Some(
            ErrorNumber::NoSupport
            | ErrorNumber::OperationUnsupported
            | ErrorNumber::ArgumentUnsupported,
        ) => ApiError::Unsupported(format!("host {host}: {message}")),
        _ if is_connection_lost(e) => {
            ApiError::HostUnavailable(format!("host {host} is unreachable: {message}"))
        }
        _ => ApiError::Libvirt(format!("host {host}: {message}")),
    }
}
