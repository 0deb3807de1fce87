//! 文档同步回退 — the per-document fallback of DESIGN §5.6: when a delta cannot apply at a receiver
//! that holds the document (the changes depend on history it lacks), that one document is reconciled
//! with Automerge's own sync protocol — its messages travel in [`crate::Frame::DocSync`] frames, many
//! documents to a frame — with the per-(link, document) [`sync::State`] kept in the store between
//! exchanges. A kept state starts the
//! next exchange from the heads both sides last shared, so its Bloom filter covers only what came
//! after, not the whole history.
//!
//! Sans-IO: [`step`] takes the stored document, the session and the peer's message, and returns what
//! to store and what to answer. The runner loads and stores; nothing here touches a clock or a socket.
//!
//! Nothing the peer sends is stored unchecked: its changes are applied to a working copy, and those
//! that applied (their dependencies are all there) are run through the write-authority check
//! ([`check_and_apply`]) and handed back for storing, all or none. Changes still waiting for a
//! dependency stay in the session (bounded) and are tried again with the next message. What this
//! side tells the peer it holds (its heads) is therefore always stored with the step.

use automerge::sync::{self, SyncDoc};
use safemesh_doc::authority::{Checked, Origin, check_and_apply};
use safemesh_doc::{AutoCommit, heads_to_hex};

/// Messages one side accepts for one document on one stream before giving up on the exchange (an
/// honest exchange takes two to four; Bloom-filter false positives add a round each).
pub const MAX_ROUNDS: u32 = 32;

/// Bytes of the peer's changes a session keeps while they wait for a missing dependency.
pub const MAX_PENDING_BYTES: usize = 16 << 20;

/// Heads a peer's message may name (as [`crate::RecvLimits`]'s default for a document item).
pub const MAX_MESSAGE_HEADS: usize = 64;

/// Hashes a peer's message may say it needs (as [`crate::RecvLimits`]'s changes per document item).
pub const MAX_MESSAGE_NEED: usize = 10_000;

/// Bloom filters a peer's message may carry (Automerge sends one).
pub const MAX_MESSAGE_HAVE: usize = 4;

/// Probes per entry a peer's Bloom filter may ask for. Automerge uses 7 and allocates a vector of
/// this many probes for every hash it tests: a filter claiming 2³² − 1 aborted the node (SECURITY.md,
/// weakness 2).
pub const MAX_BLOOM_PROBES: u32 = 32;

/// Bits per entry a peer's Bloom filter may declare (Automerge uses 10).
pub const MAX_BLOOM_BITS_PER_ENTRY: u32 = 64;

/// The parameters of a Bloom filter as it is encoded (`num_entries`, `num_bits_per_entry`,
/// `num_probes`, each unsigned LEB128, then the bits), checked before Automerge uses it: at most
/// [`MAX_BLOOM_PROBES`] probes and [`MAX_BLOOM_BITS_PER_ENTRY`] bits per entry, at least one of each,
/// and bits to probe into. An empty filter (no entries) is fine.
pub fn check_bloom(encoded: &[u8]) -> Result<(), String> {
    if encoded.is_empty() {
        return Ok(());
    }
    let mut at = 0;
    let mut next = || -> Result<u64, String> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *encoded.get(at).ok_or("truncated Bloom filter")?;
            at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("Bloom filter parameter too long".into())
    };
    let (entries, bits_per_entry, probes) = (next()?, next()?, next()?);
    if entries == 0 {
        return Ok(());
    }
    if !(1..=u64::from(MAX_BLOOM_PROBES)).contains(&probes) {
        return Err(format!(
            "Bloom filter with {probes} probes (1 to {MAX_BLOOM_PROBES})"
        ));
    }
    if !(1..=u64::from(MAX_BLOOM_BITS_PER_ENTRY)).contains(&bits_per_entry) {
        return Err(format!(
            "Bloom filter with {bits_per_entry} bits per entry (1 to {MAX_BLOOM_BITS_PER_ENTRY})"
        ));
    }
    Ok(())
}

/// One document's sync exchange on one stream.
#[derive(Debug, Clone)]
pub struct Session {
    state: sync::State,
    /// The peer's chunks (changes or a whole document) not stored yet: some still lack a dependency.
    pending: Vec<Vec<u8>>,
}

impl Session {
    /// A session starting from the kept state (`sync::State::encode()`), if any. A kept state that
    /// does not decode is dropped: the exchange then starts from nothing, which costs bytes only.
    pub fn new(kept: Option<&[u8]>) -> Session {
        Session {
            state: kept
                .and_then(|b| sync::State::decode(b).ok())
                .unwrap_or_default(),
            pending: Vec::new(),
        }
    }

    /// Bytes of the peer's changes this session keeps, waiting for a missing dependency.
    pub fn pending_bytes(&self) -> usize {
        self.pending.iter().map(Vec::len).sum()
    }

    /// The state to keep (`sync::State::encode()`).
    pub fn kept(&self) -> Vec<u8> {
        self.state.encode()
    }

    /// The heads both sides were last known to share (what a kept state carries).
    pub fn shared_heads(&self) -> Vec<String> {
        heads_to_hex(&self.state.shared_heads)
    }
}

/// What one step produced.
pub struct Step {
    /// The stored document with the peer's new changes applied and checked: store it.
    pub store: Option<Checked>,
    /// The message to send the peer, if this side has anything to say.
    pub reply: Option<Vec<u8>>,
    /// The peer's heads, from its message (hex).
    pub peer_heads: Option<Vec<String>>,
    /// The state to keep (`sync::State::encode()`); it names only changes stored with it.
    pub keep: Option<Vec<u8>>,
    /// This side now holds everything the peer said it holds.
    pub complete: bool,
    /// This side's part of the exchange is over: it is complete and needs nothing, and its reply (if
    /// any) either carries changes the peer will simply apply or only confirms the heads both hold.
    /// The session may be dropped; a later message from the peer is answered from a new one, from
    /// the kept state. (Incomplete with nothing to say means waiting for the peer: not over.)
    pub last: bool,
    /// The reply only confirms the heads both now hold (no changes, nothing needed): an up-to-date
    /// peer does not answer it, and a side that has ended its exchange need not send it.
    pub closing: bool,
}

/// Why a step failed: the peer's bytes, or what its changes do.
#[derive(Debug)]
pub enum StepError {
    /// The message breaks a receive bound (`rule`): the frame's fault, not the document's.
    Bound { rule: &'static str, message: String },
    /// The message or a change in it does not decode, or Automerge refused it.
    Malformed(String),
    /// The changes broke the write-authority table (or the document cannot be read).
    Refused(safemesh_doc::Error),
}

/// Runs one step of the exchange for document `id` against `stored` (this side's durable version):
/// takes the peer's message (`None`: this side opens the exchange), applies and checks what it
/// carries, and generates this side's answer. `want`: heads this side must also hold before it is
/// complete (those of the deltas that could not apply: the peer may have written more since its
/// last message). On error the session must be dropped.
pub fn step(
    id: &str,
    stored: AutoCommit,
    session: &mut Session,
    incoming: Option<&[u8]>,
    want: &[automerge::ChangeHash],
    origin: &Origin,
) -> Result<Step, StepError> {
    let budget = crate::inflate::Budget::default();
    step_within(id, stored, session, incoming, want, origin, &budget)
}

/// [`step`], with what the peer's changes may inflate to drawn from `budget` (shared by the messages
/// of one frame: [`crate::inflate`]).
pub fn step_within(
    id: &str,
    mut stored: AutoCommit,
    session: &mut Session,
    incoming: Option<&[u8]>,
    want: &[automerge::ChangeHash],
    origin: &Origin,
    budget: &crate::inflate::Budget,
) -> Result<Step, StepError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        step_unguarded(id, &mut stored, session, incoming, want, origin, budget)
    }))
    .unwrap_or_else(|p| {
        Err(StepError::Malformed(format!(
            "Automerge panicked on the sync message: {}",
            crate::check::panic_text(&p)
        )))
    })
}

fn step_unguarded(
    id: &str,
    stored: &mut AutoCommit,
    session: &mut Session,
    incoming: Option<&[u8]>,
    want: &[automerge::ChangeHash],
    origin: &Origin,
    budget: &crate::inflate::Budget,
) -> Result<Step, StepError> {
    let base_heads = stored.get_heads();
    let mut work = stored.clone();
    for chunk in &session.pending {
        work.load_incremental(chunk)
            .map_err(|e| StepError::Malformed(format!("bad change: {e}")))?;
    }
    let mut peer_heads = None;
    if let Some(bytes) = incoming {
        let msg = sync::Message::decode(bytes)
            .map_err(|e| StepError::Malformed(format!("bad sync message: {e}")))?;
        for (what, n, max, rule) in [
            ("heads", msg.heads.len(), MAX_MESSAGE_HEADS, "max_heads"),
            (
                "needed hashes",
                msg.need.len(),
                MAX_MESSAGE_NEED,
                "max_sync_need",
            ),
            (
                "Bloom filters",
                msg.have.len(),
                MAX_MESSAGE_HAVE,
                "max_sync_have",
            ),
        ] {
            if n > max {
                return Err(StepError::Bound {
                    rule,
                    message: format!("{id}: a sync message with {n} {what}, more than {max}"),
                });
            }
        }
        // Inside each Bloom filter, before Automerge allocates by what it declares.
        for have in &msg.have {
            if have.last_sync.len() > MAX_MESSAGE_HEADS {
                return Err(StepError::Bound {
                    rule: "max_heads",
                    message: format!(
                        "{id}: a Bloom filter's last sync names {} heads, more than {MAX_MESSAGE_HEADS}",
                        have.last_sync.len()
                    ),
                });
            }
            check_bloom(&have.bloom.to_bytes()).map_err(|m| StepError::Bound {
                rule: "sync_bloom_bounds",
                message: format!("{id}: {m}"),
            })?;
        }
        peer_heads = Some(heads_to_hex(&msg.heads));
        let size: usize = session.pending.iter().map(Vec::len).sum::<usize>()
            + msg.changes.iter().map(<[u8]>::len).sum::<usize>();
        if size > MAX_PENDING_BYTES {
            return Err(StepError::Bound {
                rule: "max_pending_sync_bytes",
                message: format!(
                    "{id}: more than {MAX_PENDING_BYTES} bytes of changes wait for missing history"
                ),
            });
        }
        // What the changes inflate to, bounded before Automerge parses them (issue 19 #3).
        crate::inflate::scan(budget, msg.changes.iter()).map_err(|r| StepError::Bound {
            rule: r.rule(),
            message: format!("{id}: {r}"),
        })?;
        session
            .pending
            .extend(msg.changes.iter().map(<[u8]>::to_vec));
        work.sync()
            .receive_sync_message(&mut session.state, msg)
            .map_err(|e| StepError::Malformed(format!("sync message refused: {e}")))?;
    }
    let waiting = !work.get_missing_deps(&[]).is_empty();
    // Everything that applied is checked and stored now, even while other changes wait: the reply
    // below tells the peer these heads, and the peer records them as held. (The changes that applied
    // have all their dependencies in the stored document or among themselves.)
    let fresh = work.get_changes(&base_heads);
    let mut store = None;
    if !fresh.is_empty() {
        let checked = check_and_apply(id, Some(stored), fresh, origin).map_err(|e| match e {
            safemesh_doc::Error::Corrupt(m) => StepError::Malformed(m),
            e => StepError::Refused(e),
        })?;
        store = Some(checked);
    }
    if waiting {
        // Keep only what has not applied (a change already stored need not be tried again).
        session.pending.retain(|chunk| {
            automerge::Change::from_bytes(chunk.clone())
                .map_or(true, |c| work.get_change_by_hash(&c.hash()).is_none())
        });
    } else {
        session.pending.clear();
    }
    // Its shared heads name only changes that applied: all stored with this step.
    let keep = Some(session.state.encode());
    let complete = !waiting
        && session
            .state
            .their_heads
            .as_ref()
            .is_some_and(|theirs| theirs.iter().all(|h| work.get_change_by_hash(h).is_some()))
        && want.iter().all(|h| work.get_change_by_hash(h).is_some());
    let (reply, last, closing) = match work.sync().generate_sync_message(&mut session.state) {
        Some(msg) => {
            let closing = complete
                && msg.changes.is_empty()
                && msg.need.is_empty()
                && session.state.their_heads.as_ref() == Some(&msg.heads);
            let last = closing || (complete && msg.need.is_empty() && !msg.changes.is_empty());
            (Some(msg.encode()), last, closing)
        }
        None => (None, complete, false),
    };
    Ok(Step {
        store,
        reply,
        peer_heads,
        keep,
        complete,
        last,
        closing,
    })
}
