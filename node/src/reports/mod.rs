//! 报表 — the statutory monthly report (月报表, and its quarterly and yearly variants) and the 月通报 of
//! subordinates, for this office or any descendant, assembled from the summaries this node holds (its
//! own computed fresh): nobody is asked for anything. JSON, or xlsx in the statutory layout.
//!
//! - [`monthly`]: the form's rows and columns over a period (`GET /api/v1/reports/monthly`);
//! - [`bulletin`]: subordinates ranked by 整改率 and overdue, and who has not reported
//!   (`GET /api/v1/reports/bulletin`);
//! - [`xlsx`]: both as workbooks.

use axum::Json;
use axum::extract::State;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use safemesh_model::period::{Month, PeriodKind};
use safemesh_model::summary::SummaryBody;
use safemesh_model::{AdminCode, division};
use safemesh_store::Store;
use serde::Deserialize;
use utoipa::OpenApi;

use crate::clock::now_rfc3339;
use crate::http::{ApiPart, ApiRoute, Errors, Query, Shared, route};
use crate::records::RecordError;

pub mod bulletin;
pub mod cli;
pub mod monthly;
pub mod xlsx;

/// 报表 — the reports' part of `/api/v1`.
pub const API: ApiPart = ApiPart {
    routes,
    openapi: Doc::openapi,
};

fn routes() -> Vec<ApiRoute> {
    vec![
        route(Method::GET, "/reports/monthly", get(monthly_http)),
        route(Method::GET, "/reports/bulletin", get(bulletin_http)),
    ]
}

#[derive(OpenApi)]
#[openapi(
    paths(monthly_http, bulletin_http),
    tags((name = "reports", description = "报表 / reports"))
)]
struct Doc;

pub use bulletin::Bulletin;
pub use monthly::MonthlyReport;

/// A summary older than this (or none at all) marks its office 未上报.
pub const STALE_AFTER: time::Duration = time::Duration::hours(24);

/// The MIME type of an xlsx workbook.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What a report is asked for: `month=YYYY-MM[&scope=CODE][&period=…][&format=xlsx]`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// 报告月份 `YYYY-MM`（默认本月）/ the report's month
    pub month: Option<String>,
    /// 填报单位代码（本级或下级，默认本级）/ the scope, at or below this office
    pub scope: Option<String>,
    /// `month`（默认：1月至本月累计）、`quarter`、`year` / the period
    pub period: Option<String>,
    /// `xlsx`：返回工作簿 / answer with the workbook
    pub format: Option<String>,
}

/// A report request, checked.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub scope: AdminCode,
    pub month: Month,
    pub period: PeriodKind,
    pub xlsx: bool,
}

impl ReportQuery {
    /// Checks the query against this office `me`: the scope must be `me` or below it; the month
    /// defaults to the current one (China time).
    pub fn check(self, me: &AdminCode) -> Result<ReportRequest, RecordError> {
        let scope = match self
            .scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => AdminCode::parse(s).map_err(|e| RecordError::bad("scope", e.to_string()))?,
            None => me.clone(),
        };
        if !scope.is_within(me) {
            return Err(RecordError::bad(
                "scope",
                format!("{scope} 不在本级辖区内 / {scope} is outside this node's jurisdiction"),
            ));
        }
        let month = match self
            .month
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(m) => Month::parse(m)?,
            None => Month::of_date(crate::clock::today()),
        };
        let period = PeriodKind::parse(self.period.as_deref().unwrap_or(""))?;
        let xlsx = match self.format.as_deref().map(str::trim).unwrap_or("") {
            "" | "json" => false,
            "xlsx" => true,
            _ => {
                return Err(RecordError::bad(
                    "format",
                    "应为 json 或 xlsx / format must be json or xlsx",
                ));
            }
        };
        Ok(ReportRequest {
            scope,
            month,
            period,
            xlsx,
        })
    }
}

/// The summary of `scope` as this node holds it: its own computed now, a descendant's as received.
/// `None` if a descendant has not reported.
pub(crate) struct ScopeSummary {
    pub body: SummaryBody,
    pub as_of: String,
}

pub(crate) async fn scope_summary(
    store: &Store,
    me: &AdminCode,
    scope: &AdminCode,
) -> Result<Option<ScopeSummary>, RecordError> {
    if scope == me {
        return Ok(Some(ScopeSummary {
            // The period figures do not depend on the 临期 window; the node's default is used here.
            body: crate::rollup::compute(store, me, crate::config::DEFAULT_DUE_SOON_DAYS).await?,
            as_of: now_rfc3339(),
        }));
    }
    Ok(store.summary(scope.as_str()).await?.map(|s| ScopeSummary {
        body: serde_json::from_str(&s.body).unwrap_or_default(),
        as_of: s.as_of,
    }))
}

/// The office's name: this node's configured name for itself, the division table's otherwise.
pub(crate) fn scope_name(me: &AdminCode, my_name: &str, scope: &AdminCode) -> String {
    if scope == me && !my_name.is_empty() {
        return my_name.to_string();
    }
    division::name_of(scope)
        .map(str::to_string)
        .unwrap_or_else(|| scope.to_string())
}

/// An RFC 3339 instant as China time `YYYY-MM-DD HH:MM` (as given if it does not parse).
pub fn china_time(rfc3339: &str) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| (t + time::Duration::hours(8)).format(&fmt).ok())
        .unwrap_or_else(|| rfc3339.to_string())
}

/// The file name a workbook is offered under, e.g. `月报表-5301-2026-06.xlsx` (ASCII fallback too).
fn attachment(kind: &str, req: &ReportRequest) -> String {
    let name = format!("{kind}-{}-{}.xlsx", req.scope, req.month);
    let ascii = format!("report-{}-{}.xlsx", req.scope, req.month);
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// A workbook as an HTTP answer.
pub fn xlsx_response(kind: &str, req: &ReportRequest, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, XLSX.to_string()),
            (header::CONTENT_DISPOSITION, attachment(kind, req)),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /api/v1/reports/monthly?month=YYYY-MM[&scope=CODE][&period=month|quarter|year][&format=xlsx]`
#[utoipa::path(get, path = "/api/v1/reports/monthly", tag = "reports", params(ReportQuery),
    responses((status = 200, description = "月报表（JSON，或 format=xlsx 时为法定格式工作簿）/ the monthly report", body = serde_json::Value), Errors))]
pub async fn monthly_http(
    State(st): State<Shared>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, RecordError> {
    let req = q.check(&st.code)?;
    let report = monthly::monthly(&st.store, &st.code, &st.name, &req).await?;
    if req.xlsx {
        let bytes = xlsx::monthly_workbook(&report)?;
        return Ok(xlsx_response(report.period.form_kind_zh(), &req, bytes));
    }
    Ok(Json(report).into_response())
}

/// `GET /api/v1/reports/bulletin?month=YYYY-MM[&scope=CODE][&format=xlsx]`
#[utoipa::path(get, path = "/api/v1/reports/bulletin", tag = "reports", params(ReportQuery),
    responses((status = 200, description = "月通报（JSON 或 xlsx）/ the monthly bulletin", body = serde_json::Value), Errors))]
pub async fn bulletin_http(
    State(st): State<Shared>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, RecordError> {
    let req = q.check(&st.code)?;
    let b = bulletin::bulletin(&st.store, &st.code, &st.name, &req).await?;
    if req.xlsx {
        let bytes = xlsx::bulletin_workbook(&b)?;
        return Ok(xlsx_response("月通报", &req, bytes));
    }
    Ok(Json(b).into_response())
}
