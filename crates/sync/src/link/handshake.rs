//! The hello, and digest repair (DESIGN §5.8): what to do when this side knows nothing of what the
//! peer holds.

use std::collections::BTreeSet;

use super::{Effect, Link, State};
use crate::digest::Digest;
use crate::frame::{DigestReply, ErrorCode, ErrorFrame, Frame, Hello, PROTOCOL_VERSION};

impl Link {
    pub(super) fn on_hello(&mut self, h: Hello) -> Vec<Effect> {
        if h.code != self.peer.as_str() || h.protocol != PROTOCOL_VERSION {
            let msg = format!(
                "握手不符 / hello mismatch: expected {} protocol {}, got {} protocol {}",
                self.peer, PROTOCOL_VERSION, h.code, h.protocol
            );
            self.state = State::Rejected;
            self.last_error = Some(msg.clone());
            return vec![
                Effect::Send(Frame::Error(ErrorFrame {
                    code: ErrorCode::BadHello,
                    doc_id: None,
                    path: None,
                    rule: None,
                    message: msg.clone(),
                })),
                Effect::Close { reason: msg },
            ];
        }
        // What the peer says it holds of ours cannot be beyond what we have written: such a cursor
        // would have this side skip its own next changes to the peer (issue 19 #1).
        if h.peer_install_seen == self.my_install && h.recv_cursor > self.local_seq {
            let msg = format!(
                "hello claims our sequence received up to {}, beyond our seq {}",
                h.recv_cursor, self.local_seq
            );
            return self.protocol_error(None, "cursor_within_seq", &msg);
        }
        let mut fx = Vec::new();
        // What this side durably received of the peer's sequence cannot be beyond the seq the peer
        // now declares (issue 19 #1): such a cursor was planted by someone holding the peer's
        // certificate, or the peer's store went back under the same install. Either way what this
        // side knew of the peer is void, as for a restored peer.
        let same_install = self.peer_install.as_deref() == Some(h.install_id.as_str());
        let cursor_beyond = same_install && self.recv_cursor > h.seq;
        let beyond_msg = format!(
            "接收游标超出对端序号，已重置 / receive cursor {} beyond the peer's seq {}: reset",
            self.recv_cursor, h.seq
        );
        // The peer was restored (new install): what we knew it held is void.
        if self.peer_install.is_some() && (!same_install || cursor_beyond) {
            fx.push(Effect::ResetPeer {
                install_id: h.install_id.clone(),
            });
            self.recv_cursor = 0;
            self.acked = 0;
            self.applying_upto = 0;
            self.applied_upto = 0;
        }
        self.peer_install = Some(h.install_id.clone());
        self.declared_seq = h.seq;
        self.last_error = cursor_beyond.then_some(beyond_msg);
        // If the peer's cursor refers to another install of ours, it means nothing: start over.
        self.send_after = if h.peer_install_seen == self.my_install {
            h.recv_cursor
        } else {
            0
        };
        self.hello_received = true;
        self.peer_crl = h.crl_number;
        fx.extend(self.offer_crl());
        self.in_caught_up = h.seq <= self.recv_cursor;
        self.out_caught_up = false;
        // What this side knew the peer held is void: the peer is a new install of a node we knew (just
        // reset), or it names an install of ours that is not this one (we were restored). If the peer
        // holds anything, compare digests before sending anything. A first contact (neither side
        // has seen the other) holds nothing of the other's: sending starts at once.
        let restored = fx.iter().any(|e| matches!(e, Effect::ResetPeer { .. }))
            || (!h.peer_install_seen.is_empty() && h.peer_install_seen != self.my_install)
            || self.repair_pending;
        if restored && h.seq > 0 {
            self.digest_making = true;
            fx.push(Effect::MakeDigest { peer_seq: h.seq });
        }
        fx.extend(self.maybe_prepare());
        self.refresh_state();
        fx
    }

    /// Whether a repair with this peer was left unfinished (from the store, before each stream):
    /// if so, the next hello starts it again.
    pub fn set_repair_pending(&mut self, pending: bool) {
        self.repair_pending = pending;
    }

    /// Whether a digest exchange holds this side's sending back.
    pub fn repairing(&self) -> bool {
        self.digest_making || self.digest_sent.is_some()
    }

    pub(super) fn clear_digest(&mut self) {
        self.digest_making = false;
        self.digest_sent = None;
        self.digest_differ.clear();
        self.digest_answered = false;
    }

    /// The peer asks what this side holds ([`Effect::AnswerDigest`]).
    pub(super) fn on_digest_request(&mut self, d: Digest) -> Vec<Effect> {
        if !self.hello_received {
            return self.protocol_error(None, "hello_first", "digest before hello");
        }
        if let Err(msg) = d.check() {
            return self.protocol_error(None, "digest_well_formed", &msg);
        }
        // Answering scans the whole link set: once per stream.
        if self.digest_answered {
            return self.protocol_error(
                None,
                "digest_once",
                "a second digest request on the same stream",
            );
        }
        self.digest_answered = true;
        vec![Effect::AnswerDigest(d)]
    }

    /// The runner made the digest asked for by [`Effect::MakeDigest`]. Empty (this side holds nothing
    /// the peer could hold): nothing to ask, sending starts at once.
    pub fn on_digest_made(&mut self, digest: Digest) -> Vec<Effect> {
        if !self.hello_received || !self.digest_making {
            return Vec::new();
        }
        self.digest_making = false;
        let mut fx = Vec::new();
        if !digest.slots.is_empty() {
            self.digest_sent = Some(digest.clone());
            fx.push(Effect::Send(Frame::DigestRequest(digest)));
        }
        fx.extend(self.maybe_prepare());
        self.refresh_state();
        fx
    }

    pub(super) fn on_digest_reply(&mut self, r: DigestReply) -> Vec<Effect> {
        if !self.hello_received {
            return self.protocol_error(None, "hello_first", "digest reply before hello");
        }
        let Some(sent) = &self.digest_sent else {
            return self.protocol_error(
                None,
                "digest_requested",
                "a digest reply nobody asked for",
            );
        };
        if r.entries.len() > self.limits.max_digest_entries {
            let msg = format!(
                "digest reply of {} entries, more than {}",
                r.entries.len(),
                self.limits.max_digest_entries
            );
            return self.protocol_error(None, "max_digest_entries", &msg);
        }
        let mut named = BTreeSet::new();
        for b in &r.differ {
            if sent.slot(*b).is_none() || self.digest_differ.contains(b) || !named.insert(*b) {
                let msg = format!("digest reply names bucket {b}, not asked about or named twice");
                return self.protocol_error(None, "digest_reply_buckets", &msg);
            }
        }
        let buckets = sent.buckets;
        for (id, heads) in &r.entries {
            if id.is_empty() || id.len() > self.limits.max_id_len {
                let msg = format!("digest reply names an id of {} bytes", id.len());
                return self.protocol_error(None, "id_length", &msg);
            }
            if heads.len() > self.limits.max_heads {
                let msg = format!(
                    "{id}: {} heads, more than {}",
                    heads.len(),
                    self.limits.max_heads
                );
                return self.protocol_error(None, "max_heads", &msg);
            }
            // Every entry belongs to a bucket this frame names as differing.
            if !named.contains(&crate::digest::bucket_of(id, buckets)) {
                let msg = format!("digest reply entry {id} outside the buckets it names");
                return self.protocol_error(None, "digest_reply_buckets", &msg);
            }
        }
        self.digest_differ.extend(r.differ.iter().copied());
        let mut fx = Vec::new();
        if !r.entries.is_empty() {
            fx.push(Effect::PeerHolds { docs: r.entries });
        }
        if r.last {
            let digest = self.digest_sent.take().unwrap_or_default();
            fx.push(Effect::DigestSettled {
                digest,
                differ: std::mem::take(&mut self.digest_differ),
            });
            fx.extend(self.maybe_prepare());
        }
        self.refresh_state();
        fx
    }
}
