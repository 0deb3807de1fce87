//! The `Store` handle and its single `Writer`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use safemesh_doc::{AutoCommit, ChangeHash, Header, heads_to_hex};
use safemesh_model::AdminCode;
use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, Row, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use crate::cache::DocCache;
use crate::{Error, FORMAT_VERSION, MAX_BINDS, project};

/// Chunks a document may accumulate before it is compacted into one snapshot.
const COMPACT_AFTER_CHUNKS: i64 = 32;

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (the default).
    Sqlite,
    /// PostgreSQL, for large nodes.
    Postgres,
}

/// A URL with its password removed, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let cred = &url[s + 3..at];
            match cred.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The node's store: a cheap clonable handle.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    backend: Backend,
    /// The write lock; holds the last committed sequence number.
    write: Arc<Mutex<i64>>,
    cache: std::sync::Mutex<DocCache>,
    install_id: String,
    seq_tx: watch::Sender<i64>,
    /// Growth since the planner's statistics were refreshed (PostgreSQL; see `planner`).
    growth: Arc<crate::planner::Growth>,
}

/// A document's row, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDoc {
    pub id: String,
    pub kind: String,
    pub owner: String,
    pub heads: Vec<String>,
    pub seq: i64,
}

/// A document changed since some cursor, as the sync engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedDoc {
    pub id: String,
    pub seq: i64,
    pub heads: Vec<String>,
    /// What the peer is known to hold, if anything.
    pub peer_heads: Option<Vec<String>>,
}

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
}

/// Resource bounds of one store (the page cache applies to SQLite only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteLimits {
    /// Connections in the pool (SQLite: each is a worker thread; 2 at least).
    pub connections: u32,
    /// Documents kept decoded in the store's cache.
    pub cached_docs: usize,
    /// SQLite page cache per connection, in KiB.
    pub page_cache_kib: u32,
}

impl Default for SqliteLimits {
    fn default() -> Self {
        SqliteLimits {
            connections: 4,
            cached_docs: 4096,
            page_cache_kib: 2000,
        }
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite store at `path` and runs migrations.
    pub async fn open_sqlite(path: &Path) -> Result<Store, Error> {
        Self::open_url(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// Like [`Store::open_sqlite`] within `limits`: a process holding thousands of stores, as the
    /// province simulation does, needs fewer connections (each is a thread and three files) and
    /// smaller caches than one node's store.
    pub async fn open_sqlite_with(path: &Path, limits: SqliteLimits) -> Result<Store, Error> {
        Self::open_with(&format!("sqlite://{}?mode=rwc", path.display()), limits).await
    }

    /// Opens a store from a URL: `sqlite://PATH?mode=rwc` or `postgres://USER@HOST:PORT/DB`.
    /// Creates the schema on first start; refuses a database whose stored format is newer.
    pub async fn open_url(url: &str) -> Result<Store, Error> {
        Self::open_with(url, SqliteLimits::default()).await
    }

    async fn open_with(url: &str, limits: SqliteLimits) -> Result<Store, Error> {
        let page_cache = format!("PRAGMA cache_size = -{}", limits.page_cache_kib.max(64));
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(Error::Unsupported(url.to_string()));
        };
        let opts = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let pool = match backend {
            Backend::Sqlite => {
                // WAL, and FULL sync: what is acknowledged survives a power cut.
                // Two at least: a batch's writer holds one while the link's cursor is read.
                opts.max_connections(limits.connections.max(2))
                    .after_connect(move |conn, _| {
                        let page_cache = page_cache.clone();
                        Box::pin(async move {
                            sqlx::query(sqlx::AssertSqlSafe(page_cache))
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA journal_mode = WAL")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA synchronous = FULL")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA busy_timeout = 10000")
                                .execute(&mut *conn)
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
            Backend::Postgres => {
                opts.max_connections(16)
                    .connect(url)
                    .await
                    .map_err(|e| Error::Unreachable {
                        url: redact(url),
                        reason: e.to_string(),
                    })?
            }
        };
        Self::from_pool(pool, backend, limits.cached_docs).await
    }

    async fn from_pool(
        pool: AnyPool,
        backend: Backend,
        cached_docs: usize,
    ) -> Result<Store, Error> {
        // Refuse a database written by a newer build before touching it.
        let has_meta: Option<(String,)> = match backend {
            Backend::Sqlite => {
                sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'")
                    .fetch_optional(&pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::query_as("SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'meta'")
                    .fetch_optional(&pool)
                    .await?
            }
        };
        if has_meta.is_some() {
            let found: Option<(String,)> =
                sqlx::query_as("SELECT value FROM meta WHERE key = 'format'")
                    .fetch_optional(&pool)
                    .await?;
            if let Some((v,)) = found {
                let v: i64 = v.parse().unwrap_or(i64::MAX);
                if v > FORMAT_VERSION {
                    return Err(Error::TooNew {
                        found: v,
                        supported: FORMAT_VERSION,
                    });
                }
            }
        }
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        // The format this build wrote last: an older build refuses the database with a clear message
        // instead of tripping over a migration it does not know.
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('format', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(FORMAT_VERSION.to_string())
        .execute(&pool)
        .await?;
        let install: Option<(String,)> =
            sqlx::query_as("SELECT value FROM meta WHERE key = 'install_id'")
                .fetch_optional(&pool)
                .await?;
        let install_id = match install {
            Some((v,)) => v,
            None => {
                let v = hex::encode(rand::random::<[u8; 8]>());
                sqlx::query("INSERT INTO meta (key, value) VALUES ('install_id', $1)")
                    .bind(&v)
                    .execute(&pool)
                    .await?;
                v
            }
        };
        let seq: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = 'seq'")
            .fetch_optional(&pool)
            .await?;
        let seq = seq.and_then(|(v,)| v.parse().ok()).unwrap_or(0i64);
        let (seq_tx, _) = watch::channel(seq);
        let analyzed = match backend {
            Backend::Postgres => crate::planner::estimated_documents(&pool).await?,
            Backend::Sqlite => 0,
        };
        Ok(Store {
            inner: Arc::new(Inner {
                pool,
                backend,
                write: Arc::new(Mutex::new(seq)),
                cache: std::sync::Mutex::new(DocCache::new(cached_docs.max(1))),
                install_id,
                seq_tx,
                growth: Arc::new(crate::planner::Growth::new(analyzed)),
            }),
        })
    }

    /// The random id of this store's install; a restored store gets a new one, which tells peers to
    /// reset their cursors.
    pub fn install_id(&self) -> &str {
        &self.inner.install_id
    }

    /// Which database this store runs on.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// The last committed sequence number.
    pub fn current_seq(&self) -> i64 {
        *self.inner.seq_tx.borrow()
    }

    /// Watches the committed sequence number (wakes link drivers to push new changes).
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.inner.seq_tx.subscribe()
    }

    /// Starts the one write session. Other writers wait.
    pub async fn writer(&self) -> Result<Writer, Error> {
        let guard = self.inner.write.clone().lock_owned().await;
        let seq = *guard;
        // SQLite: take the write lock when the transaction starts, so a write from another process
        // (e.g. `safemesh token` beside a running node) waits instead of failing a stale read snapshot.
        let tx = match self.inner.backend {
            Backend::Sqlite => self.inner.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.inner.pool.begin().await?,
        };
        Ok(Writer {
            store: self.clone(),
            tx: Some(tx),
            guard,
            seq,
            cached: Vec::new(),
            new_docs: 0,
        })
    }

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

    /// Summaries to send up to the parent (every summary this node holds goes to every ancestor),
    /// written after `after`, in seq order.
    pub async fn summaries_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<project::SummaryRow>, Error> {
        project::summaries_after(&self.inner.pool, after, limit).await
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

    pub async fn close(&self) {
        self.inner.pool.close().await;
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

/// `$1, $2, …, $n` for an `IN (…)` list.
fn placeholders(n: usize) -> String {
    placeholders_after(0, n)
}

/// `$(after+1), …, $(after+n)`.
/// Each id's last row of `rows`, in their order: a multi-row upsert may not name a key twice.
fn last_per_id<T>(rows: &[(String, T)]) -> Vec<&(String, T)> {
    let last: std::collections::HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    rows.iter()
        .enumerate()
        .filter(|(i, (id, _))| last.get(id.as_str()) == Some(i))
        .map(|(_, r)| r)
        .collect()
}

fn placeholders_after(after: usize, n: usize) -> String {
    (after + 1..=after + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, …, $width), ($(width+1), …), …` for `rows` tuples of a multi-row `VALUES`.
pub(crate) fn tuples(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders_after(r * width, width)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn poisoned() -> Error {
    Error::Corrupt {
        id: "(cache)".into(),
        reason: "cache lock poisoned".into(),
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
    }
}

pub(crate) fn parse_heads(s: String) -> Vec<String> {
    serde_json::from_str(&s).unwrap_or_default()
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

/// A document new to this store, for [`Writer::put_new_docs_bytes`]: its stored bytes as received,
/// and its projection if already computed (by the thread that checked it).
pub struct NewDoc {
    pub id: String,
    pub doc: AutoCommit,
    pub bytes: Vec<u8>,
    pub projection: Option<crate::Projection>,
}

/// The one write session: a transaction plus the write lock. Dropped without `commit`, nothing is kept.
pub struct Writer {
    store: Store,
    tx: Option<Transaction<'static, Any>>,
    guard: OwnedMutexGuard<i64>,
    seq: i64,
    cached: Vec<(String, AutoCommit)>,
    /// Documents this session inserted (for the planner's statistics).
    new_docs: i64,
}

impl Writer {
    pub(crate) fn tx(&mut self) -> &mut Transaction<'static, Any> {
        self.tx.as_mut().expect("writer used after commit")
    }

    fn next_seq(&mut self) -> i64 {
        self.seq += 1;
        self.seq
    }

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

    /// Which of `ids` this store holds (one query per few hundred ids).
    pub async fn existing(
        &mut self,
        ids: &[&str],
    ) -> Result<std::collections::HashSet<String>, Error> {
        let mut out = std::collections::HashSet::new();
        for chunk in ids.chunks(MAX_BINDS) {
            let sql = format!(
                "SELECT id FROM documents WHERE id IN ({})",
                placeholders(chunk.len())
            );
            let mut q = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for (id,) in q.fetch_all(&mut **self.tx()).await? {
                out.insert(id);
            }
        }
        // Written earlier in this session and not yet committed: the query sees them too (same
        // transaction), so nothing else to add.
        Ok(out)
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
        sqlx::query(
            "INSERT INTO summaries (owner, version, period, as_of, body, seq, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (owner) DO UPDATE SET version = excluded.version, period = excluded.period, as_of = excluded.as_of,
             body = excluded.body, seq = excluded.seq, received_at = excluded.received_at",
        )
        .bind(owner.as_str())
        .bind(version)
        .bind(period)
        .bind(as_of)
        .bind(body)
        .bind(seq)
        .bind(&now)
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

    /// Commits everything; wakes watchers if the sequence moved. Returns the committed sequence.
    pub async fn commit(mut self) -> Result<i64, Error> {
        let seq = self.seq;
        let moved = seq != *self.guard;
        if moved {
            sqlx::query("INSERT INTO meta (key, value) VALUES ('seq', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                .bind(seq.to_string())
                .execute(&mut **self.tx())
                .await?;
        }
        if let Some(tx) = self.tx.take() {
            tx.commit().await?;
        }
        {
            let mut cache = self.store.inner.cache.lock().map_err(|_| poisoned())?;
            cache.generation += 1;
            for (id, doc) in self.cached.drain(..) {
                cache.put(&id, doc);
            }
        }
        *self.guard = seq;
        if moved {
            self.store.inner.seq_tx.send_replace(seq);
        }
        if self.store.inner.backend == Backend::Postgres {
            crate::planner::grew(
                &self.store.inner.pool,
                &self.store.inner.growth,
                self.new_docs,
            );
        }
        Ok(seq)
    }
}

/// Number of documents held (for status and benchmarks).
pub async fn count_documents(store: &Store) -> Result<i64, Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM documents")
        .fetch_one(store.pool())
        .await?;
    Ok(n)
}

/// Now as RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
