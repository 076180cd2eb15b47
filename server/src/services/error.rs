//! The libvirt layer's errors as the API's: the same kinds, the same messages.

use app::api::ApiError;

use crate::libvirt::Error;

/// While the libvirt layer still takes the API's validated names (`StorageName`),
/// their refusals pass through it.
impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::BadRequest(m) => Error::Invalid(m),
            ApiError::NotFound(m) => Error::NotFound(m),
            ApiError::Conflict(m) => Error::Conflict(m),
            ApiError::Unsupported(m) => Error::Unsupported(m),
            ApiError::HostUnavailable(m) => Error::Unreachable(m),
            ApiError::Libvirt(m) => Error::Libvirt(m),
            other => {
                tracing::error!("unexpected error in the libvirt layer: {other}");
                Error::Internal
            }
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(m) => ApiError::BadRequest(m),
            Error::NotFound(m) => ApiError::NotFound(m),
            Error::Conflict(m) => ApiError::Conflict(m),
            Error::Unsupported(m) => ApiError::Unsupported(m),
            Error::Unreachable(m) => ApiError::HostUnavailable(m),
            Error::Libvirt(m) => ApiError::Libvirt(m),
            Error::Internal => ApiError::internal(),
        }
    }
}
