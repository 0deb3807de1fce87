//! Opening a store: choosing the backend from the URL, the pool and its SQLite pragmas (WAL,
//! `synchronous = FULL`, page cache, busy timeout), then migrating (`migrate`) and reading what a
//! store keeps in `meta` (its install id and last sequence) into a new [`Store`] handle.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection};
use tokio::sync::{Mutex, watch};

use crate::cache::DocCache;
use crate::error::Error;
use crate::store::{Backend, Inner, Store};

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
                    // A connection sqlx still counts in a transaction once it is released is closed,
                    // never handed out again: when a COMMIT fails for a full disk, SQLite has already
                    // rolled back, so sqlx's ROLLBACK fails too and its transaction depth stays at 1;
                    // every later `BEGIN IMMEDIATE` on that connection would fail ("non-zero
                    // transaction depth"), and a link using it could never apply a batch again.
                    .after_release(|conn, _| {
                        Box::pin(async move {
                            // Runs the rollback a dropped transaction queued, then looks.
                            conn.ping().await?;
                            Ok(!conn.is_in_transaction())
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
        crate::migrate::run(&pool, backend).await?;
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
                traces: Default::default(),
                commits: Default::default(),
                blobs_tx: tokio::sync::watch::channel(0).0,
            }),
        })
    }
}
