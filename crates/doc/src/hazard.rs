//! 隐患文档 — the hazard document: `header`, `core` (the facts of registration, written once by the
//! owner in the document's first change), `events` (append-only; a `plan` event carries the 五落实 as
//! a nested map, a `notify` event its recipients as a list).

use automerge::hydrate::{Map, Value as HValue};
use automerge::{
    AutoCommit, ChangeHash, ObjType, ROOT, ReadDoc, ScalarValue, transaction::Transactable,
};
use safemesh_model::hazard::facts::{Basis, Location, Stock, Subject};
use safemesh_model::hazard::{Channel, Derived, EventKind, Grade, HazardEvent, Plan, fold, notify};
use safemesh_model::{AdminCode, Chain};
use serde::{Deserialize, Serialize};

use crate::authority::op::{OpCheck, Seg};
use crate::kind::RecordKind;
use crate::read::tree;
use crate::{Audience, Error, Header, Kind, SCHEMA_VERSION, read};

mod authority;

/// 隐患 — the hazard kind. Its `core` (the facts of registration) is fixed at registration.
pub struct Hazards;

impl RecordKind for Hazards {
    const KIND: Kind = Kind::Hazard;
    const NAME: &'static str = "hazard";
    type View = HazardView;
    /// A general hazard (parent-only supervision).
    type Facts = bool;

    fn read(doc: &AutoCommit) -> Result<HazardView, Error> {
        read(doc)
    }

    fn audience(header: &Header, view: &HazardView) -> Audience {
        audience(&header.chain(), view.core.grade)
    }

    fn facts(doc: &AutoCommit, _: &Header) -> Result<bool, Error> {
        authority::is_general(doc)
    }

    fn fixed(path: &[Seg]) -> bool {
        path.first().is_some_and(|s| s.is("core"))
    }

    fn check_op(general: &bool, op: &OpCheck<'_>) -> Result<(), Error> {
        authority::check_op(*general, op)
    }
}

/// 企业 — the enterprise a hazard (or an accident) belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enterprise {
    pub name: String,
    /// 统一社会信用代码
    pub credit_code: String,
    /// 例外登记 — the reason a credit code whose check character fails was accepted (an early pilot
    /// code, STANDARDS §6.3); its presence is the flag. `None` for a valid code and in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_code_override: Option<String>,
}

impl Enterprise {
    /// Writes the enterprise into the map `m` (the override only when there is one).
    pub(crate) fn write(&self, doc: &mut AutoCommit, m: &automerge::ObjId) -> Result<(), Error> {
        doc.put(m, "name", self.name.as_str())?;
        doc.put(m, "credit_code", self.credit_code.as_str())?;
        if let Some(r) = &self.credit_code_override {
            doc.put(m, "credit_code_override", r.as_str())?;
        }
        Ok(())
    }

    /// Reads an enterprise map; absent fields read empty (older records have no override).
    pub(crate) fn read(m: &Map) -> Enterprise {
        Enterprise {
            name: tree::opt_str(m, "name").unwrap_or_default(),
            credit_code: tree::opt_str(m, "credit_code").unwrap_or_default(),
            credit_code_override: tree::opt_str(m, "credit_code_override")
                .filter(|r| !r.is_empty()),
        }
    }
}

/// The facts of registration, written once by the owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardCore {
    /// 编号 — `{owner}-{year}-{seq:04}`, unique per owner (empty in records made before numbering).
    pub number: String,
    pub title: String,
    /// Canonical sector name (行业领域).
    pub sector: String,
    /// The finer name it was registered under when that is a row of its own on the monthly form
    /// (尾矿库 under 非煤矿山, 城市建设 under 建筑施工); `None` otherwise and in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector_detail: Option<String>,
    pub grade: Grade,
    pub channel: Channel,
    /// 检查方式 (canonical name), for hazards found by inspection or verifying a tip-off.
    pub inspection_mode: Option<String>,
    /// 发现层级 — the office whose inspection found it: the owner or a level above.
    pub found_by_level: AdminCode,
    /// 发现日期 `YYYY-MM-DD`.
    pub found_on: String,
    /// 存量/增量.
    pub stock: Stock,
    /// 隐患所在: an enterprise, or a road, a self-built house, a public place… (no enterprise). Older
    /// records read as an enterprise.
    #[serde(default)]
    pub subject: Subject,
    /// 责任单位 — who answers for a hazard no enterprise runs (a bureau, a village committee, the
    /// owner of a house); may be given for an enterprise's hazard too. Empty in older records.
    #[serde(default)]
    pub responsible_unit: String,
    /// The enterprise (its name empty when the hazard has none).
    pub enterprise: Enterprise,
    /// 隐患位置.
    pub location: Location,
    /// 判定依据.
    pub basis: Basis,
    /// `YYYY-MM-DD` 整改期限 as registered (a plan may set an earlier one).
    pub deadline: String,
    pub description: String,
}

/// A hazard as read from its document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HazardView {
    pub owner: AdminCode,
    /// The owner's configured parent, for a functional zone (`header.owner_parent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_parent: Option<AdminCode>,
    pub created: String,
    #[serde(flatten)]
    pub core: HazardCore,
    pub events: Vec<HazardEvent>,
}

impl HazardView {
    pub fn derived(&self) -> Derived {
        fold(self.core.grade, &self.events)
    }

    /// The deadline in force: the latest the events set — a plan's 五落实 时限 or an approved
    /// extension's new deadline, whichever applied last — else the registered one (which stays in
    /// `core.deadline`, the history keeping every change).
    pub fn effective_deadline(&self, d: &Derived) -> String {
        d.deadline
            .clone()
            .unwrap_or_else(|| self.core.deadline.clone())
    }

    /// The owner's chain: a zone's superiors are its configured parent's (`header.owner_parent`).
    pub fn chain(&self) -> Chain {
        Chain {
            code: self.owner.clone(),
            parent: self.owner_parent.clone(),
        }
    }
}

/// General hazards reach the owner's parent; major ones every ancestor — along the owner's chain (a
/// zone's configured parent, then that parent's ancestors).
pub fn audience(owner: &Chain, grade: Grade) -> Audience {
    let mut a = Audience::default();
    a.add(owner.code.clone(), false);
    match grade {
        Grade::General => {
            if let Some(p) = owner.parent() {
                a.add(p, false);
            }
        }
        Grade::Major => {
            for anc in owner.ancestors() {
                a.add(anc, false);
            }
        }
    }
    a
}

/// Creates a hazard document owned by `owner`, with its `registered` event. The caller commits.
pub fn create(
    doc: &mut AutoCommit,
    owner: &AdminCode,
    user: &str,
    now: &str,
    core: &HazardCore,
) -> Result<(), Error> {
    Header {
        kind: Kind::Hazard,
        schema: SCHEMA_VERSION,
        owner: owner.clone(),
        created: now.to_string(),
        owner_parent: None,
    }
    .write(doc)?;
    let c = doc.put_object(ROOT, "core", ObjType::Map)?;
    doc.put(&c, "number", core.number.as_str())?;
    doc.put(&c, "title", core.title.as_str())?;
    doc.put(&c, "sector", core.sector.as_str())?;
    if let Some(d) = &core.sector_detail {
        doc.put(&c, "sector_detail", d.as_str())?;
    }
    doc.put(&c, "grade", core.grade.as_str())?;
    doc.put(&c, "channel", core.channel.as_str())?;
    if let Some(m) = &core.inspection_mode {
        doc.put(&c, "inspection_mode", m.as_str())?;
    }
    doc.put(&c, "found_by_level", core.found_by_level.as_str())?;
    doc.put(&c, "found_on", core.found_on.as_str())?;
    doc.put(&c, "stock", core.stock.as_str())?;
    doc.put(&c, "subject", core.subject.as_str())?;
    doc.put(&c, "responsible_unit", core.responsible_unit.as_str())?;
    let e = doc.put_object(&c, "enterprise", ObjType::Map)?;
    core.enterprise.write(doc, &e)?;
    let l = doc.put_object(&c, "location", ObjType::Map)?;
    doc.put(&l, "division", core.location.division.as_str())?;
    doc.put(&l, "address", core.location.address.as_str())?;
    let b = doc.put_object(&c, "basis", ObjType::Map)?;
    doc.put(&b, "standard", core.basis.standard.as_str())?;
    doc.put(&b, "clause", core.basis.clause.as_str())?;
    doc.put(&c, "deadline", core.deadline.as_str())?;
    doc.put(&c, "description", core.description.as_str())?;
    doc.put_object(ROOT, "events", ObjType::List)?;
    let registered = HazardEvent {
        user: user.to_string(),
        ..HazardEvent::new(EventKind::Registered, owner.clone(), now)
    };
    append_event(doc, &registered)
}

/// Appends one event to the log. The caller checks the transition and the actor's authority first.
pub fn append_event(doc: &mut AutoCommit, e: &HazardEvent) -> Result<(), Error> {
    let events = read::obj(doc, &ROOT, "events", "events")?;
    let at = doc.length(&events);
    let m = doc.insert_object(&events, at, ObjType::Map)?;
    doc.put(&m, "kind", e.kind.as_str())?;
    doc.put(&m, "at", e.at.as_str())?;
    doc.put(&m, "by", e.by.as_str())?;
    doc.put(&m, "user", e.user.as_str())?;
    if let Some(n) = &e.note {
        doc.put(&m, "note", n.as_str())?;
    }
    if let Some(x) = &e.method {
        doc.put(&m, "method", x.as_str())?;
    }
    if let Some(l) = &e.level {
        doc.put(&m, "level", l.as_str())?;
    }
    if let Some(p) = e.percent {
        doc.put(&m, "percent", ScalarValue::Int(p as i64))?;
    }
    // 挂牌督办's document: 督办编号, 督办要求, 督办期限.
    for (key, v) in [
        ("number", &e.number),
        ("requirements", &e.requirements),
        ("due", &e.due),
    ] {
        if let Some(v) = v {
            doc.put(&m, key, v.as_str())?;
        }
    }
    if let Some(r) = &e.reply_by {
        doc.put(&m, "reply_by", r.as_str())?;
    }
    if let Some(d) = &e.new_deadline {
        doc.put(&m, "new_deadline", d.as_str())?;
    }
    if let Some(a) = e.approved {
        doc.put(&m, "approved", a)?;
    }
    if let Some(t) = &e.to {
        doc.put(&m, "to", t.as_str())?;
    }
    if !e.recipients.is_empty() {
        let l = doc.put_object(&m, "recipients", ObjType::List)?;
        for (i, r) in e.recipients.iter().enumerate() {
            doc.insert(&l, i, r.as_str())?;
        }
    }
    // The names of the people told, one scalar per post (`name_principal`, …): an event holds
    // scalars but for its plan and its recipient list.
    for (post, person) in &e.recipient_names {
        if let Some(code) = notify::code_of(post) {
            doc.put(&m, format!("name_{code}"), person.as_str())?;
        }
    }
    crate::evidence::put_attachments(doc, &m, &e.attachments)?;
    if let Some(p) = &e.plan {
        let o = doc.put_object(&m, "plan", ObjType::Map)?;
        doc.put(&o, "responsible_unit", p.responsible_unit.as_str())?;
        doc.put(&o, "responsible_person", p.responsible_person.as_str())?;
        doc.put(&o, "measures", p.measures.as_str())?;
        doc.put(&o, "funds_wan", ScalarValue::F64(p.funds_wan))?;
        doc.put(&o, "deadline", p.deadline.as_str())?;
        doc.put(&o, "contingency_plan", p.contingency_plan.as_str())?;
    }
    Ok(())
}

/// Reads the hazard back. Events that cannot be read (a newer schema's kinds) are skipped; fields that
/// records registered before they existed lack read as their defaults (no number, found by the owner
/// on the day of registration, 增量, located at the owner, no basis).
pub fn read(doc: &AutoCommit) -> Result<HazardView, Error> {
    read_at(doc, None)
}

/// Reads the hazard as it was at `heads` (as it is now for `None`).
pub fn read_at(doc: &AutoCommit, heads: Option<&[ChangeHash]>) -> Result<HazardView, Error> {
    let root = doc.hydrate(ROOT, heads)?;
    let root = tree::as_map(&root).ok_or(Error::Malformed {
        path: "(root)".into(),
    })?;
    let header = Header::from_tree(root)?;
    if header.kind != Kind::Hazard {
        return Err(Error::Malformed {
            path: "header.kind".into(),
        });
    }
    let c = tree::map(root, "core", "core")?;
    let grade = Grade::parse(&tree::string(c, "grade", "core.grade")?)?;
    let channel = Channel::parse(&tree::string(c, "channel", "core.channel")?)?;
    let e = tree::map(c, "enterprise", "core.enterprise")?;
    let location = tree::opt_map(c, "location");
    let basis = tree::opt_map(c, "basis");
    let owner = header.owner.clone();
    let core = HazardCore {
        number: tree::opt_str(c, "number").unwrap_or_default(),
        title: tree::string(c, "title", "core.title")?,
        sector: tree::string(c, "sector", "core.sector")?,
        sector_detail: tree::opt_str(c, "sector_detail").filter(|d| !d.is_empty()),
        grade,
        channel,
        inspection_mode: tree::opt_str(c, "inspection_mode").filter(|m| !m.is_empty()),
        found_by_level: tree::opt_str(c, "found_by_level")
            .and_then(|s| AdminCode::parse(&s).ok())
            .unwrap_or_else(|| owner.clone()),
        found_on: tree::opt_str(c, "found_on")
            .unwrap_or_else(|| header.created.chars().take(10).collect()),
        stock: tree::opt_str(c, "stock")
            .and_then(|s| Stock::parse_as("stock", &s).ok())
            .unwrap_or(Stock::New),
        subject: tree::opt_str(c, "subject")
            .and_then(|s| Subject::parse_as("subject", &s).ok())
            .unwrap_or_default(),
        responsible_unit: tree::opt_str(c, "responsible_unit").unwrap_or_default(),
        enterprise: Enterprise::read(e),
        location: Location {
            division: location
                .and_then(|l| tree::opt_str(l, "division"))
                .unwrap_or_else(|| owner.to_string()),
            address: location
                .and_then(|l| tree::opt_str(l, "address"))
                .unwrap_or_default(),
        },
        basis: Basis {
            standard: basis
                .and_then(|b| tree::opt_str(b, "standard"))
                .unwrap_or_default(),
            clause: basis
                .and_then(|b| tree::opt_str(b, "clause"))
                .unwrap_or_default(),
        },
        deadline: tree::string(c, "deadline", "core.deadline")?,
        description: tree::opt_str(c, "description").unwrap_or_default(),
    };
    let events = tree::list(root, "events")
        .map(|l| tree::map_items(l).filter_map(read_event).collect())
        .unwrap_or_default();
    Ok(HazardView {
        owner: header.owner,
        owner_parent: header.owner_parent,
        created: header.created,
        core,
        events,
    })
}

/// The events alone as of `heads` (all if `None`), read leniently: what the lifecycle fold needs,
/// whatever the rest of the document holds (the authority check folds them at a change's
/// dependencies, and must not fail on a `core` this build cannot read).
/// The grade comes with them (the fold needs it); one that does not read counts as general.
pub fn events_at(
    doc: &AutoCommit,
    heads: Option<&[ChangeHash]>,
) -> Result<(Grade, Vec<HazardEvent>), Error> {
    let root = doc.hydrate(ROOT, heads)?;
    let root = tree::as_map(&root);
    let grade = root
        .and_then(|r| tree::opt_map(r, "core"))
        .and_then(|c| tree::opt_str(c, "grade"))
        .and_then(|g| Grade::parse(&g).ok())
        .unwrap_or(Grade::General);
    let events = root
        .and_then(|r| tree::list(r, "events"))
        .map(|l| tree::map_items(l).filter_map(read_event).collect())
        .unwrap_or_default();
    Ok((grade, events))
}

/// One event; `None` for an entry this build cannot read (a newer schema's kinds are skipped).
fn read_event(m: &Map) -> Option<HazardEvent> {
    let kind = EventKind::parse(&tree::opt_str(m, "kind")?).ok()?;
    let by = AdminCode::parse(&tree::opt_str(m, "by")?).ok()?;
    Some(HazardEvent {
        user: tree::opt_str(m, "user").unwrap_or_default(),
        note: tree::opt_str(m, "note"),
        method: tree::opt_str(m, "method"),
        level: tree::opt_str(m, "level").and_then(|s| AdminCode::parse(&s).ok()),
        percent: tree::opt_i64(m, "percent").map(|p| p.clamp(0, 100) as u8),
        reply_by: tree::opt_str(m, "reply_by"),
        number: tree::opt_str(m, "number"),
        requirements: tree::opt_str(m, "requirements"),
        due: tree::opt_str(m, "due"),
        new_deadline: tree::opt_str(m, "new_deadline"),
        approved: match m.get("approved") {
            Some(HValue::Scalar(ScalarValue::Boolean(b))) => Some(*b),
            _ => None,
        },
        to: tree::opt_str(m, "to").and_then(|s| AdminCode::parse(&s).ok()),
        recipients: tree::list(m, "recipients")
            .map(tree::str_items)
            .unwrap_or_default(),
        recipient_names: notify::ROLES
            .iter()
            .filter_map(|(post, code)| {
                let person = tree::opt_str(m, &format!("name_{code}"))?;
                Some((post.to_string(), person))
            })
            .collect(),
        plan: tree::opt_map(m, "plan").map(read_plan),
        attachments: crate::evidence::read_attachments(m),
        ..HazardEvent::new(kind, by, tree::opt_str(m, "at").unwrap_or_default())
    })
}

fn read_plan(p: &Map) -> Plan {
    let s = |k: &str| tree::opt_str(p, k).unwrap_or_default();
    let funds_wan = match p.get("funds_wan") {
        Some(HValue::Scalar(ScalarValue::F64(f))) => *f,
        Some(HValue::Scalar(ScalarValue::Int(i))) => *i as f64,
        Some(HValue::Scalar(ScalarValue::Uint(u))) => *u as f64,
        _ => 0.0,
    };
    Plan {
        responsible_unit: s("responsible_unit"),
        responsible_person: s("responsible_person"),
        measures: s("measures"),
        funds_wan,
        deadline: s("deadline"),
        contingency_plan: s("contingency_plan"),
    }
}
