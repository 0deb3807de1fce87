//! 企业 `/enterprises` — the enterprises this node holds, and one enterprise's page with the hazards
//! and accidents recorded against it. Reads through `crate::enterprises`, as the API does.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::User;
use crate::format;
use crate::http::ApiState;
use crate::ui::page::{Chrome, record_error, render};

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
) -> Response {
    let e = match crate::enterprises::get(&st.store, &code).await {
        Ok(e) => e,
        Err(e) => return record_error(&e),
    };
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
    render(
        StatusCode::OK,
        &EnterpriseView {
            chrome: Chrome::new(&st, &user, "enterprises"),
            e: row(&e),
            hazards,
            accidents,
        },
    )
}
