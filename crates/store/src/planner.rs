//! Planner statistics on PostgreSQL: `ANALYZE` after the tables grew, as after any bulk load.
//!
//! A node's tables start empty and can take 100,000 documents in minutes (a child's bootstrap).
//! PostgreSQL's autovacuum analyzes them at most once a minute; in between, the planner judges the
//! sync queries by statistics from when the tables were small, and picked plans that scanned every
//! audience row for each page sent (`Store::changed_for`): 31 ms a page at 11,000 documents, up
//! to 125 ms at 30,000.
//!
//! Each committed write session adds its new documents here; once they are a tenth of what the last
//! analysis saw (at least [`MIN_GROWTH`]), one `ANALYZE` runs in the background. SQLite keeps no
//! statistics unless asked and plans by its indexes alone; nothing runs there.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use sqlx::AnyPool;

/// The tables a document's write grows. Named, not the whole database: a role that does not own
/// the system catalogs would be warned about each of them.
const ANALYZE: &str = "ANALYZE documents, doc_changes, doc_audience, peer_heads, hazards, \
     accidents, enterprises, directives, directive_targets, summaries, summary_history";

/// Fewest new documents that trigger an analysis.
const MIN_GROWTH: i64 = 1000;

/// How far the tables grew since their last analysis.
#[derive(Debug, Default)]
pub(crate) struct Growth {
    /// Documents the last analysis saw (or the estimate PostgreSQL held when the store opened).
    analyzed: AtomicI64,
    /// Documents written since.
    grown: AtomicI64,
    running: AtomicBool,
}

impl Growth {
    pub(crate) fn new(analyzed: i64) -> Growth {
        Growth {
            analyzed: AtomicI64::new(analyzed.max(0)),
            ..Default::default()
        }
    }

    /// Adds `new_docs` just committed; returns the growth to analyze for, if it is time and no
    /// analysis is running.
    pub(crate) fn add(&self, new_docs: i64) -> Option<i64> {
        let grown = self.grown.fetch_add(new_docs, Ordering::Relaxed) + new_docs;
        let due = grown >= MIN_GROWTH.max(self.analyzed.load(Ordering::Relaxed) / 10);
        (due && !self.running.swap(true, Ordering::AcqRel)).then_some(grown)
    }

    /// An analysis that started at `grown` ended (successfully or not: the next growth retries).
    pub(crate) fn done(&self, grown: i64, ok: bool) {
        if ok {
            self.analyzed.fetch_add(grown, Ordering::Relaxed);
            self.grown.fetch_sub(grown, Ordering::Relaxed);
        }
        self.running.store(false, Ordering::Release);
    }
}

/// A PostgreSQL write session committed `new_docs` new documents: once the tables grew enough,
/// refreshes the planner's statistics in the background.
pub(crate) fn grew(pool: &AnyPool, growth: &Arc<Growth>, new_docs: i64) {
    if new_docs == 0 {
        return;
    }
    let Some(grown) = growth.add(new_docs) else {
        return;
    };
    let (pool, growth) = (pool.clone(), growth.clone());
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let r = sqlx::query(ANALYZE).execute(&pool).await;
        match &r {
            Ok(_) => tracing::debug!(
                new_docs = grown,
                ms = started.elapsed().as_millis() as u64,
                "planner statistics refreshed"
            ),
            Err(e) => tracing::warn!(error = %e, "ANALYZE failed; retried after more writes"),
        }
        growth.done(grown, r.is_ok());
    });
}

/// What PostgreSQL estimates `documents` holds (0 if never analyzed).
pub(crate) async fn estimated_documents(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT CAST(GREATEST(reltuples, 0) AS BIGINT) FROM pg_class
         WHERE oid = CAST('documents' AS regclass)",
    )
    .fetch_one(pool)
    .await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_is_due_after_a_tenth_more_and_once_at_a_time() {
        let g = Growth::new(50_000);
        assert_eq!(g.add(4_000), None, "4,000 is less than a tenth of 50,000");
        let due = g.add(1_000).expect("5,000 is a tenth");
        assert_eq!(due, 5_000);
        assert_eq!(g.add(10_000), None, "one analysis at a time");
        g.done(due, true);
        // 55,000 analyzed, 10,000 grown since: due again.
        assert_eq!(g.add(0), Some(10_000));
        g.done(10_000, false);
        assert_eq!(g.add(1), Some(10_001), "a failed analysis is retried");
    }

    #[test]
    fn a_new_store_is_analyzed_after_its_first_thousand_documents() {
        let g = Growth::new(-1);
        assert_eq!(g.add(999), None);
        assert_eq!(g.add(1), Some(1_000));
    }
}
