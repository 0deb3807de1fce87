//! 事故 `/accidents` — the accidents this node holds (its own and, by replication, its subtree's),
//! and one accident's page with its record. Reads through `crate::accidents`, as the API does.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use super::User;
use crate::format::{self, china_time};
use crate::http::ApiState;
use crate::records::RecordError;
use crate::ui::page::{Chrome, DoneQuery, History, form_refusal, history, record_error, render};

/// An accident as shown.
pub struct AccidentRow {
    pub id: String,
    pub title: String,
    pub occurred: String,
    pub owner: String,
    pub sector: String,
    pub grade: &'static str,
    pub grade_serious: bool,
    pub deaths: u64,
    pub injuries: u64,
    pub loss: String,
    pub enterprise: String,
    pub credit_code: String,
    /// 例外登记: why a credit code failing its check was accepted (empty if it passed).
    pub credit_code_override: String,
    pub description: String,
    /// (what, when · who · user, note, what it changed).
    pub events: History,
}

use crate::format::text as s;

fn row(a: &Value) -> AccidentRow {
    let grade = a["grade"].as_str().unwrap_or_default();
    let occurred = s(&a["occurred_at"]);
    AccidentRow {
        id: s(&a["id"]),
        title: s(&a["title"]),
        occurred: if occurred.len() > 10 {
            china_time(&occurred)
        } else {
            occurred
        },
        owner: format::office_name(a["owner"].as_str().unwrap_or_default()),
        sector: s(&a["sector"]),
        grade: format::accident_grade_label(grade),
        grade_serious: grade != "general",
        deaths: a["deaths"].as_u64().unwrap_or(0),
        injuries: a["serious_injuries"].as_u64().unwrap_or(0),
        loss: format::wan(a["direct_loss_wan"].as_f64().unwrap_or(0.0)),
        enterprise: s(&a["enterprise"]["name"]),
        credit_code: s(&a["enterprise"]["credit_code"]),
        credit_code_override: s(&a["enterprise"]["credit_code_override"]),
        description: s(&a["description"]),
        events: history(&a["events"]),
    }
}

#[derive(Template)]
#[template(path = "accidents.html")]
pub struct AccidentsView {
    pub chrome: Chrome,
    pub rows: Vec<AccidentRow>,
}

#[derive(Template)]
#[template(path = "accident.html")]
pub struct AccidentView {
    pub chrome: Chrome,
    pub a: AccidentRow,
    /// The 补报 form: shown to an editor of the registering office while the window is open.
    pub supplement: Option<SupplementForm>,
    /// 事故快报 and the files its events attach, each with the entry that attached it.
    pub record_files: Vec<super::files::RecordFileRow>,
    pub notice: String,
}

/// The 补报 form as shown: the last day it is open, the values to start from, the refusal of the last
/// try (field in words and reason).
pub struct SupplementForm {
    pub until: String,
    pub deaths: String,
    pub injuries: String,
    pub loss: String,
    pub note: String,
    pub error: String,
}

pub async fn list(State(st): State<Arc<ApiState>>, user: User) -> Response {
    match crate::accidents::list(&st.store).await {
        Ok(items) => render(
            StatusCode::OK,
            &AccidentsView {
                chrome: Chrome::new(&st, &user, "accidents"),
                rows: items.iter().map(row).collect(),
            },
        ),
        Err(e) => record_error(&e),
    }
}

pub async fn page(
    State(st): State<Arc<ApiState>>,
    user: User,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("supplement") => "已补报，事故等级按新的数字重新判定。".to_string(),
        Some("registered") => "已登记，将逐级上报到各上级。".to_string(),
        _ => String::new(),
    };
    match shown(&st, &user, &id, None, notice).await {
        Ok(v) => render(StatusCode::OK, &v),
        Err(e) => record_error(&e),
    }
}

/// The page of accident `id` as it is now, with its files.
async fn shown(
    st: &ApiState,
    user: &User,
    id: &str,
    tried: Option<(SupplementInput, String)>,
    notice: String,
) -> Result<AccidentView, RecordError> {
    let a = crate::accidents::get(&st.store, id).await?;
    let files = crate::evidence::accident_files(&st.store, id).await?;
    let mut v = view(st, user, &a, tried, notice);
    v.record_files = super::files::record_rows(files);
    Ok(v)
}

/// The page of accident `a`; `tried` is a refused 补报 (what was typed, and why it was refused).
fn view(
    st: &ApiState,
    user: &User,
    a: &Value,
    tried: Option<(SupplementInput, String)>,
    notice: String,
) -> AccidentView {
    let chrome = Chrome::new(st, user, "accidents");
    let sector = a["sector"].as_str().unwrap_or_default();
    let until =
        safemesh_model::directive::deadline::day_of(a["occurred_at"].as_str().unwrap_or(""))
            .map(|d| d + time::Duration::days(safemesh_model::accident::supplement_days(sector)));
    let mine = a["owner"].as_str() == Some(st.code.as_str());
    let supplement = match until {
        Some(until) if chrome.can_edit && mine && crate::clock::today() <= until => {
            let (typed, error) = tried.unwrap_or_else(|| {
                let now = |k: &str| a[k].as_f64().map(|v| v.to_string()).unwrap_or_default();
                (
                    SupplementInput {
                        deaths: now("deaths"),
                        serious_injuries: now("serious_injuries"),
                        direct_loss_wan: now("direct_loss_wan"),
                        note: String::new(),
                    },
                    String::new(),
                )
            });
            Some(SupplementForm {
                until: safemesh_model::hazard::format_date(until),
                deaths: typed.deaths,
                injuries: typed.serious_injuries,
                loss: typed.direct_loss_wan,
                note: typed.note,
                error,
            })
        }
        _ => None,
    };
    AccidentView {
        chrome,
        a: row(a),
        supplement,
        record_files: Vec::new(),
        notice,
    }
}

/// The 补报 form's fields, as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SupplementInput {
    #[serde(default)]
    deaths: String,
    #[serde(default)]
    serious_injuries: String,
    #[serde(default)]
    direct_loss_wan: String,
    #[serde(default)]
    note: String,
}

impl SupplementInput {
    fn into_input(self) -> Result<crate::accidents::NewSupplement, RecordError> {
        let count = |field: &str, v: &str| -> Result<Option<i64>, RecordError> {
            match v.trim() {
                "" => Ok(None),
                t => t.parse::<i64>().map(Some).map_err(|_| {
                    RecordError::bad(field, "应为不小于 0 的整数 / must be a whole number ≥ 0")
                }),
            }
        };
        let loss = match self.direct_loss_wan.trim() {
            "" => None,
            t => Some(t.parse::<f64>().map_err(|_| {
                RecordError::bad("direct_loss_wan", "应为数字（万元）/ must be a number")
            })?),
        };
        Ok(crate::accidents::NewSupplement {
            deaths: count("deaths", &self.deaths)?,
            serious_injuries: count("serious_injuries", &self.serious_injuries)?,
            direct_loss_wan: loss,
            note: Some(self.note.trim().to_string()).filter(|n| !n.is_empty()),
            attachments: None,
        })
    }
}

/// `POST /accidents/{id}/supplement` — the 补报 form, with any files it uploads
/// (`multipart/form-data`: the files are stored first, then attached to the 补报).
pub async fn supplement(
    State(st): State<Arc<ApiState>>,
    user: User,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Response {
    let mut typed = SupplementInput::default();
    let result = async {
        let actor = user.editor(&st)?;
        let (pairs, files) = super::files::read_form(&st, req).await;
        let get = |k: &str| crate::format::field(&pairs, k).unwrap_or_default();
        typed = SupplementInput {
            deaths: get("deaths"),
            serious_injuries: get("serious_injuries"),
            direct_loss_wan: get("direct_loss_wan"),
            note: get("note"),
        };
        // What was typed comes back with any refusal, a refused file's too.
        let files = files?;
        let mut input = typed.clone().into_input()?;
        input.attachments = (!files.is_empty()).then_some(files);
        crate::accidents::supplement(&st.store, &actor, &id, input).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to(&format!("/accidents/{id}?done=supplement")).into_response(),
        Err(e) if e.status == 404 => record_error(&e),
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            let why = form_refusal(&e);
            match shown(&st, &user, &id, Some((typed, why)), String::new()).await {
                Ok(v) => render(status, &v),
                Err(e) => record_error(&e),
            }
        }
    }
}
