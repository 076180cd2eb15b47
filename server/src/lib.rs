//! The virtdeck server process: configuration, the axum router, users and
//! sessions, the WebSocket, and the libvirt backend (`libvirt/`).

// Leptos views nest deeply in their types; the pages need more than 128.
#![recursion_limit = "256"]
// Unsafe code only where allowed by name (libvirt's FFI in `libvirt/sys.rs`),
// and every unsafe block says why it is sound.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod console;
pub mod db;
pub mod demo;
pub mod libvirt;
pub mod memory;
pub mod proxies;
pub mod security;
pub mod services;
pub mod startup;
pub mod static_files;
pub mod throttle;
pub mod transfer;
pub mod ws;

pub use startup::Application;
