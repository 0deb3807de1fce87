//! The sender's batch decisions (`sync::batch`), without a store: which rows go, in what order, what
//! each document needs, where the byte budget cuts, how far the cursor moves, and when what is left
//! is counted again.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use safemesh_sync::batch::{
    DocRow, Estimate, Plan, RECOUNT_AFTER, RECOUNT_EVERY, Rows, Step, SummaryRow,
};
use safemesh_sync::frame::{Item, Remaining};

fn doc(id: &str, seq: i64, peer: Option<&[&str]>) -> DocRow {
    DocRow {
        id: id.into(),
        seq,
        heads: vec![format!("h-{id}")],
        peer_heads: peer.map(|p| p.iter().map(|s| s.to_string()).collect()),
    }
}

fn summary(owner: &str, seq: i64) -> SummaryRow {
    SummaryRow {
        owner: owner.into(),
        version: 1,
        period: "2026-12".into(),
        as_of: "2026-12-07T00:00:00Z".into(),
        body: "{}".into(),
        seq,
    }
}

fn item(id: &str, seq: i64, len: usize) -> Item {
    Item::Doc {
        id: id.into(),
        seq,
        snapshot: Some(vec![0; len]),
        changes: Vec::new(),
        heads: vec![format!("h-{id}")],
    }
}

/// Walks a plan as a runner would, every document `len` bytes whole; returns the steps seen.
fn walk(plan: &mut Plan, len: usize) -> Vec<Step> {
    let mut steps = Vec::new();
    while let Some(step) = plan.next_step() {
        let (id, seq, heads) = match &step {
            Step::Whole { id, seq, heads } | Step::Delta { id, seq, heads, .. } => {
                (id.clone(), *seq, heads.clone())
            }
        };
        plan.push(item(&id, seq, len), Some((id, heads)));
        steps.push(step);
    }
    steps
}

#[test]
fn rows_go_in_seq_order_summaries_taken_and_held_or_excluded_documents_left_out() {
    let rows = Rows {
        after: 10,
        limit: 100,
        docs: vec![
            doc("a", 11, None),
            doc("b", 13, Some(&["h-b"])), // the peer holds exactly this
            doc("c", 14, Some(&["old"])),
            doc("q", 15, None), // quarantined on this link
        ],
        summaries: vec![summary("530181", 12), summary("530182", 16)],
    };
    let exclude: BTreeSet<String> = ["q".to_string(), "summary:530182".to_string()].into();
    let mut plan = Plan::new(rows, &[], &exclude, 1 << 20);
    let steps = walk(&mut plan, 100);
    assert_eq!(
        steps,
        vec![
            Step::Whole {
                id: "a".into(),
                seq: 11,
                heads: vec!["h-a".into()]
            },
            Step::Delta {
                id: "c".into(),
                seq: 14,
                heads: vec!["h-c".into()],
                peer_heads: vec!["old".into()]
            },
        ]
    );
    let built = plan.finish(20);
    let seqs: Vec<i64> = built.items.iter().map(Item::seq).collect();
    assert_eq!(seqs, vec![11, 12, 14], "a, the summary, c — in seq order");
    assert!(built.caught_up);
    assert_eq!(
        built.upto, 20,
        "everything up to the current seq was looked at"
    );
    assert_eq!(
        built.docs,
        vec![
            ("a".to_string(), vec!["h-a".to_string()]),
            ("c".to_string(), vec!["h-c".to_string()])
        ]
    );
}

#[test]
fn a_full_page_stops_the_batch_at_its_last_row_and_leaves_more_to_come() {
    // Documents filled their page of 2 (up to seq 5); summaries did not: the batch ends at 5.
    let rows = Rows {
        after: 0,
        limit: 2,
        docs: vec![doc("a", 1, None), doc("b", 5, None)],
        summaries: vec![summary("530181", 3), summary("530182", 7)],
    };
    let mut plan = Plan::new(rows, &[], &BTreeSet::new(), 1 << 20);
    walk(&mut plan, 10);
    let built = plan.finish(9);
    let seqs: Vec<i64> = built.items.iter().map(Item::seq).collect();
    assert_eq!(
        seqs,
        vec![1, 3, 5],
        "the summary at 7 waits for the next page"
    );
    assert!(!built.caught_up);
    assert_eq!(built.upto, 5);
}

#[test]
fn the_byte_budget_cuts_after_the_item_that_filled_it_but_never_sends_nothing() {
    let rows = Rows {
        after: 0,
        limit: 100,
        docs: vec![doc("a", 1, None), doc("b", 2, None), doc("c", 3, None)],
        summaries: Vec::new(),
    };
    // Each document alone is over the budget: one goes per batch.
    let mut plan = Plan::new(rows.clone(), &[], &BTreeSet::new(), 50);
    assert_eq!(walk(&mut plan, 80).len(), 1);
    let built = plan.finish(3);
    assert_eq!(built.items.len(), 1);
    assert!(!built.caught_up);
    assert_eq!(built.upto, 1, "the cursor stops at the last row looked at");

    // An item of 100 bytes counts 165 (id and heads too): under 250 a second one is added, then the
    // budget is full and the third waits.
    let mut plan = Plan::new(rows.clone(), &[], &BTreeSet::new(), 250);
    assert_eq!(walk(&mut plan, 100).len(), 2);
    let built = plan.finish(3);
    assert_eq!(built.items.len(), 2);
    assert!(!built.caught_up);
    assert_eq!(built.upto, 2);

    // Under 400 all three go, and the batch is caught up.
    let mut plan = Plan::new(rows, &[], &BTreeSet::new(), 400);
    assert_eq!(walk(&mut plan, 100).len(), 3);
    let built = plan.finish(3);
    assert!(built.caught_up);
    assert_eq!(built.upto, 3);
}

#[test]
fn requested_snapshots_are_listed_once_without_excluded_ones_and_skipped_among_the_rows() {
    let rows = Rows {
        after: 0,
        limit: 100,
        docs: vec![doc("a", 1, None), doc("f", 2, None)],
        summaries: Vec::new(),
    };
    let force = vec!["f".to_string(), "f".to_string(), "q".to_string()];
    let exclude: BTreeSet<String> = ["q".to_string()].into();
    let mut plan = Plan::new(rows, &force, &exclude, 1 << 20);
    assert_eq!(plan.forced(), ["f".to_string()]);
    plan.push(item("f", 2, 10), Some(("f".into(), vec!["h-f".into()])));
    let steps = walk(&mut plan, 10);
    assert_eq!(steps.len(), 1, "f was served whole already: {steps:?}");
    assert_eq!(
        plan.fresh_from("a", 32),
        ["a".to_string()],
        "f is not fetched as raw bytes"
    );
    let built = plan.finish(2);
    assert_eq!(
        built.items.iter().map(Item::seq).collect::<Vec<_>>(),
        vec![1, 2]
    );
}

#[test]
fn an_empty_page_of_held_documents_only_moves_the_cursor() {
    let rows = Rows {
        after: 0,
        limit: 2,
        docs: vec![doc("a", 1, Some(&["h-a"])), doc("b", 2, Some(&["h-b"]))],
        summaries: Vec::new(),
    };
    let mut plan = Plan::new(rows, &[], &BTreeSet::new(), 1 << 20);
    assert!(walk(&mut plan, 10).is_empty());
    let built = plan.finish(50);
    assert!(built.only_moves_cursor(0), "{built:?}");
    assert!(
        !built.only_moves_cursor(2),
        "no further than where it started"
    );
}

#[test]
fn what_is_left_is_estimated_between_counts_and_counted_again_after_both_bounds() {
    let t0 = Instant::now();
    let mut e = Estimate::new(t0);
    let batch = vec![item("a", 1, 100)];
    assert_eq!(
        e.after(&batch, false, t0),
        None,
        "nothing counted yet: count"
    );
    assert_eq!(
        e.counted(10, 1000, t0),
        Remaining {
            docs: 10,
            bytes: 1000
        }
    );
    let r = e.after(&batch, false, t0).expect("estimated");
    assert_eq!(r.docs, 9);
    assert_eq!(r.bytes, 1000 - batch[0].payload_len() as u64);
    // Many batches soon after: still estimated (time bound not passed).
    for _ in 0..RECOUNT_EVERY * 2 {
        assert!(e.after(&batch, false, t0).is_some());
    }
    // Long after, but the batch bound is passed too: counted again.
    let later = t0 + RECOUNT_AFTER + Duration::from_millis(1);
    assert_eq!(e.after(&batch, false, later), None);
    e.counted(5, 500, later);
    // A caught-up batch leaves nothing, and starts over.
    assert_eq!(e.after(&[], true, later), Some(Remaining::default()));
    assert_eq!(e.after(&batch, false, later), None);
}
