//! 生命周期收敛 — the hazard lifecycle under concurrent writers (DESIGN §4, §9).
//!
//! A township owner (530181006) and the province (53) hold the same registered major hazard. Each side
//! appends events locally — valid or not in the state it sees, since the fold must be total — and the two
//! exchange changes through the authority check. Every exchanged change must be accepted (each side only
//! writes what it may), and afterwards both replicas agree: same heads, same event log, same derived state.

use automerge::{ObjType, ROOT, ReadDoc, transaction::Transactable};
use proptest::prelude::*;
use safemesh_doc::actor::actor_id;
use safemesh_doc::authority::{Origin, check_and_apply};
use safemesh_doc::hazard::{self, Enterprise, HazardCore};
use safemesh_doc::{AutoCommit, ChangeHash};
use safemesh_model::AdminCode;
use safemesh_model::hazard::facts::{Basis, Location, Stock};
use safemesh_model::hazard::{
    Channel, Derived, EventKind, Grade, HazardEvent, Plan, Status, apply, fold,
};

const OWNER: &str = "530181006";
const PROV: &str = "53";
const DOC: &str = "hazard-1";

fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).unwrap()
}

fn hazard_core() -> HazardCore {
    HazardCore {
        number: "530181006-2026-0001".into(),
        title: "尾矿库排洪设施淤堵".into(),
        sector: "非煤矿山".into(),
        sector_detail: None,
        grade: Grade::Major,
        channel: Channel::EnterpriseSelfReport,
        inspection_mode: None,
        found_by_level: code(OWNER),
        found_on: "2026-10-30".into(),
        stock: Stock::New,
        subject: Default::default(),
        responsible_unit: String::new(),
        enterprise: Enterprise {
            name: "某矿业有限公司".into(),
            credit_code: "91530181MA6YYYYYYY".into(),
            credit_code_override: None,
        },
        location: Location {
            division: OWNER.into(),
            address: String::new(),
        },
        basis: Basis {
            standard: "《金属非金属矿山重大事故隐患判定标准》".into(),
            clause: "第五条".into(),
        },
        deadline: "2026-12-31".into(),
        description: String::new(),
    }
}

/// An event; a plan event carries a complete plan (a major hazard is reported rectified only with one).
fn ev(kind: EventKind, by: &str, at: String) -> HazardEvent {
    HazardEvent {
        user: "u".into(),
        plan: (kind == EventKind::Plan).then(|| a_plan("2026-12-31")),
        ..HazardEvent::new(kind, code(by), at)
    }
}

fn a_plan(deadline: &str) -> Plan {
    Plan {
        responsible_unit: "某矿业有限公司".into(),
        responsible_person: "王五".into(),
        measures: "清淤并加设拦污栅".into(),
        funds_wan: 12.0,
        deadline: deadline.into(),
        contingency_plan: "汛期专人值守".into(),
    }
}

/// What the township owner does (valid or not in the state it is in).
#[derive(Debug, Clone)]
enum OwnerAct {
    /// 0: 主要负责人, 1: 实际控制人, 2: both.
    Notify(u8),
    Plan,
    Progress(u8),
    Rectified,
    Accept,
    Close,
    Reopen,
    Comment,
    /// 申请延期 to one of [`NEW_DEADLINES`].
    ExtendRequest(usize),
    /// 书面回复 to the province's escalation by [`METHODS`]`[i]` (one that may not exist).
    Reply(usize),
}

/// Deadlines an extension request may ask for.
const NEW_DEADLINES: [&str; 3] = ["2027-01-31", "2027-02-28", "2027-03-31"];

/// What the province does.
#[derive(Debug, Clone)]
enum ProvAct {
    /// With or without the (required) level.
    Supervise(bool),
    /// An index into 函告 通报 约谈 曝光, or 4 for a method that does not exist.
    Escalate(usize),
    Comment,
    Return,
    /// 延期审批: 同意 or 不同意. Only the supervising level decides: a correct province writes a
    /// comment instead unless it has listed the hazard itself (as its own history shows).
    ExtendDecision(bool),
}

const METHODS: [&str; 5] = ["函告", "通报", "约谈", "曝光", "罚款"];

/// Recipient lists a notify may carry in arbitrary logs (including none, and an unknown one).
const RECIPIENTS: [&[&str]; 5] = [
    &[],
    &["主要负责人"],
    &["实际控制人"],
    &["主要负责人", "实际控制人"],
    &["厂长"],
];

fn owner_act() -> impl Strategy<Value = OwnerAct> {
    prop_oneof![
        (0u8..3).prop_map(OwnerAct::Notify),
        Just(OwnerAct::Plan),
        (0u8..=100).prop_map(OwnerAct::Progress),
        Just(OwnerAct::Rectified),
        Just(OwnerAct::Accept),
        Just(OwnerAct::Close),
        Just(OwnerAct::Reopen),
        Just(OwnerAct::Comment),
        (0usize..NEW_DEADLINES.len()).prop_map(OwnerAct::ExtendRequest),
        (0usize..5).prop_map(OwnerAct::Reply),
    ]
}

fn prov_act() -> impl Strategy<Value = ProvAct> {
    prop_oneof![
        any::<bool>().prop_map(ProvAct::Supervise),
        (0usize..5).prop_map(ProvAct::Escalate),
        Just(ProvAct::Comment),
        Just(ProvAct::Return),
        any::<bool>().prop_map(ProvAct::ExtendDecision),
    ]
}

fn owner_event(a: &OwnerAct, stamp: String) -> HazardEvent {
    let kind = match a {
        OwnerAct::Notify(_) => EventKind::Notify,
        OwnerAct::Plan => EventKind::Plan,
        OwnerAct::Progress(_) => EventKind::Progress,
        OwnerAct::Rectified => EventKind::Rectified,
        OwnerAct::Accept => EventKind::Accept,
        OwnerAct::Close => EventKind::Close,
        OwnerAct::Reopen => EventKind::Reopen,
        OwnerAct::Comment => EventKind::Comment,
        OwnerAct::ExtendRequest(_) => EventKind::ExtendRequest,
        OwnerAct::Reply(_) => EventKind::Reply,
    };
    let mut e = ev(kind, OWNER, stamp);
    match a {
        OwnerAct::Progress(p) => e.percent = Some(*p),
        OwnerAct::Plan => e.plan = Some(a_plan("2026-12-20")),
        OwnerAct::Notify(w) => {
            e.method = Some("书面告知".into());
            e.recipients = match w {
                0 => vec!["主要负责人".into()],
                1 => vec!["实际控制人".into()],
                _ => vec!["主要负责人".into(), "实际控制人".into()],
            };
        }
        OwnerAct::ExtendRequest(i) => {
            e.new_deadline = Some(NEW_DEADLINES[*i].into());
            e.note = Some("设备到货延迟".into());
        }
        OwnerAct::Reply(i) => {
            e.method = Some(METHODS[*i].into());
            e.to = Some(code(PROV));
            e.note = Some("已按要求整改".into());
        }
        _ => {}
    }
    e
}

fn prov_event(a: &ProvAct, stamp: String) -> HazardEvent {
    match a {
        ProvAct::Supervise(with_level) => HazardEvent {
            level: with_level.then(|| code(PROV)),
            ..ev(EventKind::Supervise, PROV, stamp)
        },
        ProvAct::Escalate(i) => HazardEvent {
            method: Some(METHODS[*i].into()),
            reply_by: Some("2026-12-15".into()),
            ..ev(EventKind::Escalate, PROV, stamp)
        },
        ProvAct::Comment => HazardEvent {
            note: Some("请加快整改".into()),
            ..ev(EventKind::Comment, PROV, stamp)
        },
        ProvAct::Return => ev(EventKind::Return, PROV, stamp),
        ProvAct::ExtendDecision(ok) => HazardEvent {
            approved: Some(*ok),
            ..ev(EventKind::ExtendDecision, PROV, stamp)
        },
    }
}

/// The province's events as a correct province writes them on top of `seen` (its own copy): a
/// decision on an extension only while it is the supervising level as its history folds, else a
/// comment (the authority check judges the decision by the same fold).
fn prov_events(
    seen: &[HazardEvent],
    acts: &[ProvAct],
    stamp: impl Fn(usize) -> String,
) -> Vec<HazardEvent> {
    let mut d = fold(Grade::Major, seen);
    acts.iter()
        .enumerate()
        .map(|(i, a)| {
            let mut e = prov_event(a, stamp(i));
            if e.kind == EventKind::ExtendDecision && d.supervising != Some(code(PROV)) {
                e.kind = EventKind::Comment;
                e.approved = None;
            }
            let _ = apply(&mut d, &e);
            e
        })
        .collect()
}

/// The owner's copy with the registration, and the province's copy received over the city's link.
fn start() -> (AutoCommit, AutoCommit) {
    let mut twp = AutoCommit::new();
    twp.set_actor(actor_id(&code(OWNER), b"twp-install"));
    hazard::create(
        &mut twp,
        &code(OWNER),
        "张三",
        "2026-11-01T08:00:00Z",
        &hazard_core(),
    )
    .unwrap();
    twp.commit();
    let prov = match check_and_apply(
        DOC,
        None,
        twp.get_changes(&[]),
        &Origin::Child(code("5301")),
    ) {
        Ok(c) => c.doc,
        Err(e) => panic!("registration refused at the province: {e}"),
    };
    (twp, prov)
}

/// Appends events at one replica, one commit each, as that replica's office.
fn write_local(doc: &mut AutoCommit, office: &str, nonce: &[u8], events: &[HazardEvent]) {
    for e in events {
        doc.set_actor(actor_id(&code(office), nonce));
        hazard::append_event(doc, e).unwrap();
        doc.commit();
    }
}

/// Exchanges everything since `common` both ways through the authority check. Both must be accepted.
fn exchange(
    twp: &mut AutoCommit,
    prov: &mut AutoCommit,
    common: &[ChangeHash],
) -> Result<(), TestCaseError> {
    let up = twp.get_changes(common);
    let down = prov.get_changes(common);
    let (n_up, n_down) = (up.len(), down.len());
    // Township → county → city → province: the city's link relays the township's changes.
    let new_prov = check_and_apply(DOC, Some(&mut *prov), up, &Origin::Child(code("5301")))
        .map_err(|e| {
            TestCaseError::fail(format!("province refused the township's changes: {e}"))
        })?;
    prop_assert_eq!(new_prov.applied, n_up);
    // Province → … → county → township: the county's link relays the province's changes down.
    let new_twp = check_and_apply(DOC, Some(&mut *twp), down, &Origin::Parent(code("530181")))
        .map_err(|e| {
            TestCaseError::fail(format!("township refused the province's changes: {e}"))
        })?;
    prop_assert_eq!(new_twp.applied, n_down);
    *prov = new_prov.doc;
    *twp = new_twp.doc;
    Ok(())
}

/// True if `sub` occurs in `all` in order (not necessarily contiguously).
fn is_subsequence(sub: &[HazardEvent], all: &[HazardEvent]) -> bool {
    let mut it = all.iter();
    sub.iter().all(|s| it.any(|a| a == s))
}

/// The invariants of a derived state, whatever the log.
fn check_derived(d: &Derived, events: &[HazardEvent]) -> Result<(), TestCaseError> {
    prop_assert!(d.ignored <= events.len());
    if d.accepted {
        prop_assert!(
            matches!(d.status, Status::PendingAcceptance | Status::Closed),
            "accepted while {:?}",
            d.status
        );
    }
    if d.status == Status::Closed {
        prop_assert!(d.accepted, "closed without acceptance");
    }
    if let Some(level) = &d.supervising {
        prop_assert!(
            events
                .iter()
                .any(|e| e.kind == EventKind::Supervise && e.level.as_ref() == Some(level))
        );
    }
    for m in &d.escalations {
        prop_assert!(
            METHODS[..4].contains(&m.as_str()),
            "invalid method {} applied",
            m
        );
    }
    prop_assert_eq!(d.escalations.len(), d.escalated.len());
    // A major hazard leaves `open` only after both recipients were told, and never returns to it.
    if d.grade == Grade::Major && d.status != Status::Open {
        prop_assert!(
            d.fully_notified(),
            "major hazard {:?} without notify",
            d.status
        );
    }
    for n in &d.notified {
        prop_assert!(
            events
                .iter()
                .any(|e| e.kind == EventKind::Notify && e.recipients.contains(n))
        );
    }
    if let Some(p) = &d.plan {
        prop_assert!(
            events
                .iter()
                .any(|e| e.kind == EventKind::Plan && e.plan.as_ref() == Some(p))
        );
    }
    // 延期: never more approvals than approving decisions; a pending request and the deadline in
    // force come from events in the log; every reply recorded answers an escalation of its office.
    let approvals = events
        .iter()
        .filter(|e| e.kind == EventKind::ExtendDecision && e.approved == Some(true))
        .count();
    prop_assert!(d.extended as usize <= approvals);
    if let Some(r) = &d.extension_pending {
        prop_assert!(events.iter().any(|e| e.kind == EventKind::ExtendRequest
            && e.new_deadline.as_ref() == Some(&r.new_deadline)));
    }
    if let Some(dl) = &d.deadline {
        prop_assert!(events.iter().any(|e| (e.kind == EventKind::ExtendRequest
            && e.new_deadline.as_ref() == Some(dl))
            || e.plan.as_ref().is_some_and(|p| &p.deadline == dl)));
    }
    prop_assert_eq!(d.extended > 0, d.extended_deadline.is_some());
    // A closed hazard has nothing left to extend.
    if d.status == Status::Closed {
        prop_assert!(d.extension_pending.is_none());
    }
    for x in &d.escalated {
        if let Some(at) = &x.replied_at {
            prop_assert!(events.iter().any(|e| e.kind == EventKind::Reply
                && &e.at == at
                && e.to.as_ref() == Some(&x.by)
                && e.method.as_ref() == Some(&x.method)));
        }
    }
    Ok(())
}

/// Splits `changes` into consecutive batches at the positions `cuts` marks.
fn batches(changes: Vec<automerge::Change>, cuts: &[bool]) -> Vec<Vec<automerge::Change>> {
    let mut out: Vec<Vec<automerge::Change>> = Vec::new();
    for (i, c) in changes.into_iter().enumerate() {
        if out.is_empty() || cuts.get(i).copied().unwrap_or(false) {
            out.push(Vec::new());
        }
        out.last_mut().expect("a batch").push(c);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    /// Any interleaving of owner and province actions, exchanged in rounds, converges.
    #[test]
    fn owner_and_province_converge(
        rounds in prop::collection::vec(
            (prop::collection::vec(owner_act(), 0..7), prop::collection::vec(prov_act(), 0..7)),
            1..4,
        )
    ) {
        let (mut twp, mut prov) = start();
        let registered = hazard::read(&twp).unwrap().events;
        prop_assert_eq!(registered.len(), 1);
        let mut mine_twp = registered.clone();
        let mut mine_prov = Vec::new();
        let mut total = 1;
        for (r, (owner_acts, prov_acts)) in rounds.iter().enumerate() {
            let common = twp.get_heads();
            prop_assert_eq!(&common, &prov.get_heads());
            // Distinct `at` stamps make every event distinguishable.
            // Once the province lists the hazard, acceptance is the province's (挂牌单位验收销号): a
            // correct owner writes a comment where it would have accepted or closed.
            let listed = hazard::read(&twp).unwrap().derived().supervising.is_some();
            let o: Vec<HazardEvent> = owner_acts.iter().enumerate()
                .map(|(i, a)| {
                    let mut e = owner_event(a, format!("2026-11-{:02}T01:00:{:02}Z", r + 2, i));
                    if listed && matches!(e.kind, EventKind::Accept | EventKind::Close) {
                        e.kind = EventKind::Comment;
                    }
                    e
                })
                .collect();
            let seen = hazard::read(&prov).unwrap().events;
            let p = prov_events(&seen, prov_acts, |i| format!("2026-11-{:02}T02:00:{:02}Z", r + 2, i));
            write_local(&mut twp, OWNER, b"twp-install", &o);
            write_local(&mut prov, PROV, b"prov-install", &p);
            mine_twp.extend(o.iter().cloned());
            mine_prov.extend(p.iter().cloned());
            total += o.len() + p.len();

            exchange(&mut twp, &mut prov, &common)?;

            prop_assert_eq!(twp.get_heads(), prov.get_heads());
            let at_twp = hazard::read(&twp).unwrap();
            let at_prov = hazard::read(&prov).unwrap();
            prop_assert_eq!(&at_twp.events, &at_prov.events);
            prop_assert_eq!(at_twp.events.len(), total, "an event was lost or duplicated");
            // Each side's own events keep their local order in the merged log.
            prop_assert!(is_subsequence(&mine_twp, &at_twp.events));
            prop_assert!(is_subsequence(&mine_prov, &at_twp.events));
            prop_assert_eq!(&at_twp.events[0], &registered[0]);
            let d = fold(Grade::Major, &at_twp.events);
            prop_assert_eq!(&d, &fold(Grade::Major, &at_prov.events));
            prop_assert_eq!(at_twp.derived().status, at_prov.derived().status);
            prop_assert_eq!(
                at_twp.effective_deadline(&at_twp.derived()),
                at_prov.effective_deadline(&at_prov.derived())
            );
            check_derived(&d, &at_twp.events)?;
        }
        // A re-sent full history is harmless on both sides.
        let all = twp.get_changes(&[]);
        let again = check_and_apply(DOC, Some(&mut prov), all, &Origin::Child(code("5301")));
        prop_assert!(matches!(again, Ok(ref c) if c.applied == 0));
    }

    /// The owner and the province act concurrently, neither seeing the other. Their changes reach a
    /// third replica (the city) in batches, interleaved in any order, and each other in batches; the
    /// two documents are also merged in both directions. Every replica ends with the same log — no
    /// event lost, each office's events in its own order — and folds it to the same state.
    #[test]
    fn concurrent_events_from_two_levels_fold_the_same_in_any_merge_order(
        owner_acts in prop::collection::vec(owner_act(), 0..10),
        prov_acts in prop::collection::vec(prov_act(), 0..8),
        cuts in prop::collection::vec(any::<bool>(), 10),
        order in prop::collection::vec(any::<bool>(), 20),
    ) {
        let (mut twp, mut prov) = start();
        let mut city = check_and_apply(DOC, None, twp.get_changes(&[]), &Origin::Child(code("530181")))
            .map_err(|e| TestCaseError::fail(format!("city refused the registration: {e}")))?
            .doc;
        let common = twp.get_heads();
        let o: Vec<HazardEvent> = owner_acts.iter().enumerate()
            .map(|(i, a)| owner_event(a, format!("2026-11-02T01:00:{i:02}Z")))
            .collect();
        let seen = hazard::read(&prov).unwrap().events;
        let p = prov_events(&seen, &prov_acts, |i| format!("2026-11-02T02:00:{i:02}Z"));
        write_local(&mut twp, OWNER, b"twp-install", &o);
        write_local(&mut prov, PROV, b"prov-install", &p);

        // Merged directly, in both directions.
        let mut ab = twp.fork();
        ab.merge(&mut prov.fork()).unwrap();
        let mut ba = prov.fork();
        ba.merge(&mut twp.fork()).unwrap();
        prop_assert_eq!(ab.get_heads(), ba.get_heads());

        // Delivered in batches through the authority check, interleaved as `order` says.
        let mut pending_up = batches(twp.get_changes(&common), &cuts);
        let mut pending_down = batches(prov.get_changes(&common), &cuts);
        pending_up.reverse();
        pending_down.reverse();
        let mut to_twp = Vec::new();
        let mut to_prov = Vec::new();
        let mut step = 0;
        while !pending_up.is_empty() || !pending_down.is_empty() {
            let take_up = match (pending_up.is_empty(), pending_down.is_empty()) {
                (false, true) => true,
                (true, false) => false,
                _ => order.get(step % order.len()).copied().unwrap_or(true),
            };
            step += 1;
            let (batch, origin) = if take_up {
                let b = pending_up.pop().expect("an up batch");
                to_prov.push(b.clone());
                (b, Origin::Child(code("530181")))
            } else {
                let b = pending_down.pop().expect("a down batch");
                to_twp.push(b.clone());
                (b, Origin::Parent(code("53")))
            };
            let n = batch.len();
            let checked = check_and_apply(DOC, Some(&mut city), batch, &origin)
                .map_err(|e| TestCaseError::fail(format!("city refused a batch: {e}")))?;
            prop_assert_eq!(checked.applied, n);
            city = checked.doc;
        }
        for b in to_prov {
            prov = check_and_apply(DOC, Some(&mut prov), b, &Origin::Child(code("5301")))
                .map_err(|e| TestCaseError::fail(format!("province refused: {e}")))?
                .doc;
        }
        for b in to_twp {
            twp = check_and_apply(DOC, Some(&mut twp), b, &Origin::Parent(code("530181")))
                .map_err(|e| TestCaseError::fail(format!("township refused: {e}")))?
                .doc;
        }

        let target = twp.get_heads();
        let mut replicas = [twp, prov, city, ab, ba];
        let views: Vec<_> = replicas.iter().map(|d| hazard::read(d).unwrap()).collect();
        for (i, v) in views.iter().enumerate() {
            prop_assert_eq!(replicas[i].get_heads(), target.clone());
            prop_assert_eq!(&v.events, &views[0].events);
            prop_assert_eq!(v.events.len(), 1 + o.len() + p.len(), "an event was lost or duplicated");
            prop_assert!(is_subsequence(&o, &v.events));
            prop_assert!(is_subsequence(&p, &v.events));
            let d = v.derived();
            prop_assert_eq!(&d, &views[0].derived());
            check_derived(&d, &v.events)?;
            prop_assert_eq!(v.effective_deadline(&d), views[0].effective_deadline(&views[0].derived()));
        }
    }

    /// The fold is total over arbitrary logs (any kind, with or without its parameters) and keeps its
    /// invariants; folding a log equals applying its events one by one.
    #[test]
    fn fold_is_total(
        log in prop::collection::vec(
            (0usize..EventKind::ALL.len(), prop::option::of(0usize..5), prop::option::of(prop::sample::select(vec!["53", "5301", "530181"])), 0usize..RECIPIENTS.len(),
             prop::option::of(0usize..NEW_DEADLINES.len()), prop::option::of(any::<bool>())),
            0..40,
        ),
        grade in prop::sample::select(vec![Grade::Major, Grade::General]),
    ) {
        let events: Vec<HazardEvent> = log.iter().enumerate().map(|(i, (k, m, l, r, nd, ok))| HazardEvent {
            method: m.map(|m| METHODS[m].to_string()),
            level: l.map(code),
            to: l.map(code),
            new_deadline: nd.map(|n| NEW_DEADLINES[n].to_string()),
            approved: *ok,
            recipients: RECIPIENTS[*r].iter().map(|s| s.to_string()).collect(),
            ..ev(EventKind::ALL[*k], OWNER, format!("t{i}"))
        }).collect();
        let d = fold(grade, &events);
        check_derived(&d, &events)?;
        let mut step = fold(grade, &[]);
        let mut ignored = 0;
        for e in &events {
            if apply(&mut step, e).is_err() {
                ignored += 1;
            }
        }
        step.ignored = ignored;
        prop_assert_eq!(d, step);
    }
}

// ---------------------------------------------------------------------------------------------------
// Deterministic folds: invalid transitions are kept in the log and ignored by the fold.
// ---------------------------------------------------------------------------------------------------

fn log(kinds: &[EventKind]) -> Vec<HazardEvent> {
    kinds
        .iter()
        .enumerate()
        .map(|(i, k)| ev(*k, OWNER, format!("t{i}")))
        .collect()
}

use EventKind::*;

#[test]
fn empty_and_registered_logs_are_open() {
    let d = fold(Grade::General, &[]);
    assert_eq!(d.status, Status::Open);
    assert!(!d.accepted && d.supervising.is_none() && d.escalations.is_empty() && d.ignored == 0);
    assert_eq!(
        fold(Grade::General, &log(&[Registered, Comment, Notify])).status,
        Status::Open
    );
}

#[test]
fn close_before_accept_is_ignored() {
    let d = fold(Grade::General, &log(&[Registered, Plan, Rectified, Close]));
    assert_eq!(d.status, Status::PendingAcceptance);
    assert_eq!(d.ignored, 1);
    // Closing an open hazard outright is ignored too.
    let d = fold(Grade::General, &log(&[Registered, Close]));
    assert_eq!((d.status, d.ignored), (Status::Open, 1));
}

#[test]
fn accept_needs_a_rectified_hazard_and_counts_once() {
    let d = fold(Grade::General, &log(&[Registered, Accept, Plan, Accept]));
    assert_eq!(
        (d.status, d.accepted, d.ignored),
        (Status::Rectifying, false, 2)
    );
    let d = fold(
        Grade::General,
        &log(&[Registered, Rectified, Accept, Accept, Close]),
    );
    assert_eq!((d.status, d.accepted, d.ignored), (Status::Closed, true, 1));
}

#[test]
fn progress_after_rectified_is_ignored_until_returned() {
    let d = fold(
        Grade::General,
        &log(&[Registered, Plan, Rectified, Progress, Plan, Rectified]),
    );
    assert_eq!((d.status, d.ignored), (Status::PendingAcceptance, 3));
    let d = fold(
        Grade::General,
        &log(&[Registered, Plan, Rectified, Accept, Return, Progress]),
    );
    assert_eq!(
        (d.status, d.accepted, d.ignored),
        (Status::Rectifying, false, 0)
    );
}

#[test]
fn return_only_from_pending_acceptance() {
    let d = fold(Grade::General, &log(&[Registered, Return, Plan, Return]));
    assert_eq!((d.status, d.ignored), (Status::Rectifying, 2));
    let d = fold(
        Grade::General,
        &log(&[Registered, Rectified, Accept, Close, Return]),
    );
    assert_eq!((d.status, d.ignored), (Status::Closed, 1));
}

#[test]
fn reopen_only_after_close() {
    let d = fold(
        Grade::General,
        &log(&[Registered, Reopen, Plan, Reopen, Rectified, Reopen]),
    );
    assert_eq!((d.status, d.ignored), (Status::PendingAcceptance, 3));
    let d = fold(
        Grade::General,
        &log(&[Registered, Rectified, Accept, Close, Reopen, Close]),
    );
    assert_eq!(
        (d.status, d.accepted, d.ignored),
        (Status::Rectifying, false, 1)
    );
    // After a reopen the hazard must be rectified and accepted again.
    let d = fold(
        Grade::General,
        &log(&[
            Registered, Rectified, Accept, Close, Reopen, Rectified, Accept, Close,
        ]),
    );
    assert_eq!((d.status, d.ignored), (Status::Closed, 0));
}

#[test]
fn supervise_and_escalate_need_their_parameters() {
    let mut events = log(&[Registered, Supervise, Escalate]);
    let d = fold(Grade::General, &events);
    assert_eq!(
        (d.supervising.clone(), d.escalations.len(), d.ignored),
        (None, 0, 2)
    );
    events[2].method = Some("罚款".into());
    assert_eq!(fold(Grade::General, &events).ignored, 2);
    events[1].level = Some(code("5301"));
    events[2].method = Some("通报".into());
    let d = fold(Grade::General, &events);
    assert_eq!(
        (d.supervising, d.escalations, d.ignored),
        (Some(code("5301")), vec!["通报".to_string()], 0)
    );
}

#[test]
fn supervise_after_close_is_ignored() {
    let mut events = log(&[Registered, Rectified, Accept, Close, Supervise]);
    events[4].level = Some(code(PROV));
    let d = fold(Grade::General, &events);
    assert_eq!(
        (d.status, d.supervising, d.ignored),
        (Status::Closed, None, 1)
    );
}

#[test]
fn highest_supervising_level_wins_in_any_order() {
    let levels = ["530181", "53", "5301"];
    let perms = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for p in perms {
        let mut events = log(&[Registered]);
        for i in p {
            let mut e = ev(Supervise, levels[i], format!("s{i}"));
            e.level = Some(code(levels[i]));
            events.push(e);
        }
        let d = fold(Grade::General, &events);
        assert_eq!(d.supervising, Some(code(PROV)), "order {p:?}");
        assert_eq!(d.ignored, 0);
    }
}

#[test]
fn unknown_event_kinds_are_skipped_by_read() {
    // An event written by a newer schema (or a foreign tool), kept locally: readers skip it.
    let (mut twp, _) = start();
    twp.set_actor(actor_id(&code(OWNER), b"twp-install"));
    let events = twp.get(ROOT, "events").unwrap().unwrap().1;
    let m = twp.insert_object(&events, 1, ObjType::Map).unwrap();
    twp.put(&m, "kind", "inspect_again").unwrap();
    twp.put(&m, "by", OWNER).unwrap();
    twp.commit();
    hazard::append_event(&mut twp, &ev(Plan, OWNER, "t".into())).unwrap();
    twp.commit();
    let view = hazard::read(&twp).unwrap();
    assert_eq!(
        view.events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![Registered, Plan]
    );
    // The plan is read; this major hazard's owners were not told, so the fold ignores it.
    assert_eq!(
        (view.derived().status, view.derived().ignored),
        (Status::Open, 1)
    );
}

/// The township closes while the province concurrently returns the same accepted hazard: both replicas
/// settle on one status, with exactly one of the two actions ignored.
#[test]
fn concurrent_close_and_return_merge_to_one_status() {
    let (mut twp, mut prov) = start();
    let t = |s: &str| s.to_string();
    write_local(
        &mut twp,
        OWNER,
        b"twp-install",
        &[
            owner_event(&OwnerAct::Notify(2), t("n")),
            ev(Plan, OWNER, t("a")),
            ev(Rectified, OWNER, t("b")),
            ev(Accept, OWNER, t("c")),
        ],
    );
    let common = prov.get_heads();
    exchange(&mut twp, &mut prov, &common).unwrap();
    assert_eq!(
        hazard::read(&prov).unwrap().derived().status,
        Status::PendingAcceptance
    );

    let common = twp.get_heads();
    write_local(&mut twp, OWNER, b"twp-install", &[ev(Close, OWNER, t("d"))]);
    write_local(
        &mut prov,
        PROV,
        b"prov-install",
        &[ev(Return, PROV, t("e"))],
    );
    assert_eq!(hazard::read(&twp).unwrap().derived().status, Status::Closed);
    assert_eq!(
        hazard::read(&prov).unwrap().derived().status,
        Status::Rectifying
    );
    exchange(&mut twp, &mut prov, &common).unwrap();

    let a = hazard::read(&twp).unwrap();
    let b = hazard::read(&prov).unwrap();
    assert_eq!(a.events, b.events);
    assert_eq!(a.events.len(), 7);
    let (da, db) = (a.derived(), b.derived());
    assert_eq!(da, db);
    assert_eq!(da.ignored, 1);
    assert!(
        matches!(da.status, Status::Closed | Status::Rectifying),
        "{:?}",
        da.status
    );
}
