//! 月报表 `/reports/monthly?scope=&month=&period=` — the statutory form as a page, from the same
//! report the API answers (`crate::reports::monthly`), with its workbook at `/reports/monthly.xlsx`.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::User;
use crate::format::china_time;
use crate::http::ApiState;
use crate::reports::monthly::{
    FUNDS_HEADER, GENERAL_COLUMNS, GENERAL_HEADER, MAJOR_COLUMNS, MAJOR_HEADER, MonthlyReport,
    ROW_HEADER, UNITS_HEADER,
};
use crate::reports::{ReportQuery, ReportRequest, monthly, xlsx, xlsx_response};
use crate::ui::page::{Chrome, record_error, render};

#[derive(Template)]
#[template(path = "report.html")]
pub struct ReportView {
    pub chrome: Chrome,
    pub r: MonthlyReport,
    /// Each row's name and its 12 figures as printed.
    pub rows: Vec<(String, Vec<String>)>,
    pub query: String,
    pub as_of: String,
    pub today: String,
    pub periods: Vec<(&'static str, &'static str)>,
    pub row_header: &'static str,
    pub units_header: &'static str,
    pub general_header: &'static str,
    pub major_header: &'static str,
    pub funds_header: &'static str,
    pub sub_headers: Vec<&'static str>,
}

fn query_string(req: &ReportRequest) -> String {
    format!(
        "scope={}&month={}&period={}",
        req.scope,
        req.month,
        req.period.as_str()
    )
}

async fn report(st: &ApiState, q: ReportQuery) -> Result<(ReportRequest, MonthlyReport), Response> {
    let req = q.check(&st.code).map_err(|e| record_error(&e))?;
    let r = monthly::monthly(&st.store, &st.code, &st.name, &req)
        .await
        .map_err(|e| record_error(&e))?;
    Ok((req, r))
}

pub async fn page(
    State(st): State<Arc<ApiState>>,
    user: User,
    Query(q): Query<ReportQuery>,
) -> Response {
    let (req, r) = match report(&st, q).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let v = ReportView {
        chrome: Chrome::new(&st, &user, "overview"),
        rows: r
            .rows
            .iter()
            .map(|row| {
                (
                    row.row.clone(),
                    row.cells().iter().map(|c| c.to_string()).collect(),
                )
            })
            .collect(),
        query: query_string(&req),
        as_of: china_time(&r.as_of),
        today: safemesh_model::hazard::format_date(crate::clock::today()),
        periods: vec![
            ("cumulative", "1月至本月累计"),
            ("month", "本月"),
            ("quarter", "本季度"),
            ("year", "全年"),
        ],
        row_header: ROW_HEADER,
        units_header: UNITS_HEADER,
        general_header: GENERAL_HEADER,
        major_header: MAJOR_HEADER,
        funds_header: FUNDS_HEADER,
        sub_headers: GENERAL_COLUMNS
            .iter()
            .chain(MAJOR_COLUMNS.iter())
            .copied()
            .collect(),
        r,
    };
    render(StatusCode::OK, &v)
}

/// `/reports/monthly.xlsx?…` — the same report as the workbook.
pub async fn workbook(
    State(st): State<Arc<ApiState>>,
    _user: User,
    Query(q): Query<ReportQuery>,
) -> Response {
    let (req, r) = match report(&st, q).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    match xlsx::monthly_workbook(&r) {
        Ok(bytes) => xlsx_response(r.period.form_kind_zh(), &req, bytes),
        Err(e) => record_error(&e),
    }
}
