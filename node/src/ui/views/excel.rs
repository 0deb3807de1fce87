//! 台账导入导出 in the UI: `/hazards/export.xlsx` (the ledger as the page shows it, same query string),
//! `/hazards/import-template.xlsx`, and `/hazards/import` (the upload form, and its post: the result
//! per row, or the annotated workbook). The handlers call what the API's `crate::excel::http` calls,
//! with the session's person as the writer.
//!
//! CSRF: the upload is `multipart/form-data`, which the CSRF middleware does not read (it would have to
//! buffer the whole file); the form carries the session's token in its action's query string
//! (`?_csrf=…`), which `crate::ui::csrf` accepts for multipart posts only, beside the hidden field.

use std::sync::Arc;

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::User;
use crate::clock::today;
use crate::excel::http::{download, file_name, office, read_upload, run_import};
use crate::excel::import::{ImportReport, RowError};
use crate::format::chinese;
use crate::hazards::HazardQuery;
use crate::http::ApiState;
use crate::records::RecordError;
use crate::ui::page::{Chrome, record_error, render};

/// `GET /hazards/export.xlsx` — the ledger with the page's filters and order (all rows).
pub async fn export(State(st): State<Arc<ApiState>>, Query(q): Query<HazardQuery>) -> Response {
    let major = q
        .grade
        .as_deref()
        .and_then(|g| safemesh_model::hazard::Grade::parse(g.trim()).ok())
        == Some(safemesh_model::hazard::Grade::Major);
    let noop = |_: u64, _: u64| {};
    match crate::excel::export_hazards(&st.store, &st.hazards, &office(&st), today(), q, &noop)
        .await
    {
        Ok(bytes) => {
            let (name, ascii) = if major {
                file_name(&st, "重大事故隐患台账", "major-hazards")
            } else {
                file_name(&st, "隐患台账", "hazards")
            };
            download(bytes, &name, &ascii)
        }
        Err(e) => record_error(&e),
    }
}

/// `GET /hazards/import-template.xlsx`.
pub async fn template(State(st): State<Arc<ApiState>>) -> Response {
    match crate::excel::template::import_template(&st.hazards) {
        Ok(bytes) => download(
            bytes,
            &format!("隐患导入模板-{}.xlsx", st.code),
            &format!("hazard-import-template-{}.xlsx", st.code),
        ),
        Err(e) => record_error(&e),
    }
}

/// One refused row as the page lists it.
pub struct ErrorRow {
    pub row: usize,
    pub column: String,
    pub header: String,
    pub reason: String,
}

impl From<&RowError> for ErrorRow {
    fn from(e: &RowError) -> Self {
        ErrorRow {
            row: e.row,
            column: e.column.clone().unwrap_or_else(|| "—".into()),
            header: e.header.clone().unwrap_or_default(),
            reason: chinese(&e.reason).to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "import.html")]
pub struct ImportView {
    pub chrome: Chrome,
    /// The whole refusal (unreadable file, no header), if any.
    pub error: String,
    pub report: Option<ImportReport>,
    pub errors: Vec<ErrorRow>,
    /// `(row, reason)` of the skipped rows.
    pub skipped: Vec<(usize, String)>,
}

fn view(st: &ApiState, user: &User) -> ImportView {
    ImportView {
        chrome: Chrome::new(st, user, "hazards"),
        error: String::new(),
        report: None,
        errors: Vec::new(),
        skipped: Vec::new(),
    }
}

/// `GET /hazards/import`.
pub async fn form(State(st): State<Arc<ApiState>>, user: User) -> Response {
    render(StatusCode::OK, &view(&st, &user))
}

/// `POST /hazards/import` (`multipart/form-data`: `file`, `dry_run`, `annotated`).
pub async fn submit(
    State(st): State<Arc<ApiState>>,
    user: User,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let mut v = view(&st, &user);
    let done = async {
        crate::http::check_role(user.caller.clone(), safemesh_store::TokenRole::Editor)?;
        let form = form.map_err(|e| RecordError::bad("file", e.to_string()))?;
        let up = read_upload(form).await?;
        let on = |k: &str| up.fields.iter().any(|(f, v)| f == k && !v.is_empty());
        let actor = user.actor(&st);
        let (grid, report) = run_import(&st, &actor, &up.name, up.bytes, on("dry_run")).await?;
        Ok::<_, RecordError>((grid, report, on("annotated"), up.name))
    }
    .await;
    match done {
        Ok((grid, report, true, name)) => {
            match crate::excel::import::annotated_workbook(&grid, &report) {
                Ok(bytes) => {
                    let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(&name);
                    download(
                        bytes,
                        &format!("导入结果-{stem}.xlsx"),
                        "import-result.xlsx",
                    )
                }
                Err(e) => record_error(&e),
            }
        }
        Ok((_, report, false, _)) => {
            v.errors = report.errors.iter().map(ErrorRow::from).collect();
            v.skipped = report
                .skipped_rows
                .iter()
                .map(|s| (s.row, chinese(&s.reason).to_string()))
                .collect();
            v.report = Some(report);
            render(StatusCode::OK, &v)
        }
        Err(e) if e.status == 403 => record_error(&e),
        Err(e) => {
            v.error = chinese(&e.message).to_string();
            render(
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
                &v,
            )
        }
    }
}
