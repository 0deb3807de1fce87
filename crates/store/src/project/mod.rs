//! Query projections: the rows derived from a document (hazards, directives and their targets,
//! accidents, enterprises) and its audience, written in the same transaction as the document.
//! `compute` turns a document into a [`Projection`] (CPU only, no store); `write` executes
//! projections, batching statements of the same text; `bind` is the values they carry. The queries
//! over these rows are in `query`.

mod bind;
mod compute;
mod write;

pub use compute::{Projection, compute_projection};
pub(crate) use write::{write_projection, write_rows_many};
