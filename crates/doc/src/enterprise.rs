//! 企业文档 — an enterprise (生产经营单位) keyed by its unified social credit code: `header`, `core`
//! (the registering office's), `events` (append-only reviews and comments from the office and above).

use automerge::{AutoCommit, ObjType, ROOT, ScalarValue, transaction::Transactable};
use safemesh_model::AdminCode;
use serde::{Deserialize, Serialize};

use crate::accident::AccidentEvent as RecordEvent;
use crate::authority::op::OpCheck;
use crate::authority::reviewed;
use crate::kind::RecordKind;
use crate::read::tree;
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

    fn check_op(_: &(), op: &OpCheck<'_>) -> Result<(), Error> {
        reviewed::check_op(op)
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
}

/// An enterprise as read from its document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnterpriseView {
    pub owner: AdminCode,
    pub created: String,
    #[serde(flatten)]
    pub core: EnterpriseCore,
    pub events: Vec<RecordEvent>,
}

/// The document id of an enterprise.
pub fn doc_id(credit_code: &str) -> String {
    format!("e-{credit_code}")
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
    for (k, v) in [
        ("credit_code", &core.credit_code),
        ("name", &core.name),
        ("legal_representative", &core.legal_representative),
        ("principal", &core.principal),
        ("controller", &core.controller),
        ("actual_manager", &core.actual_manager),
        ("sector", &core.sector),
        ("standardisation_level", &core.standardisation_level),
    ] {
        doc.put(&c, k, v.as_str())?;
    }
    doc.put(&c, "above_scale", ScalarValue::Boolean(core.above_scale))?;
    doc.put(
        &c,
        "dust_explosion",
        ScalarValue::Boolean(core.dust_explosion),
    )?;
    doc.put(
        &c,
        "ammonia_refrigeration",
        ScalarValue::Boolean(core.ammonia_refrigeration),
    )?;
    if let Some(g) = core.major_hazard_source_grade {
        doc.put(&c, "major_hazard_source_grade", ScalarValue::Int(g as i64))?;
    }
    if let Some(r) = &core.credit_code_override {
        doc.put(&c, "credit_code_override", r.as_str())?;
    }
    doc.put_object(ROOT, "events", ObjType::List)?;
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
            .and_then(|g| u8::try_from(g).ok()),
        dust_explosion: flag("dust_explosion"),
        ammonia_refrigeration: flag("ammonia_refrigeration"),
        standardisation_level: tree::opt_str(c, "standardisation_level").unwrap_or_default(),
    };
    let events = crate::accident::read_events(root);
    Ok(EnterpriseView {
        owner: header.owner,
        created: header.created,
        core,
        events,
    })
}
