//! The replication engine (DESIGN §5), sans-IO: a collection-level protocol over one bidirectional
//! stream per link, on top of per-document Automerge changes. Everything here takes data in and
//! returns data out — no store, no tokio, no clock; the runner (`safemesh-link`) reads and writes
//! the store, owns the transport and feeds the results back in.
//!
//! - [`frame`]: what crosses a link (hello, batches, acks, snapshot requests, typed errors).
//! - [`link`]: the link state machine. It takes events (connected, frame received, batch prepared,
//!   batch applied, local commit) and returns effects as data (send this frame, prepare a batch
//!   after this seq, apply this batch, persist this ack).
//! - [`batch`]: the sender's decisions — a [`batch::Plan`] takes a page of rows and asks the runner for
//!   the documents it needs ([`batch::Step`]): which rows go and in what order, a document whole or as
//!   a delta, where the byte budget cuts, how far the batch moves the peer's cursor, when what is
//!   left is counted again.
//! - [`check`]: the receiver's decisions — a received item's Automerge bytes decoded and checked
//!   against the stored document, panics caught; the [`check::Verdict`] on each document (store it,
//!   already held, history missing, refuse the batch) and the error frame that refuses one.
//! - [`digest`]: bucketed digests of what both ends of a link hold, to repair a new or restored peer.
//! - [`docsync`]: the per-document fallback to Automerge's sync protocol, with a kept state.
//! - [`inflate`]: what received Automerge bytes inflate to, bounded before Automerge loads them.
//! - [`blob`]: 佐证材料 on the link — which evidence files are asked for, in what chunks, what is
//!   refused, within which bounds (pulled by the side that lacks them, behind the documents).
//! - [`summary`]: what a received summary may claim, and the version it is stored under.
#![forbid(unsafe_code)]

pub mod batch;
pub mod blob;
pub mod check;
pub mod digest;
pub mod docsync;
pub mod frame;
pub mod inflate;
pub mod link;
pub mod summary;

pub use digest::Digest;
pub use frame::{
    DigestReply, ErrorCode, ErrorFrame, Frame, Hello, Item, PROTOCOL_VERSION, SyncMessage,
};
pub use link::{
    DocSyncStep, Effect, Link, MAX_CRL_BYTES, MAX_QUARANTINED, QUARANTINE_RETRY_SECS,
    RULE_CRL_FROM_PARENT, RULE_FRAME_DECODES, Received, RecvLimits, Role, State, Synced, Violation,
};
