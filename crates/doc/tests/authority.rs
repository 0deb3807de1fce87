//! 写入权限矩阵 — the write-authority table of DESIGN §4, rule by rule.
//!
//! Every refusal asserts the rule that fired and that the base document is untouched (same heads).
//! Forbidden changes are forged directly with Automerge's transaction API on a fork that carries the
//! offending actor, exactly as a hostile or buggy peer would produce them.
//!
//! The tests at the end (section "gaps") pin behaviour DESIGN §4 asks for that `authority.rs` does not
//! enforce yet; they fail until it does. Each one's doc comment says what is missing.

use automerge::{ActorId, ObjId, ObjType, ROOT, ReadDoc, transaction::Transactable};
use safemesh_doc::actor::actor_id;
use safemesh_doc::authority::{Checked, Origin, check_and_apply, check_local};
use safemesh_doc::directive::{self, DirectiveCore};
use safemesh_doc::hazard::{self, Enterprise, HazardCore};
use safemesh_doc::{AutoCommit, Change, Error};
use safemesh_model::AdminCode;
use safemesh_model::directive::{
    Reminder, ResponseAction, ResponseUpdate, Review, ReviewDecision, ReviewState,
};
use safemesh_model::hazard::facts::{Basis, Location, Stock};
use safemesh_model::hazard::{Channel, EventKind, Grade, HazardEvent, Plan, Status, fold};

const PROV: &str = "53";
const CITY: &str = "5301";
const COUNTY: &str = "530181";
const TWP: &str = "530181006";
/// A sibling township under the same county.
const TWP_B: &str = "530181007";
/// A township under the same county that is not a target of the directive.
const TWP_C: &str = "530181008";
/// A township of another county of the same city.
const OTHER_TWP: &str = "530102001";

const NOW: &str = "2026-11-01T08:00:00Z";

fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).unwrap()
}

fn origin_child(s: &str) -> Origin {
    Origin::Child(code(s))
}

fn origin_parent(s: &str) -> Origin {
    Origin::Parent(code(s))
}

/// The actor of the one install of office `s`.
fn actor(s: &str) -> ActorId {
    actor_id(&code(s), format!("install-{s}").as_bytes())
}

fn hazard_core(grade: Grade) -> HazardCore {
    HazardCore {
        number: "530181006-2026-0001".into(),
        title: "液氨储罐区未设置泄漏报警装置".into(),
        sector: "危险化学品".into(),
        sector_detail: None,
        grade,
        channel: Channel::Inspection,
        inspection_mode: Some("四不两直".into()),
        found_by_level: code(COUNTY),
        found_on: "2026-10-30".into(),
        stock: Stock::New,
        subject: Default::default(),
        responsible_unit: String::new(),
        enterprise: Enterprise {
            name: "安宁某化工有限公司".into(),
            credit_code: "91530181MA6XXXXXXX".into(),
            credit_code_override: None,
        },
        location: Location {
            division: "530181006201".into(),
            address: "禄脿街道某村化工园区".into(),
        },
        basis: Basis {
            standard: "《化工和危险化学品生产经营单位重大生产安全事故隐患判定标准（试行）》".into(),
            clause: "第十五条".into(),
        },
        deadline: "2026-12-31".into(),
        description: "储罐区缺少有毒气体泄漏检测报警".into(),
    }
}

/// A hazard registered by `owner`, as the owner holds it after its first commit.
fn registered_hazard(owner: &str, grade: Grade) -> AutoCommit {
    let mut doc = AutoCommit::new();
    doc.set_actor(actor(owner));
    hazard::create(&mut doc, &code(owner), "张三", NOW, &hazard_core(grade)).unwrap();
    doc.commit();
    doc
}

/// An event; a plan event carries a complete plan (a major hazard is reported rectified only with one).
fn ev(kind: EventKind, by: &str) -> HazardEvent {
    HazardEvent {
        user: "user".into(),
        plan: (kind == EventKind::Plan).then(|| Plan {
            responsible_unit: "某化工有限公司".into(),
            responsible_person: "李四".into(),
            measures: "增设紧急切断阀".into(),
            funds_wan: 12.5,
            deadline: "2026-12-31".into(),
            contingency_plan: "限量储存，专人巡检".into(),
        }),
        ..HazardEvent::new(kind, code(by), NOW)
    }
}

/// The owner's notify of both recipients, which a major hazard needs before it moves.
fn notify_both(by: &str) -> HazardEvent {
    HazardEvent {
        method: Some("书面告知".into()),
        recipients: vec!["主要负责人".into(), "实际控制人".into()],
        ..ev(EventKind::Notify, by)
    }
}

fn supervise(by: &str, level: &str) -> HazardEvent {
    HazardEvent {
        level: Some(code(level)),
        ..ev(EventKind::Supervise, by)
    }
}

fn escalate(by: &str, method: &str) -> HazardEvent {
    HazardEvent {
        method: Some(method.into()),
        reply_by: Some("2026-12-15".into()),
        ..ev(EventKind::Escalate, by)
    }
}

/// Writes as office `who` on a fork of `base` and returns the changes `base` does not have.
fn write_as(base: &mut AutoCommit, who: &str, f: impl FnOnce(&mut AutoCommit)) -> Vec<Change> {
    write_as_actor(base, actor(who), f)
}

fn write_as_actor(
    base: &mut AutoCommit,
    who: ActorId,
    f: impl FnOnce(&mut AutoCommit),
) -> Vec<Change> {
    let mut fork = base.fork();
    fork.set_actor(who);
    f(&mut fork);
    fork.commit();
    let heads = base.get_heads();
    let changes = fork.get_changes(&heads);
    assert!(!changes.is_empty(), "the writer produced no change");
    changes
}

/// Appends one event as office `who`.
fn append_as(base: &mut AutoCommit, who: &str, e: &HazardEvent) -> Vec<Change> {
    write_as(base, who, |d| hazard::append_event(d, e).unwrap())
}

fn events_obj(doc: &AutoCommit) -> ObjId {
    doc.get(ROOT, "events").unwrap().expect("events list").1
}

fn core_obj(doc: &AutoCommit) -> ObjId {
    doc.get(ROOT, "core").unwrap().expect("core map").1
}

fn header_obj(doc: &AutoCommit) -> ObjId {
    doc.get(ROOT, "header").unwrap().expect("header map").1
}

fn event_obj(doc: &AutoCommit, i: usize) -> ObjId {
    let events = events_obj(doc);
    doc.get(&events, i).unwrap().expect("event").1
}

/// The check must refuse `changes` with `Error::Forbidden { rule }` and leave `base` as it was.
#[track_caller]
fn assert_refused(
    base: &mut AutoCommit,
    changes: Vec<Change>,
    origin: Origin,
    rule: &str,
) -> String {
    let before = base.get_heads();
    let path = match check_and_apply("doc-under-test", Some(base), changes, &origin) {
        Ok(c) => panic!(
            "expected refusal by rule {rule}, but {} change(s) were accepted",
            c.applied
        ),
        Err(Error::Forbidden {
            rule: got, path, ..
        }) => {
            assert_eq!(got, rule, "refused, but by another rule (path {path})");
            path
        }
        Err(e) => panic!("expected Forbidden by rule {rule}, got {e:?}"),
    };
    assert_eq!(
        base.get_heads(),
        before,
        "a refused batch must leave the base document unchanged"
    );
    path
}

/// The check must accept `changes`; returns the checked document.
#[track_caller]
fn assert_accepted(base: Option<&mut AutoCommit>, changes: Vec<Change>, origin: Origin) -> Checked {
    let n = changes.len();
    match check_and_apply("doc-under-test", base, changes, &origin) {
        Ok(c) => {
            assert_eq!(c.applied, n, "every change of the batch is new here");
            c
        }
        Err(e) => panic!("expected acceptance, got {e:?}"),
    }
}

// ---------------------------------------------------------------------------------------------------
// Hazards: refusals
// ---------------------------------------------------------------------------------------------------

#[test]
fn township_cannot_supervise_its_own_general_hazard() {
    let mut doc = registered_hazard(TWP, Grade::General);
    let changes = append_as(&mut doc, TWP, &supervise(TWP, TWP));
    let path = assert_refused(&mut doc, changes, origin_child(TWP), "superior_only");
    assert_eq!(path, "events[].kind");
}

/// Issue 17: an office lists (挂牌督办) a major hazard it registered itself — a county its own finding —
/// as the levels above may; relayed up, the listing is accepted at the parent.
#[test]
fn an_office_may_list_its_own_major_hazard() {
    let mut doc = registered_hazard(COUNTY, Grade::Major);
    let changes = append_as(&mut doc, COUNTY, &supervise(COUNTY, COUNTY));
    let doc = assert_accepted(Some(&mut doc), changes, origin_child(COUNTY)).doc;
    let (grade, events) = (Grade::Major, hazard::read(&doc).unwrap().events);
    assert_eq!(fold(grade, &events).supervising, Some(code(COUNTY)));
}

/// 督办编号, 督办要求 and 督办期限 belong to a listing: carried by any other event (here the owner's
/// comment dating a 督办期限) they are refused on every hop.
#[test]
fn listing_fields_only_on_a_supervise_event() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    let forged = HazardEvent {
        due: Some("2099-12-31".into()),
        ..ev(EventKind::Comment, TWP)
    };
    let changes = append_as(&mut doc, TWP, &forged);
    let path = assert_refused(
        &mut doc,
        changes,
        origin_child(TWP),
        "listing_fields_on_supervise_only",
    );
    assert_eq!(path, "events[].due");
    let listed = HazardEvent {
        number: Some("禄安办督〔2026〕3号".into()),
        requirements: Some("限期整改".into()),
        due: Some("2099-12-31".into()),
        ..supervise(COUNTY, COUNTY)
    };
    let changes = append_as(&mut doc, COUNTY, &listed);
    assert_accepted(Some(&mut doc), changes, origin_parent(COUNTY));
}

/// 摘牌: only an office whose listing stands lifts it — not the owner, not another superior — over
/// either link; the listing office may (whether the lift applies, after acceptance, is the fold's).
#[test]
fn only_the_listing_office_lifts_its_listing() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    let c = append_as(&mut doc, CITY, &supervise(CITY, CITY));
    doc = assert_accepted(Some(&mut doc), c, origin_parent(COUNTY)).doc;
    for (who, origin) in [
        (TWP, origin_child(TWP)),
        (COUNTY, origin_parent(COUNTY)),
        (PROV, origin_parent(COUNTY)),
    ] {
        let changes = append_as(&mut doc, who, &ev(EventKind::Lift, who));
        let path = assert_refused(&mut doc, changes, origin, "listing_office_lifts");
        assert_eq!(path, "events[].kind", "{who}");
    }
    let changes = append_as(&mut doc, CITY, &ev(EventKind::Lift, CITY));
    assert_accepted(Some(&mut doc), changes, origin_parent(COUNTY));
}

#[test]
fn township_cannot_escalate_its_own_hazard() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    let changes = append_as(&mut doc, TWP, &escalate(TWP, "约谈"));
    assert_refused(&mut doc, changes, origin_child(TWP), "superior_only");
}

#[test]
fn county_cannot_edit_township_hazard_core() {
    let mut doc = registered_hazard(TWP, Grade::General);
    let changes = write_as(&mut doc, COUNTY, |d| {
        let core = core_obj(d);
        d.put(&core, "title", "x").unwrap();
    });
    let path = assert_refused(&mut doc, changes, origin_parent(COUNTY), "owner_only");
    assert_eq!(path, "core.title");

    // Nor the enterprise inside it, nor the deadline, nor a new top-level field.
    let changes = write_as(&mut doc, COUNTY, |d| {
        let core = core_obj(d);
        let ent = d.get(&core, "enterprise").unwrap().unwrap().1;
        d.put(&ent, "name", "别的公司").unwrap();
    });
    assert_eq!(
        assert_refused(&mut doc, changes, origin_parent(COUNTY), "owner_only"),
        "core.enterprise.name"
    );
    let changes = write_as(&mut doc, COUNTY, |d| {
        let core = core_obj(d);
        d.put(&core, "deadline", "2030-01-01").unwrap();
    });
    assert_refused(&mut doc, changes, origin_parent(COUNTY), "owner_only");
    let changes = write_as(&mut doc, COUNTY, |d| {
        d.put(ROOT, "extra", "x").unwrap();
    });
    assert_eq!(
        assert_refused(&mut doc, changes, origin_parent(COUNTY), "owner_only"),
        "extra"
    );
}

#[test]
fn province_cannot_edit_header_of_a_township_hazard() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    let changes = write_as(&mut doc, PROV, |d| {
        let h = header_obj(d);
        d.put(&h, "owner", PROV).unwrap();
    });
    let path = assert_refused(&mut doc, changes, origin_parent(COUNTY), "owner_only");
    assert_eq!(path, "header.owner");
}

#[test]
fn superior_cannot_add_owner_events() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    for kind in [
        EventKind::Plan,
        EventKind::Progress,
        EventKind::Rectified,
        EventKind::Reopen,
        EventKind::Notify,
        EventKind::Registered,
    ] {
        let changes = append_as(&mut doc, PROV, &ev(kind, PROV));
        assert_refused(&mut doc, changes, origin_parent(COUNTY), "owner_only");
    }
}

#[test]
fn unrelated_office_cannot_add_events() {
    // A township of another county, relayed down by the province (a parent link carries any actor).
    let mut doc = registered_hazard(TWP, Grade::Major);
    let changes = append_as(&mut doc, OTHER_TWP, &ev(EventKind::Comment, OTHER_TWP));
    let path = assert_refused(
        &mut doc,
        changes,
        origin_parent(COUNTY),
        "owner_or_superior",
    );
    assert_eq!(path, "events[]");
    // A sibling township is no superior either.
    let changes = append_as(&mut doc, TWP_B, &ev(EventKind::Comment, TWP_B));
    assert_refused(
        &mut doc,
        changes,
        origin_parent(COUNTY),
        "owner_or_superior",
    );
}

#[test]
fn nobody_deletes_an_event() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    let plan = append_as(&mut doc, TWP, &ev(EventKind::Plan, TWP));
    doc.apply_changes(plan).unwrap();
    for (who, origin) in [
        (TWP, origin_child(TWP)),
        (COUNTY, origin_parent(COUNTY)),
        (PROV, origin_parent(COUNTY)),
    ] {
        for i in 0..2 {
            let changes = write_as(&mut doc, who, |d| {
                let events = events_obj(d);
                d.delete(&events, i).unwrap();
            });
            let path = assert_refused(&mut doc, changes, origin.clone(), "events_append_only");
            assert_eq!(path, "events[]", "{who} deleting event {i}");
        }
    }
    // Deleting a field of an event is refused as well.
    let changes = write_as(&mut doc, TWP, |d| {
        let e = event_obj(d, 1);
        d.delete(&e, "user").unwrap();
    });
    assert_refused(&mut doc, changes, origin_child(TWP), "events_append_only");
}

#[test]
fn editing_an_existing_event_is_refused() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    let sup = append_as(&mut doc, PROV, &supervise(PROV, PROV));
    doc.apply_changes(sup).unwrap();

    // The owner rewriting its own registration into a close.
    let changes = write_as(&mut doc, TWP, |d| {
        let e = event_obj(d, 0);
        d.put(&e, "kind", "close").unwrap();
    });
    assert_eq!(
        assert_refused(&mut doc, changes, origin_child(TWP), "events_append_only"),
        "events[].kind"
    );

    // The owner rewriting the province's listing (a superior's event) to name itself.
    let changes = write_as(&mut doc, TWP, |d| {
        let e = event_obj(d, 1);
        d.put(&e, "level", TWP).unwrap();
    });
    assert_refused(&mut doc, changes, origin_child(TWP), "events_append_only");

    // The province adding a note to an existing event.
    let changes = write_as(&mut doc, PROV, |d| {
        let e = event_obj(d, 0);
        d.put(&e, "note", "补记").unwrap();
    });
    assert_refused(
        &mut doc,
        changes,
        origin_parent(COUNTY),
        "events_append_only",
    );

    // Replacing an event wholesale with a new map in its slot.
    let changes = write_as(&mut doc, TWP, |d| {
        let events = events_obj(d);
        let m = d.put_object(&events, 0, ObjType::Map).unwrap();
        d.put(&m, "kind", "registered").unwrap();
    });
    assert_refused(&mut doc, changes, origin_child(TWP), "events_append_only");

    // Writing a field of an event created in an earlier change of the same actor (two commits).
    let mut fork = doc.fork();
    fork.set_actor(actor(TWP));
    let events = events_obj(&fork);
    let m = fork.insert_object(&events, 2, ObjType::Map).unwrap();
    fork.commit();
    fork.put(&m, "kind", "plan").unwrap();
    fork.put(&m, "by", TWP).unwrap();
    fork.commit();
    let changes = fork.get_changes(&doc.get_heads());
    assert_eq!(changes.len(), 2);
    assert_refused(&mut doc, changes, origin_child(TWP), "events_append_only");
}

#[test]
fn events_are_maps_inserted_into_the_list() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    // A scalar inserted into the list instead of an event map.
    let changes = write_as(&mut doc, TWP, |d| {
        let events = events_obj(d);
        d.insert(&events, 1, "close").unwrap();
    });
    assert_refused(&mut doc, changes, origin_child(TWP), "events_append_only");
    // Nested objects inside an event.
    let changes = write_as(&mut doc, TWP, |d| {
        let events = events_obj(d);
        let m = d.insert_object(&events, 1, ObjType::Map).unwrap();
        d.put(&m, "kind", "comment").unwrap();
        d.put(&m, "by", TWP).unwrap();
        let inner = d.put_object(&m, "extra", ObjType::Map).unwrap();
        d.put(&inner, "x", "y").unwrap();
    });
    assert_refused(&mut doc, changes, origin_child(TWP), "events_append_only");
}

#[test]
fn event_kind_must_be_known() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    let changes = write_as(&mut doc, TWP, |d| {
        let events = events_obj(d);
        let m = d.insert_object(&events, 1, ObjType::Map).unwrap();
        d.put(&m, "kind", "delete_everything").unwrap();
        d.put(&m, "by", TWP).unwrap();
    });
    assert_refused(&mut doc, changes, origin_child(TWP), "known_event_kind");
    let changes = write_as(&mut doc, TWP, |d| {
        let events = events_obj(d);
        let m = d.insert_object(&events, 1, ObjType::Map).unwrap();
        d.put(&m, "kind", 7_i64).unwrap();
        d.put(&m, "by", TWP).unwrap();
    });
    assert_refused(&mut doc, changes, origin_child(TWP), "known_event_kind");
}

#[test]
fn event_by_must_be_the_actor() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    // The county puts words in the township's mouth.
    let changes = append_as(&mut doc, COUNTY, &ev(EventKind::Comment, TWP));
    assert_eq!(
        assert_refused(
            &mut doc,
            changes,
            origin_parent(COUNTY),
            "event_by_is_actor"
        ),
        "events[].by"
    );
    // The township claims a supervision was the province's.
    let changes = append_as(&mut doc, TWP, &ev(EventKind::Comment, PROV));
    assert_refused(&mut doc, changes, origin_child(TWP), "event_by_is_actor");
    // `by` in the 6-digit form is not the actor's canonical code either.
    let changes = write_as(&mut doc, PROV, |d| {
        let events = events_obj(d);
        let m = d.insert_object(&events, 1, ObjType::Map).unwrap();
        d.put(&m, "kind", "comment").unwrap();
        d.put(&m, "by", "530000").unwrap();
    });
    assert_refused(
        &mut doc,
        changes,
        origin_parent(COUNTY),
        "event_by_is_actor",
    );
}

#[test]
fn child_link_cannot_relay_actor_outside_its_subtree() {
    // The city's copy of a major hazard of 530181006; its child link is the county 530181.
    let mut doc = registered_hazard(TWP, Grade::Major);
    // A township of another county arriving over 530181's link.
    let changes = append_as(&mut doc, OTHER_TWP, &ev(EventKind::Comment, OTHER_TWP));
    assert_refused(
        &mut doc,
        changes,
        origin_child(COUNTY),
        "relay_outside_subtree",
    );
    // The province's own (otherwise legitimate) supervision cannot come up from below.
    let changes = append_as(&mut doc, PROV, &supervise(PROV, PROV));
    assert_refused(
        &mut doc,
        changes,
        origin_child(COUNTY),
        "relay_outside_subtree",
    );
    // Nor can the county's own parent's changes.
    let changes = append_as(&mut doc, CITY, &ev(EventKind::Comment, CITY));
    assert_refused(
        &mut doc,
        changes,
        origin_child(COUNTY),
        "relay_outside_subtree",
    );
    // A township's link only carries the township itself, not its siblings.
    let changes = append_as(&mut doc, TWP_B, &ev(EventKind::Comment, TWP_B));
    assert_refused(
        &mut doc,
        changes,
        origin_child(TWP),
        "relay_outside_subtree",
    );
}

#[test]
fn forged_header_owner_on_new_document_is_refused() {
    // The county creates a document that claims to be the township's hazard.
    let mut forged = AutoCommit::new();
    forged.set_actor(actor(COUNTY));
    hazard::create(
        &mut forged,
        &code(TWP),
        "李四",
        NOW,
        &hazard_core(Grade::Major),
    )
    .unwrap();
    forged.commit();
    let changes = forged.get_changes(&[]);
    match check_and_apply("new-doc", None, changes, &origin_parent(COUNTY)) {
        Err(Error::Forbidden {
            rule, path, actor, ..
        }) => {
            assert_eq!(rule, "owner_only");
            assert!(path.starts_with("header"), "{path}");
            assert_eq!(actor, COUNTY);
        }
        Err(e) => panic!("expected Forbidden, got {e:?}"),
        Ok(_) => panic!("a document whose header names another office was accepted"),
    }

    // Same for a directive claiming to be issued by the province.
    let mut forged = AutoCommit::new();
    forged.set_actor(actor(COUNTY));
    let core = DirectiveCore {
        title: "t".into(),
        body: "b".into(),
        targets: vec![code(TWP)],
        deadline: "2026-12-01".into(),
    };
    directive::create(&mut forged, &code(PROV), NOW, &core).unwrap();
    forged.commit();
    match check_and_apply(
        "new-directive",
        None,
        forged.get_changes(&[]),
        &origin_parent(COUNTY),
    ) {
        Err(Error::Forbidden { rule, .. }) => assert_eq!(rule, "issuer_only"),
        Err(e) => panic!("expected Forbidden, got {e:?}"),
        Ok(_) => panic!("a directive whose header names another issuer was accepted"),
    }
}

#[test]
fn concurrent_headers_on_new_document_are_refused() {
    // The real owner creates the hazard; concurrently, a superior creates a header of its own in the
    // same (empty) document. The new document must name exactly one owner.
    let mut genuine = registered_hazard(TWP, Grade::Major);
    let mut rival = AutoCommit::new();
    rival.set_actor(actor(CITY));
    hazard::create(
        &mut rival,
        &code(CITY),
        "王五",
        NOW,
        &hazard_core(Grade::Major),
    )
    .unwrap();
    rival.commit();
    let mut changes = genuine.get_changes(&[]);
    changes.extend(rival.get_changes(&[]));
    match check_and_apply("new-doc", None, changes, &origin_parent(COUNTY)) {
        Err(Error::Forbidden { rule, .. }) => assert_eq!(rule, "single_owner"),
        Err(e) => panic!("expected Forbidden, got {e:?}"),
        Ok(_) => panic!("a document with two concurrent headers was accepted"),
    }
}

#[test]
fn actor_without_office_code_is_refused() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    // A random actor (e.g. a tool that forgot to set the node's actor).
    let changes = write_as_actor(&mut doc, ActorId::random(), |d| {
        hazard::append_event(d, &ev(EventKind::Comment, TWP)).unwrap()
    });
    assert_refused(
        &mut doc,
        changes,
        origin_child(TWP),
        "actor_names_an_office",
    );
    // The 6-digit alias of an office is not an office's actor.
    let changes = write_as_actor(&mut doc, ActorId::from(b"530000.nonce".to_vec()), |d| {
        hazard::append_event(d, &ev(EventKind::Comment, PROV)).unwrap()
    });
    assert_refused(
        &mut doc,
        changes,
        origin_parent(COUNTY),
        "actor_names_an_office",
    );
    // A bare code without the `.nonce` part.
    let changes = write_as_actor(&mut doc, ActorId::from(TWP.as_bytes().to_vec()), |d| {
        hazard::append_event(d, &ev(EventKind::Comment, TWP)).unwrap()
    });
    assert_refused(
        &mut doc,
        changes,
        origin_child(TWP),
        "actor_names_an_office",
    );
    // Not even through the node's own API.
    let changes = write_as_actor(&mut doc, ActorId::random(), |d| {
        hazard::append_event(d, &ev(EventKind::Comment, TWP)).unwrap()
    });
    assert_refused(&mut doc, changes, Origin::Local, "actor_names_an_office");
}

#[test]
fn one_violation_rejects_the_whole_batch() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    // A legitimate plan followed (causally) by a forbidden supervise from the same township.
    let mut fork = doc.fork();
    fork.set_actor(actor(TWP));
    hazard::append_event(&mut fork, &ev(EventKind::Plan, TWP)).unwrap();
    fork.commit();
    hazard::append_event(&mut fork, &escalate(TWP, "约谈")).unwrap();
    fork.commit();
    let changes = fork.get_changes(&doc.get_heads());
    assert_eq!(changes.len(), 2);
    assert_refused(&mut doc, changes, origin_child(TWP), "superior_only");
    assert_eq!(hazard::read(&doc).unwrap().events.len(), 1);

    // Two independent changes, one good one bad, in either order.
    let good = append_as(&mut doc, TWP, &ev(EventKind::Plan, TWP));
    let bad = append_as(&mut doc, COUNTY, &ev(EventKind::Plan, COUNTY));
    assert_refused(
        &mut doc,
        [good.clone(), bad.clone()].concat(),
        origin_child(COUNTY),
        "owner_only",
    );
    assert_refused(
        &mut doc,
        [bad, good].concat(),
        origin_child(COUNTY),
        "owner_only",
    );
}

#[test]
fn forbidden_write_is_refused_even_if_it_loses_a_conflict() {
    // The owner and the county write core.title concurrently; the township's op wins the conflict
    // (equal counters, actor `530181006.` sorts after `530181.`), so the county's write is invisible in
    // the merged document — it is still refused. (A hazard's core is write-once, so the owner's write
    // is refused too — by `write_once`, after the county's; the county's comes first in the batch.)
    let mut doc = registered_hazard(TWP, Grade::General);
    let owner = write_as(&mut doc, TWP, |d| {
        let core = core_obj(d);
        d.put(&core, "title", "owner's title").unwrap();
    });
    let county = write_as(&mut doc, COUNTY, |d| {
        let core = core_obj(d);
        d.put(&core, "title", "county's title").unwrap();
    });
    // Sanity: the merged view shows the owner's value.
    let mut merged = doc.fork();
    merged
        .apply_changes([owner.clone(), county.clone()].concat())
        .unwrap();
    assert_eq!(hazard::read(&merged).unwrap().core.title, "owner's title");
    assert_refused(
        &mut doc,
        [county, owner].concat(),
        origin_child(COUNTY),
        "owner_only",
    );
}

#[test]
fn changes_with_missing_dependencies_are_not_applied() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    let mut fork = doc.fork();
    fork.set_actor(actor(TWP));
    hazard::append_event(&mut fork, &ev(EventKind::Plan, TWP)).unwrap();
    fork.commit();
    let first = fork.get_heads();
    hazard::append_event(&mut fork, &ev(EventKind::Progress, TWP)).unwrap();
    fork.commit();
    // Only the second change, whose dependency the receiver lacks.
    let changes = fork.get_changes(&first);
    assert_eq!(changes.len(), 1);
    let before = doc.get_heads();
    match check_and_apply("doc", Some(&mut doc), changes, &origin_child(TWP)) {
        Err(Error::MissingDeps { missing }) => assert_eq!(missing, 1),
        Err(e) => panic!("expected MissingDeps, got {e:?}"),
        Ok(_) => panic!("a change with a missing dependency was accepted"),
    }
    assert_eq!(doc.get_heads(), before);
}

#[test]
fn check_local_applies_the_same_table() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    let heads = doc.get_heads();
    check_local("doc", &mut doc, &[]).unwrap();
    hazard::append_event(&mut doc, &ev(EventKind::Plan, TWP)).unwrap();
    doc.commit();
    check_local("doc", &mut doc, &heads).unwrap();
    let heads = doc.get_heads();
    hazard::append_event(&mut doc, &escalate(TWP, "约谈")).unwrap();
    doc.commit();
    match check_local("doc", &mut doc, &heads) {
        Err(Error::Forbidden { rule, .. }) => assert_eq!(rule, "superior_only"),
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------------
// Hazards: what is allowed
// ---------------------------------------------------------------------------------------------------

#[test]
fn owner_registers_and_progresses() {
    let mut owner = registered_hazard(TWP, Grade::General);
    // The county receives the new document over the township's link.
    let checked = assert_accepted(None, owner.get_changes(&[]), origin_child(TWP));
    assert_eq!(checked.header.owner, code(TWP));
    let mut county = checked.doc;

    let mut plan = ev(EventKind::Plan, TWP);
    plan.note = Some("五落实：责任人、措施、资金、时限、预案".into());
    let mut progress = ev(EventKind::Progress, TWP);
    progress.percent = Some(60);
    for e in [
        plan,
        progress,
        ev(EventKind::Rectified, TWP),
        ev(EventKind::Accept, TWP),
        ev(EventKind::Close, TWP),
        ev(EventKind::Reopen, TWP),
        notify_both(TWP),
        ev(EventKind::Comment, TWP),
    ] {
        let have = county.get_heads();
        owner.set_actor(actor(TWP));
        hazard::append_event(&mut owner, &e).unwrap();
        owner.commit();
        let checked = assert_accepted(
            Some(&mut county),
            owner.get_changes(&have),
            origin_child(TWP),
        );
        county = checked.doc;
    }
    assert_eq!(county.get_heads(), owner.get_heads());
    let view = hazard::read(&county).unwrap();
    assert_eq!(view.events.len(), 9);
    assert_eq!(view.events[2].percent, Some(60));
    let d = fold(Grade::General, &view.events);
    assert_eq!(d.status, Status::Rectifying, "closed then reopened");
    assert_eq!(d.ignored, 0);

    // Re-sending what the county already has is harmless.
    let again = check_and_apply(
        "doc",
        Some(&mut county),
        owner.get_changes(&[]),
        &origin_child(TWP),
    )
    .unwrap();
    assert_eq!(again.applied, 0);
}

#[test]
fn province_supervises_a_township_major_hazard() {
    let mut twp = registered_hazard(TWP, Grade::Major);
    let mut prov = assert_accepted(None, twp.get_changes(&[]), origin_child(CITY)).doc;

    let have = twp.get_heads();
    let mut changes = append_as(&mut prov, PROV, &supervise(PROV, PROV));
    prov.apply_changes(changes.clone()).unwrap();
    let more = append_as(&mut prov, PROV, &escalate(PROV, "约谈"));
    prov.apply_changes(more.clone()).unwrap();
    changes.extend(more);
    let more = append_as(&mut prov, PROV, &ev(EventKind::Comment, PROV));
    prov.apply_changes(more.clone()).unwrap();
    changes.extend(more);
    // Relayed down: city → county → township, each over its parent link.
    let mut city = assert_accepted(None, twp.get_changes(&[]), origin_child(COUNTY)).doc;
    city = assert_accepted(Some(&mut city), changes.clone(), origin_parent(PROV)).doc;
    let mut county = assert_accepted(None, twp.get_changes(&[]), origin_child(TWP)).doc;
    county = assert_accepted(
        Some(&mut county),
        city.get_changes(&have),
        origin_parent(CITY),
    )
    .doc;
    twp = assert_accepted(
        Some(&mut twp),
        county.get_changes(&have),
        origin_parent(COUNTY),
    )
    .doc;

    assert_eq!(twp.get_heads(), prov.get_heads());
    let d = hazard::read(&twp).unwrap().derived();
    assert_eq!(d.supervising, Some(code(PROV)));
    assert_eq!(d.escalations, vec!["约谈".to_string()]);

    // The city and the county, as ancestors, may supervise and review a major hazard too.
    let c = append_as(&mut twp, CITY, &supervise(CITY, CITY));
    twp = assert_accepted(Some(&mut twp), c, origin_parent(COUNTY)).doc;
    let c = append_as(&mut twp, COUNTY, &ev(EventKind::Comment, COUNTY));
    twp = assert_accepted(Some(&mut twp), c, origin_parent(COUNTY)).doc;
    // The highest listing level still wins.
    assert_eq!(
        hazard::read(&twp).unwrap().derived().supervising,
        Some(code(PROV))
    );
}

#[test]
fn superior_reviews_a_hazard_awaiting_acceptance() {
    let mut twp = registered_hazard(TWP, Grade::Major);
    for e in [
        notify_both(TWP),
        ev(EventKind::Plan, TWP),
        ev(EventKind::Rectified, TWP),
    ] {
        let c = append_as(&mut twp, TWP, &e);
        twp.apply_changes(c).unwrap();
    }
    // The county returns it, the township rectifies again, the province accepts and closes.
    let c = append_as(&mut twp, COUNTY, &ev(EventKind::Return, COUNTY));
    twp = assert_accepted(Some(&mut twp), c, origin_parent(COUNTY)).doc;
    let c = append_as(&mut twp, TWP, &ev(EventKind::Rectified, TWP));
    twp = assert_accepted(Some(&mut twp), c, Origin::Local).doc;
    // A superior that does not supervise it may not accept it (挂牌单位验收销号)...
    let c = append_as(&mut twp.fork(), PROV, &ev(EventKind::Accept, PROV));
    let refused = check_and_apply(
        "doc-under-test",
        Some(&mut twp.fork()),
        c,
        &origin_parent(COUNTY),
    );
    assert!(
        matches!(
            refused,
            Err(safemesh_doc::Error::Forbidden {
                rule: "owner_accepts",
                ..
            })
        ),
        "{:?}",
        refused.err()
    );
    // ...so the province lists it first, then accepts and closes it.
    let c = append_as(&mut twp, PROV, &supervise(PROV, PROV));
    twp = assert_accepted(Some(&mut twp), c, origin_parent(COUNTY)).doc;
    for k in [EventKind::Accept, EventKind::Close] {
        let c = append_as(&mut twp, PROV, &ev(k, PROV));
        twp = assert_accepted(Some(&mut twp), c, origin_parent(COUNTY)).doc;
    }
    let d = hazard::read(&twp).unwrap().derived();
    assert_eq!(d.status, Status::Closed);
    assert_eq!(d.ignored, 0);
}

#[test]
fn county_relays_a_township_change_up() {
    let mut twp = registered_hazard(TWP, Grade::Major);
    // The city's copy: it got the document from the county, which got it from the township.
    let mut city = assert_accepted(None, twp.get_changes(&[]), origin_child(COUNTY)).doc;
    let have = city.get_heads();
    let c = append_as(&mut twp, TWP, &ev(EventKind::Plan, TWP));
    twp.apply_changes(c).unwrap();
    let mut city = assert_accepted(
        Some(&mut city),
        twp.get_changes(&have),
        origin_child(COUNTY),
    )
    .doc;
    assert_eq!(hazard::read(&city).unwrap().events.len(), 2);
    // And the city relays it further up to the province over its own child link.
    let mut prov = assert_accepted(None, city.get_changes(&[]), origin_child(CITY)).doc;
    assert_eq!(prov.get_heads(), twp.get_heads());
    assert_eq!(hazard::read(&prov).unwrap().events[1].by, code(TWP));
}

// ---------------------------------------------------------------------------------------------------
// Hazards: registration facts, notify, plan, escalation deadlines, acceptance of supervised hazards
// ---------------------------------------------------------------------------------------------------

fn plan_event(by: &str) -> HazardEvent {
    HazardEvent {
        plan: Some(Plan {
            responsible_unit: "安宁某化工有限公司".into(),
            responsible_person: "李四".into(),
            measures: "增设紧急切断阀并与有毒气体报警联锁".into(),
            funds_wan: 48.5,
            deadline: "2026-12-20".into(),
            contingency_plan: "限量储存，专人 24 小时巡检".into(),
        }),
        ..ev(EventKind::Plan, by)
    }
}

#[test]
fn owner_cannot_rewrite_hazard_core_after_registration() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    for (key, value) in [
        ("deadline", "2027-01-31"),
        ("number", "530181006-2026-0099"),
        ("stock", "stock"),
    ] {
        let changes = write_as(&mut doc, TWP, |d| {
            let core = core_obj(d);
            d.put(&core, key, value).unwrap();
        });
        let path = assert_refused(&mut doc, changes, origin_child(TWP), "write_once");
        assert_eq!(path, format!("core.{key}"));
    }
    let changes = write_as(&mut doc, TWP, |d| {
        let core = core_obj(d);
        let basis = d.get(&core, "basis").unwrap().unwrap().1;
        d.put(&basis, "clause", "第一条").unwrap();
    });
    assert_refused(&mut doc, changes, Origin::Local, "write_once");
    // A superior is refused by whose record it is first.
    let changes = write_as(&mut doc, PROV, |d| {
        let core = core_obj(d);
        d.put(&core, "found_by_level", PROV).unwrap();
    });
    assert_refused(&mut doc, changes, origin_parent(COUNTY), "owner_only");
}

/// 例外登记 (STANDARDS §6.3): a credit code accepted by override carries its reason in the core, written
/// with the registration and replicated with it; nobody adds, changes or removes it afterwards — not
/// the owner (`write_once`), not a superior (`owner_only`).
#[test]
fn a_credit_code_override_is_part_of_the_registration_only() {
    let mut core = hazard_core(Grade::Major);
    core.enterprise.credit_code = "91350100M0001TGQXM".into();
    core.enterprise.credit_code_override = Some("2015年福建试点赋码".into());
    let mut twp = AutoCommit::new();
    twp.set_actor(actor(TWP));
    hazard::create(&mut twp, &code(TWP), "张三", NOW, &core).unwrap();
    twp.commit();
    let mut county = assert_accepted(None, twp.get_changes(&[]), origin_child(TWP)).doc;
    assert_eq!(
        hazard::read(&county)
            .unwrap()
            .core
            .enterprise
            .credit_code_override
            .as_deref(),
        Some("2015年福建试点赋码")
    );
    let rewrite = |value: &str| {
        let value = value.to_string();
        move |d: &mut AutoCommit| {
            let core = core_obj(d);
            let ent = d.get(&core, "enterprise").unwrap().unwrap().1;
            d.put(&ent, "credit_code_override", value.as_str()).unwrap();
        }
    };
    let c = write_as(&mut county, TWP, rewrite("改了理由"));
    assert_eq!(
        assert_refused(&mut county, c, origin_child(TWP), "write_once"),
        "core.enterprise.credit_code_override"
    );
    let c = write_as(&mut county, COUNTY, rewrite("上级补的理由"));
    assert_refused(&mut county, c, Origin::Local, "owner_only");
    // A hazard registered without one cannot be flagged afterwards either.
    let mut plain = registered_hazard(TWP, Grade::General);
    assert_eq!(
        hazard::read(&plain)
            .unwrap()
            .core
            .enterprise
            .credit_code_override,
        None
    );
    let c = write_as(&mut plain, TWP, rewrite("事后补的理由"));
    assert_refused(&mut plain, c, Origin::Local, "write_once");
}

/// seed 002 #6: the four posts are told apart, each person by name. The names travel in the owner's
/// notify, written with it and never after; nobody else tells on the owner's behalf.
#[test]
fn the_people_told_are_named_in_the_owners_notify_only() {
    let mut twp = registered_hazard(TWP, Grade::Major);
    let mut county = assert_accepted(None, twp.get_changes(&[]), origin_child(TWP)).doc;
    let told = HazardEvent {
        recipients: vec!["法定代表人".into(), "主要负责人".into()],
        recipient_names: std::collections::BTreeMap::from([
            ("法定代表人".into(), "赵某".into()),
            ("主要负责人".into(), "王某".into()),
        ]),
        ..notify_both(TWP)
    };
    let c = append_as(&mut county, TWP, &told);
    county = assert_accepted(Some(&mut county), c, origin_child(TWP)).doc;
    let view = hazard::read(&county).unwrap();
    assert_eq!(view.events[1].recipients, ["法定代表人", "主要负责人"]);
    assert_eq!(view.events[1].recipient_names, told.recipient_names);
    let d = view.derived();
    assert_eq!(d.notified, ["法定代表人", "主要负责人"]);
    assert!(
        !d.fully_notified(),
        "the 法定代表人 does not stand in for the 实际控制人"
    );
    // A name added to the notify afterwards is refused, by the owner too.
    let c = write_as(&mut county, TWP, |d| {
        let e = event_obj(d, 1);
        d.put(&e, "name_actual_controller", "李某").unwrap();
    });
    assert_refused(&mut county, c, origin_child(TWP), "events_append_only");
    // The county does not tell on the township's behalf, names or not.
    let c = append_as(
        &mut county,
        COUNTY,
        &HazardEvent {
            recipient_names: told.recipient_names.clone(),
            ..notify_both(COUNTY)
        },
    );
    assert_refused(&mut county, c, Origin::Local, "owner_only");
}

/// 隐患所在 and 责任单位 are facts of registration: a road's hazard carries them in its core, written
/// once by the owner; a document from before they existed reads as an enterprise's, with no unit.
#[test]
fn what_a_hazard_is_at_and_its_responsible_unit_are_registered_once() {
    let mut core = hazard_core(Grade::General);
    core.subject = safemesh_model::hazard::facts::Subject::Road;
    core.responsible_unit = "安宁市交通运输局".into();
    core.enterprise = Enterprise {
        name: String::new(),
        credit_code: String::new(),
        credit_code_override: None,
    };
    let mut twp = AutoCommit::new();
    twp.set_actor(actor(TWP));
    hazard::create(&mut twp, &code(TWP), "张三", NOW, &core).unwrap();
    twp.commit();
    let mut county = assert_accepted(None, twp.get_changes(&[]), origin_child(TWP)).doc;
    let view = hazard::read(&county).unwrap();
    assert_eq!(
        view.core.subject,
        safemesh_model::hazard::facts::Subject::Road
    );
    assert_eq!(view.core.responsible_unit, "安宁市交通运输局");
    for (who, origin, rule) in [
        (TWP, origin_child(TWP), "write_once"),
        (COUNTY, Origin::Local, "owner_only"),
    ] {
        let c = write_as(&mut county, who, |d| {
            let core = core_obj(d);
            d.put(&core, "responsible_unit", "别的单位").unwrap();
        });
        assert_eq!(
            assert_refused(&mut county, c, origin, rule),
            "core.responsible_unit"
        );
    }
    // An older document has neither key: an enterprise's hazard, no responsible unit.
    let mut old = AutoCommit::new();
    old.set_actor(actor(TWP));
    hazard::create(
        &mut old,
        &code(TWP),
        "张三",
        NOW,
        &hazard_core(Grade::General),
    )
    .unwrap();
    let c = core_obj(&old);
    old.delete(&c, "subject").unwrap();
    old.delete(&c, "responsible_unit").unwrap();
    old.commit();
    let view = hazard::read(&old).unwrap();
    assert_eq!(
        view.core.subject,
        safemesh_model::hazard::facts::Subject::Enterprise
    );
    assert_eq!(view.core.responsible_unit, "");
}

#[test]
fn owner_records_notify_and_plan_with_nested_values() {
    let mut twp = registered_hazard(TWP, Grade::Major);
    let mut county = assert_accepted(None, twp.get_changes(&[]), origin_child(TWP)).doc;
    for e in [notify_both(TWP), plan_event(TWP)] {
        let c = append_as(&mut county, TWP, &e);
        county = assert_accepted(Some(&mut county), c, origin_child(TWP)).doc;
    }
    let view = hazard::read(&county).unwrap();
    assert_eq!(view.events[1].recipients, vec!["主要负责人", "实际控制人"]);
    assert_eq!(view.events[2].plan.as_ref().unwrap().funds_wan, 48.5);
    let d = view.derived();
    assert_eq!((d.status, d.ignored), (Status::Rectifying, 0));
    assert_eq!(view.effective_deadline(&d), "2026-12-20");
}

#[test]
fn a_recorded_plan_cannot_be_edited_later() {
    let mut doc = registered_hazard(TWP, Grade::General);
    let c = append_as(&mut doc, TWP, &plan_event(TWP));
    doc.apply_changes(c).unwrap();
    let changes = write_as(&mut doc, TWP, |d| {
        let e = event_obj(d, 1);
        let plan = d.get(&e, "plan").unwrap().unwrap().1;
        d.put(&plan, "funds_wan", 1.0).unwrap();
    });
    let path = assert_refused(&mut doc, changes, Origin::Local, "events_append_only");
    assert_eq!(path, "events[].plan.funds_wan");
    let changes = write_as(&mut doc, TWP, |d| {
        let e = event_obj(d, 1);
        d.put_object(&e, "plan", ObjType::Map).unwrap();
    });
    assert_refused(&mut doc, changes, Origin::Local, "events_append_only");
}

#[test]
fn reply_deadline_is_set_only_in_a_superiors_escalate_event() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    // The owner cannot date a reply obligation, on any event of its own.
    let own = HazardEvent {
        reply_by: Some("2027-06-30".into()),
        ..notify_both(TWP)
    };
    let changes = append_as(&mut doc, TWP, &own);
    let path = assert_refused(
        &mut doc,
        changes,
        origin_child(TWP),
        "reply_by_on_escalate_only",
    );
    assert_eq!(path, "events[].reply_by");
    // Nor can a superior hang one on a comment.
    let comment = HazardEvent {
        reply_by: Some("2026-12-01".into()),
        ..ev(EventKind::Comment, COUNTY)
    };
    let changes = append_as(&mut doc, COUNTY, &comment);
    assert_refused(
        &mut doc,
        changes,
        origin_parent(COUNTY),
        "reply_by_on_escalate_only",
    );
    // The county escalates with a reply deadline: accepted, and the fold keeps who and by when.
    let changes = append_as(&mut doc, COUNTY, &escalate(COUNTY, "函告"));
    let d = assert_accepted(Some(&mut doc), changes, origin_parent(COUNTY)).doc;
    let derived = hazard::read(&d).unwrap().derived();
    assert_eq!(derived.escalated.len(), 1);
    assert_eq!(derived.escalated[0].by, code(COUNTY));
    assert_eq!(derived.escalated[0].reply_by.as_deref(), Some("2026-12-15"));
}

#[test]
fn only_the_parent_escalates_a_general_hazard() {
    let mut doc = registered_hazard(TWP, Grade::General);
    let changes = append_as(&mut doc, CITY, &escalate(CITY, "通报"));
    assert_refused(
        &mut doc,
        changes,
        origin_parent(COUNTY),
        "owner_or_superior",
    );
    let changes = append_as(&mut doc, TWP_B, &escalate(TWP_B, "通报"));
    assert_refused(&mut doc, changes, Origin::Local, "owner_or_superior");
    let changes = append_as(&mut doc, COUNTY, &escalate(COUNTY, "通报"));
    assert_accepted(Some(&mut doc), changes, origin_parent(COUNTY));
}

#[test]
fn supervised_hazard_is_accepted_and_closed_by_the_supervising_level_only() {
    let mut twp = registered_hazard(TWP, Grade::General);
    for e in [plan_event(TWP), ev(EventKind::Rectified, TWP)] {
        let c = append_as(&mut twp, TWP, &e);
        twp.apply_changes(c).unwrap();
    }
    // Unlisted: the owner accepts its general hazard; its parent may not.
    let c = append_as(&mut twp, COUNTY, &ev(EventKind::Accept, COUNTY));
    assert_refused(&mut twp, c, origin_parent(COUNTY), "owner_accepts");
    let c = append_as(&mut twp, TWP, &ev(EventKind::Accept, TWP));
    assert_accepted(Some(&mut twp.fork()), c, Origin::Local);
    // Listed by the county (挂牌督办): acceptance and closing are the county's.
    let c = append_as(&mut twp, COUNTY, &supervise(COUNTY, COUNTY));
    twp = assert_accepted(Some(&mut twp), c, origin_parent(COUNTY)).doc;
    for k in [EventKind::Accept, EventKind::Close] {
        let c = append_as(&mut twp, TWP, &ev(k, TWP));
        assert_refused(&mut twp, c, Origin::Local, "supervising_level_accepts");
    }
    for k in [EventKind::Accept, EventKind::Close] {
        let c = append_as(&mut twp, COUNTY, &ev(k, COUNTY));
        twp = assert_accepted(Some(&mut twp), c, origin_parent(COUNTY)).doc;
    }
    assert_eq!(hazard::read(&twp).unwrap().derived().status, Status::Closed);
}

fn extend_request(by: &str, day: &str) -> HazardEvent {
    HazardEvent {
        new_deadline: Some(day.into()),
        note: Some("设备到货延迟".into()),
        ..ev(EventKind::ExtendRequest, by)
    }
}

fn extend_decision(by: &str, approved: bool) -> HazardEvent {
    HazardEvent {
        approved: Some(approved),
        ..ev(EventKind::ExtendDecision, by)
    }
}

/// 延期: the owner asks; the owner may not decide its own request, nor may a sibling; the parent
/// decides for an unlisted hazard, and the effective deadline follows an approval.
#[test]
fn an_extension_is_decided_by_the_parent_not_the_owner_nor_a_sibling() {
    let mut twp = registered_hazard(TWP, Grade::General);
    // A superior cannot ask on the owner's behalf.
    let c = append_as(&mut twp, COUNTY, &extend_request(COUNTY, "2027-01-31"));
    assert_refused(&mut twp, c, origin_parent(COUNTY), "owner_only");
    let c = append_as(&mut twp, TWP, &extend_request(TWP, "2027-01-31"));
    twp = assert_accepted(Some(&mut twp), c, Origin::Local).doc;
    let c = append_as(&mut twp, TWP, &extend_decision(TWP, true));
    assert_refused(&mut twp, c, Origin::Local, "superior_only");
    let c = append_as(&mut twp, TWP_B, &extend_decision(TWP_B, true));
    assert_refused(&mut twp, c, origin_parent(COUNTY), "owner_or_superior");
    let c = append_as(&mut twp, COUNTY, &extend_decision(COUNTY, true));
    twp = assert_accepted(Some(&mut twp), c, origin_parent(COUNTY)).doc;
    let view = hazard::read(&twp).unwrap();
    let d = view.derived();
    assert_eq!((d.extended, d.ignored), (1, 0));
    assert_eq!(view.effective_deadline(&d), "2027-01-31");
    assert_eq!(
        view.core.deadline, "2026-12-31",
        "the registered deadline stays"
    );
}

/// A listed hazard's extension is decided by the supervising level, judged by the history the
/// decider saw; an unlisted major hazard's by the owner's parent only.
#[test]
fn a_listed_hazards_extension_is_decided_by_the_supervising_level() {
    let mut twp = registered_hazard(TWP, Grade::Major);
    let c = append_as(&mut twp, TWP, &extend_request(TWP, "2027-01-31"));
    twp = assert_accepted(Some(&mut twp), c, Origin::Local).doc;
    let c = append_as(&mut twp, CITY, &extend_decision(CITY, false));
    assert_refused(&mut twp, c, origin_parent(COUNTY), "parent_decides");
    let c = append_as(&mut twp, CITY, &supervise(CITY, CITY));
    twp = assert_accepted(Some(&mut twp), c, origin_parent(COUNTY)).doc;
    let c = append_as(&mut twp, COUNTY, &extend_decision(COUNTY, true));
    assert_refused(
        &mut twp,
        c,
        origin_parent(COUNTY),
        "supervising_level_decides",
    );
    let c = append_as(&mut twp, CITY, &extend_decision(CITY, false));
    twp = assert_accepted(Some(&mut twp), c, origin_parent(COUNTY)).doc;
    let d = hazard::read(&twp).unwrap().derived();
    assert_eq!((d.extended, d.extension_pending.is_none()), (0, true));
}

/// 书面回复 is the owner's: it names the escalating office and the method; nobody else writes one.
#[test]
fn only_the_owner_records_a_written_reply() {
    let mut twp = registered_hazard(TWP, Grade::Major);
    let c = append_as(&mut twp, COUNTY, &escalate(COUNTY, "函告"));
    twp = assert_accepted(Some(&mut twp), c, origin_parent(COUNTY)).doc;
    let reply = |by: &str| HazardEvent {
        method: Some("函告".into()),
        to: Some(code(COUNTY)),
        note: Some("已整改到位，详见附件".into()),
        ..ev(EventKind::Reply, by)
    };
    let c = append_as(&mut twp, COUNTY, &reply(COUNTY));
    assert_refused(&mut twp, c, origin_parent(COUNTY), "owner_only");
    let c = append_as(&mut twp, TWP, &reply(TWP));
    twp = assert_accepted(Some(&mut twp), c, Origin::Local).doc;
    let d = hazard::read(&twp).unwrap().derived();
    assert!(d.escalated[0].replied_at.is_some());
    assert_eq!(d.ignored, 0);
}

// ---------------------------------------------------------------------------------------------------
// Directives
// ---------------------------------------------------------------------------------------------------

fn directive_core() -> DirectiveCore {
    DirectiveCore {
        title: "开展危险化学品安全专项整治".into(),
        body: "各乡镇（街道）于12月1日前完成辖区排查并报送台账".into(),
        targets: vec![code(TWP), code(TWP_B)],
        deadline: "2026-12-01".into(),
    }
}

/// A directive issued by the county to two of its townships, as the county holds it.
fn issued_directive() -> AutoCommit {
    let mut doc = AutoCommit::new();
    doc.set_actor(actor(COUNTY));
    directive::create(&mut doc, &code(COUNTY), NOW, &directive_core()).unwrap();
    doc.commit();
    doc
}

fn update(action: ResponseAction, percent: Option<u8>) -> ResponseUpdate {
    ResponseUpdate {
        action,
        at: NOW.into(),
        percent,
        note: Some("已部署".into()),
        user: "赵六".into(),
        attachments: Vec::new(),
    }
}

fn respond_as(
    base: &mut AutoCommit,
    who: &str,
    for_target: &str,
    u: &ResponseUpdate,
) -> Vec<Change> {
    write_as(base, who, |d| {
        directive::respond(d, &code(for_target), u).unwrap()
    })
}

#[test]
fn target_receives_then_progress_accepted_from_the_child_link() {
    let mut county = issued_directive();
    // The township gets the new directive over its parent link.
    let mut twp = assert_accepted(None, county.get_changes(&[]), origin_parent(COUNTY)).doc;
    assert_eq!(
        directive::read(&twp).unwrap().core.targets,
        vec![code(TWP), code(TWP_B)]
    );

    let have = county.get_heads();
    let c = respond_as(&mut twp, TWP, TWP, &update(ResponseAction::Receive, None));
    twp.apply_changes(c).unwrap();
    let c = respond_as(
        &mut twp,
        TWP,
        TWP,
        &update(ResponseAction::Progress, Some(40)),
    );
    twp.apply_changes(c).unwrap();
    let changes = twp.get_changes(&have);
    assert_eq!(changes.len(), 2);
    county = assert_accepted(Some(&mut county), changes, origin_child(TWP)).doc;

    let view = directive::read(&county).unwrap();
    let r = &view.responses[TWP];
    assert_eq!(r.received_at.as_deref(), Some(NOW));
    assert_eq!(r.percent, Some(40));
    assert_eq!(r.updates.len(), 2);
    assert!(!view.responses.contains_key(TWP_B));

    // Completion, and the issuer editing its own directive, both pass.
    let have = county.get_heads();
    let c = respond_as(&mut twp, TWP, TWP, &update(ResponseAction::Complete, None));
    twp.apply_changes(c).unwrap();
    county = assert_accepted(Some(&mut county), twp.get_changes(&have), origin_child(TWP)).doc;
    assert_eq!(
        directive::read(&county).unwrap().responses[TWP].percent,
        Some(100)
    );
    let c = write_as(&mut county, COUNTY, |d| {
        let core = core_obj(d);
        d.put(&core, "deadline", "2026-12-15").unwrap();
    });
    assert_accepted(Some(&mut twp), c, origin_parent(COUNTY));
}

#[test]
fn target_writes_only_its_own_response() {
    let mut doc = issued_directive();
    // 530181006 writes the response of its sibling target 530181007.
    let changes = respond_as(
        &mut doc,
        TWP,
        TWP_B,
        &update(ResponseAction::Complete, None),
    );
    let path = assert_refused(&mut doc, changes, origin_child(TWP), "own_response_only");
    assert!(path.starts_with("responses.530181007"), "{path}");

    // Having responded itself, the sibling's existing entry is off limits too.
    let c = respond_as(
        &mut doc,
        TWP_B,
        TWP_B,
        &update(ResponseAction::Receive, None),
    );
    doc.apply_changes(c).unwrap();
    let changes = write_as(&mut doc, TWP, |d| {
        let rs = d.get(ROOT, "responses").unwrap().unwrap().1;
        let r = d.get(&rs, TWP_B).unwrap().unwrap().1;
        d.put(&r, "percent", 100_i64).unwrap();
    });
    assert_refused(
        &mut doc,
        changes,
        origin_parent(COUNTY),
        "own_response_only",
    );

    // The issuer cannot answer for its targets either.
    let changes = respond_as(
        &mut doc,
        COUNTY,
        TWP,
        &update(ResponseAction::Complete, None),
    );
    assert_refused(&mut doc, changes, Origin::Local, "own_response_only");
}

/// The response object of `target` in `d`.
fn response_obj(d: &AutoCommit, target: &str) -> ObjId {
    let rs = d.get(ROOT, "responses").unwrap().unwrap().1;
    d.get(&rs, target).unwrap().expect("response").1
}

/// Issue 19 #6: a response is a log. A target (or a relay writing as its code) cannot rewrite its
/// updates, when it received or completed the directive, or replace the whole response; what the
/// response shows now (percent, note) it may still set, and new updates go on being appended.
#[test]
fn a_response_is_a_log_its_history_and_dates_cannot_be_rewritten() {
    let mut doc = issued_directive();
    for u in [
        update(ResponseAction::Receive, None),
        update(ResponseAction::Progress, Some(40)),
        update(ResponseAction::Complete, None),
    ] {
        let c = respond_as(&mut doc, TWP, TWP, &u);
        doc.apply_changes(c).unwrap();
    }
    type Rewrite = Box<dyn Fn(&mut AutoCommit)>;
    let attempts: Vec<(&str, Rewrite)> = vec![
        (
            "an update's field rewritten",
            Box::new(|d: &mut AutoCommit| {
                let r = response_obj(d, TWP);
                let updates = d.get(&r, "updates").unwrap().unwrap().1;
                let first = d.get(&updates, 0).unwrap().unwrap().1;
                d.put(&first, "at", "2020-01-01T00:00:00Z").unwrap();
            }),
        ),
        (
            "an update replaced by a new map",
            Box::new(|d: &mut AutoCommit| {
                let r = response_obj(d, TWP);
                let updates = d.get(&r, "updates").unwrap().unwrap().1;
                let m = d.put_object(&updates, 0, ObjType::Map).unwrap();
                d.put(&m, "action", "complete").unwrap();
            }),
        ),
        (
            "the updates list replaced",
            Box::new(|d: &mut AutoCommit| {
                let r = response_obj(d, TWP);
                d.put_object(&r, "updates", ObjType::List).unwrap();
            }),
        ),
        (
            "received_at rewritten",
            Box::new(|d: &mut AutoCommit| {
                let r = response_obj(d, TWP);
                d.put(&r, "received_at", "2020-01-01T00:00:00Z").unwrap();
            }),
        ),
        (
            "completed_at rewritten",
            Box::new(|d: &mut AutoCommit| {
                let r = response_obj(d, TWP);
                d.put(&r, "completed_at", "2020-01-01T00:00:00Z").unwrap();
            }),
        ),
        (
            "the whole response replaced",
            Box::new(|d: &mut AutoCommit| {
                let rs = d.get(ROOT, "responses").unwrap().unwrap().1;
                let r = d.put_object(&rs, TWP, ObjType::Map).unwrap();
                d.put_object(&r, "updates", ObjType::List).unwrap();
            }),
        ),
        (
            "an unknown field added",
            Box::new(|d: &mut AutoCommit| {
                let r = response_obj(d, TWP);
                d.put(&r, "approved_by_issuer", true).unwrap();
            }),
        ),
    ];
    for (what, f) in attempts {
        // By the target itself over the child link, and by a relay forging the target's code.
        for origin in [origin_child(TWP), origin_parent(COUNTY)] {
            let changes = write_as(&mut doc, TWP, |d| f(d));
            let path = assert_refused(&mut doc, changes, origin, "responses_append_only");
            assert!(path.starts_with("responses.530181006"), "{what}: {path}");
        }
    }
    // What the response shows now stays the target's to set, and the log still grows.
    let changes = write_as(&mut doc, TWP, |d| {
        let r = response_obj(d, TWP);
        d.put(&r, "note", "补充说明").unwrap();
    });
    doc = assert_accepted(Some(&mut doc), changes, origin_child(TWP)).doc;
    let changes = write_as(&mut doc, TWP, |d| {
        directive::mark_milestone(d, directive::Responder::Node(&code(TWP)), "第一阶段").unwrap()
    });
    doc = assert_accepted(Some(&mut doc), changes, origin_child(TWP)).doc;
    let view = directive::read(&doc).unwrap();
    let r = &view.responses[TWP];
    assert_eq!(r.updates.len(), 3);
    assert_eq!(r.received_at.as_deref(), Some(NOW));
    assert_eq!(r.completed_at.as_deref(), Some(NOW));
    assert_eq!(r.note.as_deref(), Some("补充说明"));
}

fn a_review(decision: ReviewDecision) -> Review {
    Review {
        unit: TWP.into(),
        completion: 1,
        decision,
        reason: (decision == ReviewDecision::Return).then(|| "台账不全".to_string()),
        at: NOW.into(),
        user: "王五".into(),
    }
}

fn a_reminder() -> Reminder {
    Reminder {
        units: vec![TWP.into()],
        note: "请于本周内报送整改台账".into(),
        at: NOW.into(),
        user: "王五".into(),
    }
}

/// The issuer's log `core.<key>` in `d`.
fn issuer_log(d: &AutoCommit, key: &str) -> ObjId {
    let core = core_obj(d);
    d.get(&core, key).unwrap().expect("log").1
}

/// 审核 and 催办 (issue 17) are the issuer's logs: only the issuer's code appends to them (a target, or
/// a relay forging a target's code, is refused); the issuer itself cannot rewrite or delete an entry
/// or replace a log; the review flag set at issue is fixed.
#[test]
fn reviews_and_reminders_are_the_issuers_append_only_logs() {
    let mut doc = issued_directive();
    let c = respond_as(&mut doc, TWP, TWP, &update(ResponseAction::Complete, None));
    doc.apply_changes(c).unwrap();
    // A target writes a review of itself, or a reminder: refused, over either link.
    for origin in [origin_child(TWP), origin_parent(COUNTY)] {
        let changes = write_as(&mut doc, TWP, |d| {
            directive::add_review(d, &a_review(ReviewDecision::Approve)).unwrap()
        });
        let path = assert_refused(&mut doc, changes, origin.clone(), "issuer_only");
        assert!(path.starts_with("core.reviews"), "{path}");
        let changes = write_as(&mut doc, TWP, |d| {
            directive::add_reminder(d, &a_reminder()).unwrap()
        });
        assert_refused(&mut doc, changes, origin, "issuer_only");
    }
    // Another office (the city above the issuer) may not review either.
    let changes = write_as(&mut doc, CITY, |d| {
        directive::add_review(d, &a_review(ReviewDecision::Approve)).unwrap()
    });
    assert_refused(&mut doc, changes, origin_parent(CITY), "issuer_only");
    // The issuer returns the completion and reminds the township: accepted at the township.
    let changes = write_as(&mut doc, COUNTY, |d| {
        directive::add_review(d, &a_review(ReviewDecision::Return)).unwrap();
        directive::add_reminder(d, &a_reminder()).unwrap();
    });
    doc = assert_accepted(Some(&mut doc), changes, origin_parent(COUNTY)).doc;
    let view = directive::read(&doc).unwrap();
    assert_eq!(view.reviews.len(), 1);
    assert_eq!(view.reminders.len(), 1);
    // Nothing in the logs is rewritten, not even by the issuer.
    type Rewrite = Box<dyn Fn(&mut AutoCommit)>;
    let attempts: Vec<(&str, Rewrite)> = vec![
        (
            "a review's decision rewritten",
            Box::new(|d: &mut AutoCommit| {
                let l = issuer_log(d, "reviews");
                let first = d.get(&l, 0).unwrap().unwrap().1;
                d.put(&first, "decision", "approve").unwrap();
            }),
        ),
        (
            "a review replaced by a new map",
            Box::new(|d: &mut AutoCommit| {
                let l = issuer_log(d, "reviews");
                let m = d.put_object(&l, 0, ObjType::Map).unwrap();
                d.put(&m, "decision", "approve").unwrap();
            }),
        ),
        (
            "a review deleted",
            Box::new(|d: &mut AutoCommit| {
                let l = issuer_log(d, "reviews");
                d.delete(&l, 0).unwrap();
            }),
        ),
        (
            "the reviews list replaced",
            Box::new(|d: &mut AutoCommit| {
                let core = core_obj(d);
                d.put_object(&core, "reviews", ObjType::List).unwrap();
            }),
        ),
        (
            "a reminder's units rewritten",
            Box::new(|d: &mut AutoCommit| {
                let l = issuer_log(d, "reminders");
                let first = d.get(&l, 0).unwrap().unwrap().1;
                let units = d.get(&first, "units").unwrap().unwrap().1;
                d.put(&units, 0, TWP_B).unwrap();
            }),
        ),
        (
            "the reminders list deleted",
            Box::new(|d: &mut AutoCommit| {
                let core = core_obj(d);
                d.delete(&core, "reminders").unwrap();
            }),
        ),
    ];
    for (what, f) in attempts {
        let changes = write_as(&mut doc, COUNTY, |d| f(d));
        let path = assert_refused(
            &mut doc,
            changes,
            origin_parent(COUNTY),
            "reviews_append_only",
        );
        assert!(path.starts_with("core.re"), "{what}: {path}");
    }
    // The review flag is fixed at issue.
    let changes = write_as(&mut doc, COUNTY, |d| {
        let core = core_obj(d);
        d.put(&core, "review", true).unwrap();
    });
    assert_refused(&mut doc, changes, origin_parent(COUNTY), "write_once");
    // The township completes again; the issuer approves the second completion.
    let c = respond_as(&mut doc, TWP, TWP, &update(ResponseAction::Complete, None));
    doc = assert_accepted(Some(&mut doc), c, origin_child(TWP)).doc;
    let changes = write_as(&mut doc, COUNTY, |d| {
        directive::add_review(
            d,
            &Review {
                completion: 2,
                ..a_review(ReviewDecision::Approve)
            },
        )
        .unwrap()
    });
    doc = assert_accepted(Some(&mut doc), changes, origin_parent(COUNTY)).doc;
    let view = directive::read(&doc).unwrap();
    let twp = view
        .target_states()
        .into_iter()
        .find(|t| t.unit == TWP)
        .unwrap();
    assert_eq!((twp.review, twp.completions), (ReviewState::Approved, 2));
    assert_eq!(twp.reminders.len(), 1, "the reminder names the township");
}

/// A directive issued before the logs existed has no `core.reviews`: the issuer makes it on its first
/// review (once), a target still may not.
#[test]
fn the_issuer_makes_the_review_log_of_an_older_directive_on_first_use() {
    let mut doc = AutoCommit::new();
    doc.set_actor(actor(COUNTY));
    directive::create(&mut doc, &code(COUNTY), NOW, &directive_core()).unwrap();
    let core = core_obj(&doc);
    doc.delete(&core, "reviews").unwrap();
    doc.delete(&core, "reminders").unwrap();
    doc.commit();
    assert!(doc.get(&core, "reviews").unwrap().is_none());
    let c = respond_as(&mut doc, TWP, TWP, &update(ResponseAction::Complete, None));
    doc.apply_changes(c).unwrap();
    let changes = write_as(&mut doc, TWP, |d| {
        directive::add_review(d, &a_review(ReviewDecision::Approve)).unwrap()
    });
    assert_refused(&mut doc, changes, origin_child(TWP), "issuer_only");
    let changes = write_as(&mut doc, COUNTY, |d| {
        directive::add_review(d, &a_review(ReviewDecision::Return)).unwrap()
    });
    doc = assert_accepted(Some(&mut doc), changes, origin_parent(COUNTY)).doc;
    let view = directive::read(&doc).unwrap();
    assert!(!view.details.review, "issued before review");
    let twp = view
        .target_states()
        .into_iter()
        .find(|t| t.unit == TWP)
        .unwrap();
    assert_eq!(twp.review, ReviewState::Returned);
    assert!(!twp.done, "a returned unit is not done");
}

#[test]
fn target_cannot_delete_its_own_response() {
    let mut doc = issued_directive();
    let c = respond_as(&mut doc, TWP, TWP, &update(ResponseAction::Receive, None));
    doc.apply_changes(c).unwrap();
    let changes = write_as(&mut doc, TWP, |d| {
        let rs = d.get(ROOT, "responses").unwrap().unwrap().1;
        d.delete(&rs, TWP).unwrap();
    });
    assert_refused(
        &mut doc,
        changes,
        origin_child(TWP),
        "responses_append_only",
    );
    let changes = write_as(&mut doc, TWP, |d| {
        let rs = d.get(ROOT, "responses").unwrap().unwrap().1;
        let r = d.get(&rs, TWP).unwrap().unwrap().1;
        let updates = d.get(&r, "updates").unwrap().unwrap().1;
        d.delete(&updates, 0).unwrap();
    });
    assert_refused(
        &mut doc,
        changes,
        origin_child(TWP),
        "responses_append_only",
    );
}

#[test]
fn non_issuer_cannot_edit_directive_title() {
    let mut doc = issued_directive();
    for (who, origin) in [
        (TWP, origin_child(TWP)),
        (CITY, origin_parent(CITY)),
        (PROV, origin_parent(CITY)),
    ] {
        let changes = write_as(&mut doc, who, |d| {
            let core = core_obj(d);
            d.put(&core, "title", "x").unwrap();
        });
        let path = assert_refused(&mut doc, changes, origin, "issuer_only");
        assert_eq!(path, "core.title", "{who}");
    }
    // A target cannot add itself a sibling target, nor touch the header.
    let changes = write_as(&mut doc, TWP, |d| {
        let core = core_obj(d);
        let t = d.get(&core, "targets").unwrap().unwrap().1;
        d.insert(&t, 2, TWP_C).unwrap();
    });
    assert_refused(&mut doc, changes, origin_child(TWP), "issuer_only");
    let changes = write_as(&mut doc, TWP, |d| {
        let h = header_obj(d);
        d.put(&h, "owner", TWP).unwrap();
    });
    assert_refused(&mut doc, changes, origin_child(TWP), "issuer_only");
}

#[test]
fn non_target_cannot_respond() {
    let mut doc = issued_directive();
    // A township of the same county that the directive was not sent to.
    let changes = respond_as(
        &mut doc,
        TWP_C,
        TWP_C,
        &update(ResponseAction::Receive, None),
    );
    assert_refused(&mut doc, changes, origin_child(TWP_C), "own_response_only");
    // The issuer's parent is no target either.
    let changes = respond_as(&mut doc, CITY, CITY, &update(ResponseAction::Receive, None));
    assert_refused(&mut doc, changes, origin_parent(CITY), "own_response_only");
    // A non-target sneaking itself into the targets in the same batch is refused too.
    let changes = write_as(&mut doc, TWP_C, |d| {
        let core = core_obj(d);
        let t = d.get(&core, "targets").unwrap().unwrap().1;
        d.insert(&t, 2, TWP_C).unwrap();
        directive::respond(d, &code(TWP_C), &update(ResponseAction::Receive, None)).unwrap();
    });
    assert_refused(&mut doc, changes, origin_child(TWP_C), "issuer_only");
}

#[test]
fn directive_child_link_cannot_relay_outside_its_subtree() {
    let mut doc = issued_directive();
    let changes = respond_as(
        &mut doc,
        TWP_B,
        TWP_B,
        &update(ResponseAction::Receive, None),
    );
    assert_refused(
        &mut doc,
        changes,
        origin_child(TWP),
        "relay_outside_subtree",
    );
}

// ---------------------------------------------------------------------------------------------------
// Directives: cascade notices (紧急通知), department records, forwarding
// ---------------------------------------------------------------------------------------------------

/// A cascade notice issued by the province to its whole subtree (no node targets named).
fn cascade_notice() -> AutoCommit {
    let mut doc = AutoCommit::new();
    doc.set_actor(actor(PROV));
    let core = DirectiveCore {
        title: "关于立即开展汛期安全生产隐患排查的紧急通知".into(),
        body: "各级安委办接通知后立即签收并部署".into(),
        targets: vec![code(CITY)],
        deadline: "2026-07-10".into(),
    };
    let details = directive::DirectiveDetails {
        cascade: true,
        ..Default::default()
    };
    directive::create_with(&mut doc, &code(PROV), NOW, &core, &details).unwrap();
    doc.commit();
    doc
}

#[test]
fn cascade_notice_receipt_from_a_township_is_accepted_at_every_relay() {
    let mut prov = cascade_notice();
    // The notice travels down: city, county, township each accept it from their parent.
    let mut city = assert_accepted(None, prov.get_changes(&[]), origin_parent(PROV)).doc;
    let mut county = assert_accepted(None, prov.get_changes(&[]), origin_parent(CITY)).doc;
    let mut twp = assert_accepted(None, prov.get_changes(&[]), origin_parent(COUNTY)).doc;
    assert!(directive::read(&twp).unwrap().details.cascade);
    // The township signs for it; the receipt goes up hop by hop.
    let have = twp.get_heads();
    let c = respond_as(&mut twp, TWP, TWP, &update(ResponseAction::Receive, None));
    twp.apply_changes(c).unwrap();
    let receipt = twp.get_changes(&have);
    county = assert_accepted(Some(&mut county), receipt.clone(), origin_child(TWP)).doc;
    city = assert_accepted(Some(&mut city), receipt.clone(), origin_child(COUNTY)).doc;
    let prov = assert_accepted(Some(&mut prov), receipt, origin_child(CITY)).doc;
    assert!(
        directive::read(&prov).unwrap().responses[TWP]
            .received_at
            .is_some()
    );
    // The county's own receipt is accepted the same way, and comes down to the township too.
    let c = respond_as(
        &mut county,
        COUNTY,
        COUNTY,
        &update(ResponseAction::Receive, None),
    );
    assert_accepted(Some(&mut city), c.clone(), origin_child(COUNTY));
    assert_accepted(Some(&mut twp), c, origin_parent(COUNTY));
}

#[test]
fn cascade_notice_is_answered_only_in_ones_own_entry_and_only_inside_the_subtree() {
    let mut doc = cascade_notice();
    // The county may not sign for the township below it.
    let c = respond_as(
        &mut doc,
        COUNTY,
        TWP,
        &update(ResponseAction::Receive, None),
    );
    assert_refused(&mut doc, c, origin_child(CITY), "own_response_only");
    // A county-level notice is not answered by a township of another county.
    let mut county_notice = AutoCommit::new();
    county_notice.set_actor(actor(COUNTY));
    let core = DirectiveCore {
        title: "紧急通知".into(),
        body: String::new(),
        targets: vec![],
        deadline: "2026-07-10".into(),
    };
    let details = directive::DirectiveDetails {
        cascade: true,
        ..Default::default()
    };
    directive::create_with(&mut county_notice, &code(COUNTY), NOW, &core, &details).unwrap();
    county_notice.commit();
    let c = respond_as(
        &mut county_notice,
        OTHER_TWP,
        OTHER_TWP,
        &update(ResponseAction::Receive, None),
    );
    assert_refused(
        &mut county_notice,
        c,
        origin_parent(CITY),
        "own_response_only",
    );
    // Nor by the issuer's parent.
    let c = respond_as(
        &mut county_notice,
        CITY,
        CITY,
        &update(ResponseAction::Receive, None),
    );
    assert_refused(
        &mut county_notice,
        c,
        origin_parent(CITY),
        "own_response_only",
    );
}

#[test]
fn a_plain_directive_is_not_answered_by_nodes_below_its_targets() {
    let mut doc = issued_directive();
    // 530181006's own villages do not exist as nodes; take the province issuing to a city instead.
    let mut prov = AutoCommit::new();
    prov.set_actor(actor(PROV));
    directive::create(
        &mut prov,
        &code(PROV),
        NOW,
        &DirectiveCore {
            title: "普通任务".into(),
            body: String::new(),
            targets: vec![code(CITY)],
            deadline: "2026-12-31".into(),
        },
    )
    .unwrap();
    prov.commit();
    let c = respond_as(
        &mut prov,
        COUNTY,
        COUNTY,
        &update(ResponseAction::Receive, None),
    );
    assert_refused(&mut prov, c, origin_child(CITY), "own_response_only");
    // And the county's own directive stays closed to the city.
    let c = respond_as(&mut doc, CITY, CITY, &update(ResponseAction::Receive, None));
    assert_refused(&mut doc, c, origin_parent(CITY), "own_response_only");
}

#[test]
fn cascade_flag_assignments_and_parent_link_are_fixed_at_issue() {
    let mut doc = issued_directive();
    // The issuer itself may not turn a directive into a cascade notice afterwards.
    let c = write_as(&mut doc, COUNTY, |d| {
        let core = core_obj(d);
        d.put(&core, "cascade", true).unwrap();
    });
    assert_refused(&mut doc, c, origin_parent(CITY), "write_once");
    let c = write_as(&mut doc, COUNTY, |d| {
        let core = core_obj(d);
        d.put(&core, "parent", "d-other").unwrap();
    });
    assert_refused(&mut doc, c, origin_parent(CITY), "write_once");
    // A target may not flip it either.
    let c = write_as(&mut doc, TWP, |d| {
        let core = core_obj(d);
        d.put(&core, "cascade", true).unwrap();
    });
    assert_refused(&mut doc, c, origin_child(TWP), "issuer_only");
}

#[test]
fn only_the_issuer_records_its_departments_progress() {
    let mut doc = issued_directive();
    let u = update(ResponseAction::Progress, Some(50));
    let c = write_as(&mut doc, COUNTY, |d| {
        directive::respond_as(d, directive::Responder::Department("应急管理局"), &u).unwrap();
    });
    let mut doc = assert_accepted(Some(&mut doc), c, origin_parent(CITY)).doc;
    assert_eq!(
        directive::read(&doc).unwrap().unit_responses["应急管理局"].percent,
        Some(50)
    );
    let c = write_as(&mut doc, TWP, |d| {
        directive::respond_as(d, directive::Responder::Department("应急管理局"), &u).unwrap();
    });
    assert_refused(&mut doc, c, origin_child(TWP), "issuer_only");
}

#[test]
fn a_target_links_its_forwarded_directive_in_its_own_response() {
    let mut doc = issued_directive();
    let c = write_as(&mut doc, TWP, |d| {
        directive::respond(d, &code(TWP), &update(ResponseAction::Receive, None)).unwrap();
        directive::record_forward(d, &code(TWP), "d-sub").unwrap();
        directive::mark_milestone(d, directive::Responder::Node(&code(TWP)), "6月底前").unwrap();
    });
    let mut doc = assert_accepted(Some(&mut doc), c, origin_child(TWP)).doc;
    let r = &directive::read(&doc).unwrap().responses[TWP];
    assert_eq!(r.forwarded, vec!["d-sub"]);
    assert_eq!(r.milestones_met, vec!["6月底前"]);
    // Another target may not add to it.
    let c = write_as(&mut doc, TWP_B, |d| {
        directive::record_forward(d, &code(TWP), "d-fake").unwrap();
    });
    assert_refused(&mut doc, c, origin_child(TWP_B), "own_response_only");
}

// ---------------------------------------------------------------------------------------------------
// Gaps: DESIGN §4 rules that authority.rs does not enforce yet. These fail until it does.
// ---------------------------------------------------------------------------------------------------

/// Asserts a refusal without pinning the rule's name (the rule does not exist yet).
#[track_caller]
fn assert_forbidden_at(
    base: &mut AutoCommit,
    changes: Vec<Change>,
    origin: Origin,
    path_prefix: &str,
) {
    let before = base.get_heads();
    match check_and_apply("doc-under-test", Some(base), changes, &origin) {
        Err(Error::Forbidden { path, .. }) => assert!(
            path.starts_with(path_prefix),
            "refused at {path}, expected {path_prefix}"
        ),
        Err(e) => panic!("expected Forbidden at {path_prefix}, got {e:?}"),
        Ok(c) => panic!(
            "expected a refusal at {path_prefix}, but {} change(s) were accepted",
            c.applied
        ),
    }
    assert_eq!(base.get_heads(), before);
}

/// DESIGN §4: a *general* hazard is written by its owner and its **parent** only; "any ancestor" is
/// the rule for major hazards. `check_hazard_op` uses `is_ancestor_of` for both grades.
#[test]
fn only_the_parent_supervises_a_general_hazard() {
    let mut doc = registered_hazard(TWP, Grade::General);
    // The parent may.
    let c = append_as(&mut doc, COUNTY, &supervise(COUNTY, COUNTY));
    assert_accepted(Some(&mut doc), c, origin_parent(COUNTY));
    // The province, relayed down the parent links, may not.
    let c = append_as(&mut doc, PROV, &supervise(PROV, PROV));
    assert_forbidden_at(&mut doc, c, origin_parent(COUNTY), "events[]");
    let c = append_as(&mut doc, CITY, &ev(EventKind::Comment, CITY));
    assert_forbidden_at(&mut doc, c, origin_parent(COUNTY), "events[]");
}

/// DESIGN §4: `events` is append-only. An insert in the middle of the log (here: before the
/// registration) rewrites the folded history and the audit trail; `check_hazard_op` only checks that the
/// op is an insert, not where it inserts.
#[test]
fn an_event_cannot_be_inserted_before_existing_ones() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    let c = append_as(&mut doc, TWP, &ev(EventKind::Plan, TWP));
    doc.apply_changes(c).unwrap();
    // The owner back-dates a rectified/accept/close ahead of everything else.
    let changes = write_as(&mut doc, TWP, |d| {
        let events = events_obj(d);
        for (i, k) in ["rectified", "accept", "close"].into_iter().enumerate() {
            let m = d.insert_object(&events, i, ObjType::Map).unwrap();
            d.put(&m, "kind", k).unwrap();
            d.put(&m, "at", NOW).unwrap();
            d.put(&m, "by", TWP).unwrap();
        }
    });
    assert_forbidden_at(&mut doc, changes, origin_child(TWP), "events[]");
}

/// A supervise event's `level` is the 挂牌督办单位 and the fold lets the highest level win; a county
/// can currently list a hazard in the province's name (`level = 53`), which the authority check does
/// not look at (only `kind` and `by` are checked).
#[test]
fn supervise_level_cannot_name_a_higher_office_than_the_actor() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    let changes = append_as(&mut doc, COUNTY, &supervise(COUNTY, PROV));
    assert_forbidden_at(&mut doc, changes, origin_parent(COUNTY), "events[].level");
}

/// The header decides whose rules apply, but for an existing document only the *stored* header is
/// consulted, and the owner may write anywhere outside `events` — including `header.owner`. The owner
/// can thus hand the record to another office, and whether a later change by that office is accepted
/// then depends on how the changes were batched (see the second half). The header should be
/// write-once (only in the document's first change).
#[test]
fn header_is_immutable_even_for_the_owner() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    let handover = write_as(&mut doc, TWP, |d| {
        let h = header_obj(d);
        d.put(&h, "owner", COUNTY).unwrap();
    });
    let mut after = doc.fork();
    after.apply_changes(handover.clone()).unwrap();
    let edit = write_as(&mut after, COUNTY, |d| {
        let core = core_obj(d);
        d.put(&core, "title", "县里改的标题").unwrap();
    });

    // Batched together, the county's edit is judged against the township's header: refused.
    let together = check_and_apply(
        "doc",
        Some(&mut doc.fork()),
        [handover.clone(), edit.clone()].concat(),
        &origin_parent(COUNTY),
    );
    // Batched apart, the same edit is judged against the rewritten header: accepted.
    let apart = check_and_apply(
        "doc",
        Some(&mut doc.fork()),
        handover.clone(),
        &origin_child(TWP),
    )
    .and_then(|mut c| {
        check_and_apply(
            "doc",
            Some(&mut c.doc),
            edit.clone(),
            &origin_parent(COUNTY),
        )
    });
    assert_eq!(
        together.is_ok(),
        apart.is_ok(),
        "the verdict on the same changes must not depend on batching"
    );

    assert_forbidden_at(&mut doc, handover, origin_child(TWP), "header");
}

/// The targets a response is checked against are read from the document *after* the batch, not at the
/// response's own causal context. A target that responds while the issuer concurrently drops it from
/// `targets` has its response refused at the issuer forever — and every later change of that target
/// depends on it, so the target's link for this document is stuck — while a node that received the
/// response first accepted it.
#[test]
fn response_verdict_does_not_depend_on_a_concurrent_target_edit() {
    let mut county = issued_directive();
    let mut twp = assert_accepted(None, county.get_changes(&[]), origin_parent(COUNTY)).doc;
    let response = respond_as(&mut twp, TWP, TWP, &update(ResponseAction::Receive, None));
    // Concurrently, the issuer narrows the targets to 530181007.
    let narrow = write_as(&mut county, COUNTY, |d| {
        let core = core_obj(d);
        let t = d.get(&core, "targets").unwrap().unwrap().1;
        d.delete(&t, 0).unwrap();
    });
    let before = check_and_apply(
        "doc",
        Some(&mut county.fork()),
        response.clone(),
        &origin_child(TWP),
    );
    assert!(before.is_ok(), "a target's own 签收 is accepted");
    county.apply_changes(narrow).unwrap();
    let after = check_and_apply("doc", Some(&mut county), response, &origin_child(TWP));
    assert!(
        after.is_ok(),
        "the same 签收, made while 530181006 was a target, was refused: {:?}",
        after.err()
    );
}

/// `events` is append-only for everyone, but the rule only looks at paths *below* `events`: the root
/// key `events` itself falls to the "owner may write anything else" arm. The owner can therefore
/// replace or delete the whole log — erasing the province's 挂牌督办 and escalations.
#[test]
fn owner_cannot_replace_or_delete_the_event_log() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    let c = append_as(&mut doc, PROV, &supervise(PROV, PROV));
    doc.apply_changes(c).unwrap();
    let replace = write_as(&mut doc, TWP, |d| {
        d.put_object(ROOT, "events", ObjType::List).unwrap();
    });
    // Sanity: accepted, this would wipe the listing.
    let mut wiped = doc.fork();
    wiped.apply_changes(replace.clone()).unwrap();
    assert!(hazard::read(&wiped).unwrap().events.is_empty());
    assert_forbidden_at(&mut doc, replace, origin_child(TWP), "events");
    let delete = write_as(&mut doc, TWP, |d| {
        d.delete(ROOT, "events").unwrap();
    });
    assert_forbidden_at(&mut doc, delete, origin_child(TWP), "events");
}

/// Same hole for directives: `responses.<code>` is the targets' own, but the root key `responses` is
/// left to the issuer, who can replace or delete every target's 签收 and progress at once.
#[test]
fn issuer_cannot_replace_or_delete_the_responses() {
    let mut doc = issued_directive();
    let c = respond_as(&mut doc, TWP, TWP, &update(ResponseAction::Complete, None));
    doc.apply_changes(c).unwrap();
    let replace = write_as(&mut doc, COUNTY, |d| {
        d.put_object(ROOT, "responses", ObjType::Map).unwrap();
    });
    let mut wiped = doc.fork();
    wiped.apply_changes(replace.clone()).unwrap();
    assert!(directive::read(&wiped).unwrap().responses.is_empty());
    assert_forbidden_at(&mut doc, replace, origin_parent(COUNTY), "responses");
    let delete = write_as(&mut doc, COUNTY, |d| {
        d.delete(ROOT, "responses").unwrap();
    });
    assert_forbidden_at(&mut doc, delete, origin_parent(COUNTY), "responses");
}

// ---------------------------------------------------------------------------------------------------
// 佐证材料: attachments are written with their event, never after
// ---------------------------------------------------------------------------------------------------

fn photo(name: &str) -> safemesh_model::evidence::Attachment {
    safemesh_model::evidence::Attachment {
        sha256: "ab".repeat(32),
        size: 2048,
        media_type: "image/jpeg".into(),
        name: name.into(),
    }
}

#[test]
fn an_event_carries_its_attachments_in_the_change_that_makes_it() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    let rectified = HazardEvent {
        attachments: vec![photo("整改后.jpg"), photo("整改后-2.jpg")],
        ..ev(EventKind::Rectified, TWP)
    };
    let changes = append_as(&mut doc, TWP, &rectified);
    let checked = assert_accepted(Some(&mut doc), changes, origin_child(TWP));
    let view = hazard::read(&checked.doc).unwrap();
    assert_eq!(view.events[1].attachments, rectified.attachments);
    // A superior's acceptance with its 验收单 too.
    let accept = HazardEvent {
        attachments: vec![photo("验收单.jpg")],
        ..ev(EventKind::Comment, COUNTY)
    };
    let mut doc = checked.doc;
    let changes = append_as(&mut doc, COUNTY, &accept);
    assert_accepted(Some(&mut doc), changes, origin_parent(COUNTY));
}

#[test]
fn nobody_adds_or_replaces_an_attachment_of_an_event_already_written() {
    let mut doc = registered_hazard(TWP, Grade::Major);
    let rectified = HazardEvent {
        attachments: vec![photo("整改后.jpg")],
        ..ev(EventKind::Rectified, TWP)
    };
    let changes = append_as(&mut doc, TWP, &rectified);
    doc.apply_changes(changes).unwrap();
    // 1. The owner appending a file to its own earlier event is refused.
    let changes = write_as(&mut doc, TWP, |d| {
        let e = event_obj(d, 1);
        let list = d.get(&e, "attachments").unwrap().unwrap().1;
        let m = d.insert_object(&list, 1, ObjType::Map).unwrap();
        d.put(&m, "sha256", "cd".repeat(32)).unwrap();
    });
    assert_refused(&mut doc, changes, origin_child(TWP), "events_append_only");
    // 2. Replacing the hash a reference names is refused, from below and from above.
    for (who, origin) in [(TWP, origin_child(TWP)), (PROV, origin_parent(COUNTY))] {
        let changes = write_as(&mut doc, who, |d| {
            let e = event_obj(d, 1);
            let list = d.get(&e, "attachments").unwrap().unwrap().1;
            let a = d.get(&list, 0).unwrap().unwrap().1;
            d.put(&a, "sha256", "cd".repeat(32)).unwrap();
        });
        assert_refused(&mut doc, changes, origin, "events_append_only");
    }
    // 3. Giving an old event a new attachment list is refused.
    let changes = write_as(&mut doc, TWP, |d| {
        let e = event_obj(d, 0);
        d.put_object(&e, "attachments", ObjType::List).unwrap();
    });
    assert_refused(&mut doc, changes, origin_child(TWP), "events_append_only");
}

/// 报送材料: a target's update carries its files in the change that makes it; nobody adds a file to
/// an update already written or replaces one.
#[test]
fn a_response_update_carries_its_files_and_they_are_never_rewritten() {
    let mut county = issued_directive();
    let mut twp = assert_accepted(None, county.get_changes(&[]), origin_parent(COUNTY)).doc;
    let have = county.get_heads();
    let report = ResponseUpdate {
        attachments: vec![photo("整治方案.jpg"), photo("排查台账.jpg")],
        ..update(ResponseAction::Progress, Some(60))
    };
    let c = respond_as(&mut twp, TWP, TWP, &report);
    twp.apply_changes(c).unwrap();
    county = assert_accepted(Some(&mut county), twp.get_changes(&have), origin_child(TWP)).doc;
    let view = directive::read(&county).unwrap();
    assert_eq!(
        view.responses[TWP].updates[0].attachments,
        report.attachments
    );

    let update_obj = |d: &AutoCommit| {
        let r = response_obj(d, TWP);
        let ups = d.get(&r, "updates").unwrap().unwrap().1;
        d.get(&ups, 0).unwrap().unwrap().1
    };
    // 1. The target adding a file to its earlier update.
    let changes = write_as(&mut county, TWP, |d| {
        let u = update_obj(d);
        let list = d.get(&u, "attachments").unwrap().unwrap().1;
        let m = d.insert_object(&list, 2, ObjType::Map).unwrap();
        d.put(&m, "sha256", "cd".repeat(32)).unwrap();
    });
    assert_refused(
        &mut county,
        changes,
        origin_child(TWP),
        "responses_append_only",
    );
    // 2. Replacing the hash a reference names.
    let changes = write_as(&mut county, TWP, |d| {
        let u = update_obj(d);
        let list = d.get(&u, "attachments").unwrap().unwrap().1;
        let a = d.get(&list, 0).unwrap().unwrap().1;
        d.put(&a, "sha256", "cd".repeat(32)).unwrap();
    });
    assert_refused(
        &mut county,
        changes,
        origin_child(TWP),
        "responses_append_only",
    );
    // 3. A new list under an old update, and an object other than a list of maps in a new one.
    let changes = write_as(&mut county, TWP, |d| {
        let u = update_obj(d);
        d.delete(&u, "attachments").ok();
        d.put_object(&u, "attachments", ObjType::List).unwrap();
    });
    assert_refused(
        &mut county,
        changes,
        origin_child(TWP),
        "responses_append_only",
    );
    let changes = write_as(&mut county, TWP, |d| {
        let r = response_obj(d, TWP);
        let ups = d.get(&r, "updates").unwrap().unwrap().1;
        let u = d.insert_object(&ups, 1, ObjType::Map).unwrap();
        d.put(&u, "action", "progress").unwrap();
        d.put_object(&u, "files", ObjType::Map).unwrap();
    });
    assert_refused(
        &mut county,
        changes,
        origin_child(TWP),
        "responses_append_only",
    );
}
