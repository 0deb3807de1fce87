//! What crosses a link: documents in a peer's audience (by the `doc_audience` rows), changed after
//! a cursor, with the heads the peer is known to hold; one side's page of the link set for digest
//! comparison; and how much is pending for a peer. Read-only queries the sync engine asks of the store.

use safemesh_model::AdminCode;
use sqlx::Row;

use crate::error::Error;
use crate::sql::{MAX_BINDS, parse_heads, placeholders_after};
use crate::store::Store;

/// A document changed since some cursor, as the sync engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedDoc {
    pub id: String,
    pub seq: i64,
    pub heads: Vec<String>,
    /// What the peer is known to hold, if anything.
    pub peer_heads: Option<Vec<String>>,
}

impl Store {
    /// Documents in `peer`'s audience written after `after`, in seq order, with the heads the peer is
    /// known to hold. The peer's heads are a lookup per row returned, not a join: PostgreSQL joined
    /// the peer's whole `peer_heads` (a row per document it holds) for every page, so each batch
    /// a node received cost it a scan of everything it held (15 ms at 100,000 documents, against
    /// 2 ms for the lookups).
    pub async fn changed_for(
        &self,
        peer: &AdminCode,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ChangedDoc>, Error> {
        let rows = sqlx::query(
            "SELECT d.id, d.seq, d.heads,
                 (SELECT ph.heads FROM peer_heads ph WHERE ph.peer = $2 AND ph.doc_id = d.id) AS peer_heads
             FROM documents d
             WHERE d.seq > $1 AND EXISTS (
                 SELECT 1 FROM doc_audience a WHERE a.doc_id = d.id
                 AND (a.code = $2 OR (a.subtree = 1 AND substr($2, 1, length(a.code)) = a.code)))
             ORDER BY d.seq LIMIT $3",
        )
        .bind(after)
        .bind(peer.as_str())
        .bind(limit)
        .fetch_all(&self.inner.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ChangedDoc {
                id: r.get("id"),
                seq: r.get("seq"),
                heads: parse_heads(r.get("heads")),
                peer_heads: r.get::<Option<String>, _>("peer_heads").map(parse_heads),
            })
            .collect())
    }

    /// One page of the link set between this node (`me`) and `peer`: documents whose audience names
    /// both, with their heads, in id order after `after_id` (empty: from the start). What crosses that
    /// link; each side computes it on its own store to compare digests (DESIGN §5.8).
    pub async fn link_set_page(
        &self,
        me: &AdminCode,
        peer: &AdminCode,
        after_id: &str,
        limit: i64,
    ) -> Result<Vec<(String, Vec<String>)>, Error> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT d.id, d.heads FROM documents d
             WHERE d.id > $1
             AND EXISTS (SELECT 1 FROM doc_audience a WHERE a.doc_id = d.id
                 AND (a.code = $2 OR (a.subtree = 1 AND substr($2, 1, length(a.code)) = a.code)))
             AND EXISTS (SELECT 1 FROM doc_audience a WHERE a.doc_id = d.id
                 AND (a.code = $3 OR (a.subtree = 1 AND substr($3, 1, length(a.code)) = a.code)))
             ORDER BY d.id LIMIT $4",
        )
        .bind(after_id)
        .bind(peer.as_str())
        .bind(me.as_str())
        .bind(limit)
        .fetch_all(&self.inner.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, heads)| (id, parse_heads(heads)))
            .collect())
    }

    /// Whether `peer` is in the audience of document `id`.
    pub async fn in_audience(&self, peer: &AdminCode, id: &str) -> Result<bool, Error> {
        Ok(!self.in_audience_of(peer, &[id]).await?.is_empty())
    }

    /// Which of `ids` have `peer` in their audience ([`Store::in_audience`] for many documents).
    pub async fn in_audience_of(
        &self,
        peer: &AdminCode,
        ids: &[&str],
    ) -> Result<std::collections::HashSet<String>, Error> {
        let mut out = std::collections::HashSet::new();
        for chunk in ids.chunks(MAX_BINDS) {
            let sql = format!(
                "SELECT DISTINCT a.doc_id FROM doc_audience a WHERE a.doc_id IN ({})
                 AND (a.code = $1 OR (a.subtree = 1 AND substr($2, 1, length(a.code)) = a.code))",
                placeholders_after(2, chunk.len())
            );
            let mut q = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql))
                .bind(peer.as_str())
                .bind(peer.as_str());
            for id in chunk {
                q = q.bind(*id);
            }
            out.extend(
                q.fetch_all(&self.inner.pool)
                    .await?
                    .into_iter()
                    .map(|(id,)| id),
            );
        }
        Ok(out)
    }

    /// How many documents and summaries in `peer`'s scope were written after `after`.
    pub async fn pending_for(
        &self,
        peer: &AdminCode,
        after: i64,
        peer_is_parent: bool,
    ) -> Result<i64, Error> {
        Ok(self.pending_size_for(peer, after, peer_is_parent).await?.0)
    }

    /// Like [`Store::pending_for`], with the stored bytes of those documents and summaries (what a
    /// full send would cost; a delta to a peer that holds part of a document costs less). Documents the
    /// peer is known to hold at our heads (it sent them to us, or a digest said so) are not counted:
    /// nothing of them will be sent.
    pub async fn pending_size_for(
        &self,
        peer: &AdminCode,
        after: i64,
        peer_is_parent: bool,
    ) -> Result<(i64, i64), Error> {
        let (docs, bytes): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), CAST(SUM(length(d.snapshot)) AS BIGINT) FROM documents d WHERE d.seq > $1 AND EXISTS (
                 SELECT 1 FROM doc_audience a WHERE a.doc_id = d.id
                 AND (a.code = $2 OR (a.subtree = 1 AND substr($3, 1, length(a.code)) = a.code)))
             AND NOT EXISTS (SELECT 1 FROM peer_heads ph
                 WHERE ph.peer = $4 AND ph.doc_id = d.id AND ph.heads = d.heads)",
        )
        .bind(after)
        .bind(peer.as_str())
        .bind(peer.as_str())
        .bind(peer.as_str())
        .fetch_one(&self.inner.pool)
        .await?;
        let (sums, sum_bytes) = if peer_is_parent {
            let (n, b): (i64, Option<i64>) = sqlx::query_as(
                "SELECT COUNT(*), CAST(SUM(length(body)) AS BIGINT) FROM summaries WHERE seq > $1",
            )
            .bind(after)
            .fetch_one(&self.inner.pool)
            .await?;
            (n, b.unwrap_or(0))
        } else {
            (0, 0)
        };
        Ok((docs + sums, bytes.unwrap_or(0) + sum_bytes))
    }
}
