//! The `Store` contract, run on every backend: SQLite always, PostgreSQL when reachable (mandatory when
//! `SAFEMESH_TEST_PG` is set; see `safemesh_store::testing`).

use automerge::transaction::CommitOptions;
use safemesh_doc::authority::{Origin, check_and_apply};
use safemesh_doc::hazard::{Enterprise, HazardCore};
use safemesh_doc::{AutoCommit, actor::actor_id, hazard};
use safemesh_model::AdminCode;
use safemesh_model::hazard::facts::{Basis, Location, Stock};
use safemesh_model::hazard::{Channel, EventKind, Grade, HazardEvent, Plan};
use safemesh_store::testing::TestDb;
use safemesh_store::{Error, HazardFilter, Store};

fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).unwrap()
}

fn new_hazard(owner: &str, grade: Grade, title: &str) -> AutoCommit {
    new_hazard_with(owner, grade, title, |_| {})
}

fn new_hazard_with(
    owner: &str,
    grade: Grade,
    title: &str,
    edit: impl FnOnce(&mut HazardCore),
) -> AutoCommit {
    let owner = code(owner);
    let mut doc = AutoCommit::new().with_actor(actor_id(&owner, b"test"));
    let mut core = HazardCore {
        number: String::new(),
        title: title.into(),
        sector: "消防".into(),
        sector_detail: None,
        grade,
        channel: Channel::Inspection,
        inspection_mode: Some("双随机一公开".into()),
        found_by_level: owner.clone(),
        found_on: "2026-11-20".into(),
        stock: Stock::New,
        subject: Default::default(),
        responsible_unit: String::new(),
        enterprise: Enterprise {
            name: "某商场".into(),
            credit_code: String::new(),
            credit_code_override: None,
        },
        location: Location {
            division: owner.to_string(),
            address: String::new(),
        },
        basis: Basis::default(),
        deadline: "2026-12-31".into(),
        description: String::new(),
    };
    edit(&mut core);
    hazard::create(&mut doc, &owner, "tester", "2026-11-22T00:00:00Z", &core).unwrap();
    doc.commit_with(CommitOptions::default().with_message("tester"));
    doc
}

fn event(kind: EventKind, by: &str) -> HazardEvent {
    HazardEvent {
        user: "tester".into(),
        ..HazardEvent::new(kind, code(by), "2026-11-22T01:00:00Z")
    }
}

async fn put(
    store: &Store,
    id: &str,
    doc: &mut AutoCommit,
    old: &[safemesh_doc::ChangeHash],
) -> i64 {
    let mut w = store.writer().await.unwrap();
    let seq = w.put_doc(id, doc, old).await.unwrap();
    w.commit().await.unwrap();
    seq
}

/// Runs one contract test on SQLite and on PostgreSQL.
macro_rules! contract {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = TestDb::sqlite();
                $body(&db).await;
                db.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = TestDb::postgres().await else {
                    return;
                };
                $body(&db).await;
                db.cleanup().await;
            }
        }
    };
}

contract!(
    document_round_trips_with_projection_and_seq,
    document_round_trip
);
async fn document_round_trip(db: &TestDb) {
    let store = db.open().await.unwrap();
    let mut doc = new_hazard("530181006", Grade::General, "消防通道堵塞");
    assert_eq!(store.current_seq(), 0);
    let seq = put(&store, "h-1", &mut doc, &[]).await;
    assert_eq!(seq, 1);
    assert_eq!(store.current_seq(), 1);
    let mut loaded = store.load("h-1").await.unwrap().unwrap();
    assert_eq!(loaded.get_heads(), doc.get_heads());
    let row = store.hazard("h-1").await.unwrap().unwrap();
    assert_eq!(row.owner, "530181006");
    assert_eq!(row.status, "open");
    assert_eq!(row.body["title"], "消防通道堵塞");
    let meta = store.doc_row("h-1").await.unwrap().unwrap();
    assert_eq!((meta.kind.as_str(), meta.seq), ("hazard", 1));
    assert!(store.load("missing").await.unwrap().is_none());
}

contract!(
    many_increments_load_back_identically_and_compact,
    increments_and_compaction
);
async fn increments_and_compaction(db: &TestDb) {
    let store = db.open().await.unwrap();
    let mut doc = new_hazard("530181006", Grade::General, "燃气管道腐蚀");
    put(&store, "h-2", &mut doc, &[]).await;
    for i in 0..40 {
        let old = doc.get_heads();
        let kind = if i == 0 {
            EventKind::Plan
        } else {
            EventKind::Progress
        };
        hazard::append_event(&mut doc, &event(kind, "530181006")).unwrap();
        doc.commit();
        put(&store, "h-2", &mut doc, &old).await;
    }
    // Reopen so nothing comes from the cache.
    store.close().await;
    let store = db.open().await.unwrap();
    let mut loaded = store.load("h-2").await.unwrap().unwrap();
    assert_eq!(loaded.get_heads(), doc.get_heads());
    assert_eq!(hazard::read(&loaded).unwrap().events.len(), 41);
    assert_eq!(
        store.hazard("h-2").await.unwrap().unwrap().status,
        "rectifying"
    );
    let (chunks,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM doc_changes WHERE doc_id = 'h-2'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(chunks < 32, "compaction bounds the chunks: {chunks}");
    // The raw bytes (snapshot followed by chunks) load as the same document.
    assert!(chunks > 0, "the raw path is exercised with chunks");
    let raw = store.raw_doc("h-2").await.unwrap().unwrap();
    assert_eq!(AutoCommit::load(&raw).unwrap().get_heads(), doc.get_heads());
    assert_eq!(store.current_seq(), 41);
}

contract!(changed_for_follows_each_documents_audience, audience_scope);
async fn audience_scope(db: &TestDb) {
    let store = db.open().await.unwrap();
    put(
        &store,
        "general",
        &mut new_hazard("530181006", Grade::General, "一般隐患"),
        &[],
    )
    .await;
    put(
        &store,
        "major",
        &mut new_hazard("530181006", Grade::Major, "重大隐患"),
        &[],
    )
    .await;
    let ids = |v: Vec<safemesh_store::ChangedDoc>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.changed_for(&code("530181"), 0, 100).await.unwrap()),
        ["general", "major"]
    );
    assert_eq!(
        ids(store.changed_for(&code("5301"), 0, 100).await.unwrap()),
        ["major"]
    );
    assert_eq!(
        ids(store.changed_for(&code("53"), 0, 100).await.unwrap()),
        ["major"]
    );
    assert!(
        store
            .changed_for(&code("530182"), 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(store.changed_for(&code("530181"), 1, 100).await.unwrap()),
        ["major"]
    );
    assert_eq!(
        ids(store.changed_for(&code("530181"), 0, 1).await.unwrap()),
        ["general"]
    );
    assert_eq!(
        store.pending_for(&code("530181"), 0, true).await.unwrap(),
        2
    );
    let rows = store
        .hazards(&HazardFilter {
            grade: Some("major".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let rows = store
        .hazards(&HazardFilter {
            within: Some("5301".into()),
            status: Some("open".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
}

contract!(cursors_and_peer_heads_persist_and_reset, cursors);
async fn cursors(db: &TestDb) {
    let store = db.open().await.unwrap();
    let peer = code("530181");
    let mut w = store.writer().await.unwrap();
    w.set_recv_cursor(&peer, 7, "inst-a").await.unwrap();
    w.set_acked(&peer, 5).await.unwrap();
    w.set_acked(&peer, 3).await.unwrap(); // never moves back
    w.set_peer_heads(&peer, "h-1", &["aa".repeat(32)])
        .await
        .unwrap();
    w.commit().await.unwrap();
    let l = store.link(&peer).await.unwrap();
    assert_eq!(
        (l.recv_cursor, l.acked_cursor, l.peer_install.as_deref()),
        (7, 5, Some("inst-a"))
    );
    assert_eq!(
        store.peer_heads(&peer, "h-1").await.unwrap(),
        Some(vec!["aa".repeat(32)])
    );
    store
        .add_traffic(&peer, 10, 20, Some("boom"))
        .await
        .unwrap();
    store.add_traffic(&peer, 1, 2, None).await.unwrap();
    let l = store.link(&peer).await.unwrap();
    assert_eq!(
        (l.bytes_in, l.bytes_out, l.last_error.as_deref()),
        (11, 22, Some("boom"))
    );
    let mut w = store.writer().await.unwrap();
    w.reset_peer(&peer).await.unwrap();
    w.commit().await.unwrap();
    let l = store.link(&peer).await.unwrap();
    assert_eq!((l.recv_cursor, l.acked_cursor), (0, 0));
    assert_eq!(store.peer_heads(&peer, "h-1").await.unwrap(), None);
    assert_eq!(store.links().await.unwrap().len(), 1);
}

contract!(sync_states_are_kept_per_peer_and_document, sync_states);
async fn sync_states(db: &TestDb) {
    // 1. Two peers, two documents: each (peer, document) keeps its own state; a write replaces it.
    let store = db.open().await.unwrap();
    let (a, b) = (code("530181"), code("530182"));
    let mut w = store.writer().await.unwrap();
    w.set_sync_state(&a, "h-1", &[0x43, 1, 2]).await.unwrap();
    w.set_sync_state(&a, "h-1", &[0x43, 9]).await.unwrap();
    w.set_sync_state(&a, "h-2", &[7; 70]).await.unwrap();
    w.set_sync_state(&b, "h-1", &[0x43]).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(
        store.sync_state(&a, "h-1").await.unwrap(),
        Some(vec![0x43, 9])
    );
    assert_eq!(
        store.sync_state(&a, "h-2").await.unwrap(),
        Some(vec![7; 70])
    );
    assert_eq!(store.sync_state(&b, "h-1").await.unwrap(), Some(vec![0x43]));
    assert_eq!(store.sync_state(&b, "h-2").await.unwrap(), None);
    // 2. A peer that is a new install loses its states; the other peer keeps its own.
    let mut w = store.writer().await.unwrap();
    w.reset_peer(&a).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(store.sync_state(&a, "h-1").await.unwrap(), None);
    assert_eq!(store.sync_state(&a, "h-2").await.unwrap(), None);
    assert_eq!(store.sync_state(&b, "h-1").await.unwrap(), Some(vec![0x43]));
    // 3. Many at once: the last state named for a document wins; reads of many find each.
    let mut w = store.writer().await.unwrap();
    let many: Vec<(String, Vec<u8>)> = (0..300)
        .map(|i| (format!("d-{i}"), vec![i as u8; 3]))
        .chain([("d-7".to_string(), vec![0xee])])
        .collect();
    w.set_sync_states(&b, &many).await.unwrap();
    w.commit().await.unwrap();
    let ids: Vec<String> = (0..305).map(|i| format!("d-{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let got = store.sync_states(&b, &refs).await.unwrap();
    assert_eq!(got.len(), 300);
    assert_eq!(got["d-7"], vec![0xee]);
    assert_eq!(got["d-299"], vec![299u32 as u8; 3]);
    assert!(store.sync_states(&a, &refs).await.unwrap().is_empty());
    // 4. A writer that is dropped keeps nothing.
    let mut w = store.writer().await.unwrap();
    w.set_sync_state(&b, "h-9", &[1]).await.unwrap();
    drop(w);
    assert_eq!(store.sync_state(&b, "h-9").await.unwrap(), None);
}

contract!(
    summaries_keep_the_newest_version_and_one_per_period,
    summaries
);
async fn summaries(db: &TestDb) {
    let store = db.open().await.unwrap();
    let t = code("530181006");
    let mut w = store.writer().await.unwrap();
    assert!(
        w.put_summary(&t, 2, "2026-10", "2026-10-31T00:00:00Z", "{\"v\":2}")
            .await
            .unwrap()
    );
    assert!(
        !w.put_summary(&t, 1, "2026-10", "2026-10-01T00:00:00Z", "{\"v\":1}")
            .await
            .unwrap()
    );
    assert!(
        w.put_summary(&t, 3, "2026-11", "2026-11-22T00:00:00Z", "{\"v\":3}")
            .await
            .unwrap()
    );
    w.commit().await.unwrap();
    let s = store.summary("530181006").await.unwrap().unwrap();
    assert_eq!((s.version, s.body.as_str()), (3, "{\"v\":3}"));
    let (periods,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM summary_history WHERE owner = '530181006'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(periods, 2);
    let after = store.summaries_after(0, 10).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].seq, store.current_seq());
}

contract!(
    child_summaries_are_those_one_level_down_under_the_prefix,
    child_summaries
);
async fn child_summaries(db: &TestDb) {
    let store = db.open().await.unwrap();
    let mut w = store.writer().await.unwrap();
    for (i, owner) in ["5301", "5303", "530181", "530181006", "5201", "53"]
        .iter()
        .enumerate()
    {
        w.put_summary(
            &code(owner),
            1 + i as i64,
            "2026-11",
            "2026-11-22T00:00:00Z",
            "{}",
        )
        .await
        .unwrap();
    }
    w.commit().await.unwrap();
    let owners =
        |v: Vec<safemesh_store::SummaryRow>| v.into_iter().map(|s| s.owner).collect::<Vec<_>>();
    assert_eq!(
        owners(store.child_summaries(&code("53")).await.unwrap()),
        ["5301", "5303"]
    );
    assert_eq!(
        owners(store.child_summaries(&code("5301")).await.unwrap()),
        ["530181"]
    );
    assert_eq!(
        owners(store.child_summaries(&code("530181")).await.unwrap()),
        ["530181006"]
    );
    assert!(
        store
            .child_summaries(&code("530181006"))
            .await
            .unwrap()
            .is_empty()
    );
}

contract!(a_writer_dropped_without_commit_keeps_nothing, rollback);
async fn rollback(db: &TestDb) {
    let store = db.open().await.unwrap();
    {
        let mut w = store.writer().await.unwrap();
        w.put_doc(
            "h-x",
            &mut new_hazard("530181006", Grade::General, "未提交"),
            &[],
        )
        .await
        .unwrap();
        // dropped here
    }
    assert!(store.load("h-x").await.unwrap().is_none());
    assert!(store.hazard("h-x").await.unwrap().is_none());
    assert_eq!(store.current_seq(), 0);
    // The next write takes seq 1.
    assert_eq!(
        put(
            &store,
            "h-y",
            &mut new_hazard("530181006", Grade::General, "已提交"),
            &[]
        )
        .await,
        1
    );
}

contract!(reopening_keeps_seq_install_id_and_records, reopen);
async fn reopen(db: &TestDb) {
    let store = db.open().await.unwrap();
    put(
        &store,
        "h-1",
        &mut new_hazard("530181006", Grade::Major, "持久"),
        &[],
    )
    .await;
    let install = store.install_id().to_string();
    store.close().await;
    let store = db.open().await.unwrap();
    assert_eq!(store.install_id(), install);
    assert_eq!(store.current_seq(), 1);
    assert!(store.hazard("h-1").await.unwrap().is_some());
}

contract!(a_database_from_a_newer_build_is_refused, newer_format);
async fn newer_format(db: &TestDb) {
    let store = db.open().await.unwrap();
    sqlx::query("UPDATE meta SET value = '99' WHERE key = 'format'")
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    match db.open().await {
        Err(Error::TooNew { found: 99, .. }) => {}
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a newer format must be refused"),
    }
}

contract!(
    two_links_delivering_to_one_document_at_once_lose_nothing,
    concurrent_links
);
async fn concurrent_links(db: &TestDb) {
    let store = db.open().await.unwrap();
    // The county holds a major hazard of the township.
    let mut base = new_hazard("530181006", Grade::Major, "并发");
    put(&store, "h-c", &mut base, &[]).await;
    // The township (a child link) and the city (the parent link) each add events concurrently.
    let mut from_child = base.fork().with_actor(actor_id(&code("530181006"), b"t"));
    let mut from_parent = base.fork().with_actor(actor_id(&code("5301"), b"c"));
    for _ in 0..5 {
        hazard::append_event(&mut from_child, &event(EventKind::Progress, "530181006")).unwrap();
        from_child.commit();
        hazard::append_event(&mut from_parent, &event(EventKind::Comment, "5301")).unwrap();
        from_parent.commit();
    }
    let heads = base.get_heads();
    let c1 = from_child.get_changes(&heads);
    let c2 = from_parent.get_changes(&heads);
    let deliver = |store: Store, changes: Vec<automerge::Change>, origin: Origin| async move {
        for c in changes {
            let mut w = store.writer().await.unwrap();
            let mut doc = w.load("h-c").await.unwrap().unwrap();
            let old = doc.get_heads();
            let mut checked = check_and_apply("h-c", Some(&mut doc), vec![c], &origin).unwrap();
            w.put_doc("h-c", &mut checked.doc, &old).await.unwrap();
            w.commit().await.unwrap();
            tokio::task::yield_now().await;
        }
    };
    let a = tokio::spawn(deliver(store.clone(), c1, Origin::Child(code("530181006"))));
    let b = tokio::spawn(deliver(store.clone(), c2, Origin::Parent(code("5301"))));
    a.await.unwrap();
    b.await.unwrap();
    store.close().await;
    let store = db.open().await.unwrap();
    let doc = store.load("h-c").await.unwrap().unwrap();
    let events = hazard::read(&doc).unwrap().events;
    assert_eq!(events.len(), 11, "registered + 5 + 5, none lost");
    let row = store.hazard("h-c").await.unwrap().unwrap();
    assert_eq!(
        row.body["events"].as_array().unwrap().len(),
        11,
        "projection matches the document"
    );
}

contract!(counts_come_from_the_projections, counts);
async fn counts(db: &TestDb) {
    let store = db.open().await.unwrap();
    put(
        &store,
        "a",
        &mut new_hazard("530181006", Grade::Major, "a"),
        &[],
    )
    .await;
    put(
        &store,
        "b",
        &mut new_hazard("530181006", Grade::General, "b"),
        &[],
    )
    .await;
    put(
        &store,
        "c",
        &mut new_hazard("530181", Grade::General, "c"),
        &[],
    )
    .await;
    let c = store
        .own_hazard_counts("530181006", "2027-01-01", "2027-01-04")
        .await
        .unwrap();
    assert_eq!(
        (c.total, c.unclosed, c.closed, c.major, c.overdue),
        (2, 2, 0, 1, 2)
    );
    assert_eq!(c.by_sector["消防"], 2);
    assert_eq!((c.due_soon, c.extended), (0, 0), "overdue is not 临期");
    let c = store
        .own_hazard_counts("530181006", "2026-12-31", "2027-01-03")
        .await
        .unwrap();
    assert_eq!(c.overdue, 0, "due today is not overdue");
    assert_eq!(c.due_soon, 2, "due today is 临期");
    let c = store
        .own_hazard_counts("530181006", "2026-12-27", "2026-12-30")
        .await
        .unwrap();
    assert_eq!(c.due_soon, 0, "due after the warning days");
    // 延期: an approved extension moves the deadline in force and counts the hazard as extended.
    let mut doc = new_hazard("530181006", Grade::General, "e");
    hazard::append_event(
        &mut doc,
        &HazardEvent {
            new_deadline: Some("2027-03-31".into()),
            note: Some("设备到货延迟".into()),
            ..event(EventKind::ExtendRequest, "530181006")
        },
    )
    .unwrap();
    doc.commit_with(CommitOptions::default().with_message("tester"));
    doc.set_actor(actor_id(&code("530181"), b"test"));
    hazard::append_event(
        &mut doc,
        &HazardEvent {
            approved: Some(true),
            ..event(EventKind::ExtendDecision, "530181")
        },
    )
    .unwrap();
    doc.commit_with(CommitOptions::default().with_message("tester"));
    put(&store, "e", &mut doc, &[]).await;
    let c = store
        .own_hazard_counts("530181006", "2027-01-01", "2027-01-04")
        .await
        .unwrap();
    assert_eq!((c.total, c.overdue, c.extended), (3, 2, 1));
    let row = store.hazard("e").await.unwrap().unwrap();
    assert_eq!(row.deadline, "2027-03-31");
    assert_eq!(row.body["extended"], 1);
    assert_eq!(
        row.body["core"]["deadline"]
            .as_str()
            .or(row.body["deadline"].as_str()),
        Some("2026-12-31")
    );
    let d = store
        .own_directive_counts("530181", "2026-12-31", "2027-01-03")
        .await
        .unwrap();
    assert_eq!(d.issued, 0);
}

/// A directive of the township 530181006 with milestones, a lead department and a cascade flag off,
/// and a cascade notice of the county; `forwarded_from` links the first to a parent directive.
fn new_directive(issuer: &str, cascade: bool, parent: Option<&str>) -> AutoCommit {
    use safemesh_doc::directive::{self, DirectiveCore, DirectiveDetails, ParentLink};
    use safemesh_model::directive::{Assignment, Deadline, Milestone, UnitKind, UnitRole};
    let me = code(issuer);
    let mut doc = AutoCommit::new().with_actor(actor_id(&me, b"test"));
    let core = DirectiveCore {
        title: "基本消除重大事故隐患存量".into(),
        body: String::new(),
        targets: Vec::new(),
        deadline: "2025-12-31".into(),
    };
    let details = DirectiveDetails {
        doc_number: "禄街发〔2024〕18号".into(),
        category: "开展重大事故隐患动态清零行动".into(),
        assignments: vec![Assignment {
            role: UnitRole::Lead,
            unit: "应急管理综合服务中心".into(),
            kind: UnitKind::Department,
            resolved: Vec::new(),
        }],
        deadline_spec: Some(Deadline::Milestones {
            milestones: vec![
                Milestone {
                    label: "6月底前".into(),
                    date: "2024-06-30".into(),
                },
                Milestone {
                    label: "12月底前".into(),
                    date: "2025-12-31".into(),
                },
            ],
        }),
        cascade,
        parent: parent.map(|p| ParentLink {
            directive: p.into(),
            issuer: me.parent().unwrap(),
            chain_top: me.parent().unwrap(),
        }),
        ..Default::default()
    };
    directive::create_with(&mut doc, &me, "2024-04-12T02:00:00Z", &core, &details).unwrap();
    doc.commit_with(CommitOptions::default().with_message("tester"));
    doc
}

contract!(
    directive_projection_counts_overdue_units_by_day,
    directive_projection
);
async fn directive_projection(db: &TestDb) {
    let store = db.open().await.unwrap();
    put(
        &store,
        "d-1",
        &mut new_directive("530181006", false, Some("d-0")),
        &[],
    )
    .await;
    // The first milestone is due on 30 June 2024: not overdue that day, overdue the day after.
    let t = store
        .directive_totals("2024-06-30", "2024-07-03")
        .await
        .unwrap();
    assert_eq!(
        (t["d-1"].units, t["d-1"].received, t["d-1"].overdue),
        (1, 0, 0)
    );
    // 临期: due that day, within the warning days; not three days earlier with N = 2.
    assert_eq!(t["d-1"].due_soon, 1, "due today is 临期");
    let early = store
        .directive_totals("2024-06-27", "2024-06-29")
        .await
        .unwrap();
    assert_eq!(early["d-1"].due_soon, 0, "due after the warning days");
    let late = store
        .directive_totals("2024-07-01", "2024-07-04")
        .await
        .unwrap();
    assert_eq!(late["d-1"].due_soon, 0, "overdue is not 临期");
    assert_eq!(
        store
            .directive_totals("2024-07-01", "2024-07-04")
            .await
            .unwrap()["d-1"]
            .overdue,
        1
    );
    let c = store
        .own_directive_counts("530181006", "2024-07-01", "2024-07-04")
        .await
        .unwrap();
    assert_eq!(
        (c.issued, c.assignments, c.overdue, c.due_soon),
        (1, 1, 1, 0)
    );
    // Forwarded directives are found by their parent; the parent's issuer is in the audience.
    let fwd = store.directives_forwarded_from("d-0").await.unwrap();
    assert_eq!(fwd.len(), 1);
    assert_eq!(fwd[0].body["doc_number"], "禄街发〔2024〕18号");
    assert!(store.in_audience(&code("530181"), "d-1").await.unwrap());
    assert!(!store.in_audience(&code("5301"), "d-1").await.unwrap());
    // A cascade notice is in the audience of every node below its issuer, and of no sibling.
    put(&store, "d-2", &mut new_directive("530181", true, None), &[]).await;
    assert!(store.in_audience(&code("530181006"), "d-2").await.unwrap());
    assert!(store.in_audience(&code("530181"), "d-2").await.unwrap());
    assert!(!store.in_audience(&code("530102001"), "d-2").await.unwrap());
    // The same, for many documents at once (unknown ids are in nobody's audience).
    let ids = ["d-1", "d-2", "d-none"];
    let of = |c: &str| {
        let store = store.clone();
        let c = code(c);
        async move {
            let mut v: Vec<String> = store
                .in_audience_of(&c, &ids)
                .await
                .unwrap()
                .into_iter()
                .collect();
            v.sort();
            v
        }
    };
    assert_eq!(of("530181").await, ["d-1", "d-2"]);
    assert_eq!(of("530181006").await, ["d-1", "d-2"]);
    assert_eq!(of("530181007").await, ["d-2"]);
    assert!(of("530102001").await.is_empty());
    let changed = store.changed_for(&code("530181007"), 0, 10).await.unwrap();
    assert_eq!(
        changed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        vec!["d-2"]
    );
}

contract!(hazard_ledger_filters_and_numbers, ledger_filters);
async fn ledger_filters(db: &TestDb) {
    let store = db.open().await.unwrap();
    let t = "530181006";
    let mut a = new_hazard_with(t, Grade::Major, "液氨储罐区报警未联锁", |c| {
        c.number = "530181006-2026-0007".into();
        c.sector = "危险化学品".into();
        c.stock = Stock::Stock;
        c.deadline = "2026-11-01".into();
    });
    put(&store, "h-a", &mut a, &[]).await;
    let mut b = new_hazard_with(t, Grade::General, "疏散通道堵塞_50%", |c| {
        c.number = "530181006-2026-0012".into();
        c.channel = Channel::PublicReport;
    });
    put(&store, "h-b", &mut b, &[]).await;
    let mut c = new_hazard_with("530181", Grade::General, "县级隐患", |c| {
        c.number = "530181-2026-0001".into();
    });
    put(&store, "h-c", &mut c, &[]).await;
    // The county lists h-b; a plan moves h-b's deadline in force earlier.
    let old = b.get_heads();
    b.set_actor(actor_id(&code("530181"), b"test"));
    hazard::append_event(
        &mut b,
        &HazardEvent {
            level: Some(code("530181")),
            ..event(EventKind::Supervise, "530181")
        },
    )
    .unwrap();
    b.set_actor(actor_id(&code(t), b"test"));
    let plan = Plan {
        responsible_unit: "某商场".into(),
        responsible_person: "赵六".into(),
        measures: "清理通道".into(),
        funds_wan: 0.0,
        deadline: "2026-11-10".into(),
        contingency_plan: String::new(),
    };
    hazard::append_event(
        &mut b,
        &HazardEvent {
            plan: Some(plan),
            ..event(EventKind::Plan, t)
        },
    )
    .unwrap();
    b.commit();
    put(&store, "h-b", &mut b, &old).await;

    let ids = |f: HazardFilter| {
        let store = store.clone();
        async move {
            let mut v: Vec<String> = store
                .hazards(&f)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect();
            v.sort();
            v
        }
    };
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        ids(HazardFilter {
            sector: s("危险化学品"),
            ..Default::default()
        })
        .await,
        ["h-a"]
    );
    assert_eq!(
        ids(HazardFilter {
            channel: s("public_report"),
            ..Default::default()
        })
        .await,
        ["h-b"]
    );
    assert_eq!(
        ids(HazardFilter {
            stock: s("stock"),
            ..Default::default()
        })
        .await,
        ["h-a"]
    );
    assert_eq!(
        ids(HazardFilter {
            stock: s("new"),
            ..Default::default()
        })
        .await,
        ["h-b", "h-c"]
    );
    assert_eq!(
        ids(HazardFilter {
            supervised: Some(true),
            ..Default::default()
        })
        .await,
        ["h-b"]
    );
    assert_eq!(
        ids(HazardFilter {
            supervised: Some(false),
            ..Default::default()
        })
        .await,
        ["h-a", "h-c"]
    );
    // Overdue against the deadline in force: h-a (registered 11-01), h-b (plan 11-10); due today is not.
    let today = |d: &str| HazardFilter {
        overdue: Some(true),
        today: s(d),
        ..Default::default()
    };
    assert_eq!(ids(today("2026-11-22")).await, ["h-a", "h-b"]);
    assert_eq!(ids(today("2026-11-10")).await, ["h-a"]);
    assert_eq!(
        ids(HazardFilter {
            overdue: Some(false),
            today: s("2026-11-10"),
            ..Default::default()
        })
        .await,
        ["h-b", "h-c"]
    );
    // Search by title or number; LIKE wildcards in the query are literal.
    assert_eq!(
        ids(HazardFilter {
            q: s("储罐"),
            ..Default::default()
        })
        .await,
        ["h-a"]
    );
    assert_eq!(
        ids(HazardFilter {
            q: s("2026-0012"),
            ..Default::default()
        })
        .await,
        ["h-b"]
    );
    assert_eq!(
        ids(HazardFilter {
            q: s("_50%"),
            ..Default::default()
        })
        .await,
        ["h-b"]
    );
    assert_eq!(
        ids(HazardFilter {
            q: s("%"),
            ..Default::default()
        })
        .await,
        ["h-b"]
    );
    assert_eq!(
        ids(HazardFilter {
            within: s("530181006"),
            grade: s("major"),
            ..Default::default()
        })
        .await,
        ["h-a"]
    );

    // Numbers: who holds one, and the highest sequence of an owner's year.
    let mut w = store.writer().await.unwrap();
    assert_eq!(
        w.hazard_with_number(t, "530181006-2026-0012")
            .await
            .unwrap()
            .as_deref(),
        Some("h-b")
    );
    assert_eq!(
        w.hazard_with_number("530181", "530181006-2026-0012")
            .await
            .unwrap(),
        None
    );
    assert_eq!(w.max_hazard_seq(t, "530181006-2026-").await.unwrap(), 12);
    assert_eq!(w.max_hazard_seq(t, "530181006-2025-").await.unwrap(), 0);
    assert_eq!(w.max_hazard_seq("530181", "530181-2026-").await.unwrap(), 1);
    drop(w);
    let row = store.hazard("h-b").await.unwrap().unwrap();
    assert_eq!(row.deadline, "2026-11-10");
    assert_eq!(row.body["effective_deadline"], "2026-11-10");
    assert_eq!(row.body["deadline"], "2026-12-31");
    assert_eq!(row.body["plan"]["responsible_person"], "赵六");
    assert_eq!(row.body["number"], "530181006-2026-0012");
    store.close().await;
}

contract!(
    documents_written_together_project_as_one_by_one,
    together_as_one_by_one
);
/// The receiver stores documents new to it in multi-row statements (`put_new_docs_bytes`): the rows
/// they project to must be the rows `put_doc` writes for each alone — across several statement
/// chunks (40 hazards) and with a directive's several statements (its row, its targets).
async fn together_as_one_by_one(db: &TestDb) {
    // The backend under test writes them together; SQLite, one by one, is the reference.
    let together = db.open().await.unwrap();
    let other = TestDb::sqlite();
    let one = other.open().await.unwrap();
    let mut docs: Vec<(String, AutoCommit)> = (0..40)
        .map(|i| {
            let grade = if i % 7 == 0 {
                Grade::Major
            } else {
                Grade::General
            };
            let mut d = new_hazard("530181006", grade, &format!("隐患{i}"));
            if i % 3 == 0 {
                hazard::append_event(&mut d, &event(EventKind::Notify, "530181006")).unwrap();
                d.commit();
            }
            (format!("h-{i:02}"), d)
        })
        .collect();
    docs.push(("d-1".into(), new_directive("530181006", false, Some("d-0"))));
    docs.push(("d-2".into(), new_directive("530181", true, None)));
    let mut w = together.writer().await.unwrap();
    let mut batch = Vec::new();
    for (id, doc) in &mut docs {
        put(&one, id, doc, &[]).await;
        let header = safemesh_doc::Header::read(doc).unwrap();
        let projection = safemesh_store::compute_projection(id, &header, doc).unwrap();
        batch.push(safemesh_store::NewDoc {
            id: id.clone(),
            doc: doc.clone(),
            bytes: doc.save(),
            // Half computed by the caller, half by the store.
            projection: (batch.len() % 2 == 0).then_some(projection),
        });
    }
    w.put_new_docs_bytes(batch)
        .await
        .map_err(|(_, e)| e)
        .unwrap();
    w.commit().await.unwrap();

    let rows = |v: Vec<safemesh_store::HazardRow>| {
        let mut v: Vec<_> = v
            .into_iter()
            .map(|r| (r.id, r.owner, r.status, r.deadline, r.body))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let all = HazardFilter::default();
    let a = rows(one.hazards(&all).await.unwrap());
    assert_eq!(a.len(), 40);
    assert_eq!(a, rows(together.hazards(&all).await.unwrap()));
    for day in ["2024-06-30", "2024-07-01"] {
        let (x, y) = (
            one.directive_totals(day, "2024-07-04").await.unwrap(),
            together.directive_totals(day, "2024-07-04").await.unwrap(),
        );
        assert_eq!(format!("{x:?}"), format!("{y:?}"));
    }
    for id in ["d-1", "d-2", "h-00", "h-01"] {
        for c in ["530181006", "530181", "5301", "530181007", "530102001"] {
            assert_eq!(
                one.in_audience(&code(c), id).await.unwrap(),
                together.in_audience(&code(c), id).await.unwrap(),
                "{id} for {c}"
            );
        }
    }
    assert_eq!(
        one.changed_for(&code("530181007"), 0, 100)
            .await
            .unwrap()
            .len(),
        together
            .changed_for(&code("530181007"), 0, 100)
            .await
            .unwrap()
            .len()
    );
    other.cleanup().await;
}

/// PostgreSQL only: a bulk write (a child's bootstrap) refreshes the planner's statistics at once,
/// not when autovacuum next wakes, so the sync queries are planned for the tables as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_statistics_follow_a_bulk_write() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.open().await.unwrap();
    let analyzed = || async {
        let (estimate, manual): (i64, bool) = sqlx::query_as(
            "SELECT CAST(c.reltuples AS BIGINT), s.last_analyze IS NOT NULL
             FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
             WHERE c.relname = 'documents' AND s.schemaname = current_schema()",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        (estimate, manual)
    };
    let docs = |range: std::ops::Range<usize>| {
        range
            .map(|i| {
                let mut doc = new_hazard("530181006", Grade::General, &format!("隐患 {i}"));
                safemesh_store::NewDoc {
                    id: format!("h-bulk-{i:05}"),
                    bytes: doc.save(),
                    doc,
                    projection: None,
                }
            })
            .collect::<Vec<_>>()
    };
    // Below the threshold: nothing runs.
    let mut w = store.writer().await.unwrap();
    w.put_new_docs_bytes(docs(0..999)).await.unwrap();
    w.commit().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!analyzed().await.1, "999 new documents: no analysis yet");
    // The thousandth document makes it due.
    let mut w = store.writer().await.unwrap();
    w.put_new_docs_bytes(docs(999..1000)).await.unwrap();
    w.commit().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (estimate, manual) = analyzed().await;
        if manual {
            assert_eq!(estimate, 1000, "the planner sees every document written");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no ANALYZE within 30 s of the 1,000th new document"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    db.cleanup().await;
}

contract!(accidents_page_in_order_with_total, accidents_page);
async fn accidents_page(db: &TestDb) {
    use safemesh_doc::accident::{self, AccidentCore};
    let store = db.open().await.unwrap();
    for (i, (owner, day)) in [
        ("530181006", "2026-03-02"),
        ("530181", "2026-03-05"),
        ("530181006", "2026-03-04"),
        ("530181006", "2026-03-01"),
        ("5301", "2026-03-03"),
    ]
    .into_iter()
    .enumerate()
    {
        let owner = code(owner);
        let mut doc = AutoCommit::new().with_actor(actor_id(&owner, b"test"));
        let core = AccidentCore {
            title: format!("事故{i}"),
            occurred_at: day.into(),
            sector: "工贸".into(),
            deaths: 0,
            serious_injuries: 0,
            direct_loss_wan: 0.0,
            enterprise: None,
            description: String::new(),
            attachments: Vec::new(),
        };
        accident::create(&mut doc, &owner, "2026-11-22T00:00:00Z", &core).unwrap();
        doc.commit_with(CommitOptions::default().with_message("tester"));
        put(&store, &format!("a-{i:032}"), &mut doc, &[]).await;
    }
    let days = |v: &[serde_json::Value]| -> Vec<String> {
        v.iter()
            .map(|a| a["occurred_at"].as_str().unwrap().to_string())
            .collect()
    };
    let all = store.accidents(None).await.unwrap();
    let (page, total) = store.accidents_page(None, 500, 0).await.unwrap();
    assert_eq!((page.clone(), total), (all.clone(), 5));
    assert_eq!(
        days(&page),
        [
            "2026-03-05",
            "2026-03-04",
            "2026-03-03",
            "2026-03-02",
            "2026-03-01"
        ]
    );
    let (page, total) = store.accidents_page(None, 2, 3).await.unwrap();
    assert_eq!((days(&page), total), (days(&all[3..]), 5));
    let (page, total) = store.accidents_page(Some("530181"), 1, 1).await.unwrap();
    assert_eq!((days(&page), total), (vec!["2026-03-04".to_string()], 4));
    let (page, total) = store.accidents_page(None, 10, 99).await.unwrap();
    assert_eq!((page.len(), total), (0, 5));
}

contract!(
    size_commit_times_and_report_times_are_measured,
    measurements
);
async fn measurements(db: &TestDb) {
    let store = db.open().await.unwrap();
    let size = store.size_bytes().await.unwrap();
    assert!(size > 0, "an opened store has its tables: {size}");
    let before = store.commit_stats();
    let mut doc = new_hazard("530181006", Grade::General, "疏散指示标志损坏");
    put(&store, "h-m", &mut doc, &[]).await;
    let mut w = store.writer().await.unwrap();
    w.put_summary(
        &code("530181006"),
        1,
        "2026-12",
        "2026-12-07T01:00:00Z",
        "{}",
    )
    .await
    .unwrap();
    w.commit().await.unwrap();
    let after = store.commit_stats();
    assert_eq!(after.count, before.count + 2, "{after:?}");
    assert!(after.sum_seconds > before.sum_seconds);
    assert!(
        after.buckets.windows(2).all(|b| b[0].1 <= b[1].1)
            && after.buckets.last().unwrap().1 <= after.count,
        "cumulative: {after:?}"
    );
    assert!(store.size_bytes().await.unwrap() >= size);
    assert_eq!(
        store.summary_times().await.unwrap(),
        vec![("530181006".to_string(), "2026-12-07T01:00:00Z".to_string())]
    );
}

contract!(
    a_completion_awaiting_review_is_counted_apart_from_approved,
    directive_review_counts
);
/// Issue 17: a target's completion of a directive issued with review counts as 待审核
/// (`awaiting_review`), not 办结 (`completed`), and is not overdue; the issuer's approval moves it to
/// `completed`.
async fn directive_review_counts(db: &TestDb) {
    use safemesh_doc::directive::{self, DirectiveCore, DirectiveDetails};
    use safemesh_model::directive::{ResponseAction, ResponseUpdate, Review, ReviewDecision};
    let store = db.open().await.unwrap();
    let county = code("530181");
    let twp = code("530181006");
    let mut doc = AutoCommit::new().with_actor(actor_id(&county, b"test"));
    let core = DirectiveCore {
        title: "燃气安全专项整治".into(),
        body: String::new(),
        targets: vec![twp.clone()],
        deadline: "2026-06-30".into(),
    };
    let details = DirectiveDetails {
        review: true,
        ..Default::default()
    };
    directive::create_with(&mut doc, &county, "2026-03-01T02:00:00Z", &core, &details).unwrap();
    doc.commit();
    put(&store, "d-r", &mut doc, &[]).await;
    let old = doc.get_heads();
    doc.set_actor(actor_id(&twp, b"test"));
    let done = ResponseUpdate {
        action: ResponseAction::Complete,
        at: "2026-03-10T02:00:00Z".into(),
        percent: None,
        note: None,
        user: "t".into(),
        attachments: Vec::new(),
    };
    directive::respond(&mut doc, &twp, &done).unwrap();
    doc.commit();
    put(&store, "d-r", &mut doc, &old).await;
    let counts = |c: safemesh_model::summary::DirectiveCounts| {
        (c.completed, c.awaiting_review, c.overdue, c.due_soon)
    };
    let c = store
        .own_directive_counts("530181", "2026-07-01", "2026-07-04")
        .await
        .unwrap();
    assert_eq!(counts(c), (0, 1, 0, 0), "待审核: not 办结, not overdue");
    let old = doc.get_heads();
    doc.set_actor(actor_id(&county, b"test"));
    directive::add_review(
        &mut doc,
        &Review {
            unit: twp.to_string(),
            completion: 1,
            decision: ReviewDecision::Approve,
            reason: None,
            at: "2026-03-11T02:00:00Z".into(),
            user: "c".into(),
        },
    )
    .unwrap();
    doc.commit();
    put(&store, "d-r", &mut doc, &old).await;
    let c = store
        .own_directive_counts("530181", "2026-07-01", "2026-07-04")
        .await
        .unwrap();
    assert_eq!(counts(c), (1, 0, 0, 0), "审核通过: 办结");
    let t = store
        .directive_totals("2026-07-01", "2026-07-04")
        .await
        .unwrap();
    assert_eq!((t["d-r"].done, t["d-r"].awaiting_review), (1, 0));
}

/// Bytes that are not all alike (so a chunk put at the wrong offset would change the hash).
fn file_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn attachment(bytes: &[u8], name: &str) -> safemesh_model::evidence::Attachment {
    safemesh_model::evidence::Attachment {
        sha256: safemesh_store::sha256_hex(bytes),
        size: bytes.len() as u64,
        media_type: "image/jpeg".into(),
        name: name.into(),
    }
}

contract!(
    a_blob_is_stored_by_its_sha256_and_read_back_whole_or_by_range,
    blob_put_get
);
async fn blob_put_get(db: &TestDb) {
    let store = db.open().await.unwrap();
    // 1. A file larger than two chunks is stored under its SHA-256.
    let bytes = file_bytes(2 * safemesh_store::BLOB_CHUNK + 1000);
    let meta = store.put_blob("image/jpeg", &bytes).await.unwrap();
    assert_eq!(meta.sha256, safemesh_store::sha256_hex(&bytes));
    assert_eq!(meta.size, bytes.len() as i64);
    // 2. Read back whole, and a range across a chunk boundary, from a reopened store.
    store.close().await;
    let store = db.open().await.unwrap();
    assert_eq!(store.read_blob(&meta.sha256).await.unwrap().unwrap(), bytes);
    let at = safemesh_store::BLOB_CHUNK as i64 - 10;
    let range = store
        .read_blob_range(&meta.sha256, at, 20)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(range, bytes[at as usize..at as usize + 20]);
    assert_eq!(store.verify_blob(&meta.sha256).await.unwrap(), Some(true));
    assert_eq!(store.blob_bytes().await.unwrap(), bytes.len() as i64);
    // 3. Storing it again keeps one copy; an unknown hash reads as nothing.
    store.put_blob("image/jpeg", &bytes).await.unwrap();
    assert_eq!(store.blob_bytes().await.unwrap(), bytes.len() as i64);
    assert!(store.read_blob(&"0".repeat(64)).await.unwrap().is_none());
}

contract!(
    a_blob_received_in_chunks_resumes_after_a_reopen_and_is_usable_only_once_verified,
    blob_chunks_resume
);
async fn blob_chunks_resume(db: &TestDb) {
    use safemesh_store::ChunkOutcome;
    let store = db.open().await.unwrap();
    let bytes = file_bytes(3 * safemesh_store::BLOB_CHUNK / 2 + 7);
    let sha = safemesh_store::sha256_hex(&bytes);
    let size = bytes.len() as i64;
    let chunk = safemesh_store::BLOB_CHUNK;
    // 1. The first chunk is kept; the blob is not usable yet.
    let first = store
        .put_blob_chunk(&sha, size, "image/jpeg", 0, &bytes[..chunk])
        .await
        .unwrap();
    assert_eq!(
        first,
        ChunkOutcome::Partial {
            received: chunk as i64
        }
    );
    assert!(store.read_blob(&sha).await.unwrap().is_none());
    // 2. Cut: the store is reopened; it resumes from the bytes it holds.
    store.close().await;
    let store = db.open().await.unwrap();
    assert_eq!(store.blob_received(&sha).await.unwrap(), chunk as i64);
    // 3. A chunk that does not continue the blob is refused, naming where it must start.
    assert_eq!(
        store
            .put_blob_chunk(&sha, size, "image/jpeg", 0, &bytes[..chunk])
            .await
            .unwrap(),
        ChunkOutcome::OutOfOrder {
            expected: chunk as i64
        }
    );
    // 4. The rest completes it, verified.
    assert_eq!(
        store
            .put_blob_chunk(&sha, size, "image/jpeg", chunk as i64, &bytes[chunk..])
            .await
            .unwrap(),
        ChunkOutcome::Complete
    );
    assert_eq!(store.read_blob(&sha).await.unwrap().unwrap(), bytes);
}

contract!(
    a_blob_whose_bytes_do_not_match_its_hash_is_dropped_whole,
    blob_hash_mismatch
);
async fn blob_hash_mismatch(db: &TestDb) {
    use safemesh_store::ChunkOutcome;
    let store = db.open().await.unwrap();
    let claimed = file_bytes(1000);
    let sha = safemesh_store::sha256_hex(&claimed);
    let mut forged = claimed.clone();
    forged[999] ^= 1;
    // 1. A chunk that runs past the declared size is refused before anything is kept.
    assert_eq!(
        store
            .put_blob_chunk(&sha, 10, "image/jpeg", 0, &forged)
            .await
            .unwrap(),
        ChunkOutcome::TooLong
    );
    // 2. Every byte arrives but they hash to something else: nothing of it is kept.
    assert_eq!(
        store
            .put_blob_chunk(&sha, 1000, "image/jpeg", 0, &forged)
            .await
            .unwrap(),
        ChunkOutcome::HashMismatch
    );
    assert!(store.read_blob(&sha).await.unwrap().is_none());
    assert_eq!(store.blob_received(&sha).await.unwrap(), 0);
    assert_eq!(store.blob_bytes().await.unwrap(), 0);
    let (chunks,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM blob_chunks")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(chunks, 0);
}

contract!(
    blob_references_follow_the_documents_audience_and_the_collector_keeps_only_referenced_blobs,
    blob_refs_scope_gc
);
async fn blob_refs_scope_gc(db: &TestDb) {
    let store = db.open().await.unwrap();
    let photo = file_bytes(5000);
    let stray = file_bytes(300);
    store.put_blob("image/jpeg", &photo).await.unwrap();
    let stray_meta = store.put_blob("image/jpeg", &stray).await.unwrap();
    // 1. A general hazard's rectified event attaches the photo.
    let mut doc = new_hazard("530181006", Grade::General, "消防通道堵塞");
    put(&store, "h-1", &mut doc, &[]).await;
    let old = doc.get_heads();
    let mut e = event(EventKind::Rectified, "530181006");
    e.attachments = vec![attachment(&photo, "整改后.jpg")];
    hazard::append_event(&mut doc, &e).unwrap();
    doc.commit();
    put(&store, "h-1", &mut doc, &old).await;
    let refs = store.blob_refs("h-1").await.unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].name, "整改后.jpg");
    assert_eq!(
        hazard::read(&doc).unwrap().events[1].attachments,
        e.attachments
    );
    // 2. Its blob crosses the link to the county (its audience), not to the city.
    let sha = safemesh_store::sha256_hex(&photo);
    assert!(
        store
            .blob_in_scope(&code("530181"), &sha)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .blob_in_scope(&code("5301"), &sha)
            .await
            .unwrap()
            .is_none()
    );
    // 3. Held here, so not wanted; dropped, it is wanted from the county only.
    assert!(
        store
            .blobs_wanted_from(&code("530181"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.drop_blob(&sha).await.unwrap();
    let wanted = store.blobs_wanted_from(&code("530181"), 10).await.unwrap();
    assert_eq!(wanted.iter().map(|r| &r.sha256).collect::<Vec<_>>(), [&sha]);
    assert!(
        store
            .blobs_wanted_from(&code("5301"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.put_blob("image/jpeg", &photo).await.unwrap();
    // 4. The collector keeps a young stray (an upload not yet referenced), then removes it once
    //    older than the grace; the referenced photo stays.
    assert_eq!(
        store.collect_blobs("2000-01-01T00:00:00Z").await.unwrap(),
        0
    );
    assert_eq!(
        store.collect_blobs("2999-01-01T00:00:00Z").await.unwrap(),
        1
    );
    assert!(store.read_blob(&stray_meta.sha256).await.unwrap().is_none());
    assert_eq!(store.read_blob(&sha).await.unwrap().unwrap(), photo);
}
