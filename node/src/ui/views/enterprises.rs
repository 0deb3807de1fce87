//! 企业 `/enterprises` — the enterprises this node holds, and one enterprise's page with the hazards
//! and accidents recorded against it. Reads through `crate::enterprises`, as the API does.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use super::User;
use crate::format;
use crate::http::ApiState;
use crate::ui::page::{Chrome, DoneQuery, History, form_refusal, history, record_error, render};

/// An enterprise as shown.
pub struct EnterpriseRow {
    pub name: String,
    pub credit_code: String,
    /// 例外登记: why a credit code failing its check was accepted (empty if it passed).
    pub credit_code_override: String,
    pub sector: String,
    pub owner: String,
    /// 法定代表人, 主要负责人, 实际控制人, 实际负责人: four posts, each shown as recorded.
    pub legal_representative: String,
    pub principal: String,
    pub controller: String,
    pub actual_manager: String,
    pub flags: String,
    pub address: String,
    /// 所在区划 (name and code), empty when not given.
    pub division: String,
    pub risk_grade: String,
    /// (name, number, valid until).
    pub licences: Vec<(String, String, String)>,
    /// 变更 and reviews: (what, when · who · user, note, what it changed).
    pub events: History,
}

use crate::format::text as s;

fn row(e: &Value) -> EnterpriseRow {
    let mut flags = Vec::new();
    if e["above_scale"] == true {
        flags.push("规上企业".to_string());
    }
    if let Some(g) = e["major_hazard_source_grade"].as_u64() {
        flags.push(format!("{g}级重大危险源"));
    }
    if e["dust_explosion"] == true {
        flags.push("粉尘涉爆".to_string());
    }
    if e["ammonia_refrigeration"] == true {
        flags.push("涉氨制冷".to_string());
    }
    if e["key_unit"] == true {
        flags.push("重点监管单位".to_string());
    }
    if let Some(l) = e["standardisation_level"]
        .as_str()
        .filter(|l| !l.is_empty())
    {
        flags.push(format!("标准化{l}"));
    }
    EnterpriseRow {
        name: s(&e["name"]),
        credit_code: s(&e["credit_code"]),
        credit_code_override: s(&e["credit_code_override"]),
        sector: s(&e["sector"]),
        owner: format::office_name(e["owner"].as_str().unwrap_or_default()),
        legal_representative: s(&e["legal_representative"]),
        principal: s(&e["principal"]),
        controller: s(&e["controller"]),
        actual_manager: s(&e["actual_manager"]),
        flags: flags.join("、"),
        address: s(&e["address"]),
        division: e["division"]
            .as_str()
            .map(format::office)
            .unwrap_or_default(),
        risk_grade: s(&e["risk_grade"]),
        licences: e["licences"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| (s(&l["name"]), s(&l["number"]), s(&l["valid_until"])))
            .collect(),
        events: history(&e["events"]),
    }
}

#[derive(Template)]
#[template(path = "enterprises.html")]
pub struct EnterprisesView {
    pub chrome: Chrome,
    pub rows: Vec<EnterpriseRow>,
}

#[derive(Template)]
#[template(path = "enterprise.html")]
pub struct EnterpriseView {
    pub chrome: Chrome,
    pub e: EnterpriseRow,
    /// (id, title, status, owner).
    pub hazards: Vec<(String, String, &'static str, String)>,
    /// (id, title, grade, occurred).
    pub accidents: Vec<(String, String, &'static str, String)>,
    /// The 变更 form, for an editor of the registering office.
    pub form: Option<UpdateForm>,
    pub notice: String,
}

/// The 变更 form's values (the enterprise as it is, or as typed in a refused try) and the refusal.
pub struct UpdateForm {
    pub values: std::collections::BTreeMap<String, String>,
    pub flags: std::collections::BTreeSet<String>,
    /// (name, number, valid until), with one empty row to add a licence.
    pub licences: Vec<(String, String, String)>,
    pub error: String,
}

impl UpdateForm {
    pub fn value(&self, k: &str) -> &str {
        self.values.get(k).map(String::as_str).unwrap_or("")
    }
    /// Whether field `k` holds `v` (for the selected option of a list).
    pub fn is(&self, k: &str, v: &str) -> bool {
        self.value(k) == v
    }
    pub fn on(&self, k: &str) -> bool {
        self.flags.contains(k)
    }
}

/// The text fields of the 变更 form, and its tick boxes.
const TEXT_FIELDS: [&str; 10] = [
    "name",
    "legal_representative",
    "principal",
    "controller",
    "actual_manager",
    "address",
    "division",
    "risk_grade",
    "standardisation_level",
    "major_hazard_source_grade",
];
const FLAGS: [&str; 4] = [
    "above_scale",
    "dust_explosion",
    "ammonia_refrigeration",
    "key_unit",
];

impl UpdateForm {
    fn of(e: &Value) -> UpdateForm {
        let mut values = std::collections::BTreeMap::new();
        for k in TEXT_FIELDS {
            let v = match &e[k] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            values.insert(k.to_string(), v);
        }
        let flags = FLAGS
            .iter()
            .filter(|k| e[**k] == true)
            .map(|k| k.to_string())
            .collect();
        let mut licences: Vec<_> = e["licences"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| (s(&l["name"]), s(&l["number"]), s(&l["valid_until"])))
            .collect();
        licences.push(Default::default());
        UpdateForm {
            values,
            flags,
            licences,
            error: String::new(),
        }
    }

    /// The form as typed (`pairs`: every field of the form, licences as repeated rows).
    fn typed(pairs: &[(String, String)]) -> UpdateForm {
        let mut f = UpdateForm {
            values: Default::default(),
            flags: Default::default(),
            licences: Vec::new(),
            error: String::new(),
        };
        let mut rows: [Vec<String>; 3] = Default::default();
        for (k, v) in pairs {
            match k.as_str() {
                k if TEXT_FIELDS.contains(&k) || k == "note" => {
                    f.values.insert(k.to_string(), v.clone());
                }
                k if FLAGS.contains(&k) => {
                    f.flags.insert(k.to_string());
                }
                "licence_name" => rows[0].push(v.clone()),
                "licence_number" => rows[1].push(v.clone()),
                "licence_valid_until" => rows[2].push(v.clone()),
                _ => {}
            }
        }
        let cell = |c: &Vec<String>, i: usize| c.get(i).cloned().unwrap_or_default();
        f.licences = (0..rows.iter().map(Vec::len).max().unwrap_or(0))
            .map(|i| (cell(&rows[0], i), cell(&rows[1], i), cell(&rows[2], i)))
            .collect();
        f
    }

    /// The API's input: every field of the form (the operation writes only what differs).
    fn input(&self) -> Result<crate::enterprises::EnterpriseUpdate, crate::records::RecordError> {
        let text = |k: &str| Some(self.value(k).trim().to_string());
        let grade = match self.value("major_hazard_source_grade").trim() {
            "" => 0,
            g => g.parse::<i64>().map_err(|_| {
                crate::records::RecordError::bad(
                    "major_hazard_source_grade",
                    "应为 1 到 4 / must be 1 to 4",
                )
            })?,
        };
        let licences = self
            .licences
            .iter()
            .filter(|(n, no, d)| {
                !(n.trim().is_empty() && no.trim().is_empty() && d.trim().is_empty())
            })
            .map(
                |(name, number, valid_until)| crate::enterprises::LicenceInput {
                    name: Some(name.trim().to_string()).filter(|v| !v.is_empty()),
                    number: Some(number.trim().to_string()).filter(|v| !v.is_empty()),
                    valid_until: Some(valid_until.trim().to_string()),
                },
            )
            .collect();
        Ok(crate::enterprises::EnterpriseUpdate {
            name: text("name"),
            legal_representative: text("legal_representative"),
            principal: text("principal"),
            controller: text("controller"),
            actual_manager: text("actual_manager"),
            sector: None,
            above_scale: Some(self.on("above_scale")),
            major_hazard_source_grade: Some(grade),
            dust_explosion: Some(self.on("dust_explosion")),
            ammonia_refrigeration: Some(self.on("ammonia_refrigeration")),
            standardisation_level: text("standardisation_level"),
            address: text("address"),
            division: text("division"),
            risk_grade: text("risk_grade"),
            key_unit: Some(self.on("key_unit")),
            licences: Some(licences),
            note: Some(self.value("note").trim().to_string()).filter(|n| !n.is_empty()),
        })
    }
}

pub async fn list(State(st): State<Arc<ApiState>>, user: User) -> Response {
    match crate::enterprises::list(&st.store).await {
        Ok(items) => render(
            StatusCode::OK,
            &EnterprisesView {
                chrome: Chrome::new(&st, &user, "enterprises"),
                rows: items.iter().map(row).collect(),
            },
        ),
        Err(e) => record_error(&e),
    }
}

pub async fn page(
    State(st): State<Arc<ApiState>>,
    user: User,
    Path(code): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("update") => "已变更，变更记录见下方。".to_string(),
        _ => String::new(),
    };
    match crate::enterprises::get(&st.store, &st.code, &code).await {
        Ok(e) => render(StatusCode::OK, &view(&st, &user, &e, None, notice)),
        Err(e) => record_error(&e),
    }
}

/// `POST /enterprises/{code}/update` — the 变更 form.
pub async fn update(
    State(st): State<Arc<ApiState>>,
    user: User,
    Path(code): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let typed = UpdateForm::typed(&pairs);
    let result = async {
        let actor = user.editor(&st)?;
        let input = typed.input()?;
        let sectors = &st.hazards.sectors;
        crate::enterprises::update(&st.store, sectors, &actor, &code, input).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to(&format!("/enterprises/{code}?done=update")).into_response(),
        Err(e) if e.status == 404 => record_error(&e),
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            let why = form_refusal(&e);
            let mut typed = typed;
            typed.error = why;
            match crate::enterprises::get(&st.store, &st.code, &code).await {
                Ok(e) => render(status, &view(&st, &user, &e, Some(typed), String::new())),
                Err(e) => record_error(&e),
            }
        }
    }
}

fn view(
    st: &ApiState,
    user: &User,
    e: &Value,
    typed: Option<UpdateForm>,
    notice: String,
) -> EnterpriseView {
    let chrome = Chrome::new(st, user, "enterprises");
    let form = (chrome.can_edit && e["owner"].as_str() == Some(st.code.as_str()))
        .then(|| typed.unwrap_or_else(|| UpdateForm::of(e)));
    let hazards = e["hazards"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            (
                s(&h["id"]),
                s(&h["title"]),
                format::status_label(h["status"].as_str().unwrap_or_default()),
                format::office_name(h["owner"].as_str().unwrap_or_default()),
            )
        })
        .collect();
    let accidents = e["accidents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                s(&a["id"]),
                s(&a["title"]),
                format::accident_grade_label(a["grade"].as_str().unwrap_or_default()),
                format::china_date(a["occurred_at"].as_str().unwrap_or_default()),
            )
        })
        .collect();
    EnterpriseView {
        chrome,
        e: row(e),
        hazards,
        accidents,
        form,
        notice,
    }
}
