//! depot: a self-hostable store for snaps and charms.
//!
//! The crate is a library first: `main.rs` only parses the command line and calls into
//! [`cli::run`]. The server is built from [`http::build_router`] over an [`http::AppState`].

pub mod assertions;
pub mod auth;
pub mod blobs;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod domain;
pub mod downloads;
pub mod http;
pub mod inspect;
pub mod related;
pub mod search;
pub mod store;
pub mod telemetry;
