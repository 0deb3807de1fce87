//! The seam a deterministic harness drives the runner through (the testkit's in-memory mesh): what a
//! runner is doing, and whose clock its timers follow. Production leaves [`LinkConfig::hook`] at
//! `None`: the runner then uses tokio's clock and reports nothing (one `Option` test per event).
//!
//! With a hook, the harness can tell when nothing can happen any more without outside input — every
//! runner waiting, every frame sent also received, every local commit seen — and only then let time
//! pass, to the earliest timer a runner waits on. So a rate-limit pause or the drain on close lasts
//! the same virtual time whatever SQLite's threads do meanwhile.
//!
//! [`LinkConfig::hook`]: crate::LinkConfig::hook

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::future::Either;
use tokio::time::Instant;

/// What a runner tells its harness, and the clock it asks it for. One hook serves one stream.
pub trait Hook: Send + Sync {
    /// The runner has handled everything it was given — the store's seq up to `seen_seq` included —
    /// and waits for its next input (a frame, a local commit, a timer, shutdown).
    fn idle(&self, seen_seq: i64);
    /// The runner took up an input; it is busy until the next [`Hook::idle`].
    fn busy(&self);
    /// `n` frames are about to be handed to the transport.
    fn sent(&self, n: usize);
    /// A frame was taken from the transport — or its end: the peer hung up, which is an input too.
    fn received(&self);
    /// The runner's clock.
    fn now(&self) -> Instant;
    /// Completes once [`Hook::now`] has reached `at`. Nothing may happen before the future is first
    /// polled (the runner builds it on every turn of its loop, polled or not).
    fn sleep_until(&self, at: Instant) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The clock of a runner configured with `hook`.
pub(crate) fn now(hook: Option<&dyn Hook>) -> Instant {
    hook.map_or_else(Instant::now, Hook::now)
}

/// Sleeps until `at` on the runner's clock.
pub(crate) fn sleep_until(hook: Option<&dyn Hook>, at: Instant) -> impl Future<Output = ()> {
    match hook {
        Some(h) => Either::Left(h.sleep_until(at)),
        None => Either::Right(tokio::time::sleep_until(at)),
    }
}

/// `fut`, unless `at` passes first on the runner's clock.
pub(crate) async fn timeout_at<T>(
    hook: Option<&dyn Hook>,
    at: Instant,
    fut: impl Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        biased;
        v = fut => Some(v),
        _ = sleep_until(hook, at) => None,
    }
}

/// `d` from now on the runner's clock.
pub(crate) fn after(hook: Option<&dyn Hook>, d: Duration) -> Instant {
    now(hook) + d
}

/// A test's gate on a received batch's checks: awaited after the runner has read the stored
/// documents the batch touches and before their Automerge work starts, without the store's writer
/// held — so a harness can show that other writers go on meanwhile. `None` in production
/// ([`crate::LinkConfig::checking`]).
pub type CheckGate =
    std::sync::Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;
