//! The replication engine (DESIGN §5): a collection-level protocol over one bidirectional stream per
//! link, on top of per-document Automerge changes.
//!
//! - [`frame`]: what crosses a link (hello, batches, acks, snapshot requests, typed errors).
//! - [`digest`]: bucketed digests of what both ends of a link hold, to repair a new or restored peer.
//! - [`docsync`]: the per-document fallback to Automerge's sync protocol, with a kept state.
//! - [`link`]: the sans-IO link state machine. It takes events (connected, frame received, batch
//!   prepared, batch applied, local commit) and returns effects as data (send this frame, prepare a batch
//!   after this seq, apply this batch, persist this ack). No I/O, no clocks, no tokio.
//! - [`driver`]: the async adapter that executes those effects against the [`safemesh_store::Store`]
//!   and a [`driver::Transport`] (gRPC in the gateway, channels in tests).
//! - [`status`]: what each link looks like to operators.
#![forbid(unsafe_code)]

pub mod digest;
pub mod docsync;
pub mod driver;
pub mod frame;
pub mod link;
mod repair;
pub mod status;

pub use digest::Digest;
pub use driver::{LinkConfig, RateLimit, Transport, run_link};
pub use frame::{
    DigestReply, ErrorCode, ErrorFrame, Frame, Hello, Item, PROTOCOL_VERSION, SyncMessage,
};
pub use link::{
    DocSyncStep, Effect, Link, RULE_FRAME_DECODES, RecvLimits, Role, State, Synced, Violation,
};
pub use status::{LinkStatus, Registry};
