//! One batch's plan: the rows after the peer's cursor (documents in its audience and, to a parent,
//! summaries), merged in seq order and cut at a full page; the snapshots the peer asked for first;
//! what each document needs from the store; the byte budget; and where the batch leaves the cursor.

use std::collections::{BTreeSet, VecDeque};

use crate::frame::Item;

/// A document written after the cursor, as the store lists it for the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocRow {
    pub id: String,
    pub seq: i64,
    /// This side's heads (hex).
    pub heads: Vec<String>,
    /// The heads the peer is known to hold, if any.
    pub peer_heads: Option<Vec<String>>,
}

/// A summary written after the cursor (sent to a parent only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    pub owner: String,
    pub version: i64,
    pub period: String,
    pub as_of: String,
    /// The summary body (JSON).
    pub body: String,
    pub seq: i64,
}

/// What one page of rows holds, and the bounds it was read with.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// The peer's cursor: rows have seq > `after`.
    pub after: i64,
    /// Rows read per kind (documents, summaries): a kind that filled its page may have more.
    pub limit: usize,
    pub docs: Vec<DocRow>,
    pub summaries: Vec<SummaryRow>,
}

/// What the plan needs from the store next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The peer holds nothing of the document: its stored bytes as they are (no decoding), as
    /// [`crate::batch::snapshot_item`]. See [`Plan::fresh_from`] to fetch a few at a time.
    Whole {
        id: String,
        seq: i64,
        heads: Vec<String>,
    },
    /// The peer holds some of it: load it and make [`crate::batch::doc_item`] (which may find
    /// nothing to send).
    Delta {
        id: String,
        seq: i64,
        heads: Vec<String>,
        peer_heads: Vec<String>,
    },
}

enum Cand {
    Doc(DocRow),
    Sum(SummaryRow),
}

/// One batch being built. [`Plan::forced`] lists the snapshots the peer asked for (served first, if
/// in its scope: the runner checks and [`Plan::push`]es them); then [`Plan::next_step`] walks the rows in
/// seq order, taking summaries itself and handing out the documents that need the store, until the
/// rows end or the byte budget is full; [`Plan::finish`] makes the batch.
pub struct Plan {
    cands: VecDeque<(i64, Cand)>,
    forced: Vec<String>,
    force: BTreeSet<String>,
    exclude: BTreeSet<String>,
    fresh: Vec<String>,
    max_bytes: usize,
    truncated: bool,
    last_seq: i64,
    items: Vec<Item>,
    docs: Vec<(String, Vec<String>)>,
    bytes: usize,
    deferred: Vec<String>,
}

/// A built batch: its items in seq order, how far it moves the cursor, whether it ends what there
/// was, and the (document, heads) it carries (the peer holds them once it acks).
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub items: Vec<Item>,
    pub upto: i64,
    pub caught_up: bool,
    pub docs: Vec<(String, Vec<String>)>,
    /// Requested documents this batch did not finish (no room left, or sent in part): asked for again
    /// in the next batch ([`crate::Link::defer`]).
    pub deferred: Vec<String>,
}

impl Built {
    /// The batch carries nothing but moves the cursor past `from` with more to come: every row of
    /// its page was already held by the peer (after a digest repair most of the scope is), so the
    /// sender may go on to the next page instead of sending it.
    pub fn only_moves_cursor(&self, from: i64) -> bool {
        self.items.is_empty() && !self.caught_up && self.upto > from
    }
}

impl Plan {
    /// Plans a batch from one page of rows: `force` are the documents the peer asked whole (each
    /// once), `exclude` those left out on this link (quarantined, or `summary:<owner>`); a batch
    /// holds at least one item and stops adding once it has `max_bytes` of payload.
    pub fn new(rows: Rows, force: &[String], exclude: &BTreeSet<String>, max_bytes: usize) -> Plan {
        let Rows {
            after,
            limit,
            docs,
            summaries,
        } = rows;
        // A kind that filled its page may have more after its last row: the batch stops there.
        let mut bound = i64::MAX;
        if docs.len() == limit {
            bound = bound.min(docs.last().map_or(i64::MAX, |r| r.seq));
        }
        if summaries.len() == limit {
            bound = bound.min(summaries.last().map_or(i64::MAX, |r| r.seq));
        }
        let mut cands: Vec<(i64, Cand)> = docs.into_iter().map(|r| (r.seq, Cand::Doc(r))).collect();
        cands.extend(summaries.into_iter().map(|s| (s.seq, Cand::Sum(s))));
        cands.sort_by_key(|(seq, _)| *seq);
        cands.retain(|(seq, _)| *seq <= bound);
        let mut seen = BTreeSet::new();
        let forced: Vec<String> = force
            .iter()
            .filter(|id| !exclude.contains(*id) && seen.insert((*id).clone()))
            .cloned()
            .collect();
        let force: BTreeSet<String> = force.iter().cloned().collect();
        let fresh = cands
            .iter()
            .filter_map(|(_, c)| match c {
                Cand::Doc(r)
                    if r.peer_heads.is_none()
                        && !exclude.contains(&r.id)
                        && !force.contains(&r.id) =>
                {
                    Some(r.id.clone())
                }
                _ => None,
            })
            .collect();
        Plan {
            cands: cands.into(),
            forced,
            force,
            exclude: exclude.clone(),
            fresh,
            max_bytes,
            truncated: bound != i64::MAX,
            last_seq: after,
            items: Vec::new(),
            docs: Vec::new(),
            bytes: 0,
            deferred: Vec::new(),
        }
    }

    /// Payload bytes one item may take: the byte budget. A batch stops adding once it holds that
    /// much, so it carries at most twice its budget; a document larger than one budget goes in parts
    /// ([`crate::batch::doc_item_within`]), requested snapshots included.
    pub fn room(&self) -> usize {
        self.max_bytes
    }

    /// Whether the batch is full: the next item waits for the next batch.
    pub fn full(&self) -> bool {
        !self.items.is_empty() && self.bytes >= self.max_bytes
    }

    /// A requested document that does not go (whole) in this batch: asked for again in the next.
    pub fn defer(&mut self, id: String) {
        if !self.deferred.contains(&id) {
            self.deferred.push(id);
        }
    }

    /// Adds the first part of a document too large for one batch (`holds`: the heads the peer has
    /// once it applies it). A requested document is deferred to the next batch; a row of the page
    /// ends the batch just before it, so the cursor stays below the document until its last part.
    pub fn push_part(&mut self, item: Item, holds: Vec<String>, requested: bool) {
        let (id, seq) = match &item {
            Item::Doc { id, seq, .. } => (id.clone(), *seq),
            Item::Summary { .. } => return self.push(item, None),
        };
        self.push(item, Some((id.clone(), holds)));
        if requested {
            self.defer(id);
        } else {
            self.truncated = true;
            self.last_seq = seq - 1;
            self.cands.clear();
        }
    }

    /// The snapshots the peer asked for, each once, none of them excluded: served before the rows,
    /// if the document is in the peer's scope.
    pub fn forced(&self) -> &[String] {
        &self.forced
    }

    /// The documents after `id` (itself included) in this batch that the peer holds nothing of, at
    /// most `n`: a runner fetching stored bytes reads a few at a time, so a batch of large documents
    /// does not read far more than it sends.
    pub fn fresh_from(&self, id: &str, n: usize) -> &[String] {
        let from = self.fresh.iter().position(|f| f == id).unwrap_or(0);
        &self.fresh[from..(from + n).min(self.fresh.len())]
    }

    /// Adds an item to the batch; `heads` for a document (the peer holds them once it acks).
    pub fn push(&mut self, item: Item, heads: Option<(String, Vec<String>)>) {
        self.bytes += item.payload_len();
        self.items.push(item);
        self.docs.extend(heads);
    }

    /// The next document that needs the store, taking the summaries on the way; `None` when the rows
    /// are done or the byte budget is full (then the batch ends short of them).
    pub fn next_step(&mut self) -> Option<Step> {
        while let Some((seq, cand)) = self.cands.pop_front() {
            if self.full() {
                self.truncated = true;
                self.cands.clear();
                return None;
            }
            // Looked at, whether it goes or not: the cursor may move past it.
            self.last_seq = seq;
            match cand {
                Cand::Sum(s) => {
                    if self.exclude.contains(&format!("summary:{}", s.owner)) {
                        continue;
                    }
                    self.push(
                        Item::Summary {
                            owner: s.owner,
                            version: s.version,
                            period: s.period,
                            as_of: s.as_of,
                            body: s.body,
                            seq,
                        },
                        None,
                    );
                }
                Cand::Doc(DocRow {
                    id,
                    seq,
                    heads,
                    peer_heads,
                }) => {
                    if self.exclude.contains(&id) || self.force.contains(&id) {
                        continue;
                    }
                    return Some(match peer_heads {
                        // The peer already holds exactly this (e.g. it sent it to us).
                        Some(p) if p == heads => continue,
                        Some(peer_heads) => Step::Delta {
                            id,
                            seq,
                            heads,
                            peer_heads,
                        },
                        None => Step::Whole { id, seq, heads },
                    });
                }
            }
        }
        None
    }

    /// The batch: items in seq order (receivers require it; requested snapshots were put first),
    /// the cursor moved as [`batch_upto`] says.
    pub fn finish(mut self, current_seq: i64) -> Built {
        let upto = batch_upto(self.truncated, self.last_seq, current_seq);
        self.items.sort_by_key(Item::seq);
        Built {
            items: self.items,
            upto,
            caught_up: !self.truncated && self.deferred.is_empty(),
            docs: self.docs,
            deferred: self.deferred,
        }
    }
}

/// How far a batch moves the peer's cursor: to its last candidate if it stopped short (a page or
/// the byte budget was full), else to this side's current seq — everything up to it was looked at.
pub fn batch_upto(truncated: bool, last_seq: i64, current_seq: i64) -> i64 {
    if truncated {
        last_seq
    } else {
        current_seq.max(last_seq)
    }
}
