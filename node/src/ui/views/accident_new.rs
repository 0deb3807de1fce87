//! 事故登记 `/accidents/new` — the registration form of an accident, with its 事故快报 and other files
//! (`multipart/form-data`: the files are stored first, then filed with the registration). The post
//! goes through `crate::accidents::create_with`, what `POST /api/v1/accidents` calls; a refusal names
//! the input it is about, keeps what was typed and stores nothing of the record.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::User;
use crate::accidents::NewAccident;
use crate::enterprises::EnterpriseRef;
use crate::http::ApiState;
use crate::records::RecordError;
use crate::ui::form::{opt, refusal, sectors};
use crate::ui::page::{Chrome, render};

#[derive(Template)]
#[template(path = "accident_new.html")]
pub struct AccidentNewView {
    pub chrome: Chrome,
    pub values: HashMap<String, String>,
    /// The input the refusal is about (an API field path), if any.
    pub error_field: String,
    /// The reason, shown under that input.
    pub error_text: String,
    /// The whole refusal at the top of the form.
    pub error: String,
    pub sectors: Vec<String>,
}

impl AccidentNewView {
    /// The value typed for `field` (kept when the form comes back refused).
    pub fn v(&self, field: &str) -> String {
        self.values.get(field).cloned().unwrap_or_default()
    }

    /// Whether the refusal is about `field`.
    pub fn bad(&self, field: &str) -> bool {
        self.error_field == field
    }
}

fn view(st: &ApiState, user: &User, values: HashMap<String, String>) -> AccidentNewView {
    AccidentNewView {
        chrome: Chrome::new(st, user, "accidents"),
        values,
        error_field: String::new(),
        error_text: String::new(),
        error: String::new(),
        sectors: sectors(st),
    }
}

/// `GET /accidents/new`.
pub async fn form(State(st): State<Arc<ApiState>>, user: User) -> Response {
    let mut values = HashMap::new();
    values.insert(
        "occurred_at".into(),
        safemesh_model::hazard::format_date(crate::clock::today()),
    );
    values.insert("serious_injuries".into(), "0".into());
    values.insert("direct_loss_wan".into(), "0".into());
    render(StatusCode::OK, &view(&st, &user, values))
}

/// The API's input for the form's values; a number that does not read is refused naming its input.
fn input(values: &HashMap<String, String>) -> Result<NewAccident, RecordError> {
    let count = |k: &str| -> Result<Option<i64>, RecordError> {
        opt(values, k)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    RecordError::bad(k, "应为不小于 0 的整数 / must be a whole number ≥ 0")
                })
            })
            .transpose()
    };
    let loss = opt(values, "direct_loss_wan")
        .map(|v| {
            v.parse::<f64>().map_err(|_| {
                RecordError::bad("direct_loss_wan", "应为数字（万元）/ must be a number")
            })
        })
        .transpose()?;
    let any_enterprise =
        opt(values, "enterprise.name").is_some() || opt(values, "enterprise.credit_code").is_some();
    Ok(NewAccident {
        title: opt(values, "title"),
        occurred_at: opt(values, "occurred_at"),
        sector: opt(values, "sector"),
        deaths: count("deaths")?,
        serious_injuries: count("serious_injuries")?,
        direct_loss_wan: loss,
        enterprise: any_enterprise.then(|| EnterpriseRef {
            name: opt(values, "enterprise.name"),
            credit_code: opt(values, "enterprise.credit_code"),
            credit_code_override: opt(values, "enterprise.credit_code_override"),
        }),
        description: opt(values, "description").unwrap_or_default(),
        attachments: None,
    })
}

/// `POST /accidents/new` — the form's fields and its files.
pub async fn submit(
    State(st): State<Arc<ApiState>>,
    user: User,
    req: axum::extract::Request,
) -> Response {
    let mut values = HashMap::new();
    let result = async {
        let actor = user.editor(&st)?;
        let (pairs, files) = super::files::read_form(&st, req).await;
        // What was typed comes back with any refusal, a refused file's too.
        values = pairs.into_iter().filter(|(k, _)| k != "_csrf").collect();
        let files = files?;
        let mut input = input(&values)?;
        input.attachments = (!files.is_empty()).then_some(files);
        crate::accidents::create_with(&st.store, &st.hazards.sectors, &actor, input).await
    }
    .await;
    match result {
        Ok(a) => {
            let id = a["id"].as_str().unwrap_or_default();
            Redirect::to(&format!("/accidents/{id}?done=registered")).into_response()
        }
        Err(e) => refused(&st, &user, values, &e),
    }
}

/// A form input as the clerk sees it labelled.
fn field_label(field: &str) -> &'static str {
    match field {
        "title" => "事故名称",
        "occurred_at" => "发生日期",
        "sector" => "行业领域",
        "deaths" => "死亡人数",
        "serious_injuries" => "重伤人数",
        "direct_loss_wan" => "直接经济损失（万元）",
        "enterprise.name" => "事故单位名称",
        "enterprise.credit_code" => "统一社会信用代码",
        "enterprise.credit_code_override" => "信用代码例外说明",
        "description" => "事故经过",
        "file" => "事故快报",
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
    // A file's refusal (`file`, `attachments[0].sha256`) is shown at the file input.
    let input_of = |f: &str| {
        if f == "file" || f.starts_with("attachments") {
            "file".to_string()
        } else {
            f.to_string()
        }
    };
    let r = refusal(e, input_of, field_label);
    v.error_field = r.field;
    v.error_text = r.text;
    v.error = r.whole;
    render(r.status, &v)
}
