//! What is left to send on a stream (a batch's `remaining`, which the receiver shows as progress).
//! Counting it scans everything after the cursor in the peer's scope — a second for a million
//! documents — so a bootstrap counts now and then and estimates in between: the last count less what
//! each batch since carried.

use std::time::{Duration, Instant};

use crate::frame::{Item, Remaining};

/// Counted again after this many batches and this much time, whichever comes later.
pub const RECOUNT_EVERY: u32 = 16;
pub const RECOUNT_AFTER: Duration = Duration::from_secs(5);

/// The last count on a stream, when it was made, and the batches since.
#[derive(Debug, Clone)]
pub struct Estimate {
    last: Option<Remaining>,
    since: u32,
    at: Instant,
}

impl Estimate {
    pub fn new(now: Instant) -> Estimate {
        Estimate {
            last: None,
            since: 0,
            at: now,
        }
    }

    /// What is left after a batch of `items`: nothing if it was caught up; else the estimate, or
    /// `None` when it is time to count (then [`Estimate::counted`] with the count).
    pub fn after(&mut self, items: &[Item], caught_up: bool, now: Instant) -> Option<Remaining> {
        if caught_up {
            *self = Estimate::new(now);
            return Some(Remaining::default());
        }
        let prev = self.last.filter(|_| {
            self.since < RECOUNT_EVERY || now.saturating_duration_since(self.at) < RECOUNT_AFTER
        })?;
        self.since += 1;
        let sent: u64 = items.iter().map(|i| i.payload_len() as u64).sum();
        let r = Remaining {
            docs: prev.docs.saturating_sub(items.len() as u64),
            bytes: prev.bytes.saturating_sub(sent),
        };
        self.last = Some(r);
        Some(r)
    }

    /// What was counted just now (documents and bytes after the batch's `upto`).
    pub fn counted(&mut self, docs: i64, bytes: i64, now: Instant) -> Remaining {
        let r = Remaining {
            docs: docs.max(0) as u64,
            bytes: bytes.max(0) as u64,
        };
        *self = Estimate {
            last: Some(r),
            since: 0,
            at: now,
        };
        r
    }
}
