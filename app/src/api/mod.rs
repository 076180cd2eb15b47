//! The HTTP API: wire types shared with the browser and scripts, and the server
//! functions that serve them under `/api/…` (see README, "HTTP API").
//!
//! Server functions stay thin: authorize, call the backend from `Services`,
//! write the audit log for mutations, map errors.

pub mod access;
pub mod audit;
pub mod auth;
pub mod balance;
mod codec;
mod error;
pub mod events;
pub mod guest_detail;
pub mod guest_new;
pub mod guests;
pub mod hosts;
pub mod maintenance;
pub mod migrations;
pub mod notifications;
pub mod pools;
pub mod size;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod users;
pub mod validate;
pub mod volumes;

pub use codec::JsonText;
pub use error::ApiError;
use serde::Deserialize;

/// Deserializes an optional count that a query string gives as text
/// (`?limit=100`; a flattened query struct loses the number type) or JSON
/// as a number. Text that is not a whole non-negative number is an error
/// naming it.
pub fn opt_count<'de, D>(d: D) -> Result<Option<usize>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Count {
        Number(usize),
        Text(String),
    }
    match Option::<Count>::deserialize(d)? {
        None => Ok(None),
        Some(Count::Number(n)) => Ok(Some(n)),
        Some(Count::Text(t)) if t.is_empty() => Ok(None),
        Some(Count::Text(t)) => t.parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!(
                "\"{}\" is not a count (a whole number, 0 or more)",
                clip(&t)
            ))
        }),
    }
}

/// Shortens user-supplied text before it is echoed in a message or a log line.
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
