//! The sans-IO link state machine. One `Link` lives as long as the node knows the peer, across
//! reconnects; each stream starts with [`Link::on_connected`].
//!
//! Outgoing: after the peer's hello the link asks for a batch after the peer's cursor
//! ([`Effect::Prepare`]); batches go out while fewer than `max_inflight` are unacknowledged; each ack is
//! persisted with the heads the peer now holds ([`Effect::PersistAck`]). Incoming: batches are applied
//! one at a time ([`Effect::Apply`]); once durable, the link acks. A document the peer refuses for its
//! content (forbidden changes, bytes that do not decode, a record it cannot read) is quarantined on
//! this link and the stream is closed; the next stream leaves it out. The peer's word is bounded
//! (issue 19 #8): only a document this side sent on the stream can be refused, the quarantine holds
//! at most [`MAX_QUARANTINED`] documents, and each is tried again after [`QUARANTINE_RETRY_SECS`]. A peer that knows nothing of
//! what this side holds asks for a digest first ([`Effect::MakeDigest`], docs/PROTOCOL.md §8).
//!
//! Every incoming frame is checked against the receiver's own [`RecvLimits`] before anything else
//! happens to it (items per batch, changes per document, payload bytes, id lengths, sane and monotone
//! sequence numbers): the sender's word is never taken for its own bounds. A frame that breaks one gets
//! a typed `Malformed` error frame naming the rule (and the document, if one is to blame) and the stream
//! is closed. A document refused for its content is remembered on this link ([`Link::refused`]): a
//! later batch that carries it again is refused at once with the same error, without checking it
//! again (and never acknowledged, so the sender cannot take it as delivered). The sender quarantines
//! the document on its side and leaves it out, so one bad document cannot keep the rest of the link
//! from being served.
//!
//! The machine is one struct, [`Link`]; its methods are grouped by what they answer: `limits`
//! (receive bounds), `handshake` (hello and digest repair), `send` (batches out, acks in), `receive`
//! (batches in, the durable cursor), `exchange` (per-document Automerge sync exchanges).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use safemesh_model::AdminCode;

use crate::digest::Digest;
use crate::frame::{Batch, ErrorCode, ErrorFrame, Frame, Hello, PROTOCOL_VERSION};

mod crl;
mod effect;
mod exchange;
mod handshake;
mod limits;
mod receive;
mod send;

pub use crl::{MAX_CRL_BYTES, RULE_CRL_FROM_PARENT};
pub use effect::{DOC_SYNC_FRAME_BYTES, DocSyncStep, Effect, Role, State, Synced};
pub use limits::{RULE_FRAME_DECODES, RecvLimits, Violation};
pub use receive::{Received, summary_owner, summary_refused};

#[derive(Debug)]
struct InFlight {
    upto: i64,
    docs: Vec<(String, Vec<String>)>,
}

/// The link state machine.
#[derive(Debug)]
pub struct Link {
    pub peer: AdminCode,
    pub role: Role,
    me: AdminCode,
    my_install: String,
    state: State,
    /// The peer's install id as last seen.
    peer_install: Option<String>,
    hello_received: bool,
    // Outgoing.
    send_after: i64,
    preparing: bool,
    inflight: VecDeque<InFlight>,
    max_inflight: usize,
    out_caught_up: bool,
    /// Whether the last batch sent on this stream said `caught_up` (true before any): when a batch
    /// ended exactly at the end of what there was, an empty caught-up batch must still tell the peer.
    told_caught_up: bool,
    local_seq: i64,
    force: Vec<String>,
    /// What this side sent on this stream, most recent last, at most [`RECENT_SENT`]: the ids of the
    /// documents of its batches and sync messages, and `summary:<owner>` of its summaries. A peer's
    /// refusal may quarantine only one of these.
    sent: VecDeque<String>,
    /// The highest `upto` of the batches sent on this stream: the peer may acknowledge no further.
    sent_upto: Option<i64>,
    /// Requested documents a batch did not finish (no room, or sent in part), for the next batch on
    /// this stream.
    deferred: Vec<String>,
    /// Documents the peer refused from us, with when (the link's clock, [`Link::set_now`]): left
    /// out on this link for [`QUARANTINE_RETRY_SECS`], at most [`MAX_QUARANTINED`] of them.
    quarantine: BTreeMap<String, u64>,
    /// The runner's clock (seconds), for the quarantine's expiry.
    now: u64,
    // Incoming.
    recv_cursor: i64,
    in_caught_up: bool,
    applying: bool,
    queued: VecDeque<Batch>,
    /// Documents this side asked a snapshot of, or opened a sync exchange for, by their seq at the
    /// peer: the durable cursor stays below the smallest until the document is complete here.
    awaiting: BTreeMap<String, i64>,
    /// For each document awaited in a sync exchange, the heads of the delta that could not apply.
    wanted: BTreeMap<String, Vec<String>>,
    /// The highest ack this side sent on this stream, and whether the last batch said `caught_up`.
    acked: i64,
    last_batch_caught_up: bool,
    /// The `upto` of the batch being applied, and the highest of those applied on this stream.
    applying_upto: i64,
    applied_upto: i64,
    /// Documents in an Automerge sync exchange on this stream.
    syncing: BTreeSet<String>,
    /// The peer's sync messages per document on this stream since its exchange last opened.
    rounds: BTreeMap<String, u32>,
    /// Documents whose exchange this side has just opened: its next message for them says so.
    opening: BTreeSet<String>,
    /// Documents (and `summary:<owner>`) this side refused as forbidden from this peer, with the error:
    /// a later batch carrying one is refused with it again, for the life of the link.
    refused: BTreeMap<String, ErrorFrame>,
    /// Receive bounds, and the last batch's `upto` on this stream.
    limits: RecvLimits,
    last_upto: Option<i64>,
    /// The peer's own seq as it declared it on this stream (its hello, then each batch's): what it
    /// could know of its sequence, and so how far its `upto` may go (issue 19 #1).
    declared_seq: i64,
    last_error: Option<String>,
    // Digest repair (DESIGN §5.8): a digest is being made, or was sent and its reply is coming in.
    digest_making: bool,
    digest_sent: Option<Digest>,
    digest_differ: BTreeSet<u32>,
    digest_answered: bool,
    /// A digest repair with this peer was started on an earlier stream and never finished (stored).
    repair_pending: bool,
    /// The revocation list this node holds (CRL number, DER), and the number the peer holds as far
    /// as this stream tells (its hello, or what this side offered it since).
    crl: Option<(u64, Vec<u8>)>,
    peer_crl: u64,
}

impl Link {
    pub fn new(
        me: AdminCode,
        my_install: String,
        peer: AdminCode,
        role: Role,
        max_inflight: usize,
    ) -> Link {
        Link {
            peer,
            role,
            me,
            my_install,
            state: State::Connecting,
            peer_install: None,
            hello_received: false,
            send_after: 0,
            preparing: false,
            inflight: VecDeque::new(),
            max_inflight: max_inflight.max(1),
            out_caught_up: false,
            told_caught_up: true,
            local_seq: 0,
            force: Vec::new(),
            sent: VecDeque::new(),
            sent_upto: None,
            deferred: Vec::new(),
            quarantine: BTreeMap::new(),
            now: 0,
            recv_cursor: 0,
            in_caught_up: false,
            applying: false,
            queued: VecDeque::new(),
            awaiting: BTreeMap::new(),
            wanted: BTreeMap::new(),
            acked: 0,
            last_batch_caught_up: false,
            applying_upto: 0,
            applied_upto: 0,
            syncing: BTreeSet::new(),
            rounds: BTreeMap::new(),
            opening: BTreeSet::new(),
            refused: BTreeMap::new(),
            limits: RecvLimits::default(),
            last_upto: None,
            declared_seq: 0,
            last_error: None,
            digest_making: false,
            digest_sent: None,
            digest_differ: BTreeSet::new(),
            digest_answered: false,
            repair_pending: false,
            crl: None,
            peer_crl: 0,
        }
    }

    /// The same link with other receive bounds.
    pub fn with_limits(mut self, limits: RecvLimits) -> Link {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> &RecvLimits {
        &self.limits
    }

    /// Documents this side refused from the peer (forbidden changes); refused again if resent.
    pub fn refused(&self) -> Vec<String> {
        self.refused.keys().cloned().collect()
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Documents set aside on this link after the peer refused them (and not yet due for a retry).
    pub fn quarantined(&self) -> BTreeSet<String> {
        self.quarantine
            .iter()
            .filter(|(_, since)| !self.quarantine_expired(**since))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The runner's clock, in seconds (any fixed origin): a quarantined document is sent again
    /// [`QUARANTINE_RETRY_SECS`] after the peer refused it.
    pub fn set_now(&mut self, secs: u64) {
        self.now = secs;
        let now = self.now;
        self.quarantine
            .retain(|_, since| now.saturating_sub(*since) < QUARANTINE_RETRY_SECS);
    }

    fn quarantine_expired(&self, since: u64) -> bool {
        self.now.saturating_sub(since) >= QUARANTINE_RETRY_SECS
    }

    /// Notes a document (or `summary:<owner>`) sent on this stream.
    pub(super) fn note_sent(&mut self, key: String) {
        if self.sent.len() >= RECENT_SENT {
            self.sent.pop_front();
        }
        self.sent.push_back(key);
    }

    /// Batches sent and not yet acknowledged.
    pub fn inflight(&self) -> usize {
        self.inflight.len()
    }

    pub fn recv_cursor(&self) -> i64 {
        self.recv_cursor
    }

    /// A stream opened. `recv_cursor` and `peer_install` come from the store.
    pub fn on_connected(
        &mut self,
        recv_cursor: i64,
        peer_install: Option<String>,
        local_seq: i64,
    ) -> Vec<Effect> {
        self.state = State::Connecting;
        self.hello_received = false;
        self.preparing = false;
        self.inflight.clear();
        self.sent.clear();
        self.sent_upto = None;
        self.deferred.clear();
        self.out_caught_up = false;
        self.told_caught_up = true;
        self.in_caught_up = false;
        self.applying = false;
        self.queued.clear();
        self.awaiting.clear();
        self.wanted.clear();
        self.acked = recv_cursor;
        self.last_batch_caught_up = false;
        self.applying_upto = recv_cursor;
        self.applied_upto = recv_cursor;
        self.clear_doc_syncs();
        self.last_upto = None;
        self.declared_seq = 0;
        self.clear_digest();
        self.recv_cursor = recv_cursor;
        self.peer_install = peer_install;
        self.local_seq = local_seq;
        self.peer_crl = 0;
        vec![Effect::Send(Frame::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            code: self.me.to_string(),
            install_id: self.my_install.clone(),
            recv_cursor,
            peer_install_seen: self.peer_install.clone().unwrap_or_default(),
            seq: local_seq,
            crl_number: self.crl_number(),
        }))]
    }

    pub fn on_disconnected(&mut self, reason: Option<String>) {
        if self.state != State::Rejected {
            self.state = State::Disconnected;
        }
        if reason.is_some() {
            self.last_error = reason;
        }
        self.hello_received = false;
        self.preparing = false;
        self.applying = false;
        self.inflight.clear();
        self.queued.clear();
        self.clear_doc_syncs();
        self.clear_digest();
    }

    /// The handshake failed (e.g. the peer's certificate was refused).
    pub fn on_rejected(&mut self, reason: String) {
        self.state = State::Rejected;
        self.last_error = Some(reason);
    }

    pub fn on_frame(&mut self, frame: Frame) -> Vec<Effect> {
        match frame {
            Frame::Hello(_) if self.hello_received => {
                self.protocol_error(None, "hello_once", "a second hello on the same stream")
            }
            Frame::Hello(h) => self.on_hello(h),
            Frame::Batch(b) => self.on_batch(b),
            Frame::Ack { upto } => self.on_ack(upto),
            Frame::NeedSnapshot { doc_ids } => self.on_need_snapshot(doc_ids),
            Frame::DocSync { messages } => self.on_doc_sync(messages),
            Frame::DigestRequest(d) => self.on_digest_request(d),
            Frame::DigestReply(r) => self.on_digest_reply(r),
            Frame::Crl { der } => self.on_crl(der),
            // The runner's `blob::BlobFlow` takes these; the document machine has nothing to do.
            Frame::BlobWant { .. } | Frame::BlobChunk(_) | Frame::BlobHeld { .. } => Vec::new(),
            Frame::Error(e)
                if e.code == ErrorCode::Malformed
                    && e.rule.as_deref() == Some(RULE_FRAME_DECODES) =>
            {
                // Made by our own transport: the peer's bytes did not decode.
                self.protocol_error(None, RULE_FRAME_DECODES, &e.message)
            }
            Frame::Error(e) => self.on_error(e),
        }
    }

    /// The peer's error frame: kept, the document it refuses set aside, the stream closed.
    fn on_error(&mut self, e: ErrorFrame) -> Vec<Effect> {
        // The peer's words, kept in status and the store: bounded.
        let message = clip(&e.message, 1024);
        self.last_error = Some(format!("{}: {message}", e.code.as_str()));
        // The peer refused one document for what it holds (its changes broke a rule, or it
        // cannot decode or read it): set it aside on this link, so the rest still goes. Only a
        // document this side sent on this stream (the peer's word names nothing else), and only so
        // many: the oldest refusal makes room.
        if is_refusal_of_content(&e)
            && let Some(id) = &e.doc_id
            && self.sent.contains(id)
        {
            if !self.quarantine.contains_key(id) && self.quarantine.len() >= MAX_QUARANTINED {
                let oldest = self
                    .quarantine
                    .iter()
                    .min_by_key(|(_, since)| **since)
                    .map(|(id, _)| id.clone());
                if let Some(oldest) = oldest {
                    self.quarantine.remove(&oldest);
                }
            }
            self.quarantine.insert(id.clone(), self.now);
        }
        if e.code == ErrorCode::BadHello {
            self.state = State::Rejected;
        }
        vec![Effect::Close { reason: message }]
    }

    /// The peer broke the protocol or a receive bound: a typed `Malformed` error frame, then close.
    /// Nothing of the frame is applied.
    fn protocol_error(&mut self, doc_id: Option<String>, rule: &str, msg: &str) -> Vec<Effect> {
        self.last_error = Some(format!("rejected from {}: {msg}", self.peer));
        self.applying = false;
        self.queued.clear();
        vec![
            Effect::Send(Frame::Error(ErrorFrame {
                code: ErrorCode::Malformed,
                doc_id,
                path: None,
                rule: Some(rule.to_string()),
                message: msg.to_string(),
            })),
            Effect::Close {
                reason: msg.to_string(),
            },
        ]
    }

    fn refresh_state(&mut self) {
        if matches!(self.state, State::Rejected) || !self.hello_received {
            return;
        }
        self.state = if self.in_caught_up
            && self.out_caught_up
            && self.inflight.is_empty()
            && !self.applying
            && self.queued.is_empty()
        {
            State::InSync
        } else {
            State::CatchingUp
        };
    }
}

/// Documents quarantined on one link at most (a peer's refusals past that push out the oldest).
pub const MAX_QUARANTINED: usize = 256;

/// Seconds after which a quarantined document is sent again (the peer's rules or build may have
/// changed; if not, it is refused and set aside again).
pub const QUARANTINE_RETRY_SECS: u64 = 3600;

/// Ids of what was sent on a stream that a peer's refusal may name, at most: well above the items of
/// the batches in flight (4 × 256) and one frame of sync messages.
pub const RECENT_SENT: usize = 8192;

/// Malformed-content rules that blame the document itself (not the frame, a bound, or the batch):
/// such a document is set aside on the link like a forbidden one.
const CONTENT_RULES: [&str; 3] = [
    "automerge_decodes",
    "projection_reads",
    crate::inflate::RULE_ITEM,
];

/// The rules of a receiver's per-child quotas (issue 19 #4): a refusal naming one is `Forbidden` and
/// sets the document aside like a forbidden change at the sender, but the receiver does not remember
/// it (a quota is about the moment, not the document's content).
pub const QUOTA_RULES: [&str; 4] = [
    "quota_documents",
    "quota_bytes",
    "quota_summary_bytes",
    "quota_summary_versions",
];

/// Whether `e` refuses a batch for a quota ([`QUOTA_RULES`]).
pub fn is_quota(e: &ErrorFrame) -> bool {
    e.rule.as_deref().is_some_and(|r| QUOTA_RULES.contains(&r))
}

/// Whether an error frame refuses one document for what it holds: forbidden changes, or content
/// that does not decode or cannot be read into records.
fn is_refusal_of_content(e: &ErrorFrame) -> bool {
    match e.code {
        ErrorCode::Forbidden => true,
        ErrorCode::Malformed => e
            .rule
            .as_deref()
            .is_some_and(|r| CONTENT_RULES.contains(&r)),
        _ => false,
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
