//! 文档同步回退 — the per-document fallback of DESIGN §5.6: when a delta cannot apply at a receiver
//! that holds the document (the changes depend on history it lacks), that one document is reconciled
//! with Automerge's own sync protocol — its messages travel in [`crate::Frame::DocSync`] frames, many
//! documents to a frame — with the per-(link, document) [`sync::State`] kept in the store between
//! exchanges. A kept state starts the
//! next exchange from the heads both sides last shared, so its Bloom filter covers only what came
//! after, not the whole history.
//!
//! Sans-IO: [`step`] takes the stored document, the session and the peer's message, and returns what
//! to store and what to answer. The driver loads and stores; nothing here touches a clock or a socket.
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

/// One document's sync exchange on one stream.
#[derive(Debug)]
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
    mut stored: AutoCommit,
    session: &mut Session,
    incoming: Option<&[u8]>,
    want: &[automerge::ChangeHash],
    origin: &Origin,
) -> Result<Step, StepError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        step_unguarded(id, &mut stored, session, incoming, want, origin)
    }))
    .unwrap_or_else(|p| {
        Err(StepError::Malformed(format!(
            "Automerge panicked on the sync message: {}",
            crate::driver::panic_text(&p)
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

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::CommitOptions;
    use safemesh_doc::actor;
    use safemesh_doc::hazard::{self, Enterprise, HazardCore};
    use safemesh_model::AdminCode;
    use safemesh_model::hazard::{Channel, EventKind, Grade, HazardEvent};

    const TOWNSHIP: &str = "530181006";

    fn township() -> AdminCode {
        AdminCode::parse(TOWNSHIP).unwrap()
    }

    fn origin() -> Origin {
        Origin::Child(township())
    }

    /// A township's hazard with `events` progress events, one change each, written by `who`.
    fn hazard_doc(events: usize) -> AutoCommit {
        let me = township();
        let mut doc = AutoCommit::new().with_actor(actor::actor_id(&me, b"t1"));
        let core = HazardCore {
            title: "叉车无证驾驶".into(),
            sector: "工贸".into(),
            grade: Grade::General,
            channel: Channel::EnterpriseSelfReport,
            number: String::new(),
            inspection_mode: None,
            found_by_level: me.clone(),
            found_on: "2025-01-01".into(),
            stock: safemesh_model::hazard::facts::Stock::New,
            location: Default::default(),
            basis: Default::default(),
            enterprise: Enterprise {
                name: "某厂".into(),
                credit_code: String::new(),
            },
            deadline: "2030-01-01".into(),
            description: String::new(),
        };
        hazard::create(&mut doc, &me, "t", "2025-06-01T00:00:00Z", &core).unwrap();
        doc.commit_with(CommitOptions::default().with_message("t@530181006".to_string()));
        for i in 0..events {
            add_event(&mut doc, &me, i);
        }
        doc
    }

    fn add_event(doc: &mut AutoCommit, by: &AdminCode, i: usize) {
        let ev = HazardEvent {
            kind: EventKind::Progress,
            at: "2025-06-02T00:00:00Z".into(),
            by: by.clone(),
            user: "t".into(),
            note: Some(format!("第 {i} 次整改进展")),
            method: None,
            level: None,
            percent: Some((i % 100) as u8),
            plan: None,
            recipients: Vec::new(),
            reply_by: None,
        };
        hazard::append_event(doc, &ev).unwrap();
        doc.commit_with(CommitOptions::default().with_message(format!("t@{by}")));
    }

    /// Runs an exchange opened by `a` until neither side has anything to say, storing what each side
    /// is handed; returns the bytes of all messages.
    fn exchange(
        a: &mut AutoCommit,
        sa: &mut Session,
        b: &mut AutoCommit,
        sb: &mut Session,
    ) -> usize {
        let mut bytes = 0;
        let mut msg = step("h", a.clone(), sa, None, &[], &origin())
            .unwrap()
            .reply;
        let mut to_b = true;
        for _ in 0..MAX_ROUNDS {
            let Some(m) = msg.take() else {
                return bytes;
            };
            bytes += m.len();
            let (doc, sess) = if to_b {
                (&mut *b, &mut *sb)
            } else {
                (&mut *a, &mut *sa)
            };
            let s = step("h", doc.clone(), sess, Some(&m), &[], &origin()).unwrap();
            if let Some(c) = s.store {
                *doc = c.doc;
            }
            msg = s.reply;
            to_b = !to_b;
        }
        panic!("the exchange did not end in {MAX_ROUNDS} messages");
    }

    /// A copy of `doc` as another node holds it: loaded from its bytes, under another actor.
    fn copy(doc: &mut AutoCommit) -> AutoCommit {
        AutoCommit::load(&doc.save()).unwrap()
    }

    #[test]
    fn a_gap_is_filled_with_less_than_a_snapshot_and_a_kept_state_opens_smaller() {
        // 1. B holds a hazard with 60 events; A holds it as it was after 57.
        let mut b = hazard_doc(57);
        let mut a = copy(&mut b);
        for i in 57..60 {
            add_event(&mut b, &township(), i);
        }
        // 2. The exchange fills A's gap with fewer bytes than B's whole document.
        let (mut sa, mut sb) = (Session::new(None), Session::new(None));
        // B's answer carries the three events and needs nothing: its part is over at once, and A's
        // reply to it only confirms the heads.
        let (mut pa, mut pb) = (Session::new(None), Session::new(None));
        let open = step("h", a.clone(), &mut pa, None, &[], &origin()).unwrap();
        let answer = step(
            "h",
            b.clone(),
            &mut pb,
            open.reply.as_deref(),
            &[],
            &origin(),
        )
        .unwrap();
        assert!(answer.last && !answer.closing);
        let confirm = step(
            "h",
            a.clone(),
            &mut pa,
            answer.reply.as_deref(),
            &[],
            &origin(),
        )
        .unwrap();
        assert!(confirm.complete && confirm.closing && confirm.last);
        let first = exchange(&mut a, &mut sa, &mut b, &mut sb);
        assert_eq!(a.get_heads(), b.get_heads());
        // Whoever spoke last only told the other the heads both hold: its step said it was its last.
        let (mut ta, mut tb) = (Session::new(None), Session::new(None));
        let mut msg = step("h", a.clone(), &mut ta, None, &[], &origin()).unwrap();
        let mut to_b = true;
        while let Some(m) = msg.reply.take() {
            let (doc, sess) = if to_b { (&b, &mut tb) } else { (&a, &mut ta) };
            let next = step("h", doc.clone(), sess, Some(&m), &[], &origin()).unwrap();
            assert!(
                next.reply.is_none() || !msg.last || next.closing,
                "a step marked last was answered with more than a confirmation"
            );
            msg = next;
            to_b = !to_b;
        }
        assert!(msg.last);
        let snapshot = b.save().len();
        assert!(
            first < snapshot,
            "{first} bytes against a {snapshot}-byte snapshot"
        );
        // 3. Both kept states name the heads now shared.
        let kept_a = sa.state.encode();
        let kept_b = sb.state.encode();
        assert_eq!(
            Session::new(Some(&kept_a)).shared_heads(),
            heads_to_hex(&b.get_heads())
        );
        // 4. The next gap: A's opening message from the kept state is smaller than from nothing
        //    (its Bloom filter covers what came after the shared heads, not 61 changes).
        add_event(&mut b, &township(), 60);
        let open = |kept: Option<&[u8]>| {
            step(
                "h",
                a.clone(),
                &mut Session::new(kept),
                None,
                &[],
                &origin(),
            )
            .unwrap()
            .reply
            .unwrap()
            .len()
        };
        let (from_nothing, from_kept) = (open(None), open(Some(&kept_a)));
        assert!(from_kept < from_nothing, "{from_kept} vs {from_nothing}");
        let (mut sa, mut sb) = (Session::new(Some(&kept_a)), Session::new(Some(&kept_b)));
        let second = exchange(&mut a, &mut sa, &mut b, &mut sb);
        assert_eq!(a.get_heads(), b.get_heads());
        assert!(second < first, "{second} vs {first}");
    }

    #[test]
    fn changes_both_ways_are_exchanged() {
        // A and B each add an event the other lacks.
        let mut b = hazard_doc(5);
        let mut a = copy(&mut b);
        a.set_actor(actor::actor_id(&township(), b"t2"));
        add_event(&mut a, &township(), 100);
        add_event(&mut b, &township(), 200);
        let (mut sa, mut sb) = (Session::new(None), Session::new(None));
        exchange(&mut a, &mut sa, &mut b, &mut sb);
        assert_eq!(a.get_heads(), b.get_heads());
        assert_eq!(a.get_heads().len(), 2);
    }

    #[test]
    fn a_forbidden_change_is_refused_and_nothing_is_stored() {
        // B's new event is written by another township's actor: not within the link's subtree.
        let mut b = hazard_doc(3);
        let mut a = copy(&mut b);
        let other = AdminCode::parse("530181007").unwrap();
        b.set_actor(actor::actor_id(&other, b"x"));
        add_event(&mut b, &other, 9);
        let mut sa = Session::new(None);
        let mut sb = Session::new(None);
        let open = step("h", a.clone(), &mut sa, None, &[], &origin())
            .unwrap()
            .reply
            .unwrap();
        let answer = step("h", b.clone(), &mut sb, Some(&open), &[], &origin())
            .unwrap()
            .reply
            .unwrap();
        let before = a.get_heads();
        match step("h", a.clone(), &mut sa, Some(&answer), &[], &origin()) {
            Err(StepError::Refused(safemesh_doc::Error::Forbidden { .. })) => {}
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("accepted"),
        }
        assert_eq!(a.get_heads(), before);
    }

    #[test]
    fn changes_that_wait_for_a_dependency_are_kept_until_it_arrives() {
        // 1. B has two events A lacks; a message carries only the second.
        let mut b = hazard_doc(1);
        let mut a = copy(&mut b);
        add_event(&mut b, &township(), 1);
        add_event(&mut b, &township(), 2);
        let changes = b.get_changes(&a.get_heads());
        let b_heads = b.get_heads();
        let message = |c: &automerge::Change| {
            sync::Message {
                heads: b_heads.clone(),
                need: Vec::new(),
                have: Vec::new(),
                changes: vec![c.raw_bytes().to_vec()].into(),
                flags: None,
                version: sync::MessageVersion::V1,
            }
            .encode()
        };
        let (first, second) = (message(&changes[0]), message(&changes[1]));
        // 2. The second alone: nothing applies, so nothing to store; not complete.
        let mut sa = Session::new(None);
        let s = step("h", a.clone(), &mut sa, Some(&second), &[], &origin()).unwrap();
        assert!(s.store.is_none() && !s.complete && !s.last);
        assert_eq!(sa.pending_bytes(), changes[1].raw_bytes().len());
        assert_eq!(s.peer_heads, Some(heads_to_hex(&b.get_heads())));
        // 3. Then the first: both are checked and stored together.
        let s = step("h", a.clone(), &mut sa, Some(&first), &[], &origin()).unwrap();
        let stored = s.store.expect("stored");
        assert_eq!(stored.applied, 2);
        assert!(s.complete && s.keep.is_some());
        assert_eq!(sa.pending_bytes(), 0);
        let mut doc = stored.doc;
        assert_eq!(doc.get_heads(), b.get_heads());
    }

    #[test]
    fn bytes_that_are_no_sync_message_are_malformed() {
        let mut sa = Session::new(None);
        let r = step(
            "h",
            hazard_doc(0),
            &mut sa,
            Some(&[0x42, 0xff, 0xff]),
            &[],
            &origin(),
        );
        assert!(matches!(r, Err(StepError::Malformed(_))), "{:?}", r.err());
    }

    #[test]
    fn a_side_is_not_complete_while_it_lacks_heads_it_was_sent() {
        // 1. B has a new event A lacks. A opens (two identical sessions); B answers.
        let mut b = hazard_doc(2);
        let a = copy(&mut b);
        add_event(&mut b, &township(), 10);
        let (mut with_want, mut without) = (Session::new(None), Session::new(None));
        let open = step("h", a.clone(), &mut with_want, None, &[], &origin()).unwrap();
        step("h", a.clone(), &mut without, None, &[], &origin()).unwrap();
        let mut sb = Session::new(None);
        let answer = step(
            "h",
            b.clone(),
            &mut sb,
            open.reply.as_deref(),
            &[],
            &origin(),
        )
        .unwrap()
        .reply;
        // 2. Then B writes another event, and a delta carrying it reached A (it could not apply).
        add_event(&mut b, &township(), 11);
        let later = b.get_heads();
        // 3. B's answer brings the first event: stored either way; complete only without the want.
        let s = step(
            "h",
            a.clone(),
            &mut with_want,
            answer.as_deref(),
            &later,
            &origin(),
        )
        .unwrap();
        assert!(s.store.is_some(), "the first event is stored");
        assert!(!s.complete && !s.last, "the second is still missing");
        let s = step(
            "h",
            a.clone(),
            &mut without,
            answer.as_deref(),
            &[],
            &origin(),
        )
        .unwrap();
        assert!(s.complete);
    }

    #[test]
    fn what_applies_is_stored_at_once_while_other_changes_wait() {
        // 1. B holds x1 ← x2 and, concurrently, v; a message carries x2 and v but not x1 (as after
        //    a Bloom-filter false positive on x1).
        let mut b = hazard_doc(1);
        let mut a = copy(&mut b);
        let base = b.get_heads();
        let mut v_side = copy(&mut b);
        v_side.set_actor(actor::actor_id(&township(), b"t3"));
        add_event(&mut b, &township(), 1);
        add_event(&mut b, &township(), 2);
        add_event(&mut v_side, &township(), 3);
        let x = b.get_changes(&base);
        let v = v_side.get_changes(&base);
        b.merge(&mut v_side).unwrap();
        let msg = sync::Message {
            heads: b.get_heads(),
            need: Vec::new(),
            have: Vec::new(),
            changes: vec![x[1].raw_bytes().to_vec(), v[0].raw_bytes().to_vec()].into(),
            flags: None,
            version: sync::MessageVersion::V1,
        }
        .encode();
        // 2. v applies: it is stored now; x2 waits for x1; not complete.
        let mut sa = Session::new(None);
        let s = step("h", a.clone(), &mut sa, Some(&msg), &[], &origin()).unwrap();
        let mut stored = s.store.expect("v is stored").doc;
        assert!(stored.get_change_by_hash(&v[0].hash()).is_some());
        assert!(!s.complete);
        assert_eq!(sa.pending_bytes(), x[1].raw_bytes().len(), "only x2 waits");
        // 3. The heads A's reply tells B are all in what is stored.
        let reply = sync::Message::decode(&s.reply.expect("A asks for x1")).unwrap();
        assert!(
            reply
                .heads
                .iter()
                .all(|h| stored.get_change_by_hash(h).is_some())
        );
        assert!(reply.need.contains(&x[0].hash()), "{:?}", reply.need);
        let _ = &mut a;
    }
}
