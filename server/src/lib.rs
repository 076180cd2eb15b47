//! The virtdeck server process: configuration, the axum router, users and
//! sessions, the WebSocket, and the libvirt backend (`libvirt/`).

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod config;
pub mod db;
pub mod demo;
pub mod libvirt;
pub mod startup;
pub mod ws;

pub use startup::Application;
