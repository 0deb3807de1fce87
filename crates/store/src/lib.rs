//! Persistence behind one `Store` API: documents (compacted snapshot + incremental chunks), the
//! node-wide sequence number, per-link cursors and peer heads, and the query projections (hazards,
//! directives, summaries) written in the same transaction as their document.
//!
//! SQLite (WAL, `synchronous = FULL`) is the embedded default. All writes go through one [`Writer`] at a
//! time, so the sequence numbers commit in order and a document is never written from a stale copy.
//! "Did anything change" is answered from SQL; documents are loaded lazily through a bounded cache.
#![forbid(unsafe_code)]

mod cache;
mod error;
mod planner;
mod project;
mod store;
pub mod testing;
mod tokens;

pub use error::Error;
pub use project::{
    DirectiveRow, DirectiveTotals, HazardFilter, HazardRow, Projection, SummaryRow,
    compute_projection,
};
pub use store::{
    Backend, ChangedDoc, LinkRow, NewDoc, SqliteLimits, Store, StoredDoc, Writer, count_documents,
    now_rfc3339,
};
pub use tokens::{TOKEN_NAME_MAX, TokenRole, TokenRow, hash_secret, token_name};

/// Most binds one multi-row statement carries. SQLite finds each `$N` parameter's name by a linear
/// scan (`sqlite3_bind_parameter_name`, which sqlx calls for every parameter), so a statement's bind
/// cost grows with the square of its binds: a few hundred per statement is the sweet spot.
pub(crate) const MAX_BINDS: usize = 256;

/// Version of the stored format this build writes (stored in `meta.format`): the number of the
/// newest migration.
pub const FORMAT_VERSION: i64 = 7;

#[cfg(test)]
mod tests {
    /// Each backend's migrations end at the format this build writes (a migration added without
    /// bumping it would let an older build open a database it cannot read).
    #[test]
    fn the_format_version_is_the_number_of_the_newest_migration() {
        let sqlite = sqlx::migrate!("./migrations/sqlite");
        let postgres = sqlx::migrate!("./migrations/postgres");
        assert_eq!(sqlite.migrations.len() as i64, super::FORMAT_VERSION);
        assert_eq!(postgres.migrations.len() as i64, super::FORMAT_VERSION);
    }
}
