//! Storage pools: `GET /api/pools`, `GET /api/pools/types`, `POST /api/pools`,
//! `POST /api/pools/scan`, `POST /api/pools/action`.
//!
//! - `catalogue`: the pool types, their fields and what each can do (one table,
//!   `PoolType::fields`, `PoolType::build`, …), shared by the server
//!   (validation), the API (`/api/pools/types`) and the create form;
//! - `summary`: pools as listed, their actions, the grouping across hosts;
//! - `requests`: `POST /api/pools` and `/scan` bodies and their checks;
//! - `server_fns`: the endpoints.

mod catalogue;
mod requests;
mod server_fns;
mod summary;

pub use super::validate::{validate_iqn, validate_path};
pub use catalogue::*;
pub use requests::*;
pub use server_fns::*;
pub use summary::*;
