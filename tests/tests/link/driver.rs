//! `run_link` against a real store, with the other side of the stream played by the test frame by
//! frame (a scripted peer), for the orderings a live mesh cannot be made to produce on demand.

use automerge::transaction::CommitOptions;
use safemesh_doc::hazard::{self, Enterprise, HazardCore};
use safemesh_doc::{AutoCommit, actor, heads_to_hex};
use safemesh_link::Registry;
use safemesh_model::AdminCode;
use safemesh_model::hazard::{Channel, EventKind, Grade, HazardEvent};
use safemesh_store::Store;
use safemesh_sync::frame::Batch;
use safemesh_sync::{ErrorCode, Frame, Hello, Item, PROTOCOL_VERSION, Role, SyncMessage};
use safemesh_testkit::mesh::{self, Mesh, code};

const COUNTY: &str = "530181";
const TOWNSHIP: &str = "530181006";
const TOWNSHIP_INSTALL: &str = "township-install-1";

/// The county's store and its link driver to the township, with the township played by the test: a
/// mesh of one node and a scripted stream.
struct Scripted {
    m: Mesh,
    s: mesh::Scripted,
}

impl Scripted {
    async fn open() -> Scripted {
        let m = Mesh::new(&[COUNTY]).await;
        let mut s = Scripted::start(m);
        s.expect_hello().await;
        s
    }

    /// A new stream of the county's runner in `m`.
    fn start(mut m: Mesh) -> Scripted {
        let s = m.script(COUNTY, TOWNSHIP, Role::Child);
        Scripted { m, s }
    }

    fn store(&self) -> &Store {
        self.m.store(COUNTY)
    }

    fn registry(&self) -> &Registry {
        &self.m.node(COUNTY).registry
    }

    async fn send(&self, f: Frame) {
        self.s.send(f).await;
    }

    /// The next frame the county sends (the mesh runs until it comes).
    async fn recv(&mut self) -> Frame {
        self.s.recv().await
    }

    async fn expect_hello(&mut self) -> Hello {
        match self.recv().await {
            Frame::Hello(h) => h,
            other => panic!("expected hello, got {other:?}"),
        }
    }

    /// The township hangs up; waits for the county's driver to end and returns its reason.
    async fn hang_up(&mut self) -> String {
        self.s.hang_up();
        self.wait_end().await
    }

    async fn wait_end(&mut self) -> String {
        self.m.end_scripted(&mut self.s).await
    }
}

/// A batch frame from the township (it reports nothing remaining).
fn batch(items: Vec<Item>, upto: i64, caught_up: bool) -> Frame {
    Frame::Batch(Batch {
        items,
        upto,
        // Above anything these tests send (the declared-seq rules have tests of their own).
        seq: i64::MAX,
        caught_up,
        remaining: Default::default(),
        traces: Vec::new(),
    })
}

fn township_hello(recv_cursor: i64, seq: i64) -> Hello {
    Hello {
        protocol: PROTOCOL_VERSION,
        code: TOWNSHIP.into(),
        install_id: TOWNSHIP_INSTALL.into(),
        recv_cursor,
        peer_install_seen: String::new(),
        seq,
        crl_number: 0,
    }
}

/// A hazard as the township writes it: registration, then a plan event (two changes).
fn township_hazard(title: &str) -> AutoCommit {
    let me: AdminCode = code(TOWNSHIP);
    let mut doc = AutoCommit::new().with_actor(actor::actor_id(&me, b"t1"));
    let core = HazardCore {
        title: title.into(),
        sector: "工贸".into(),
        sector_detail: None,
        grade: Grade::General,
        channel: Channel::EnterpriseSelfReport,
        number: String::new(),
        inspection_mode: None,
        found_by_level: me.clone(),
        found_on: "2025-01-01".into(),
        stock: safemesh_model::hazard::facts::Stock::New,
        location: Default::default(),
        basis: Default::default(),
        subject: Default::default(),
        responsible_unit: String::new(),
        enterprise: Enterprise {
            name: "某厂".into(),
            credit_code: String::new(),
            credit_code_override: None,
        },
        deadline: "2030-01-01".into(),
        description: String::new(),
    };
    hazard::create(&mut doc, &me, "t", "2025-06-01T00:00:00Z", &core).unwrap();
    doc.commit_with(CommitOptions::default().with_message("t@530181006".to_string()));
    let ev = HazardEvent {
        kind: EventKind::Plan,
        at: "2025-06-02T00:00:00Z".into(),
        by: me.clone(),
        user: "t".into(),
        note: None,
        method: None,
        level: None,
        number: None,
        requirements: None,
        due: None,
        percent: None,
        plan: None,
        recipients: Vec::new(),
        reply_by: None,
        new_deadline: None,
        approved: None,
        to: None,
        recipient_names: Default::default(),
        attachments: Vec::new(),
    };
    hazard::append_event(&mut doc, &ev).unwrap();
    doc.commit_with(CommitOptions::default().with_message("t@530181006".to_string()));
    doc
}

fn snapshot_item(id: &str, seq: i64, doc: &mut AutoCommit) -> Item {
    Item::Doc {
        id: id.into(),
        seq,
        snapshot: Some(doc.save()),
        changes: Vec::new(),
        heads: heads_to_hex(&doc.get_heads()),
    }
}

/// Only the last change of `doc`: a delta whose dependency the receiver does not have.
fn last_change_only(id: &str, seq: i64, doc: &mut AutoCommit) -> Item {
    let changes = doc.get_changes(&[]);
    let last = changes.last().unwrap().raw_bytes().to_vec();
    Item::Doc {
        id: id.into(),
        seq,
        snapshot: None,
        changes: vec![last],
        heads: heads_to_hex(&doc.get_heads()),
    }
}

#[tokio::test]
async fn driver_refuses_a_hello_from_the_wrong_peer() {
    // 1. The county expects 530181006; someone else says hello.
    let mut s = Scripted::open().await;
    let mut h = township_hello(0, 0);
    h.code = "530181007".into();
    s.send(Frame::Hello(h)).await;
    // 2. A typed BadHello comes back, the stream ends, and the link shows as rejected.
    match s.recv().await {
        Frame::Error(e) => assert_eq!(e.code, ErrorCode::BadHello),
        other => panic!("{other:?}"),
    }
    s.wait_end().await;
    assert_eq!(s.registry().get(TOWNSHIP).unwrap().state, "rejected");
}

#[tokio::test]
async fn driver_applies_a_batch_and_acks_it() {
    // 1. Hello, then one batch with a hazard snapshot.
    let mut s = Scripted::open().await;
    s.send(Frame::Hello(township_hello(0, 2))).await;
    let mut doc = township_hazard("pumps");
    s.send(batch(vec![snapshot_item("h-1", 2, &mut doc)], 2, true))
        .await;
    // 2. It is acked up to 2, durably, and the store holds the document with the same heads.
    assert_eq!(s.recv().await, Frame::Ack { upto: 2 });
    let row = s.store().doc_row("h-1").await.unwrap().unwrap();
    assert_eq!(row.heads, heads_to_hex(&doc.get_heads()));
    assert_eq!(
        s.store().link(&code(TOWNSHIP)).await.unwrap().recv_cursor,
        2
    );
    s.hang_up().await;
}

#[tokio::test]
async fn summary_from_outside_the_childs_subtree_is_refused() {
    // 1. The township sends a summary that claims to be a neighbouring county's.
    let mut s = Scripted::open().await;
    s.send(Frame::Hello(township_hello(0, 1))).await;
    let item = Item::Summary {
        owner: "530182".into(),
        version: 1,
        period: "2025-06".into(),
        as_of: "x".into(),
        body: "{}".into(),
        seq: 1,
    };
    s.send(batch(vec![item], 1, true)).await;
    // 2. Forbidden, nothing stored.
    match s.recv().await {
        Frame::Error(e) => assert_eq!(e.code, ErrorCode::Forbidden, "{e:?}"),
        other => panic!("{other:?}"),
    }
    s.wait_end().await;
    assert!(s.store().summary("530182").await.unwrap().is_none());
    assert_eq!(
        s.store().link(&code(TOWNSHIP)).await.unwrap().recv_cursor,
        0
    );
}

/// The driver records the peer's install id only on `ResetPeer`: on a first connection its local
/// `peer_install` is `row.peer_install.unwrap_or_default()` = "", and `apply` stores that "" with the
/// cursor. The next hello then carries `peer_install_seen = ""` (so the peer resends everything from 0)
/// and our link sees `Some("") != install` and resets the peer (so we resend everything as snapshots).
#[tokio::test]
async fn first_connection_records_the_peer_install() {
    // 1. First contact: the township says hello and sends one batch.
    let mut s = Scripted::open().await;
    s.send(Frame::Hello(township_hello(0, 2))).await;
    let mut doc = township_hazard("pumps");
    s.send(batch(vec![snapshot_item("h-1", 2, &mut doc)], 2, true))
        .await;
    assert_eq!(s.recv().await, Frame::Ack { upto: 2 });
    s.hang_up().await;

    // 2. The county's store now knows which install of the township it has received up to 2.
    let row = s.store().link(&code(TOWNSHIP)).await.unwrap();
    assert_eq!(row.recv_cursor, 2);
    assert_eq!(
        row.peer_install.as_deref(),
        Some(TOWNSHIP_INSTALL),
        "{row:?}"
    );

    // 3. So its next hello tells the township so (and a noop reconnect stays a noop).
    //    (A new stream from a fresh link state machine over the same store.)
    let mut m = s.m;
    m.forget_link(COUNTY, TOWNSHIP);
    let mut s2 = Scripted::start(m);
    let h = s2.expect_hello().await;
    assert_eq!(
        (h.recv_cursor, h.peer_install_seen.as_str()),
        (2, TOWNSHIP_INSTALL)
    );
    s2.hang_up().await;
}

/// `on_applied` promises the ack "stops before the first document that needs a snapshot, so a lost
/// request cannot skip it" — but the next batch of the same stream is acked to its own `upto`
/// (`apply` computes `acked` per batch), so the durable cursor passes the document anyway. If the
/// stream drops before the snapshot arrives, the next hello's cursor tells the peer we have it.
#[tokio::test]
async fn snapshot_request_lost_with_the_stream_is_not_skipped_by_a_later_ack() {
    // 1. The township sends two batches back to back: h-1 as a delta the county cannot apply (its
    //    first change is missing), then h-2 whole.
    let mut s = Scripted::open().await;
    s.send(Frame::Hello(township_hello(0, 3))).await;
    let mut h1 = township_hazard("one");
    let mut h2 = township_hazard("two");
    s.send(batch(vec![last_change_only("h-1", 2, &mut h1)], 2, false))
        .await;
    s.send(batch(vec![snapshot_item("h-2", 3, &mut h2)], 3, true))
        .await;

    // 2. The county acks short of h-1 and asks for it whole.
    assert_eq!(s.recv().await, Frame::Ack { upto: 1 });
    assert_eq!(
        s.recv().await,
        Frame::NeedSnapshot {
            doc_ids: vec!["h-1".into()]
        }
    );
    let _second_ack = s.recv().await;
    assert!(s.store().doc_row("h-1").await.unwrap().is_none());
    assert!(s.store().doc_row("h-2").await.unwrap().is_some());

    // 3. The stream drops before the snapshot arrives.
    s.hang_up().await;

    // 4. The county still lacks h-1, so its durable cursor must not have passed h-1's seq (2).
    let row = s.store().link(&code(TOWNSHIP)).await.unwrap();
    assert!(
        row.recv_cursor < 2,
        "cursor {} skips h-1, which the county never received",
        row.recv_cursor
    );
}

impl Scripted {
    /// Asserts the county sends nothing but its own batches until the mesh is quiet.
    async fn expect_silence(&mut self) {
        for f in self.s.until_quiet().await {
            match f {
                Frame::Batch(_) => {}
                other => panic!("expected silence, got {other:?}"),
            }
        }
    }

    /// The next frame the county sends that is not one of its own batches (the county also sends
    /// the township what it stored, which these tests do not look at).
    async fn recv_not_batch(&mut self) -> Frame {
        loop {
            match self.recv().await {
                Frame::Batch(_) => continue,
                f => return f,
            }
        }
    }
}

/// The township's side of an Automerge sync exchange, played by the test.
fn answer(doc: &mut AutoCommit, state: &mut automerge::sync::State, msg: &[u8]) -> Option<Vec<u8>> {
    use automerge::sync::SyncDoc;
    let msg = automerge::sync::Message::decode(msg).expect("the county's sync message decodes");
    doc.sync().receive_sync_message(state, msg).unwrap();
    doc.sync()
        .generate_sync_message(state)
        .map(automerge::sync::Message::encode)
}

/// Two more events on the township's hazard, written by `by` (the township unless a test forges).
fn two_more_events(doc: &mut AutoCommit, by: &AdminCode) {
    doc.set_actor(actor::actor_id(by, b"t9"));
    for i in 0..2 {
        mesh::docs::progress(doc, by, &format!("进展 {i}"));
    }
}

/// The county holds h-1 at its first two changes; the township (its two new events written by `by`)
/// sends only the last of them. The county acks short of h-1 and, since it holds h-1, opens a sync
/// exchange instead of asking a snapshot. Returns the county, the township's document, the heads the
/// county held, and the county's opening message.
async fn open_exchange(by: &AdminCode) -> (Scripted, AutoCommit, Vec<String>, Vec<u8>) {
    let mut s = Scripted::open().await;
    s.send(Frame::Hello(township_hello(0, 2))).await;
    let mut doc = township_hazard("one");
    s.send(batch(vec![snapshot_item("h-1", 1, &mut doc)], 1, false))
        .await;
    assert_eq!(s.recv_not_batch().await, Frame::Ack { upto: 1 });
    let before = s.store().doc_row("h-1").await.unwrap().unwrap().heads;
    two_more_events(&mut doc, by);
    s.send(batch(vec![last_change_only("h-1", 2, &mut doc)], 2, true))
        .await;
    assert_eq!(s.recv_not_batch().await, Frame::Ack { upto: 1 });
    let opening = only_sync_message(expect_opening(s.recv_not_batch().await));
    (s, doc, before, opening)
}

/// The frame, after checking it opens an exchange.
fn expect_opening(f: Frame) -> Frame {
    match &f {
        Frame::DocSync { messages } if messages.iter().all(|m| m.opening) => f,
        other => panic!("expected an opening sync message, got {other:?}"),
    }
}

/// The one message for h-1 of a `DocSync` frame.
fn only_sync_message(f: Frame) -> Vec<u8> {
    match f {
        Frame::DocSync { mut messages } if messages.len() == 1 && messages[0].doc_id == "h-1" => {
            messages.remove(0).message
        }
        other => panic!("expected one sync message for h-1, got {other:?}"),
    }
}

/// The township answers the county's `opening` (its state kept in `state`).
async fn township_answers(
    s: &Scripted,
    doc: &mut AutoCommit,
    state: &mut automerge::sync::State,
    opening: &[u8],
) {
    let reply = answer(doc, state, opening).expect("the township has changes to send");
    s.send(Frame::DocSync {
        messages: vec![SyncMessage::new("h-1", reply, false)],
    })
    .await;
}

#[tokio::test]
async fn a_delta_the_county_cannot_apply_is_reconciled_by_a_sync_exchange() {
    // 1. The county holds h-1 and opened an exchange for the township's delta it cannot apply.
    let (mut s, mut doc, before, opening) = open_exchange(&code(TOWNSHIP)).await;
    // 2. The township answers with what the county lacks; the county stores both events, acks the
    //    batch in full and says it now holds the township's heads.
    let mut state = automerge::sync::State::new();
    township_answers(&s, &mut doc, &mut state, &opening).await;
    assert_eq!(s.recv_not_batch().await, Frame::Ack { upto: 2 });
    let closing = only_sync_message(s.recv_not_batch().await);
    assert!(
        answer(&mut doc, &mut state, &closing).is_none(),
        "nothing more to say"
    );
    let row = s.store().doc_row("h-1").await.unwrap().unwrap();
    assert_eq!(row.heads, heads_to_hex(&doc.get_heads()));
    assert_ne!(row.heads, before);
    // 3. The county keeps its cursor past h-1 and the sync state for the next time.
    s.hang_up().await;
    assert_eq!(
        s.store().link(&code(TOWNSHIP)).await.unwrap().recv_cursor,
        2
    );
    assert!(
        s.store()
            .sync_state(&code(TOWNSHIP), "h-1")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_forbidden_change_in_a_sync_answer_is_refused_and_nothing_is_stored() {
    // 1. As above, but the two events are written by another township's actor.
    let (mut s, mut doc, before, opening) = open_exchange(&code("530181007")).await;
    let mut state = automerge::sync::State::new();
    township_answers(&s, &mut doc, &mut state, &opening).await;
    // 2. A typed Forbidden error naming the document; the stream ends; h-1 is as it was.
    match s.recv_not_batch().await {
        Frame::Error(e) => {
            assert_eq!(e.code, ErrorCode::Forbidden, "{e:?}");
            assert_eq!(e.doc_id.as_deref(), Some("h-1"));
        }
        other => panic!("{other:?}"),
    }
    s.wait_end().await;
    assert_eq!(
        s.store().doc_row("h-1").await.unwrap().unwrap().heads,
        before
    );
    assert_eq!(
        s.store().link(&code(TOWNSHIP)).await.unwrap().recv_cursor,
        1
    );
    let status = s.registry().get(TOWNSHIP).unwrap();
    assert_eq!(status.rejected_batches, 1);
}

#[tokio::test]
async fn garbage_in_a_sync_message_is_malformed_naming_the_document() {
    let (mut s, _doc, before, _opening) = open_exchange(&code(TOWNSHIP)).await;
    s.send(Frame::DocSync {
        messages: vec![SyncMessage::new("h-1", vec![0x43, 0xff, 0xff, 0xff], false)],
    })
    .await;
    match s.recv_not_batch().await {
        Frame::Error(e) => {
            assert_eq!(e.code, ErrorCode::Malformed, "{e:?}");
            assert_eq!(e.doc_id.as_deref(), Some("h-1"));
            assert_eq!(e.rule.as_deref(), Some("automerge_decodes"));
        }
        other => panic!("{other:?}"),
    }
    s.wait_end().await;
    assert_eq!(
        s.store().doc_row("h-1").await.unwrap().unwrap().heads,
        before
    );
}

#[tokio::test]
async fn a_later_delta_during_an_exchange_reopens_it_and_completion_waits_for_it() {
    // 1. The county opened an exchange for h-1 (it lacks the township's two new events).
    let (mut s, mut doc, _, opening) = open_exchange(&code(TOWNSHIP)).await;
    // 2. Before answering, the township writes a third event and sends it alone: it cannot apply
    //    either. The county reopens the exchange (a new opening) instead of asking a snapshot.
    let mut early = doc.clone();
    two_more_events(&mut doc, &code(TOWNSHIP));
    s.send(batch(vec![last_change_only("h-1", 3, &mut doc)], 3, true))
        .await;
    assert_eq!(s.recv_not_batch().await, Frame::Ack { upto: 2 });
    let reopening = only_sync_message(expect_opening(s.recv_not_batch().await));
    // 3. The township's answer to the first opening brings the first two events only: stored, but
    //    the county is not complete — it still lacks what the second delta carried — so no ack.
    let mut first = automerge::sync::State::new();
    township_answers(&s, &mut early, &mut first, &opening).await;
    match s.recv_not_batch().await {
        Frame::DocSync { .. } => {}
        other => panic!("expected the county's next sync message, got {other:?}"),
    }
    let row = s.store().doc_row("h-1").await.unwrap().unwrap();
    assert_eq!(row.heads, heads_to_hex(&early.get_heads()));
    assert!(s.store().link(&code(TOWNSHIP)).await.unwrap().recv_cursor < 3);
    // 4. The answer to the reopening brings the rest: now complete, the county acks up to 3.
    let mut second = automerge::sync::State::new();
    township_answers(&s, &mut doc, &mut second, &reopening).await;
    loop {
        match s.recv_not_batch().await {
            Frame::Ack { upto } => {
                assert_eq!(upto, 3);
                break;
            }
            Frame::DocSync { .. } => continue,
            other => panic!("{other:?}"),
        }
    }
    let row = s.store().doc_row("h-1").await.unwrap().unwrap();
    assert_eq!(row.heads, heads_to_hex(&doc.get_heads()));
    s.hang_up().await;
    assert_eq!(
        s.store().link(&code(TOWNSHIP)).await.unwrap().recv_cursor,
        3
    );
}

#[tokio::test]
async fn a_closing_message_for_an_ended_exchange_is_not_answered() {
    // 1. The county holds h-1 exactly as the township does.
    let mut s = Scripted::open().await;
    s.send(Frame::Hello(township_hello(0, 1))).await;
    let mut doc = township_hazard("one");
    s.send(batch(vec![snapshot_item("h-1", 1, &mut doc)], 1, true))
        .await;
    assert_eq!(s.recv_not_batch().await, Frame::Ack { upto: 1 });
    // 2. A sync message for h-1 that is not an opening, with nothing the county lacks or needs
    //    (what a peer sends to close an exchange): the county has no exchange open and nothing to
    //    say, so it does not answer (two sides answering each other's closing would never stop).
    use automerge::sync::SyncDoc;
    let message = doc
        .sync()
        .generate_sync_message(&mut automerge::sync::State::new())
        .unwrap()
        .encode();
    s.send(Frame::DocSync {
        messages: vec![SyncMessage::new("h-1", message.clone(), false)],
    })
    .await;
    s.expect_silence().await;
    // 3. The same message as an opening is answered.
    s.send(Frame::DocSync {
        messages: vec![SyncMessage::new("h-1", message, true)],
    })
    .await;
    only_sync_message(s.recv_not_batch().await);
    s.hang_up().await;
}

#[tokio::test]
async fn a_sync_message_over_a_bound_is_malformed_without_blaming_the_document() {
    // 1. An exchange is open for h-1; the township answers with a message naming 65 heads.
    let (mut s, _doc, before, _opening) = open_exchange(&code(TOWNSHIP)).await;
    let message = automerge::sync::Message {
        heads: (0..65u8).map(|i| automerge::ChangeHash([i; 32])).collect(),
        need: Vec::new(),
        have: Vec::new(),
        changes: Vec::<Vec<u8>>::new().into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
    .encode();
    s.send(Frame::DocSync {
        messages: vec![SyncMessage::new("h-1", message, false)],
    })
    .await;
    // 2. `MALFORMED` with the bound's rule (not a content rule: h-1 is not set aside), and h-1 is
    //    as it was.
    match s.recv_not_batch().await {
        Frame::Error(e) => {
            assert_eq!(e.code, ErrorCode::Malformed, "{e:?}");
            assert_eq!(e.rule.as_deref(), Some("max_heads"));
        }
        other => panic!("{other:?}"),
    }
    s.wait_end().await;
    assert_eq!(
        s.store().doc_row("h-1").await.unwrap().unwrap().heads,
        before
    );
    assert!(s.registry().get(TOWNSHIP).unwrap().refused.is_empty());
}
