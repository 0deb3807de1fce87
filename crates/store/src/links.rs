//! Link bookkeeping: per peer, the cursors (what this node durably received, what the peer
//! acknowledged), the peer's install id, traffic counters and last error, the heads each document is
//! known to have at the peer, the kept Automerge sync states and the pending-repair flag — with the
//! resets that void them when a peer (or this store) is restored. All of it, read and write, is here.

use safemesh_model::AdminCode;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::Error;
use crate::sql::{MAX_BINDS, last_per_id, now_rfc3339, parse_heads, placeholders_after};
use crate::store::Store;
use crate::writer::Writer;

/// Per-link state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkRow {
    pub peer: String,
    pub peer_install: Option<String>,
    pub recv_cursor: i64,
    pub acked_cursor: i64,
    pub last_sync_at: Option<String>,
    pub bytes_in: i64,
    pub bytes_out: i64,
    pub last_error: Option<String>,
    /// The serial of the certificate the peer's link state is bound to (the last stream's), if known.
    pub peer_serial: Option<String>,
    /// What the peer's subtree holds here, for its quotas (a child's link): the documents received
    /// from it that were new here, and the bytes stored from it (format 16).
    pub held_docs: i64,
    pub held_bytes: i64,
}

impl Store {
    pub async fn link(&self, peer: &AdminCode) -> Result<LinkRow, Error> {
        let row = sqlx::query("SELECT * FROM links WHERE peer = $1")
            .bind(peer.as_str())
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(row.map(link_row).unwrap_or_else(|| LinkRow {
            peer: peer.to_string(),
            ..Default::default()
        }))
    }

    pub async fn links(&self) -> Result<Vec<LinkRow>, Error> {
        let rows = sqlx::query("SELECT * FROM links ORDER BY peer")
            .fetch_all(&self.inner.pool)
            .await?;
        Ok(rows.into_iter().map(link_row).collect())
    }

    /// Adds a finished stream's traffic and last error to a link's stored counters.
    pub async fn add_traffic(
        &self,
        peer: &AdminCode,
        bytes_in: i64,
        bytes_out: i64,
        error: Option<&str>,
    ) -> Result<(), Error> {
        // Every write goes through the one writer: on SQLite a write beside it would make the
        // writer's transaction fail with a stale snapshot.
        let mut w = self.writer().await?;
        sqlx::query(
            "INSERT INTO links (peer, bytes_in, bytes_out, last_error) VALUES ($1, $2, $3, $4)
             ON CONFLICT (peer) DO UPDATE SET bytes_in = links.bytes_in + excluded.bytes_in,
             bytes_out = links.bytes_out + excluded.bytes_out, last_error = COALESCE(excluded.last_error, links.last_error)",
        )
        .bind(peer.as_str())
        .bind(bytes_in)
        .bind(bytes_out)
        .bind(error)
        .execute(&mut **w.tx())
        .await?;
        w.commit().await?;
        Ok(())
    }

    pub async fn peer_heads(
        &self,
        peer: &AdminCode,
        doc_id: &str,
    ) -> Result<Option<Vec<String>>, Error> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT heads FROM peer_heads WHERE peer = $1 AND doc_id = $2")
                .bind(peer.as_str())
                .bind(doc_id)
                .fetch_optional(&self.inner.pool)
                .await?;
        Ok(row.map(|(h,)| parse_heads(h)))
    }

    /// The kept Automerge sync state for (peer, document) (`sync::State::encode()`), if a delta for
    /// it ever fell back to Automerge's sync protocol on this link (DESIGN §5.6).
    pub async fn sync_state(
        &self,
        peer: &AdminCode,
        doc_id: &str,
    ) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.sync_states(peer, &[doc_id]).await?.remove(doc_id))
    }

    /// The kept sync states of `peer` for those of `ids` that have one ([`Store::sync_state`]).
    pub async fn sync_states(
        &self,
        peer: &AdminCode,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, Vec<u8>>, Error> {
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(MAX_BINDS) {
            let sql = format!(
                "SELECT doc_id, state FROM sync_states WHERE peer = $1 AND doc_id IN ({})",
                placeholders_after(1, chunk.len())
            );
            let mut q = sqlx::query_as::<_, (String, Vec<u8>)>(sqlx::AssertSqlSafe(sql))
                .bind(peer.as_str());
            for id in chunk {
                q = q.bind(*id);
            }
            out.extend(q.fetch_all(&self.inner.pool).await?);
        }
        Ok(out)
    }

    /// Whether a digest repair with `peer` was started and has not finished (docs/PROTOCOL.md §8):
    /// kept in `meta` as `repair:<peer>`, so a repair cut off by a dropped stream runs again on the
    /// next one instead of falling back to resending.
    pub async fn repair_pending(&self, peer: &AdminCode) -> Result<bool, Error> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = $1")
            .bind(format!("repair:{peer}"))
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Gives this store a new install id and forgets every link's cursors and peer heads. Run once on a
    /// store restored from a backup, before the node starts: peers then see a new install and the two
    /// sides resend what the other may lack.
    pub async fn new_install(&self) -> Result<String, Error> {
        let id = hex::encode(rand::random::<[u8; 8]>());
        let mut w = self.writer().await?;
        sqlx::query("UPDATE meta SET value = $1 WHERE key = 'install_id'")
            .bind(&id)
            .execute(&mut **w.tx())
            .await?;
        sqlx::query("DELETE FROM peer_heads")
            .execute(&mut **w.tx())
            .await?;
        sqlx::query("DELETE FROM links")
            .execute(&mut **w.tx())
            .await?;
        w.commit().await?;
        Ok(id)
    }
}

impl Writer {
    /// Records what this node has durably received from `peer`, and the peer's install id.
    pub async fn set_recv_cursor(
        &mut self,
        peer: &AdminCode,
        cursor: i64,
        peer_install: &str,
    ) -> Result<(), Error> {
        let now = now_rfc3339();
        sqlx::query(
            "INSERT INTO links (peer, peer_install, recv_cursor, last_sync_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (peer) DO UPDATE SET peer_install = excluded.peer_install,
             recv_cursor = excluded.recv_cursor, last_sync_at = excluded.last_sync_at",
        )
        .bind(peer.as_str())
        .bind(peer_install)
        .bind(cursor)
        .bind(now)
        .execute(&mut **self.tx())
        .await?;
        Ok(())
    }

    /// Adds what a batch from `peer` stored here — `docs` documents new here, `bytes` bytes — to the
    /// counts its quotas are checked against ([`LinkRow::held_docs`]), in the batch's transaction.
    pub async fn add_held(&mut self, peer: &AdminCode, docs: i64, bytes: i64) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO links (peer, held_docs, held_bytes) VALUES ($1, $2, $3)
             ON CONFLICT (peer) DO UPDATE SET held_docs = links.held_docs + excluded.held_docs,
             held_bytes = links.held_bytes + excluded.held_bytes",
        )
        .bind(peer.as_str())
        .bind(docs)
        .bind(bytes)
        .execute(&mut **self.tx())
        .await?;
        Ok(())
    }

    /// Records the install id of `peer` (first contact, or after a reset).
    pub async fn set_peer_install(&mut self, peer: &AdminCode, install: &str) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO links (peer, peer_install) VALUES ($1, $2)
             ON CONFLICT (peer) DO UPDATE SET peer_install = excluded.peer_install",
        )
        .bind(peer.as_str())
        .bind(install)
        .execute(&mut **self.tx())
        .await?;
        Ok(())
    }

    /// Binds `peer`'s link state to the certificate serial it connected with (see
    /// [`LinkRow::peer_serial`]).
    pub async fn set_peer_serial(&mut self, peer: &AdminCode, serial: &str) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO links (peer, peer_serial) VALUES ($1, $2)
             ON CONFLICT (peer) DO UPDATE SET peer_serial = excluded.peer_serial",
        )
        .bind(peer.as_str())
        .bind(serial)
        .execute(&mut **self.tx())
        .await?;
        Ok(())
    }

    /// Records how far `peer` has acknowledged this node's sequence.
    pub async fn set_acked(&mut self, peer: &AdminCode, cursor: i64) -> Result<(), Error> {
        let now = now_rfc3339();
        sqlx::query(
            "INSERT INTO links (peer, acked_cursor, last_sync_at) VALUES ($1, $2, $3)
             ON CONFLICT (peer) DO UPDATE SET acked_cursor = CASE WHEN excluded.acked_cursor > links.acked_cursor THEN excluded.acked_cursor ELSE links.acked_cursor END, last_sync_at = excluded.last_sync_at",
        )
        .bind(peer.as_str())
        .bind(cursor)
        .bind(now)
        .execute(&mut **self.tx())
        .await?;
        Ok(())
    }

    /// Marks a digest repair with `peer` as started (`true`) or finished (`false`); see
    /// [`Store::repair_pending`].
    pub async fn set_repair_pending(
        &mut self,
        peer: &AdminCode,
        pending: bool,
    ) -> Result<(), Error> {
        let key = format!("repair:{peer}");
        if pending {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, '1') ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .execute(&mut **self.tx())
            .await?;
        } else {
            sqlx::query("DELETE FROM meta WHERE key = $1")
                .bind(key)
                .execute(&mut **self.tx())
                .await?;
        }
        Ok(())
    }

    /// Forgets what a peer was known to hold, and the sync states kept with it (it was restored: a new
    /// install id).
    pub async fn reset_peer(&mut self, peer: &AdminCode) -> Result<(), Error> {
        sqlx::query("DELETE FROM peer_heads WHERE peer = $1")
            .bind(peer.as_str())
            .execute(&mut **self.tx())
            .await?;
        // The sync states describe what the old install shared with us: void too.
        sqlx::query("DELETE FROM sync_states WHERE peer = $1")
            .bind(peer.as_str())
            .execute(&mut **self.tx())
            .await?;
        sqlx::query("UPDATE links SET recv_cursor = 0, acked_cursor = 0 WHERE peer = $1")
            .bind(peer.as_str())
            .execute(&mut **self.tx())
            .await?;
        Ok(())
    }

    /// Keeps the Automerge sync state for (peer, document) (see [`Store::sync_state`]).
    pub async fn set_sync_state(
        &mut self,
        peer: &AdminCode,
        doc_id: &str,
        state: &[u8],
    ) -> Result<(), Error> {
        self.set_sync_states(peer, &[(doc_id.to_string(), state.to_vec())])
            .await
    }

    /// [`Writer::set_sync_state`] for many documents, a few dozen per statement. A document named
    /// twice keeps its last state.
    pub async fn set_sync_states(
        &mut self,
        peer: &AdminCode,
        states: &[(String, Vec<u8>)],
    ) -> Result<(), Error> {
        let states = last_per_id(states);
        let now = now_rfc3339();
        for chunk in states.chunks(MAX_BINDS / 2) {
            // `$1` is the peer and `$2` the time; each row's two binds follow.
            let values: Vec<String> = (0..chunk.len())
                .map(|r| format!("($1, {}, $2)", placeholders_after(2 + 2 * r, 2)))
                .collect();
            let sql = format!(
                "INSERT INTO sync_states (peer, doc_id, state, updated_at) VALUES {}
                 ON CONFLICT (peer, doc_id) DO UPDATE SET state = excluded.state,
                     updated_at = excluded.updated_at",
                values.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(peer.as_str())
                .bind(&now);
            for (id, state) in chunk {
                q = q.bind(id.as_str()).bind(state.as_slice());
            }
            q.execute(&mut **self.tx()).await?;
        }
        Ok(())
    }

    pub async fn forget_peer_heads(&mut self, peer: &AdminCode, doc_id: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM peer_heads WHERE peer = $1 AND doc_id = $2")
            .bind(peer.as_str())
            .bind(doc_id)
            .execute(&mut **self.tx())
            .await?;
        Ok(())
    }

    pub async fn set_peer_heads(
        &mut self,
        peer: &AdminCode,
        doc_id: &str,
        heads: &[String],
    ) -> Result<(), Error> {
        self.set_peer_heads_many(peer, &[(doc_id.to_string(), heads.to_vec())])
            .await
    }

    /// [`Writer::set_peer_heads`] for many documents, a few hundred per statement. A document named
    /// twice keeps its last heads.
    pub async fn set_peer_heads_many(
        &mut self,
        peer: &AdminCode,
        docs: &[(String, Vec<String>)],
    ) -> Result<(), Error> {
        let docs = last_per_id(docs);
        for chunk in docs.chunks(MAX_BINDS / 2) {
            // `$1` is the shared peer; each row's two binds follow.
            let values: Vec<String> = (0..chunk.len())
                .map(|r| format!("($1, {})", placeholders_after(1 + 2 * r, 2)))
                .collect();
            let sql = format!(
                "INSERT INTO peer_heads (peer, doc_id, heads) VALUES {}
                 ON CONFLICT (peer, doc_id) DO UPDATE SET heads = excluded.heads",
                values.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(peer.as_str());
            for (id, heads) in chunk.iter().copied() {
                q = q
                    .bind(id.as_str())
                    .bind(serde_json::to_string(heads).unwrap_or_default());
            }
            q.execute(&mut **self.tx()).await?;
        }
        Ok(())
    }
}

fn link_row(r: AnyRow) -> LinkRow {
    LinkRow {
        peer: r.get("peer"),
        peer_install: r.get("peer_install"),
        recv_cursor: r.get("recv_cursor"),
        acked_cursor: r.get("acked_cursor"),
        last_sync_at: r.get("last_sync_at"),
        bytes_in: r.get("bytes_in"),
        bytes_out: r.get("bytes_out"),
        last_error: r.get("last_error"),
        peer_serial: r.get("peer_serial"),
        held_docs: r.get("held_docs"),
        held_bytes: r.get("held_bytes"),
    }
}
