//! 隐患台账 `/hazards` — the ledger with filters, server-side sorting and pagination, overdue rows
//! marked. The filter form and the sort and page links swap only the table (htmx partial, served only
//! to htmx requests); every state is also a plain URL, so a filtered ledger can be bookmarked and
//! printed. Reads through `crate::hazards::ledger`, the API's `GET /api/v1/hazards`.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::User;
use crate::clock::today;
use crate::format::{self, china_date};
use crate::hazards::HazardQuery;
use crate::http::ApiState;
use crate::ui::page::{Chrome, is_htmx, render};

/// Rows per page.
pub const PAGE_SIZE: u32 = 50;

/// The ledger's query as the page's form sends it (every field a string; empty means "all").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LedgerQuery {
    pub q: String,
    pub grade: String,
    pub status: String,
    pub sector: String,
    pub channel: String,
    pub overdue: String,
    /// 临期: `1` due within the node's warning days, `0` not.
    pub due_soon: String,
    pub supervised: String,
    pub within: String,
    pub found_from: String,
    pub found_to: String,
    pub enterprise: String,
    /// 隐患所在 (`road`, …); empty: all.
    pub subject: String,
    pub sort: String,
    pub page: String,
}

impl LedgerQuery {
    fn some(s: &str) -> Option<String> {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_string())
    }

    fn page(&self) -> u64 {
        self.page.trim().parse::<u64>().unwrap_or(1).max(1)
    }

    /// The API's query for this page.
    fn to_api(&self) -> HazardQuery {
        HazardQuery {
            grade: Self::some(&self.grade),
            status: Self::some(&self.status),
            sector: Self::some(&self.sector),
            channel: Self::some(&self.channel),
            overdue: Self::some(&self.overdue),
            due_soon: Self::some(&self.due_soon),
            supervised: Self::some(&self.supervised),
            q: Self::some(&self.q),
            within: Self::some(&self.within),
            found_from: Self::some(&self.found_from),
            found_to: Self::some(&self.found_to),
            enterprise: Self::some(&self.enterprise),
            subject: Self::some(&self.subject),
            sort: Self::some(&self.sort),
            limit: Some(PAGE_SIZE.to_string()),
            offset: Some(((self.page() - 1) * PAGE_SIZE as u64).to_string()),
            ..Default::default()
        }
    }

    /// This query as a query string, with `sort` and `page` replaced.
    fn encode(&self, sort: &str, page: u64) -> String {
        let pairs = [
            ("q", self.q.as_str()),
            ("grade", &self.grade),
            ("status", &self.status),
            ("sector", &self.sector),
            ("channel", &self.channel),
            ("overdue", &self.overdue),
            ("due_soon", &self.due_soon),
            ("supervised", &self.supervised),
            ("within", &self.within),
            ("found_from", &self.found_from),
            ("found_to", &self.found_to),
            ("enterprise", &self.enterprise),
            ("subject", &self.subject),
            ("sort", sort),
        ];
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            if !v.trim().is_empty() {
                out.append_pair(k, v.trim());
            }
        }
        if page > 1 {
            out.append_pair("page", &page.to_string());
        }
        out.finish()
    }
}

/// One ledger row as a clerk reads it.
pub struct LedgerRow {
    pub id: String,
    pub number: String,
    pub title: String,
    pub owner: String,
    pub sector: String,
    pub major: bool,
    pub status: &'static str,
    pub status_class: &'static str,
    pub channel: &'static str,
    pub found_on: String,
    pub deadline: String,
    /// 0 when not overdue.
    pub overdue_days: i64,
    /// 临期.
    pub due_soon: bool,
    pub enterprise: String,
    pub supervising: String,
    /// 验收超期: days past the acceptance period (0 if none) — the acceptor's, not 逾期.
    pub acceptance_late: i64,
    /// Who accepts it (while awaiting acceptance).
    pub acceptor: String,
}

impl LedgerRow {
    pub fn from_body(b: &Value) -> LedgerRow {
        let s = |k: &str| b[k].as_str().unwrap_or_default().to_string();
        let status = b["status"].as_str().unwrap_or_default();
        LedgerRow {
            id: s("id"),
            number: s("number"),
            title: s("title"),
            owner: format::office_name(b["owner"].as_str().unwrap_or_default()),
            sector: s("sector"),
            major: b["grade"] == "major",
            status: format::status_label(status),
            status_class: status_class(status),
            channel: format::channel_label(b["channel"].as_str().unwrap_or_default()),
            found_on: china_date(b["found_on"].as_str().unwrap_or_default()),
            deadline: b["effective_deadline"]
                .as_str()
                .or_else(|| b["deadline"].as_str())
                .unwrap_or_default()
                .to_string(),
            overdue_days: b["days_overdue"].as_i64().unwrap_or(0),
            due_soon: b["due_soon"].as_bool().unwrap_or(false),
            enterprise: format::hazard_unit(b),
            supervising: b["supervising"]
                .as_str()
                .map(format::office_name)
                .unwrap_or_default(),
            acceptance_late: b["acceptance_days_overdue"].as_i64().unwrap_or(0),
            acceptor: b["acceptor"]
                .as_str()
                .map(format::office_name)
                .unwrap_or_default(),
        }
    }
}

/// The badge colour of a status.
pub fn status_class(s: &str) -> &'static str {
    match s {
        "open" => "red",
        "rectifying" => "amber",
        "pending_acceptance" => "blue",
        "closed" => "green",
        _ => "",
    }
}

/// The table part of the page (what a filter change swaps).
pub struct LedgerTable {
    pub q: LedgerQuery,
    pub rows: Vec<LedgerRow>,
    pub total: u64,
    pub page: u64,
    pub pages: u64,
    pub today: String,
    pub overdue_on_page: usize,
    pub major_only: bool,
    pub partial: bool,
}

impl LedgerTable {
    pub fn with_sort(&self, sort: &str) -> String {
        self.q.encode(sort, 1)
    }
    pub fn prev_link(&self) -> String {
        self.q
            .encode(&self.q.sort, self.page.saturating_sub(1).max(1))
    }
    pub fn next_link(&self) -> String {
        self.q.encode(&self.q.sort, self.page + 1)
    }
}

#[derive(Template)]
#[template(path = "ledger.html")]
pub struct LedgerView {
    pub chrome: Chrome,
    pub t: LedgerTable,
    pub sectors: Vec<String>,
    pub statuses: Vec<(&'static str, &'static str)>,
    pub channels: Vec<(&'static str, &'static str)>,
    /// This office and the direct children it knows, for the 所属单位 filter.
    pub offices: Vec<(String, String)>,
    /// 隐患所在: (code, label) for the filter.
    pub subjects: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "partials/ledger_table.html")]
pub struct LedgerPartial {
    pub t: LedgerTable,
}

pub async fn page(
    State(st): State<Arc<ApiState>>,
    user: User,
    headers: HeaderMap,
    Query(q): Query<LedgerQuery>,
) -> Response {
    let day = today();
    let ledger = match crate::hazards::ledger(&st.store, &st.hazards, day, q.to_api()).await {
        Ok(l) => l,
        Err(e) => return crate::ui::page::record_error(&e),
    };
    let rows: Vec<LedgerRow> = ledger.items.iter().map(LedgerRow::from_body).collect();
    let partial = is_htmx(&headers);
    let t = LedgerTable {
        page: q.page(),
        pages: ledger.total.div_ceil(PAGE_SIZE as u64).max(1),
        total: ledger.total,
        today: safemesh_model::hazard::format_date(day),
        overdue_on_page: rows.iter().filter(|r| r.overdue_days > 0).count(),
        major_only: q.grade == "major",
        rows,
        q,
        partial,
    };
    if partial {
        return render(StatusCode::OK, &LedgerPartial { t });
    }
    let mut offices = vec![(st.code.to_string(), format!("{}（本级）", st.name))];
    for c in safemesh_model::division::children_of(&st.code)
        .into_iter()
        .chain(st.extra_children.iter().cloned())
    {
        offices.push((c.to_string(), format::office(c.as_str())));
    }
    let v = LedgerView {
        chrome: Chrome::new(&st, &user, "hazards"),
        sectors: crate::ui::form::sectors(&st),
        statuses: ["open", "rectifying", "pending_acceptance", "closed"]
            .into_iter()
            .map(|s| (s, format::status_label(s)))
            .collect(),
        channels: ["enterprise_self_report", "inspection", "public_report"]
            .into_iter()
            .map(|c| (c, format::channel_label(c)))
            .collect(),
        offices,
        subjects: safemesh_model::hazard::facts::Subject::ALL
            .iter()
            .map(|k| (k.as_str(), k.label_zh()))
            .collect(),
        t,
    };
    render(StatusCode::OK, &v)
}
