//! Digests of what the two ends of a link hold (DESIGN §5.8): how a new or restored peer is repaired
//! without resending everything.
//!
//! The **link set** of a node for a peer is every document it holds whose audience names both the node
//! and the peer: exactly what crosses that link, computed by each side on its own store. Documents are
//! put in `buckets` (a power of two) by a hash of their id; a bucket's digest is its count and the XOR
//! of a 128-bit hash of every (document, sorted heads) in it. A side that knows nothing of what its peer
//! holds sends its non-empty buckets ([`Digest`]); the peer answers with its own (document, heads) in
//! the buckets that differ. Where a bucket matches, both hold the same documents at the same heads.
//!
//! Pure functions only; the runner (`safemesh-link`) reads the store.

use sha2::{Digest as _, Sha256};

/// Most buckets a digest may have (2^16 slots of 24 bytes: 1.5 MiB at most on the wire).
pub const MAX_BUCKETS: u32 = 1 << 16;
/// Fewest buckets a digest has.
pub const MIN_BUCKETS: u32 = 16;
/// Documents per bucket the sender aims at (fewer buckets: a smaller request; more: a smaller answer
/// when a few documents differ).
pub const DOCS_PER_BUCKET: u64 = 16;
/// (Document, heads) entries per reply frame.
pub const REPLY_CHUNK: usize = 4096;

/// One non-empty bucket of a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub bucket: u32,
    pub count: u32,
    pub hash: [u8; 16],
}

/// 摘要 — a side's link set, bucketed: only non-empty buckets, in ascending order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digest {
    pub buckets: u32,
    pub slots: Vec<Slot>,
}

/// How many buckets a digest has when this side holds `mine` documents of the link set and the peer
/// has written up to `peer_seq` (a bound on what it holds): about [`DOCS_PER_BUCKET`] per bucket of the
/// larger side, a power of two within [`MIN_BUCKETS`, `MAX_BUCKETS`].
pub fn bucket_count(mine: u64, peer_seq: i64) -> u32 {
    let n = mine.max(peer_seq.max(0) as u64) / DOCS_PER_BUCKET;
    (n.max(1).next_power_of_two()).clamp(MIN_BUCKETS as u64, MAX_BUCKETS as u64) as u32
}

/// The bucket of document `id` among `buckets` (a power of two).
pub fn bucket_of(id: &str, buckets: u32) -> u32 {
    let h = Sha256::digest(id.as_bytes());
    u32::from_le_bytes([h[0], h[1], h[2], h[3]]) & (buckets.max(1) - 1)
}

/// The 128-bit hash of one (document, heads); heads in any order.
pub fn entry_hash(id: &str, heads: &[String]) -> [u8; 16] {
    let mut sorted: Vec<&str> = heads.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    let mut h = Sha256::new();
    h.update((id.len() as u64).to_le_bytes());
    h.update(id.as_bytes());
    for head in sorted {
        h.update(b",");
        h.update(head.as_bytes());
    }
    let full = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// Folds one (document, heads) into a bucket's hash.
fn xor_into(hash: &mut [u8; 16], id: &str, heads: &[String]) {
    for (x, y) in hash.iter_mut().zip(entry_hash(id, heads)) {
        *x ^= y;
    }
}

impl Slot {
    /// The slot `entries` make in `bucket` (count 0 when empty), as [`Builder`] would make it.
    pub fn of(bucket: u32, entries: &[(String, Vec<String>)]) -> Slot {
        let mut hash = [0u8; 16];
        for (id, heads) in entries {
            xor_into(&mut hash, id, heads);
        }
        Slot {
            bucket,
            count: entries.len() as u32,
            hash,
        }
    }
}

/// Builds a digest as documents of the link set are fed to it (any order).
#[derive(Debug)]
pub struct Builder {
    buckets: u32,
    counts: Vec<u32>,
    hashes: Vec<[u8; 16]>,
}

impl Builder {
    pub fn new(buckets: u32) -> Builder {
        let buckets = buckets.clamp(1, MAX_BUCKETS);
        Builder {
            buckets,
            counts: vec![0; buckets as usize],
            hashes: vec![[0; 16]; buckets as usize],
        }
    }

    pub fn add(&mut self, id: &str, heads: &[String]) {
        let b = bucket_of(id, self.buckets) as usize;
        self.counts[b] = self.counts[b].saturating_add(1);
        xor_into(&mut self.hashes[b], id, heads);
    }

    pub fn finish(self) -> Digest {
        let slots = self
            .counts
            .iter()
            .zip(&self.hashes)
            .enumerate()
            .filter(|(_, (c, _))| **c > 0)
            .map(|(b, (c, h))| Slot {
                bucket: b as u32,
                count: *c,
                hash: *h,
            })
            .collect();
        Digest {
            buckets: self.buckets,
            slots,
        }
    }
}

impl Digest {
    /// The slot of `bucket`, if non-empty.
    pub fn slot(&self, bucket: u32) -> Option<&Slot> {
        self.slots
            .binary_search_by_key(&bucket, |s| s.bucket)
            .ok()
            .map(|i| &self.slots[i])
    }

    /// Buckets where the requester (`self`) holds something and `mine` differs: the answer must carry
    /// `mine`'s entries of these. Buckets the requester holds nothing of need no answer (it holds
    /// nothing to be told about).
    pub fn differing(&self, mine: &Digest) -> Vec<u32> {
        self.slots
            .iter()
            .filter(|s| mine.slot(s.bucket) != Some(*s))
            .map(|s| s.bucket)
            .collect()
    }

    /// Buckets where both hold exactly the same (document, heads).
    pub fn matching(&self, mine: &Digest) -> Vec<u32> {
        self.slots
            .iter()
            .filter(|s| mine.slot(s.bucket) == Some(*s))
            .map(|s| s.bucket)
            .collect()
    }

    /// Bytes on the wire, about.
    pub fn weight(&self) -> usize {
        8 + self.slots.len() * 24
    }

    /// Whether the digest is well formed: a power-of-two bucket count within bounds, slots ascending,
    /// in range and non-empty.
    pub fn check(&self) -> Result<(), String> {
        if !self.buckets.is_power_of_two() || self.buckets > MAX_BUCKETS {
            return Err(format!(
                "digest of {} buckets (a power of two up to {MAX_BUCKETS} expected)",
                self.buckets
            ));
        }
        let mut prev: Option<u32> = None;
        for s in &self.slots {
            if s.bucket >= self.buckets {
                return Err(format!(
                    "digest slot {} out of {} buckets",
                    s.bucket, self.buckets
                ));
            }
            if prev.is_some_and(|p| p >= s.bucket) {
                return Err(format!("digest slots not ascending at {}", s.bucket));
            }
            if s.count == 0 {
                return Err(format!("digest slot {} is empty", s.bucket));
            }
            prev = Some(s.bucket);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(docs: &[(&str, &[&str])], buckets: u32) -> Digest {
        let mut b = Builder::new(buckets);
        for (id, heads) in docs {
            let heads: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
            b.add(id, &heads);
        }
        b.finish()
    }

    #[test]
    fn same_set_any_order_same_digest() {
        let a = digest(&[("d1", &["aa", "bb"]), ("d2", &["cc"]), ("d3", &[])], 16);
        let b = digest(&[("d3", &[]), ("d2", &["cc"]), ("d1", &["bb", "aa"])], 16);
        assert_eq!(a, b);
        assert!(a.differing(&b).is_empty());
        assert_eq!(a.matching(&b).len(), a.slots.len());
        a.check().unwrap();
    }

    #[test]
    fn one_changed_head_marks_only_its_bucket() {
        let docs: Vec<(String, Vec<String>)> = (0..200)
            .map(|i| (format!("doc-{i}"), vec![format!("{i:064x}")]))
            .collect();
        let mut a = Builder::new(64);
        let mut b = Builder::new(64);
        for (i, (id, heads)) in docs.iter().enumerate() {
            a.add(id, heads);
            if i == 7 {
                b.add(id, &["ff".repeat(32)]);
            } else {
                b.add(id, heads);
            }
        }
        let (a, b) = (a.finish(), b.finish());
        assert_eq!(a.differing(&b), vec![bucket_of("doc-7", 64)]);
        // A document the other side lacks differs too, by count and hash.
        let c = digest(&[("x", &["01"])], 64);
        let d = digest(&[("x", &["01"]), ("y", &["02"])], 64);
        let by = bucket_of("y", 64);
        assert_eq!(d.differing(&c), vec![by]);
        // The requester holding nothing in y's bucket asks nothing about it.
        assert_ne!(bucket_of("x", 64), by, "pick ids in different buckets");
        assert!(c.differing(&d).is_empty());
    }

    #[test]
    fn bucket_count_follows_the_larger_side() {
        assert_eq!(bucket_count(0, 0), MIN_BUCKETS);
        assert_eq!(bucket_count(100_000, 10), 8192);
        assert_eq!(bucket_count(10, 100_000), 8192);
        assert_eq!(bucket_count(u64::MAX, i64::MAX), MAX_BUCKETS);
    }

    #[test]
    fn malformed_digests_are_refused() {
        let bad = |buckets, slots: Vec<(u32, u32)>| Digest {
            buckets,
            slots: slots
                .into_iter()
                .map(|(bucket, count)| Slot {
                    bucket,
                    count,
                    hash: [0; 16],
                })
                .collect(),
        };
        assert!(bad(12, vec![]).check().is_err());
        assert!(bad(MAX_BUCKETS * 2, vec![]).check().is_err());
        assert!(bad(16, vec![(16, 1)]).check().is_err());
        assert!(bad(16, vec![(3, 1), (3, 1)]).check().is_err());
        assert!(bad(16, vec![(3, 0)]).check().is_err());
        assert!(bad(16, vec![(1, 1), (3, 2)]).check().is_ok());
    }
}
