//! 配额 — per-child quotas (issue 19 #4): what a child's subtree may hold at this node (documents new
//! here, bytes stored from it) and what its summaries may cost (a body's size, versions per office
//! per window). Records that pass authority are otherwise unlimited, and every summary version adds
//! work at every ancestor.
//!
//! The counts of documents and bytes live in the store (`links.held_docs`, `held_bytes`) and are
//! moved in the transaction of the batch that stores them, so a check is two numbers read, not a
//! scan. Summary versions are counted in memory, per office, in fixed windows of the runner's clock.
//!
//! Over a quota, the batch is refused with a `Forbidden` error frame naming the document (or
//! `summary:<owner>`) that crossed it, rule `quota_documents`, `quota_bytes`, `quota_summary_bytes`
//! or `quota_summary_versions`, and the quota and its limit in the message: the child sets that
//! document aside for an hour (its quarantine) and the rest of its link goes on; nothing of the batch
//! is stored. Unlike a forbidden change, the refusal is not remembered by this side: the same
//! document may pass once the window has moved or the operator has raised the quota.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use safemesh_model::AdminCode;
use safemesh_sync::frame::{ErrorCode, ErrorFrame};
use tokio::time::Instant;

pub use safemesh_sync::link::QUOTA_RULES;

/// Per-child quotas (`[quotas]` in `safemesh.toml`). The defaults are far above what an honest
/// subtree produces (docs/BENCHMARKS.md: the province simulation and the bench stay well below).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Documents new to this node that one child's subtree may bring here.
    pub documents: u64,
    /// Bytes of documents one child's subtree may have stored here.
    pub bytes: u64,
    /// Bytes of one summary body from a child.
    pub summary_bytes: u64,
    /// Versions of one office's summary taken from a child per [`Quotas::summary_window`].
    pub summary_versions: u32,
    pub summary_window: Duration,
}

impl Default for Quotas {
    fn default() -> Quotas {
        Quotas {
            documents: 10_000_000,
            bytes: 64 << 30,
            summary_bytes: 256 << 10,
            // The publisher debounces at 200 ms: an honest office makes at most 18,000 an hour.
            summary_versions: 36_000,
            summary_window: Duration::from_secs(3600),
        }
    }
}

/// Offices whose summary windows are kept at most; past that, expired windows are dropped.
const MAX_WINDOWS: usize = 100_000;

/// Summary versions taken per office in its current window (shared by the node's links).
#[derive(Debug, Default)]
pub struct SummaryRate {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl SummaryRate {
    /// Counts one version of `owner`'s summary at `now`; `false` if that is over the quota in the
    /// current window.
    pub fn take(&self, owner: &str, now: Instant, q: &Quotas) -> bool {
        let Ok(mut windows) = self.windows.lock() else {
            return true;
        };
        if windows.len() >= MAX_WINDOWS {
            windows.retain(|_, (start, _)| now.duration_since(*start) < q.summary_window);
        }
        let (start, n) = windows.entry(owner.to_string()).or_insert((now, 0));
        if now.duration_since(*start) >= q.summary_window {
            (*start, *n) = (now, 0);
        }
        *n = n.saturating_add(1);
        *n <= q.summary_versions
    }
}

/// The frame refusing a batch from `child` because `key` (a document, or `summary:<owner>`) would
/// take it over quota `rule`: `what` it would come to, and the `limit`.
pub fn refused(
    rule: &'static str,
    key: &str,
    child: &AdminCode,
    what: String,
    limit: u64,
) -> ErrorFrame {
    ErrorFrame {
        code: ErrorCode::Forbidden,
        doc_id: Some(key.to_string()),
        path: Some("quota".into()),
        rule: Some(rule.into()),
        message: format!(
            "配额已满 / over quota: {key} would take {child}'s {rule} to {what}, limit {limit}"
        ),
    }
}

/// What one batch from a child brings, checked against the child's quotas as the batch is written
/// (`crate::apply`); from the parent, nothing is counted.
pub(crate) struct Tally<'a> {
    quotas: &'a Quotas,
    rate: &'a SummaryRate,
    /// The child, if the batch comes from one.
    child: Option<&'a AdminCode>,
    held_docs: u64,
    held_bytes: u64,
    docs: u64,
    bytes: u64,
}

impl<'a> Tally<'a> {
    /// A batch from `child` (`None`: from the parent), whose subtree holds `held_docs` documents and
    /// `held_bytes` bytes here.
    pub(crate) fn new(
        quotas: &'a Quotas,
        rate: &'a SummaryRate,
        child: Option<&'a AdminCode>,
        held_docs: i64,
        held_bytes: i64,
    ) -> Tally<'a> {
        Tally {
            quotas,
            rate,
            child,
            held_docs: held_docs.max(0) as u64,
            held_bytes: held_bytes.max(0) as u64,
            docs: 0,
            bytes: 0,
        }
    }

    /// Document `id` is stored: `new` here, `bytes` of it received.
    pub(crate) fn document(&mut self, id: &str, new: bool, bytes: u64) -> Result<(), ErrorFrame> {
        let Some(child) = self.child else {
            return Ok(());
        };
        self.docs += u64::from(new);
        self.bytes = self.bytes.saturating_add(bytes);
        let (docs, all_bytes) = (self.held_docs + self.docs, self.held_bytes + self.bytes);
        if docs > self.quotas.documents {
            let what = format!("{docs} documents");
            return Err(refused(
                "quota_documents",
                id,
                child,
                what,
                self.quotas.documents,
            ));
        }
        if all_bytes > self.quotas.bytes {
            let what = format!("{all_bytes} bytes");
            return Err(refused("quota_bytes", id, child, what, self.quotas.bytes));
        }
        Ok(())
    }

    /// A version of `owner`'s summary, of `body` bytes, is stored at `now`.
    pub(crate) fn summary(
        &mut self,
        owner: &str,
        body: usize,
        now: Instant,
    ) -> Result<(), ErrorFrame> {
        let Some(child) = self.child else {
            return Ok(());
        };
        let key = format!("summary:{owner}");
        let q = self.quotas;
        if body as u64 > q.summary_bytes {
            let what = format!("a body of {body} bytes");
            return Err(refused(
                "quota_summary_bytes",
                &key,
                child,
                what,
                q.summary_bytes,
            ));
        }
        if !self.rate.take(owner, now, q) {
            let what = format!(
                "more than {} versions of {owner}'s summary in {} s",
                q.summary_versions,
                q.summary_window.as_secs()
            );
            let limit = u64::from(q.summary_versions);
            return Err(refused("quota_summary_versions", &key, child, what, limit));
        }
        Ok(())
    }

    /// What the batch adds to the child's counts (documents, bytes), if anything.
    pub(crate) fn added(&self) -> Option<(i64, i64)> {
        (self.child.is_some() && (self.docs > 0 || self.bytes > 0))
            .then(|| (self.docs as i64, self.bytes.min(i64::MAX as u64) as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_versions_are_counted_per_office_in_windows() {
        let q = Quotas {
            summary_versions: 2,
            summary_window: Duration::from_secs(60),
            ..Quotas::default()
        };
        let rate = SummaryRate::default();
        let t0 = Instant::now();
        assert!(rate.take("530181006", t0, &q));
        assert!(rate.take("530181006", t0, &q));
        assert!(!rate.take("530181006", t0, &q));
        assert!(rate.take("530181007", t0, &q), "another office");
        assert!(rate.take("530181006", t0 + Duration::from_secs(60), &q));
    }
}
