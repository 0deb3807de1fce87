//! Checking a whole document received as a snapshot: the append-at-end rule must hold for every
//! change of its history, whether the check can follow the lists' tails along a chain of changes or
//! has to ask Automerge about the past (a forked history).

use automerge::{ActorId, ROOT, ReadDoc, transaction::Transactable};
use safemesh_doc::actor::actor_id;
use safemesh_doc::authority::{Origin, check_snapshot};
use safemesh_doc::hazard::{self, Enterprise, HazardCore};
use safemesh_doc::{AutoCommit, Error};
use safemesh_model::AdminCode;
use safemesh_model::hazard::{Channel, EventKind, Grade, HazardEvent, facts};

const TWP: &str = "530181006";
const COUNTY: &str = "530181";

fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).unwrap()
}

fn actor(s: &str) -> ActorId {
    actor_id(&code(s), b"snap")
}

fn registered(grade: Grade) -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(actor(TWP));
    let core = HazardCore {
        title: "配电箱未接地".into(),
        sector: "消防".into(),
        sector_detail: None,
        grade,
        channel: Channel::Inspection,
        subject: Default::default(),
        responsible_unit: String::new(),
        enterprise: Enterprise {
            name: "某商户".into(),
            credit_code: String::new(),
            credit_code_override: None,
        },
        number: facts::format_number(&code(TWP), 2026, 1),
        inspection_mode: Some("四不两直".into()),
        found_by_level: code(TWP),
        found_on: "2026-10-30".into(),
        stock: facts::Stock::New,
        location: facts::Location {
            division: TWP.into(),
            address: String::new(),
        },
        basis: facts::Basis {
            standard: "《建筑设计防火规范》".into(),
            clause: "10.2".into(),
        },
        deadline: "2027-06-30".into(),
        description: String::new(),
    };
    hazard::create(&mut doc, &code(TWP), "张三", "2026-11-01T08:00:00Z", &core).unwrap();
    doc.commit();
    doc
}

fn event(kind: EventKind, by: &str) -> HazardEvent {
    HazardEvent {
        kind,
        at: "2026-11-02T08:00:00Z".into(),
        by: code(by),
        user: "user".into(),
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
    }
}

fn append(doc: &mut AutoCommit, who: &str, kind: EventKind) {
    doc.set_actor(actor(who));
    hazard::append_event(doc, &event(kind, who)).unwrap();
    doc.commit();
}

/// Inserts an event map at `index` of the events list (0 = before everything: backdating).
fn insert_event_at(doc: &mut AutoCommit, who: &str, index: usize) {
    doc.set_actor(actor(who));
    let events = doc.get(ROOT, "events").unwrap().unwrap().1;
    let m = doc
        .insert_object(&events, index, automerge::ObjType::Map)
        .unwrap();
    doc.put(&m, "kind", "progress").unwrap();
    doc.put(&m, "by", who).unwrap();
    doc.put(&m, "at", "2026-01-01T00:00:00Z").unwrap();
    doc.put(&m, "user", "user").unwrap();
    doc.commit();
}

fn check(doc: &mut AutoCommit) -> Result<usize, Error> {
    let copy = AutoCommit::load(&doc.save()).unwrap();
    check_snapshot("h-snap", copy, &Origin::Parent(code(COUNTY))).map(|c| c.applied)
}

#[test]
fn snapshot_with_a_chain_of_appends_is_accepted() {
    let mut doc = registered(Grade::General);
    for _ in 0..5 {
        append(&mut doc, TWP, EventKind::Progress);
    }
    assert_eq!(check(&mut doc).unwrap(), 6);
}

#[test]
fn snapshot_whose_later_change_backdates_an_event_is_refused() {
    // registered, progress, then an event slipped in before the first one.
    let mut doc = registered(Grade::General);
    append(&mut doc, TWP, EventKind::Progress);
    insert_event_at(&mut doc, TWP, 0);
    match check(&mut doc) {
        Err(Error::Forbidden { rule, .. }) => assert_eq!(rule, "append_only"),
        other => panic!("expected append_only, got {other:?}"),
    }
}

#[test]
fn snapshot_whose_later_change_inserts_in_the_middle_is_refused() {
    let mut doc = registered(Grade::General);
    append(&mut doc, TWP, EventKind::Progress);
    append(&mut doc, TWP, EventKind::Progress);
    insert_event_at(&mut doc, TWP, 1);
    match check(&mut doc) {
        Err(Error::Forbidden { rule, .. }) => assert_eq!(rule, "append_only"),
        other => panic!("expected append_only, got {other:?}"),
    }
}

#[test]
fn snapshot_with_a_forked_history_is_checked_against_the_past() {
    // The township and the county append concurrently; both merged, then one more append on top.
    let mut doc = registered(Grade::General);
    let mut county = doc.fork();
    append(&mut doc, TWP, EventKind::Progress);
    append(&mut county, COUNTY, EventKind::Comment);
    doc.merge(&mut county).unwrap();
    append(&mut doc, TWP, EventKind::Progress);
    assert_eq!(check(&mut doc).unwrap(), 4);

    // The same fork, but the last change backdates: still refused without the chain shortcut.
    let mut bad = registered(Grade::General);
    let mut county = bad.fork();
    append(&mut bad, TWP, EventKind::Progress);
    append(&mut county, COUNTY, EventKind::Comment);
    bad.merge(&mut county).unwrap();
    insert_event_at(&mut bad, TWP, 0);
    match check(&mut bad) {
        Err(Error::Forbidden { rule, .. }) => assert_eq!(rule, "append_only"),
        other => panic!("expected append_only, got {other:?}"),
    }
}
