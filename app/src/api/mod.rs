//! The HTTP API: wire types shared with the browser and scripts, and the server
//! functions that serve them under `/api/…` (see README, "HTTP API").
//!
//! Server functions stay thin: authorize, call the backend from `Services`,
//! write the audit log for mutations, map errors.

pub mod auth;
mod error;
pub mod events;
pub mod guests;
pub mod hosts;
pub mod migrations;
pub mod pools;
pub mod size;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod volumes;

pub use error::ApiError;

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
