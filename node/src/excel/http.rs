//! The Excel endpoints under `/api/v1` (docs/API.md, "Ledger export and import"): the ledgers as
//! workbooks, the import template, and the import itself (`multipart/form-data`, field `file`).

use std::sync::Arc;

use axum::Json;
use axum::extract::DefaultBodyLimit;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderName, HeaderValue, Method as M};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use utoipa::OpenApi;

use super::XLSX;
use super::export::{Office, no_progress};
use super::import::{ImportOptions, ImportReport};
use super::sheet::Grid;
use crate::clock::today;
use crate::directives::ListFilter;
use crate::hazards::HazardQuery;
use crate::http::{ApiPart, ApiRoute, ApiState, Editor, Errors, Query, route};
use crate::records::{Actor, RecordError};

type Shared = Arc<ApiState>;

/// 台账导入导出 — the workbooks' part of `/api/v1`.
pub const API: ApiPart = ApiPart {
    routes,
    openapi: Doc::openapi,
};

fn routes() -> Vec<ApiRoute> {
    vec![
        route(M::GET, "/hazards/export.xlsx", get(export_hazards)),
        route(
            M::GET,
            "/hazards/import-template.xlsx",
            get(import_template),
        ),
        route(
            M::POST,
            "/hazards/import",
            post(import).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        ),
        route(M::GET, "/directives/export.xlsx", get(export_directives)),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(export_hazards, import_template, import, export_directives))]
struct Doc;

/// The largest upload the import takes: 10,000 rows are ~1–3 MB as `.xlsx` or `.csv`, several times
/// that as `.xls`.
pub const MAX_UPLOAD_BYTES: usize = 32 << 20;

/// The office this node is, for a ledger's title lines.
pub fn office(st: &ApiState) -> Office {
    Office {
        code: st.code.to_string(),
        name: st.name.clone(),
    }
}

/// A workbook as a download named `name` (`隐患台账-530181006-2026-01-05.xlsx`), with an ASCII
/// `fallback` for old clients.
pub fn download(bytes: Vec<u8>, name: &str, fallback: &str) -> Response {
    crate::http::file::download(bytes, XLSX, name, fallback)
}

/// The file name of a ledger exported today at this office.
pub fn file_name(st: &ApiState, what: &str, ascii: &str) -> (String, String) {
    let day = safemesh_model::hazard::format_date(today());
    (
        format!("{what}-{}-{day}.xlsx", st.code),
        format!("{ascii}-{}-{day}.xlsx", st.code),
    )
}

/// `GET /hazards/export.xlsx` — the ledger for the same filters as `GET /hazards`, as a workbook.
#[utoipa::path(get, path = "/api/v1/hazards/export.xlsx", tag = "hazards", params(HazardQuery),
    responses((status = 200, description = "隐患台账（xlsx；grade=major 为重大隐患台账）/ the ledger as a workbook",
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), Errors))]
pub async fn export_hazards(
    State(st): State<Shared>,
    Query(q): Query<HazardQuery>,
) -> Result<Response, RecordError> {
    let major = q
        .grade
        .as_deref()
        .and_then(|g| safemesh_model::hazard::Grade::parse(g.trim()).ok())
        == Some(safemesh_model::hazard::Grade::Major);
    let bytes = super::export_hazards(
        &st.store,
        &st.hazards,
        &office(&st),
        today(),
        q,
        &no_progress,
    )
    .await?;
    let (name, ascii) = if major {
        file_name(&st, "重大事故隐患台账", "major-hazards")
    } else {
        file_name(&st, "隐患台账", "hazards")
    };
    Ok(download(bytes, &name, &ascii))
}

/// `GET /directives/export.xlsx` — the 任务台账, one row per unit.
#[utoipa::path(get, path = "/api/v1/directives/export.xlsx", tag = "directives", params(ListFilter),
    responses((status = 200, description = "任务台账（xlsx）/ the directives ledger as a workbook",
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), Errors))]
pub async fn export_directives(
    State(st): State<Shared>,
    Query(f): Query<ListFilter>,
) -> Result<Response, RecordError> {
    let bytes = super::export_directives(
        &st.store,
        &office(&st),
        today(),
        &f,
        st.hazards.due_soon_days,
        &no_progress,
    )
    .await?;
    let (name, ascii) = file_name(&st, "任务台账", "directives");
    Ok(download(bytes, &name, &ascii))
}

/// `GET /hazards/import-template.xlsx`.
#[utoipa::path(get, path = "/api/v1/hazards/import-template.xlsx", tag = "hazards",
    responses((status = 200, description = "导入模板（带下拉选项）/ the import template with drop-downs",
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), Errors))]
pub async fn import_template(State(st): State<Shared>) -> Result<Response, RecordError> {
    let bytes = super::template::import_template(&st.hazards)?;
    Ok(download(
        bytes,
        &format!("隐患导入模板-{}.xlsx", st.code),
        &format!("hazard-import-template-{}.xlsx", st.code),
    ))
}

/// The import's form, as the OpenAPI document describes it (the handler reads the multipart stream).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ImportUpload {
    /// 表格文件：.xlsx、.xls，或 GBK/UTF-8 的 .csv / the sheet
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// `true`：只校验不保存 / validate only
    dry_run: Option<String>,
    /// `xlsx`：返回标注后的表格 / answer with the annotated workbook
    annotated: Option<String>,
}

/// The import's query string.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `true`: validate only.
    pub dry_run: Option<String>,
    /// `xlsx`: answer with the annotated workbook instead of JSON.
    pub annotated: Option<String>,
}

fn truthy(v: &str) -> bool {
    matches!(v.trim(), "true" | "1" | "是" | "on" | "yes")
}

/// An upload: its name, bytes, and the form's other fields.
#[derive(Debug, Default)]
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
    pub fields: Vec<(String, String)>,
}

/// Reads a multipart form: the `file` field and the text fields beside it.
pub async fn read_upload(mut m: Multipart) -> Result<Upload, RecordError> {
    let mut up = Upload::default();
    let mut found = false;
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            RecordError {
                status: 413,
                field: Some("file".into()),
                rule: None,
                message: format!(
                    "文件过大（上限 {} MB） / file larger than {} MB",
                    MAX_UPLOAD_BYTES >> 20,
                    MAX_UPLOAD_BYTES >> 20
                ),
            }
        } else {
            RecordError::bad("file", format!("上传内容无法读取 / unreadable upload: {e}"))
        }
    };
    while let Some(field) = m.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            up.name = field.file_name().unwrap_or("upload").to_string();
            up.bytes = field.bytes().await.map_err(bad)?.to_vec();
            found = true;
        } else {
            let v = field.text().await.map_err(bad)?;
            up.fields.push((name, v));
        }
    }
    if !found || up.bytes.is_empty() {
        return Err(RecordError::bad(
            "file",
            "请在 multipart/form-data 的 file 字段上传 .xlsx、.xls 或 .csv 文件 / upload the sheet in the multipart field `file`",
        ));
    }
    Ok(up)
}

/// Reads and imports an upload as `actor`; what the API, the UI and the CLI share.
pub async fn run_import(
    st: &ApiState,
    actor: &Actor,
    name: &str,
    bytes: Vec<u8>,
    dry_run: bool,
) -> Result<(Grid, ImportReport), RecordError> {
    let n = name.to_string();
    let grid = tokio::task::spawn_blocking(move || super::sheet::read(&n, bytes))
        .await
        .map_err(RecordError::internal)??;
    let opts = ImportOptions {
        dry_run,
        file_name: name.to_string(),
    };
    let report = super::import_hazards(
        &st.store,
        &st.hazards,
        actor,
        today(),
        &grid,
        &opts,
        &|_, _, _| {},
    )
    .await?;
    Ok((grid, report))
}

/// `POST /hazards/import` — `multipart/form-data` with the sheet in `file`; `?dry_run=true` (or a form
/// field `dry_run`) validates only; `?annotated=xlsx` answers with the annotated workbook.
#[utoipa::path(post, path = "/api/v1/hazards/import", tag = "hazards", params(ImportQuery),
    request_body(content = ImportUpload, content_type = "multipart/form-data",
        description = "表格文件放在 file 字段（.xlsx、.xls、.csv GBK/UTF-8）/ the sheet in the field `file`"),
    responses((status = 200, description = "逐行结果（JSON，或 annotated=xlsx 时为标注后的表格）/ the result per row", body = serde_json::Value), Errors))]
pub async fn import(
    State(st): State<Shared>,
    by: Editor,
    Query(q): Query<ImportQuery>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, RecordError> {
    let form = form.map_err(|e| {
        RecordError::bad(
            "file",
            format!("请以 multipart/form-data 上传，文件放在 file 字段 / expected multipart/form-data: {e}"),
        )
    })?;
    let up = read_upload(form).await?;
    let dry_run = q.dry_run.as_deref().is_some_and(truthy)
        || up.fields.iter().any(|(k, v)| k == "dry_run" && truthy(v));
    let annotated = q.annotated.as_deref() == Some("xlsx")
        || up
            .fields
            .iter()
            .any(|(k, v)| k == "annotated" && v == "xlsx");
    let (grid, report) = run_import(&st, &by.actor(&st), &up.name, up.bytes, dry_run).await?;
    if annotated {
        let bytes = super::import::annotated_workbook(&grid, &report)?;
        let mut resp = download(
            bytes,
            &format!("导入结果-{}", annotated_name(&up.name)),
            "import-result.xlsx",
        );
        for (k, v) in [
            ("x-import-created", report.created),
            ("x-import-skipped", report.skipped),
            ("x-import-failed", report.failed),
        ] {
            resp.headers_mut()
                .insert(HeaderName::from_static(k), HeaderValue::from(v as u64));
        }
        return Ok(resp);
    }
    Ok(Json(report).into_response())
}

/// `台账.csv` → `台账.xlsx`: the annotated copy is always a workbook.
fn annotated_name(upload: &str) -> String {
    let stem = upload.rsplit_once('.').map(|(s, _)| s).unwrap_or(upload);
    format!("{stem}.xlsx")
}
