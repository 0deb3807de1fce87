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
