//! 同步状态 `/sync` — for operators: each link's state, completion, what is left to send and receive,
//! bytes, the last sync and the last error, rejections; and each descendant's last summary with its
//! age (未上报 after a day). The table refreshes itself every 5 s (an htmx partial, served only to
//! htmx requests). Reads the same status the API's `/api/v1/sync/status` returns.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use safemesh_model::AdminCode;
use serde_json::Value;

use super::User;
use super::overview::STALE_AFTER;
use crate::format::{self, china_time};
use crate::http::ApiState;
use crate::ui::page::{Chrome, is_htmx, record_error, render};

/// One link as shown.
pub struct LinkRow {
    pub peer: String,
    pub name: String,
    pub role: &'static str,
    pub state: &'static str,
    pub state_class: &'static str,
    pub bad: bool,
    pub completion: u64,
    pub to_send: i64,
    pub to_receive: u64,
    pub kb_in: u64,
    pub kb_out: u64,
    pub last_sync: String,
    pub rejected: u64,
    pub last_error: String,
}

/// One descendant's last summary.
pub struct ReportRow {
    pub code: String,
    pub name: String,
    pub level: &'static str,
    pub as_of: String,
    pub age: String,
    pub stale: bool,
}

/// What the live part of the page shows.
pub struct SyncStatus {
    pub seq: i64,
    pub now: String,
    pub refused: u64,
    pub links: Vec<LinkRow>,
    pub reports: Vec<ReportRow>,
}

#[derive(Template)]
#[template(path = "sync.html")]
pub struct SyncView {
    pub chrome: Chrome,
    pub s: SyncStatus,
}

#[derive(Template)]
#[template(path = "partials/sync_links.html")]
pub struct SyncPartial {
    pub s: SyncStatus,
}

fn state_label(s: &str) -> (&'static str, &'static str) {
    let colour = match s {
        "in_sync" => "green",
        "catching_up" => "blue",
        "connecting" => "amber",
        "disconnected" | "rejected" => "red",
        _ => "",
    };
    (crate::format::link_state_label(s), colour)
}

fn age(d: time::Duration) -> String {
    let m = d.whole_minutes().max(0);
    if m < 60 {
        format!("{m} 分钟")
    } else if m < 48 * 60 {
        format!("{} 小时", m / 60)
    } else {
        format!("{} 天", m / 1440)
    }
}

async fn status(st: &ApiState) -> Result<SyncStatus, crate::records::RecordError> {
    let v = crate::api::node::sync_status_value(st).await?;
    let links = v["links"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l: &Value| {
            let (state, class) = state_label(l["state"].as_str().unwrap_or_default());
            LinkRow {
                peer: l["peer"].as_str().unwrap_or_default().to_string(),
                name: l["name"].as_str().unwrap_or_default().to_string(),
                role: if l["role"] == "parent" {
                    "上级"
                } else {
                    "下级"
                },
                state,
                state_class: class,
                bad: class == "red",
                completion: l["completion_pct"].as_f64().unwrap_or(0.0).round() as u64,
                to_send: l["pending_out"].as_i64().unwrap_or(0),
                to_receive: l["to_receive"]["docs"].as_u64().unwrap_or(0),
                kb_in: l["bytes_in"].as_u64().unwrap_or(0) / 1024,
                kb_out: l["bytes_out"].as_u64().unwrap_or(0) / 1024,
                last_sync: l["last_sync_at"]
                    .as_str()
                    .map(china_time)
                    .unwrap_or_else(|| "—".into()),
                rejected: l["rejected_batches"].as_u64().unwrap_or(0),
                last_error: l["last_error"]
                    .as_str()
                    .or_else(|| l["last_rejection"].as_str())
                    .unwrap_or_default()
                    .to_string(),
            }
        })
        .collect();
    let now = time::OffsetDateTime::now_utc();
    let mut reports: Vec<ReportRow> = st
        .store
        .summaries()
        .await?
        .into_iter()
        .filter(|s| s.owner != st.code.as_str())
        .filter_map(|s| {
            let code = AdminCode::parse(&s.owner).ok()?;
            let at = time::OffsetDateTime::parse(
                &s.as_of,
                &time::format_description::well_known::Rfc3339,
            )
            .ok();
            let since = at.map(|t| now - t);
            Some(ReportRow {
                name: format::office_name(code.as_str()),
                level: format::level_label(&code),
                as_of: china_time(&s.as_of),
                age: since.map(age).unwrap_or_default(),
                stale: since.is_none_or(|d| d > STALE_AFTER),
                code: code.to_string(),
            })
        })
        .collect();
    reports.sort_by(|a, b| b.stale.cmp(&a.stale).then(a.code.cmp(&b.code)));
    Ok(SyncStatus {
        seq: v["seq"].as_i64().unwrap_or(0),
        now: china_time(&crate::clock::now_rfc3339()),
        refused: v["rejected_handshakes"]
            .as_object()
            .map(|m| m.values().filter_map(|x| x.as_u64()).sum())
            .unwrap_or(0),
        links,
        reports,
    })
}

pub async fn page(State(st): State<Arc<ApiState>>, user: User) -> Response {
    match status(&st).await {
        Ok(s) => render(
            StatusCode::OK,
            &SyncView {
                chrome: Chrome::new(&st, &user, "sync"),
                s,
            },
        ),
        Err(e) => record_error(&e),
    }
}

/// `GET /sync/links` — the live part, for htmx only (a browser that asks for it gets the page).
pub async fn links(State(st): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    if !is_htmx(&headers) {
        return Redirect::to("/sync").into_response();
    }
    match status(&st).await {
        Ok(s) => render(StatusCode::OK, &SyncPartial { s }),
        Err(e) => record_error(&e),
    }
}
