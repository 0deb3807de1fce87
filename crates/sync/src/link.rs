//! The sans-IO link state machine. One `Link` lives as long as the node knows the peer, across
//! reconnects; each stream starts with [`Link::on_connected`].
//!
//! Outgoing: after the peer's hello the link asks for a batch after the peer's cursor
//! ([`Effect::Prepare`]); batches go out while fewer than `max_inflight` are unacknowledged; each ack is
//! persisted with the heads the peer now holds ([`Effect::PersistAck`]). Incoming: batches are applied
//! one at a time ([`Effect::Apply`]); once durable, the link acks. A document the peer refuses for its
//! content (forbidden changes, bytes that do not decode, a record it cannot read) is quarantined on
//! this link and the stream is closed; the next stream leaves it out. A peer that knows nothing of
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

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use safemesh_model::AdminCode;

use crate::digest::Digest;
use crate::frame::{
    Batch, DigestReply, ErrorCode, ErrorFrame, Frame, Hello, Item, PROTOCOL_VERSION,
};

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

/// The peer's place relative to this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The peer is this node's parent.
    Parent,
    /// The peer is one of this node's children.
    Child,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Parent => "parent",
            Role::Child => "child",
        }
    }
}

/// The link's state as operators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Connecting,
    CatchingUp,
    InSync,
    Disconnected,
    Rejected,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Connecting => "connecting",
            State::CatchingUp => "catching_up",
            State::InSync => "in_sync",
            State::Disconnected => "disconnected",
            State::Rejected => "rejected",
        }
    }
}

/// What the runner must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send(Frame),
    /// Forget what the peer was known to hold and its cursor: it is a new install.
    ResetPeer {
        install_id: String,
    },
    /// Forget the peer's heads for these documents (their next send is a snapshot).
    ForgetPeerHeads {
        doc_ids: Vec<String>,
    },
    /// Run one step of the Automerge sync exchange for each of these documents, in one store
    /// transaction ([`crate::docsync`]). Answer with [`Link::on_doc_synced`], or
    /// [`Link::on_apply_rejected`] if the peer's changes are refused (nothing of the frame is kept).
    DocSync {
        steps: Vec<DocSyncStep>,
    },
    /// Build the next batch: in-scope items with seq > `after`, plus snapshots of `force`; skip `exclude`.
    /// Answer with [`Link::on_prepared`].
    Prepare {
        after: i64,
        force: Vec<String>,
        exclude: BTreeSet<String>,
    },
    /// Check and apply an incoming batch in one transaction. Answer with [`Link::on_applied`] or
    /// [`Link::on_apply_rejected`].
    Apply(Batch),
    /// The peer acknowledged `upto`; it now holds these (document, heads).
    PersistAck {
        upto: i64,
        docs: Vec<(String, Vec<String>)>,
    },
    /// This side knows nothing of what the peer holds (a new or restored install on either side):
    /// build the digest of the link set for a peer at `peer_seq` and answer with
    /// [`Link::on_digest_made`]. Nothing is sent before the answer to it is in.
    MakeDigest {
        peer_seq: i64,
    },
    /// The peer asked what this side holds: send its (document, heads) in the buckets that differ, as
    /// [`Frame::DigestReply`] frames, the last with `last` set. Where a bucket matches, the peer holds
    /// exactly what this side holds there: record that as the peer's heads.
    AnswerDigest(Digest),
    /// From a digest reply: the peer holds these documents at (at least) these heads. Record them,
    /// for the documents this side holds.
    PeerHolds {
        docs: Vec<(String, Vec<String>)>,
    },
    /// The digest reply is complete. In the buckets of `digest` not in `differ` the peer held what
    /// this side held when it made the digest: where that is still so, record it as the peer's heads.
    DigestSettled {
        digest: Digest,
        differ: BTreeSet<u32>,
    },
    /// Close the stream (the runner reconnects if it is the dialing side).
    Close {
        reason: String,
    },
}

/// One document's step of its sync exchange ([`Effect::DocSync`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocSyncStep {
    pub doc_id: String,
    /// The peer's message, or `None` to open the exchange (a delta could not apply here).
    pub message: Option<Vec<u8>>,
    /// Start from the stored sync state, dropping what was kept of an earlier exchange for the
    /// document on this stream: this side opens, or the peer's message opens.
    pub fresh: bool,
}

/// One document's outcome of a step of its sync exchange (see [`Link::on_doc_synced`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synced {
    pub doc_id: String,
    /// The message to send the peer; none ends the exchange on this side.
    pub reply: Option<Vec<u8>>,
    /// This side now holds everything the peer said it holds.
    pub complete: bool,
    /// This side's part of the exchange ends with this reply (see [`crate::docsync::Step::last`]).
    pub last: bool,
}

/// Bytes of sync messages this side puts in one [`Frame::DocSync`] (a larger message goes alone).
pub const DOC_SYNC_FRAME_BYTES: usize = 1 << 20;

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
    quarantine: BTreeSet<String>,
    // Incoming.
    recv_cursor: i64,
    in_caught_up: bool,
    applying: bool,
    queued: VecDeque<Batch>,
    /// Documents this side asked a snapshot of, or opened a sync exchange for, by their seq at the
    /// peer: the durable cursor stays below the smallest until the document is complete here.
    awaiting: BTreeMap<String, i64>,
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
    last_error: Option<String>,
    // Digest repair (DESIGN §5.8): a digest is being made, or was sent and its reply is coming in.
    digest_making: bool,
    digest_sent: Option<Digest>,
    digest_differ: BTreeSet<u32>,
    digest_answered: bool,
    /// A digest repair with this peer was started on an earlier stream and never finished (stored).
    repair_pending: bool,
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
            quarantine: BTreeSet::new(),
            recv_cursor: 0,
            in_caught_up: false,
            applying: false,
            queued: VecDeque::new(),
            awaiting: BTreeMap::new(),
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
            last_error: None,
            digest_making: false,
            digest_sent: None,
            digest_differ: BTreeSet::new(),
            digest_answered: false,
            repair_pending: false,
        }
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

    fn clear_digest(&mut self) {
        self.digest_making = false;
        self.digest_sent = None;
        self.digest_differ.clear();
        self.digest_answered = false;
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

    pub fn quarantined(&self) -> &BTreeSet<String> {
        &self.quarantine
    }

    /// Batches sent and not yet acknowledged.
    pub fn inflight(&self) -> usize {
        self.inflight.len()
    }

    pub fn recv_cursor(&self) -> i64 {
        self.recv_cursor
    }

    /// Documents in an Automerge sync exchange on this stream.
    pub fn syncing(&self) -> impl Iterator<Item = &str> {
        self.syncing.iter().map(String::as_str)
    }

    /// Whether `doc_id` is in an Automerge sync exchange on this stream.
    pub fn is_syncing(&self, doc_id: &str) -> bool {
        self.syncing.contains(doc_id)
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

    /// Documents awaiting a requested snapshot on this stream, with their seq at the peer.
    pub fn awaiting(&self) -> &BTreeMap<String, i64> {
        &self.awaiting
    }

    /// The cursor that may be stored durably: below every document still awaiting its snapshot.
    pub fn durable_cursor(awaiting: &BTreeMap<String, i64>, acked: i64) -> i64 {
        awaiting.values().map(|s| s - 1).fold(acked, i64::min)
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
        self.out_caught_up = false;
        self.told_caught_up = true;
        self.in_caught_up = false;
        self.applying = false;
        self.queued.clear();
        self.awaiting.clear();
        self.acked = recv_cursor;
        self.last_batch_caught_up = false;
        self.applying_upto = recv_cursor;
        self.applied_upto = recv_cursor;
        self.clear_doc_syncs();
        self.last_upto = None;
        self.clear_digest();
        self.recv_cursor = recv_cursor;
        self.peer_install = peer_install;
        self.local_seq = local_seq;
        vec![Effect::Send(Frame::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            code: self.me.to_string(),
            install_id: self.my_install.clone(),
            recv_cursor,
            peer_install_seen: self.peer_install.clone().unwrap_or_default(),
            seq: local_seq,
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

    /// The stream's sync exchanges end with it.
    fn clear_doc_syncs(&mut self) {
        self.syncing.clear();
        self.rounds.clear();
        self.opening.clear();
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
            Frame::Batch(b) => {
                if !self.hello_received {
                    return self.protocol_error(None, "hello_first", "batch before hello");
                }
                if let Err(v) = self.limits.check_batch(&b, self.last_upto) {
                    return self.protocol_error(v.doc_id, v.rule, &v.message);
                }
                self.last_upto = Some(b.upto);
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
            Frame::Ack { upto } => self.on_ack(upto),
            Frame::NeedSnapshot { doc_ids } => {
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
            Frame::DocSync { messages } => self.on_doc_sync(messages),
            Frame::DigestRequest(d) => {
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
            Frame::DigestReply(r) => self.on_digest_reply(r),
            Frame::Error(e)
                if e.code == ErrorCode::Malformed
                    && e.rule.as_deref() == Some(RULE_FRAME_DECODES) =>
            {
                // Made by our own transport: the peer's bytes did not decode.
                self.protocol_error(None, RULE_FRAME_DECODES, &e.message)
            }
            Frame::Error(e) => {
                // The peer's words, kept in status and the store: bounded.
                let message = clip(&e.message, 1024);
                self.last_error = Some(format!("{}: {message}", e.code.as_str()));
                // The peer refused one document for what it holds (its changes broke a rule, or it
                // cannot decode or read it): set it aside on this link, so the rest still goes.
                if is_refusal_of_content(&e)
                    && let Some(id) = &e.doc_id
                    && !id.is_empty()
                    && id.len() <= self.limits.max_id_len
                {
                    self.quarantine.insert(id.clone());
                }
                if e.code == ErrorCode::BadHello {
                    self.state = State::Rejected;
                }
                vec![Effect::Close { reason: message }]
            }
        }
    }

    /// Messages of the peer's in Automerge sync exchanges, one per document.
    fn on_doc_sync(&mut self, messages: Vec<crate::frame::SyncMessage>) -> Vec<Effect> {
        if !self.hello_received {
            return self.protocol_error(None, "hello_first", "sync message before hello");
        }
        let mut bytes = 0usize;
        let mut seen = BTreeSet::new();
        for crate::frame::SyncMessage {
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
        for crate::frame::SyncMessage {
            doc_id,
            message,
            opening,
        } in messages
        {
            if self.quarantine.contains(&doc_id) {
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
                replies.push(crate::frame::SyncMessage::new(doc_id, message, opening));
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

    fn on_hello(&mut self, h: Hello) -> Vec<Effect> {
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
        let mut fx = Vec::new();
        // The peer was restored (new install): what we knew it held is void.
        if self
            .peer_install
            .as_deref()
            .is_some_and(|p| p != h.install_id)
        {
            fx.push(Effect::ResetPeer {
                install_id: h.install_id.clone(),
            });
            self.recv_cursor = 0;
        }
        self.peer_install = Some(h.install_id.clone());
        self.last_error = None;
        // If the peer's cursor refers to another install of ours, it means nothing: start over.
        self.send_after = if h.peer_install_seen == self.my_install {
            h.recv_cursor
        } else {
            0
        };
        self.hello_received = true;
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

    fn on_digest_reply(&mut self, r: DigestReply) -> Vec<Effect> {
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

    fn maybe_prepare(&mut self) -> Vec<Effect> {
        // Requested snapshots go out even when the window is full: the batch holding the window may
        // itself wait on them.
        let window_full = self.inflight.len() >= self.max_inflight && self.force.is_empty();
        if !self.hello_received || self.preparing || window_full || self.repairing() {
            return Vec::new();
        }
        if self.out_caught_up && self.force.is_empty() && self.local_seq <= self.send_after {
            return Vec::new();
        }
        self.preparing = true;
        vec![Effect::Prepare {
            after: self.send_after,
            force: std::mem::take(&mut self.force),
            exclude: self.quarantine.clone(),
        }]
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
            self.out_caught_up = self.local_seq <= self.send_after && self.force.is_empty();
            fx.extend(self.maybe_prepare());
        } else {
            // (Or nothing new, but the last batch did not say so: an empty caught-up batch does.)
            let mut batch = batch;
            batch.upto = batch.upto.max(self.send_after);
            self.told_caught_up = batch.caught_up;
            self.send_after = self.send_after.max(batch.upto);
            self.out_caught_up =
                batch.caught_up && self.local_seq <= self.send_after && self.force.is_empty();
            self.inflight.push_back(InFlight {
                upto: batch.upto,
                docs,
            });
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

    fn on_ack(&mut self, upto: i64) -> Vec<Effect> {
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

    fn next_apply(&mut self) -> Vec<Effect> {
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

    /// A batch was applied and committed; `acked` is the cursor now durable (it stops before the first
    /// document that needs a snapshot, so a lost request cannot skip it).
    /// Replaces the set of documents awaiting snapshots (the driver updates it with each batch).
    pub fn set_awaiting(&mut self, awaiting: BTreeMap<String, i64>) {
        self.awaiting = awaiting;
    }

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
            && let Some(id) = &error.doc_id
        {
            self.refused.insert(id.clone(), error.clone());
        }
        self.last_error = Some(format!("rejected from {}: {}", self.peer, error.message));
        let reason = error.message.clone();
        vec![Effect::Send(Frame::Error(error)), Effect::Close { reason }]
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

/// Malformed-content rules that blame the document itself (not the frame, a bound, or the batch):
/// such a document is set aside on the link like a forbidden one.
const CONTENT_RULES: [&str; 2] = ["automerge_decodes", "projection_reads"];

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

/// The key an item is refused under: its document id, or `summary:<owner>`.
fn refusal_key(item: &Item) -> String {
    match item {
        Item::Doc { id, .. } => id.clone(),
        Item::Summary { owner, .. } => format!("summary:{owner}"),
    }
}
