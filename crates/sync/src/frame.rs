//! Frames of the link protocol, as domain types. The gateway maps them to protobuf at its edge.

use crate::digest::Digest;

/// Version of the link protocol spoken by this build. 2: deltas may omit heads the receiver can derive,
/// batches carry `remaining`, directives and hazards carry the issue-3 fields — a version-1 peer
/// would misread the first, so the hello refuses it (`BAD_HELLO`) instead. 3: a side that knows nothing
/// of what its peer holds asks for a digest first (`DigestRequest` / `DigestReply`). 4: a delta that
/// cannot apply at a receiver holding the document falls back to Automerge's sync protocol
/// (`DocSync`), which a version-3 peer would not understand. 5: a batch declares the sender's own
/// seq, and its `upto` may not pass it (issue 19 #1): a version-4 peer sends none and would be
/// refused; the hello says which revocation list the sender holds and a parent offers a newer one to
/// its child (`Crl`, issue 19 #12); evidence files move as blob frames (`BlobWant`, `BlobChunk`,
/// `BlobHeld`; the blob flow decides them, issue 16).
pub const PROTOCOL_VERSION: u32 = 5;

/// One frame on a link.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Hello(Hello),
    Batch(Batch),
    /// The receiver has durably applied everything up to `upto` of the sender's sequence.
    Ack {
        upto: i64,
    },
    /// The receiver could not apply a delta for these documents (missing history): send snapshots.
    NeedSnapshot {
        doc_ids: Vec<String>,
    },
    /// Messages of Automerge's sync protocol, at most one per document: the fallback when a delta
    /// cannot apply at a receiver that holds the document ([`crate::docsync`]).
    DocSync {
        messages: Vec<SyncMessage>,
    },
    Error(ErrorFrame),
    /// 摘要 — the sender knows nothing of what the receiver holds (a new or restored peer): its link
    /// set, bucketed ([`crate::digest`]). Answered by [`Frame::DigestReply`] frames.
    DigestRequest(Digest),
    DigestReply(DigestReply),
    /// 吊销列表 — the parent's certificate revocation list (an X.509 CRL signed by the CA, DER),
    /// offered to a child that holds an older one (its hello's `crl_number`). The child keeps it
    /// only if the CA signed it and its number is higher than its own, and offers it on to its own
    /// children. Never sent by a child.
    Crl {
        der: Vec<u8>,
    },
    /// 佐证材料 (the blob flow, `blob.rs`): ask for a blob from `offset` (the bytes the asker holds; also the
    /// acknowledgement of the chunks stored so far).
    BlobWant {
        sha256: String,
        offset: u64,
    },
    /// A piece of a blob asked for.
    BlobChunk(BlobChunk),
    /// Whether the sender holds a blob the receiver asked for (`false`: not yet; `true`: now).
    BlobHeld {
        sha256: String,
        held: bool,
    },
}

/// One document's message in a [`Frame::DocSync`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncMessage {
    pub doc_id: String,
    /// An encoded `automerge::sync::Message`.
    pub message: Vec<u8>,
    /// The first message of a new exchange: the receiver drops what it kept of an earlier exchange
    /// for the document on this stream and starts from its stored sync state.
    pub opening: bool,
}

impl SyncMessage {
    pub fn new(doc_id: impl Into<String>, message: Vec<u8>, opening: bool) -> SyncMessage {
        SyncMessage {
            doc_id: doc_id.into(),
            message,
            opening,
        }
    }
}

/// Part of the answer to a digest: the answerer's (document, heads) in the buckets of `differ`, each
/// bucket listed in exactly one frame with all of its entries; `last` ends the answer. Buckets the
/// requester listed and no frame names matched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DigestReply {
    pub differ: Vec<u32>,
    pub entries: Vec<(String, Vec<String>)>,
    pub last: bool,
}

impl DigestReply {
    /// Bytes of payload, about (heads at 32 bytes each).
    pub fn payload_len(&self) -> usize {
        self.differ.len() * 4
            + self
                .entries
                .iter()
                .map(|(id, heads)| id.len() + 4 + heads.len() * 34)
                .sum::<usize>()
    }
}

/// 握手 — sent once by each side when a stream opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub protocol: u32,
    pub code: String,
    pub install_id: String,
    /// How far the sender has durably received the receiver's sequence.
    pub recv_cursor: i64,
    /// The receiver's install id as the sender last knew it (empty if never connected).
    pub peer_install_seen: String,
    /// The sender's current sequence number.
    pub seq: i64,
    /// The CRL number of the revocation list the sender holds (0: none): a parent offers its own
    /// to a child whose number is lower ([`Frame::Crl`]).
    pub crl_number: u64,
}

/// A batch of items; everything in the receiver's scope with seq ≤ `upto` is in it or was sent before.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub items: Vec<Item>,
    pub upto: i64,
    /// The sender's own sequence number when it built the batch: its declaration of how far its
    /// sequence goes. Never below its hello's `seq` or an earlier batch's on the stream; `upto` and
    /// every item's seq are at most this (`upto_within_seq`). Set by [`crate::Link::on_prepared`].
    pub seq: i64,
    /// After this batch the sender had nothing more to send when it prepared it.
    pub caught_up: bool,
    /// What the sender still had to send after this batch when it prepared it: shown as progress,
    /// never trusted for anything else.
    pub remaining: Remaining,
    /// W3C trace contexts (`traceparent`) of the changes in the batch, at most [`MAX_BATCH_TRACES`]:
    /// the receiver continues the first one's trace and links to the others. A hint for operators,
    /// never trusted for anything else; empty when traces are not exported.
    pub traces: Vec<String>,
}

/// Trace contexts one batch carries at most (more are dropped by the sender and the receiver).
pub const MAX_BATCH_TRACES: usize = 8;

/// Whether `s` is a W3C `traceparent` of version 00: `00-<32 hex trace id>-<16 hex span id>-<2 hex
/// flags>`, lowercase, with neither id all zeros.
pub fn is_traceparent(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let hex = |p: &str, n: usize| {
        p.len() == n
            && p.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    parts.len() == 4
        && parts[0] == "00"
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && hex(parts[3], 2)
        && parts[1].bytes().any(|b| b != b'0')
        && parts[2].bytes().any(|b| b != b'0')
}

/// Documents (and summaries) and their stored bytes still to send on one direction of a link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Remaining {
    pub docs: u64,
    pub bytes: u64,
}

/// One replicated record.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A document: a full snapshot (`Automerge::save`) or the raw changes the peer lacks.
    Doc {
        id: String,
        seq: i64,
        snapshot: Option<Vec<u8>>,
        changes: Vec<Vec<u8>>,
        heads: Vec<String>,
    },
    /// A node's roll-up summary (single-writer, versioned).
    Summary {
        owner: String,
        version: i64,
        period: String,
        as_of: String,
        body: String,
        seq: i64,
    },
}

impl Item {
    pub fn seq(&self) -> i64 {
        match self {
            Item::Doc { seq, .. } | Item::Summary { seq, .. } => *seq,
        }
    }

    /// Bytes of payload, for batching bounds.
    pub fn payload_len(&self) -> usize {
        match self {
            Item::Doc {
                id,
                snapshot,
                changes,
                heads,
                ..
            } => {
                id.len()
                    + snapshot.as_ref().map_or(0, Vec::len)
                    + changes.iter().map(Vec::len).sum::<usize>()
                    + heads.len() * 64
            }
            Item::Summary {
                owner,
                period,
                as_of,
                body,
                ..
            } => owner.len() + period.len() + as_of.len() + body.len() + 16,
        }
    }
}

/// Typed errors a peer reports on the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A change broke the write-authority table; the batch was rejected whole.
    Forbidden,
    /// Bytes that do not decode (frame, document or change).
    Malformed,
    /// The hello did not match the authenticated peer, or the protocol version is unknown.
    BadHello,
    /// The receiver failed to store the batch (its own problem; retry later).
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Malformed => "malformed",
            ErrorCode::BadHello => "bad_hello",
            ErrorCode::Internal => "internal",
        }
    }
}

/// A typed error frame: which document and path broke which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFrame {
    pub code: ErrorCode,
    pub doc_id: Option<String>,
    pub path: Option<String>,
    pub rule: Option<String>,
    pub message: String,
}

impl Frame {
    /// About what the frame takes on the wire (payloads plus a little framing): what the byte bucket
    /// counts when the transport reports less (e.g. in-memory channels).
    pub fn weight(&self) -> usize {
        match self {
            Frame::Batch(b) => b.items.iter().map(Item::payload_len).sum::<usize>() + 16,
            Frame::NeedSnapshot { doc_ids } => {
                doc_ids.iter().map(|d| d.len() + 2).sum::<usize>() + 4
            }
            Frame::Hello(h) => h.code.len() + h.install_id.len() + h.peer_install_seen.len() + 32,
            Frame::Ack { .. } => 10,
            Frame::DocSync { messages } => {
                messages
                    .iter()
                    .map(|m| m.doc_id.len() + m.message.len() + 8)
                    .sum::<usize>()
                    + 4
            }
            Frame::Error(e) => e.message.len() + 16,
            Frame::DigestRequest(d) => d.weight(),
            Frame::DigestReply(r) => r.payload_len() + 4,
            Frame::Crl { der } => der.len() + 4,
            Frame::BlobWant { sha256, .. } | Frame::BlobHeld { sha256, .. } => sha256.len() + 12,
            Frame::BlobChunk(c) => c.data.len() + c.sha256.len() + c.media_type.len() + 24,
        }
    }
}

/// One chunk of a blob on the wire (佐证材料; the blob flow decides what is sent and taken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobChunk {
    /// The blob's SHA-256, lower-case hex.
    pub sha256: String,
    pub offset: u64,
    /// The blob's whole size and media type (the receiver checks them against its reference).
    pub size: u64,
    pub media_type: String,
    pub data: Vec<u8>,
}
