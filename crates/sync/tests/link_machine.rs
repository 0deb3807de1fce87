//! Pure tests of the sans-IO link state machine: feed events, assert effects. No tokio, no store.

use std::collections::BTreeSet;

use safemesh_model::AdminCode;
use safemesh_sync::frame::Batch;
use safemesh_sync::{
    Effect, ErrorCode, ErrorFrame, Frame, Hello, Item, Link, PROTOCOL_VERSION, Role, State,
};

const ME: &str = "530181";
const PARENT: &str = "5301";
const MY_INSTALL: &str = "install-county";
const PEER_INSTALL: &str = "install-city";

fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).unwrap()
}

/// The county's link to its parent, the city.
fn link(max_inflight: usize) -> Link {
    Link::new(
        code(ME),
        MY_INSTALL.into(),
        code(PARENT),
        Role::Parent,
        max_inflight,
    )
}

/// The peer's hello: `recv_cursor` is how far it has received our sequence, `seq` its own.
fn hello(recv_cursor: i64, seq: i64) -> Hello {
    Hello {
        protocol: PROTOCOL_VERSION,
        code: PARENT.into(),
        install_id: PEER_INSTALL.into(),
        recv_cursor,
        peer_install_seen: MY_INSTALL.into(),
        seq,
        crl_number: 0,
    }
}

fn doc_item(id: &str, seq: i64) -> Item {
    Item::Doc {
        id: id.into(),
        seq,
        snapshot: Some(vec![1, 2, 3]),
        changes: Vec::new(),
        heads: vec![format!("head-{id}-{seq}")],
    }
}

fn batch(items: Vec<Item>, upto: i64, caught_up: bool) -> Batch {
    let seq = items.iter().map(Item::seq).fold(upto, i64::max);
    Batch {
        items,
        upto,
        seq,
        caught_up,
        remaining: Default::default(),
        traces: Vec::new(),
    }
}

fn docs_of(b: &Batch) -> Vec<(String, Vec<String>)> {
    b.items
        .iter()
        .filter_map(|i| match i {
            Item::Doc { id, heads, .. } => Some((id.clone(), heads.clone())),
            Item::Summary { .. } => None,
        })
        .collect()
}

fn sends(fx: &[Effect]) -> Vec<&Frame> {
    fx.iter()
        .filter_map(|e| {
            if let Effect::Send(f) = e {
                Some(f)
            } else {
                None
            }
        })
        .collect()
}

fn prepares(fx: &[Effect]) -> Vec<(i64, Vec<String>, BTreeSet<String>)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Prepare {
                after,
                force,
                exclude,
            } => Some((*after, force.clone(), exclude.clone())),
            _ => None,
        })
        .collect()
}

fn only_prepare(fx: &[Effect]) -> (i64, Vec<String>, BTreeSet<String>) {
    let p = prepares(fx);
    assert_eq!(p.len(), 1, "expected exactly one Prepare in {fx:?}");
    p.into_iter().next().unwrap()
}

/// Connected (peer known, cursors as given), hello received, and the first (empty) prepare answered:
/// the link is in sync with our seq `seq`, having received the peer up to `recv`.
/// This side commits up to `upto` and sends `items` in one batch.
fn send(l: &mut Link, items: Vec<Item>, upto: i64) {
    let fx = l.on_local_commit(upto);
    assert!(!prepares(&fx).is_empty(), "{fx:?}");
    let b = batch(items, upto, true);
    let docs = docs_of(&b);
    let fx = l.on_prepared(b, docs);
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Send(Frame::Batch(_)))),
        "{fx:?}"
    );
}

fn in_sync(max_inflight: usize, recv: i64, seq: i64) -> Link {
    let mut l = link(max_inflight);
    l.on_connected(recv, Some(PEER_INSTALL.into()), seq);
    let fx = l.on_frame(Frame::Hello(hello(seq, recv)));
    assert_eq!(only_prepare(&fx).0, seq);
    let fx = l.on_prepared(batch(vec![], seq, true), vec![]);
    assert!(fx.is_empty(), "{fx:?}");
    assert_eq!(l.state(), State::InSync);
    l
}

#[test]
fn connect_sends_hello_with_cursor() {
    // 1. A link that has durably received the peer up to 7, knows the peer's install, and is at seq 12.
    let mut l = link(4);
    let fx = l.on_connected(7, Some(PEER_INSTALL.into()), 12);
    // 2. The only effect is our hello, carrying exactly those cursors.
    assert_eq!(
        fx,
        vec![Effect::Send(Frame::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            code: ME.into(),
            install_id: MY_INSTALL.into(),
            recv_cursor: 7,
            peer_install_seen: PEER_INSTALL.into(),
            seq: 12,
            crl_number: 0,
        }))]
    );
    assert_eq!(l.state(), State::Connecting);
    assert_eq!(l.recv_cursor(), 7);

    // 3. A peer never seen: the hello says so with an empty install id and a zero cursor.
    let mut fresh = link(4);
    let fx = fresh.on_connected(0, None, 0);
    let [Effect::Send(Frame::Hello(h))] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(
        (h.recv_cursor, h.peer_install_seen.as_str(), h.seq),
        (0, "", 0)
    );
}

#[test]
fn hello_from_wrong_code_is_rejected_with_bad_hello() {
    // 1. The peer claims to be another city.
    let mut l = link(4);
    l.on_connected(0, None, 0);
    let mut h = hello(0, 0);
    h.code = "5302".into();
    let fx = l.on_frame(Frame::Hello(h));
    // 2. A typed BadHello error goes back, then the stream closes; nothing is prepared.
    assert_eq!(fx.len(), 2, "{fx:?}");
    let Effect::Send(Frame::Error(e)) = &fx[0] else {
        panic!("{fx:?}")
    };
    assert_eq!(e.code, ErrorCode::BadHello);
    assert!(matches!(fx[1], Effect::Close { .. }));
    assert!(prepares(&fx).is_empty());
    assert_eq!(l.state(), State::Rejected);
    assert!(l.last_error().is_some());

    // 3. Same for an unknown protocol version.
    let mut l = link(4);
    l.on_connected(0, None, 0);
    let mut h = hello(0, 0);
    h.protocol = PROTOCOL_VERSION + 1;
    let fx = l.on_frame(Frame::Hello(h));
    assert!(
        matches!(
            &fx[0],
            Effect::Send(Frame::Error(ErrorFrame {
                code: ErrorCode::BadHello,
                ..
            }))
        ),
        "{fx:?}"
    );
    assert_eq!(l.state(), State::Rejected);

    // 4. The 6-digit form of the right code is still the wrong string on the wire: only the canonical
    //    prefix form names the peer.
    let mut l = link(4);
    l.on_connected(0, None, 0);
    let mut h = hello(0, 0);
    h.code = "530100".into();
    let fx = l.on_frame(Frame::Hello(h));
    assert_eq!(l.state(), State::Rejected, "{fx:?}");
}

#[test]
fn noop_reconnect_sends_nothing_after_hello() {
    // 1. We are at seq 9 and have received the peer up to 5.
    let mut l = link(4);
    let fx = l.on_connected(5, Some(PEER_INSTALL.into()), 9);
    assert_eq!(sends(&fx).len(), 1, "only the hello");
    // 2. The peer has received us up to 9 and is itself at 5: nothing to do either way.
    let fx = l.on_frame(Frame::Hello(hello(9, 5)));
    assert!(sends(&fx).is_empty(), "{fx:?}");
    let (after, force, exclude) = only_prepare(&fx);
    assert_eq!((after, force.len(), exclude.len()), (9, 0, 0));
    // 3. The store finds nothing after 9: no frame at all, and the link is in sync.
    let fx = l.on_prepared(batch(vec![], 9, true), vec![]);
    assert!(fx.is_empty(), "{fx:?}");
    assert_eq!(l.state(), State::InSync);
    assert_eq!(l.inflight(), 0);
}

#[test]
fn restored_peer_resets_cursor() {
    // 1. We had received the peer's old install up to 10.
    let mut l = link(4);
    l.on_connected(10, Some("old-install".into()), 3);
    // 2. The peer comes back as a new install (restored from a backup).
    let mut h = hello(3, 2);
    h.install_id = "new-install".into();
    let fx = l.on_frame(Frame::Hello(h));
    // 3. What we knew it held is void: ResetPeer first, our receive cursor back to 0.
    assert_eq!(
        fx.first(),
        Some(&Effect::ResetPeer {
            install_id: "new-install".into()
        }),
        "{fx:?}"
    );
    assert_eq!(l.recv_cursor(), 0);
    // 4. Its seq 2 is beyond our (reset) cursor, so we are not caught up on the incoming side.
    l.on_prepared(batch(vec![], 3, true), vec![]);
    assert_eq!(l.state(), State::CatchingUp);

    // 5. A peer we never knew (first contact) is not a reset.
    let mut l = link(4);
    l.on_connected(0, None, 0);
    let fx = l.on_frame(Frame::Hello(hello(0, 0)));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::ResetPeer { .. })),
        "{fx:?}"
    );
}

#[test]
fn cursor_from_another_install_of_ours_means_start_over() {
    // The peer's cursor was about a previous install of ours: send everything again.
    let mut l = link(4);
    l.on_connected(0, Some(PEER_INSTALL.into()), 20);
    let mut h = hello(15, 0);
    h.peer_install_seen = "some-older-install-of-ours".into();
    let fx = l.on_frame(Frame::Hello(h));
    assert_eq!(only_prepare(&fx).0, 0);
}

#[test]
fn acks_persist_heads_of_acked_batches_only() {
    // 1. Connected; the peer has nothing of ours.
    let mut l = link(4);
    l.on_connected(0, Some(PEER_INSTALL.into()), 6);
    let fx = l.on_frame(Frame::Hello(hello(0, 0)));
    assert_eq!(only_prepare(&fx).0, 0);
    // 2. Two batches go out: doc a (≤ 3), then doc b (≤ 6).
    let b1 = batch(vec![doc_item("a", 3)], 3, false);
    let fx = l.on_prepared(b1.clone(), docs_of(&b1));
    // Each declares this side's own seq (6), beyond the batch's upto.
    assert_eq!(sends(&fx), vec![&Frame::Batch(Batch { seq: 6, ..b1 })]);
    assert_eq!(only_prepare(&fx).0, 3);
    let b2 = batch(vec![doc_item("b", 6)], 6, true);
    let fx = l.on_prepared(b2.clone(), docs_of(&b2));
    assert_eq!(sends(&fx), vec![&Frame::Batch(b2)]);
    assert!(prepares(&fx).is_empty(), "caught up: no further prepare");
    assert_eq!(l.inflight(), 2);
    // 3. The ack of the first batch persists only doc a's heads.
    let fx = l.on_frame(Frame::Ack { upto: 3 });
    assert_eq!(
        fx,
        vec![Effect::PersistAck {
            upto: 3,
            docs: vec![("a".into(), vec!["head-a-3".into()])]
        }]
    );
    assert_eq!(l.inflight(), 1);
    // 4. An ack short of the second batch persists the cursor but no heads.
    let fx = l.on_frame(Frame::Ack { upto: 5 });
    assert_eq!(
        fx,
        vec![Effect::PersistAck {
            upto: 5,
            docs: vec![]
        }]
    );
    assert_eq!(l.inflight(), 1);
    // 5. The ack of the second batch persists doc b; the peer was at 0 and sent nothing → in sync.
    let fx = l.on_frame(Frame::Ack { upto: 6 });
    assert_eq!(
        fx,
        vec![Effect::PersistAck {
            upto: 6,
            docs: vec![("b".into(), vec!["head-b-6".into()])]
        }]
    );
    assert_eq!(l.inflight(), 0);
    assert_eq!(l.state(), State::InSync);
}

#[test]
fn one_ack_can_cover_several_batches() {
    let mut l = link(4);
    l.on_connected(0, Some(PEER_INSTALL.into()), 6);
    l.on_frame(Frame::Hello(hello(0, 0)));
    let b1 = batch(vec![doc_item("a", 3)], 3, false);
    l.on_prepared(b1.clone(), docs_of(&b1));
    let b2 = batch(vec![doc_item("b", 6)], 6, true);
    l.on_prepared(b2.clone(), docs_of(&b2));
    let fx = l.on_frame(Frame::Ack { upto: 6 });
    assert_eq!(
        fx,
        vec![Effect::PersistAck {
            upto: 6,
            docs: vec![
                ("a".into(), vec!["head-a-3".into()]),
                ("b".into(), vec!["head-b-6".into()])
            ]
        }]
    );
    assert_eq!(l.inflight(), 0);
}

#[test]
fn inflight_window_bounds_prepares() {
    // 1. A window of 2, a long backlog (seq 100).
    let mut l = link(2);
    l.on_connected(0, Some(PEER_INSTALL.into()), 100);
    let fx = l.on_frame(Frame::Hello(hello(0, 0)));
    assert_eq!(only_prepare(&fx).0, 0);
    // 2. Batch 1 goes and the next is prepared; batch 2 goes and fills the window: no third prepare.
    let fx = l.on_prepared(
        batch(vec![doc_item("a", 10)], 10, false),
        vec![("a".into(), vec!["ha".into()])],
    );
    assert_eq!(only_prepare(&fx).0, 10);
    let fx = l.on_prepared(
        batch(vec![doc_item("b", 20)], 20, false),
        vec![("b".into(), vec!["hb".into()])],
    );
    assert_eq!(sends(&fx).len(), 1);
    assert!(prepares(&fx).is_empty(), "window full: {fx:?}");
    assert_eq!(l.inflight(), 2);
    // 3. A local commit does not overrun the window either.
    let fx = l.on_local_commit(101);
    assert!(prepares(&fx).is_empty(), "window full: {fx:?}");
    // 4. An ack frees one slot: exactly one prepare, after the last batch sent.
    let fx = l.on_frame(Frame::Ack { upto: 10 });
    assert_eq!(only_prepare(&fx).0, 20);
    assert_eq!(l.state(), State::CatchingUp);
}

#[test]
fn batch_before_hello_is_a_protocol_error() {
    let mut l = link(4);
    l.on_connected(0, None, 0);
    let fx = l.on_frame(Frame::Batch(batch(vec![doc_item("a", 1)], 1, true)));
    assert!(
        matches!(
            &fx[0],
            Effect::Send(Frame::Error(ErrorFrame {
                code: ErrorCode::Malformed,
                ..
            }))
        ),
        "{fx:?}"
    );
    assert!(matches!(fx.last(), Some(Effect::Close { .. })));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Apply(_))));
}

#[test]
fn incoming_batches_are_applied_one_at_a_time_and_acked() {
    // 1. In sync; the peer pushes two batches back to back.
    let mut l = in_sync(4, 0, 0);
    let b1 = batch(vec![doc_item("x", 1)], 1, false);
    let b2 = batch(vec![doc_item("y", 2)], 2, true);
    let fx = l.on_frame(Frame::Batch(b1.clone()));
    assert_eq!(fx, vec![Effect::Apply(b1)]);
    // 2. The second waits for the first to be applied.
    let fx = l.on_frame(Frame::Batch(b2.clone()));
    assert!(fx.is_empty(), "{fx:?}");
    // 3. Applied: ack it, then apply the next.
    let fx = l.on_applied(1, false, vec![], vec![]);
    assert_eq!(
        fx,
        vec![Effect::Send(Frame::Ack { upto: 1 }), Effect::Apply(b2)]
    );
    assert_eq!(l.recv_cursor(), 1);
    // 4. The last one says caught up: in sync again.
    let fx = l.on_applied(2, true, vec![], vec![]);
    assert_eq!(fx, vec![Effect::Send(Frame::Ack { upto: 2 })]);
    assert_eq!(l.state(), State::InSync);
}

/// While an incoming batch is being applied the link is not in sync (operators see `catching_up`).
/// The `Frame::Batch` arm of `on_frame` does not call `refresh_state`.
#[test]
fn state_is_catching_up_while_a_batch_is_applied() {
    let mut l = in_sync(4, 0, 0);
    let fx = l.on_frame(Frame::Batch(batch(vec![doc_item("x", 1)], 1, true)));
    assert!(matches!(fx.as_slice(), [Effect::Apply(_)]));
    assert_eq!(l.state(), State::CatchingUp, "a batch is being applied");
}

#[test]
fn missing_history_acks_short_and_asks_for_snapshots() {
    let mut l = in_sync(4, 0, 0);
    l.on_frame(Frame::Batch(batch(
        vec![doc_item("x", 4), doc_item("y", 7)],
        7,
        true,
    )));
    let fx = l.on_applied(3, true, vec!["x".into()], vec![]);
    assert_eq!(
        fx,
        vec![
            Effect::Send(Frame::Ack { upto: 3 }),
            Effect::Send(Frame::NeedSnapshot {
                doc_ids: vec!["x".into()]
            })
        ]
    );
    assert_eq!(l.recv_cursor(), 3);
}

#[test]
fn rejected_batch_sends_the_error_and_closes() {
    let mut l = in_sync(4, 0, 0);
    l.on_frame(Frame::Batch(batch(vec![doc_item("x", 1)], 1, true)));
    l.on_frame(Frame::Batch(batch(vec![doc_item("y", 2)], 2, true)));
    let err = ErrorFrame {
        code: ErrorCode::Forbidden,
        doc_id: Some("x".into()),
        path: Some("core.title".into()),
        rule: Some("owner_only".into()),
        message: "no".into(),
    };
    let fx = l.on_apply_rejected(err.clone());
    assert_eq!(
        fx,
        vec![
            Effect::Send(Frame::Error(err)),
            Effect::Close {
                reason: "no".into()
            }
        ]
    );
    assert_eq!(l.recv_cursor(), 0, "nothing of it is acknowledged");
}

#[test]
fn forbidden_error_quarantines_document() {
    // 1. In sync, we pushed doc h-1 and the peer refused it.
    let mut l = in_sync(4, 0, 5);
    send(&mut l, vec![doc_item("h-1", 6)], 6);
    let fx = l.on_frame(Frame::Error(ErrorFrame {
        code: ErrorCode::Forbidden,
        doc_id: Some("h-1".into()),
        path: Some("core.title".into()),
        rule: Some("owner_only".into()),
        message: "refused".into(),
    }));
    // 2. The stream closes and h-1 is quarantined on this link.
    assert!(matches!(fx.as_slice(), [Effect::Close { .. }]), "{fx:?}");
    assert!(l.quarantined().contains("h-1"));
    assert!(l.last_error().is_some_and(|e| e.contains("forbidden")));
    l.on_disconnected(Some("refused".into()));
    assert_eq!(l.state(), State::Disconnected);
    // 3. On the next stream, every prepare leaves h-1 out.
    l.on_connected(0, Some(PEER_INSTALL.into()), 6);
    let fx = l.on_frame(Frame::Hello(hello(5, 0)));
    let (after, _, exclude) = only_prepare(&fx);
    assert_eq!(after, 5);
    assert_eq!(exclude, BTreeSet::from(["h-1".to_string()]));
}

#[test]
fn bad_hello_error_from_peer_marks_link_rejected() {
    let mut l = link(4);
    l.on_connected(0, None, 0);
    let fx = l.on_frame(Frame::Error(ErrorFrame {
        code: ErrorCode::BadHello,
        doc_id: None,
        path: None,
        rule: None,
        message: "who are you".into(),
    }));
    assert!(matches!(fx.as_slice(), [Effect::Close { .. }]));
    assert_eq!(l.state(), State::Rejected);
    l.on_disconnected(Some("closed".into()));
    assert_eq!(
        l.state(),
        State::Rejected,
        "a refusal is not an ordinary disconnect"
    );
}

#[test]
fn need_snapshot_forces_snapshot_prepare() {
    // 1. In sync at seq 8.
    let mut l = in_sync(4, 0, 8);
    // 2. The peer lacks history for h-1 and h-2.
    let fx = l.on_frame(Frame::NeedSnapshot {
        doc_ids: vec!["h-1".into(), "h-2".into()],
    });
    // 3. Forget what it was known to hold, then prepare with both forced (after our cursor, not from 0).
    assert_eq!(
        fx[0],
        Effect::ForgetPeerHeads {
            doc_ids: vec!["h-1".into(), "h-2".into()]
        }
    );
    let (after, force, _) = only_prepare(&fx);
    assert_eq!(after, 8);
    assert_eq!(force, vec!["h-1".to_string(), "h-2".to_string()]);
    assert_eq!(l.state(), State::CatchingUp);
    // 4. The snapshots go out in a batch; the force list is not repeated.
    let b = batch(vec![doc_item("h-1", 3), doc_item("h-2", 4)], 8, true);
    let fx = l.on_prepared(b.clone(), docs_of(&b));
    assert_eq!(sends(&fx), vec![&Frame::Batch(b)]);
    assert!(prepares(&fx).is_empty(), "{fx:?}");
}

#[test]
fn local_commit_after_sync_prepares_a_push() {
    // 1. In sync at seq 9.
    let mut l = in_sync(4, 0, 9);
    // 2. A commit we already covered changes nothing.
    assert!(l.on_local_commit(9).is_empty());
    assert_eq!(l.state(), State::InSync);
    // 3. A new local commit: prepare after 9 at once (push, no polling).
    let fx = l.on_local_commit(10);
    assert_eq!(only_prepare(&fx).0, 9);
    assert_eq!(l.state(), State::CatchingUp);
    // 4. It goes out, is acked, and the link is in sync again.
    let b = batch(vec![doc_item("h-9", 10)], 10, true);
    let fx = l.on_prepared(b.clone(), docs_of(&b));
    assert_eq!(sends(&fx).len(), 1);
    let fx = l.on_frame(Frame::Ack { upto: 10 });
    assert!(
        matches!(fx.as_slice(), [Effect::PersistAck { upto: 10, .. }]),
        "{fx:?}"
    );
    assert_eq!(l.state(), State::InSync);
}

#[test]
fn local_commit_out_of_scope_still_moves_the_cursor() {
    // A commit whose documents are not in the peer's scope yields an empty batch that still carries
    // `upto`, so the peer's cursor (and the next hello) move past it.
    let mut l = in_sync(4, 0, 9);
    l.on_local_commit(10);
    let b = batch(vec![], 10, true);
    let fx = l.on_prepared(b.clone(), vec![]);
    assert_eq!(sends(&fx), vec![&Frame::Batch(b)]);
}

#[test]
fn local_commit_while_not_connected_is_pushed_after_hello() {
    let mut l = link(4);
    assert!(l.on_local_commit(3).is_empty(), "no stream: nothing to do");
    l.on_connected(0, Some(PEER_INSTALL.into()), 3);
    let fx = l.on_frame(Frame::Hello(hello(0, 0)));
    assert_eq!(only_prepare(&fx).0, 0);
}

#[test]
fn disconnect_drops_inflight_and_reconnect_resends_from_peer_cursor() {
    // 1. Two batches out, neither acked, then the stream drops.
    let mut l = link(4);
    l.on_connected(0, Some(PEER_INSTALL.into()), 6);
    l.on_frame(Frame::Hello(hello(0, 0)));
    l.on_prepared(
        batch(vec![doc_item("a", 3)], 3, false),
        vec![("a".into(), vec!["ha".into()])],
    );
    l.on_prepared(
        batch(vec![doc_item("b", 6)], 6, true),
        vec![("b".into(), vec!["hb".into()])],
    );
    l.on_disconnected(Some("cut".into()));
    assert_eq!(l.inflight(), 0);
    assert_eq!(l.state(), State::Disconnected);
    // 2. The next stream starts from what the peer says it holds.
    l.on_connected(0, Some(PEER_INSTALL.into()), 6);
    let fx = l.on_frame(Frame::Hello(hello(3, 0)));
    assert_eq!(only_prepare(&fx).0, 3);
}

// ---- Behaviours the machine should have but (at the time of writing) does not. ----

/// A local commit that arrives while a prepare is outstanding must not be lost when that prepare
/// comes back empty. (`on_prepared`'s empty branch sets `out_caught_up = true` without looking at
/// `local_seq` or `force`, and does not prepare again.)
#[test]
fn local_commit_while_preparing_is_not_lost() {
    // 1. Reconnect at seq 9; the peer holds everything up to 9: the link prepares after 9.
    let mut l = link(4);
    l.on_connected(0, Some(PEER_INSTALL.into()), 9);
    let fx = l.on_frame(Frame::Hello(hello(9, 0)));
    assert_eq!(only_prepare(&fx).0, 9);
    // 2. While that prepare is outstanding, commit 10 lands (one prepare at a time: nothing yet).
    assert!(prepares(&l.on_local_commit(10)).is_empty());
    // 3. The prepare (built before 10 was visible) comes back empty.
    let fx = l.on_prepared(batch(vec![], 9, true), vec![]);
    // 4. Commit 10 is unsent: the link must prepare again, not claim to be in sync.
    assert_eq!(prepares(&fx).len(), 1, "commit 10 was lost: {fx:?}");
    assert_ne!(l.state(), State::InSync);
}

/// A NeedSnapshot that arrives while a prepare is outstanding must still be served.
#[test]
fn need_snapshot_while_preparing_is_not_lost() {
    // 1. Reconnect at seq 9; the peer holds everything up to 9: the link prepares after 9.
    let mut l = link(4);
    l.on_connected(0, Some(PEER_INSTALL.into()), 9);
    let fx = l.on_frame(Frame::Hello(hello(9, 0)));
    assert_eq!(only_prepare(&fx).0, 9);
    // 2. While it is outstanding the peer asks for h-1 whole.
    let fx = l.on_frame(Frame::NeedSnapshot {
        doc_ids: vec!["h-1".into()],
    });
    assert!(prepares(&fx).is_empty(), "one prepare at a time");
    // 3. The outstanding prepare comes back empty.
    let fx = l.on_prepared(batch(vec![], 9, true), vec![]);
    // 4. The snapshot must still be prepared.
    let p = prepares(&fx);
    assert_eq!(p.len(), 1, "the snapshot request was dropped: {fx:?}");
    assert_eq!(p[0].1, vec!["h-1".to_string()]);
}

/// With the window full, a batch the peer could only partly apply (it acks short and asks for a
/// snapshot) stays in flight; the snapshot must still be sent or the link stalls until reconnect.
#[test]
fn need_snapshot_is_served_when_the_window_is_full() {
    // 1. Window of 1; one batch (x at 4, y at 7) goes out.
    let mut l = link(1);
    l.on_connected(0, Some(PEER_INSTALL.into()), 7);
    l.on_frame(Frame::Hello(hello(0, 0)));
    let b = batch(vec![doc_item("x", 4), doc_item("y", 7)], 7, true);
    l.on_prepared(b.clone(), docs_of(&b));
    assert_eq!(l.inflight(), 1);
    // 2. The peer lacks history for x: it acks up to 3 and asks for x whole.
    l.on_frame(Frame::Ack { upto: 3 });
    let fx = l.on_frame(Frame::NeedSnapshot {
        doc_ids: vec!["x".into()],
    });
    // 3. The snapshot of x must be prepared.
    let p = prepares(&fx);
    assert_eq!(
        p.len(),
        1,
        "link stalls: the batch stays in flight forever and fills the window ({fx:?})"
    );
    assert_eq!(p[0].1, vec!["x".to_string()]);
}

/// Heads of a document the peer asked a snapshot for must not be persisted as held when a later ack
/// retires the batch that carried its (unapplied) delta.
#[test]
fn need_snapshot_docs_are_not_recorded_as_held_by_a_later_ack() {
    // 1. Two batches out: x (delta the peer cannot apply) in the first, y in the second.
    let mut l = link(4);
    l.on_connected(0, Some(PEER_INSTALL.into()), 7);
    l.on_frame(Frame::Hello(hello(0, 0)));
    let b1 = batch(vec![doc_item("x", 4)], 4, false);
    l.on_prepared(b1.clone(), docs_of(&b1));
    let b2 = batch(vec![doc_item("y", 7)], 7, true);
    l.on_prepared(b2.clone(), docs_of(&b2));
    // 2. The peer acks short of x, asks for it whole, then applies the second batch and acks it.
    l.on_frame(Frame::Ack { upto: 3 });
    l.on_frame(Frame::NeedSnapshot {
        doc_ids: vec!["x".into()],
    });
    let fx = l.on_frame(Frame::Ack { upto: 7 });
    // 3. The peer does not hold x's heads: persisting them would make the next send of x a delta
    //    again (and, if the snapshot is lost with the stream, leave x missing at the peer).
    let persisted: Vec<&(String, Vec<String>)> = fx
        .iter()
        .filter_map(|e| {
            if let Effect::PersistAck { docs, .. } = e {
                Some(docs)
            } else {
                None
            }
        })
        .flatten()
        .collect();
    assert!(persisted.iter().any(|(id, _)| id == "y"), "{fx:?}");
    assert!(
        !persisted.iter().any(|(id, _)| id == "x"),
        "x recorded as held by the peer: {fx:?}"
    );
}

fn one_slot_digest() -> safemesh_sync::Digest {
    let mut b = safemesh_sync::digest::Builder::new(16);
    b.add("hazard-1", &["aa".repeat(32)]);
    b.finish()
}

fn malformed_rule(fx: &[Effect]) -> Option<String> {
    sends(fx).into_iter().find_map(|f| match f {
        Frame::Error(e) if e.code == ErrorCode::Malformed => e.rule.clone(),
        _ => None,
    })
}

#[test]
fn restored_peer_is_asked_for_a_digest_before_anything_is_sent() {
    // 1. The peer comes back as a new install holding something (seq 5).
    let mut l = link(4);
    l.on_connected(10, Some("old-install".into()), 7);
    let mut h = hello(3, 5);
    h.install_id = "new-install".into();
    let fx = l.on_frame(Frame::Hello(h));
    // 2. Reset, then a digest is made; nothing is prepared yet.
    assert!(matches!(fx[0], Effect::ResetPeer { .. }), "{fx:?}");
    assert!(fx.contains(&Effect::MakeDigest { peer_seq: 5 }), "{fx:?}");
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Prepare { .. })),
        "{fx:?}"
    );
    assert!(l.repairing());
    // 3. The digest goes out; still nothing prepared.
    let d = one_slot_digest();
    let bucket = d.slots[0].bucket;
    let fx = l.on_digest_made(d.clone());
    assert_eq!(sends(&fx), vec![&Frame::DigestRequest(d.clone())]);
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Prepare { .. })),
        "{fx:?}"
    );
    assert_eq!(l.state(), State::CatchingUp);
    // 4. A first reply frame: what the peer holds is recorded, sending still waits.
    let held = vec![("hazard-1".to_string(), vec!["bb".repeat(32)])];
    let fx = l.on_frame(Frame::DigestReply(safemesh_sync::DigestReply {
        differ: vec![bucket],
        entries: held.clone(),
        last: false,
    }));
    assert_eq!(fx, vec![Effect::PeerHolds { docs: held }]);
    // 5. The last frame settles the digest, then sending starts after the peer's cursor (its backup
    //    held everything of ours up to 3).
    let fx = l.on_frame(Frame::DigestReply(safemesh_sync::DigestReply {
        differ: vec![],
        entries: vec![],
        last: true,
    }));
    assert_eq!(
        fx[0],
        Effect::DigestSettled {
            digest: d,
            differ: BTreeSet::from([bucket]),
        }
    );
    assert!(matches!(&fx[1], Effect::Prepare { after: 3, .. }), "{fx:?}");
    assert!(!l.repairing());
}

#[test]
fn an_empty_digest_or_an_empty_peer_starts_sending_at_once() {
    // This side was restored (the peer names an older install of ours) but holds nothing the peer
    // could hold: the digest is empty, no request, a prepare at once.
    let mut l = link(4);
    l.on_connected(0, None, 3);
    let mut h = hello(0, 4);
    h.peer_install_seen = "an-older-install-of-ours".into();
    let fx = l.on_frame(Frame::Hello(h));
    assert_eq!(fx, vec![Effect::MakeDigest { peer_seq: 4 }]);
    let fx = l.on_digest_made(safemesh_sync::Digest {
        buckets: 16,
        slots: vec![],
    });
    assert!(sends(&fx).is_empty(), "{fx:?}");
    assert!(matches!(fx[0], Effect::Prepare { after: 0, .. }), "{fx:?}");
    // A first contact (neither side has seen the other), even with a peer holding things: no digest.
    // And a restored side whose peer holds nothing (seq 0): no digest either.
    for (seen, seq) in [("", 9), ("an-older-install-of-ours", 0)] {
        let mut l = link(4);
        l.on_connected(0, None, 3);
        let mut h = hello(0, seq);
        h.peer_install_seen = seen.into();
        let fx = l.on_frame(Frame::Hello(h));
        assert!(matches!(fx[0], Effect::Prepare { after: 0, .. }), "{fx:?}");
        assert!(!fx.iter().any(|e| matches!(e, Effect::MakeDigest { .. })));
    }
}

#[test]
fn a_digest_request_is_answered_and_bad_digests_are_refused() {
    let connected = || {
        let mut l = link(4);
        l.on_connected(0, Some(PEER_INSTALL.into()), 3);
        l.on_frame(Frame::Hello(hello(3, 0)));
        l
    };
    // A well-formed request is answered by the driver.
    let mut l = connected();
    let d = one_slot_digest();
    let fx = l.on_frame(Frame::DigestRequest(d.clone()));
    assert_eq!(fx, vec![Effect::AnswerDigest(d)]);
    // Bucket count not a power of two: refused, typed, and closed.
    let mut l = connected();
    let fx = l.on_frame(Frame::DigestRequest(safemesh_sync::Digest {
        buckets: 12,
        slots: vec![],
    }));
    assert_eq!(malformed_rule(&fx).as_deref(), Some("digest_well_formed"));
    assert!(fx.iter().any(|e| matches!(e, Effect::Close { .. })));
    // A reply nobody asked for.
    let mut l = connected();
    let fx = l.on_frame(Frame::DigestReply(safemesh_sync::DigestReply {
        last: true,
        ..Default::default()
    }));
    assert_eq!(malformed_rule(&fx).as_deref(), Some("digest_requested"));
    // A reply naming a bucket the request did not list.
    let mut l = link(4);
    l.on_connected(0, Some("old".into()), 3);
    l.on_frame(Frame::Hello(hello(0, 5)));
    let d = one_slot_digest();
    l.on_digest_made(d.clone());
    let other = (d.slots[0].bucket + 1) % 16;
    let fx = l.on_frame(Frame::DigestReply(safemesh_sync::DigestReply {
        differ: vec![other],
        entries: vec![],
        last: true,
    }));
    assert_eq!(malformed_rule(&fx).as_deref(), Some("digest_reply_buckets"));
}

#[test]
fn a_peer_cannot_repeat_hellos_or_digest_requests_or_smuggle_reply_entries() {
    let connected = || {
        let mut l = link(4);
        l.on_connected(0, Some(PEER_INSTALL.into()), 3);
        l.on_frame(Frame::Hello(hello(3, 0)));
        l
    };
    // A second hello on the same stream.
    let mut l = connected();
    let fx = l.on_frame(Frame::Hello(hello(3, 0)));
    assert_eq!(malformed_rule(&fx).as_deref(), Some("hello_once"));
    // One digest request per stream is answered; a second is refused (each costs a full scan).
    let mut l = connected();
    let d = one_slot_digest();
    assert_eq!(
        l.on_frame(Frame::DigestRequest(d.clone())),
        vec![Effect::AnswerDigest(d.clone())]
    );
    let fx = l.on_frame(Frame::DigestRequest(d));
    assert_eq!(malformed_rule(&fx).as_deref(), Some("digest_once"));
    // A reply entry must fall in a bucket its frame names.
    let mut l = link(4);
    l.on_connected(0, Some("old".into()), 3);
    l.on_frame(Frame::Hello(hello(0, 5)));
    let d = one_slot_digest();
    let named = d.slots[0].bucket;
    l.on_digest_made(d);
    let stray = (0..)
        .map(|i| format!("doc-{i}"))
        .find(|id| safemesh_sync::digest::bucket_of(id, 16) != named)
        .unwrap();
    let fx = l.on_frame(Frame::DigestReply(safemesh_sync::DigestReply {
        differ: vec![named],
        entries: vec![(stray, vec![])],
        last: true,
    }));
    assert_eq!(malformed_rule(&fx).as_deref(), Some("digest_reply_buckets"));
}

#[test]
fn only_errors_about_a_documents_content_quarantine_it() {
    let mut l = in_sync(4, 0, 3);
    let sent = vec![
        doc_item("big-but-fine", 4),
        doc_item("unreadable", 5),
        doc_item("garbled", 6),
    ];
    send(&mut l, sent, 6);
    let err = |rule: &str, doc: &str| {
        Frame::Error(ErrorFrame {
            code: ErrorCode::Malformed,
            doc_id: Some(doc.into()),
            path: None,
            rule: Some(rule.into()),
            message: "refused".into(),
        })
    };
    // A bound the batch broke names the document that crossed it, but the document is not at fault.
    l.on_frame(err("max_batch_bytes", "big-but-fine"));
    assert!(l.quarantined().is_empty(), "{:?}", l.quarantined());
    // Content the peer cannot decode or read is.
    l.on_frame(err("projection_reads", "unreadable"));
    l.on_frame(err("automerge_decodes", "garbled"));
    assert_eq!(
        l.quarantined().iter().cloned().collect::<Vec<_>>(),
        vec!["garbled".to_string(), "unreadable".to_string()]
    );
}

#[test]
fn an_unfinished_repair_runs_again_on_the_next_stream() {
    // Both installs are known on both sides (a plain reconnect), but the store says a repair with
    // this peer was started and never finished: the digest comes first again.
    let mut l = link(4);
    l.set_repair_pending(true);
    l.on_connected(0, Some(PEER_INSTALL.into()), 3);
    let fx = l.on_frame(Frame::Hello(hello(0, 7)));
    assert_eq!(fx, vec![Effect::MakeDigest { peer_seq: 7 }]);
    // Without the mark, the same hello is a plain reconnect.
    let mut l = link(4);
    l.on_connected(0, Some(PEER_INSTALL.into()), 3);
    let fx = l.on_frame(Frame::Hello(hello(0, 7)));
    assert!(matches!(fx[0], Effect::Prepare { .. }), "{fx:?}");
}

// ---- The sync fallback (DESIGN §5.6): a delta a holder cannot apply is reconciled document by
// ---- document with Automerge's sync protocol.

fn doc_syncs(fx: &[Effect]) -> Vec<(String, Option<Vec<u8>>)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::DocSync { steps } => {
                Some(steps.iter().map(|s| (s.doc_id.clone(), s.message.clone())))
            }
            _ => None,
        })
        .flatten()
        .collect()
}

/// This side opens the exchange for `id`.
fn open(id: &str) -> safemesh_sync::DocSyncStep {
    safemesh_sync::DocSyncStep {
        doc_id: id.into(),
        message: None,
        fresh: true,
    }
}

fn synced(id: &str, reply: Option<Vec<u8>>, complete: bool) -> Vec<safemesh_sync::Synced> {
    vec![safemesh_sync::Synced {
        doc_id: id.into(),
        last: reply.is_none(),
        reply,
        complete,
    }]
}

fn sync_frame(id: &str, message: Vec<u8>) -> Frame {
    Frame::DocSync {
        messages: vec![safemesh_sync::SyncMessage::new(id, message, false)],
    }
}

/// The first message of an exchange this side opened.
fn opening_frame(id: &str, message: Vec<u8>) -> Frame {
    Frame::DocSync {
        messages: vec![safemesh_sync::SyncMessage::new(id, message, true)],
    }
}

#[test]
fn a_held_document_opens_a_sync_exchange_and_its_completion_acks_the_rest() {
    // 1. A batch up to 7 carries x (seq 4, a delta this side holds but cannot apply) and y.
    let mut l = in_sync(4, 0, 0);
    l.on_frame(Frame::Batch(batch(
        vec![doc_item("x", 4), doc_item("y", 7)],
        7,
        true,
    )));
    let mut awaiting = std::collections::BTreeMap::new();
    awaiting.insert("x".to_string(), 4);
    l.set_awaiting(awaiting);
    // 2. The ack stops before x; no snapshot is asked; the exchange for x opens, after the ack.
    let fx = l.on_applied(3, true, vec![], vec!["x".into()]);
    assert_eq!(
        fx,
        vec![
            Effect::Send(Frame::Ack { upto: 3 }),
            Effect::DocSync {
                steps: vec![open("x")]
            }
        ]
    );
    assert_eq!(l.recv_cursor(), 3);
    assert_eq!(l.state(), State::CatchingUp, "x is still missing");
    assert_eq!(l.syncing().collect::<Vec<_>>(), ["x"]);
    // 3. Once complete here, the stored cursor may pass x: the batch's whole upto.
    assert_eq!(l.durable_without("x"), 7);
    let fx = l.on_doc_synced(synced("x", Some(vec![0x43, 1]), true));
    assert_eq!(
        fx,
        vec![
            Effect::Send(Frame::Ack { upto: 7 }),
            Effect::Send(opening_frame("x", vec![0x43, 1]))
        ]
    );
    assert_eq!(l.recv_cursor(), 7);
    assert!(l.awaiting().is_empty());
    // 4. The peer has nothing more to say and neither has this side: the exchange is over.
    let fx = l.on_frame(sync_frame("x", vec![0x43, 2]));
    assert_eq!(doc_syncs(&fx), vec![("x".to_string(), Some(vec![0x43, 2]))]);
    assert!(l.on_doc_synced(synced("x", None, true)).is_empty());
    assert_eq!(l.syncing().count(), 0);
    assert_eq!(l.state(), State::InSync);
}

#[test]
fn the_cursor_stays_below_another_document_still_missing() {
    // x (seq 4) syncs, z (seq 6) waits for a snapshot: completing x moves the cursor to 5 only.
    let mut l = in_sync(4, 0, 0);
    l.on_frame(Frame::Batch(batch(
        vec![doc_item("x", 4), doc_item("z", 6)],
        7,
        true,
    )));
    let awaiting = [("x".to_string(), 4), ("z".to_string(), 6)].into();
    l.set_awaiting(awaiting);
    l.on_applied(3, true, vec!["z".into()], vec!["x".into()]);
    let fx = l.on_doc_synced(synced("x", None, true));
    assert_eq!(fx, vec![Effect::Send(Frame::Ack { upto: 5 })]);
    assert_eq!(l.recv_cursor(), 5);
    assert_eq!(l.state(), State::CatchingUp);
}

#[test]
fn a_sync_message_drops_the_document_from_what_a_later_ack_records() {
    // 1. x went out in a batch; the peer could not apply it and opens an exchange.
    let mut l = link(4);
    l.on_connected(0, Some(PEER_INSTALL.into()), 7);
    l.on_frame(Frame::Hello(hello(0, 0)));
    let b1 = batch(vec![doc_item("x", 4), doc_item("y", 7)], 7, true);
    l.on_prepared(b1.clone(), docs_of(&b1));
    l.on_frame(Frame::Ack { upto: 3 });
    let fx = l.on_frame(sync_frame("x", vec![0x43]));
    assert_eq!(doc_syncs(&fx), vec![("x".to_string(), Some(vec![0x43]))]);
    // 2. The ack that retires the batch records y as held, not x (the exchange says what it holds).
    let fx = l.on_frame(Frame::Ack { upto: 7 });
    let docs: Vec<String> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::PersistAck { docs, .. } => Some(docs.iter().map(|(id, _)| id.clone())),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(docs, ["y"]);
}

#[test]
fn sync_messages_are_bounded_and_need_a_hello() {
    // Before the hello: a protocol error.
    let mut l = link(4);
    l.on_connected(0, Some(PEER_INSTALL.into()), 0);
    let fx = l.on_frame(sync_frame("x", vec![0x43]));
    assert_eq!(malformed_rule(&fx).as_deref(), Some("hello_first"));
    // Empty, oversized, or with an id out of bounds: malformed, naming the rule.
    let limits = safemesh_sync::RecvLimits {
        max_doc_sync_bytes: 8,
        max_doc_syncs: 1,
        ..Default::default()
    };
    let fresh = |limits| {
        let mut l = link(4).with_limits(limits);
        l.on_connected(0, Some(PEER_INSTALL.into()), 0);
        l.on_frame(Frame::Hello(hello(0, 0)));
        l
    };
    for (id, len, rule) in [
        ("x", 0, "max_doc_sync_bytes"),
        ("x", 9, "max_doc_sync_bytes"),
        ("", 1, "id_length"),
    ] {
        let fx = fresh(limits).on_frame(sync_frame(id, vec![0x43; len]));
        assert_eq!(malformed_rule(&fx).as_deref(), Some(rule), "{id:?} {len}");
    }
    // More documents in exchanges at once than both sides may open together (2 × 1 here).
    let mut l = fresh(limits);
    let msg = |id: &str| sync_frame(id, vec![0x43]);
    assert_eq!(doc_syncs(&l.on_frame(msg("x"))).len(), 1);
    assert_eq!(doc_syncs(&l.on_frame(msg("y"))).len(), 1);
    let fx = l.on_frame(msg("z"));
    assert_eq!(malformed_rule(&fx).as_deref(), Some("max_doc_syncs"));
}

#[test]
fn the_side_that_does_not_wait_allows_twice_the_rounds() {
    // The peer waits for x and keeps its exchange going: this side, not waiting, answers twice as
    // many of its messages as the waiting side would, so the waiting side gives up first (and asks
    // a snapshot) instead of waiting for an answer that never comes.
    let mut l = in_sync(4, 0, 0);
    let msg = || sync_frame("x", vec![0x43]);
    for round in 0..2 * safemesh_sync::docsync::MAX_ROUNDS {
        assert_eq!(doc_syncs(&l.on_frame(msg())).len(), 1, "round {round}");
        l.on_doc_synced(synced("x", Some(vec![0x43]), false));
    }
    assert!(l.on_frame(msg()).is_empty(), "given up silently");
    assert_eq!(l.syncing().count(), 0);
    // A new opening starts counting again.
    let fx = l.on_frame(Frame::DocSync {
        messages: vec![safemesh_sync::SyncMessage::new("x", vec![0x43], true)],
    });
    assert_eq!(doc_syncs(&fx).len(), 1);
}

#[test]
fn an_exchange_that_does_not_end_falls_back_to_a_snapshot() {
    // 1. This side waits for x and opened an exchange for it.
    let mut l = in_sync(4, 0, 0);
    l.on_frame(Frame::Batch(batch(vec![doc_item("x", 4)], 4, true)));
    l.set_awaiting([("x".to_string(), 4)].into());
    l.on_applied(3, true, vec![], vec!["x".into()]);
    // 2. The peer keeps answering: after MAX_ROUNDS of its messages, x is asked for whole.
    let msg = || sync_frame("x", vec![0x43]);
    for _ in 0..safemesh_sync::docsync::MAX_ROUNDS {
        assert_eq!(doc_syncs(&l.on_frame(msg())).len(), 1);
        l.on_doc_synced(synced("x", Some(vec![0x43]), false));
    }
    let fx = l.on_frame(msg());
    assert_eq!(
        fx,
        vec![Effect::Send(Frame::NeedSnapshot {
            doc_ids: vec!["x".into()]
        })]
    );
    assert_eq!(l.syncing().count(), 0);
    assert!(l.awaiting().contains_key("x"), "still waited for");
}

#[test]
fn a_quarantined_document_gets_no_sync_answer() {
    // The peer refused x from us before (forbidden): x is set aside on this link.
    let mut l = in_sync(4, 0, 0);
    send(&mut l, vec![doc_item("x", 1)], 1);
    l.on_frame(Frame::Error(ErrorFrame {
        code: ErrorCode::Forbidden,
        doc_id: Some("x".into()),
        path: Some("core.title".into()),
        rule: Some("issuer_only".into()),
        message: "no".into(),
    }));
    l.on_connected(0, Some(PEER_INSTALL.into()), 0);
    l.on_frame(Frame::Hello(hello(0, 0)));
    let fx = l.on_frame(sync_frame("x", vec![0x43]));
    assert!(fx.is_empty(), "{fx:?}");
}

#[test]
fn exchanges_go_together_in_frames_bounded_in_bytes() {
    // 1. Two held documents of one batch open their exchanges in one step.
    let mut l = in_sync(4, 0, 0);
    l.on_frame(Frame::Batch(batch(
        vec![doc_item("x", 4), doc_item("y", 5)],
        5,
        true,
    )));
    l.set_awaiting([("x".to_string(), 4), ("y".to_string(), 5)].into());
    let fx = l.on_applied(3, true, vec![], vec!["x".into(), "y".into()]);
    assert_eq!(
        fx[1],
        Effect::DocSync {
            steps: vec![open("x"), open("y")]
        }
    );
    // 2. Their openings, 600 KiB each, go in two frames (1 MiB each at most); one ack is enough.
    let big = vec![0x43; 600 << 10];
    let mut results = synced("x", Some(big.clone()), false);
    results.extend(synced("y", Some(big.clone()), false));
    let fx = l.on_doc_synced(results);
    let frames: Vec<usize> = sends(&fx)
        .iter()
        .map(|f| match f {
            Frame::DocSync { messages } => messages.len(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(frames, [1, 1]);
    // 3. Both complete at once: one ack for the whole batch.
    let mut results = synced("x", None, true);
    results.extend(synced("y", None, true));
    assert_eq!(
        l.on_doc_synced(results),
        vec![Effect::Send(Frame::Ack { upto: 5 })]
    );
}

#[test]
fn a_frame_naming_a_document_twice_is_malformed() {
    let mut l = in_sync(4, 0, 0);
    let m = safemesh_sync::SyncMessage::new("x", vec![0x43], false);
    let fx = l.on_frame(Frame::DocSync {
        messages: vec![m.clone(), m],
    });
    assert_eq!(malformed_rule(&fx).as_deref(), Some("doc_sync_once"));
}

#[test]
fn a_closing_reply_ends_the_exchange_on_this_side() {
    // This side's reply only tells the peer the heads both hold: sent, and the exchange is over here
    // (an up-to-date peer does not answer it), so it does not count against `max_doc_syncs`.
    let mut l = in_sync(4, 0, 0);
    l.on_frame(sync_frame("x", vec![0x43]));
    assert_eq!(l.syncing().count(), 1);
    let fx = l.on_doc_synced(vec![safemesh_sync::Synced {
        doc_id: "x".into(),
        reply: Some(vec![0x43, 9]),
        complete: true,
        last: true,
    }]);
    assert_eq!(sends(&fx), [&sync_frame("x", vec![0x43, 9])]);
    assert_eq!(l.syncing().count(), 0);
}

#[test]
fn a_received_batch_is_kept_by_the_link_and_its_cursors_stop_before_what_is_missing() {
    // 1. A batch up to 9 carries x (seq 4, a delta this side holds but cannot apply), y (seq 6,
    //    a delta of a document it holds nothing of) and z (seq 8, applied).
    let mut l = in_sync(4, 0, 0);
    l.on_frame(Frame::Batch(batch(
        vec![doc_item("x", 4), doc_item("y", 6), doc_item("z", 8)],
        9,
        true,
    )));
    let mut r = safemesh_sync::Received::default();
    r.missing("x".into(), 4, vec!["aa".into()], true);
    r.missing("y".into(), 6, vec!["bb".into()], false);
    r.held("z".into());
    // 2. The ack stops before x; the stored cursor too, and never goes below what was stored.
    assert_eq!(l.batch_cursors(&r, 9, 0), (3, 3));
    assert_eq!(l.batch_cursors(&r, 9, 5), (5, 3));
    assert!(
        l.awaiting().is_empty(),
        "nothing changes before the batch is committed"
    );
    // 3. Committed: x is synced, y asked whole, both awaited; x's heads are wanted.
    let fx = l.on_received(r, 3, true);
    assert_eq!(
        fx,
        vec![
            Effect::Send(Frame::Ack { upto: 3 }),
            Effect::Send(Frame::NeedSnapshot {
                doc_ids: vec!["y".into()]
            }),
            Effect::DocSync {
                steps: vec![open("x")]
            }
        ]
    );
    assert_eq!(l.awaiting().keys().collect::<Vec<_>>(), ["x", "y"]);
    assert_eq!(l.wanted("x"), Some(&["aa".to_string()][..]));
    assert_eq!(l.wanted("y"), None);
    // 4. x complete: no longer awaited nor wanted; the cursor stops before y.
    l.on_doc_synced(synced("x", None, true));
    assert_eq!(l.wanted("x"), None);
    assert_eq!(l.recv_cursor(), 5);
}

fn forbidden(id: &str) -> Frame {
    Frame::Error(ErrorFrame {
        code: ErrorCode::Forbidden,
        doc_id: Some(id.into()),
        path: Some("core.title".into()),
        rule: Some("owner_only".into()),
        message: "refused".into(),
    })
}

/// Issue 19 #8: a peer's refusal names only what this side sent. A FORBIDDEN naming a document
/// never sent on the stream (a hostile peer planting refusal state) quarantines nothing; one naming
/// a summary this side sent (`summary:<owner>`, not among a batch's documents) does.
#[test]
fn a_refusal_of_a_document_never_sent_quarantines_nothing() {
    let mut l = in_sync(4, 0, 3);
    send(
        &mut l,
        vec![
            doc_item("h-sent", 4),
            Item::Summary {
                owner: ME.into(),
                version: 1,
                period: "2026-12".into(),
                as_of: "2026-12-07T00:00:00Z".into(),
                body: "{}".into(),
                seq: 5,
            },
        ],
        5,
    );
    l.on_frame(forbidden("h-never-sent"));
    assert!(l.quarantined().is_empty(), "{:?}", l.quarantined());
    // A refusal read after the stream closed still counts what the stream sent…
    l.on_frame(forbidden(&format!("summary:{ME}")));
    assert_eq!(
        l.quarantined().into_iter().collect::<Vec<_>>(),
        vec![format!("summary:{ME}")]
    );
    // …but on the next stream, nothing of the last one may be named.
    l.on_disconnected(None);
    l.on_connected(0, Some(PEER_INSTALL.into()), 5);
    l.on_frame(Frame::Hello(hello(5, 0)));
    l.on_frame(forbidden("h-sent"));
    assert!(!l.quarantined().contains("h-sent"), "{:?}", l.quarantined());
}

/// Issue 19 #8: however many documents a peer refuses, the quarantine holds at most
/// `MAX_QUARANTINED` (the oldest refusal makes room), and a quarantined document is sent again
/// `QUARANTINE_RETRY_SECS` after it was refused.
#[test]
fn a_flood_of_refusals_cannot_grow_the_quarantine_past_its_bound_and_it_expires() {
    use safemesh_sync::{MAX_QUARANTINED, QUARANTINE_RETRY_SECS};
    let mut l = in_sync(4, 0, 0);
    l.set_now(1000);
    let n = MAX_QUARANTINED as i64 + 50;
    let items: Vec<Item> = (1..=n).map(|i| doc_item(&format!("h-{i}"), i)).collect();
    send(&mut l, items, n);
    for i in 1..=n {
        l.set_now(1000 + i as u64);
        l.on_frame(forbidden(&format!("h-{i}")));
    }
    let q = l.quarantined();
    assert_eq!(q.len(), MAX_QUARANTINED);
    assert!(q.contains(&format!("h-{n}")), "the newest is kept");
    assert!(!q.contains("h-1"), "the oldest made room");
    // An hour later every one is due again: nothing is left out of the next prepare.
    l.set_now(1000 + n as u64 + QUARANTINE_RETRY_SECS);
    assert!(l.quarantined().is_empty(), "{:?}", l.quarantined());
    l.on_disconnected(None);
    l.on_connected(0, Some(PEER_INSTALL.into()), n);
    let fx = l.on_frame(Frame::Hello(hello(0, 0)));
    let excluded = fx.iter().find_map(|e| match e {
        Effect::Prepare { exclude, .. } => Some(exclude.clone()),
        _ => None,
    });
    assert_eq!(excluded, Some(Default::default()));
}

/// The rule an error frame among `fx` names, if the effects refuse the frame and close.
fn refused_rule(fx: &[Effect]) -> Option<String> {
    let rule = sends(fx).into_iter().find_map(|f| match f {
        Frame::Error(e) if e.code == ErrorCode::Malformed => e.rule.clone(),
        _ => None,
    });
    let closed = matches!(fx.last(), Some(Effect::Close { .. }));
    rule.filter(|_| closed)
}

/// Issue 19 #1: a batch's `upto` is bounded by the sender's own seq as it declared it — in its hello,
/// then in each batch — never beyond (`upto_within_seq`), and that declaration never goes back
/// (`seq_declared_monotone`). Nothing of such a batch is applied.
#[test]
fn a_batch_upto_beyond_the_senders_declared_seq_is_refused() {
    // A link whose peer declared seq 5 in its hello; what it does with a batch declaring `seq`.
    let after_hello = || {
        let mut l = link(4);
        l.on_connected(0, Some(PEER_INSTALL.into()), 0);
        l.on_frame(Frame::Hello(hello(0, 5)));
        l
    };
    let declaring = |l: &mut Link, mut b: Batch, seq: i64| {
        b.seq = seq;
        l.on_frame(Frame::Batch(b))
    };
    // 1. A batch declaring 5 may go up to 5.
    let mut l = after_hello();
    let fx = declaring(&mut l, batch(vec![doc_item("a", 4)], 5, false), 5);
    assert!(matches!(fx.as_slice(), [Effect::Apply(_)]), "{fx:?}");
    l.on_applied(5, false, vec![], vec![]);
    // 2. An upto past the seq the batch itself declares; 3. an item past it; 4. a declaration
    // going back below the hello's. None is applied.
    let fx = declaring(&mut l, batch(vec![], 1_000_000, true), 6);
    let item_past = batch(vec![doc_item("a", 9)], 5, true);
    let fx2 = declaring(&mut after_hello(), item_past, 5);
    let fx3 = declaring(&mut after_hello(), batch(vec![], 3, true), 4);
    for (fx, rule) in [
        (fx, "upto_within_seq"),
        (fx2, "upto_within_seq"),
        (fx3, "seq_declared_monotone"),
    ] {
        assert_eq!(refused_rule(&fx).as_deref(), Some(rule), "{fx:?}");
        assert!(!fx.iter().any(|e| matches!(e, Effect::Apply(_))));
    }
}

/// Issue 19 #1: what this side durably received of the peer cannot be beyond the seq the peer
/// declares in its hello (a cursor planted under its certificate, or its store gone back under the
/// same install): everything known of the peer is void — reset, cursor 0, and a digest repair
/// before this side sends.
#[test]
fn a_receive_cursor_beyond_the_peers_declared_seq_is_reset_and_repaired() {
    let mut l = link(4);
    l.on_connected(1_000_000, Some(PEER_INSTALL.into()), 3);
    let fx = l.on_frame(Frame::Hello(hello(3, 40)));
    assert_eq!(
        fx.first(),
        Some(&Effect::ResetPeer {
            install_id: PEER_INSTALL.into()
        }),
        "{fx:?}"
    );
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::MakeDigest { peer_seq: 40 })),
        "{fx:?}"
    );
    assert_eq!(l.recv_cursor(), 0);
    assert!(l.last_error().is_some_and(|e| e.contains("1000000")));
    // A cursor within the declared seq is the peer's ordinary reconnect: kept.
    let mut l = link(4);
    l.on_connected(40, Some(PEER_INSTALL.into()), 3);
    let fx = l.on_frame(Frame::Hello(hello(3, 40)));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::ResetPeer { .. })),
        "{fx:?}"
    );
    assert_eq!(l.recv_cursor(), 40);
}
