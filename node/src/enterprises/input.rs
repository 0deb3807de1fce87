//! 企业输入 — what `POST /api/v1/enterprises` accepts, checked into an [`EnterpriseCore`], and the
//! enterprise a hazard or an accident names ([`EnterpriseRef`]).

use safemesh_doc::enterprise::EnterpriseCore;
use safemesh_model::SectorDictionary;
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
    let person = |v: String| v.trim().to_string();
    let (legal_representative, principal, controller, actual_manager) = (
        person(input.legal_representative),
        person(input.principal),
        person(input.controller),
        person(input.actual_manager),
    );
    bounded("legal_representative", &legal_representative, 50)?;
    bounded("principal", &principal, 50)?;
    bounded("controller", &controller, 50)?;
    bounded("actual_manager", &actual_manager, 50)?;
    bounded("standardisation_level", &input.standardisation_level, 20)?;
    let sector = sectors.canonical(&required("sector", input.sector)?)?;
    let major_hazard_source_grade = match input.major_hazard_source_grade {
        None => None,
        Some(g @ 1..=4) => Some(g as u8),
        Some(_) => {
            return Err(RecordError::bad(
                "major_hazard_source_grade",
                "重大危险源等级应为 1 到 4 / must be 1 to 4",
            ));
        }
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
    })
}
