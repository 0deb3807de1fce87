//! 佐证材料 — evidence files as content-addressed blobs (SHA-256), apart from the Automerge documents,
//! which reference them only by hash, size, media type and name (`blob_refs`, written with each
//! document's projection).
//!
//! A blob's bytes are kept in chunks by offset (`blob_chunks`), so a large file is never one row to
//! read whole, and a transfer cut mid-way resumes from the bytes already received: a blob being
//! received is a `blobs` row with `complete = 0` and its chunks so far. The last chunk completes it
//! only if the SHA-256 of every byte matches its name; otherwise everything of it is dropped. Only a
//! complete blob is usable (read, listed, sent on). The collector removes blobs that nothing the node
//! holds references, once they are older than a grace period (an upload is referenced by the event
//! written after it).
//!
//! Blob writes do not take the document [`Writer`](crate::Writer): they are their own statements, so
//! a large file never holds up a document's commit.

use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::error::Error;
use crate::sql::now_rfc3339;
use crate::store::Store;

/// Bytes per stored chunk (and the largest chunk a link sends).
pub const BLOB_CHUNK: usize = 64 * 1024;

/// A complete blob's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// SHA-256 of its bytes, lower-case hex.
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    /// When this node first held (part of) it, RFC 3339.
    pub created: String,
}

/// A document's reference to a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    pub doc_id: String,
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    pub name: String,
}

/// What receiving one chunk did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// Stored; this many bytes of the blob are held now.
    Partial { received: i64 },
    /// The last chunk: the SHA-256 matched, the blob is usable.
    Complete,
    /// The chunk does not continue the blob where it stands (`expected` is the offset it must
    /// start at); nothing was stored.
    OutOfOrder { expected: i64 },
    /// Every byte arrived but their SHA-256 is another: the blob and its chunks were dropped.
    HashMismatch,
    /// The chunk runs past the blob's declared size; nothing was stored.
    TooLong,
    /// The blob was already complete; nothing was stored.
    AlreadyHeld,
}

/// SHA-256 of `bytes` as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `s` is a SHA-256 in lower-case hex (64 characters).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Store {
    /// Stores a whole file (an upload) as a complete blob; returns its description. A blob already
    /// held is left as it is (same bytes, same name).
    pub async fn put_blob(&self, media_type: &str, bytes: &[u8]) -> Result<BlobMeta, Error> {
        let sha256 = sha256_hex(bytes);
        if let Some(meta) = self.blob_meta(&sha256).await? {
            return Ok(meta);
        }
        let now = now_rfc3339();
        let mut tx = self.inner.pool.begin().await?;
        sqlx::query("DELETE FROM blob_chunks WHERE sha256 = $1")
            .bind(&sha256)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM blobs WHERE sha256 = $1")
            .bind(&sha256)
            .execute(&mut *tx)
            .await?;
        for (i, chunk) in bytes.chunks(BLOB_CHUNK).enumerate() {
            sqlx::query("INSERT INTO blob_chunks (sha256, offset_at, data) VALUES ($1, $2, $3)")
                .bind(&sha256)
                .bind((i * BLOB_CHUNK) as i64)
                .bind(chunk)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO blobs (sha256, size, media_type, received, complete, created) VALUES ($1, $2, $3, $4, 1, $5)",
        )
        .bind(&sha256)
        .bind(bytes.len() as i64)
        .bind(media_type)
        .bind(bytes.len() as i64)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.inner.blobs_tx.send_modify(|n| *n += 1);
        Ok(BlobMeta {
            sha256,
            size: bytes.len() as i64,
            media_type: media_type.to_string(),
            created: now,
        })
    }

    /// A complete blob's description; `None` if it is not held or not complete.
    pub async fn blob_meta(&self, sha256: &str) -> Result<Option<BlobMeta>, Error> {
        let row = sqlx::query(
            "SELECT sha256, size, media_type, created FROM blobs WHERE sha256 = $1 AND complete = 1",
        )
        .bind(sha256)
        .fetch_optional(&self.inner.pool)
        .await?;
        Ok(row.map(|r| BlobMeta {
            sha256: r.get("sha256"),
            size: r.get("size"),
            media_type: r.get("media_type"),
            created: r.get("created"),
        }))
    }

    /// A complete blob's bytes; `None` if it is not held or not complete.
    pub async fn read_blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, Error> {
        let Some(meta) = self.blob_meta(sha256).await? else {
            return Ok(None);
        };
        self.read_range(sha256, 0, meta.size).await.map(Some)
    }

    /// Up to `len` bytes of a complete blob from `offset`; `None` if it is not held or not
    /// complete; empty at or past its end.
    pub async fn read_blob_range(
        &self,
        sha256: &str,
        offset: i64,
        len: i64,
    ) -> Result<Option<Vec<u8>>, Error> {
        let Some(meta) = self.blob_meta(sha256).await? else {
            return Ok(None);
        };
        let end = (offset + len).min(meta.size);
        if offset >= end {
            return Ok(Some(Vec::new()));
        }
        self.read_range(sha256, offset, end - offset)
            .await
            .map(Some)
    }

    /// The stored bytes `[offset, offset + len)` of a blob, whatever chunks hold them.
    async fn read_range(&self, sha256: &str, offset: i64, len: i64) -> Result<Vec<u8>, Error> {
        let end = offset + len;
        let rows = sqlx::query(
            "SELECT offset_at, data FROM blob_chunks WHERE sha256 = $1 AND offset_at < $2
             AND offset_at + $3 > $4 ORDER BY offset_at",
        )
        .bind(sha256)
        .bind(end)
        .bind(BLOB_CHUNK as i64)
        .bind(offset)
        .fetch_all(&self.inner.pool)
        .await?;
        let mut out = Vec::with_capacity(len as usize);
        for r in rows {
            let at: i64 = r.get("offset_at");
            let data: Vec<u8> = r.get("data");
            let from = (offset - at).clamp(0, data.len() as i64) as usize;
            let to = (end - at).clamp(0, data.len() as i64) as usize;
            out.extend_from_slice(&data[from..to]);
        }
        Ok(out)
    }

    /// How many bytes of a blob are held: its size if complete, the bytes received so far if a
    /// transfer is under way, 0 if none.
    pub async fn blob_received(&self, sha256: &str) -> Result<i64, Error> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT received FROM blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(row.map_or(0, |(r,)| r))
    }

    /// Receives one chunk of a blob of `size` bytes: it must start where the bytes held end. The
    /// chunk that brings the blob to its size completes it if the SHA-256 of all its bytes is
    /// `sha256`, and drops everything of it otherwise.
    pub async fn put_blob_chunk(
        &self,
        sha256: &str,
        size: i64,
        media_type: &str,
        offset: i64,
        data: &[u8],
    ) -> Result<ChunkOutcome, Error> {
        let held: Option<(i64, i64)> =
            sqlx::query_as("SELECT received, complete FROM blobs WHERE sha256 = $1")
                .bind(sha256)
                .fetch_optional(&self.inner.pool)
                .await?;
        let received = match held {
            Some((_, 1)) => return Ok(ChunkOutcome::AlreadyHeld),
            Some((r, _)) => r,
            None => 0,
        };
        if offset != received {
            return Ok(ChunkOutcome::OutOfOrder { expected: received });
        }
        let after = offset + data.len() as i64;
        if after > size || data.is_empty() {
            return Ok(ChunkOutcome::TooLong);
        }
        // One statement decides: the bytes held must still end at `offset` (another link may be
        // receiving the same blob), else nothing of this chunk is kept.
        let mut tx = self.inner.pool.begin().await?;
        sqlx::query(
            "INSERT INTO blobs (sha256, size, media_type, received, complete, created) VALUES ($1, $2, $3, 0, 0, $4)
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(size)
        .bind(media_type)
        .bind(now_rfc3339())
        .execute(&mut *tx)
        .await?;
        let moved = sqlx::query(
            "UPDATE blobs SET received = $1 WHERE sha256 = $2 AND received = $3 AND complete = 0",
        )
        .bind(after)
        .bind(sha256)
        .bind(offset)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            tx.rollback().await?;
            return Ok(ChunkOutcome::OutOfOrder {
                expected: self.blob_received(sha256).await?,
            });
        }
        sqlx::query("INSERT INTO blob_chunks (sha256, offset_at, data) VALUES ($1, $2, $3)")
            .bind(sha256)
            .bind(offset)
            .bind(data)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if after < size {
            return Ok(ChunkOutcome::Partial { received: after });
        }
        // Every byte is here: usable only if they are the bytes the hash names.
        let bytes = self.read_range(sha256, 0, size).await?;
        if sha256_hex(&bytes) != sha256 {
            self.drop_blob(sha256).await?;
            return Ok(ChunkOutcome::HashMismatch);
        }
        sqlx::query("UPDATE blobs SET complete = 1 WHERE sha256 = $1")
            .bind(sha256)
            .execute(&self.inner.pool)
            .await?;
        self.inner.blobs_tx.send_modify(|n| *n += 1);
        Ok(ChunkOutcome::Complete)
    }

    /// Removes a blob and its chunks, complete or not.
    pub async fn drop_blob(&self, sha256: &str) -> Result<(), Error> {
        let mut tx = self.inner.pool.begin().await?;
        sqlx::query("DELETE FROM blob_chunks WHERE sha256 = $1")
            .bind(sha256)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM blobs WHERE sha256 = $1")
            .bind(sha256)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a complete blob's bytes against its hash again (a backup restored, a disk suspected);
    /// `None` if it is not held.
    pub async fn verify_blob(&self, sha256: &str) -> Result<Option<bool>, Error> {
        Ok(self
            .read_blob(sha256)
            .await?
            .map(|bytes| sha256_hex(&bytes) == sha256))
    }

    /// The bytes of every blob held, complete or being received (the per-node limit counts them).
    pub async fn blob_bytes(&self) -> Result<i64, Error> {
        let (n,): (Option<i64>,) =
            sqlx::query_as("SELECT CAST(SUM(received) AS BIGINT) FROM blobs")
                .fetch_one(&self.inner.pool)
                .await?;
        Ok(n.unwrap_or(0))
    }

    /// The blobs document `doc_id` references, by name.
    pub async fn blob_refs(&self, doc_id: &str) -> Result<Vec<BlobRef>, Error> {
        let rows = sqlx::query(
            "SELECT doc_id, sha256, size, media_type, name FROM blob_refs WHERE doc_id = $1 ORDER BY name, sha256",
        )
        .bind(doc_id)
        .fetch_all(&self.inner.pool)
        .await?;
        Ok(rows.into_iter().map(blob_ref).collect())
    }

    /// The first name (by document id) a document gives blob `sha256`, if any references it.
    pub async fn blob_name(&self, sha256: &str) -> Result<Option<String>, Error> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT name FROM blob_refs WHERE sha256 = $1 ORDER BY doc_id LIMIT 1")
                .bind(sha256)
                .fetch_optional(&self.inner.pool)
                .await?;
        Ok(row.map(|(n,)| n))
    }

    /// Blobs referenced by a document whose audience names `peer` and not complete here (what this
    /// node may ask `peer` for), at most `limit`, the oldest reference first.
    pub async fn blobs_wanted_from(
        &self,
        peer: &safemesh_model::AdminCode,
        limit: i64,
    ) -> Result<Vec<BlobRef>, Error> {
        let rows = sqlx::query(
            "SELECT r.doc_id, r.sha256, r.size, r.media_type, r.name FROM blob_refs r
             WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = r.sha256 AND b.complete = 1)
             AND EXISTS (SELECT 1 FROM doc_audience a WHERE a.doc_id = r.doc_id
                 AND (a.code = $1 OR (a.subtree = 1 AND substr($2, 1, length(a.code)) = a.code)))
             ORDER BY r.sha256 LIMIT $3",
        )
        .bind(peer.as_str())
        .bind(peer.as_str())
        .bind(limit)
        .fetch_all(&self.inner.pool)
        .await?;
        let mut out: Vec<BlobRef> = rows.into_iter().map(blob_ref).collect();
        out.dedup_by(|a, b| a.sha256 == b.sha256);
        Ok(out)
    }

    /// Whether a document whose audience names `peer` references blob `sha256`: a blob crosses a
    /// link only then, in either direction.
    pub async fn blob_in_scope(
        &self,
        peer: &safemesh_model::AdminCode,
        sha256: &str,
    ) -> Result<Option<BlobRef>, Error> {
        let row = sqlx::query(
            "SELECT r.doc_id, r.sha256, r.size, r.media_type, r.name FROM blob_refs r
             WHERE r.sha256 = $1 AND EXISTS (SELECT 1 FROM doc_audience a WHERE a.doc_id = r.doc_id
                 AND (a.code = $2 OR (a.subtree = 1 AND substr($3, 1, length(a.code)) = a.code)))
             LIMIT 1",
        )
        .bind(sha256)
        .bind(peer.as_str())
        .bind(peer.as_str())
        .fetch_optional(&self.inner.pool)
        .await?;
        Ok(row.map(blob_ref))
    }

    /// Removes every blob (complete or partly received) that no document references and that this
    /// node has held since before `before` (RFC 3339); returns how many it removed.
    pub async fn collect_blobs(&self, before: &str) -> Result<u64, Error> {
        // One transaction, the condition in the statement: a reference written meanwhile keeps
        // its blob.
        let mut tx = self.inner.pool.begin().await?;
        let removed = sqlx::query(
            "DELETE FROM blobs WHERE created < $1
             AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.sha256 = blobs.sha256)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "DELETE FROM blob_chunks WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = blob_chunks.sha256)",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(removed)
    }
}

fn blob_ref(r: sqlx::any::AnyRow) -> BlobRef {
    BlobRef {
        doc_id: r.get("doc_id"),
        sha256: r.get("sha256"),
        size: r.get("size"),
        media_type: r.get("media_type"),
        name: r.get("name"),
    }
}
