//! Arbitrary bytes as the peer's Automerge sync message for one document (`sync::docsync::step`): the
//! message decoder, the bounds checked before Automerge sees the message (heads, needs, filters and
//! the parameters inside each Bloom filter), Automerge's receive and answer, and the authority check
//! of whatever applied.
//!
//! Two ways in, chosen by the first byte: the bytes as they are, or an honest message from a replica
//! that went further, with one byte replaced (so the fuzzer starts from messages Automerge decodes).
//!
//! Properties: nothing panics outside Automerge (panics inside it are caught by the step's guard and
//! come back as `Malformed`); the step ends in bounded memory (libFuzzer's `-rss_limit_mb`); a step
//! that succeeds hands back only a document that passed the authority check.
#![no_main]

use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use libfuzzer_sys::fuzz_target;
use safemesh_doc::actor;
use safemesh_doc::authority::Origin;
use safemesh_model::AdminCode;
use safemesh_sync::docsync::{Session, step};

fn township() -> AdminCode {
    AdminCode::parse("530181006").expect("code")
}

/// A small document with a few changes, so the answer tests hashes against the peer's filter.
fn stored() -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(actor::actor_id(&township(), b"fuzz"));
    for i in 0..4i64 {
        doc.put(ROOT, format!("k{i}"), i).expect("put");
        doc.commit();
    }
    doc
}

/// An honest message from a replica with one more change, opening the exchange.
fn honest() -> Vec<u8> {
    let mut other = stored();
    other.set_actor(actor::actor_id(&township(), b"peer"));
    other.put(ROOT, "more", "x").expect("put");
    other.commit();
    let mut session = Session::new(None);
    step("h", other, &mut session, None, &[], &Origin::Local)
        .ok()
        .and_then(|s| s.reply)
        .unwrap_or_default()
}

static GUARDED: AtomicU64 = AtomicU64::new(0);

/// Lets panics from Automerge's source unwind to the step's guard; everything else aborts.
fn let_automerge_panics_reach_the_guard() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_automerge = info.location().is_some_and(|l| {
                l.file().contains("/automerge-0.") || l.file().starts_with("/rustc/")
            });
            if in_automerge {
                let n = GUARDED.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    eprintln!("guarded Automerge panic #{n}: {info}");
                }
            } else {
                abort(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    let_automerge_panics_reach_the_guard();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let message = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let mut m = honest();
        if let (Some((&at, rest)), false) = (rest.split_first(), m.is_empty()) {
            let i = usize::from(at) % m.len();
            m[i] = rest.first().copied().unwrap_or(0xff);
        }
        m
    };
    let mut session = Session::new(None);
    let origin = Origin::Child(township());
    if let Ok(s) = step("h", stored(), &mut session, Some(&message), &[], &origin) {
        // What it hands back to store passed the check: the stored document plus checked changes.
        if let Some(c) = s.store {
            assert!(c.applied > 0, "a step hands back only new, checked changes");
        }
    }
});
