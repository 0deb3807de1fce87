//! 事故输入 — what `POST /api/v1/accidents` and `POST …/events` accept, checked into domain values. Every
//! refusal names the field (`occurred_at`, `enterprise.credit_code`).

use safemesh_doc::accident::{AccidentCore, Figures};
use safemesh_doc::hazard::Enterprise;
use safemesh_model::SectorDictionary;
use safemesh_model::accident::validate_figures;
use serde::Deserialize;

use crate::clock::today;
use crate::enterprises::EnterpriseRef;
use crate::records::{RecordError, bounded, required};

/// Input of `POST /api/v1/accidents`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewAccident {
    pub title: Option<String>,
    /// `YYYY-MM-DD` or RFC 3339.
    pub occurred_at: Option<String>,
    pub sector: Option<String>,
    pub deaths: Option<i64>,
    pub serious_injuries: Option<i64>,
    pub direct_loss_wan: Option<f64>,
    pub enterprise: Option<EnterpriseRef>,
    #[serde(default)]
    pub description: String,
    /// 事故快报 and other files filed with the registration: uploaded first (`POST /api/v1/files`),
    /// named by their SHA-256; written with the accident, never replaced.
    pub attachments: Option<Vec<crate::evidence::AttachmentInput>>,
}

/// Input of `POST /api/v1/accidents/{id}/supplements` — 补报: the corrected casualty figures (those
/// not given stay as they are) and why.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewSupplement {
    pub deaths: Option<i64>,
    pub serious_injuries: Option<i64>,
    pub direct_loss_wan: Option<f64>,
    /// 补报说明 — why the figures change (e.g. 一名重伤人员经抢救无效死亡). Required.
    pub note: Option<String>,
    /// 佐证材料 of the correction (an updated 快报, a hospital's certificate), as for a registration.
    pub attachments: Option<Vec<crate::evidence::AttachmentInput>>,
}

/// Checks a 补报 against the accident's current figures: the new figures, the reason, and that
/// something changes. Returns the figures after it and the reason.
pub(crate) fn supplement(
    before: Figures,
    input: NewSupplement,
) -> Result<(Figures, String), RecordError> {
    let note = required("note", input.note)?;
    bounded("note", &note, 2000)?;
    let (deaths, serious_injuries, direct_loss_wan) = validate_figures(
        input.deaths.unwrap_or(before.deaths as i64),
        input
            .serious_injuries
            .unwrap_or(before.serious_injuries as i64),
        input.direct_loss_wan.unwrap_or(before.direct_loss_wan),
    )?;
    let after = Figures {
        deaths,
        serious_injuries,
        direct_loss_wan,
    };
    if after == before {
        return Err(RecordError::bad(
            "deaths",
            "补报的人数和损失与现有数字相同 / the figures given are the ones the accident already has",
        ));
    }
    Ok((after, note))
}

/// Input of `POST /api/v1/accidents/{id}/events`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewAccidentEvent {
    pub kind: Option<String>,
    pub note: Option<String>,
    /// 佐证材料 of the review or comment, as for a registration.
    pub attachments: Option<Vec<crate::evidence::AttachmentInput>>,
}

fn occurred_at(s: &str) -> Result<String, RecordError> {
    let s = s.trim();
    let date_ok =
        safemesh_model::hazard::parse_date("occurred_at", s.get(..10).unwrap_or(s)).is_ok();
    let rest_ok = s.len() == 10
        || time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok();
    if !date_ok || !rest_ok {
        return Err(RecordError::bad(
            "occurred_at",
            "应为 YYYY-MM-DD 或 RFC 3339 时间 / must be YYYY-MM-DD or an RFC 3339 time",
        ));
    }
    let day = safemesh_model::directive::deadline::day_of(s);
    if day.is_some_and(|d| d > today()) {
        return Err(RecordError::bad(
            "occurred_at",
            "不能晚于今天 / cannot be in the future",
        ));
    }
    Ok(s.to_string())
}

/// Checks a new accident: the figures its grade follows from, the sector against the node's
/// dictionary, the enterprise it names.
pub(crate) fn core(
    sectors: &SectorDictionary,
    input: NewAccident,
) -> Result<AccidentCore, RecordError> {
    let title = required("title", input.title)?;
    bounded("title", &title, 200)?;
    bounded("description", &input.description, 5000)?;
    let occurred = occurred_at(&required("occurred_at", input.occurred_at)?)?;
    let sector = sectors.canonical(&required("sector", input.sector)?)?;
    let (deaths, serious_injuries, direct_loss_wan) = validate_figures(
        input
            .deaths
            .ok_or_else(|| RecordError::bad("deaths", "deaths 必填 / deaths is required"))?,
        input.serious_injuries.unwrap_or(0),
        input.direct_loss_wan.unwrap_or(0.0),
    )?;
    let enterprise = match input.enterprise {
        Some(e) => {
            let name = required("enterprise.name", e.name)?;
            let (credit_code, credit_code_override) =
                match e.credit_code.map(|c| c.trim().to_uppercase()) {
                    Some(c) if !c.is_empty() => {
                        let flag = crate::enterprises::credit_code(
                            "enterprise.credit_code",
                            &c,
                            e.credit_code_override.as_deref(),
                        )?;
                        (c, flag)
                    }
                    _ => (String::new(), None),
                };
            Some(Enterprise {
                name,
                credit_code,
                credit_code_override,
            })
        }
        None => None,
    };
    Ok(AccidentCore {
        title,
        occurred_at: occurred,
        sector,
        deaths,
        serious_injuries,
        direct_loss_wan,
        enterprise,
        description: input.description,
        attachments: Vec::new(),
    })
}

/// Checks an accident event: its kind (`review` or `comment`) and its note, blank notes dropped.
pub(crate) fn event(input: NewAccidentEvent) -> Result<(String, Option<String>), RecordError> {
    let kind = required("kind", input.kind)?;
    if kind != "review" && kind != "comment" {
        return Err(RecordError::bad(
            "kind",
            "事件种类应为 复核 或 批注 / must be review or comment",
        ));
    }
    if let Some(n) = &input.note {
        bounded("note", n, 5000)?;
    }
    Ok((kind, input.note.filter(|n| !n.trim().is_empty())))
}
