//! The `Store` handle: what every part of the store shares (the pool, the write lock, the document
//! cache, the committed sequence and its watchers). The operations on it live with their concept —
//! opening in `open`, the write session in `writer`, documents in `docs`, link bookkeeping in
//! `links`, what crosses a link in `scope`, summaries in `summaries`, read queries in `query` — so
//! this file stays the one place that says what a store holds.

use std::sync::Arc;

use sqlx::AnyPool;
use tokio::sync::{Mutex, watch};

use crate::cache::DocCache;
use crate::error::Error;

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (the default).
    Sqlite,
    /// PostgreSQL, for large nodes.
    Postgres,
}

/// The node's store: a cheap clonable handle.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

/// What the handles of one store share.
pub(crate) struct Inner {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// The write lock; holds the last committed sequence number.
    pub(crate) write: Arc<Mutex<i64>>,
    pub(crate) cache: std::sync::Mutex<DocCache>,
    pub(crate) install_id: String,
    pub(crate) seq_tx: watch::Sender<i64>,
    /// Growth since the planner's statistics were refreshed (PostgreSQL; see `planner`).
    pub(crate) growth: Arc<crate::planner::Growth>,
    /// The trace context of recent changes, for the links that send them on (`traces`).
    pub(crate) traces: crate::traces::TraceNotes,
    /// How long commits take (see `stats`).
    pub(crate) commits: crate::commit_times::CommitTimes,
    /// Counts blobs completed (stored whole and verified), for links waiting to serve one (`blobs`).
    pub(crate) blobs_tx: watch::Sender<u64>,
}

impl Store {
    /// The random id of this store's install; a restored store gets a new one, which tells peers to
    /// reset their cursors.
    pub fn install_id(&self) -> &str {
        &self.inner.install_id
    }

    /// The trace context of each document's latest change, while traces are exported.
    pub fn traces(&self) -> &crate::traces::TraceNotes {
        &self.inner.traces
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

    /// Watches the blobs completed in this store (a link that was asked for one it lacked serves it
    /// once it is here).
    pub fn subscribe_blobs(&self) -> watch::Receiver<u64> {
        self.inner.blobs_tx.subscribe()
    }

    pub async fn close(&self) {
        self.inner.pool.close().await;
    }
}

/// The error of a panicked holder of the cache lock.
pub(crate) fn poisoned() -> Error {
    Error::Corrupt {
        id: "(cache)".into(),
        reason: "cache lock poisoned".into(),
    }
}
