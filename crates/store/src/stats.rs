//! 存储统计 — what operators measure of the store: how long its commits take (kept in
//! `commit_times`) and how large the database is. The node exports them as metrics.

use crate::commit_times::CommitStats;
use crate::error::Error;
use crate::store::{Backend, Store};

impl Store {
    /// How long this store's commits have taken since it was opened (every [`crate::Writer`]
    /// commit: documents, links, summaries, tokens).
    pub fn commit_stats(&self) -> CommitStats {
        self.inner.commits.snapshot()
    }

    /// The database's size in bytes: SQLite's pages (`page_count × page_size`; the WAL file beside
    /// it is not counted), PostgreSQL's `pg_database_size` of the current database.
    pub async fn size_bytes(&self) -> Result<i64, Error> {
        let sql = match self.inner.backend {
            Backend::Sqlite => {
                "SELECT CAST(p.page_count * s.page_size AS BIGINT) FROM pragma_page_count() AS p, pragma_page_size() AS s"
            }
            Backend::Postgres => "SELECT CAST(pg_database_size(current_database()) AS BIGINT)",
        };
        Ok(sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(self.pool())
            .await?)
    }
}
