//! Batch building, the sender's decisions (DESIGN §5.4): which rows after the peer's cursor go in a
//! batch and in what order, what each document goes as — whole, or the changes since the heads the
//! peer is known to hold — when the byte budget is full, how far the batch moves the peer's cursor,
//! and when what is left to send must be counted again. The runner reads the rows and documents the
//! [`Plan`] asks for and feeds them back; these decide.
//!
//! - [`item`]: one document's item, whole or as a delta.
//! - [`plan`]: the candidates of one batch, its budget and its cursor ([`Plan`]).
//! - [`estimate`]: what is left to send, counted now and then and estimated in between.

mod estimate;
mod item;
mod plan;

pub use estimate::{Estimate, RECOUNT_AFTER, RECOUNT_EVERY};
pub use item::{MAX_PART_CHANGES, Sized, doc_item, doc_item_within, snapshot_item};
pub use plan::{Built, DocRow, Plan, Rows, Step, SummaryRow, batch_upto};
