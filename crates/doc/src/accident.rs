//! 事故文档 — the accident document: `header`, `core` (the registering office's), `events` (append-only
//! reviews and comments from the office and the levels above). Its grade is derived from `core`, never
//! stored.

use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue, transaction::Transactable};
use safemesh_model::AdminCode;
use safemesh_model::accident::AccidentGrade;
use serde::{Deserialize, Serialize};

use crate::authority::op::{OpCheck, Seg};
use crate::authority::reviewed;
use crate::hazard::Enterprise;
use crate::kind::RecordKind;
use crate::read::tree;
use crate::revision::{self, FieldChange};
use crate::{Audience, Error, Header, Kind, SCHEMA_VERSION, read};

/// 事故 — the accident kind: registered by its office, reviewed from above.
pub struct Accidents;

impl RecordKind for Accidents {
    const KIND: Kind = Kind::Accident;
    const NAME: &'static str = "accident";
    type View = AccidentView;
    type Facts = ();

    fn read(doc: &AutoCommit) -> Result<AccidentView, Error> {
        read(doc)
    }

    fn audience(header: &Header, _: &AccidentView) -> Audience {
        audience(&header.chain())
    }

    fn facts(_: &AutoCommit, _: &Header) -> Result<(), Error> {
        Ok(())
    }

    /// The facts of registration are written once; only the casualty figures may be corrected later
    /// (补报, [`supplement`]).
    fn fixed(path: &[Seg]) -> bool {
        path.first().is_some_and(|s| s.is("core"))
            && !matches!(path, [_, Seg::Key(k)] if FIGURES.contains(&k.as_str()))
    }

    fn check_op(_: &(), op: &OpCheck<'_>) -> Result<(), Error> {
        reviewed::check_op(op, SUPPLEMENT)
    }
}

/// The registering office's fields of an accident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccidentCore {
    pub title: String,
    /// When it happened (`YYYY-MM-DD` or RFC 3339).
    pub occurred_at: String,
    pub sector: String,
    /// 死亡人数
    pub deaths: u32,
    /// 重伤人数（含急性工业中毒）
    pub serious_injuries: u32,
    /// 直接经济损失（万元）
    pub direct_loss_wan: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<Enterprise>,
    #[serde(default)]
    pub description: String,
    /// 事故快报 and what else the office files with the registration: written with it, never replaced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<safemesh_model::evidence::Attachment>,
}

/// 复核/批注/补报 — a review (from a level above), a comment, or the owner's correction of the record
/// (an accident's 补报, an enterprise's 变更) with what it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccidentEvent {
    /// `review`, `comment`, or the kind's owner correction ([`SUPPLEMENT`], `update` for enterprises).
    pub kind: String,
    pub at: String,
    pub by: AdminCode,
    #[serde(default)]
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// For an owner's correction: each field it changed, before and after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    /// 佐证材料 the event attaches (a 补报's updated 快报, a review's 认定材料), written with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<safemesh_model::evidence::Attachment>,
}

/// The fields of an accident's `core` a 补报 may change.
const FIGURES: [&str; 3] = ["deaths", "serious_injuries", "direct_loss_wan"];

/// 补报 — the owner's correction of an accident's casualty figures (STANDARDS §3.1): the event kind.
pub const SUPPLEMENT: &str = "supplement";

/// An accident as read from its document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccidentView {
    pub owner: AdminCode,
    /// The owner's configured parent, for a functional zone (`header.owner_parent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_parent: Option<AdminCode>,
    pub created: String,
    #[serde(flatten)]
    pub core: AccidentCore,
    pub grade: AccidentGrade,
    pub grade_label: &'static str,
    pub events: Vec<AccidentEvent>,
}

/// An accident goes to its office and every level above (along its chain: a zone's configured parent
/// and that parent's ancestors).
pub fn audience(owner: &safemesh_model::Chain) -> Audience {
    let mut a = Audience::default();
    a.add(owner.code.clone(), false);
    for anc in owner.ancestors() {
        a.add(anc, false);
    }
    a
}

/// Creates an accident document. The caller commits.
pub fn create(
    doc: &mut AutoCommit,
    owner: &AdminCode,
    now: &str,
    core: &AccidentCore,
) -> Result<(), Error> {
    Header {
        kind: Kind::Accident,
        schema: SCHEMA_VERSION,
        owner: owner.clone(),
        created: now.to_string(),
        owner_parent: None,
    }
    .write(doc)?;
    let c = doc.put_object(ROOT, "core", ObjType::Map)?;
    doc.put(&c, "title", core.title.as_str())?;
    doc.put(&c, "occurred_at", core.occurred_at.as_str())?;
    doc.put(&c, "sector", core.sector.as_str())?;
    doc.put(&c, "deaths", ScalarValue::Int(core.deaths as i64))?;
    doc.put(
        &c,
        "serious_injuries",
        ScalarValue::Int(core.serious_injuries as i64),
    )?;
    doc.put(
        &c,
        "direct_loss_wan",
        ScalarValue::F64(core.direct_loss_wan),
    )?;
    if let Some(e) = &core.enterprise {
        let m = doc.put_object(&c, "enterprise", ObjType::Map)?;
        e.write(doc, &m)?;
    }
    doc.put(&c, "description", core.description.as_str())?;
    crate::evidence::put_attachments(doc, &c, &core.attachments)?;
    doc.put_object(ROOT, "events", ObjType::List)?;
    Ok(())
}

/// Appends a review or comment. The caller checks who may.
pub fn append_event(doc: &mut AutoCommit, e: &AccidentEvent) -> Result<(), Error> {
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
    revision::write(doc, &m, &e.changes)?;
    crate::evidence::put_attachments(doc, &m, &e.attachments)?;
    Ok(())
}

/// The casualty figures of an accident, which a 补报 may correct.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub deaths: u32,
    pub serious_injuries: u32,
    pub direct_loss_wan: f64,
}

impl AccidentCore {
    pub fn figures(&self) -> Figures {
        Figures {
            deaths: self.deaths,
            serious_injuries: self.serious_injuries,
            direct_loss_wan: self.direct_loss_wan,
        }
    }
}

/// 补报 — writes the corrected figures over the accident's `core` (only those that changed) and
/// appends `event` (kind [`SUPPLEMENT`], its `changes` saying what changed). The caller checks who
/// may, and when, and commits.
pub fn supplement(
    doc: &mut AutoCommit,
    before: Figures,
    after: Figures,
    event: &AccidentEvent,
) -> Result<(), Error> {
    let c = read::obj(doc, &ROOT, "core", "core")?;
    if before.deaths != after.deaths {
        doc.put(&c, "deaths", ScalarValue::Int(after.deaths as i64))?;
    }
    if before.serious_injuries != after.serious_injuries {
        doc.put(
            &c,
            "serious_injuries",
            ScalarValue::Int(after.serious_injuries as i64),
        )?;
    }
    if before.direct_loss_wan != after.direct_loss_wan {
        doc.put(
            &c,
            "direct_loss_wan",
            ScalarValue::F64(after.direct_loss_wan),
        )?;
    }
    append_event(doc, event)
}

pub fn read(doc: &AutoCommit) -> Result<AccidentView, Error> {
    let root = doc.hydrate(ROOT, None)?;
    let root = tree::as_map(&root).ok_or(Error::Malformed {
        path: "(root)".into(),
    })?;
    let header = Header::from_tree(root)?;
    if header.kind != Kind::Accident {
        return Err(Error::Malformed {
            path: "header.kind".into(),
        });
    }
    let c = tree::map(root, "core", "core")?;
    let count = |k: &str| tree::opt_i64(c, k).unwrap_or(0).clamp(0, u32::MAX as i64) as u32;
    let loss = match c.get("direct_loss_wan") {
        Some(automerge::hydrate::Value::Scalar(ScalarValue::F64(f))) => *f,
        Some(automerge::hydrate::Value::Scalar(ScalarValue::Int(i))) => *i as f64,
        _ => 0.0,
    };
    let enterprise = tree::opt_map(c, "enterprise").map(Enterprise::read);
    let core = AccidentCore {
        title: tree::string(c, "title", "core.title")?,
        occurred_at: tree::string(c, "occurred_at", "core.occurred_at")?,
        sector: tree::string(c, "sector", "core.sector")?,
        deaths: count("deaths"),
        serious_injuries: count("serious_injuries"),
        direct_loss_wan: loss,
        enterprise,
        description: tree::opt_str(c, "description").unwrap_or_default(),
        attachments: crate::evidence::read_attachments(c),
    };
    let grade = AccidentGrade::of(core.deaths, core.serious_injuries, core.direct_loss_wan);
    let events = read_events(root);
    Ok(AccidentView {
        owner: header.owner,
        owner_parent: header.owner_parent,
        created: header.created,
        core,
        grade,
        grade_label: grade.label(),
        events,
    })
}

/// The `events` list of an accident or enterprise document (entries this build cannot read are skipped).
pub(crate) fn read_events(root: &automerge::hydrate::Map) -> Vec<AccidentEvent> {
    tree::list(root, "events")
        .map(|l| {
            tree::map_items(l)
                .filter_map(|m| {
                    Some(AccidentEvent {
                        kind: tree::opt_str(m, "kind")?,
                        at: tree::opt_str(m, "at").unwrap_or_default(),
                        by: AdminCode::parse(&tree::opt_str(m, "by")?).ok()?,
                        user: tree::opt_str(m, "user").unwrap_or_default(),
                        note: tree::opt_str(m, "note"),
                        changes: revision::read(m),
                        attachments: crate::evidence::read_attachments(m),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}
