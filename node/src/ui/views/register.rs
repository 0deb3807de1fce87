//! 登记隐患 `/hazards/new` — the registration form. Dropdowns come from this node's dictionaries
//! (sectors, inspection modes, channels); the post goes through `crate::hazards::create`, the
//! operation `POST /api/v1/hazards` calls, and its error's field path (`enterprise.credit_code`) is the
//! name of the input the message is shown next to. Nothing is stored unless everything passes.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use safemesh_model::hazard::facts;

use super::User;
use crate::clock::today;
use crate::enterprises::EnterpriseRef;
use crate::format;
use crate::hazards::{NewBasis, NewHazard, NewLocation};
use crate::http::ApiState;
use crate::records::RecordError;
use crate::ui::form::{opt, refusal, sectors};
use crate::ui::page::{Chrome, render};

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterView {
    pub chrome: Chrome,
    pub values: HashMap<String, String>,
    /// The input the error is about (an API field path), if any.
    pub error_field: String,
    /// The reason, for the field.
    pub error_text: String,
    /// The whole message at the top of the form.
    pub error: String,
    pub sectors: Vec<String>,
    pub channels: Vec<(&'static str, &'static str)>,
    pub modes: Vec<&'static str>,
    pub levels: Vec<(String, String)>,
    /// 隐患所在: (code, label).
    pub subjects: Vec<(&'static str, &'static str)>,
}

impl RegisterView {
    /// The value entered for `field` (kept when the form comes back with an error).
    pub fn v(&self, field: &str) -> String {
        self.values.get(field).cloned().unwrap_or_default()
    }

    /// Whether the error is about `field`.
    pub fn bad(&self, field: &str) -> bool {
        self.error_field == field
    }
}

fn view(st: &ApiState, user: &User, values: HashMap<String, String>) -> RegisterView {
    let mut levels = Vec::new();
    let mut cur = Some(st.code.clone());
    while let Some(c) = cur {
        levels.push((
            c.to_string(),
            format!(
                "{}（{}）",
                format::office_name(c.as_str()),
                format::level_label(&c)
            ),
        ));
        cur = c.parent();
    }
    RegisterView {
        chrome: Chrome::new(st, user, "register"),
        values,
        error_field: String::new(),
        error_text: String::new(),
        error: String::new(),
        sectors: sectors(st),
        channels: ["inspection", "enterprise_self_report", "public_report"]
            .into_iter()
            .map(|c| (c, format::channel_label(c)))
            .collect(),
        modes: facts::inspection_modes(),
        levels,
        subjects: facts::Subject::ALL
            .iter()
            .map(|k| (k.as_str(), k.label_zh()))
            .collect(),
    }
}

/// `GET /hazards/new`.
pub async fn form(State(st): State<Arc<ApiState>>, user: User) -> Response {
    let mut values = HashMap::new();
    let day = safemesh_model::hazard::format_date(today());
    values.insert("found_on".into(), day);
    values.insert("found_by_level".into(), st.code.to_string());
    values.insert("location.division".into(), st.code.to_string());
    values.insert("grade".into(), "general".into());
    values.insert("channel".into(), "inspection".into());
    render(StatusCode::OK, &view(&st, &user, values))
}

/// The API's input for the form's values.
pub fn input(values: &HashMap<String, String>) -> NewHazard {
    let any = |ks: &[&str]| ks.iter().any(|k| opt(values, k).is_some());
    NewHazard {
        number: opt(values, "number"),
        title: opt(values, "title"),
        sector: opt(values, "sector"),
        grade: opt(values, "grade"),
        channel: opt(values, "channel"),
        inspection_mode: opt(values, "inspection_mode"),
        found_by_level: opt(values, "found_by_level"),
        found_on: opt(values, "found_on"),
        stock: None,
        subject: opt(values, "subject"),
        responsible_unit: opt(values, "responsible_unit"),
        enterprise: any(&["enterprise.name", "enterprise.credit_code"]).then(|| EnterpriseRef {
            name: opt(values, "enterprise.name"),
            credit_code: opt(values, "enterprise.credit_code"),
            credit_code_override: opt(values, "enterprise.credit_code_override"),
        }),
        location: any(&["location.division", "location.address"]).then(|| NewLocation {
            division: opt(values, "location.division"),
            address: opt(values, "location.address"),
        }),
        basis: any(&["basis.standard", "basis.clause"]).then(|| NewBasis {
            standard: opt(values, "basis.standard"),
            clause: opt(values, "basis.clause"),
        }),
        deadline: opt(values, "deadline"),
        description: opt(values, "description").unwrap_or_default(),
    }
}

/// The input a field path names on this form (`enterprise` → the enterprise's name).
fn input_of(field: &str) -> &str {
    match field {
        "enterprise" => "enterprise.name",
        "location" => "location.division",
        "basis" => "basis.standard",
        f => f,
    }
}

/// `POST /hazards/new`.
pub async fn submit(
    State(st): State<Arc<ApiState>>,
    user: User,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let values: HashMap<String, String> = pairs.into_iter().filter(|(k, _)| k != "_csrf").collect();
    let result =
        match crate::http::check_role(user.caller.clone(), safemesh_store::TokenRole::Editor) {
            Err(e) => Err(e),
            Ok(_) => {
                let actor = user.actor(&st);
                crate::hazards::create(&st.store, &st.hazards, &actor, input(&values)).await
            }
        };
    match result {
        Ok(h) => {
            let id = h["id"].as_str().unwrap_or_default();
            Redirect::to(&format!("/hazards/{id}?done=registered")).into_response()
        }
        Err(e) => refused(&st, &user, values, &e),
    }
}

/// A form field as the clerk sees it labelled.
fn field_label(field: &str) -> &'static str {
    match field {
        "title" => "隐患名称",
        "number" => "编号",
        "sector" => "行业领域",
        "grade" => "隐患等级",
        "channel" => "发现渠道",
        "inspection_mode" => "检查方式",
        "found_by_level" => "发现层级",
        "found_on" => "发现日期",
        "deadline" => "整改期限",
        "description" => "隐患描述",
        "subject" => "隐患所在",
        "responsible_unit" => "责任单位",
        "enterprise" => "单位名称",
        "enterprise.name" => "单位名称",
        "enterprise.credit_code" => "统一社会信用代码",
        "enterprise.credit_code_override" => "信用代码例外说明",
        "location.division" => "所在行政区划代码",
        "location.address" => "详细地址",
        "basis.standard" => "判定标准",
        "basis.clause" => "条款",
        _ => "",
    }
}

fn refused(
    st: &ApiState,
    user: &User,
    values: HashMap<String, String>,
    e: &RecordError,
) -> Response {
    let mut v = view(st, user, values);
    let r = refusal(e, |f| input_of(f).to_string(), field_label);
    v.error_field = r.field;
    v.error_text = r.text;
    v.error = r.whole;
    render(r.status, &v)
}
