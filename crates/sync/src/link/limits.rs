//! Receive-side bounds: what this side accepts from a peer, whatever the peer claims.

use crate::frame::{Batch, Item};

/// The rule named by the error frame a transport hands the runner when the peer's bytes do not decode
/// into a frame at all (garbled protobuf, a message over the size limit, a truncated stream). The runner
/// answers it with its own `Malformed` error frame to the peer and closes; it is never taken for the
/// peer's own error.
pub const RULE_FRAME_DECODES: &str = "frame_decodes";

/// Receive-side bounds of one link, enforced on every incoming frame whatever the sender claims.
/// Defaults are well above what an honest sender of this build produces (256 items and about 1 MiB per
/// batch; see `safemesh_link::LinkConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvLimits {
    /// Items per incoming batch.
    pub max_items: usize,
    /// Changes per document item (a delta); a snapshot is bounded by bytes only.
    pub max_doc_changes: usize,
    /// Payload bytes per incoming batch ([`Item::payload_len`] summed): snapshots, changes, heads, ids,
    /// summary bodies. The gRPC frame limit (16 MiB) applies first on the wire.
    pub max_batch_bytes: usize,
    /// Bytes of a document id or a summary owner.
    pub max_id_len: usize,
    /// Heads per document item.
    pub max_heads: usize,
    /// Documents per snapshot request.
    pub max_need_snapshot: usize,
    /// Bytes of Automerge sync messages in one [`Frame::DocSync`].
    pub max_doc_sync_bytes: usize,
    /// Documents in Automerge sync exchanges at once on one stream (and so per frame).
    pub max_doc_syncs: usize,
    /// (Document, heads) entries per digest reply frame.
    pub max_digest_entries: usize,
    /// Bytes one item's compressed Automerge data may inflate to ([`crate::inflate`]).
    pub max_inflated_bytes: u64,
    /// Bytes the items of one batch (or the messages of one sync frame) may inflate to together.
    pub max_batch_inflated_bytes: u64,
}

impl Default for RecvLimits {
    fn default() -> Self {
        RecvLimits {
            max_items: 1024,
            max_doc_changes: 10_000,
            max_batch_bytes: 16 << 20,
            max_id_len: 256,
            max_heads: 64,
            max_need_snapshot: 1024,
            max_doc_sync_bytes: 16 << 20,
            max_doc_syncs: 4096,
            max_digest_entries: 1 << 16,
            max_inflated_bytes: crate::inflate::MAX_ITEM_INFLATED,
            max_batch_inflated_bytes: crate::inflate::MAX_BATCH_INFLATED,
        }
    }
}

/// Why an incoming frame breaks the receive bounds: the document to blame (if any), the rule, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub doc_id: Option<String>,
    pub rule: &'static str,
    pub message: String,
}

impl RecvLimits {
    /// A fresh inflation budget for one batch or sync frame, within these bounds.
    pub fn inflate_budget(&self) -> crate::inflate::Budget {
        crate::inflate::Budget::new(self.max_inflated_bytes, self.max_batch_inflated_bytes)
    }

    /// Checks a batch against these bounds. `last_upto` is the previous batch's `upto` on this stream:
    /// batches never go back. Items ascend by seq (an honest sender sorts them), all seqs are ≥ 0.
    pub fn check_batch(&self, b: &Batch, last_upto: Option<i64>) -> Result<(), Violation> {
        let fail = |doc: Option<&str>, rule: &'static str, message: String| {
            Err(Violation {
                doc_id: doc.map(str::to_string),
                rule,
                message,
            })
        };
        if b.items.len() > self.max_items {
            return fail(
                None,
                "max_batch_items",
                format!(
                    "batch of {} items, more than {}",
                    b.items.len(),
                    self.max_items
                ),
            );
        }
        if b.upto < 0 {
            return fail(
                None,
                "seq_non_negative",
                format!("batch upto {} < 0", b.upto),
            );
        }
        if let Some(last) = last_upto
            && b.upto < last
        {
            return fail(
                None,
                "upto_monotone",
                format!("batch upto {} goes back from {last}", b.upto),
            );
        }
        let mut bytes = 0usize;
        let mut prev_seq = i64::MIN;
        for item in &b.items {
            let (id, seq) = match item {
                Item::Doc { id, seq, .. } => (id.as_str(), *seq),
                Item::Summary { owner, seq, .. } => (owner.as_str(), *seq),
            };
            let doc = Some(id);
            if id.is_empty() || id.len() > self.max_id_len {
                let shown: String = id.chars().take(64).collect();
                return fail(
                    None,
                    "id_length",
                    format!(
                        "id {shown:?} of {} bytes (1 to {} allowed)",
                        id.len(),
                        self.max_id_len
                    ),
                );
            }
            if seq < 0 {
                return fail(doc, "seq_non_negative", format!("{id}: seq {seq} < 0"));
            }
            if seq < prev_seq {
                return fail(
                    doc,
                    "seq_monotone",
                    format!("{id}: seq {seq} after seq {prev_seq}"),
                );
            }
            prev_seq = seq;
            if let Item::Doc {
                snapshot,
                changes,
                heads,
                ..
            } = item
            {
                if changes.len() > self.max_doc_changes {
                    return fail(
                        doc,
                        "max_doc_changes",
                        format!(
                            "{id}: {} changes, more than {}",
                            changes.len(),
                            self.max_doc_changes
                        ),
                    );
                }
                if snapshot.is_some() && !changes.is_empty() {
                    return fail(
                        doc,
                        "snapshot_or_changes",
                        format!("{id}: both a snapshot and changes"),
                    );
                }
                if heads.len() > self.max_heads {
                    return fail(
                        doc,
                        "max_heads",
                        format!("{id}: {} heads, more than {}", heads.len(), self.max_heads),
                    );
                }
            }
            bytes = bytes.saturating_add(item.payload_len());
            if bytes > self.max_batch_bytes {
                return fail(
                    doc,
                    "max_batch_bytes",
                    format!(
                        "batch payload over {} bytes (at {id})",
                        self.max_batch_bytes
                    ),
                );
            }
        }
        Ok(())
    }
}

/// Checks a batch against what its sender declared of its own sequence (issue 19 #1): the batch's
/// `seq` never goes below the sender's hello or an earlier batch on the stream
/// (`seq_declared_monotone`), and its `upto` and every item's seq are at most that `seq`
/// (`upto_within_seq`). A sender cannot have sent what it never wrote, so an `upto` beyond its own
/// declared sequence would only move this side's durable cursor past changes still to come.
pub fn check_declared(b: &Batch, declared: i64) -> Result<(), Violation> {
    if b.seq < declared {
        return Err(Violation {
            doc_id: None,
            rule: "seq_declared_monotone",
            message: format!(
                "batch declares the sender's seq {}, below {declared} declared before on the stream",
                b.seq
            ),
        });
    }
    let beyond = b.items.iter().find(|i| i.seq() > b.seq);
    if b.upto > b.seq || beyond.is_some() {
        let what = match beyond {
            Some(i) => format!("item seq {}", i.seq()),
            None => format!("upto {}", b.upto),
        };
        return Err(Violation {
            doc_id: None,
            rule: "upto_within_seq",
            message: format!(
                "batch {what} beyond the sender's own seq {} as it declared it",
                b.seq
            ),
        });
    }
    Ok(())
}
