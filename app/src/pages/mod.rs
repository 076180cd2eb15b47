//! One module per page; each page reads the API through its server functions.

pub mod account;
pub mod audit;
pub mod balance;
pub mod console;
pub mod evacuation;
pub mod guest;
pub mod guest_new;
pub mod guests;
pub mod hosts;
pub mod layout;
pub mod login;
pub mod migrations;
pub mod not_found;
pub mod routes;
pub mod storage;
pub mod users;
