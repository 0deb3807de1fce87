//! What the link machine tells the runner to do, and the runner's answers about sync exchanges.

use std::collections::BTreeSet;

use crate::digest::Digest;
use crate::frame::{Batch, Frame};

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
    /// The parent offered its revocation list (DER): keep it if the CA signed it and it is newer than
    /// the one held, and answer with [`Link::on_crl_taken`].
    TakeCrl {
        der: Vec<u8>,
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
