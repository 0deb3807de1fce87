//! What every runner of a mesh is doing, and the mesh's clock: the state behind "quiet".
//!
//! Each runner reports through its [`RunnerHook`] (the link crate's [`Hook`]): busy or waiting, the
//! store seq it has taken in, frames it sent (counted at the receiver as incoming) and frames it took
//! in — the end of a stream is such an input too (a hang-up, or the peer runner ending). The mesh is
//! **quiet** when every live runner waits, has seen its store's current seq, and has taken in every
//! frame sent to it. Every report wakes the waiters ([`Activity::drive_until`]), which
//! re-check the condition: waiting is awaiting a [`Notify`], never polling.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use safemesh_link::Hook;
use safemesh_store::Store;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

/// A bound against hangs on every wait (real time; not a clock the code under test sees). SQLite
/// commits take real time on sqlx's threads, and CI machines are shared, so it is generous.
pub const HANG: Duration = Duration::from_secs(120);

/// Whose time the runners' timers follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Virtual: time stands still until the mesh is quiet, then jumps to the earliest timer a runner
    /// waits on (tests).
    Virtual,
    /// tokio's clock, and runners as in production: no hook, so nothing reported and no quiet to
    /// wait for (benchmarks, which measure wall time and wait for their own conditions).
    Real,
}

/// One runner as the mesh sees it.
struct Runner {
    /// What it is, for failure messages (`node → peer`).
    label: String,
    store: Store,
    busy: bool,
    seen_seq: i64,
    /// Frames sent to it, and taken in by it.
    incoming: u64,
    received: u64,
    ended: bool,
}

/// A runner waiting on the virtual clock.
struct Timer {
    at: Instant,
    runner: u64,
    wake: oneshot::Sender<()>,
}

struct Inner {
    runners: BTreeMap<u64, Runner>,
    next_id: u64,
    /// The virtual clock is `base + offset`.
    base: Instant,
    offset: Duration,
    timers: Vec<Timer>,
}

/// The shared state of one mesh's runners.
pub(crate) struct Activity {
    clock: Clock,
    inner: Mutex<Inner>,
    changed: Notify,
}

impl Activity {
    pub(crate) fn new(clock: Clock) -> Arc<Activity> {
        Arc::new(Activity {
            clock,
            inner: Mutex::new(Inner {
                runners: BTreeMap::new(),
                next_id: 0,
                base: Instant::now(),
                offset: Duration::ZERO,
                timers: Vec::new(),
            }),
            changed: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a runner about to be spawned: busy until it first waits.
    pub(crate) fn add_runner(&self, label: String, store: Store) -> u64 {
        let mut g = self.lock();
        let id = g.next_id;
        g.next_id += 1;
        let seen_seq = store.current_seq();
        g.runners.insert(
            id,
            Runner {
                label,
                store,
                busy: true,
                seen_seq,
                incoming: 0,
                received: 0,
                ended: false,
            },
        );
        id
    }

    /// Forgets a runner that has ended (its stream was cut or closed).
    /// Wakes whoever waits on the mesh (a fault at a seam engaged).
    pub(crate) fn poke(&self) {
        self.changed.notify_waiters();
    }

    pub(crate) fn remove_runner(&self, id: u64) {
        self.lock().runners.remove(&id);
        self.changed.notify_waiters();
    }

    /// Applies `f` to runner `id` (if it is still known) and wakes the waiters.
    fn update(&self, id: u64, f: impl FnOnce(&mut Runner)) {
        if let Some(r) = self.lock().runners.get_mut(&id) {
            f(r);
        }
        self.changed.notify_waiters();
    }

    /// `n` frames are on their way to runner `id` (sent by its peer, or by a test playing the peer).
    pub(crate) fn sent_to(&self, id: u64, n: usize) {
        self.update(id, |r| r.incoming += n as u64);
    }

    pub(crate) fn ended(&self, id: u64) -> bool {
        self.lock().runners.get(&id).is_none_or(|r| r.ended)
    }

    /// The hook runner `id` reports through (frames it sends count as incoming at `peer`); none on
    /// the real clock, where runners run as in production.
    pub(crate) fn hook(self: &Arc<Self>, id: u64, peer: Option<u64>) -> Option<Arc<dyn Hook>> {
        match self.clock {
            Clock::Virtual => Some(Arc::new(RunnerHook {
                act: self.clone(),
                me: id,
                peer,
            })),
            Clock::Real => None,
        }
    }

    pub(crate) fn clock(&self) -> Clock {
        self.clock
    }

    /// A guard that marks runner `id` ended when dropped (also when its task panics); the end of
    /// its stream is then on its way to `peer`, which takes it in as it would a frame.
    pub(crate) fn end_guard(self: &Arc<Self>, id: u64, peer: Option<u64>) -> EndGuard {
        EndGuard {
            act: self.clone(),
            id,
            peer,
        }
    }

    pub(crate) fn now(&self) -> Instant {
        match self.clock {
            Clock::Virtual => {
                let g = self.lock();
                g.base + g.offset
            }
            Clock::Real => Instant::now(),
        }
    }

    /// Why the mesh is not quiet, or `None` if it is: every live runner waits, has seen its store's
    /// seq and taken in every frame sent to it — unless it waits on a timer, as a runner paused by
    /// its rate limit does, which reads nothing before the timer fires. (On the real clock runners
    /// report nothing, so they stay busy: such a mesh is never quiet.)
    pub(crate) fn unquiet(&self) -> Option<String> {
        let g = self.lock();
        for (id, r) in g.runners.iter().filter(|(_, r)| !r.ended) {
            if r.busy {
                return Some(format!("{} busy", r.label));
            }
            let seq = r.store.current_seq();
            if r.seen_seq != seq {
                return Some(format!("{} has seen seq {} of {seq}", r.label, r.seen_seq));
            }
            let paused = || {
                g.timers
                    .iter()
                    .any(|t| t.runner == *id && !t.wake.is_closed())
            };
            if r.incoming != r.received && !paused() {
                return Some(format!(
                    "{}: {} of {} frames taken in",
                    r.label, r.received, r.incoming
                ));
            }
        }
        None
    }

    /// Moves the virtual clock to the earliest timer a runner waits on and wakes the runners whose
    /// time has come (marked busy at once, before they run). False if no runner waits on a timer.
    fn advance(&self) -> bool {
        if self.clock == Clock::Real {
            return false;
        }
        let mut g = self.lock();
        g.timers.retain(|t| !t.wake.is_closed());
        let Some(at) = g.timers.iter().map(|t| t.at).min() else {
            return false;
        };
        let now = g.base + g.offset;
        if at > now {
            g.offset = at - g.base;
        }
        let (due, rest): (Vec<Timer>, Vec<Timer>) = std::mem::take(&mut g.timers)
            .into_iter()
            .partition(|t| t.at <= at);
        g.timers = rest;
        for t in due {
            if let Some(r) = g.runners.get_mut(&t.runner) {
                r.busy = true;
            }
            let _ = t.wake.send(());
        }
        drop(g);
        self.changed.notify_waiters();
        true
    }

    /// Runs the mesh until `done` holds: waits for reports, and whenever the mesh is quiet lets the
    /// virtual clock move to the next timer. Returns `Err` with the reason if the mesh goes quiet with
    /// no timer left and `done` still false, or if nothing happens for [`HANG`].
    pub(crate) async fn drive_until(&self, mut done: impl FnMut() -> bool) -> Result<(), String> {
        let deadline = std::time::Instant::now() + HANG;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done() {
                return Ok(());
            }
            match self.unquiet() {
                None if self.advance() => continue,
                None => return Err("quiet".into()),
                Some(why) => {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if tokio::time::timeout(left, notified).await.is_err() {
                        return Err(format!("nothing happened for {HANG:?} ({why})"));
                    }
                }
            }
        }
    }

    /// Runs until the mesh is quiet with no timer pending.
    pub(crate) async fn settle(&self) -> Result<(), String> {
        match self.drive_until(|| false).await {
            Err(e) if e == "quiet" => Ok(()),
            Err(e) => Err(e),
            Ok(()) => unreachable!("never done"),
        }
    }
}

/// Marks a runner ended when dropped.
pub(crate) struct EndGuard {
    act: Arc<Activity>,
    id: u64,
    peer: Option<u64>,
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.act.update(self.id, |r| {
            r.ended = true;
            r.busy = false;
        });
        if let Some(peer) = self.peer {
            self.act.sent_to(peer, 1);
        }
    }
}

/// One runner's [`Hook`].
struct RunnerHook {
    act: Arc<Activity>,
    me: u64,
    peer: Option<u64>,
}

impl Hook for RunnerHook {
    fn idle(&self, seen_seq: i64) {
        self.act.update(self.me, |r| {
            r.busy = false;
            r.seen_seq = seen_seq;
        });
    }

    fn busy(&self) {
        self.act.update(self.me, |r| r.busy = true);
    }

    fn sent(&self, n: usize) {
        if let Some(peer) = self.peer {
            self.act.sent_to(peer, n);
        }
    }

    fn received(&self) {
        self.act.update(self.me, |r| r.received += 1);
    }

    fn now(&self) -> Instant {
        self.act.now()
    }

    fn sleep_until(&self, at: Instant) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let act = self.act.clone();
        let me = self.me;
        Box::pin(async move {
            let rx = {
                let mut g = act.lock();
                if g.base + g.offset >= at {
                    return;
                }
                let (wake, rx) = oneshot::channel();
                g.timers.push(Timer {
                    at,
                    runner: me,
                    wake,
                });
                rx
            };
            act.changed.notify_waiters();
            // Woken by `advance` (a dropped sender only when the mesh is gone).
            let _ = rx.await;
        })
    }
}
