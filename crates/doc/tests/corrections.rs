//! 补报 and 变更 — the owner's corrections of the records it registered and the levels above review
//! (accidents, enterprises): only the owner appends a correction and rewrites the figures or the
//! particulars; a superior still reviews; what each correction changed is kept in its event.

use automerge::{ActorId, ROOT, ReadDoc, transaction::Transactable};
use safemesh_doc::accident::{self, AccidentCore, AccidentEvent, Figures};
use safemesh_doc::actor::actor_id;
use safemesh_doc::authority::{Origin, check_and_apply};
use safemesh_doc::enterprise::{self, EnterpriseCore, Licence};
use safemesh_doc::revision::FieldChange;
use safemesh_doc::{AutoCommit, Change, Error};
use safemesh_model::AdminCode;

const COUNTY: &str = "530181";
const TWP: &str = "530181006";
const SIBLING: &str = "530181007";
const NOW: &str = "2026-11-01T08:00:00Z";

fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).unwrap()
}

fn actor(s: &str) -> ActorId {
    actor_id(&code(s), format!("install-{s}").as_bytes())
}

fn accident_doc() -> AutoCommit {
    let mut doc = AutoCommit::new();
    doc.set_actor(actor(TWP));
    let core = AccidentCore {
        title: "有限空间中毒窒息".into(),
        occurred_at: "2026-10-25".into(),
        sector: "冶金工贸".into(),
        deaths: 2,
        serious_injuries: 3,
        direct_loss_wan: 120.0,
        enterprise: None,
        description: String::new(),
        attachments: Vec::new(),
    };
    accident::create(&mut doc, &code(TWP), NOW, &core).unwrap();
    doc.commit();
    doc
}

fn event(kind: &str, by: &str, changes: Vec<FieldChange>) -> AccidentEvent {
    AccidentEvent {
        kind: kind.into(),
        at: NOW.into(),
        by: code(by),
        user: "张三".into(),
        note: Some("补报说明".into()),
        changes,
        attachments: Vec::new(),
    }
}

fn write_as(base: &mut AutoCommit, who: &str, f: impl FnOnce(&mut AutoCommit)) -> Vec<Change> {
    let mut fork = base.fork();
    fork.set_actor(actor(who));
    f(&mut fork);
    fork.commit();
    fork.get_changes(&base.get_heads())
}

/// The rule that refuses `changes`, or `None` when they pass — then `base` becomes the document with
/// them applied.
fn rule_of(base: &mut AutoCommit, changes: Vec<Change>, origin: Origin) -> Option<String> {
    let before = base.get_heads();
    match check_and_apply("doc", Some(base), changes, &origin) {
        Ok(checked) => {
            *base = checked.doc;
            None
        }
        Err(Error::Forbidden { rule, .. }) => {
            assert_eq!(
                base.get_heads(),
                before,
                "a refusal leaves the document as it was"
            );
            Some(rule.to_string())
        }
        Err(e) => panic!("expected a verdict, got {e:?}"),
    }
}

fn supplement(by: &str) -> impl FnOnce(&mut AutoCommit) {
    let by = by.to_string();
    move |d: &mut AutoCommit| {
        let before = Figures {
            deaths: 2,
            serious_injuries: 3,
            direct_loss_wan: 120.0,
        };
        let after = Figures {
            deaths: 3,
            ..before
        };
        let e = event(
            accident::SUPPLEMENT,
            &by,
            vec![FieldChange::new("deaths", "2", "3")],
        );
        accident::supplement(d, before, after, &e).unwrap();
    }
}

#[test]
fn the_owner_supplements_an_accident_and_the_grade_follows_with_the_change_kept() {
    let mut doc = accident_doc();
    let c = write_as(&mut doc, TWP, supplement(TWP));
    assert_eq!(rule_of(&mut doc, c, Origin::Local), None);
    let v = accident::read(&doc).unwrap();
    assert_eq!((v.core.deaths, v.grade_label), (3, "较大"));
    assert_eq!(v.events[0].kind, "supplement");
    assert_eq!(
        v.events[0].changes,
        vec![FieldChange::new("deaths", "2", "3")]
    );
}

#[test]
fn a_superior_or_a_sibling_cannot_supplement_an_accident() {
    let mut doc = accident_doc();
    // The county, through the township's link, writing the correction event and the figures.
    let c = write_as(&mut doc, COUNTY, supplement(COUNTY));
    assert_eq!(
        rule_of(&mut doc, c, Origin::Parent(code(COUNTY))).as_deref(),
        Some("owner_only")
    );
    // Only the event, no figures: still the owner's.
    let c = write_as(&mut doc, COUNTY, |d| {
        accident::append_event(d, &event(accident::SUPPLEMENT, COUNTY, Vec::new())).unwrap()
    });
    assert_eq!(
        rule_of(&mut doc, c, Origin::Parent(code(COUNTY))).as_deref(),
        Some("owner_only")
    );
    let c = write_as(&mut doc, SIBLING, supplement(SIBLING));
    assert!(rule_of(&mut doc, c, Origin::Local).is_some());
    // The county still reviews.
    let c = write_as(&mut doc, COUNTY, |d| {
        accident::append_event(d, &event("review", COUNTY, Vec::new())).unwrap()
    });
    assert_eq!(rule_of(&mut doc, c, Origin::Parent(code(COUNTY))), None);
}

fn enterprise_core() -> EnterpriseCore {
    EnterpriseCore {
        credit_code: "91350200776049653A".into(),
        credit_code_override: None,
        name: "安宁某某化工有限公司".into(),
        legal_representative: "周某".into(),
        principal: "王某".into(),
        controller: "李某".into(),
        actual_manager: String::new(),
        sector: "危险化学品".into(),
        above_scale: true,
        major_hazard_source_grade: Some(2),
        dust_explosion: false,
        ammonia_refrigeration: true,
        standardisation_level: "二级".into(),
        address: String::new(),
        division: None,
        risk_grade: String::new(),
        key_unit: false,
        licences: Vec::new(),
    }
}

#[test]
fn enterprise_updates_write_only_what_changed_and_concurrent_ones_both_stand() {
    let mut doc = AutoCommit::new();
    doc.set_actor(actor(TWP));
    let before = enterprise_core();
    enterprise::create(&mut doc, &code(TWP), NOW, &before).unwrap();
    doc.commit();
    // Two updates made from the same state on two installs: one the people, one the licences.
    let people = EnterpriseCore {
        principal: "赵某".into(),
        ..before.clone()
    };
    let licences = EnterpriseCore {
        licences: vec![Licence {
            name: "安全生产许可证".into(),
            number: "(云)WH安许证字〔2024〕0001号".into(),
            valid_until: "2027-06-30".into(),
        }],
        major_hazard_source_grade: None,
        ..before.clone()
    };
    let update = |after: EnterpriseCore| {
        let before = before.clone();
        move |d: &mut AutoCommit| {
            let e = AccidentEvent {
                kind: enterprise::UPDATE.into(),
                changes: enterprise::changes(&before, &after),
                ..event("", TWP, Vec::new())
            };
            enterprise::update(d, &before, &after, &e).unwrap()
        }
    };
    let a = write_as(&mut doc, TWP, update(people));
    // The other from a second install of the same office (its own actor), on the same base.
    let b = {
        let mut fork = doc.fork();
        fork.set_actor(actor_id(&code(TWP), b"second install"));
        update(licences)(&mut fork);
        fork.commit();
        fork.get_changes(&doc.get_heads())
    };
    assert_eq!(rule_of(&mut doc, a, Origin::Local), None);
    assert_eq!(rule_of(&mut doc, b, Origin::Local), None);
    let v = enterprise::read(&doc).unwrap();
    assert_eq!(v.core.principal, "赵某");
    assert_eq!(v.core.licences.len(), 1);
    assert_eq!(
        v.core.major_hazard_source_grade, None,
        "a grade removed reads as none"
    );
    assert_eq!(v.core.name, "安宁某某化工有限公司", "untouched fields stay");
    assert_eq!(v.events.len(), 2);
    let fields: Vec<Vec<&str>> = v
        .events
        .iter()
        .map(|e| e.changes.iter().map(|c| c.field.as_str()).collect())
        .collect();
    assert!(fields.contains(&vec!["principal"]), "{fields:?}");
    assert!(
        fields.contains(&vec!["major_hazard_source_grade", "licences"]),
        "{fields:?}"
    );
}

#[test]
fn a_superior_cannot_update_an_enterprise_core() {
    let mut doc = AutoCommit::new();
    doc.set_actor(actor(TWP));
    enterprise::create(&mut doc, &code(TWP), NOW, &enterprise_core()).unwrap();
    doc.commit();
    let c = write_as(&mut doc, COUNTY, |d| {
        let core = d.get(ROOT, "core").unwrap().unwrap().1;
        d.put(&core, "principal", "孙某").unwrap();
    });
    assert_eq!(
        rule_of(&mut doc, c, Origin::Parent(code(COUNTY))).as_deref(),
        Some("owner_only")
    );
}

#[test]
fn what_a_correction_may_not_touch_is_written_once() {
    // An accident's facts of registration beyond its figures: even the owner cannot rewrite them.
    let mut doc = accident_doc();
    let c = write_as(&mut doc, TWP, |d| {
        let core = d.get(ROOT, "core").unwrap().unwrap().1;
        d.put(&core, "occurred_at", "2026-10-30").unwrap();
    });
    assert_eq!(
        rule_of(&mut doc, c, Origin::Local).as_deref(),
        Some("write_once")
    );
    // An enterprise's credit code and its exception are its identity.
    let mut doc = AutoCommit::new();
    doc.set_actor(actor(TWP));
    enterprise::create(&mut doc, &code(TWP), NOW, &enterprise_core()).unwrap();
    doc.commit();
    for key in ["credit_code", "credit_code_override"] {
        let c = write_as(&mut doc, TWP, |d| {
            let core = d.get(ROOT, "core").unwrap().unwrap().1;
            d.put(&core, key, "91350100M0001TGQXM").unwrap();
        });
        assert_eq!(
            rule_of(&mut doc, c, Origin::Local).as_deref(),
            Some("write_once"),
            "{key}"
        );
    }
}

// 佐证材料 on an accident: its 快报 is filed with the registration, files with an event are written
// with it; neither is added to nor replaced later.

fn file(name: &str) -> safemesh_model::evidence::Attachment {
    safemesh_model::evidence::Attachment {
        sha256: "ef".repeat(32),
        size: 4096,
        media_type: "application/pdf".into(),
        name: name.into(),
    }
}

fn child(s: &str) -> Origin {
    Origin::Child(code(s))
}

#[test]
fn an_accidents_report_and_its_events_files_are_written_with_them_and_never_after() {
    // The 快报 with the registration: the whole document passes the county's check from below.
    let mut twp = AutoCommit::new();
    twp.set_actor(actor(TWP));
    let core = AccidentCore {
        attachments: vec![file("事故快报.pdf")],
        ..accident::read(&accident_doc()).unwrap().core
    };
    accident::create(&mut twp, &code(TWP), NOW, &core).unwrap();
    twp.commit();
    let mut county = check_and_apply("doc", None, twp.get_changes(&[]), &child(TWP))
        .expect("a registration with its report passes")
        .doc;
    assert_eq!(
        accident::read(&county).unwrap().core.attachments,
        vec![file("事故快报.pdf")]
    );
    // A 补报 with the hospital's certificate; a superior's review with its own file.
    let c = write_as(&mut county, TWP, |d| {
        let before = accident::read(d).unwrap().core.figures();
        let after = Figures {
            deaths: before.deaths + 1,
            ..before
        };
        let e = AccidentEvent {
            attachments: vec![file("死亡证明.pdf")],
            ..event(accident::SUPPLEMENT, TWP, Vec::new())
        };
        accident::supplement(d, before, after, &e).unwrap();
    });
    assert_eq!(rule_of(&mut county, c, child(TWP)), None);
    let c = write_as(&mut county, COUNTY, |d| {
        let e = AccidentEvent {
            attachments: vec![file("复核意见.pdf")],
            ..event("review", COUNTY, Vec::new())
        };
        accident::append_event(d, &e).unwrap();
    });
    assert_eq!(rule_of(&mut county, c, Origin::Local), None);
    let v = accident::read(&county).unwrap();
    assert_eq!(v.events[0].attachments, vec![file("死亡证明.pdf")]);
    assert_eq!(v.events[1].attachments, vec![file("复核意见.pdf")]);

    // Later: a file added to the registration's report, to an earlier event, or a hash replaced.
    let c = write_as(&mut county, TWP, |d| {
        let core = d.get(ROOT, "core").unwrap().unwrap().1;
        let list = d.get(&core, "attachments").unwrap().unwrap().1;
        let m = d.insert_object(&list, 1, automerge::ObjType::Map).unwrap();
        d.put(&m, "sha256", "cd".repeat(32)).unwrap();
    });
    assert_eq!(
        rule_of(&mut county, c, child(TWP)).as_deref(),
        Some("write_once")
    );
    let event_obj = |d: &AutoCommit, i: usize| {
        let events = d.get(ROOT, "events").unwrap().unwrap().1;
        d.get(&events, i).unwrap().unwrap().1
    };
    let c = write_as(&mut county, TWP, |d| {
        let e = event_obj(d, 0);
        let list = d.get(&e, "attachments").unwrap().unwrap().1;
        let m = d.insert_object(&list, 1, automerge::ObjType::Map).unwrap();
        d.put(&m, "sha256", "cd".repeat(32)).unwrap();
    });
    assert_eq!(
        rule_of(&mut county, c, child(TWP)).as_deref(),
        Some("events_append_only")
    );
    let c = write_as(&mut county, COUNTY, |d| {
        let e = event_obj(d, 1);
        let list = d.get(&e, "attachments").unwrap().unwrap().1;
        let a = d.get(&list, 0).unwrap().unwrap().1;
        d.put(&a, "sha256", "cd".repeat(32)).unwrap();
    });
    assert_eq!(
        rule_of(&mut county, c, Origin::Local).as_deref(),
        Some("events_append_only")
    );
    // A list of another kind inside a new event is not a place for files either.
    let c = write_as(&mut county, COUNTY, |d| {
        let events = d.get(ROOT, "events").unwrap().unwrap().1;
        let e = d
            .insert_object(&events, 2, automerge::ObjType::Map)
            .unwrap();
        d.put(&e, "kind", "comment").unwrap();
        d.put(&e, "by", COUNTY).unwrap();
        d.put_object(&e, "files", automerge::ObjType::List).unwrap();
    });
    assert_eq!(
        rule_of(&mut county, c, Origin::Local).as_deref(),
        Some("events_append_only")
    );
}
