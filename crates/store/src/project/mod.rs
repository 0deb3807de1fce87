//! Query projections: the rows derived from a document (hazards, directives and their targets,
//! accidents, enterprises) and its audience, written in the same transaction as the document.
//! Each kind's rows are its [`kind::ProjectKind`] impl, one module per kind (`hazard`, `directive`,
//! `accident`, `enterprise`); `compute` turns a document into a [`Projection`] through them (CPU
//! only, no store); `write` executes projections, batching statements of the same text; `bind` is
//! the values they carry. The queries over these rows are in `query`.

mod accident;
mod bind;
mod compute;
mod directive;
mod enterprise;
mod evidence;
mod hazard;
mod kind;
mod write;

pub use compute::{Projection, compute_projection};
pub(crate) use write::{write_projection, write_rows_many};
