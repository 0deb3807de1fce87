//! 事故 `/accidents` — the accidents this node holds (its own and, by replication, its subtree's),
//! and one accident's page with its record. Reads through `crate::accidents`, as the API does.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::User;
use crate::format::{self, china_time};
use crate::http::ApiState;
use crate::ui::page::{Chrome, record_error, render};

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
    /// (what, when, who and note).
    pub events: Vec<(String, String, String)>,
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
        events: a["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let what = match e["kind"].as_str().unwrap_or_default() {
                    "registered" => "登记".to_string(),
                    "reviewed" => "审核".to_string(),
                    k => k.to_string(),
                };
                (
                    what,
                    format!(
                        "{} · {} · {}",
                        china_time(e["at"].as_str().unwrap_or_default()),
                        format::office(e["by"].as_str().unwrap_or_default()),
                        s(&e["user"])
                    ),
                    s(&e["note"]),
                )
            })
            .collect(),
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

pub async fn page(State(st): State<Arc<ApiState>>, user: User, Path(id): Path<String>) -> Response {
    match crate::accidents::get(&st.store, &id).await {
        Ok(a) => render(
            StatusCode::OK,
            &AccidentView {
                chrome: Chrome::new(&st, &user, "accidents"),
                a: row(&a),
            },
        ),
        Err(e) => record_error(&e),
    }
}
