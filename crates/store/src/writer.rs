//! The one write session ([`Writer`]): a transaction plus the write lock, so sequence numbers commit
//! in order and a document is never written from a stale copy. This file holds the session itself —
//! starting it, handing out sequence numbers, committing (which moves the watched sequence and fills
//! the cache); what a session writes is in the file of each concept (`docs`, `links`, `summaries`,
//! `tokens`).

use safemesh_doc::AutoCommit;
use sqlx::{Any, Transaction};
use tokio::sync::OwnedMutexGuard;

use crate::error::Error;
use crate::store::{Backend, Store, poisoned};

/// The one write session: a transaction plus the write lock. Dropped without `commit`, nothing is kept.
pub struct Writer {
    pub(crate) store: Store,
    tx: Option<Transaction<'static, Any>>,
    guard: OwnedMutexGuard<i64>,
    pub(crate) seq: i64,
    pub(crate) cached: Vec<(String, AutoCommit)>,
    /// Documents this session inserted (for the planner's statistics).
    pub(crate) new_docs: i64,
}

impl Store {
    /// Starts the one write session. Other writers wait.
    pub async fn writer(&self) -> Result<Writer, Error> {
        let guard = self.inner.write.clone().lock_owned().await;
        self.begin(guard).await
    }

    /// Starts the write session if no other session holds it (`None` if one does): for a test that
    /// shows the writer is free while something else runs.
    pub async fn try_writer(&self) -> Result<Option<Writer>, Error> {
        match self.inner.write.clone().try_lock_owned() {
            Ok(guard) => self.begin(guard).await.map(Some),
            Err(_) => Ok(None),
        }
    }

    async fn begin(&self, guard: OwnedMutexGuard<i64>) -> Result<Writer, Error> {
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
}

impl Writer {
    /// The store this session writes to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn tx(&mut self) -> &mut Transaction<'static, Any> {
        self.tx.as_mut().expect("writer used after commit")
    }

    /// The next sequence number, taken by this session's next write.
    pub(crate) fn next_seq(&mut self) -> i64 {
        self.seq += 1;
        self.seq
    }

    /// Commits everything; wakes watchers if the sequence moved. Returns the committed sequence.
    /// The time the database takes to commit is counted in [`Store::commit_stats`].
    /// Traced as `store.commit`, a child of whatever span the write belongs to.
    #[tracing::instrument(name = "store.commit", level = "info", skip_all, fields(seq = self.seq))]
    pub async fn commit(mut self) -> Result<i64, Error> {
        let started = std::time::Instant::now();
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
        self.store.inner.commits.record(started.elapsed());
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
