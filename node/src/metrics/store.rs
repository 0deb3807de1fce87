//! 存储指标 — the database's size, its sequence number and how long commits take (from the store's
//! own [`safemesh_store::CommitStats`]: the store knows no metrics library).

use safemesh_store::CommitStats;

use super::family::{Family, Value};

pub(crate) fn families(size_bytes: i64, seq: i64, commits: &CommitStats) -> Vec<Family> {
    let mut commit = Family::histogram(
        "safemesh_store_commit_duration_seconds",
        "How long the store's commits take (every write transaction).",
    );
    commit.samples.push((
        Vec::new(),
        Value::Histogram {
            buckets: commits.buckets.clone(),
            count: commits.count,
            sum: commits.sum_seconds,
        },
    ));
    vec![
        Family::gauge(
            "safemesh_store_size_bytes",
            "Size of the database (SQLite pages without the WAL; PostgreSQL pg_database_size).",
        )
        .with(size_bytes as f64),
        Family::gauge(
            "safemesh_store_seq",
            "The node's sequence number (moves with every write, local or received).",
        )
        .with(seq as f64),
        commit,
    ]
}
