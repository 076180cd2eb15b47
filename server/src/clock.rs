//! Times as the API writes them: RFC 3339, UTC.

use std::time::SystemTime;

/// `t` in RFC 3339, UTC.
pub fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Now, in RFC 3339, UTC.
pub fn now() -> String {
    rfc3339(SystemTime::now())
}
