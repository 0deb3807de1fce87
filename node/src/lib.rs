//! The safemesh node: configuration, wiring, the HTTP API, record operations, roll-ups, the CLI and
//! the demo. `main.rs` only parses arguments and calls [`cli::main`].
#![forbid(unsafe_code)]

pub mod accidents;
pub mod api;
pub mod board;
pub mod cli;
pub mod config;
pub mod demo;
pub mod directive_api;
mod directive_input;
pub mod directives;
pub mod enterprises;
mod error;
pub mod hazards;
pub mod init;
pub mod node;
pub mod records;
pub mod rollup;
pub mod ui;

pub use config::Config;
pub use error::Error;
pub use node::{NodeHandle, start};
