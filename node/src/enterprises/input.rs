//! 企业输入 — what `POST /api/v1/enterprises` accepts, checked into an [`EnterpriseCore`], and the
//! enterprise a hazard or an accident names ([`EnterpriseRef`]).

use safemesh_doc::enterprise::{EnterpriseCore, Licence};
use safemesh_model::{AdminCode, SectorDictionary};
use serde::Deserialize;

use crate::records::{RecordError, bounded, required};

/// Input of `POST /api/v1/enterprises`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewEnterprise {
    pub credit_code: Option<String>,
    /// 例外登记: why a credit code whose check character fails is right (an early pilot code).
    pub credit_code_override: Option<String>,
    pub name: Option<String>,
    /// 法定代表人 (a post of its own: not the 主要负责人).
    #[serde(default)]
    pub legal_representative: String,
    /// 主要负责人
    #[serde(default)]
    pub principal: String,
    /// 实际控制人
    #[serde(default)]
    pub controller: String,
    /// 实际负责人 (a post of its own: not the 实际控制人).
    #[serde(default)]
    pub actual_manager: String,
    pub sector: Option<String>,
    #[serde(default)]
    pub above_scale: bool,
    pub major_hazard_source_grade: Option<i64>,
    #[serde(default)]
    pub dust_explosion: bool,
    #[serde(default)]
    pub ammonia_refrigeration: bool,
    #[serde(default)]
    pub standardisation_level: String,
    /// 生产经营地址
    #[serde(default)]
    pub address: String,
    /// 所在区划代码: this office's code or one below it.
    pub division: Option<String>,
    /// 安全风险等级: 重大风险、较大风险、一般风险 or 低风险 (红、橙、黄、蓝 accepted).
    #[serde(default)]
    pub risk_grade: String,
    /// 重点监管单位
    #[serde(default)]
    pub key_unit: bool,
    /// 证照
    #[serde(default)]
    pub licences: Vec<LicenceInput>,
}

/// 证照 as entered.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct LicenceInput {
    pub name: Option<String>,
    pub number: Option<String>,
    /// 有效期至 `YYYY-MM-DD`; absent or empty when it does not expire.
    pub valid_until: Option<String>,
}

/// Input of `PATCH /api/v1/enterprises/{credit_code}` — 变更: the particulars that change (those not
/// given stay as they are) and why. The credit code is the enterprise's identity and never changes.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct EnterpriseUpdate {
    pub name: Option<String>,
    pub legal_representative: Option<String>,
    pub principal: Option<String>,
    pub controller: Option<String>,
    pub actual_manager: Option<String>,
    pub sector: Option<String>,
    pub above_scale: Option<bool>,
    /// 1–4; 0 removes it (the source no longer counts).
    pub major_hazard_source_grade: Option<i64>,
    pub dust_explosion: Option<bool>,
    pub ammonia_refrigeration: Option<bool>,
    pub standardisation_level: Option<String>,
    pub address: Option<String>,
    /// 所在区划代码; empty removes it.
    pub division: Option<String>,
    /// empty: not assessed.
    pub risk_grade: Option<String>,
    pub key_unit: Option<bool>,
    /// The whole list of licences after the change.
    pub licences: Option<Vec<LicenceInput>>,
    /// 变更说明 — why (e.g. 主要负责人调整). Required.
    pub note: Option<String>,
}

/// The 安全风险等级 names, and the colours that name them too (红橙黄蓝).
const RISK_GRADES: [(&str, &str); 4] = [
    ("重大风险", "红"),
    ("较大风险", "橙"),
    ("一般风险", "黄"),
    ("低风险", "蓝"),
];

fn risk_grade(v: &str) -> Result<String, RecordError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    RISK_GRADES
        .iter()
        .find(|(name, colour)| v == *name || v == *colour || v.strip_suffix('色') == Some(colour))
        .map(|(name, _)| name.to_string())
        .ok_or_else(|| {
            RecordError::bad(
                "risk_grade",
                "应为 重大风险、较大风险、一般风险 或 低风险 / must be one of 重大风险 较大风险 一般风险 低风险",
            )
        })
}

/// A division code where an enterprise of `owner` may be: the office itself or a division below it.
fn division(owner: &AdminCode, v: Option<&str>) -> Result<Option<AdminCode>, RecordError> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let code = AdminCode::parse(v)
        .map_err(|_| RecordError::bad("division", "不是有效的区划代码 / not a division code"))?;
    if &code != owner && !owner.is_ancestor_of(&code) {
        return Err(RecordError::bad(
            "division",
            format!(
                "应为本级（{owner}）或其下级区划 / must be this office's division or one below it"
            ),
        ));
    }
    Ok(Some(code))
}

fn licences(list: Vec<LicenceInput>) -> Result<Vec<Licence>, RecordError> {
    if list.len() > 50 {
        return Err(RecordError::bad(
            "licences",
            "证照至多 50 项 / at most 50 licences",
        ));
    }
    list.into_iter()
        .enumerate()
        .map(|(i, l)| {
            let at = |f: &str| format!("licences[{i}].{f}");
            let name = required(&at("name"), l.name)?;
            bounded(&at("name"), &name, 100)?;
            let number = required(&at("number"), l.number)?;
            bounded(&at("number"), &number, 100)?;
            let valid_until = match l.valid_until.as_deref().map(str::trim) {
                None | Some("") => String::new(),
                Some(d) => {
                    safemesh_model::hazard::parse_date(&at("valid_until"), d)?;
                    d.to_string()
                }
            };
            Ok(Licence {
                name,
                number,
                valid_until,
            })
        })
        .collect()
}

fn grade(v: i64) -> Result<Option<u8>, RecordError> {
    match v {
        0 => Ok(None),
        g @ 1..=4 => Ok(Some(g as u8)),
        _ => Err(RecordError::bad(
            "major_hazard_source_grade",
            "重大危险源等级应为 1 到 4 / must be 1 to 4",
        )),
    }
}

fn person(field: &str, v: String) -> Result<String, RecordError> {
    let v = v.trim().to_string();
    bounded(field, &v, 50)?;
    Ok(v)
}

/// Applies an update to the enterprise as it is (`before`, registered by `owner`): each given field
/// checked as at registration. Returns the enterprise after it and the reason.
pub(crate) fn update(
    sectors: &SectorDictionary,
    owner: &AdminCode,
    before: &EnterpriseCore,
    u: EnterpriseUpdate,
) -> Result<(EnterpriseCore, String), RecordError> {
    let note = required("note", u.note)?;
    bounded("note", &note, 2000)?;
    let mut c = before.clone();
    if let Some(n) = u.name {
        let n = n.trim().to_string();
        if n.is_empty() {
            return Err(RecordError::bad(
                "name",
                "企业名称不能为空 / name cannot be empty",
            ));
        }
        bounded("name", &n, 200)?;
        c.name = n;
    }
    for (field, v, slot) in [
        (
            "legal_representative",
            u.legal_representative,
            &mut c.legal_representative,
        ),
        ("principal", u.principal, &mut c.principal),
        ("controller", u.controller, &mut c.controller),
        ("actual_manager", u.actual_manager, &mut c.actual_manager),
    ] {
        if let Some(v) = v {
            *slot = person(field, v)?;
        }
    }
    if let Some(s) = u.sector {
        c.sector = sectors.canonical(&s)?;
    }
    if let Some(v) = u.standardisation_level {
        bounded("standardisation_level", &v, 20)?;
        c.standardisation_level = v.trim().to_string();
    }
    if let Some(v) = u.address {
        bounded("address", &v, 300)?;
        c.address = v.trim().to_string();
    }
    if let Some(v) = u.division {
        c.division = division(owner, Some(&v))?;
    }
    if let Some(v) = u.risk_grade {
        c.risk_grade = risk_grade(&v)?;
    }
    if let Some(g) = u.major_hazard_source_grade {
        c.major_hazard_source_grade = grade(g)?;
    }
    if let Some(l) = u.licences {
        c.licences = licences(l)?;
    }
    for (v, slot) in [
        (u.above_scale, &mut c.above_scale),
        (u.dust_explosion, &mut c.dust_explosion),
        (u.ammonia_refrigeration, &mut c.ammonia_refrigeration),
        (u.key_unit, &mut c.key_unit),
    ] {
        if let Some(v) = v {
            *slot = v;
        }
    }
    if &c == before {
        return Err(RecordError::bad(
            "note",
            "没有要变更的内容：所给的都与现有登记相同 / nothing changes: every field given is as registered",
        ));
    }
    Ok((c, note))
}

/// The enterprise a hazard or an accident names (`enterprise` of their input): its name, its unified
/// social credit code, or both. Each kind checks it by its own rules.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct EnterpriseRef {
    pub name: Option<String>,
    pub credit_code: Option<String>,
    /// 例外登记: why a credit code whose check character fails is right (an early pilot code).
    pub credit_code_override: Option<String>,
}

/// Checks a credit code entered at `field` (upper-cased already) with the override reason entered at
/// `{field}_override`, by the rule of [`safemesh_model::credit::accept`]: a valid code passes and
/// flags nothing; one whose check character fails passes only with a reason, which is returned to be
/// kept as the record's flag; anything else is a 400 naming the field.
pub(crate) fn credit_code(
    field: &str,
    code: &str,
    override_reason: Option<&str>,
) -> Result<Option<String>, RecordError> {
    safemesh_model::credit::accept(code, override_reason).map_err(|e| {
        let at = match e.field() {
            "credit_code_override" => format!("{field}_override"),
            _ => field.to_string(),
        };
        RecordError::bad(at, e.reason())
    })
}

/// Checks a new enterprise: its credit code must pass the GB 32100 and GB 11714 checks, its sector must
/// be in the node's dictionary.
pub(crate) fn core(
    sectors: &SectorDictionary,
    owner: &AdminCode,
    input: NewEnterprise,
) -> Result<EnterpriseCore, RecordError> {
    let credit_code = required("credit_code", input.credit_code)?.to_uppercase();
    let credit_code_override = self::credit_code(
        "credit_code",
        &credit_code,
        input.credit_code_override.as_deref(),
    )?;
    let name = required("name", input.name)?;
    bounded("name", &name, 200)?;
    let legal_representative = person("legal_representative", input.legal_representative)?;
    let principal = person("principal", input.principal)?;
    let controller = person("controller", input.controller)?;
    let actual_manager = person("actual_manager", input.actual_manager)?;
    bounded("standardisation_level", &input.standardisation_level, 20)?;
    bounded("address", &input.address, 300)?;
    let sector = sectors.canonical(&required("sector", input.sector)?)?;
    let major_hazard_source_grade = match input.major_hazard_source_grade {
        None => None,
        // At registration a grade given is a grade: 0 is no grade, not a removal.
        Some(g) => Some(grade(g)?.ok_or_else(|| {
            RecordError::bad(
                "major_hazard_source_grade",
                "重大危险源等级应为 1 到 4 / must be 1 to 4",
            )
        })?),
    };
    Ok(EnterpriseCore {
        credit_code,
        credit_code_override,
        name,
        legal_representative,
        principal,
        controller,
        actual_manager,
        sector,
        above_scale: input.above_scale,
        major_hazard_source_grade,
        dust_explosion: input.dust_explosion,
        ammonia_refrigeration: input.ammonia_refrigeration,
        standardisation_level: input.standardisation_level,
        address: input.address.trim().to_string(),
        division: division(owner, input.division.as_deref())?,
        risk_grade: risk_grade(&input.risk_grade)?,
        key_unit: input.key_unit,
        licences: licences(input.licences)?,
    })
}
