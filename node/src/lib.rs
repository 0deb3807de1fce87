//! The safemesh node: configuration, wiring, the HTTP API, record operations, roll-ups, the CLI and
//! the demo. `main.rs` only parses arguments and calls [`cli::main`].
//!
//! Every record kind has one folder: `mod.rs` (its operations, which the API, the CLI and the demo
//! call), `input.rs` (input types and validation) and `http.rs` (its axum handlers), plus what only that
//! kind has (the hazards' settings, the directives' battle map); its `http.rs` exposes its part of the
//! API (`API`: its routes and their OpenAPI paths). What the kinds' operations share is in
//! [`records`]; what every handler shares (state, authentication, extractors, the error body, the
//! route table's entries) in [`http`]; [`api`] lists the parts (one line each) and builds the router;
//! [`openapi`] the OpenAPI document from the same list.
#![forbid(unsafe_code)]

pub mod accidents;
pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod directives;
pub mod enterprises;
mod error;
pub mod evidence;
pub mod excel;
pub mod format;
pub mod hazards;
pub mod http;
pub mod init;
pub mod metrics;
pub mod node;
pub mod openapi;
pub mod records;
pub mod reports;
pub mod rollup;
pub mod signal;
pub mod telemetry;
pub mod tokens;
pub mod ui;

pub use config::Config;
pub use error::Error;
pub use node::{NodeHandle, start};
