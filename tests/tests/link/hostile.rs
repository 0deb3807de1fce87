//! Hostile peers against the real `run_link` and a real store: oversized and overfull batches, garbage
//! and truncated Automerge bytes, a forbidden change hidden among valid ones, sequence numbers that go
//! backwards, frames out of order, undecodable frames, floods. Each must get a typed error frame and a
//! clean close, leave the store exactly as it was, and never panic; a refused document must not stop the
//! rest of the link.

use std::collections::BTreeSet;
use std::time::Duration;

use automerge::transaction::CommitOptions;
use safemesh_doc::authority::check_local;
use safemesh_doc::directive::{self, DirectiveCore};
use safemesh_doc::hazard::{self, Enterprise, HazardCore};
use safemesh_doc::{AutoCommit, actor, heads_to_hex};
use safemesh_link::{LinkConfig, RateLimit, Registry};
use safemesh_model::AdminCode;
use safemesh_model::hazard::{Channel, EventKind, Grade, HazardEvent};
use safemesh_store::{Store, count_documents};
use safemesh_sync::frame::Batch;
use safemesh_sync::{
    ErrorCode, ErrorFrame, Frame, Hello, Item, PROTOCOL_VERSION, RULE_FRAME_DECODES, RecvLimits,
    Role,
};
use safemesh_testkit::mesh::{Mesh, Scripted, code};

const COUNTY: &str = "530181";
const TOWNSHIP: &str = "530181006";
const TOWNSHIP_INSTALL: &str = "township-install-1";

/// The county's store and its link driver to the township; the township is played by the test. The
/// link state machine outlives a stream, as in the gateway (the mesh parks it between streams).
struct County {
    m: Mesh,
    stream: Option<Scripted>,
}

/// What must not move when a batch is refused.
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    seq: i64,
    docs: i64,
    recv_cursor: i64,
}

impl County {
    async fn new(tune: impl Fn(&mut LinkConfig) + Send + Sync + 'static) -> County {
        let mut m = Mesh::new(&[COUNTY]).await;
        m.configure(COUNTY, tune);
        County { m, stream: None }
    }

    fn store(&self) -> &Store {
        self.m.store(COUNTY)
    }

    fn registry(&self) -> &Registry {
        &self.m.node(COUNTY).registry
    }

    /// Opens a stream and reads the county's hello.
    async fn connect(&mut self) -> Hello {
        self.connect_as(None).await
    }

    /// Opens a stream authenticated by a certificate of `serial` and reads the county's hello.
    async fn connect_as(&mut self, serial: Option<&str>) -> Hello {
        assert!(self.stream.is_none(), "already connected");
        self.stream = Some(self.m.script_as(COUNTY, TOWNSHIP, Role::Child, serial));
        match self.recv().await {
            Frame::Hello(h) => h,
            other => panic!("expected hello, got {other:?}"),
        }
    }

    fn stream(&mut self) -> &mut Scripted {
        self.stream.as_mut().expect("not connected")
    }

    async fn send(&mut self, f: Frame) {
        self.stream().send(f).await;
    }

    async fn hello(&mut self, recv_cursor: i64, seq: i64, seen: &str) {
        self.send(Frame::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            code: TOWNSHIP.into(),
            install_id: TOWNSHIP_INSTALL.into(),
            recv_cursor,
            peer_install_seen: seen.into(),
            seq,
            crl_number: 0,
        }))
        .await;
    }

    async fn batch(&mut self, items: Vec<Item>, upto: i64) {
        self.send_batch(Batch {
            items,
            upto,
            // Above anything these tests send (the declared-seq rules have tests of their own).
            seq: i64::MAX,
            caught_up: true,
            remaining: Default::default(),
            traces: Vec::new(),
        })
        .await;
    }

    async fn send_batch(&mut self, b: Batch) {
        self.send(Frame::Batch(b)).await;
    }

    /// The next frame the county sends (the mesh runs until it comes).
    async fn recv(&mut self) -> Frame {
        self.stream().recv().await
    }

    /// The county's next frame, past its own pushes (batches), must be an error frame; returns it.
    async fn expect_error(&mut self) -> ErrorFrame {
        loop {
            match self.recv().await {
                Frame::Error(e) => return e,
                Frame::Batch(_) => continue,
                other => panic!("expected an error frame, got {other:?}"),
            }
        }
    }

    /// Waits for the county's driver to end by itself (no panic), checks it sent nothing more, and
    /// keeps its link for the next stream. Returns the reason.
    async fn expect_closed(&mut self) -> String {
        let mut s = self.stream.take().expect("not connected");
        let reason = self.m.end_scripted(&mut s).await;
        let extra = s.try_recv();
        assert!(extra.is_err(), "sent after the error frame: {extra:?}");
        reason
    }

    /// The township hangs up; the county's driver ends.
    async fn hang_up(&mut self) -> String {
        self.stream().hang_up();
        self.expect_closed_after_hang_up().await
    }

    async fn expect_closed_after_hang_up(&mut self) -> String {
        let mut s = self.stream.take().expect("not connected");
        self.m.end_scripted(&mut s).await
    }

    async fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            seq: self.store().current_seq(),
            docs: count_documents(self.store()).await.unwrap(),
            recv_cursor: self
                .store()
                .link(&code(TOWNSHIP))
                .await
                .unwrap()
                .recv_cursor,
        }
    }

    async fn holds(&self, id: &str) -> bool {
        self.store().doc_row(id).await.unwrap().is_some()
    }

    fn rejected(&self) -> (u64, String) {
        let s = self.registry().get(TOWNSHIP).expect("status");
        (s.rejected_batches, s.last_rejection.unwrap_or_default())
    }

    /// Issues a directive from the county to the township (stored locally, in the township's scope).
    async fn issue_directive(&self, id: &str, title: &str) {
        let me = code(COUNTY);
        let mut doc = AutoCommit::new().with_actor(actor::actor_id(&me, b"c1"));
        let core = DirectiveCore {
            title: title.into(),
            body: "按期完成".into(),
            targets: vec![code(TOWNSHIP)],
            deadline: "2030-06-30".into(),
        };
        directive::create(&mut doc, &me, "2025-06-01T00:00:00Z", &core).unwrap();
        doc.commit_with(CommitOptions::default().with_message("c@530181".to_string()));
        check_local(id, &mut doc, &[]).unwrap();
        let mut w = self.store().writer().await.unwrap();
        w.put_doc(id, &mut doc, &[]).await.unwrap();
        w.commit().await.unwrap();
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
    add_event(&mut doc, EventKind::Plan);
    doc
}

fn add_event(doc: &mut AutoCommit, kind: EventKind) {
    add_event_by(doc, kind, TOWNSHIP);
}

/// An event of `kind` by office `by` (the document's actor must be `by`'s).
fn add_event_by(doc: &mut AutoCommit, kind: EventKind, by: &str) {
    let me: AdminCode = code(by);
    let ev = HazardEvent {
        kind,
        at: "2025-06-02T00:00:00Z".into(),
        by: me.clone(),
        user: "t".into(),
        note: None,
        method: None,
        level: (kind == EventKind::Supervise).then(|| me.clone()),
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
    hazard::append_event(doc, &ev).unwrap();
    doc.commit_with(CommitOptions::default().with_message(format!("t@{by}")));
}

/// `n` CJK characters that do not repeat in any pattern a compressor would find.
fn noise(seed: i64, n: usize) -> String {
    let mut x = (seed as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_u32(0x4e00 + (x % 0x5000) as u32).unwrap_or('字')
        })
        .collect()
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

fn changes_item(id: &str, seq: i64, changes: Vec<Vec<u8>>) -> Item {
    Item::Doc {
        id: id.into(),
        seq,
        snapshot: None,
        changes,
        heads: Vec::new(),
    }
}

/// A township hazard as its full history of raw changes.
fn all_changes(doc: &mut AutoCommit) -> Vec<Vec<u8>> {
    doc.get_changes(&[])
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect()
}

/// Three valid snapshots at seqs 1..=3.
fn valid_items() -> Vec<Item> {
    (1..=3)
        .map(|i| {
            snapshot_item(
                &format!("h-{i}"),
                i,
                &mut township_hazard(&format!("ok {i}")),
            )
        })
        .collect()
}

/// Runs one refused batch through a fresh county: hello, the batch, a typed error frame, a clean
/// close, the store unchanged, the refusal counted. Returns the error frame.
async fn refused(
    tune: impl Fn(&mut LinkConfig) + Send + Sync + 'static,
    items: Vec<Item>,
    upto: i64,
) -> ErrorFrame {
    let mut c = County::new(tune).await;
    c.connect().await;
    c.hello(0, upto.max(0), "").await;
    let before = c.fingerprint().await;
    c.batch(items, upto).await;
    let e = c.expect_error().await;
    c.expect_closed().await;
    assert_eq!(c.fingerprint().await, before, "the store moved: {e:?}");
    let (n, last) = c.rejected();
    assert_eq!(n, 1, "rejections counted");
    assert!(
        last.contains(e.rule.as_deref().unwrap_or("?")),
        "status names the rule: {last}"
    );
    e
}

fn assert_malformed(e: &ErrorFrame, doc: Option<&str>, rule: &str) {
    assert_eq!(e.code, ErrorCode::Malformed, "{e:?}");
    assert_eq!(e.doc_id.as_deref(), doc, "{e:?}");
    assert_eq!(e.rule.as_deref(), Some(rule), "{e:?}");
}

#[tokio::test]
async fn oversized_batch_is_refused_whole() {
    // 1. The county takes at most 8 KiB of payload per batch; the township sends three hazards with
    //    titles of about 6 KiB each (varied text, so Automerge cannot compress it away).
    let items: Vec<Item> = (1..=3)
        .map(|i| {
            let mut d = township_hazard(&noise(i, 2000));
            snapshot_item(&format!("h-{i}"), i, &mut d)
        })
        .collect();
    let e = refused(|c| c.recv.max_batch_bytes = 8 << 10, items, 3).await;
    // 2. Refused as a whole, naming the item where the bound was crossed.
    assert_malformed(&e, Some("h-2"), "max_batch_bytes");
}

#[tokio::test]
async fn too_many_items_are_refused() {
    let e = refused(|c| c.recv.max_items = 2, valid_items(), 3).await;
    assert_malformed(&e, None, "max_batch_items");
}

#[tokio::test]
async fn too_many_changes_for_one_document_are_refused() {
    let mut d = township_hazard("many");
    for _ in 0..4 {
        add_event(&mut d, EventKind::Progress);
    }
    let items = vec![changes_item("h-1", 1, all_changes(&mut d))];
    let e = refused(|c| c.recv.max_doc_changes = 3, items, 1).await;
    assert_malformed(&e, Some("h-1"), "max_doc_changes");
}

#[tokio::test]
async fn garbage_change_bytes_are_refused_naming_the_document() {
    // A valid hazard first, then one whose "changes" are not Automerge at all.
    let mut items = valid_items();
    items.truncate(1);
    items.push(changes_item(
        "h-bad",
        2,
        vec![b"definitely not a change".to_vec()],
    ));
    let e = refused(|_| {}, items, 2).await;
    assert_malformed(&e, Some("h-bad"), "automerge_decodes");
    assert!(e.message.contains("bad change"), "{e:?}");
}

#[tokio::test]
async fn garbage_snapshot_is_refused_naming_the_document() {
    let mut items = valid_items();
    items.truncate(1);
    items.push(Item::Doc {
        id: "h-bad".into(),
        seq: 2,
        snapshot: Some((0..=255u8).cycle().take(5000).collect()),
        changes: Vec::new(),
        heads: Vec::new(),
    });
    let e = refused(|_| {}, items, 2).await;
    assert_malformed(&e, Some("h-bad"), "automerge_decodes");
    assert!(e.message.contains("bad snapshot"), "{e:?}");
}

#[tokio::test]
async fn truncated_snapshot_is_refused_naming_the_document() {
    let mut d = township_hazard("cut short");
    let mut bytes = d.save();
    bytes.truncate(bytes.len() / 2);
    let mut items = valid_items();
    items.truncate(1);
    items.push(Item::Doc {
        id: "h-cut".into(),
        seq: 2,
        snapshot: Some(bytes),
        changes: Vec::new(),
        heads: heads_to_hex(&d.get_heads()),
    });
    let e = refused(|_| {}, items, 2).await;
    assert_malformed(&e, Some("h-cut"), "automerge_decodes");
}

#[tokio::test]
async fn truncated_change_is_refused_naming_the_document() {
    let mut d = township_hazard("cut change");
    let mut changes = all_changes(&mut d);
    let last = changes.last_mut().unwrap();
    last.truncate(last.len() - 7);
    let e = refused(|_| {}, vec![changes_item("h-cut", 1, changes)], 1).await;
    assert_malformed(&e, Some("h-cut"), "automerge_decodes");
}

#[tokio::test]
async fn snapshot_without_its_history_is_refused_not_requested_again() {
    // A "snapshot" that is only the last change: asking for a snapshot again would loop forever.
    let mut d = township_hazard("no history");
    let last = d.get_changes(&[]).last().unwrap().raw_bytes().to_vec();
    let items = vec![Item::Doc {
        id: "h-1".into(),
        seq: 1,
        snapshot: Some(last),
        changes: Vec::new(),
        heads: heads_to_hex(&d.get_heads()),
    }];
    let e = refused(|_| {}, items, 1).await;
    assert_malformed(&e, Some("h-1"), "automerge_decodes");
}

#[tokio::test]
async fn non_monotone_seqs_are_refused() {
    // Items out of seq order.
    let mut items = valid_items();
    items.swap(0, 2);
    let e = refused(|_| {}, items, 3).await;
    assert_malformed(&e, Some("h-2"), "seq_monotone");
    // A negative seq.
    let mut items = valid_items();
    if let Item::Doc { seq, .. } = &mut items[0] {
        *seq = -1;
    }
    let e = refused(|_| {}, items, 3).await;
    assert_malformed(&e, Some("h-1"), "seq_non_negative");
    // A negative upto.
    let e = refused(|_| {}, Vec::new(), -5).await;
    assert_malformed(&e, None, "seq_non_negative");
    // A summary with a seq far below its neighbour (and i64::MIN, which once underflowed).
    let items = vec![
        snapshot_item("h-1", 2, &mut township_hazard("a")),
        Item::Summary {
            owner: TOWNSHIP.into(),
            version: 1,
            period: "2025-06".into(),
            as_of: "x".into(),
            body: "{}".into(),
            seq: i64::MIN,
        },
    ];
    let e = refused(|_| {}, items, 3).await;
    assert_malformed(&e, Some(TOWNSHIP), "seq_non_negative");
}

#[tokio::test]
async fn batch_upto_going_back_is_refused() {
    // 1. One good batch up to 5 is applied and acked.
    let mut c = County::new(|_| {}).await;
    c.connect().await;
    c.hello(0, 5, "").await;
    c.batch(valid_items(), 5).await;
    assert_eq!(c.recv().await, Frame::Ack { upto: 5 });
    let before = c.fingerprint().await;
    // 2. The next says upto 4: refused, nothing stored.
    c.batch(
        vec![snapshot_item("h-9", 4, &mut township_hazard("back"))],
        4,
    )
    .await;
    let e = c.expect_error().await;
    assert_malformed(&e, None, "upto_monotone");
    c.expect_closed().await;
    assert_eq!(c.fingerprint().await, before);
    assert!(!c.holds("h-9").await);
}

#[tokio::test]
async fn batch_before_hello_is_refused() {
    let mut c = County::new(|_| {}).await;
    c.connect().await;
    let before = c.fingerprint().await;
    c.batch(valid_items(), 3).await;
    let e = c.expect_error().await;
    assert_malformed(&e, None, "hello_first");
    c.expect_closed().await;
    assert_eq!(c.fingerprint().await, before);
    assert_eq!(c.rejected().0, 1);
}

#[tokio::test]
async fn empty_and_overlong_ids_are_refused() {
    let mut d = township_hazard("x");
    let e = refused(|_| {}, vec![snapshot_item("", 1, &mut d)], 1).await;
    assert_malformed(&e, None, "id_length");
    let e = refused(|_| {}, vec![snapshot_item(&"h".repeat(300), 1, &mut d)], 1).await;
    assert_malformed(&e, None, "id_length");
}

#[tokio::test]
async fn oversized_snapshot_request_is_refused() {
    let mut c = County::new(|cfg| cfg.recv.max_need_snapshot = 4).await;
    c.connect().await;
    c.hello(0, 0, "").await;
    let ids = (0..5).map(|i| format!("d-{i}")).collect();
    c.send(Frame::NeedSnapshot { doc_ids: ids }).await;
    let e = c.expect_error().await;
    assert_malformed(&e, None, "max_need_snapshot");
    c.expect_closed().await;
}

#[tokio::test]
async fn undecodable_frame_from_the_transport_is_answered_with_malformed() {
    // The gateway's reader hands the driver this when the peer's bytes are not a frame.
    let mut c = County::new(|_| {}).await;
    c.connect().await;
    c.hello(0, 0, "").await;
    c.send(Frame::Error(ErrorFrame {
        code: ErrorCode::Malformed,
        doc_id: None,
        path: None,
        rule: Some(RULE_FRAME_DECODES.into()),
        message: "failed to decode Protobuf message".into(),
    }))
    .await;
    let e = c.expect_error().await;
    assert_malformed(&e, None, RULE_FRAME_DECODES);
    c.expect_closed().await;
    assert_eq!(c.rejected().0, 1);
}

#[tokio::test]
async fn forbidden_change_among_valid_ones_rejects_the_batch_and_only_that_document() {
    // 1. The township sends three hazards; the second carries a `supervise` event the township wrote
    //    about its own hazard (only a superior may list a hazard for supervision).
    let mut c = County::new(|_| {}).await;
    c.connect().await;
    c.hello(0, 3, "").await;
    let before = c.fingerprint().await;
    let mut bad = township_hazard("自己挂牌");
    add_event(&mut bad, EventKind::Supervise);
    let mut h1 = township_hazard("one");
    let mut h3 = township_hazard("three");
    let batch = vec![
        snapshot_item("h-1", 1, &mut h1),
        snapshot_item("h-2", 2, &mut bad),
        snapshot_item("h-3", 3, &mut h3),
    ];
    c.batch(batch.clone(), 3).await;

    // 2. A typed Forbidden naming the document, the path and the rule; the stream closes.
    let e = c.expect_error().await;
    assert_eq!(e.code, ErrorCode::Forbidden, "{e:?}");
    assert_eq!(e.doc_id.as_deref(), Some("h-2"));
    assert_eq!(e.path.as_deref(), Some("events[].kind"));
    assert_eq!(e.rule.as_deref(), Some("superior_only"));
    c.expect_closed().await;

    // 3. Nothing of the batch was stored; the refusal is counted and shown.
    assert_eq!(c.fingerprint().await, before);
    for id in ["h-1", "h-2", "h-3"] {
        assert!(!c.holds(id).await, "{id} stored");
    }
    let (n, last) = c.rejected();
    assert_eq!(n, 1);
    assert!(
        last.contains("h-2") && last.contains("superior_only"),
        "{last}"
    );
    assert_eq!(
        c.registry().get(TOWNSHIP).unwrap().refused,
        vec!["h-2".to_string()]
    );

    // 4. The township reconnects and, not honouring the refusal, sends the same batch again: refused
    //    at once with the same document, path and rule, and never acknowledged (so the sender cannot
    //    take h-2 as delivered). Still nothing stored.
    c.connect().await;
    c.hello(0, 3, "").await;
    c.batch(batch.clone(), 3).await;
    let again = c.expect_error().await;
    assert_eq!(
        (
            again.code,
            again.doc_id.as_deref(),
            again.path.as_deref(),
            again.rule.as_deref()
        ),
        (
            ErrorCode::Forbidden,
            Some("h-2"),
            Some("events[].kind"),
            Some("superior_only")
        ),
        "{again:?}"
    );
    assert!(again.message.contains("refused before"), "{again:?}");
    c.expect_closed().await;
    assert_eq!(c.fingerprint().await, before);
    assert_eq!(c.rejected().0, 2);

    // 5. An honest sender leaves the quarantined document out: the rest of the link is served.
    c.connect().await;
    c.hello(0, 3, "").await;
    let rest: Vec<Item> = batch
        .into_iter()
        .filter(|i| !matches!(i, Item::Doc { id, .. } if id == "h-2"))
        .collect();
    c.batch(rest, 3).await;
    assert_eq!(c.recv().await, Frame::Ack { upto: 3 });
    assert!(c.holds("h-1").await && c.holds("h-3").await);
    assert!(!c.holds("h-2").await);
    c.hang_up().await;
}

#[tokio::test]
async fn document_refused_by_the_peer_is_left_out_of_the_next_stream() {
    // 1. The county holds two directives for the township.
    let mut c = County::new(|_| {}).await;
    c.issue_directive("d-1", "第一项").await;
    c.issue_directive("d-2", "第二项").await;
    let county_install = c.store().install_id().to_string();

    // 2. First stream: the county sends both; the township refuses d-1.
    c.connect().await;
    c.hello(0, 0, "").await;
    let ids = |f: Frame| match f {
        Frame::Batch(b) => b
            .items
            .iter()
            .map(|i| match i {
                Item::Doc { id, .. } => id.clone(),
                Item::Summary { owner, .. } => owner.clone(),
            })
            .collect::<BTreeSet<_>>(),
        other => panic!("expected a batch, got {other:?}"),
    };
    let first = ids(c.recv().await);
    assert_eq!(
        first,
        BTreeSet::from(["d-1".to_string(), "d-2".to_string()])
    );
    c.send(Frame::Error(ErrorFrame {
        code: ErrorCode::Forbidden,
        doc_id: Some("d-1".into()),
        path: Some("core.title".into()),
        rule: Some("issuer_only".into()),
        message: "refused".into(),
    }))
    .await;
    c.expect_closed().await;
    assert_eq!(
        c.registry().get(TOWNSHIP).unwrap().quarantined,
        vec!["d-1".to_string()]
    );

    // 3. Next stream, from scratch: only d-2 comes.
    c.connect().await;
    c.hello(0, 0, &county_install).await;
    let second = ids(c.recv().await);
    assert_eq!(second, BTreeSet::from(["d-2".to_string()]));
    c.hang_up().await;
}

#[tokio::test]
async fn rate_limit_slows_reading_and_drops_nothing() {
    // 1. The county reads at most 20 frames a second, with no burst to speak of.
    let mut c = County::new(|cfg| {
        cfg.rate = RateLimit {
            frames_per_sec: 20.0,
            frame_burst: 1.0,
            ..RateLimit::unlimited()
        }
    })
    .await;
    c.connect().await;
    c.hello(0, 6, "").await;
    // 2. Six batches at once (empty: only their upto moves). Time is the mesh's (virtual) clock.
    let start = c.m.now();
    for upto in 1..=6 {
        c.batch(Vec::new(), upto).await;
    }
    // 3. Every one is applied and acked, in order; the seven frames took at least 6/20 s to read.
    for upto in 1..=6 {
        assert_eq!(c.recv().await, Frame::Ack { upto });
    }
    let took = c.m.now() - start;
    assert!(
        took >= Duration::from_millis(250),
        "read too fast: {took:?}"
    );
    assert_eq!(
        c.store().link(&code(TOWNSHIP)).await.unwrap().recv_cursor,
        6
    );
    assert_eq!(c.rejected().0, 0);
    c.hang_up().await;
}

#[tokio::test]
async fn limits_default_above_what_an_honest_sender_produces() {
    let l = RecvLimits::default();
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&store_dir.path().join("x.db"))
        .await
        .unwrap();
    let cfg = LinkConfig::new(store, code(COUNTY), Registry::default());
    assert!(l.max_items >= cfg.max_batch_items);
    assert!(l.max_batch_bytes >= cfg.max_batch_bytes);
    assert_eq!(cfg.recv, l);
}

/// A township hazard's two changes with one byte of the second flipped so that it still decodes but
/// makes Automerge 0.12 panic when applied (the fuzzer found such changes: an op naming an actor
/// index the change does not have). `None` if no single flip does it.
fn change_that_panics_automerge() -> Option<Vec<Vec<u8>>> {
    use safemesh_doc::authority::{Origin, check_and_apply};
    let mut d = township_hazard("flip");
    let good = all_changes(&mut d);
    let origin = Origin::Child(code(TOWNSHIP));
    for pos in 0..good[1].len() {
        for x in [0x77u8, 0x01, 0x80, 0xff, 0x10] {
            let mut bad = good[1].clone();
            bad[pos] ^= x;
            let Ok(c2) = safemesh_doc::Change::from_bytes(bad.clone()) else {
                continue;
            };
            let Ok(c1) = safemesh_doc::Change::from_bytes(good[0].clone()) else {
                continue;
            };
            if let Err(safemesh_doc::Error::Corrupt(m)) =
                check_and_apply("h-x", None, vec![c1, c2], &origin)
                && m.contains("panicked")
            {
                return Some(vec![good[0].clone(), bad]);
            }
        }
    }
    None
}

#[tokio::test]
async fn change_that_makes_automerge_panic_is_refused_naming_the_document() {
    // 1. Find a change Automerge panics on (one flipped byte).
    let changes = change_that_panics_automerge().expect("no single flip makes Automerge panic");
    // 2. Sent among valid items, it rejects the batch as Malformed naming its document; the county's
    //    driver does not panic and nothing is stored.
    let mut items = valid_items();
    items.truncate(1);
    items.push(changes_item("h-panic", 2, changes));
    let e = refused(|_| {}, items, 2).await;
    assert_malformed(&e, Some("h-panic"), "automerge_decodes");
    assert!(e.message.contains("panicked"), "{e:?}");
}

/// A summary item of the township (the county's child) with these claims.
fn summary(version: i64, period: &str, body: &str) -> Item {
    Item::Summary {
        owner: TOWNSHIP.into(),
        version,
        period: period.into(),
        as_of: "2026-12-07T00:00:00Z".into(),
        body: body.into(),
        seq: 1,
    }
}

/// Issue 19 #5: a summary is the sender's word about a whole subtree. A forged `i64::MAX` version
/// would once have frozen the township's roll-up at every ancestor forever; it is stored under the
/// county's clock plus a day at most. Counts that do not add up, a period that is no month, a
/// township claiming subordinate offices, a version that is no time: each refuses the batch, and
/// nothing is stored.
#[tokio::test]
async fn a_summarys_version_cannot_run_away_and_its_counts_must_add_up() {
    let mut c = County::new(|_| {}).await;
    c.connect().await;
    c.hello(0, 1, "").await;
    c.batch(
        vec![summary(
            i64::MAX,
            "2026-12",
            r#"{"hazards":{"total":2,"open":1,"closed":1}}"#,
        )],
        1,
    )
    .await;
    loop {
        match c.recv().await {
            Frame::Ack { upto } if upto >= 1 => break,
            Frame::Error(e) => panic!("refused: {e:?}"),
            _ => continue,
        }
    }
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    let stored = c.store().summary(TOWNSHIP).await.unwrap().expect("stored");
    assert!(
        stored.version <= now_us + safemesh_sync::summary::MAX_VERSION_AHEAD_US,
        "version {} runs away",
        stored.version
    );
    assert!(
        stored.version > now_us,
        "a version ahead is kept as far as the bound"
    );
    c.hang_up().await;

    for (item, why) in [
        (
            summary(1, "2026-12", r#"{"hazards":{"total":1,"open":5}}"#),
            "unclosed 5 > total 1",
        ),
        (
            summary(
                1,
                "2026-12",
                r#"{"hazards":{"total":1,"by_sector":{"a":1,"b":1}}}"#,
            ),
            "by_sector adds up to",
        ),
        (
            summary(1, "2026-12", r#"{"reporting_descendants":7}"#),
            "reporting_descendants 7 of a township",
        ),
        (summary(1, "2026-13", "{}"), "period"),
        (summary(0, "2026-12", "{}"), "version 0"),
        (summary(1, "2026-12", "not json"), "body"),
    ] {
        let e = refused(|_| {}, vec![item], 1).await;
        assert_eq!(e.code, ErrorCode::Forbidden, "{why}: {e:?}");
        assert_eq!(e.rule.as_deref(), Some("summary_bounds"), "{why}: {e:?}");
        assert_eq!(e.doc_id.as_deref(), Some("summary:530181006"), "{e:?}");
        assert!(e.message.contains(why), "{why}: {}", e.message);
    }
}

/// Issue 19 #8: a peer's refusal names only what this side sent on the stream. The township (a thief
/// with its certificate) refuses a directive the county holds for it but has not sent on this stream,
/// and one the county never held: nothing is quarantined, and the next stream still carries the
/// directive.
#[tokio::test]
async fn a_refusal_of_a_document_never_sent_on_the_stream_quarantines_nothing() {
    let mut c = County::new(|_| {}).await;
    let county_install = c.store().install_id().to_string();
    // 1. The county holds d-1 for the township; before anything is sent, the township refuses it,
    // and an id the county never held.
    c.issue_directive("d-1", "第一项").await;
    c.connect().await;
    for id in ["d-1", "h-never-held"] {
        c.send(Frame::Error(ErrorFrame {
            code: ErrorCode::Forbidden,
            doc_id: Some(id.into()),
            path: Some("core.title".into()),
            rule: Some("issuer_only".into()),
            message: "refused".into(),
        }))
        .await;
    }
    c.expect_closed().await;
    assert!(
        c.registry().get(TOWNSHIP).unwrap().quarantined.is_empty(),
        "{:?}",
        c.registry().get(TOWNSHIP).unwrap().quarantined
    );
    // 2. The next stream carries d-1.
    c.connect().await;
    c.hello(0, 0, &county_install).await;
    let Frame::Batch(b) = c.recv().await else {
        panic!("expected a batch")
    };
    let ids: Vec<_> = b
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Doc { id, .. } => Some(id.clone()),
            Item::Summary { .. } => None,
        })
        .collect();
    assert_eq!(ids, vec!["d-1".to_string()]);
    c.hang_up().await;
}

/// Issue 19 #1: an ack may acknowledge only what this side sent on the stream. A township (or a thief
/// with its certificate) acknowledging a batch never sent gets `Malformed` (`ack_within_sent`), and
/// nothing is recorded: the county's acked cursor of the township does not move.
#[tokio::test]
async fn an_ack_of_a_batch_never_sent_is_refused_and_nothing_is_recorded() {
    let mut c = County::new(|_| {}).await;
    c.issue_directive("d-1", "第一项").await;
    let county_install = c.store().install_id().to_string();
    let seq = c.store().current_seq();
    // 1. The township holds everything the county wrote: the county sends an empty caught-up batch
    // (or nothing), and the township acknowledges far beyond it.
    c.connect().await;
    c.hello(seq, 0, &county_install).await;
    c.send(Frame::Ack { upto: 1_000_000 }).await;
    let e = c.expect_error().await;
    assert_malformed(&e, None, "ack_within_sent");
    c.expect_closed().await;
    let row = c.store().link(&code(TOWNSHIP)).await.unwrap();
    assert_eq!(row.acked_cursor, 0, "nothing recorded: {row:?}");
}

/// Issue 19 #1: a hello cannot claim to have received more of the county's sequence than the county
/// has written: such a cursor would have the county skip its next changes to the township. Refused
/// with `Malformed` (`cursor_within_seq`); nothing is sent.
#[tokio::test]
async fn a_hello_claiming_more_than_our_seq_is_refused() {
    let mut c = County::new(|_| {}).await;
    c.issue_directive("d-1", "第一项").await;
    let county_install = c.store().install_id().to_string();
    let seq = c.store().current_seq();
    c.connect().await;
    c.hello(seq + 1_000, 0, &county_install).await;
    let Frame::Error(e) = c.recv().await else {
        panic!("expected an error frame")
    };
    assert_malformed(&e, None, "cursor_within_seq");
    c.expect_closed().await;
}

/// Issue 19 #1 (b): link state is bound to the certificate. A thief with the township's certificate
/// (serial `0a`) and its public install id moves the county's receive cursor of the township far
/// ahead — the county would skip the real township's next changes. The state survives under that
/// certificate; once it is revoked and the township gets a new one (`0b`), the township's first
/// stream starts from a void state (cursor 0, a digest repair pending) instead of the thief's.
#[tokio::test]
async fn link_state_a_stolen_certificate_planted_is_void_under_the_reissued_one() {
    let mut c = County::new(|_| {}).await;
    let county_install = c.store().install_id().to_string();
    // 1. The thief: the township's install id, a batch claiming the township's seq is at 1,000,000.
    let h = c.connect_as(Some("0a")).await;
    assert_eq!(h.recv_cursor, 0);
    c.hello(0, 1_000_000, &county_install).await;
    c.batch(Vec::new(), 1_000_000).await;
    loop {
        match c.recv().await {
            Frame::Ack { upto } => {
                assert_eq!(upto, 1_000_000);
                break;
            }
            Frame::Batch(_) => continue,
            other => panic!("expected an ack, got {other:?}"),
        }
    }
    c.hang_up().await;
    // 2. Under the same certificate, the planted cursor stands (it is that certificate's state).
    let h = c.connect_as(Some("0a")).await;
    assert_eq!(h.recv_cursor, 1_000_000);
    c.hang_up().await;
    // 3. Revoked, re-issued: under the new certificate the county starts from nothing.
    let h = c.connect_as(Some("0b")).await;
    assert_eq!(
        h.recv_cursor, 0,
        "the thief's cursor is void under the new certificate"
    );
    let row = c.store().link(&code(TOWNSHIP)).await.unwrap();
    assert_eq!(
        (row.recv_cursor, row.peer_serial.as_deref()),
        (0, Some("0b"))
    );
    assert!(c.store().repair_pending(&code(TOWNSHIP)).await.unwrap());
    c.hang_up().await;
}

/// Issue 19 #1: a batch's `upto` cannot pass the seq its sender declares (`upto_within_seq`), and a
/// receive cursor beyond what the real township declares at its next hello is void. A thief holding
/// the township's certificate (not yet revoked) and its public install id declares a seq of
/// 1,000,000 and moves the county's receive cursor there; when the real township (at seq 3)
/// connects, the county resets what it knew of it instead of skipping its next million changes —
/// the township's real documents are stored and acknowledged at their own `upto`.
#[tokio::test]
async fn a_receive_cursor_a_thief_moved_past_the_townships_seq_is_void_at_its_next_hello() {
    let mut c = County::new(|_| {}).await;
    let county_install = c.store().install_id().to_string();
    // 1. Within a stream, an upto past the batch's own declared seq is refused, nothing recorded.
    c.connect().await;
    c.hello(0, 5, &county_install).await;
    c.send_batch(Batch {
        items: Vec::new(),
        upto: 1_000_000,
        seq: 5,
        caught_up: true,
        remaining: Default::default(),
        traces: Vec::new(),
    })
    .await;
    let e = c.expect_error().await;
    assert_malformed(&e, None, "upto_within_seq");
    c.expect_closed().await;
    assert_eq!(
        c.store().link(&code(TOWNSHIP)).await.unwrap().recv_cursor,
        0
    );
    // 2. The thief declares a million and moves the cursor there (its word, on its own stream).
    c.connect().await;
    c.hello(0, 1_000_000, &county_install).await;
    c.batch(Vec::new(), 1_000_000).await;
    expect_ack(&mut c, 1_000_000).await;
    c.hang_up().await;
    // 3. The real township, at seq 3: the county's stored cursor is beyond it, so it is void.
    let h = c.connect().await;
    assert_eq!(
        h.recv_cursor, 1_000_000,
        "the planted cursor, until the hello"
    );
    c.hello(0, 3, &county_install).await;
    c.batch(valid_items(), 3).await;
    expect_ack(&mut c, 3).await;
    for id in ["h-1", "h-2", "h-3"] {
        assert!(c.holds(id).await, "{id} stored");
    }
    let row = c.store().link(&code(TOWNSHIP)).await.unwrap();
    assert_eq!(
        row.recv_cursor, 3,
        "the township's own cursor, not the thief's"
    );
    c.hang_up().await;
}

/// Reads the county's frames, past its own batches, until an ack, which must be of `upto`.
async fn expect_ack(c: &mut County, upto: i64) {
    loop {
        match c.recv().await {
            Frame::Ack { upto: got } => {
                assert_eq!(got, upto);
                return;
            }
            Frame::Batch(_) | Frame::DigestRequest(_) => continue,
            other => panic!("expected an ack, got {other:?}"),
        }
    }
}

/// Issue 19 #3: a batch is checked before the store's one writer is taken, so one expensive batch
/// does not stall the node's other writers. While the county checks the township's delta (held there
/// by the test's gate), the writer is free: a local write — a comment by the county on the very
/// hazard the delta changes — commits. Then, under the writer, the county sees the hazard moved since
/// the check and checks the batch again: both changes are stored and the stored heads name both.
#[tokio::test]
async fn a_batch_is_checked_without_the_writer_and_checked_again_if_its_document_moved() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let armed = Arc::new(AtomicBool::new(false));
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut c = County::new(|_| {}).await;
    // 1. The county holds the township's hazard (registration and plan).
    let mut township = township_hazard("需复核");
    let mut held = township.fork();
    let mut w = c.store().writer().await.unwrap();
    w.put_doc("h-1", &mut held, &[]).await.unwrap();
    w.commit().await.unwrap();
    // 2. The gate: the first check after arming makes the county's comment on h-1 as a local write.
    let (store, gate_armed, gate_log) = (c.store().clone(), armed.clone(), log.clone());
    c.m.configure(COUNTY, move |cfg| {
        let (store, armed, log) = (store.clone(), gate_armed.clone(), gate_log.clone());
        cfg.checking = Some(Arc::new(move || {
            let (store, armed, log) = (store.clone(), armed.clone(), log.clone());
            Box::pin(async move {
                if !armed.swap(false, Ordering::SeqCst) {
                    return;
                }
                let entry = match store.try_writer().await.unwrap() {
                    None => "the writer was held during the check".to_string(),
                    Some(mut w) => {
                        let mut doc = store.load("h-1").await.unwrap().unwrap();
                        let old = doc.get_heads();
                        county_comment(&mut doc);
                        check_local("h-1", &mut doc, &old).unwrap();
                        w.put_doc("h-1", &mut doc, &old).await.unwrap();
                        w.commit().await.unwrap();
                        heads_to_hex(&doc.get_heads())[0].clone()
                    }
                };
                log.lock().unwrap().push(entry);
            })
        }));
    });
    // 3. The township reports progress on h-1: a delta of one change.
    let before = township.get_heads();
    add_event(&mut township, EventKind::Progress);
    let delta: Vec<Vec<u8>> = township
        .get_changes(&before)
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let township_change = heads_to_hex(&township.get_heads())[0].clone();
    let county_install = c.store().install_id().to_string();
    c.connect().await;
    c.hello(0, 2, &county_install).await;
    armed.store(true, Ordering::SeqCst);
    c.batch(vec![changes_item("h-1", 2, delta)], 2).await;
    expect_ack(&mut c, 2).await;
    // 4. The local write went through during the check, and both changes are what is stored.
    let entries = log.lock().unwrap().clone();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let county_change = entries[0].clone();
    assert_ne!(county_change, "the writer was held during the check");
    let row = c.store().doc_row("h-1").await.unwrap().unwrap();
    let mut heads = row.heads.clone();
    heads.sort();
    let mut both = vec![county_change, township_change];
    both.sort();
    assert_eq!(heads, both, "the stored heads name both changes");
    let view = hazard::read(&c.store().load("h-1").await.unwrap().unwrap()).unwrap();
    let kinds: Vec<EventKind> = view.events.iter().map(|e| e.kind).collect();
    assert!(
        kinds.contains(&EventKind::Comment) && kinds.contains(&EventKind::Progress),
        "{kinds:?}"
    );
    c.hang_up().await;
}

/// The county (the township's parent, a superior of a general hazard) comments on it.
fn county_comment(doc: &mut AutoCommit) {
    doc.set_actor(actor::actor_id(&code(COUNTY), b"c1"));
    add_event_by(doc, EventKind::Comment, COUNTY);
}

/// Asserts a quota refusal: `Forbidden`, naming `key` and `rule`, the limit in the message.
fn assert_quota(e: &ErrorFrame, key: &str, rule: &str, limit: &str) {
    assert_eq!(e.code, ErrorCode::Forbidden, "{e:?}");
    assert_eq!(e.doc_id.as_deref(), Some(key), "{e:?}");
    assert_eq!(e.rule.as_deref(), Some(rule), "{e:?}");
    assert!(e.message.contains(limit), "the limit in {e:?}");
}

/// Issue 19 #4: per-child quotas. Over a quota a batch is refused whole (nothing stored, the
/// refusal counted by rule) with a `Forbidden` frame naming what crossed it, the quota and its
/// limit: documents new here, bytes stored, a summary's size, summary versions per window. Within
/// its quotas the same child's link goes on, and what was refused for a quota is checked again
/// (not remembered as a refused document).
#[tokio::test]
async fn a_childs_quotas_refuse_what_goes_over_them_and_nothing_else() {
    // 1. Each quota, crossed by one batch of a fresh county.
    let e = refused(|cfg| cfg.quotas.documents = 2, valid_items(), 3).await;
    assert_quota(&e, "h-3", "quota_documents", "limit 2");
    let e = refused(|cfg| cfg.quotas.bytes = 100, valid_items(), 3).await;
    assert_quota(&e, "h-1", "quota_bytes", "limit 100");
    let body = r#"{"hazards":{"total":1,"open":1}}"#;
    let e = refused(
        |cfg| cfg.quotas.summary_bytes = 8,
        vec![summary(1, "2026-12", body)],
        1,
    )
    .await;
    assert_quota(&e, "summary:530181006", "quota_summary_bytes", "limit 8");
    // 2. Within the quota, the child's documents are stored and counted; the one over it is
    // refused, and checked again when it comes again.
    let mut c = County::new(|cfg| {
        cfg.quotas.documents = 2;
        cfg.quotas.summary_versions = 1;
    })
    .await;
    c.connect().await;
    c.hello(0, 4, "").await;
    let items = valid_items();
    c.batch(items[..2].to_vec(), 2).await;
    expect_ack(&mut c, 2).await;
    let row = c.store().link(&code(TOWNSHIP)).await.unwrap();
    assert_eq!(row.held_docs, 2);
    assert!(row.held_bytes > 0);
    c.batch(items[2..].to_vec(), 3).await;
    let e = c.expect_error().await;
    assert_quota(&e, "h-3", "quota_documents", "limit 2");
    assert!(!e.message.contains("refused before"), "{e:?}");
    c.expect_closed().await;
    c.connect().await;
    c.hello(2, 4, "").await;
    c.batch(items[2..].to_vec(), 3).await;
    let e = c.expect_error().await;
    assert_quota(&e, "h-3", "quota_documents", "limit 2");
    assert!(
        !e.message.contains("refused before"),
        "checked again: {e:?}"
    );
    c.expect_closed().await;
    assert!(!c.holds("h-3").await);
    // 3. One summary version per window: the first is stored, the next refused.
    c.connect().await;
    c.hello(2, 5, "").await;
    c.batch(vec![summary(1, "2026-12", body)], 4).await;
    expect_ack(&mut c, 4).await;
    c.batch(vec![summary(2, "2026-12", body)], 5).await;
    let e = c.expect_error().await;
    assert_quota(&e, "summary:530181006", "quota_summary_versions", "limit 1");
    c.expect_closed().await;
    let (_, last) = c.rejected();
    assert!(last.contains("quota_summary_versions"), "{last}");
    let s = c.registry().get(TOWNSHIP).unwrap();
    assert_eq!(s.rejections.get("quota_documents"), Some(&2));
}

/// An Automerge chunk of type "compressed change" whose DEFLATE data inflates to `n` zero bytes:
/// a few kilobytes on the wire.
fn inflating_chunk(n: usize) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![0u8; n]).unwrap();
    let deflated = enc.finish().unwrap();
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    let mut len = deflated.len();
    loop {
        let b = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            chunk.push(b);
            break;
        }
        chunk.push(b | 0x80);
    }
    chunk.extend(deflated);
    chunk
}

/// Issue 19 #3: Automerge inflates compressed columns and change chunks with no limit, before any
/// check of ours. What a received item inflates to is bounded first (`sync::inflate`): an item
/// whose few kilobytes inflate past `max_inflated_bytes` is refused naming it
/// (`max_inflated_bytes`, the document's fault), and a batch whose items together pass
/// `max_batch_inflated_bytes` is refused too; nothing is stored. Honest items pass the same bounds.
#[tokio::test]
async fn snapshots_that_inflate_past_their_bounds_are_refused_before_automerge_loads_them() {
    let tune = |cfg: &mut LinkConfig| {
        cfg.recv.max_inflated_bytes = 1 << 20;
        cfg.recv.max_batch_inflated_bytes = 1 << 20;
    };
    let bomb = inflating_chunk(4 << 20);
    assert!(bomb.len() < 16 << 10, "{} bytes on the wire", bomb.len());
    let item = |id: &str, seq: i64, snapshot: Vec<u8>| Item::Doc {
        id: id.into(),
        seq,
        snapshot: Some(snapshot),
        changes: Vec::new(),
        heads: vec!["ab".repeat(32)],
    };
    let e = refused(tune, vec![item("h-bomb", 1, bomb)], 1).await;
    assert_malformed(&e, Some("h-bomb"), "max_inflated_bytes");
    // Within the item's bound, past the batch's (the batch's items draw on one budget).
    let wide = |cfg: &mut LinkConfig| {
        cfg.recv.max_inflated_bytes = 2 << 20;
        cfg.recv.max_batch_inflated_bytes = 1 << 20;
    };
    let items = vec![item("h-a", 1, inflating_chunk(3 << 19))];
    let e = refused(wide, items, 1).await;
    assert_malformed(&e, Some("h-a"), "max_batch_inflated_bytes");
    // Honest documents inflate far less: stored under the same bounds.
    let mut c = County::new(tune).await;
    c.connect().await;
    c.hello(0, 3, "").await;
    c.batch(valid_items(), 3).await;
    expect_ack(&mut c, 3).await;
    assert!(c.holds("h-3").await);
}
