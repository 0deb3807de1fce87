//! Summaries (汇总) as stored: the latest one per owner (this node's own and its descendants'),
//! each version kept per period in `summary_history`. Storing a received or computed summary, and
//! every read of them — all, when each owner last reported, one owner's, a parent's direct
//! children's, and those to send up.

use safemesh_model::AdminCode;
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::Error;
use crate::sql::now_rfc3339;
use crate::store::Store;
use crate::writer::Writer;

/// A summary as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    pub owner: String,
    pub version: i64,
    pub period: String,
    pub as_of: String,
    pub body: String,
    pub seq: i64,
    pub received_at: String,
    /// The configured parent the body names (`owner_parent`: a functional zone's), if any.
    pub parent: Option<String>,
}

impl Store {
    /// Summaries to send up to the parent (every summary this node holds goes to every ancestor),
    /// written after `after`, in seq order.
    pub async fn summaries_after(&self, after: i64, limit: i64) -> Result<Vec<SummaryRow>, Error> {
        summaries_after(&self.inner.pool, after, limit).await
    }

    /// Every summary held (this node's own and its descendants').
    pub async fn summaries(&self) -> Result<Vec<SummaryRow>, Error> {
        let rows = sqlx::query("SELECT * FROM summaries ORDER BY owner")
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(summary_row).collect())
    }

    /// The summaries of `parent`'s direct children, without reading the rest (a province holds every
    /// descendant's summary, and its roll-up needs only its cities'): codes one level down under its
    /// prefix that name no other parent, and the functional zones whose summaries name it as their
    /// configured parent (`owner_parent`). A zone is so a child of the office that runs it only, never
    /// also of its prefix parent: counted once.
    pub async fn child_summaries(
        &self,
        parent: &safemesh_model::AdminCode,
    ) -> Result<Vec<SummaryRow>, Error> {
        use safemesh_model::Level;
        let digits = match parent.level() {
            Level::Province => Level::City.digits(),
            Level::City => Level::County.digits(),
            Level::County => Level::Township.digits(),
            // No code is one level below a township's: only zones that name it.
            Level::Township => 0,
        };
        let prefix = parent.as_str();
        let rows = sqlx::query(
            "SELECT * FROM summaries WHERE parent = $3 OR (parent IS NULL
             AND length(owner) = CAST($1 AS INTEGER)
             AND substr(owner, 1, CAST($2 AS INTEGER)) = $3) ORDER BY owner",
        )
        .bind(digits as i64)
        .bind(prefix.len() as i64)
        .bind(prefix)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(summary_row).collect())
    }

    /// (owner, `as_of`) of every summary held, without their bodies: when each office last
    /// reported (a province holds every descendant's; `/metrics` reads this at every scrape).
    pub async fn summary_times(&self) -> Result<Vec<(String, String)>, Error> {
        Ok(
            sqlx::query_as("SELECT owner, as_of FROM summaries ORDER BY owner")
                .fetch_all(self.pool())
                .await?,
        )
    }

    pub async fn summary(&self, owner: &str) -> Result<Option<SummaryRow>, Error> {
        let row = sqlx::query("SELECT * FROM summaries WHERE owner = $1")
            .bind(owner)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(summary_row))
    }
}

impl Writer {
    /// Stores a summary if it is newer than the one held. Returns whether it was stored.
    pub async fn put_summary(
        &mut self,
        owner: &AdminCode,
        version: i64,
        period: &str,
        as_of: &str,
        body: &str,
    ) -> Result<bool, Error> {
        let cur: Option<(i64,)> = sqlx::query_as("SELECT version FROM summaries WHERE owner = $1")
            .bind(owner.as_str())
            .fetch_optional(&mut **self.tx())
            .await?;
        if matches!(cur, Some((v,)) if v >= version) {
            return Ok(false);
        }
        let seq = self.next_seq();
        let now = now_rfc3339();
        let parent = parent_named(body);
        sqlx::query(
            "INSERT INTO summaries (owner, version, period, as_of, body, seq, received_at, parent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (owner) DO UPDATE SET version = excluded.version, period = excluded.period, as_of = excluded.as_of,
             body = excluded.body, seq = excluded.seq, received_at = excluded.received_at, parent = excluded.parent",
        )
        .bind(owner.as_str())
        .bind(version)
        .bind(period)
        .bind(as_of)
        .bind(body)
        .bind(seq)
        .bind(&now)
        .bind(parent)
        .execute(&mut **self.tx())
        .await?;
        sqlx::query(
            "INSERT INTO summary_history (owner, period, version, as_of, body) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (owner, period) DO UPDATE SET version = excluded.version, as_of = excluded.as_of, body = excluded.body",
        )
        .bind(owner.as_str())
        .bind(period)
        .bind(version)
        .bind(as_of)
        .bind(body)
        .execute(&mut **self.tx())
        .await?;
        Ok(true)
    }
}

pub(crate) async fn summaries_after(
    pool: &AnyPool,
    after: i64,
    limit: i64,
) -> Result<Vec<SummaryRow>, Error> {
    let rows = sqlx::query("SELECT * FROM summaries WHERE seq > $1 ORDER BY seq LIMIT $2")
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(summary_row).collect())
}

/// The configured parent a summary body names (`owner_parent`, see
/// [`safemesh_model::summary::SummaryBody`]), if it names one and it reads as a code.
fn parent_named(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        #[serde(default)]
        owner_parent: Option<AdminCode>,
    }
    serde_json::from_str::<Named>(body)
        .ok()
        .and_then(|n| n.owner_parent)
        .map(String::from)
}

fn summary_row(r: AnyRow) -> SummaryRow {
    SummaryRow {
        owner: r.get("owner"),
        version: r.get("version"),
        period: r.get("period"),
        as_of: r.get("as_of"),
        body: r.get("body"),
        seq: r.get("seq"),
        received_at: r.get("received_at"),
        parent: r.get("parent"),
    }
}
