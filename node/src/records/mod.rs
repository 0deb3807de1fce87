//! 台账操作 — what every record kind's operations share. The kinds live in their own modules
//! ([`crate::hazards`], [`crate::directives`], [`crate::accidents`], [`crate::enterprises`]), each with
//! `input.rs` (input types and validation), `mod.rs` (the operations the HTTP API, the CLI and the demo
//! call) and `http.rs` (the axum handlers).
//!
//! Each operation validates its input, checks the actor's authority with the same rules the links
//! enforce, writes one Automerge change carrying the person's name, and commits it with its projection in
//! one transaction. Errors are [`RecordError`]s, in the order 400 → 403 → 409.

mod actor;
mod error;
mod page;
mod text;
mod write;

pub use actor::Actor;
pub use error::RecordError;
pub use page::{DEFAULT_LIMIT, MAX_LIMIT, Page, PageQuery, Paging};
pub(crate) use text::{bounded, required};
pub(crate) use write::{commit, store_change};
