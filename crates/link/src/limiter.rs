//! The per-link rate limit on incoming frames and bytes: two token buckets.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::RateLimit;

/// One token bucket; tokens may go negative (debt), which is paid back by waiting.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: f64, burst: f64, now: Instant) -> Bucket {
        let burst = burst.max(1.0);
        Bucket {
            rate,
            burst,
            tokens: burst,
            at: now,
        }
    }

    /// Takes `n` tokens; returns how long to wait before the next take.
    fn take(&mut self, n: f64, now: Instant) -> Duration {
        if self.rate.is_nan() || self.rate <= 0.0 {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst) - n;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((-self.tokens / self.rate).min(3600.0))
        }
    }
}

/// The two buckets of one stream.
#[derive(Debug)]
pub(crate) struct Limiter {
    frames: Bucket,
    bytes: Bucket,
}

impl Limiter {
    /// Full buckets at `now` (the runner's clock).
    pub(crate) fn new(r: &RateLimit, now: Instant) -> Limiter {
        Limiter {
            frames: Bucket::new(r.frames_per_sec, r.frame_burst, now),
            bytes: Bucket::new(r.bytes_per_sec, r.byte_burst, now),
        }
    }

    /// Takes one frame of `bytes` at `now`; returns how long to wait before reading the next.
    pub(crate) fn take(&mut self, bytes: usize, now: Instant) -> Duration {
        let a = self.frames.take(1.0, now);
        let b = self.bytes.take(bytes as f64, now);
        a.max(b)
    }
}
