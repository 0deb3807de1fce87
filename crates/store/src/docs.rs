//! Documents as stored: a row per document (kind, owner, heads, compacted snapshot, last seq), the
//! incremental chunks written since its snapshot, and their audience rows. Reading a document back
//! (through the cache, or as raw bytes for a peer), and the writer's side: storing a changed or new
//! document under the next sequence number with its projection, in one transaction.

use safemesh_doc::{AutoCommit, ChangeHash, Header, heads_to_hex};
use sqlx::Row;

use crate::error::Error;
use crate::project;
use crate::sql::{MAX_BINDS, now_rfc3339, parse_heads, placeholders, placeholders_after, tuples};
use crate::store::{Store, poisoned};
use crate::writer::Writer;

/// Chunks a document may accumulate before it is compacted into one snapshot.
const COMPACT_AFTER_CHUNKS: i64 = 32;

/// A document's row, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDoc {
    pub id: String,
    pub kind: String,
    pub owner: String,
    pub heads: Vec<String>,
    pub seq: i64,
}

/// A document new to this store, for [`Writer::put_new_docs_bytes`]: its stored bytes as received,
/// and its projection if already computed (by the thread that checked it).
pub struct NewDoc {
    pub id: String,
    pub doc: AutoCommit,
    pub bytes: Vec<u8>,
    pub projection: Option<project::Projection>,
}

impl Store {
    /// Loads a document (through the cache).
    pub async fn load(&self, id: &str) -> Result<Option<AutoCommit>, Error> {
        let generation = {
            let mut cache = self.inner.cache.lock().map_err(|_| poisoned())?;
            if let Some(d) = cache.get(id) {
                return Ok(Some(d));
            }
            cache.generation
        };
        let mut conn = self.inner.pool.acquire().await?;
        let doc = load_from(&mut conn, id).await?;
        if let Some(d) = &doc {
            let mut cache = self.inner.cache.lock().map_err(|_| poisoned())?;
            if cache.generation == generation {
                cache.put(id, d.clone());
            }
        }
        Ok(doc)
    }

    /// The stored heads (hex) of those of `ids` this store holds, as committed (one query per few
    /// hundred ids). Read without the writer: a batch's checks run on what this returns, and the
    /// writer compares ([`Writer::stored_heads`]) before storing their results.
    pub async fn stored_heads(
        &self,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, Vec<String>>, Error> {
        let mut conn = self.inner.pool.acquire().await?;
        heads_of(&mut conn, ids).await
    }

    pub async fn doc_row(&self, id: &str) -> Result<Option<StoredDoc>, Error> {
        let row = sqlx::query("SELECT id, kind, owner, heads, seq FROM documents WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(row.map(|r| StoredDoc {
            id: r.get("id"),
            kind: r.get("kind"),
            owner: r.get("owner"),
            heads: parse_heads(r.get("heads")),
            seq: r.get("seq"),
        }))
    }

    /// A document's stored bytes as one loadable blob (the snapshot followed by its incremental
    /// chunks), without decoding it.
    pub async fn raw_doc(&self, id: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.raw_docs(&[id]).await?.remove(id))
    }

    /// [`Store::raw_doc`] for many documents: one query per few hundred ids (`stored_parts_sql`). Ids
    /// not held are absent from the map.
    pub async fn raw_docs(
        &self,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, Vec<u8>>, Error> {
        let mut out: std::collections::HashMap<String, Vec<u8>> = std::collections::HashMap::new();
        for chunk in ids.chunks(MAX_BINDS / 2) {
            let sql = stored_parts_sql(chunk.len());
            let mut q = sqlx::query_as::<_, (String, i64, i64, Vec<u8>)>(sqlx::AssertSqlSafe(sql));
            for id in chunk.iter().chain(chunk.iter()) {
                q = q.bind(*id);
            }
            for (id, part, _, bytes) in q.fetch_all(&self.inner.pool).await? {
                if part == 0 {
                    out.insert(id, bytes);
                } else if let Some(b) = out.get_mut(&id) {
                    b.extend_from_slice(&bytes);
                }
            }
        }
        Ok(out)
    }
}

impl Writer {
    /// Loads a document as this session sees it (including its own uncommitted writes).
    pub async fn load(&mut self, id: &str) -> Result<Option<AutoCommit>, Error> {
        if let Some((_, d)) = self.cached.iter().rev().find(|(i, _)| i == id) {
            return Ok(Some(d.clone()));
        }
        if let Some(d) = self
            .store
            .inner
            .cache
            .lock()
            .map_err(|_| poisoned())?
            .get(id)
        {
            return Ok(Some(d));
        }
        let tx = self.tx();
        let doc = load_from(&mut *tx, id).await?;
        Ok(doc)
    }

    /// Which of `ids` this store holds (one query per few hundred ids), as this session sees them
    /// (its own uncommitted writes included).
    pub async fn existing(
        &mut self,
        ids: &[&str],
    ) -> Result<std::collections::HashSet<String>, Error> {
        Ok(self.stored_heads(ids).await?.into_keys().collect())
    }

    /// The stored heads (hex) of those of `ids` this store holds, as this session sees them: what a
    /// check made before the session began can be compared with.
    pub async fn stored_heads(
        &mut self,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, Vec<String>>, Error> {
        heads_of(self.tx(), ids).await
    }

    /// Stores `doc` (whose stored version had `old_heads`, empty if new), its audience and projection,
    /// under a new sequence number. Returns that number.
    pub async fn put_doc(
        &mut self,
        id: &str,
        doc: &mut AutoCommit,
        old_heads: &[ChangeHash],
    ) -> Result<i64, Error> {
        self.put_doc_with(id, doc, old_heads, None).await
    }

    /// Like [`Writer::put_doc`] for a document this store does not hold, whose encoded bytes are at
    /// hand (a received snapshot): they are stored as they are instead of encoding the document
    /// again, and the document is not kept in the cache (a bootstrap would only churn it).
    pub async fn put_new_doc_bytes(
        &mut self,
        id: &str,
        doc: &mut AutoCommit,
        bytes: Vec<u8>,
    ) -> Result<i64, Error> {
        self.put_doc_with(id, doc, &[], Some(bytes)).await
    }

    /// [`Writer::put_new_doc_bytes`] for many documents new to this store, in the order given (each
    /// under the next seq): the documents and audience rows go in multi-row statements, a few hundred
    /// rows each, instead of one statement per row. The first document that cannot be stored is named
    /// with its error; the caller drops the session then (nothing is kept).
    pub async fn put_new_docs_bytes(&mut self, docs: Vec<NewDoc>) -> Result<(), (String, Error)> {
        if docs.is_empty() {
            return Ok(());
        }
        let now = now_rfc3339();
        let mut doc_rows = Vec::with_capacity(docs.len());
        let mut audience_rows: Vec<(String, String, i64)> = Vec::new();
        let mut projections = Vec::with_capacity(docs.len());
        for NewDoc {
            id,
            mut doc,
            bytes,
            projection,
        } in docs
        {
            let header = Header::read(&doc).map_err(|e| (id.clone(), e.into()))?;
            let heads = serde_json::to_string(&heads_to_hex(&doc.get_heads())).unwrap_or_default();
            let seq = self.next_seq();
            let projection = match projection {
                Some(p) => p,
                None => {
                    project::compute_projection(&id, &header, &doc).map_err(|e| (id.clone(), e))?
                }
            };
            for (code, subtree) in &projection.audience.entries {
                audience_rows.push((id.clone(), code.to_string(), *subtree as i64));
            }
            projections.push(projection);
            doc_rows.push((id, header, heads, bytes, seq));
        }
        self.new_docs += doc_rows.len() as i64;
        let first = doc_rows[0].0.clone();
        project::write_rows_many(self.tx(), &projections, &now)
            .await
            .map_err(|e| (first.clone(), e))?;
        let failed = |e: sqlx::Error| (first.clone(), Error::from(e));
        for chunk in doc_rows.chunks(MAX_BINDS / 6) {
            // `$1` is the shared `updated_at`; each row's six binds follow.
            let values: Vec<String> = (0..chunk.len())
                .map(|r| format!("({}, $1)", placeholders_after(1 + 6 * r, 6)))
                .collect();
            let sql = format!(
                "INSERT INTO documents (id, kind, owner, heads, snapshot, seq, updated_at) VALUES {}",
                values.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&now);
            for (id, header, heads, bytes, seq) in chunk {
                q = q
                    .bind(id.as_str())
                    .bind(header.kind.as_str())
                    .bind(header.owner.as_str())
                    .bind(heads.as_str())
                    .bind(bytes.as_slice())
                    .bind(*seq);
            }
            q.execute(&mut **self.tx()).await.map_err(failed)?;
        }
        for chunk in audience_rows.chunks(MAX_BINDS / 3) {
            let sql = format!(
                "INSERT INTO doc_audience (doc_id, code, subtree) VALUES {} ON CONFLICT DO NOTHING",
                tuples(chunk.len(), 3)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, code, subtree) in chunk {
                q = q.bind(id.as_str()).bind(code.as_str()).bind(*subtree);
            }
            q.execute(&mut **self.tx()).await.map_err(failed)?;
        }
        Ok(())
    }

    async fn put_doc_with(
        &mut self,
        id: &str,
        doc: &mut AutoCommit,
        old_heads: &[ChangeHash],
        encoded: Option<Vec<u8>>,
    ) -> Result<i64, Error> {
        let header = Header::read(doc)?;
        let heads = serde_json::to_string(&heads_to_hex(&doc.get_heads())).unwrap_or_default();
        let seq = self.next_seq();
        let now = now_rfc3339();
        let known_new = encoded.is_some();
        let exists: Option<(i64,)> = if known_new {
            None
        } else {
            sqlx::query_as("SELECT seq FROM documents WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut **self.tx())
                .await?
        };
        if exists.is_none() {
            self.new_docs += 1;
            let snapshot = match encoded {
                Some(bytes) => bytes,
                None => doc.save(),
            };
            sqlx::query("INSERT INTO documents (id, kind, owner, heads, snapshot, seq, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(id)
                .bind(header.kind.as_str())
                .bind(header.owner.as_str())
                .bind(&heads)
                .bind(snapshot)
                .bind(seq)
                .bind(&now)
                .execute(&mut **self.tx())
                .await?;
        } else {
            let (chunks,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM doc_changes WHERE doc_id = $1")
                    .bind(id)
                    .fetch_one(&mut **self.tx())
                    .await?;
            if chunks + 1 >= COMPACT_AFTER_CHUNKS {
                let snapshot = doc.save();
                sqlx::query("DELETE FROM doc_changes WHERE doc_id = $1")
                    .bind(id)
                    .execute(&mut **self.tx())
                    .await?;
                sqlx::query("UPDATE documents SET heads = $1, snapshot = $2, seq = $3, updated_at = $4 WHERE id = $5")
                    .bind(&heads)
                    .bind(snapshot)
                    .bind(seq)
                    .bind(&now)
                    .bind(id)
                    .execute(&mut **self.tx())
                    .await?;
            } else {
                let chunk = doc.save_after(old_heads);
                sqlx::query("INSERT INTO doc_changes (doc_id, seq, data) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(seq)
                    .bind(chunk)
                    .execute(&mut **self.tx())
                    .await?;
                sqlx::query(
                    "UPDATE documents SET heads = $1, seq = $2, updated_at = $3 WHERE id = $4",
                )
                .bind(&heads)
                .bind(seq)
                .bind(&now)
                .bind(id)
                .execute(&mut **self.tx())
                .await?;
            }
        }
        let audience = project::write_projection(self.tx(), id, &header, doc, &now).await?;
        if exists.is_some() {
            sqlx::query("DELETE FROM doc_audience WHERE doc_id = $1")
                .bind(id)
                .execute(&mut **self.tx())
                .await?;
        }
        for (code, subtree) in audience.entries {
            sqlx::query(
                "INSERT INTO doc_audience (doc_id, code, subtree) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(code.as_str())
            .bind(subtree as i64)
            .execute(&mut **self.tx())
            .await?;
        }
        if !known_new {
            self.cached.push((id.to_string(), doc.clone()));
        }
        Ok(seq)
    }
}

/// One statement reading `n` documents' stored parts — (id, 0, 0, snapshot), then (id, 1, seq, chunk)
/// in seq order — so a compaction committing meanwhile cannot pair an old snapshot with chunks
/// already folded into the new one. Binds: the `n` ids, twice.
fn stored_parts_sql(n: usize) -> String {
    format!(
        "SELECT id, CAST(0 AS BIGINT) AS part, CAST(0 AS BIGINT) AS seq, snapshot AS data
         FROM documents WHERE id IN ({})
         UNION ALL
         SELECT doc_id, CAST(1 AS BIGINT), seq, data FROM doc_changes WHERE doc_id IN ({})
         ORDER BY 1, 2, 3",
        placeholders(n),
        placeholders_after(n, n)
    )
}

/// The stored heads (hex) of those of `ids` held, one query per few hundred ids.
async fn heads_of(
    conn: &mut sqlx::AnyConnection,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, Vec<String>>, Error> {
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(MAX_BINDS) {
        let sql = format!(
            "SELECT id, heads FROM documents WHERE id IN ({})",
            placeholders(chunk.len())
        );
        let mut q = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        for (id, heads) in q.fetch_all(&mut *conn).await? {
            out.insert(id, parse_heads(heads));
        }
    }
    Ok(out)
}

async fn load_from(conn: &mut sqlx::AnyConnection, id: &str) -> Result<Option<AutoCommit>, Error> {
    // One statement (see `stored_parts_sql`): two reads could miss changes a compaction folded in.
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(sqlx::AssertSqlSafe(stored_parts_sql(1)))
        .bind(id)
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map(|rows: Vec<(String, i64, i64, Vec<u8>)>| {
            rows.into_iter().map(|(_, p, _, d)| (p, d)).collect()
        })?;
    let mut rows = rows.into_iter();
    let Some((0, snapshot)) = rows.next() else {
        return Ok(None);
    };
    let corrupt = |e: automerge::AutomergeError| Error::Corrupt {
        id: id.to_string(),
        reason: e.to_string(),
    };
    let mut doc = AutoCommit::load(&snapshot).map_err(corrupt)?;
    for (_, chunk) in rows {
        doc.load_incremental(&chunk).map_err(corrupt)?;
    }
    Ok(Some(doc))
}

/// Number of documents held (for status and benchmarks).
pub async fn count_documents(store: &Store) -> Result<i64, Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM documents")
        .fetch_one(store.pool())
        .await?;
    Ok(n)
}
