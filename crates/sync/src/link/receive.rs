//! The receiving side: batches queued and applied one at a time, acks, the durable cursor, and the
//! documents this side waits for (asked whole, or in a sync exchange).

use std::collections::BTreeMap;

use safemesh_model::AdminCode;

use super::{DocSyncStep, Effect, Link, Role, is_refusal_of_content};
use crate::frame::{Batch, ErrorCode, ErrorFrame, Frame, Item};

impl Link {
    /// A batch from the peer: checked against the receive bounds and this link's refusals, then queued.
    pub(super) fn on_batch(&mut self, b: Batch) -> Vec<Effect> {
        if !self.hello_received {
            return self.protocol_error(None, "hello_first", "batch before hello");
        }
        if let Err(v) = self.limits.check_batch(&b, self.last_upto) {
            return self.protocol_error(v.doc_id, v.rule, &v.message);
        }
        if let Err(v) = super::limits::check_declared(&b, self.declared_seq) {
            return self.protocol_error(v.doc_id, v.rule, &v.message);
        }
        self.last_upto = Some(b.upto);
        self.declared_seq = b.seq;
        if let Some(err) = b
            .items
            .iter()
            .find_map(|i| self.refused.get(&refusal_key(i)))
        {
            let mut err = err.clone();
            err.message = format!("{} (refused before on this link)", err.message);
            return self.on_apply_rejected(err);
        }
        self.queued.push_back(b);
        let fx = self.next_apply();
        self.refresh_state();
        fx
    }

    pub(super) fn next_apply(&mut self) -> Vec<Effect> {
        if self.applying {
            return Vec::new();
        }
        match self.queued.pop_front() {
            Some(b) => {
                self.applying = true;
                self.applying_upto = b.upto;
                vec![Effect::Apply(b)]
            }
            None => Vec::new(),
        }
    }

    /// Replaces the set of documents awaiting snapshots (a test or simulation standing in for
    /// [`Link::on_received`], which keeps it itself).
    pub fn set_awaiting(&mut self, awaiting: BTreeMap<String, i64>) {
        self.awaiting = awaiting;
    }

    /// The cursors of a batch the runner is about to commit, from what applying it came to: the
    /// cursor to ack (up to the batch's `upto`, stopping before the first document still missing
    /// history, never below `stored`, the cursor already durable) and the one to store durably with
    /// it (also below every document still awaited, so a stream that drops before a document is
    /// complete here cannot skip it). Returns `(acked, durable)`.
    pub fn batch_cursors(&self, received: &Received, upto: i64, stored: i64) -> (i64, i64) {
        let acked = match received.first_missing {
            Some(seq) => upto.min(seq - 1),
            None => upto,
        };
        let acked = acked.max(stored);
        let mut awaiting = self.awaiting.clone();
        received.replay(&mut awaiting, &mut BTreeMap::new());
        (acked, Link::durable_cursor(&awaiting, acked))
    }

    /// A batch was applied and committed (with the cursors [`Link::batch_cursors`] gave): the
    /// documents it completed are no longer awaited, those still missing history are, and are
    /// asked for — whole, or in a sync exchange. Then as [`Link::on_applied`].
    pub fn on_received(&mut self, received: Received, acked: i64, caught_up: bool) -> Vec<Effect> {
        received.replay(&mut self.awaiting, &mut self.wanted);
        self.on_applied(acked, caught_up, received.need_snapshot, received.need_sync)
    }

    /// The heads of the delta of `doc_id` that could not apply here: a sync exchange for it is
    /// complete once they are held too (the peer may have written more since its last message).
    pub fn wanted(&self, doc_id: &str) -> Option<&[String]> {
        self.wanted.get(doc_id).map(Vec::as_slice)
    }

    /// A batch was applied and committed; `acked` is the cursor now durable (it stops before the first
    /// document that needs a snapshot, so a lost request cannot skip it).
    /// `need_snapshot`: documents this side holds nothing of (or cannot sync) and asks whole;
    /// `need_sync`: documents it holds, reconciled with Automerge's sync protocol instead.
    pub fn on_applied(
        &mut self,
        acked: i64,
        caught_up: bool,
        mut need_snapshot: Vec<String>,
        need_sync: Vec<String>,
    ) -> Vec<Effect> {
        self.applying = false;
        self.acked = self.acked.max(acked);
        self.applied_upto = self.applied_upto.max(self.applying_upto);
        self.last_batch_caught_up = caught_up;
        self.recv_cursor = self
            .recv_cursor
            .max(Link::durable_cursor(&self.awaiting, acked));
        if caught_up && need_snapshot.is_empty() && need_sync.is_empty() && self.awaiting.is_empty()
        {
            self.in_caught_up = true;
        } else if !self.awaiting.is_empty() {
            self.in_caught_up = false;
        }
        let mut fx = vec![Effect::Send(Frame::Ack { upto: acked })];
        let mut opened = Vec::new();
        for id in need_sync {
            if opened.iter().any(|s: &DocSyncStep| s.doc_id == id) {
                continue; // named twice in the batch
            }
            // A document already in an exchange opens a new one: the peer may have ended the old
            // one before this delta, and would not speak again on its own.
            if !self.syncing.contains(&id) && self.syncing.len() >= self.limits.max_doc_syncs {
                need_snapshot.push(id);
            } else {
                self.syncing.insert(id.clone());
                self.rounds.remove(&id);
                self.opening.insert(id.clone());
                opened.push(DocSyncStep {
                    doc_id: id,
                    message: None,
                    fresh: true,
                });
            }
        }
        if !need_snapshot.is_empty() {
            fx.push(Effect::Send(Frame::NeedSnapshot {
                doc_ids: need_snapshot,
            }));
        }
        if !opened.is_empty() {
            fx.push(Effect::DocSync { steps: opened });
        }
        fx.extend(self.next_apply());
        self.refresh_state();
        fx
    }

    /// A batch broke a rule: tell the peer, keep nothing of it, close the stream.
    pub fn on_apply_rejected(&mut self, error: ErrorFrame) -> Vec<Effect> {
        self.applying = false;
        self.queued.clear();
        if is_refusal_of_content(&error)
            && !super::is_quota(&error)
            && let Some(id) = &error.doc_id
        {
            self.refused.insert(id.clone(), error.clone());
        }
        self.last_error = Some(format!("rejected from {}: {}", self.peer, error.message));
        let reason = error.message.clone();
        vec![Effect::Send(Frame::Error(error)), Effect::Close { reason }]
    }

    /// Documents awaiting a requested snapshot on this stream, with their seq at the peer.
    pub fn awaiting(&self) -> &BTreeMap<String, i64> {
        &self.awaiting
    }

    /// The cursor that may be stored durably: below every document still awaiting its snapshot.
    pub fn durable_cursor(awaiting: &BTreeMap<String, i64>, acked: i64) -> i64 {
        awaiting.values().map(|s| s - 1).fold(acked, i64::min)
    }

    /// The durable cursor once `doc_id` is complete here (it no longer holds the cursor back).
    pub fn durable_without(&self, doc_id: &str) -> i64 {
        self.durable_without_all(&[doc_id])
    }

    /// The durable cursor once all of `doc_ids` are complete here.
    pub fn durable_without_all(&self, doc_ids: &[&str]) -> i64 {
        let applied = self.applied_upto.max(self.recv_cursor);
        let rest = self
            .awaiting
            .iter()
            .filter(|(id, _)| !doc_ids.contains(&id.as_str()));
        rest.map(|(_, s)| s - 1).fold(applied, i64::min)
    }
}

/// The key an item is refused under: its document id, or `summary:<owner>`.
pub(super) fn refusal_key(item: &Item) -> String {
    match item {
        Item::Doc { id, .. } => id.clone(),
        Item::Summary { owner, .. } => format!("summary:{owner}"),
    }
}

/// What applying one batch came to, document by document, as the runner writes it: which documents
/// are now held whole here, and which still miss history (and how they are to be asked for). The
/// link takes it with [`Link::on_received`]; the runner never edits the link's state itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    /// In batch order: what became of each document.
    outcomes: Vec<(String, Outcome)>,
    first_missing: Option<i64>,
    need_snapshot: Vec<String>,
    need_sync: Vec<String>,
}

/// What became of one document of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Held whole here now.
    Held,
    /// Missing history, at this seq at the peer; with the heads of the delta that could not apply
    /// when it goes to a sync exchange.
    Missing {
        seq: i64,
        wanted: Option<Vec<String>>,
    },
}

impl Received {
    /// `doc_id` applied (or was already held): this side holds it whole.
    pub fn held(&mut self, doc_id: String) {
        self.outcomes.push((doc_id, Outcome::Held));
    }

    /// `doc_id` (at `seq` at the peer) applied, but only in part: the sender's document is larger
    /// than a batch and comes in parts (its item names heads this side does not hold yet). Awaited
    /// like a requested snapshot — the durable cursor stays below it — but nothing is asked: the
    /// next part is on its way.
    pub fn partial(&mut self, doc_id: String, seq: i64) {
        self.outcomes
            .push((doc_id, Outcome::Missing { seq, wanted: None }));
    }

    /// The delta of `doc_id` (at `seq` at the peer, with `heads`) could not apply: its history is
    /// missing here. `sync`: this side holds the document and the peer may have it (its audience),
    /// so it is reconciled with Automerge's sync protocol; otherwise it is asked whole.
    pub fn missing(&mut self, doc_id: String, seq: i64, heads: Vec<String>, sync: bool) {
        self.first_missing = Some(self.first_missing.map_or(seq, |s| s.min(seq)));
        if sync {
            self.need_sync.push(doc_id.clone());
            let wanted = Some(heads);
            self.outcomes
                .push((doc_id, Outcome::Missing { seq, wanted }));
        } else {
            self.need_snapshot.push(doc_id.clone());
            let wanted = None;
            self.outcomes
                .push((doc_id, Outcome::Missing { seq, wanted }));
        }
    }

    /// The documents awaited, and the heads wanted for them, once this batch is in.
    fn replay(
        &self,
        awaiting: &mut BTreeMap<String, i64>,
        wanted: &mut BTreeMap<String, Vec<String>>,
    ) {
        for (id, outcome) in &self.outcomes {
            match outcome {
                Outcome::Held => {
                    awaiting.remove(id);
                    wanted.remove(id);
                }
                Outcome::Missing { seq, wanted: heads } => {
                    awaiting.insert(id.clone(), *seq);
                    if let Some(h) = heads {
                        wanted.insert(id.clone(), h.clone());
                    }
                }
            }
        }
    }
}

/// Whose summary a peer may send to `me`: a child's own or one of its subtree's (summaries travel up
/// only); for a functional zone (the body names `owner_parent`), along its chain
/// ([`safemesh_model::Chain::link_allows`]): from the zone to the office it names, or relayed from
/// below that office. Returns the owner's code, or the error frame that refuses the batch.
pub fn summary_owner(
    role: Role,
    peer: &AdminCode,
    me: &AdminCode,
    owner: &str,
    owner_parent: Option<&AdminCode>,
) -> Result<AdminCode, ErrorFrame> {
    let owner_code = AdminCode::parse(owner).ok();
    let allowed = role == Role::Child
        && owner_code.as_ref().is_some_and(|o| {
            safemesh_model::Chain::configured(o, owner_parent)
                .is_ok_and(|chain| chain.link_allows(peer, me))
        });
    owner_code
        .filter(|_| allowed)
        .ok_or_else(|| summary_refused(peer, owner))
}

/// The frame refusing a summary of `owner` from `peer` (rule `summary_from_own_subtree`).
pub fn summary_refused(peer: &AdminCode, owner: &str) -> ErrorFrame {
    ErrorFrame {
        code: ErrorCode::Forbidden,
        doc_id: Some(format!("summary:{owner}")),
        path: Some("summary".into()),
        rule: Some("summary_from_own_subtree".into()),
        message: format!("summary of {owner} may not come from {peer}"),
    }
}
