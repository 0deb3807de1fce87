//! The link runner: carries out the effects of the sans-IO link machine ([`safemesh_sync::Link`])
//! against the node's [`safemesh_store::Store`] and a [`Transport`] (gRPC in the gateway, channels in
//! tests), and feeds the results back in. One call of [`run_link`] serves one stream: it reads frames
//! under the link's [`RateLimit`], builds the batches the machine asks for, checks received documents
//! off the reactor on a bounded CPU pool (one Automerge job per core, whatever the number of links),
//! writes each batch in one transaction, and keeps the [`Registry`] operators read. The protocol's
//! decisions — what a batch holds, what a received batch comes to — are the sync crate's; this crate
//! only loads, stores, sends and waits.
//!
//! - [`config`]: identity, store and bounds of a node's links.
//! - [`run`]: the run loop of one stream, and the store bookkeeping of its effects.
//! - `prepare`, `apply`, `doc_sync`, `repair`: the store side of sending a batch, applying one,
//!   a document's sync exchange, and digest repair.
//! - `blobs`: the store side of 佐证材料 on a stream (what to ask for, what a want may get, chunks
//!   read and stored).
//! - `pool`: the CPU pool for checks.
//! - [`quota`]: per-child quotas — documents and bytes a child's subtree holds here, summary size
//!   and versions per window.
//! - [`crl`]: the revocation list a parent offers its children, and the link state revocation voids.
//! - [`hook`]: the seam a deterministic harness observes a runner and sets its clock through.
//! - [`status`]: what each link looks like to operators.
//! - [`trace`]: how a change's trace context crosses a hop.
#![forbid(unsafe_code)]

mod apply;
mod blobs;
pub mod config;
pub mod crl;
mod doc_sync;
pub mod hook;
mod limiter;
mod pool;
mod prepare;
pub mod quota;
mod repair;
pub mod run;
pub mod status;
pub mod trace;

pub use config::{LinkConfig, RateLimit};
pub use crl::{CrlSource, SharedCrl, void_revoked};
pub use hook::Hook;
pub use quota::Quotas;
pub use run::{Transport, run_link};
pub use status::{BASE_REJECTION_REASONS, LINK_STATES, LinkStatus, Registry};
