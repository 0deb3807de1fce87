//! 隐患文档 — the hazard document: `header`, `core` (set once by the owner), `events` (append-only).

use automerge::{
    AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue, transaction::Transactable,
};
use safemesh_model::AdminCode;
use safemesh_model::hazard::{Channel, Derived, EventKind, Grade, HazardEvent, fold};
use serde::{Deserialize, Serialize};

use crate::read::tree;
use crate::{Audience, Error, Header, Kind, SCHEMA_VERSION, read};

/// 企业 — the enterprise a hazard belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enterprise {
    pub name: String,
    /// 统一社会信用代码
    pub credit_code: String,
}

/// The core fields of a hazard, written once by the owner at registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardCore {
    pub title: String,
    /// Canonical sector name (行业领域).
    pub sector: String,
    pub grade: Grade,
    pub channel: Channel,
    pub enterprise: Enterprise,
    /// `YYYY-MM-DD` 整改期限.
    pub deadline: String,
    pub description: String,
}

/// A hazard as read from its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HazardView {
    pub owner: AdminCode,
    pub created: String,
    #[serde(flatten)]
    pub core: HazardCore,
    pub events: Vec<HazardEvent>,
}

impl HazardView {
    pub fn derived(&self) -> Derived {
        fold(&self.events)
    }

    /// General hazards reach the owner's parent; major ones every ancestor.
    pub fn audience(&self) -> Audience {
        audience(&self.owner, self.core.grade)
    }
}

pub fn audience(owner: &AdminCode, grade: Grade) -> Audience {
    let mut a = Audience::default();
    a.add(owner.clone(), false);
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
    }
    .write(doc)?;
    let c = doc.put_object(ROOT, "core", ObjType::Map)?;
    doc.put(&c, "title", core.title.as_str())?;
    doc.put(&c, "sector", core.sector.as_str())?;
    doc.put(&c, "grade", core.grade.as_str())?;
    doc.put(&c, "channel", core.channel.as_str())?;
    let e = doc.put_object(&c, "enterprise", ObjType::Map)?;
    doc.put(&e, "name", core.enterprise.name.as_str())?;
    doc.put(&e, "credit_code", core.enterprise.credit_code.as_str())?;
    doc.put(&c, "deadline", core.deadline.as_str())?;
    doc.put(&c, "description", core.description.as_str())?;
    doc.put_object(ROOT, "events", ObjType::List)?;
    let registered = HazardEvent {
        kind: EventKind::Registered,
        at: now.to_string(),
        by: owner.clone(),
        user: user.to_string(),
        note: None,
        method: None,
        level: None,
        percent: None,
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
    Ok(())
}

/// Reads the hazard back. Events that cannot be read (a newer schema's kinds) are skipped.
pub fn read(doc: &AutoCommit) -> Result<HazardView, Error> {
    let root = doc.hydrate(ROOT, None)?;
    let root = tree::as_map(&root).ok_or(Error::Malformed { path: "(root)".into() })?;
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
    let core = HazardCore {
        title: tree::string(c, "title", "core.title")?,
        sector: tree::string(c, "sector", "core.sector")?,
        grade,
        channel,
        enterprise: Enterprise {
            name: tree::opt_str(e, "name").unwrap_or_default(),
            credit_code: tree::opt_str(e, "credit_code").unwrap_or_default(),
        },
        deadline: tree::string(c, "deadline", "core.deadline")?,
        description: tree::opt_str(c, "description").unwrap_or_default(),
    };
    let events = tree::list(root, "events")
        .map(|l| tree::map_items(l).filter_map(read_event).collect())
        .unwrap_or_default();
    Ok(HazardView {
        owner: header.owner,
        created: header.created,
        core,
        events,
    })
}

/// One event; `None` for an entry this build cannot read (a newer schema's kinds are skipped).
fn read_event(m: &automerge::hydrate::Map) -> Option<HazardEvent> {
    let kind = EventKind::parse(&tree::opt_str(m, "kind")?).ok()?;
    let by = AdminCode::parse(&tree::opt_str(m, "by")?).ok()?;
    Some(HazardEvent {
        kind,
        at: tree::opt_str(m, "at").unwrap_or_default(),
        by,
        user: tree::opt_str(m, "user").unwrap_or_default(),
        note: tree::opt_str(m, "note"),
        method: tree::opt_str(m, "method"),
        level: tree::opt_str(m, "level").and_then(|s| AdminCode::parse(&s).ok()),
        percent: tree::opt_i64(m, "percent").map(|p| p.clamp(0, 100) as u8),
    })
}
