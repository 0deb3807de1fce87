//! Per-document Automerge sync exchanges (DESIGN §5.6) as the link sees them: bounds on the peer's
//! messages, rounds, replies gathered into frames.

use std::collections::BTreeSet;

use super::{DOC_SYNC_FRAME_BYTES, DocSyncStep, Effect, Link, Synced};
use crate::frame::{Frame, SyncMessage};

impl Link {
    /// Documents in an Automerge sync exchange on this stream.
    pub fn syncing(&self) -> impl Iterator<Item = &str> {
        self.syncing.iter().map(String::as_str)
    }

    /// Whether `doc_id` is in an Automerge sync exchange on this stream.
    pub fn is_syncing(&self, doc_id: &str) -> bool {
        self.syncing.contains(doc_id)
    }

    /// The stream's sync exchanges end with it.
    pub(super) fn clear_doc_syncs(&mut self) {
        self.syncing.clear();
        self.rounds.clear();
        self.opening.clear();
    }

    /// Messages of the peer's in Automerge sync exchanges, one per document.
    pub(super) fn on_doc_sync(&mut self, messages: Vec<SyncMessage>) -> Vec<Effect> {
        if !self.hello_received {
            return self.protocol_error(None, "hello_first", "sync message before hello");
        }
        let mut bytes = 0usize;
        let mut seen = BTreeSet::new();
        for SyncMessage {
            doc_id, message, ..
        } in &messages
        {
            if doc_id.is_empty() || doc_id.len() > self.limits.max_id_len {
                let msg = format!("sync message names an id of {} bytes", doc_id.len());
                return self.protocol_error(None, "id_length", &msg);
            }
            if !seen.insert(doc_id.as_str()) {
                let msg = format!("{doc_id}: two sync messages in one frame");
                return self.protocol_error(Some(doc_id.clone()), "doc_sync_once", &msg);
            }
            bytes = bytes.saturating_add(message.len());
            if message.is_empty() || bytes > self.limits.max_doc_sync_bytes {
                let msg = format!(
                    "{doc_id}: an empty sync message, or more than {} bytes of them in a frame",
                    self.limits.max_doc_sync_bytes
                );
                return self.protocol_error(Some(doc_id.clone()), "max_doc_sync_bytes", &msg);
            }
        }
        if let Some(err) = messages.iter().find_map(|m| self.refused.get(&m.doc_id)) {
            let mut err = err.clone();
            err.message = format!("{} (refused before on this link)", err.message);
            return self.on_apply_rejected(err);
        }
        // This side opens at most `max_doc_syncs` exchanges, and so does an honest peer: together,
        // twice that (their openings may cross).
        let new = messages
            .iter()
            .filter(|m| !self.syncing.contains(&m.doc_id))
            .count();
        if self.syncing.len() + new > 2 * self.limits.max_doc_syncs {
            let msg = format!(
                "more than {} documents in sync exchanges at once",
                self.limits.max_doc_syncs
            );
            return self.protocol_error(None, "max_doc_syncs", &msg);
        }
        let mut run = Vec::new();
        let mut give_up = Vec::new();
        for SyncMessage {
            doc_id,
            message,
            opening,
        } in messages
        {
            if self.quarantine.contains_key(&doc_id) {
                // The peer refused this document from us: it gets nothing more of it on this link.
                continue;
            }
            let rounds = self.rounds.entry(doc_id.clone()).or_insert(0);
            if opening {
                *rounds = 0;
            }
            *rounds += 1;
            // The side waiting for the document gives up first (the other allows twice as many), so
            // it is never left waiting for an answer the other side will not send.
            let waiting = self.awaiting.contains_key(&doc_id);
            let limit = crate::docsync::MAX_ROUNDS * if waiting { 1 } else { 2 };
            if *rounds > limit {
                // The exchange does not end: give it up. The side waiting for the document asks
                // for it whole instead.
                self.syncing.remove(&doc_id);
                if waiting {
                    give_up.push(doc_id);
                }
                continue;
            }
            self.syncing.insert(doc_id.clone());
            // What the peer holds is now learned from the exchange: a later ack must not record the
            // heads an earlier batch carried.
            for f in &mut self.inflight {
                f.docs.retain(|(id, _)| *id != doc_id);
            }
            run.push(DocSyncStep {
                doc_id,
                message: Some(message),
                fresh: opening,
            });
        }
        let mut fx = Vec::new();
        if !give_up.is_empty() {
            fx.push(Effect::Send(Frame::NeedSnapshot { doc_ids: give_up }));
        }
        if !run.is_empty() {
            fx.push(Effect::DocSync { steps: run });
        }
        fx
    }

    /// The runner ran the steps of [`Effect::DocSync`]: each document's reply goes out (in frames of
    /// at most [`DOC_SYNC_FRAME_BYTES`]; no reply ends that exchange on this side). A document
    /// `complete` here, that this side was waiting for, was stored together with the cursor
    /// [`Link::durable_without`] gave: the rest of its batch is acked.
    pub fn on_doc_synced(&mut self, results: Vec<Synced>) -> Vec<Effect> {
        // Heads are wanted only for documents still awaited.
        let awaiting = &self.awaiting;
        self.wanted.retain(|id, _| awaiting.contains_key(id));
        let mut fx = Vec::new();
        let mut replies = Vec::new();
        let mut ack = None;
        for Synced {
            doc_id,
            reply,
            complete,
            last,
        } in results
        {
            if complete {
                self.wanted.remove(&doc_id);
            }
            if complete && self.awaiting.contains_key(&doc_id) {
                let durable = self.durable_without(&doc_id);
                self.awaiting.remove(&doc_id);
                self.recv_cursor = self.recv_cursor.max(durable);
                // The batch that carried the document was acked short of it: ack the rest now, so
                // the sender's window moves on.
                if durable > self.acked {
                    self.acked = durable;
                    ack = Some(durable);
                }
            }
            if last {
                self.syncing.remove(&doc_id);
                if !self.awaiting.contains_key(&doc_id) {
                    // Nothing to count for a document this side is not waiting for.
                    self.rounds.remove(&doc_id);
                }
            } else {
                self.syncing.insert(doc_id.clone());
            }
            let opening = self.opening.remove(&doc_id);
            if let Some(message) = reply.filter(|_| self.hello_received) {
                self.note_sent(doc_id.clone());
                replies.push(SyncMessage::new(doc_id, message, opening));
            }
        }
        if self.awaiting.is_empty()
            && self.last_batch_caught_up
            && !self.applying
            && self.queued.is_empty()
        {
            self.in_caught_up = true;
        }
        if let Some(upto) = ack.filter(|_| self.hello_received) {
            fx.push(Effect::Send(Frame::Ack { upto }));
        }
        let mut frame = Vec::new();
        let mut bytes = 0;
        for m in replies {
            if !frame.is_empty() && bytes + m.message.len() > DOC_SYNC_FRAME_BYTES {
                fx.push(Effect::Send(Frame::DocSync {
                    messages: std::mem::take(&mut frame),
                }));
                bytes = 0;
            }
            bytes += m.message.len();
            frame.push(m);
        }
        if !frame.is_empty() {
            fx.push(Effect::Send(Frame::DocSync { messages: frame }));
        }
        self.refresh_state();
        fx
    }
}
