//! `[http_limits]` of the config: what one HTTP request may take — the largest JSON body, and how many
//! requests run at once and wait for a turn.

use serde::{Deserialize, Serialize};

/// `[http_limits]` — 请求限制, the HTTP API's and the web UI's bounds (docs/OPERATIONS.md §4.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// The largest request body a JSON endpoint or a form reads, in bytes (default 1 MiB); a larger
    /// body is answered 413 naming `body`. Workbook imports keep their own bound (20 MiB).
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Requests handled at once (default 256); the rest wait for a turn.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent_requests: usize,
    /// Requests that may wait for a turn (default 1024); one more is answered 503 at once.
    #[serde(default = "default_max_queued")]
    pub max_queued_requests: usize,
    /// How long a request waits for a turn before it is answered 503 (default 5000 ms).
    #[serde(default = "default_queue_wait_ms")]
    pub queue_wait_ms: u64,
}

fn default_max_body_bytes() -> usize {
    1 << 20
}

fn default_max_concurrent() -> usize {
    256
}

fn default_max_queued() -> usize {
    1024
}

fn default_queue_wait_ms() -> u64 {
    5000
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: default_max_body_bytes(),
            max_concurrent_requests: default_max_concurrent(),
            max_queued_requests: default_max_queued(),
            queue_wait_ms: default_queue_wait_ms(),
        }
    }
}

impl HttpConfig {
    pub(crate) fn is_default(&self) -> bool {
        *self == HttpConfig::default()
    }

    /// Every bound at least 1 (a body at least 1 KiB), a wait at most a minute.
    pub fn check(&self) -> Result<(), String> {
        let bad = |key: &str, want: &str| {
            Err(format!(
                "http_limits.{key}: 取值无效，应为{want} / http_limits.{key} must be {}",
                match want {
                    "≥ 1024" => "at least 1024",
                    "1–60000" => "between 1 and 60000",
                    _ => "at least 1",
                }
            ))
        };
        if self.max_body_bytes < 1024 {
            return bad("max_body_bytes", "≥ 1024");
        }
        if self.max_concurrent_requests == 0 {
            return bad("max_concurrent_requests", "≥ 1");
        }
        if self.max_queued_requests == 0 {
            return bad("max_queued_requests", "≥ 1");
        }
        if !(1..=60_000).contains(&self.queue_wait_ms) {
            return bad("queue_wait_ms", "1–60000");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_zero_bounds_are_refused_naming_the_key() {
        assert!(HttpConfig::default().check().is_ok());
        let zero = HttpConfig {
            max_concurrent_requests: 0,
            ..HttpConfig::default()
        };
        let e = zero.check().unwrap_err();
        assert!(e.contains("http_limits.max_concurrent_requests"), "{e}");
        let tiny = HttpConfig {
            max_body_bytes: 10,
            ..HttpConfig::default()
        };
        assert!(
            tiny.check()
                .unwrap_err()
                .contains("http_limits.max_body_bytes")
        );
        let long = HttpConfig {
            queue_wait_ms: 120_000,
            ..HttpConfig::default()
        };
        assert!(
            long.check()
                .unwrap_err()
                .contains("http_limits.queue_wait_ms")
        );
    }
}
