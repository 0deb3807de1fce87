//! 提交耗时 — how long the store's commits take, as a histogram of atomic counters that
//! [`Writer::commit`](crate::Writer::commit) fills ([`CommitTimes`]) and a snapshot of it
//! ([`CommitStats`]). Plain counters: the store knows no metrics library.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the commit-time buckets: a fsync on a local disk takes a millisecond or
/// two, a busy or networked disk (or PostgreSQL across a network) tens to hundreds.
pub const COMMIT_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Commit times since the store was opened: per bucket (not cumulative), and their sum.
#[derive(Debug, Default)]
pub(crate) struct CommitTimes {
    /// One counter per bound of [`COMMIT_BUCKETS`], and one past the last.
    buckets: [AtomicU64; COMMIT_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl CommitTimes {
    /// Counts one commit that took `d`.
    pub(crate) fn record(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = COMMIT_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(COMMIT_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn snapshot(&self) -> CommitStats {
        let mut cumulative = 0;
        let buckets = COMMIT_BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(bound, n)| {
                cumulative += n.load(Ordering::Relaxed);
                (*bound, cumulative)
            })
            .collect();
        // The count is the buckets' total, so the `+Inf` bucket is never below the last bound's.
        let count = cumulative + self.buckets[COMMIT_BUCKETS.len()].load(Ordering::Relaxed);
        CommitStats {
            buckets,
            count,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// Commit times of this store since it was opened, as a Prometheus histogram reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitStats {
    /// (upper bound in seconds, commits that took at most that long), for each of
    /// [`COMMIT_BUCKETS`]; cumulative. The `+Inf` bucket is [`CommitStats::count`].
    pub buckets: Vec<(f64, u64)>,
    /// Commits counted.
    pub count: u64,
    /// Their total time, in seconds.
    pub sum_seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_fall_in_cumulative_buckets() {
        let t = CommitTimes::default();
        t.record(Duration::from_micros(300));
        t.record(Duration::from_millis(3));
        t.record(Duration::from_secs(10));
        let s = t.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.buckets[0], (0.0005, 1));
        assert_eq!(s.buckets[3], (0.005, 2), "{s:?}");
        assert_eq!(
            s.buckets.last(),
            Some(&(2.5, 2)),
            "10 s is past the last bound"
        );
        assert!((s.sum_seconds - 10.0033).abs() < 1e-9, "{s:?}");
    }
}
