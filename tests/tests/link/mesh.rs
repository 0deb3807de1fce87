//! The replication engine in a deterministic in-memory mesh (DESIGN §9): real stores and drivers,
//! links over channels, cut / restart / reconnect, run until quiet, identical heads everywhere.

use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};
use safemesh_doc::authority::check_local;
use safemesh_doc::{AutoCommit, hazard, heads_to_hex};
use safemesh_link::RateLimit;
use safemesh_model::directive::ResponseAction;
use safemesh_model::hazard::{EventKind, Grade, Status};
use safemesh_testkit::mesh::docs::test_core;
use safemesh_testkit::mesh::{Mesh, Traffic, code, commit, now};

const PROVINCE: &str = "53";
const CITY: &str = "5301";
const COUNTY: &str = "530181";
const TOWNSHIP: &str = "530181006";
const TOWNSHIP_B: &str = "530181007";

#[tokio::test]
async fn township_hazard_reaches_county_and_county_event_comes_back() {
    // 1. A three-level chain, city – county – township, all connected.
    let mut m = Mesh::new(&[CITY, COUNTY, TOWNSHIP]).await;
    m.connect_chain(&[CITY, COUNTY, TOWNSHIP]);
    m.run_until_quiet().await;

    // 2. The township registers a general hazard.
    let id = m
        .register_hazard(TOWNSHIP, Grade::General, "储罐区未设置可燃气体报警")
        .await;
    m.run_until_quiet().await;

    // 3. The county (its parent) holds it with identical heads; the city does not (owner + parent only).
    m.assert_same_heads(&[TOWNSHIP, COUNTY], &id).await;
    assert!(
        m.store(COUNTY).hazard(&id).await.unwrap().is_some(),
        "county projection"
    );
    assert!(
        !m.holds(CITY, &id).await,
        "a general hazard must not reach the city"
    );

    // 4. The county lists it for supervision.
    m.add_event(COUNTY, &id, EventKind::Supervise, "县级挂牌督办")
        .await;
    m.run_until_quiet().await;

    // 5. The event comes back to the township: same heads, and the township's fold sees the county.
    m.assert_same_heads(&[TOWNSHIP, COUNTY], &id).await;
    let h = m.hazard(TOWNSHIP, &id).await.unwrap();
    assert_eq!(h.events.len(), 2);
    assert_eq!(
        h.derived().supervising.map(|c| c.to_string()).as_deref(),
        Some(COUNTY)
    );
    let row = m.store(TOWNSHIP).hazard(&id).await.unwrap().unwrap();
    assert_eq!(
        row.body["supervising"], COUNTY,
        "township projection updated"
    );

    // 6. Still nothing at the city.
    assert!(!m.holds(CITY, &id).await);
}

#[tokio::test]
async fn major_hazard_reaches_every_ancestor_and_province_supervise_reaches_township() {
    let all = [PROVINCE, CITY, COUNTY, TOWNSHIP];
    // 1. Four levels, connected.
    let mut m = Mesh::new(&all).await;
    m.connect_chain(&all);

    // 2. The township registers a major hazard.
    let id = m
        .register_hazard(TOWNSHIP, Grade::Major, "粉尘涉爆企业除尘系统失效")
        .await;
    m.run_until_quiet().await;

    // 3. Every ancestor holds it, with the same heads (全量汇总 at the province).
    m.assert_same_heads(&all, &id).await;
    assert!(m.store(PROVINCE).hazard(&id).await.unwrap().is_some());

    // 4. The province lists it for supervision (省级挂牌督办).
    m.add_event(PROVINCE, &id, EventKind::Supervise, "省级挂牌督办")
        .await;
    m.run_until_quiet().await;

    // 5. Three hops down, the township sees the province supervising.
    m.assert_same_heads(&all, &id).await;
    let h = m.hazard(TOWNSHIP, &id).await.unwrap();
    assert_eq!(
        h.derived().supervising.map(|c| c.to_string()).as_deref(),
        Some(PROVINCE)
    );

    // 6. The township tells the enterprise's 主要负责人 and 实际控制人, reports rectification; it
    //    climbs back to the province.
    m.add_event(TOWNSHIP, &id, EventKind::Notify, "").await;
    m.add_event(TOWNSHIP, &id, EventKind::Plan, "五落实").await;
    m.add_event(TOWNSHIP, &id, EventKind::Rectified, "").await;
    m.run_until_quiet().await;
    m.assert_same_heads(&all, &id).await;
    assert_eq!(
        m.hazard(PROVINCE, &id).await.unwrap().derived().status,
        Status::PendingAcceptance
    );
}

#[tokio::test]
async fn directive_reaches_target_and_response_returns() {
    // 1. A county with two townships and its city, all connected.
    let mut m = Mesh::new(&[CITY, COUNTY, TOWNSHIP, TOWNSHIP_B]).await;
    m.connect(CITY, COUNTY);
    m.connect(COUNTY, TOWNSHIP);
    m.connect(COUNTY, TOWNSHIP_B);

    // 2. The county issues a directive to one township.
    let id = m
        .issue_directive(COUNTY, &[TOWNSHIP], "开展危化品专项整治")
        .await;
    m.run_until_quiet().await;

    // 3. The target holds it; the other township and the city do not.
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &id).await;
    assert!(!m.holds(TOWNSHIP_B, &id).await, "not a target");
    assert!(!m.holds(CITY, &id).await, "not in the audience");

    // 4. The township signs for it (签收) and later completes it.
    m.respond(TOWNSHIP, &id, ResponseAction::Receive).await;
    m.run_until_quiet().await;
    let d = m.directive(COUNTY, &id).await.unwrap();
    assert!(
        d.responses[TOWNSHIP].received_at.is_some(),
        "签收 reached the county"
    );
    m.respond(TOWNSHIP, &id, ResponseAction::Complete).await;
    m.run_until_quiet().await;

    // 5. The issuer sees the response; heads agree; the county's projection counts it.
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &id).await;
    let d = m.directive(COUNTY, &id).await.unwrap();
    let r = &d.responses[TOWNSHIP];
    assert!(r.completed_at.is_some());
    assert_eq!(r.percent, Some(100));
    assert_eq!(r.updates.len(), 2);
    let counts = m
        .store(COUNTY)
        .own_directive_counts(COUNTY, "2025-01-01", "2025-01-04")
        .await
        .unwrap();
    assert_eq!(
        (
            counts.issued,
            counts.assignments,
            counts.received,
            counts.completed
        ),
        (1, 1, 1, 1)
    );
    assert!(!m.holds(TOWNSHIP_B, &id).await);
}

#[tokio::test]
async fn cut_link_both_sides_write_then_reconnect_converges_with_identical_heads() {
    // 1. County and township in sync on one hazard.
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    m.connect(COUNTY, TOWNSHIP);
    let h = m
        .register_hazard(TOWNSHIP, Grade::General, "配电室无防鼠板")
        .await;
    m.run_until_quiet().await;
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &h).await;

    // 2. The link goes down.
    m.cut(COUNTY, TOWNSHIP).await;

    // 3. Both sides keep working: concurrent events on the same hazard, and new records on each side.
    m.add_event(TOWNSHIP, &h, EventKind::Plan, "制定整改方案")
        .await;
    m.add_event(TOWNSHIP, &h, EventKind::Progress, "更换防鼠板")
        .await;
    m.add_event(COUNTY, &h, EventKind::Comment, "请加快整改")
        .await;
    m.add_event(COUNTY, &h, EventKind::Supervise, "").await;
    let h2 = m
        .register_hazard(TOWNSHIP, Grade::Major, "断网期间登记")
        .await;
    let d = m.issue_directive(COUNTY, &[TOWNSHIP], "断网期间下发").await;
    assert_ne!(
        m.heads(COUNTY, &h).await,
        m.heads(TOWNSHIP, &h).await,
        "diverged while cut"
    );

    // 4. Reconnect and run until quiet.
    m.connect(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;

    // 5. Identical heads for every document on both sides; one merged history.
    for id in [&h, &h2, &d] {
        m.assert_same_heads(&[COUNTY, TOWNSHIP], id).await;
    }
    let a = m.hazard(COUNTY, &h).await.unwrap();
    let b = m.hazard(TOWNSHIP, &h).await.unwrap();
    assert_eq!(a.events, b.events);
    assert_eq!(a.events.len(), 5);
    assert_eq!(a.derived(), b.derived());
    assert_eq!(a.derived().status, Status::Rectifying);
    assert_eq!(
        a.derived().supervising.map(|c| c.to_string()).as_deref(),
        Some(COUNTY)
    );
    // Projections agree too.
    let pa = m.store(COUNTY).hazard(&h).await.unwrap().unwrap();
    let pb = m.store(TOWNSHIP).hazard(&h).await.unwrap().unwrap();
    assert_eq!(pa.body, pb.body);
}

#[tokio::test]
async fn restart_from_store_keeps_everything_and_catches_up() {
    // 1. County and township in sync on a hazard.
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    m.connect(COUNTY, TOWNSHIP);
    let h = m
        .register_hazard(TOWNSHIP, Grade::General, "液氨储罐压力表失效")
        .await;
    m.run_until_quiet().await;
    let heads = m.assert_same_heads(&[COUNTY, TOWNSHIP], &h).await;
    let install = m.store(TOWNSHIP).install_id().to_string();
    let seq = m.store(TOWNSHIP).current_seq();

    // 2. The township goes down.
    m.cut(COUNTY, TOWNSHIP).await;
    m.stop(TOWNSHIP).await;

    // 3. Meanwhile the county writes: an event on the township's hazard and a directive to it.
    m.add_event(COUNTY, &h, EventKind::Escalate, "逾期未整改")
        .await;
    let d = m.issue_directive(COUNTY, &[TOWNSHIP], "停机期间下发").await;

    // 4. The township starts again from its database: same install, same seq, same documents.
    m.start(TOWNSHIP).await;
    assert_eq!(m.store(TOWNSHIP).install_id(), install);
    assert_eq!(m.store(TOWNSHIP).current_seq(), seq);
    assert_eq!(m.heads(TOWNSHIP, &h).await, Some(heads));
    assert!(!m.holds(TOWNSHIP, &d).await);

    // 5. It reconnects (with fresh link state machines) and catches up.
    m.connect(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &h).await;
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &d).await;
    assert_eq!(
        m.hazard(TOWNSHIP, &h).await.unwrap().derived().escalations,
        vec!["函告".to_string()]
    );

    // 6. And it pushes what it writes after the restart.
    m.respond(TOWNSHIP, &d, ResponseAction::Receive).await;
    m.run_until_quiet().await;
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &d).await;
}

#[tokio::test]
async fn restart_the_parent_side_too() {
    // The county (the accepting side) restarts while the township writes.
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    m.connect(COUNTY, TOWNSHIP);
    let h = m
        .register_hazard(TOWNSHIP, Grade::General, "有限空间作业无监护")
        .await;
    m.run_until_quiet().await;
    m.cut(COUNTY, TOWNSHIP).await;
    m.stop(COUNTY).await;
    m.add_event(TOWNSHIP, &h, EventKind::Plan, "").await;
    let h2 = m
        .register_hazard(TOWNSHIP, Grade::General, "县停机期间登记")
        .await;
    m.start(COUNTY).await;
    m.connect(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &h).await;
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &h2).await;
}

#[tokio::test]
async fn noop_reconnect_exchanges_only_hellos() {
    // 1. County and township, records on both sides, fully synced.
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    let first = m.connect(COUNTY, TOWNSHIP);
    let h = m
        .register_hazard(TOWNSHIP, Grade::General, "消防通道堵塞")
        .await;
    m.add_event(TOWNSHIP, &h, EventKind::Plan, "").await;
    m.issue_directive(COUNTY, &[TOWNSHIP], "汛期安全检查").await;
    m.run_until_quiet().await;
    m.add_event(COUNTY, &h, EventKind::Comment, "已阅").await;
    m.run_until_quiet().await;
    assert!(first.len() > 2);

    // 2. Cut, nothing written anywhere, reconnect.
    m.cut(COUNTY, TOWNSHIP).await;
    let seqs = (
        m.store(COUNTY).current_seq(),
        m.store(TOWNSHIP).current_seq(),
    );
    let t = m.connect(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;

    // 3. Exactly one hello each way and nothing else; nobody wrote anything.
    assert_eq!(
        t.kinds_from(TOWNSHIP),
        vec!["hello"],
        "township → county: {:?}",
        t.all()
    );
    assert_eq!(
        t.kinds_from(COUNTY),
        vec!["hello"],
        "county → township: {:?}",
        t.all()
    );
    assert_eq!(
        t.bytes_from(TOWNSHIP) + t.bytes_from(COUNTY),
        t.all().iter().map(|s| s.bytes).sum::<usize>()
    );
    assert_eq!(
        (
            m.store(COUNTY).current_seq(),
            m.store(TOWNSHIP).current_seq()
        ),
        seqs
    );
}

#[tokio::test]
async fn summary_goes_to_every_ancestor() {
    let all = [PROVINCE, CITY, COUNTY, TOWNSHIP];
    // 1. Four levels, connected.
    let mut m = Mesh::new(&all).await;
    m.connect_chain(&all);

    // 2. The township publishes its summary.
    m.put_summary(TOWNSHIP, 1, r#"{"hazards":{"total":3}}"#)
        .await;
    m.run_until_quiet().await;

    // 3. Every ancestor holds it, the province included.
    for c in [COUNTY, CITY, PROVINCE] {
        let s = m
            .summary(c, TOWNSHIP)
            .await
            .unwrap_or_else(|| panic!("{c} lacks the township's summary"));
        assert_eq!(
            (s.version, s.body.as_str()),
            (1, r#"{"hazards":{"total":3}}"#)
        );
    }

    // 4. A newer version replaces it everywhere; the county's own summary goes up too, not down.
    m.put_summary(TOWNSHIP, 2, r#"{"hazards":{"total":4}}"#)
        .await;
    m.put_summary(COUNTY, 1, r#"{"hazards":{"total":9}}"#).await;
    m.run_until_quiet().await;
    assert_eq!(m.summary(PROVINCE, TOWNSHIP).await.unwrap().version, 2);
    assert_eq!(m.summary(PROVINCE, COUNTY).await.unwrap().version, 1);
    assert!(
        m.summary(TOWNSHIP, COUNTY).await.is_none(),
        "summaries only go up"
    );
}

#[tokio::test]
async fn many_documents_flow_in_bounded_batches() {
    // 1. Small batches and a small window.
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    m.max_batch_items = 2;
    m.max_inflight = 2;
    // 2. Nine hazards written before the first connection.
    let mut ids = Vec::new();
    for i in 0..9 {
        ids.push(
            m.register_hazard(TOWNSHIP, Grade::General, &format!("隐患 {i}"))
                .await,
        );
    }
    // 3. Connect: all arrive, in several batches.
    let t = m.connect(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;
    for id in &ids {
        m.assert_same_heads(&[COUNTY, TOWNSHIP], id).await;
    }
    let batches = t
        .kinds_from(TOWNSHIP)
        .iter()
        .filter(|k| **k == "batch")
        .count();
    assert!(
        batches >= 5,
        "9 documents at 2 per batch: {:?}",
        t.kinds_from(TOWNSHIP)
    );
}

#[tokio::test]
async fn catch_up_reports_what_remains_and_counts_what_was_done() {
    // 1. Batches of 4, twenty hazards written before the first connection.
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    m.max_batch_items = 4;
    m.max_inflight = 1;
    for i in 0..20 {
        m.register_hazard(TOWNSHIP, Grade::General, &format!("隐患 {i}"))
            .await;
    }
    // 2. Connect and catch up.
    let t = m.connect(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;
    // 3. Each batch told the county what was still to come: 16, 12, 8, 4, then nothing.
    let remaining: Vec<u64> = t.remaining_from(TOWNSHIP).into_iter().collect();
    assert_eq!(&remaining[..5], &[16, 12, 8, 4, 0], "all: {remaining:?}");
    assert!(remaining[5..].iter().all(|r| *r == 0), "{remaining:?}");
    // 4. The county applied 20 documents and expects nothing more; the township had 20 acknowledged.
    let county = m
        .node(COUNTY)
        .registry
        .get(TOWNSHIP)
        .expect("county's link");
    assert_eq!(county.received_docs, 20);
    assert_eq!(county.to_receive_docs, 0);
    assert_eq!(county.to_receive_bytes, 0);
    let town = m
        .node(TOWNSHIP)
        .registry
        .get(COUNTY)
        .expect("township's link");
    assert_eq!(town.sent_docs, 20);
}

#[tokio::test]
async fn missing_history_falls_back_to_snapshot() {
    // 1. The township registers a hazard and adds an event (two changes).
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    let id = m
        .register_hazard(TOWNSHIP, Grade::General, "叉车无证驾驶")
        .await;
    let first_heads = m.heads(TOWNSHIP, &id).await.unwrap();
    m.add_event(TOWNSHIP, &id, EventKind::Plan, "").await;

    // 2. The township wrongly believes the county already holds the first change.
    {
        let mut w = m.store(TOWNSHIP).writer().await.unwrap();
        w.set_peer_heads(&code(COUNTY), &id, &first_heads)
            .await
            .unwrap();
        w.commit().await.unwrap();
    }

    // 3. Connect: the delta cannot apply at the county, which asks for a snapshot and gets it.
    let t = m.connect(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;
    assert!(
        t.kinds_from(COUNTY).contains(&"need_snapshot"),
        "{:?}",
        t.all()
    );
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &id).await;
    assert_eq!(m.hazard(COUNTY, &id).await.unwrap().events.len(), 2);
}

/// Cuts the county–township link; the township adds two events (`n`, `n + 1`) to `id` and wrongly
/// records that the county holds the first; then reconnects.
async fn lose_one(m: &mut Mesh, id: &str, n: usize) -> std::sync::Arc<Traffic> {
    m.cut(COUNTY, TOWNSHIP).await;
    m.add_event(TOWNSHIP, id, EventKind::Progress, &format!("断开期间 {n}"))
        .await;
    let believed = m.heads(TOWNSHIP, id).await.unwrap();
    m.add_event(
        TOWNSHIP,
        id,
        EventKind::Progress,
        &format!("断开期间 {}", n + 1),
    )
    .await;
    let mut w = m.store(TOWNSHIP).writer().await.unwrap();
    w.set_peer_heads(&code(COUNTY), id, &believed)
        .await
        .unwrap();
    w.commit().await.unwrap();
    m.connect(COUNTY, TOWNSHIP)
}

/// The county lacks one of the township's changes to a hazard it holds: the next delta cannot apply.
/// Instead of the whole document, the county reconciles it with Automerge's sync protocol (DESIGN
/// §5.6), and both keep the sync state, so the next such exchange opens from the shared heads.
#[tokio::test]
async fn missing_history_at_a_holder_is_reconciled_by_automerge_sync_with_a_kept_state() {
    // 1. The township's hazard with 40 progress events reaches the county.
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    m.connect(COUNTY, TOWNSHIP);
    let id = m
        .register_hazard(TOWNSHIP, Grade::General, "粉尘涉爆除尘系统未接地")
        .await;
    for i in 0..40 {
        m.add_event(
            TOWNSHIP,
            &id,
            EventKind::Progress,
            &format!("第 {i} 次整改进展"),
        )
        .await;
    }
    m.run_until_quiet().await;
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &id).await;

    // 2. Cut off, the township adds two more; it wrongly believes the county holds the first.
    let t = lose_one(&mut m, &id, 0).await;
    m.run_until_quiet().await;

    // 3. The county held the hazard, so it opened a sync exchange and asked for no snapshot; both
    //    now hold every change, and the county's cursor passed the hazard (run_until_quiet).
    let kinds = t.kinds_from(COUNTY);
    assert!(kinds.contains(&"doc_sync"), "{:?}", t.all());
    assert!(!kinds.contains(&"need_snapshot"), "{:?}", t.all());
    let heads = m.assert_same_heads(&[COUNTY, TOWNSHIP], &id).await;
    assert_eq!(
        m.hazard(COUNTY, &id).await.unwrap().events.len(),
        m.hazard(TOWNSHIP, &id).await.unwrap().events.len()
    );

    // 4. What the township sent for it is less than the whole document would have been.
    let sync_bytes = |t: &Traffic, from: &str| -> Vec<usize> {
        t.from(from)
            .iter()
            .filter(|s| s.kind == "doc_sync")
            .map(|s| s.bytes)
            .collect()
    };
    let snapshot = m.store(TOWNSHIP).raw_doc(&id).await.unwrap().unwrap().len();
    let answered: usize = sync_bytes(&t, TOWNSHIP).iter().sum();
    assert!(
        answered > 0 && answered < snapshot,
        "{answered} bytes of sync against a {snapshot}-byte document"
    );

    // 5. Both sides kept the sync state: it names the heads they now share.
    for (me, peer) in [(COUNTY, TOWNSHIP), (TOWNSHIP, COUNTY)] {
        let kept = m
            .store(me)
            .sync_state(&code(peer), &id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{me} kept no sync state for {peer}"));
        let shared = safemesh_sync::docsync::Session::new(Some(&kept)).shared_heads();
        let (mut shared, mut heads) = (shared, heads.clone());
        shared.sort();
        heads.sort();
        assert_eq!(shared, heads, "{me}");
    }

    // 6. No exchange is left open on either side once all is reconciled.
    for (me, peer) in [(COUNTY, TOWNSHIP), (TOWNSHIP, COUNTY)] {
        let status = m.node(me).registry.get(peer).unwrap();
        assert_eq!(status.doc_syncs, 0, "{me} still in exchanges with {peer}");
    }

    // 7. The same again: the county opens from the kept state, with a smaller first message.
    let first_open = sync_bytes(&t, COUNTY)[0];
    let t2 = lose_one(&mut m, &id, 2).await;
    m.run_until_quiet().await;
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &id).await;
    assert!(!t2.kinds_from(COUNTY).contains(&"need_snapshot"));
    let second_open = sync_bytes(&t2, COUNTY)[0];
    assert!(
        second_open < first_open,
        "opening from the kept state: {second_open} bytes, from nothing: {first_open}"
    );
}

#[tokio::test]
async fn forbidden_change_is_refused_and_the_document_quarantined() {
    // 1. The county issues a directive to the township; both hold it.
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    m.connect(COUNTY, TOWNSHIP);
    let d = m.issue_directive(COUNTY, &[TOWNSHIP], "原标题").await;
    m.run_until_quiet().await;
    let county_heads = m.assert_same_heads(&[COUNTY, TOWNSHIP], &d).await;

    // 2. The township rewrites the issuer's title (not its to write) and pushes it.
    m.forge_title(TOWNSHIP, &d, "篡改后的标题").await;

    // 3. The county refuses the batch and both ends close the stream.
    let closed = m.wait_closed(COUNTY, TOWNSHIP).await;
    assert!(
        closed.child_reason.contains("issuer_only") || closed.parent_reason.contains("issuer_only"),
        "{closed:?}"
    );

    // 4. Nothing of it was stored at the county; the township quarantined the document on this link.
    assert_eq!(m.heads(COUNTY, &d).await, Some(county_heads));
    assert_eq!(m.directive(COUNTY, &d).await.unwrap().core.title, "原标题");
    let link = m.parked_link(TOWNSHIP, COUNTY).unwrap();
    assert!(link.quarantined().contains(&d), "{:?}", link.quarantined());
    let county_err = m
        .node(COUNTY)
        .registry
        .get(TOWNSHIP)
        .unwrap()
        .last_error
        .unwrap_or_default();
    assert!(
        county_err.contains("issuer_only"),
        "the county logs the rejection: {county_err}"
    );

    // 5. Reconnected, the link works for everything else and leaves the quarantined document out.
    m.connect(COUNTY, TOWNSHIP);
    let h = m
        .register_hazard(TOWNSHIP, Grade::General, "隔离之后登记")
        .await;
    m.run_until_quiet().await;
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &h).await;
    assert_eq!(m.directive(COUNTY, &d).await.unwrap().core.title, "原标题");
    assert_eq!(
        m.node(TOWNSHIP).registry.get(COUNTY).unwrap().quarantined,
        vec![d.clone()]
    );
}

/// Operators should see the quarantine as soon as the refused stream closes, not only once the link
/// reconnects: `run_link`'s final registry update (after the loop) does not copy `quarantined`.
#[tokio::test]
async fn status_shows_quarantine_as_soon_as_the_stream_closes() {
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    m.connect(COUNTY, TOWNSHIP);
    let d = m.issue_directive(COUNTY, &[TOWNSHIP], "原标题").await;
    m.run_until_quiet().await;
    m.forge_title(TOWNSHIP, &d, "篡改后的标题").await;
    m.wait_closed(COUNTY, TOWNSHIP).await;
    let st = m.node(TOWNSHIP).registry.get(COUNTY).unwrap();
    assert_eq!(st.quarantined, vec![d.clone()], "{st:?}");
}

#[tokio::test]
async fn three_hop_push_without_reconnect() {
    // A change at the township reaches the province over already-open links, each hop a push.
    let all = [PROVINCE, CITY, COUNTY, TOWNSHIP];
    let mut m = Mesh::new(&all).await;
    m.connect_chain(&all);
    m.run_until_quiet().await;
    let id = m
        .register_hazard(TOWNSHIP, Grade::Major, "尾矿库排洪设施堵塞")
        .await;
    m.run_until_quiet().await;
    m.add_event(TOWNSHIP, &id, EventKind::Plan, "").await;
    m.run_until_quiet().await;
    m.assert_same_heads(&all, &id).await;
}

#[tokio::test(flavor = "current_thread")]
async fn restored_node_is_repaired_by_digests_not_by_resending_everything() {
    // 1. A township with 120 hazards, synced with its county; the county reviews one of them.
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    let first = m.connect(COUNTY, TOWNSHIP);
    let mut ids = Vec::new();
    for i in 0..120 {
        ids.push(
            m.register_hazard(TOWNSHIP, Grade::General, &format!("隐患{i}"))
                .await,
        );
    }
    m.issue_directive(COUNTY, &[TOWNSHIP], "汛期安全检查").await;
    m.run_until_quiet().await;
    let bootstrap_docs = first.docs_from(TOWNSHIP) + first.docs_from(COUNTY);
    assert!(bootstrap_docs >= 121, "{bootstrap_docs}");

    // 2. The township is backed up while stopped, then work goes on on both sides.
    m.cut(COUNTY, TOWNSHIP).await;
    m.stop(TOWNSHIP).await;
    m.backup(TOWNSHIP, "bak");
    m.start(TOWNSHIP).await;
    m.connect(COUNTY, TOWNSHIP);
    let after_backup = m
        .register_hazard(TOWNSHIP, Grade::General, "备份后登记")
        .await;
    m.add_event(COUNTY, &ids[0], EventKind::Comment, "县级复核意见")
        .await;
    m.run_until_quiet().await;

    // 3. The township's disk is lost: the backup is restored with a new install id. While it was
    //    down the county commented on another hazard; once back, the township writes too.
    m.cut(COUNTY, TOWNSHIP).await;
    m.stop(TOWNSHIP).await;
    m.restore(TOWNSHIP, "bak").await;
    m.start(TOWNSHIP).await;
    m.add_event(COUNTY, &ids[1], EventKind::Comment, "断连期间的意见")
        .await;
    let after_restore = m
        .register_hazard(TOWNSHIP, Grade::General, "恢复后登记")
        .await;
    let t = m.connect(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;

    // 4. Both hold everything at the same heads: what the backup lacked came back, the new write went up.
    for id in ids.iter().chain([&after_backup, &after_restore]) {
        m.assert_same_heads(&[COUNTY, TOWNSHIP], id).await;
    }
    let h0 = m.hazard(TOWNSHIP, &ids[0]).await.unwrap();
    assert!(
        h0.events
            .iter()
            .any(|e| e.note.as_deref() == Some("县级复核意见")),
        "{:?}",
        h0.events
    );

    // 5. Each side asked for the other's digest, and only the documents that differ crossed: the
    //    county sends the hazard the backup lacks and the two it commented on; the township its new
    //    hazard, and at most twice the two it is behind on (once whole, as it cannot read the county's
    //    heads for them; once more when the ack of that batch records the heads it sent over the newer
    //    ones the county's delta brought). Not 122.
    assert!(
        t.kinds_from(TOWNSHIP).contains(&"digest_request"),
        "{:?}",
        t.all()
    );
    assert!(
        t.kinds_from(COUNTY).contains(&"digest_request"),
        "{:?}",
        t.all()
    );
    assert!(t.kinds_from(TOWNSHIP).contains(&"digest_reply"));
    let (from_county, from_township) = (t.docs_from(COUNTY), t.docs_from(TOWNSHIP));
    assert!(
        from_county <= 3,
        "county sent {from_county} documents: {:?}",
        t.all()
    );
    assert!(
        (1..=5).contains(&from_township),
        "township sent {from_township} documents: {:?}",
        t.all()
    );
    let bytes = t.bytes_from(COUNTY) + t.bytes_from(TOWNSHIP);
    let full = first.bytes_from(COUNTY) + first.bytes_from(TOWNSHIP);
    assert!(bytes * 5 < full, "repair {bytes} B vs bootstrap {full} B");

    // 6. From now on a reconnect is hellos only again.
    m.cut(COUNTY, TOWNSHIP).await;
    let t = m.connect(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;
    assert_eq!(t.kinds_from(TOWNSHIP), vec!["hello"], "{:?}", t.all());
    assert_eq!(t.kinds_from(COUNTY), vec!["hello"], "{:?}", t.all());
}

#[tokio::test(flavor = "current_thread")]
async fn a_document_the_receiver_cannot_read_is_set_aside_and_the_rest_goes_on() {
    // 1. While cut off, the township writes A, holds a hazard the county's build cannot read (a
    //    grade it does not know), then writes B.
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    m.connect(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;
    m.cut(COUNTY, TOWNSHIP).await;
    let a = m.register_hazard(TOWNSHIP, Grade::General, "甲").await;
    let bad = plant_unreadable_hazard(&mut m, TOWNSHIP, COUNTY).await;
    let b = m.register_hazard(TOWNSHIP, Grade::General, "乙").await;

    // 2. The county refuses the batch naming the document, typed and with the rule; the stream closes.
    m.connect(COUNTY, TOWNSHIP);
    let closed = m.wait_closed(COUNTY, TOWNSHIP).await;
    assert!(
        format!("{closed:?}").contains(&bad),
        "the error names the document: {closed:?}"
    );
    let county_err = m
        .node(COUNTY)
        .registry
        .get(TOWNSHIP)
        .unwrap()
        .last_error
        .unwrap_or_default();
    assert!(county_err.contains("cannot read"), "{county_err}");
    assert!(!m.holds(COUNTY, &bad).await);

    // 3. The township set it aside on this link; reconnected, everything else goes through.
    let link = m.parked_link(TOWNSHIP, COUNTY).unwrap();
    assert!(
        link.quarantined().contains(&bad),
        "{:?}",
        link.quarantined()
    );
    m.connect(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &a).await;
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &b).await;
    assert!(!m.holds(COUNTY, &bad).await);
    assert_eq!(
        m.node(TOWNSHIP).registry.get(COUNTY).unwrap().quarantined,
        vec![bad.clone()]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_repair_cut_off_before_it_finished_runs_again_and_then_is_done() {
    // 1. Synced; then the county's store says its repair with the township never finished (as when
    //    a stream drops between the digest request and the reply's last frame).
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    m.connect(COUNTY, TOWNSHIP);
    let h = m.register_hazard(TOWNSHIP, Grade::General, "甲").await;
    m.run_until_quiet().await;
    m.cut(COUNTY, TOWNSHIP).await;
    let township = code(TOWNSHIP);
    let mut w = m.store(COUNTY).writer().await.unwrap();
    w.set_repair_pending(&township, true).await.unwrap();
    w.commit().await.unwrap();
    // 2. The next stream runs the digest again, and the mark is cleared once it is settled.
    let t = m.connect(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;
    assert!(
        t.kinds_from(COUNTY).contains(&"digest_request"),
        "{:?}",
        t.all()
    );
    assert!(!m.store(COUNTY).repair_pending(&township).await.unwrap());
    assert_eq!(
        t.docs_from(COUNTY) + t.docs_from(TOWNSHIP),
        0,
        "{:?}",
        t.all()
    );
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &h).await;
    // 3. After that, a reconnect is hellos only.
    m.cut(COUNTY, TOWNSHIP).await;
    let t = m.connect(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;
    assert_eq!(t.kinds_from(COUNTY), vec!["hello"], "{:?}", t.all());
}

#[tokio::test]
async fn township_change_reaches_province_after_partition_heals() {
    // 1. Four levels, connected and quiet.
    let all = [PROVINCE, CITY, COUNTY, TOWNSHIP];
    let mut m = Mesh::new(&all).await;
    m.connect_chain(&all);
    m.run_until_quiet().await;

    // 2. The city–county link goes down; the township registers a major hazard.
    m.cut(CITY, COUNTY).await;
    let id = m
        .register_hazard(TOWNSHIP, Grade::Major, "危化品仓库超量储存")
        .await;
    m.run_until_quiet().await;

    // 3. It reaches the county and stops there.
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &id).await;
    assert!(!m.holds(CITY, &id).await && !m.holds(PROVINCE, &id).await);

    // 4. The county restarts from its store (its links cut first) and comes back below and above.
    m.cut(COUNTY, TOWNSHIP).await;
    m.restart(COUNTY).await;
    m.connect(COUNTY, TOWNSHIP);
    m.heal(CITY, COUNTY);
    m.run_until_quiet().await;

    // 5. The hazard is at the province, with the same heads at every level.
    m.assert_same_heads(&all, &id).await;
}

/// The rate limit's pause passes on the mesh's virtual clock: each frame the county reads after its
/// one-frame burst costs exactly 1/rate of virtual time, whatever SQLite took meanwhile.
#[tokio::test]
async fn a_rate_limited_link_catches_up_on_the_virtual_clock() {
    // 1. The county reads at most 2 frames a second, with a burst of 1; small batches.
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    m.max_batch_items = 2;
    m.configure(COUNTY, |cfg| {
        cfg.rate = RateLimit {
            frames_per_sec: 2.0,
            frame_burst: 1.0,
            ..RateLimit::unlimited()
        }
    });
    let mut ids = Vec::new();
    for i in 0..9 {
        ids.push(
            m.register_hazard(TOWNSHIP, Grade::General, &format!("限速 {i}"))
                .await,
        );
    }

    // 2. Connect and run until quiet: everything arrives.
    let start = m.now();
    let t = m.connect(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;
    for id in &ids {
        m.assert_same_heads(&[COUNTY, TOWNSHIP], id).await;
    }

    // 3. The township's hello went through on the burst; every later frame waited half a second.
    let frames = t.from(TOWNSHIP).len();
    assert!(frames >= 6, "hello and at least 5 batches: {:?}", t.all());
    let took = m.now() - start;
    assert_eq!(
        took,
        Duration::from_millis(500) * (frames as u32 - 1),
        "{frames} frames"
    );
}

/// Plants at node `c` a hazard its own build could not read into its records (a grade no build
/// knows, as a newer build or a damaged disk might leave), written straight into the tables under
/// the node's current seq, bypassing the projection. Its audience is `c` and `parent`.
async fn plant_unreadable_hazard(m: &mut Mesh, c: &str, parent: &str) -> String {
    let id = m.next_id("h", c);
    let node = m.node(c);
    let core = test_core(&node.code, Grade::General, "读不懂的隐患");
    let mut doc = AutoCommit::new().with_actor(node.actor());
    hazard::create(&mut doc, &node.code, "tester", &now(), &core).expect("create hazard");
    let core_obj = match doc.get(ROOT, "core").expect("get core") {
        Some((automerge::Value::Object(ObjType::Map), obj)) => obj,
        other => panic!("core is {other:?}"),
    };
    doc.put(&core_obj, "grade", "第五级").expect("put grade");
    commit(&mut doc, &node.code);
    check_local(&id, &mut doc, &[]).expect("the owner may write its core");
    let store = node.store();
    let heads = serde_json::to_string(&heads_to_hex(&doc.get_heads())).unwrap();
    sqlx::query("INSERT INTO documents (id, kind, owner, heads, snapshot, seq, updated_at) VALUES ($1, 'hazard', $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(c)
        .bind(&heads)
        .bind(doc.save())
        .bind(store.current_seq())
        .bind(now())
        .execute(store.pool())
        .await
        .expect("plant document");
    for code in [c, parent] {
        sqlx::query("INSERT INTO doc_audience (doc_id, code, subtree) VALUES ($1, $2, 0)")
            .bind(&id)
            .bind(code)
            .execute(store.pool())
            .await
            .expect("plant audience");
    }
    id
}

/// `n` CJK characters that do not repeat in any pattern a compressor would find.
fn noise(seed: u64, n: usize) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_u32(0x4e00 + (x % 0x5000) as u32).unwrap_or('字')
        })
        .collect()
}

/// A hazard at the township with `events` progress notes of 600 incompressible characters each
/// (about 1.8 KiB of changes each).
async fn large_hazard(m: &mut Mesh, title: &str, events: u64) -> String {
    let id = m.register_hazard(TOWNSHIP, Grade::General, title).await;
    for n in 0..events {
        m.add_event(TOWNSHIP, &id, EventKind::Progress, &noise(n + 1, 600))
            .await;
    }
    id
}

/// Issue 19 #9: a document larger than a frame still gets through, fresh or asked for whole (a
/// "forced" snapshot, after a delta could not apply at a receiver that lacks the document). The
/// township's batches have an 8 KiB budget; the county refuses any batch over 32 KiB, as a frame
/// limit would. Both documents are over 40 KiB: sent whole, neither could ever arrive (the batch
/// is refused, the stream closes, the next stream sends it whole again). They go in parts, each
/// a delta of the next changes, and every batch stays within the frame.
#[tokio::test]
async fn a_document_larger_than_a_frame_goes_in_parts_fresh_and_when_asked_whole() {
    let mut m = Mesh::new(&[COUNTY, TOWNSHIP]).await;
    m.configure(TOWNSHIP, |c| c.max_batch_bytes = 8 << 10);
    m.configure(COUNTY, |c| c.recv.max_batch_bytes = 32 << 10);
    let fresh = large_hazard(&mut m, "大文档 一", 40).await;
    let asked = large_hazard(&mut m, "大文档 二", 40).await;
    for id in [&fresh, &asked] {
        let bytes = m
            .store(TOWNSHIP)
            .load(id)
            .await
            .unwrap()
            .unwrap()
            .save()
            .len();
        assert!(
            bytes > 40 << 10,
            "{id}: {bytes} bytes, want a document over a frame"
        );
    }
    // The township wrongly believes the county holds the first change of `asked`: its delta cannot
    // apply at the county, which holds nothing of it and asks for it whole.
    let first = {
        let mut doc = m.store(TOWNSHIP).load(&asked).await.unwrap().unwrap();
        let c = doc.get_changes(&[]);
        vec![c[0].hash().to_string()]
    };
    {
        let mut w = m.store(TOWNSHIP).writer().await.unwrap();
        w.set_peer_heads(&code(COUNTY), &asked, &first)
            .await
            .unwrap();
        w.commit().await.unwrap();
    }

    let t = m.connect(COUNTY, TOWNSHIP);
    m.run_until_quiet().await;

    assert!(
        t.kinds_from(COUNTY).contains(&"need_snapshot"),
        "the county asked for `asked` whole: {:?}",
        t.kinds_from(COUNTY)
    );
    assert!(
        !t.kinds_from(COUNTY).contains(&"error"),
        "no batch was refused: {}",
        m.status()
    );
    let batches: Vec<usize> = t
        .from(TOWNSHIP)
        .iter()
        .filter(|s| s.kind == "batch")
        .map(|s| s.bytes)
        .collect();
    assert!(batches.len() > 4, "sent in parts: {batches:?}");
    assert!(
        batches.iter().all(|b| *b <= 32 << 10),
        "every batch within the frame: {batches:?}"
    );
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &fresh).await;
    m.assert_same_heads(&[COUNTY, TOWNSHIP], &asked).await;
    assert_eq!(m.hazard(COUNTY, &asked).await.unwrap().events.len(), 41);
    // Nothing is left awaited: the county's cursor reached the township's seq.
    let county = m.store(COUNTY).link(&code(TOWNSHIP)).await.unwrap();
    assert_eq!(county.recv_cursor, m.store(TOWNSHIP).current_seq());
}
