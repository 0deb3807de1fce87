//! 解压上限 — what received Automerge bytes inflate to, bounded before Automerge sees them (issue 19
//! #3). Automerge DEFLATE-compresses a document chunk's columns and whole change chunks, and inflates
//! them while parsing, into memory, with no limit: a few kilobytes can inflate to gigabytes before any
//! check of ours runs. [`scan`] walks the chunks of a received snapshot, change or sync message the
//! way Automerge 0.12 lays them out (`storage/chunk.rs`, `storage/document.rs`,
//! `storage/bundle/storage.rs`), inflates each compressed region into nothing, counting, and stops at
//! the first byte over the [`Budget`]: per item ([`MAX_ITEM_INFLATED`]) and per batch or sync frame
//! ([`MAX_BATCH_INFLATED`], shared by the threads that check it).
//!
//! The walk reads only what it needs to find the compressed regions (chunk headers, a document's or
//! bundle's actors, heads and column metadata). Bytes it cannot walk are refused as undecodable:
//! Automerge refuses them as well (its parser needs the same fields), so nothing Automerge would load
//! is refused here.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes one item's Automerge bytes (a snapshot, or a delta's changes together, or one sync
/// message's changes) may inflate to. An honest item is at most about the sender's byte budget
/// (1 MiB), or one change (at most a frame, 16 MiB): columns of Automerge's encoding inflate a few
/// times, not a thousand.
pub const MAX_ITEM_INFLATED: u64 = 64 << 20;

/// Bytes the items of one batch (or the messages of one sync frame) may inflate to together.
pub const MAX_BATCH_INFLATED: u64 = 256 << 20;

/// The chunk magic of Automerge's storage format.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// The bit of a column specification that says its data is DEFLATE-compressed.
const DEFLATE_BIT: u64 = 0b1000;

/// What one batch (or sync frame) may still inflate, shared by the threads checking its items.
#[derive(Debug)]
pub struct Budget {
    item: u64,
    batch: u64,
    left: AtomicU64,
}

impl Budget {
    /// A fresh budget: `item` bytes for each item, `batch` for all of them.
    pub fn new(item: u64, batch: u64) -> Budget {
        Budget {
            item,
            batch,
            left: AtomicU64::new(batch),
        }
    }

    /// Takes `n` bytes from what the batch may still inflate.
    fn take(&self, n: u64) -> bool {
        self.left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(n)
            })
            .is_ok()
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new(MAX_ITEM_INFLATED, MAX_BATCH_INFLATED)
    }
}

/// Why received bytes are refused before Automerge loads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// They are not Automerge chunks as Automerge lays them out (it would refuse them too).
    Undecodable(String),
    /// The item alone inflates past its bound: the document's fault (rule `max_inflated_bytes`).
    Item { limit: u64 },
    /// The batch's items together inflate past its bound (rule `max_batch_inflated_bytes`).
    Batch { limit: u64 },
}

impl Refusal {
    /// The rule an error frame names for this refusal.
    pub fn rule(&self) -> &'static str {
        match self {
            Refusal::Undecodable(_) => "automerge_decodes",
            Refusal::Item { .. } => RULE_ITEM,
            Refusal::Batch { .. } => RULE_BATCH,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Undecodable(m) => write!(f, "{m}"),
            Refusal::Item { limit } => write!(
                f,
                "its compressed Automerge data inflates to more than {limit} bytes"
            ),
            Refusal::Batch { limit } => write!(
                f,
                "the batch's compressed Automerge data inflates to more than {limit} bytes"
            ),
        }
    }
}

/// The rule of an item that inflates past [`MAX_ITEM_INFLATED`] (the document's fault).
pub const RULE_ITEM: &str = "max_inflated_bytes";

/// The rule of a batch whose items inflate past [`MAX_BATCH_INFLATED`] together.
pub const RULE_BATCH: &str = "max_batch_inflated_bytes";

/// Walks the Automerge chunks of one item's `parts` (a snapshot, or its changes, each a sequence of
/// chunks) and inflates every compressed region into nothing, counting against `budget`. Returns the
/// bytes they inflate to.
pub fn scan<'a>(
    budget: &Budget,
    parts: impl IntoIterator<Item = &'a [u8]>,
) -> Result<u64, Refusal> {
    let mut count = Count { budget, total: 0 };
    for part in parts {
        let mut c = Cursor { b: part, at: 0 };
        while !c.done() {
            chunk(&mut c, &mut count)?;
        }
    }
    Ok(count.total)
}

/// One chunk: magic, checksum, type, length, data.
fn chunk(c: &mut Cursor<'_>, count: &mut Count<'_>) -> Result<(), Refusal> {
    if c.take(4)? != MAGIC {
        return Err(Refusal::Undecodable("not an Automerge chunk".into()));
    }
    c.take(4)?; // checksum
    let kind = c.take(1)?[0];
    let len = c.uleb()?;
    let mut data = Cursor {
        b: c.take(len)?,
        at: 0,
    };
    match kind {
        // A document: actors, heads, change and op column metadata, then their data.
        0 => {
            data.list(|d| d.prefixed().map(drop))?;
            let heads = data.uleb()?;
            data.take(heads.saturating_mul(32))?;
            let changes = data.columns()?;
            let ops = data.columns()?;
            data.column_data(&changes, count)?;
            data.column_data(&ops, count)
        }
        // A change: Automerge refuses one with compressed columns, and inflates nothing.
        1 => Ok(()),
        // A compressed change: the whole change, deflated.
        2 => count.inflate(data.b),
        // A bundle: dependencies, actors, then change columns and their data, op columns and theirs.
        3 => {
            let deps = data.uleb()?;
            data.take(deps.saturating_mul(32))?;
            data.list(|d| d.prefixed().map(drop))?;
            let changes = data.columns()?;
            data.column_data(&changes, count)?;
            let ops = data.columns()?;
            data.column_data(&ops, count)
        }
        t => Err(Refusal::Undecodable(format!("unknown chunk type {t}"))),
    }
}

/// What one item has inflated to so far.
struct Count<'a> {
    budget: &'a Budget,
    total: u64,
}

impl Count<'_> {
    /// Inflates `data` into nothing, a block at a time, stopping at the first block over the bounds.
    fn inflate(&mut self, data: &[u8]) -> Result<(), Refusal> {
        let mut decoder = flate2::bufread::DeflateDecoder::new(data);
        let mut block = vec![0u8; 64 << 10];
        loop {
            let n = decoder
                .read(&mut block)
                .map_err(|e| Refusal::Undecodable(format!("bad DEFLATE data: {e}")))?;
            if n == 0 {
                return Ok(());
            }
            self.total += n as u64;
            if self.total > self.budget.item {
                return Err(Refusal::Item {
                    limit: self.budget.item,
                });
            }
            if !self.budget.take(n as u64) {
                return Err(Refusal::Batch {
                    limit: self.budget.batch,
                });
            }
        }
    }
}

/// A position in bytes being walked.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn done(&self) -> bool {
        self.at >= self.b.len()
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], Refusal> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.at.checked_add(n))
            .filter(|end| *end <= self.b.len())
            .ok_or_else(|| Refusal::Undecodable("truncated Automerge chunk".into()))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    /// An unsigned LEB128 number.
    fn uleb(&mut self) -> Result<u64, Refusal> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Refusal::Undecodable("LEB128 number too long".into()))
    }

    /// Bytes prefixed by their length.
    fn prefixed(&mut self) -> Result<&'a [u8], Refusal> {
        let n = self.uleb()?;
        self.take(n)
    }

    /// A count, then that many entries read by `entry`.
    fn list(
        &mut self,
        mut entry: impl FnMut(&mut Self) -> Result<(), Refusal>,
    ) -> Result<(), Refusal> {
        for _ in 0..self.uleb()? {
            entry(self)?;
        }
        Ok(())
    }

    /// Column metadata: a count, then (specification, data length) each.
    fn columns(&mut self) -> Result<Vec<(u64, u64)>, Refusal> {
        let mut cols = Vec::new();
        self.list(|c| {
            cols.push((c.uleb()?, c.uleb()?));
            Ok(())
        })?;
        Ok(cols)
    }

    /// The data of `cols`, one after the other; compressed ones inflated into `count`.
    fn column_data(&mut self, cols: &[(u64, u64)], count: &mut Count<'_>) -> Result<(), Refusal> {
        for (spec, len) in cols {
            let data = self.take(*len)?;
            if spec & DEFLATE_BIT != 0 {
                count.inflate(data)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    /// A document whose text column compresses well: its snapshot has deflated columns.
    fn big_doc() -> AutoCommit {
        let mut d = AutoCommit::new();
        for i in 0..200 {
            d.put(ROOT, format!("k{i}"), "重复的内容 ".repeat(40))
                .unwrap();
            d.commit();
        }
        d
    }

    #[test]
    fn honest_snapshots_and_changes_pass_with_their_inflated_size() {
        let mut d = big_doc();
        let saved = d.save();
        let inflated = scan(&Budget::default(), [saved.as_slice()]).unwrap();
        assert!(
            inflated > saved.len() as u64,
            "{inflated} vs {}",
            saved.len()
        );
        // As a sender sends them: changes over a threshold are compressed chunks.
        let changes: Vec<Vec<u8>> = d
            .get_changes(&[])
            .iter_mut()
            .map(|c| c.bytes().to_vec())
            .collect();
        assert!(changes.iter().any(|c| c[8] == 2), "a compressed change");
        let n = scan(&Budget::default(), changes.iter().map(Vec::as_slice)).unwrap();
        assert!(n > 0);
        let mut with_chunks = saved.clone();
        d.put(ROOT, "late", "x".repeat(4096)).unwrap();
        with_chunks.extend(d.save_incremental());
        scan(&Budget::default(), [with_chunks.as_slice()]).unwrap();
        assert!(AutoCommit::load(&with_chunks).is_ok());
    }

    #[test]
    fn bytes_that_are_not_chunks_are_undecodable() {
        for bad in [
            &b"garbage"[..],
            &[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 9, 0][..],
        ] {
            assert!(matches!(
                scan(&Budget::default(), [bad]),
                Err(Refusal::Undecodable(_))
            ));
        }
    }

    #[test]
    fn an_item_and_a_batch_are_held_to_their_bounds() {
        let saved = big_doc().save();
        let n = scan(&Budget::default(), [saved.as_slice()]).unwrap();
        let tight = Budget::new(n - 1, u64::MAX);
        assert_eq!(
            scan(&tight, [saved.as_slice()]),
            Err(Refusal::Item { limit: n - 1 })
        );
        let batch = Budget::new(u64::MAX, n + n / 2);
        scan(&batch, [saved.as_slice()]).unwrap();
        assert_eq!(
            scan(&batch, [saved.as_slice()]),
            Err(Refusal::Batch { limit: n + n / 2 })
        );
    }
}
