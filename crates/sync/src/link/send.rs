//! The sending side: batches asked for, sent within the window, acknowledged.

use super::{Effect, InFlight, Link};
use crate::frame::{Batch, Frame};

impl Link {
    pub(super) fn maybe_prepare(&mut self) -> Vec<Effect> {
        // Requested snapshots go out even when the window is full: the batch holding the window may
        // itself wait on them.
        let window_full = self.inflight.len() >= self.max_inflight && self.force.is_empty();
        if !self.hello_received || self.preparing || window_full || self.repairing() {
            return Vec::new();
        }
        // What an earlier batch deferred (no room, or sent in part) goes on within the window: the
        // receiver acknowledges a part whole, so the window moves as the parts arrive.
        if self.inflight.len() < self.max_inflight {
            for id in std::mem::take(&mut self.deferred) {
                if !self.force.contains(&id) {
                    self.force.push(id);
                }
            }
        }
        if self.out_caught_up
            && self.force.is_empty()
            && self.deferred.is_empty()
            && self.local_seq <= self.send_after
        {
            return Vec::new();
        }
        self.preparing = true;
        vec![Effect::Prepare {
            after: self.send_after,
            force: std::mem::take(&mut self.force),
            exclude: self.quarantined(),
        }]
    }

    /// Requested documents the batch being prepared did not finish ([`crate::batch::Built::deferred`]):
    /// asked for again once the window allows. Called before [`Link::on_prepared`].
    pub fn defer(&mut self, ids: Vec<String>) {
        for id in ids {
            if !self.deferred.contains(&id) && !self.quarantine.contains_key(&id) {
                self.deferred.push(id);
            }
        }
    }

    /// The runner built a batch. `docs` are the (document, heads) it carries.
    pub fn on_prepared(&mut self, batch: Batch, docs: Vec<(String, Vec<String>)>) -> Vec<Effect> {
        self.preparing = false;
        if !self.hello_received {
            return Vec::new();
        }
        let mut fx = Vec::new();
        let nothing_new = batch.items.is_empty() && batch.upto <= self.send_after;
        let must_tell_caught_up = batch.caught_up && !self.told_caught_up;
        if nothing_new && !must_tell_caught_up {
            // Nothing new, unless a commit or a snapshot request arrived while preparing.
            self.out_caught_up = self.local_seq <= self.send_after
                && self.force.is_empty()
                && self.deferred.is_empty();
            fx.extend(self.maybe_prepare());
        } else {
            // (Or nothing new, but the last batch did not say so: an empty caught-up batch does.)
            let mut batch = batch;
            batch.upto = batch.upto.max(self.send_after);
            // This side's own seq, as far as it knows it: the peer bounds `upto` by it.
            let newest_item = batch.items.iter().map(|i| i.seq()).max().unwrap_or(0);
            self.local_seq = self.local_seq.max(batch.upto).max(newest_item);
            batch.seq = self.local_seq;
            self.told_caught_up = batch.caught_up;
            self.sent_upto = Some(self.sent_upto.unwrap_or(0).max(batch.upto));
            self.send_after = self.send_after.max(batch.upto);
            self.out_caught_up = batch.caught_up
                && self.local_seq <= self.send_after
                && self.force.is_empty()
                && self.deferred.is_empty();
            self.inflight.push_back(InFlight {
                upto: batch.upto,
                docs,
            });
            for item in &batch.items {
                self.note_sent(super::receive::refusal_key(item));
            }
            fx.push(Effect::Send(Frame::Batch(batch)));
            fx.extend(self.maybe_prepare());
        }
        self.refresh_state();
        fx
    }

    /// A local write committed; push it if the link is up.
    pub fn on_local_commit(&mut self, seq: i64) -> Vec<Effect> {
        self.local_seq = self.local_seq.max(seq);
        if self.local_seq > self.send_after {
            self.out_caught_up = false;
        }
        let fx = self.maybe_prepare();
        self.refresh_state();
        fx
    }

    /// The peer acknowledges `upto`. Believed only as far as this side sent (issue 19 #8/#1): an ack
    /// before any batch on this stream, or beyond the last batch's `upto`, acknowledges something
    /// never sent — a typed `Malformed` error (rule `ack_within_sent`), nothing recorded.
    pub(super) fn on_ack(&mut self, upto: i64) -> Vec<Effect> {
        if !self.hello_received {
            return self.protocol_error(None, "hello_first", "ack before hello");
        }
        if self.sent_upto.is_none_or(|sent| upto > sent) || upto < 0 {
            let msg = match self.sent_upto {
                Some(sent) => format!("ack of {upto}, beyond the last batch sent (upto {sent})"),
                None => format!("ack of {upto}, and no batch was sent on this stream"),
            };
            return self.protocol_error(None, "ack_within_sent", &msg);
        }
        let mut fx = Vec::new();
        let mut docs = Vec::new();
        while self.inflight.front().is_some_and(|f| f.upto <= upto) {
            if let Some(f) = self.inflight.pop_front() {
                docs.extend(f.docs);
            }
        }
        fx.push(Effect::PersistAck { upto, docs });
        fx.extend(self.maybe_prepare());
        self.refresh_state();
        fx
    }

    /// The peer asks these documents whole: their next send is a snapshot.
    pub(super) fn on_need_snapshot(&mut self, doc_ids: Vec<String>) -> Vec<Effect> {
        if doc_ids.len() > self.limits.max_need_snapshot {
            let msg = format!(
                "snapshot request for {} documents, more than {}",
                doc_ids.len(),
                self.limits.max_need_snapshot
            );
            return self.protocol_error(None, "max_need_snapshot", &msg);
        }
        if let Some(id) = doc_ids
            .iter()
            .find(|id| id.is_empty() || id.len() > self.limits.max_id_len)
        {
            let msg = format!("snapshot request names an id of {} bytes", id.len());
            return self.protocol_error(None, "id_length", &msg);
        }
        let mut fx = vec![Effect::ForgetPeerHeads {
            doc_ids: doc_ids.clone(),
        }];
        // A later ack must not record these as held by the peer.
        for f in &mut self.inflight {
            f.docs.retain(|(id, _)| !doc_ids.contains(id));
        }
        self.force.extend(doc_ids);
        self.out_caught_up = false;
        fx.extend(self.maybe_prepare());
        self.refresh_state();
        fx
    }
}
