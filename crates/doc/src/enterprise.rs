//! 企业文档 — an enterprise (生产经营单位) keyed by its unified social credit code: `header`, `core`
//! (the registering office's: what the enterprise is now), `events` (append-only reviews and comments
//! from the office and above, and the office's own 变更 — each `update` keeps the fields it changed,
//! before and after, so the history shows every change; see [`update`]).

use automerge::{AutoCommit, ObjType, ROOT, ScalarValue, transaction::Transactable};
use safemesh_model::AdminCode;
use serde::{Deserialize, Serialize};

use crate::accident::AccidentEvent as RecordEvent;
use crate::authority::op::{OpCheck, Seg};
use crate::authority::reviewed;
use crate::kind::RecordKind;
use crate::read::tree;
use crate::revision::{self, FieldChange};
use crate::{Audience, Error, Header, Kind, SCHEMA_VERSION};

/// 企业 — the enterprise kind: registered by its office, reviewed from above.
pub struct Enterprises;

impl RecordKind for Enterprises {
    const KIND: Kind = Kind::Enterprise;
    const NAME: &'static str = "enterprise";
    type View = EnterpriseView;
    type Facts = ();

    fn read(doc: &AutoCommit) -> Result<EnterpriseView, Error> {
        read(doc)
    }

    fn audience(header: &Header, _: &EnterpriseView) -> Audience {
        audience(&header.chain())
    }

    fn facts(_: &AutoCommit, _: &Header) -> Result<(), Error> {
        Ok(())
    }

    /// The credit code and its exception are the enterprise's identity: written once. The rest of
    /// `core` is updated by the owner (变更, [`update`]).
    fn fixed(path: &[Seg]) -> bool {
        matches!(path, [c, Seg::Key(k), ..] if c.is("core") && (k == "credit_code" || k == "credit_code_override"))
    }

    fn check_op(_: &(), op: &OpCheck<'_>) -> Result<(), Error> {
        reviewed::check_op(op, UPDATE)
    }
}

/// The registering office's fields of an enterprise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterpriseCore {
    /// 统一社会信用代码
    pub credit_code: String,
    /// 例外登记 — why a credit code whose check character fails was accepted (an early pilot code,
    /// STANDARDS §6.3); its presence is the flag. `None` for a valid code and in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_code_override: Option<String>,
    pub name: String,
    /// 法定代表人 — a post of its own, not the 主要负责人 (seed 002 #6); empty in older records.
    #[serde(default)]
    pub legal_representative: String,
    /// 主要负责人
    #[serde(default)]
    pub principal: String,
    /// 实际控制人
    #[serde(default)]
    pub controller: String,
    /// 实际负责人 — a post of its own, not the 实际控制人 (seed 002 #6); empty in older records.
    #[serde(default)]
    pub actual_manager: String,
    pub sector: String,
    /// 规模以上
    #[serde(default)]
    pub above_scale: bool,
    /// 重大危险源等级 (1–4), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major_hazard_source_grade: Option<u8>,
    /// 粉尘涉爆
    #[serde(default)]
    pub dust_explosion: bool,
    /// 涉氨制冷
    #[serde(default)]
    pub ammonia_refrigeration: bool,
    /// 安全生产标准化等级 (e.g. 一级, 二级, 三级, 小微)
    #[serde(default)]
    pub standardisation_level: String,
    /// 生产经营地址; empty in older records.
    #[serde(default)]
    pub address: String,
    /// 所在区划 — the division code of where it operates: the registering office or a division below
    /// it; `None` in older records and when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<AdminCode>,
    /// 安全风险等级 (重大风险 / 较大风险 / 一般风险 / 低风险, 红橙黄蓝); empty when not assessed.
    #[serde(default)]
    pub risk_grade: String,
    /// 重点监管单位 — on the office's list of units under close supervision.
    #[serde(default)]
    pub key_unit: bool,
    /// 证照 — its safety licences (安全生产许可证, 危险化学品经营许可证, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licences: Vec<Licence>,
}

/// 证照 — one licence an enterprise holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Licence {
    /// 证照名称, e.g. 安全生产许可证.
    pub name: String,
    /// 证号
    pub number: String,
    /// 有效期至 `YYYY-MM-DD`; empty when it does not expire.
    #[serde(default)]
    pub valid_until: String,
}

impl Licence {
    fn text(list: &[Licence]) -> String {
        list.iter()
            .map(|l| match l.valid_until.as_str() {
                "" => format!("{} {}", l.name, l.number),
                d => format!("{} {}（至 {d}）", l.name, l.number),
            })
            .collect::<Vec<_>>()
            .join("；")
    }
}

/// 变更 — the owner's update of an enterprise's particulars: the event kind.
pub const UPDATE: &str = "update";

/// An enterprise as read from its document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnterpriseView {
    pub owner: AdminCode,
    pub created: String,
    #[serde(flatten)]
    pub core: EnterpriseCore,
    pub events: Vec<RecordEvent>,
}

/// The document id of the enterprise `credit_code` as registered by office `owner`: `e-{owner}-{code}`.
/// Two offices that register the same enterprise (sibling counties, say) make two documents that never
/// collide at a shared ancestor, and nobody can take a credit code at every ancestor by registering it
/// first; the credit code is the index by which records find it (SECURITY.md, weakness 7). Documents
/// made before this rule are named `e-{code}` and read as before.
pub fn doc_id(owner: &AdminCode, credit_code: &str) -> String {
    format!("e-{owner}-{credit_code}")
}

/// An enterprise goes to its office and every level above.
pub fn audience(owner: &safemesh_model::Chain) -> Audience {
    crate::accident::audience(owner)
}

pub fn create(
    doc: &mut AutoCommit,
    owner: &AdminCode,
    now: &str,
    core: &EnterpriseCore,
) -> Result<(), Error> {
    Header {
        kind: Kind::Enterprise,
        schema: SCHEMA_VERSION,
        owner: owner.clone(),
        created: now.to_string(),
        owner_parent: None,
    }
    .write(doc)?;
    let c = doc.put_object(ROOT, "core", ObjType::Map)?;
    doc.put(&c, "credit_code", core.credit_code.as_str())?;
    if let Some(r) = &core.credit_code_override {
        doc.put(&c, "credit_code_override", r.as_str())?;
    }
    write_changed(doc, &c, core, core, true)?;
    doc.put_object(ROOT, "events", ObjType::List)?;
    Ok(())
}

/// The fields of `core` an update may change, with how each reads for people (history, UI):
/// `(field, value)`. The credit code and its exception are the enterprise's identity, never updated.
fn shown(core: &EnterpriseCore) -> Vec<(&'static str, String)> {
    let yes = |b: bool| if b { "是" } else { "否" }.to_string();
    vec![
        ("name", core.name.clone()),
        ("legal_representative", core.legal_representative.clone()),
        ("principal", core.principal.clone()),
        ("controller", core.controller.clone()),
        ("actual_manager", core.actual_manager.clone()),
        ("sector", core.sector.clone()),
        ("standardisation_level", core.standardisation_level.clone()),
        ("address", core.address.clone()),
        (
            "division",
            core.division
                .as_ref()
                .map(|d| d.as_str().to_string())
                .unwrap_or_default(),
        ),
        ("risk_grade", core.risk_grade.clone()),
        ("above_scale", yes(core.above_scale)),
        (
            "major_hazard_source_grade",
            core.major_hazard_source_grade
                .map(|g| g.to_string())
                .unwrap_or_default(),
        ),
        ("dust_explosion", yes(core.dust_explosion)),
        ("ammonia_refrigeration", yes(core.ammonia_refrigeration)),
        ("key_unit", yes(core.key_unit)),
        ("licences", Licence::text(&core.licences)),
    ]
}

/// What an update from `before` to `after` changes, field by field (empty: nothing).
pub fn changes(before: &EnterpriseCore, after: &EnterpriseCore) -> Vec<FieldChange> {
    revision::diff(
        shown(before)
            .into_iter()
            .zip(shown(after))
            .map(|((f, from), (_, to))| (f, from, to)),
    )
}

/// 变更 — writes the fields of `after` that differ from `before` over the enterprise's `core` (only
/// those, so concurrent updates of different fields both stand) and appends `event` (kind [`UPDATE`],
/// its `changes` from [`changes`]). The caller checks who may and commits.
pub fn update(
    doc: &mut AutoCommit,
    before: &EnterpriseCore,
    after: &EnterpriseCore,
    event: &RecordEvent,
) -> Result<(), Error> {
    let c = crate::read::obj(doc, &ROOT, "core", "core")?;
    write_changed(doc, &c, before, after, false)?;
    crate::accident::append_event(doc, event)
}

/// Writes the fields of `after` that differ from `before` (all of them when `all`) into `c`.
fn write_changed(
    doc: &mut AutoCommit,
    c: &automerge::ObjId,
    before: &EnterpriseCore,
    after: &EnterpriseCore,
    all: bool,
) -> Result<(), Error> {
    for (k, old, new) in [
        ("name", &before.name, &after.name),
        (
            "legal_representative",
            &before.legal_representative,
            &after.legal_representative,
        ),
        ("principal", &before.principal, &after.principal),
        ("controller", &before.controller, &after.controller),
        (
            "actual_manager",
            &before.actual_manager,
            &after.actual_manager,
        ),
        ("sector", &before.sector, &after.sector),
        (
            "standardisation_level",
            &before.standardisation_level,
            &after.standardisation_level,
        ),
        ("address", &before.address, &after.address),
        ("risk_grade", &before.risk_grade, &after.risk_grade),
    ] {
        if all || old != new {
            doc.put(c, k, new.as_str())?;
        }
    }
    for (k, old, new) in [
        ("above_scale", before.above_scale, after.above_scale),
        (
            "dust_explosion",
            before.dust_explosion,
            after.dust_explosion,
        ),
        (
            "ammonia_refrigeration",
            before.ammonia_refrigeration,
            after.ammonia_refrigeration,
        ),
        ("key_unit", before.key_unit, after.key_unit),
    ] {
        if all || old != new {
            doc.put(c, k, ScalarValue::Boolean(new))?;
        }
    }
    if (all || before.major_hazard_source_grade != after.major_hazard_source_grade)
        && (after.major_hazard_source_grade.is_some() || !all)
    {
        // No grade is 0: a source removed reads as none.
        let g = after.major_hazard_source_grade.unwrap_or(0);
        doc.put(c, "major_hazard_source_grade", ScalarValue::Int(g as i64))?;
    }
    if (all || before.division != after.division) && (after.division.is_some() || !all) {
        let d = after.division.as_ref().map(|d| d.as_str()).unwrap_or("");
        doc.put(c, "division", d)?;
    }
    if (all || before.licences != after.licences) && (!after.licences.is_empty() || !all) {
        let l = doc.put_object(c, "licences", ObjType::List)?;
        for (i, lic) in after.licences.iter().enumerate() {
            let m = doc.insert_object(&l, i, ObjType::Map)?;
            doc.put(&m, "name", lic.name.as_str())?;
            doc.put(&m, "number", lic.number.as_str())?;
            doc.put(&m, "valid_until", lic.valid_until.as_str())?;
        }
    }
    Ok(())
}

pub fn read(doc: &AutoCommit) -> Result<EnterpriseView, Error> {
    use automerge::ReadDoc;
    let root = doc.hydrate(ROOT, None)?;
    let root = tree::as_map(&root).ok_or(Error::Malformed {
        path: "(root)".into(),
    })?;
    let header = Header::from_tree(root)?;
    if header.kind != Kind::Enterprise {
        return Err(Error::Malformed {
            path: "header.kind".into(),
        });
    }
    let c = tree::map(root, "core", "core")?;
    let flag = |k: &str| {
        matches!(
            c.get(k),
            Some(automerge::hydrate::Value::Scalar(ScalarValue::Boolean(
                true
            )))
        )
    };
    let core = EnterpriseCore {
        credit_code: tree::string(c, "credit_code", "core.credit_code")?,
        credit_code_override: tree::opt_str(c, "credit_code_override").filter(|r| !r.is_empty()),
        name: tree::string(c, "name", "core.name")?,
        legal_representative: tree::opt_str(c, "legal_representative").unwrap_or_default(),
        principal: tree::opt_str(c, "principal").unwrap_or_default(),
        controller: tree::opt_str(c, "controller").unwrap_or_default(),
        actual_manager: tree::opt_str(c, "actual_manager").unwrap_or_default(),
        sector: tree::opt_str(c, "sector").unwrap_or_default(),
        above_scale: flag("above_scale"),
        major_hazard_source_grade: tree::opt_i64(c, "major_hazard_source_grade")
            .and_then(|g| u8::try_from(g).ok())
            .filter(|g| *g > 0),
        dust_explosion: flag("dust_explosion"),
        ammonia_refrigeration: flag("ammonia_refrigeration"),
        standardisation_level: tree::opt_str(c, "standardisation_level").unwrap_or_default(),
        address: tree::opt_str(c, "address").unwrap_or_default(),
        division: tree::opt_str(c, "division").and_then(|d| AdminCode::parse(&d).ok()),
        risk_grade: tree::opt_str(c, "risk_grade").unwrap_or_default(),
        key_unit: flag("key_unit"),
        licences: tree::list(c, "licences")
            .map(|l| {
                tree::map_items(l)
                    .map(|m| Licence {
                        name: tree::opt_str(m, "name").unwrap_or_default(),
                        number: tree::opt_str(m, "number").unwrap_or_default(),
                        valid_until: tree::opt_str(m, "valid_until").unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    let events = crate::accident::read_events(root);
    Ok(EnterpriseView {
        owner: header.owner,
        created: header.created,
        core,
        events,
    })
}
