//! The per-document sync fallback's step ([`safemesh_sync::docsync`]) on real hazard documents, two
//! sides exchanging messages in memory: gaps filled, kept states, authority refusals, changes that wait
//! for a dependency, and when a side is complete and done.

mod common;

use automerge::sync;
use safemesh_doc::authority::Origin;
use safemesh_doc::{AutoCommit, actor, heads_to_hex};
use safemesh_model::AdminCode;
use safemesh_sync::docsync::{MAX_ROUNDS, Session, StepError, step};

const TOWNSHIP: &str = "530181006";

fn township() -> AdminCode {
    AdminCode::parse(TOWNSHIP).unwrap()
}

fn origin() -> Origin {
    Origin::Child(township())
}

/// A township's hazard with `events` progress events, one change each.
fn hazard_doc(events: usize) -> AutoCommit {
    common::hazard_doc(&township(), "叉车无证驾驶", events)
}

/// One more progress event by `by`.
fn add_event(doc: &mut AutoCommit, by: &AdminCode, i: usize) {
    common::progress(doc, by, &format!("第 {i} 次整改进展"));
}

/// Runs an exchange opened by `a` until neither side has anything to say, storing what each side
/// is handed; returns the bytes of all messages.
fn exchange(a: &mut AutoCommit, sa: &mut Session, b: &mut AutoCommit, sb: &mut Session) -> usize {
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
    let kept_a = sa.kept();
    let kept_b = sb.kept();
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
    let a = copy(&mut b);
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
}

/// SECURITY weakness 2: a Bloom filter's parameters are bounded before Automerge sees them. Automerge
/// allocates a vector of `num_probes` entries for every hash it tests against the filter: one message
/// declaring 2³² − 1 probes made it allocate 16 GiB (the process aborted). Now the step refuses the
/// message with `sync_bloom_bounds`, and an honest filter still passes.
#[test]
fn a_bloom_filter_with_absurd_parameters_is_refused_before_automerge_uses_it() {
    let a = hazard_doc(3);
    let mut b = hazard_doc(0);
    b.merge(&mut a.clone()).unwrap();
    add_event(&mut b, &township(), 9);
    // An honest opening from `b`, with its filter replaced by one declaring 2³² − 1 probes.
    let mut sb = Session::new(None);
    let honest = step("h", b.clone(), &mut sb, None, &[], &origin())
        .unwrap()
        .reply
        .expect("an opening message");
    let mut msg = sync::Message::decode(&honest).unwrap();
    assert!(!msg.have.is_empty(), "the opening carries a filter");
    // entries 1, 10 bits per entry, u32::MAX probes (LEB128), then the 2 bytes of bits.
    let hostile: &[u8] = &[0x01, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff];
    msg.have[0].bloom = sync::BloomFilter::try_from(hostile).unwrap();
    let mut sa = Session::new(None);
    match step("h", a.clone(), &mut sa, Some(&msg.encode()), &[], &origin()) {
        Err(StepError::Bound { rule, .. }) => assert_eq!(rule, "sync_bloom_bounds"),
        Err(e) => panic!("refused, but not as a bound: {e:?}"),
        Ok(_) => panic!("a filter with 2^32 - 1 probes was taken"),
    }
    // The honest message passes the same check.
    let mut sa = Session::new(None);
    assert!(step("h", a, &mut sa, Some(&honest), &[], &origin()).is_ok());
}

#[test]
fn bloom_parameters_are_read_as_encoded_and_bounded() {
    use safemesh_sync::docsync::check_bloom;
    assert!(check_bloom(&[]).is_ok(), "no filter");
    assert!(check_bloom(&[0x00, 0x0a, 0x07]).is_ok(), "no entries");
    assert!(
        check_bloom(&[0x05, 0x0a, 0x07, 0, 0, 0, 0, 0, 0, 0]).is_ok(),
        "Automerge's own"
    );
    assert!(check_bloom(&[0x05, 0x0a, 0x21]).is_err(), "33 probes");
    assert!(check_bloom(&[0x05, 0x0a, 0x00]).is_err(), "no probes");
    assert!(
        check_bloom(&[0x05, 0x00, 0x07]).is_err(),
        "no bits per entry"
    );
    assert!(
        check_bloom(&[0x05, 0x41, 0x07]).is_err(),
        "65 bits per entry"
    );
    assert!(check_bloom(&[0x05, 0x0a]).is_err(), "truncated");
    assert!(
        check_bloom(&[
            0x05, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
        ])
        .is_err()
    );
}
