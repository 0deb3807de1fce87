//! 功能区 — a functional zone's records (DOMAIN.md "功能区"): the header names the zone's configured
//! parent, and audience, superiors and relays follow the zone's chain, computed from the document alone.
//!
//! The zone is 530171 (by its prefix directly under the city 5301), run by the county 530181.

use automerge::ActorId;
use safemesh_doc::actor::actor_id;
use safemesh_doc::authority::{Origin, check_and_apply, check_snapshot};
use safemesh_doc::hazard::{self, Enterprise, HazardCore, Hazards};
use safemesh_doc::{AutoCommit, Error, Header, RecordKind, put_owner_parent};
use safemesh_model::hazard::facts::{Basis, Location, Stock};
use safemesh_model::hazard::{Channel, EventKind, Grade, HazardEvent};
use safemesh_model::{AdminCode, Chain};

const ZONE: &str = "530171";
const COUNTY: &str = "530181";
const CITY: &str = "5301";
const PROV: &str = "53";
const NOW: &str = "2026-11-01T08:00:00Z";

fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).unwrap()
}

fn actor(s: &str) -> ActorId {
    actor_id(&code(s), format!("install-{s}").as_bytes())
}

fn core(grade: Grade) -> HazardCore {
    HazardCore {
        number: "530171-2026-0001".into(),
        title: "物流园危险货物车辆停车场未设置防火间距".into(),
        sector: "危险化学品".into(),
        sector_detail: None,
        grade,
        channel: Channel::Inspection,
        inspection_mode: Some("四不两直".into()),
        found_by_level: code(ZONE),
        found_on: "2026-10-30".into(),
        stock: Stock::New,
        subject: Default::default(),
        responsible_unit: String::new(),
        enterprise: Enterprise {
            name: "某物流有限公司".into(),
            credit_code: "91530181MA6XXXXXXX".into(),
            credit_code_override: None,
        },
        location: Location {
            division: String::new(),
            address: "物流园区".into(),
        },
        basis: Basis {
            standard: "《危险货物道路运输安全管理办法》".into(),
            clause: "第二十条".into(),
        },
        deadline: "2026-12-31".into(),
        description: "停车场与仓库间距不足".into(),
    }
}

/// A hazard of the zone, as the zone writes it: the configured parent in its header (`parent`:
/// `None` for a zone registered as an ordinary office would be).
fn zone_hazard(grade: Grade, parent: Option<&str>) -> AutoCommit {
    let mut doc = AutoCommit::new();
    doc.set_actor(actor(ZONE));
    hazard::create(&mut doc, &code(ZONE), "王五", NOW, &core(grade)).unwrap();
    let chain = Chain::configured(&code(ZONE), parent.map(code).as_ref()).unwrap();
    put_owner_parent(&mut doc, &chain).unwrap();
    doc.commit();
    doc
}

fn comment(base: &mut AutoCommit, by: &str) -> Vec<automerge::Change> {
    let mut fork = base.fork();
    fork.set_actor(actor(by));
    hazard::append_event(
        &mut fork,
        &HazardEvent {
            note: Some("请报送整改方案".into()),
            ..HazardEvent::new(EventKind::Comment, code(by), NOW)
        },
    )
    .unwrap();
    fork.commit();
    fork.get_changes(&base.get_heads())
}

fn audience_codes(doc: &AutoCommit) -> Vec<String> {
    let header = Header::read(doc).unwrap();
    let view = Hazards::read(doc).unwrap();
    Hazards::audience(&header, &view)
        .entries
        .into_iter()
        .map(|(c, _)| c.to_string())
        .collect()
}

#[test]
fn a_zone_hazard_goes_along_the_configured_chain() {
    let general = zone_hazard(Grade::General, Some(COUNTY));
    assert_eq!(
        Header::read(&general).unwrap().owner_parent,
        Some(code(COUNTY))
    );
    assert_eq!(audience_codes(&general), vec![ZONE, COUNTY]);
    let major = zone_hazard(Grade::Major, Some(COUNTY));
    assert_eq!(audience_codes(&major), vec![ZONE, COUNTY, CITY, PROV]);
    // Without the header's claim, the prefix: the city is the general hazard's parent.
    assert_eq!(
        audience_codes(&zone_hazard(Grade::General, None)),
        vec![ZONE, CITY]
    );
}

#[test]
fn a_header_naming_the_prefix_parent_or_a_loop_is_malformed() {
    for bad in [CITY, "530171001"] {
        let mut doc = AutoCommit::new();
        doc.set_actor(actor(ZONE));
        hazard::create(&mut doc, &code(ZONE), "王五", NOW, &core(Grade::General)).unwrap();
        let h = automerge::ReadDoc::get(&doc, automerge::ROOT, "header")
            .unwrap()
            .unwrap()
            .1;
        automerge::transaction::Transactable::put(&mut doc, &h, "owner_parent", bad).unwrap();
        doc.commit();
        assert!(
            matches!(Header::read(&doc), Err(Error::Malformed { ref path }) if path == "header.owner_parent"),
            "{bad}"
        );
    }
}

#[test]
fn the_county_relays_a_zone_record_up_and_is_its_superior() {
    // The county relays the zone's major hazard to the city: the zone's changes come over the
    // county's link because the header names the county.
    let major = zone_hazard(Grade::Major, Some(COUNTY));
    let bytes = major.clone().save();
    check_snapshot(
        "h-1",
        AutoCommit::load(&bytes).unwrap(),
        &Origin::Child(code(COUNTY)),
    )
    .expect("relayed along the chain");
    // Another county may not relay it.
    let e = check_snapshot(
        "h-1",
        AutoCommit::load(&bytes).unwrap(),
        &Origin::Child(code("530102")),
    )
    .err()
    .expect("refused");
    assert!(
        matches!(
            e,
            Error::Forbidden {
                rule: "relay_outside_subtree",
                ..
            }
        ),
        "{e:?}"
    );
    // A zone record naming no parent is, by its prefix, no part of the county's subtree.
    let plain = zone_hazard(Grade::Major, None).save();
    let e = check_snapshot(
        "h-2",
        AutoCommit::load(&plain).unwrap(),
        &Origin::Child(code(COUNTY)),
    )
    .err()
    .expect("refused");
    assert!(
        matches!(
            e,
            Error::Forbidden {
                rule: "relay_outside_subtree",
                ..
            }
        ),
        "{e:?}"
    );

    // The county comments on the zone's general hazard: taken at the zone (from its parent) and
    // relayed; the city, not in a general hazard's chain, may not.
    let mut general = zone_hazard(Grade::General, Some(COUNTY));
    let changes = comment(&mut general, COUNTY);
    check_and_apply(
        "h-3",
        Some(&mut general),
        changes,
        &Origin::Parent(code(COUNTY)),
    )
    .expect("the configured parent is the general hazard's superior");
    let changes = comment(&mut general, CITY);
    let e = check_and_apply(
        "h-3",
        Some(&mut general),
        changes,
        &Origin::Parent(code(COUNTY)),
    )
    .err()
    .expect("refused");
    assert!(
        matches!(
            e,
            Error::Forbidden {
                rule: "owner_or_superior",
                ..
            }
        ),
        "{e:?}"
    );
    // The city is a superior of the major one (the county's ancestor).
    let mut major = zone_hazard(Grade::Major, Some(COUNTY));
    let changes = comment(&mut major, CITY);
    check_and_apply(
        "h-4",
        Some(&mut major),
        changes,
        &Origin::Parent(code(COUNTY)),
    )
    .expect("every office of the chain is a major hazard's superior");
}
