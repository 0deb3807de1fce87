//! Persistence behind one `Store` API: documents (compacted snapshot + incremental chunks), the
//! node-wide sequence number, per-link cursors and peer heads, and the query projections (hazards,
//! directives, summaries) written in the same transaction as their document.
//!
//! SQLite (WAL, `synchronous = FULL`) is the embedded default. All writes go through one [`Writer`] at a
//! time, so the sequence numbers commit in order and a document is never written from a stale copy.
//! "Did anything change" is answered from SQL; documents are loaded lazily through a bounded cache.
//!
//! One file per concept, each holding its `impl Store` / `impl Writer` methods: `store` (the handle),
//! `open` and `migrate` (opening, pragmas, stored format), `writer` (the write session), `stats`
//! (commit times, kept in `commit_times`, and database size, for the node's metrics), `docs`
//! (documents, chunks, seq), `links` (cursors, peer heads, sync states), `scope` (what crosses a
//! link), `blobs` (佐证材料: content-addressed evidence files, their chunks and references), `summaries`, `tokens`, `inspect` (a store file checked
//! read-only from outside: integrity and heads), `project` (writing projections), `query` (reads per record kind),
//! and `sql` (placeholder builders and stored encodings, imported by the others, importing none).
#![forbid(unsafe_code)]

mod backup;
mod blobs;
mod cache;
mod commit_times;
mod docs;
mod error;
mod inspect;
mod links;
mod migrate;
mod open;
mod planner;
mod project;
mod query;
mod ready;
mod scope;
mod sql;
mod stats;
mod store;
mod summaries;
pub mod testing;
mod tokens;
mod traces;
mod writer;

pub use blobs::{BLOB_CHUNK, BlobMeta, BlobRef, ChunkOutcome, is_sha256_hex, sha256_hex};
pub use commit_times::{COMMIT_BUCKETS, CommitStats};
pub use docs::{NewDoc, StoredDoc, count_documents};
pub use error::Error;
pub use inspect::{Inspection, inspect_sqlite};
pub use links::LinkRow;
pub use migrate::FORMAT_VERSION;
pub use open::SqliteLimits;
pub use project::{Projection, compute_projection};
pub use query::{DirectiveRow, DirectiveTotals, HazardFilter, HazardOrder, HazardPage, HazardRow};
pub use scope::ChangedDoc;
pub use sql::now_rfc3339;
pub use store::{Backend, Store};
pub use summaries::SummaryRow;
pub use tokens::{TOKEN_NAME_MAX, TokenRole, TokenRow, hash_secret, token_name};
pub use traces::{TRACE_NOTES_MAX, TraceNotes};
pub use writer::Writer;
