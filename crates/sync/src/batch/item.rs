//! One document's item: whole, or the changes since the heads the peer is known to hold.

use safemesh_doc::{AutoCommit, heads_from_hex};

use crate::check::tips_of;
use crate::frame::Item;

/// A document sent whole (a snapshot).
pub fn snapshot_item(id: &str, seq: i64, snapshot: Vec<u8>, heads: &[String]) -> Item {
    Item::Doc {
        id: id.to_string(),
        seq,
        snapshot: Some(snapshot),
        changes: Vec::new(),
        heads: heads.to_vec(),
    }
}

/// What a peer known to hold `peer_heads` of document `id` (ours at `heads`, stored at `seq`) is
/// sent: the changes since the heads of those it holds that this side knows, or the whole document
/// if it knows none of them; nothing if the peer holds every change already. The usual delta — our
/// heads are the newest of the changes sent — goes without heads: the receiver derives them
/// ([`tips_of`]), 34 bytes saved.
pub fn doc_item(
    id: &str,
    seq: i64,
    heads: &[String],
    peer_heads: &[String],
    doc: &mut AutoCommit,
) -> Option<Item> {
    let known: Vec<_> = heads_from_hex(peer_heads)
        .unwrap_or_default()
        .into_iter()
        .filter(|h| doc.get_change_by_hash(h).is_some())
        .collect();
    if known.is_empty() {
        return Some(snapshot_item(id, seq, doc.save(), heads));
    }
    let delta = doc.get_changes(&known);
    if delta.is_empty() {
        return None;
    }
    let implied = {
        let mut t = tips_of(&delta);
        t.sort();
        let mut h = heads.to_vec();
        h.sort();
        t == h
    };
    Some(Item::Doc {
        id: id.to_string(),
        seq,
        snapshot: None,
        changes: delta.into_iter().map(|c| c.raw_bytes().to_vec()).collect(),
        heads: if implied { Vec::new() } else { heads.to_vec() },
    })
}

/// Changes one part carries at most: well under the receiver's changes per item
/// ([`crate::RecvLimits`]'s `max_doc_changes`, 10,000 by default), however small the changes.
pub const MAX_PART_CHANGES: usize = 4096;

/// A document's item sized to the room left in a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Sized {
    /// Everything the peer lacks, whole or as a delta (as [`doc_item`]).
    Complete(Item),
    /// The first of the changes the peer lacks, in causal order, as many as fit (at least one): the
    /// document is larger than a batch may be. The item names the document's full heads, so the
    /// receiver sees it is not complete yet (it keeps its durable cursor below the document);
    /// `holds` are the heads the peer holds once it applies the part (the next part starts there).
    Part { item: Item, holds: Vec<String> },
}

/// What a peer known to hold `peer_heads` of `id` is sent, within `room` payload bytes (docs/PROTOCOL.md
/// §5): as [`doc_item`] if that fits; else the document goes in parts, each
/// a delta of the next changes — a snapshot cannot be cut, changes can, and a receiver applies a
/// prefix of a document's history like any delta (it is an earlier state of the document). Batches
/// apply in order, so a part may start where the previous one, not yet acknowledged, ends.
pub fn doc_item_within(
    id: &str,
    seq: i64,
    heads: &[String],
    peer_heads: &[String],
    doc: &mut AutoCommit,
    room: usize,
) -> Option<Sized> {
    let item = doc_item(id, seq, heads, peer_heads, doc)?;
    let changes = match &item {
        Item::Doc { changes, .. } => changes.len(),
        Item::Summary { .. } => 0,
    };
    if item.payload_len() <= room && changes <= MAX_PART_CHANGES {
        return Some(Sized::Complete(item));
    }
    let known: Vec<_> = heads_from_hex(peer_heads)
        .unwrap_or_default()
        .into_iter()
        .filter(|h| doc.get_change_by_hash(h).is_some())
        .collect();
    let all = doc.get_changes(&known);
    // The item's own overhead: its id and the heads it names.
    let mut bytes = id.len() + heads.len() * 34;
    let mut prefix = Vec::new();
    for c in &all {
        let n = c.raw_bytes().len();
        if !prefix.is_empty() && (bytes + n > room || prefix.len() >= MAX_PART_CHANGES) {
            break;
        }
        bytes += n;
        prefix.push(c.clone());
    }
    if prefix.len() == all.len() && changes <= MAX_PART_CHANGES {
        // Too large whole, small enough as changes: one delta from nothing.
        return Some(Sized::Complete(Item::Doc {
            id: id.to_string(),
            seq,
            snapshot: None,
            changes: all.iter().map(|c| c.raw_bytes().to_vec()).collect(),
            heads: heads.to_vec(),
        }));
    }
    let mut holds = tips_of(&prefix);
    holds.extend(peer_heads.iter().cloned());
    holds.sort();
    holds.dedup();
    Some(Sized::Part {
        item: Item::Doc {
            id: id.to_string(),
            seq,
            snapshot: None,
            changes: prefix.iter().map(|c| c.raw_bytes().to_vec()).collect(),
            heads: heads.to_vec(),
        },
        holds,
    })
}
