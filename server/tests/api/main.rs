//! The server's integration tests, one binary by area (one link instead of one
//! per file). Fast tests use libvirt's test driver (fixture copies per test, no
//! daemon); `lab_storage` uses the two real libvirt hosts of `scripts/lab`.

mod accounts;
mod backend;
mod balance;
mod guests;
mod helpers;
#[path = "../common/hook.rs"]
mod hook;
mod http;
mod jobs;
mod lab;
mod lab_console;
mod lab_guests;
mod lab_migration;
mod lab_shared_storage;
mod lab_storage;
mod maintenance;
mod roles;
mod security;
mod shared_storage;
mod storage;
mod takeover;
