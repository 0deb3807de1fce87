//! The evidence endpoints under `/api/v1` (docs/API.md, "Evidence files"): upload a file
//! (`multipart/form-data`, field `file`), download it, its thumbnail, and a hazard's files.

use std::sync::Arc;

use axum::Json;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{Method as M, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use utoipa::OpenApi;

use super::{RecordFile, Uploaded};
use crate::config::EvidenceLimits;
use crate::http::{ApiPart, ApiRoute, ApiState, Editor, Errors, Path, route};
use crate::records::RecordError;

type Shared = Arc<ApiState>;

/// 佐证材料 — the evidence files' part of `/api/v1`.
pub const API: ApiPart = ApiPart {
    routes,
    openapi: Doc::openapi,
};

fn routes() -> Vec<ApiRoute> {
    vec![
        // The per-file limit is the config's, checked while the part streams in.
        route(
            M::POST,
            "/files",
            post(upload).layer(DefaultBodyLimit::disable()),
        ),
        route(M::GET, "/files/{sha256}", get(download)),
        route(M::GET, "/files/{sha256}/thumbnail", get(thumbnail)),
        route(M::GET, "/hazards/{id}/files", get(hazard_files)),
        route(M::GET, "/directives/{id}/files", get(directive_files)),
        route(M::GET, "/accidents/{id}/files", get(accident_files)),
    ]
}

#[derive(OpenApi)]
#[openapi(
    paths(upload, download, thumbnail, hazard_files, directive_files, accident_files),
    components(schemas(Uploaded, RecordFile, FileUpload, super::AttachmentInput)),
    tags((name = "files", description = "佐证材料 / evidence files"))
)]
struct Doc;

/// The upload's form, as the OpenAPI document describes it (the handler reads the stream).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FileUpload {
    /// 文件：JPEG、PNG、PDF、OFD、DOC/DOCX、XLS/XLSX（按内容识别）/ the file, typed by content
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Reads the `file` part of a multipart form, refusing it as soon as it passes the per-file limit.
pub async fn read_file(
    mut m: Multipart,
    limits: &EvidenceLimits,
) -> Result<(String, Vec<u8>), RecordError> {
    let bad = |e: MultipartError| {
        RecordError::bad("file", format!("上传内容无法读取 / unreadable upload: {e}"))
    };
    while let Some(mut field) = m.next_field().await.map_err(bad)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("").to_string();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            if (bytes.len() + chunk.len()) as u64 > limits.max_file {
                return Err(super::file_too_large(limits));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok((name, bytes));
    }
    Err(RecordError::bad(
        "file",
        "请在 multipart/form-data 的 file 字段上传文件 / upload the file in the multipart field `file`",
    ))
}

/// `POST /files` — stores a file; answers its hash, to reference from an event's `attachments`.
#[utoipa::path(post, path = "/api/v1/files", tag = "files",
    request_body(content = FileUpload, content_type = "multipart/form-data"),
    responses((status = 201, description = "已保存 / stored", body = Uploaded),
        (status = 413, description = "超过单个文件或本节点总量上限 / over the per-file or per-node limit"),
        (status = 415, description = "类型不受支持（按内容识别）/ type not accepted (by content)"), Errors))]
pub async fn upload(
    State(st): State<Shared>,
    _by: Editor,
    form: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Uploaded>), RecordError> {
    let form = form.map_err(|e| RecordError::bad("file", e.to_string()))?;
    let (name, bytes) = read_file(form, &st.evidence).await?;
    let up = super::upload(&st.store, &st.evidence, &name, bytes).await?;
    Ok((StatusCode::CREATED, Json(up)))
}

/// A complete file this node holds, or 404.
async fn held(
    st: &ApiState,
    sha256: &str,
) -> Result<(safemesh_store::BlobMeta, Vec<u8>), RecordError> {
    let sha256 = sha256.to_ascii_lowercase();
    if !safemesh_store::is_sha256_hex(&sha256) {
        return Err(RecordError::bad(
            "sha256",
            "须为 64 位十六进制 SHA-256 / must be a hex SHA-256",
        ));
    }
    let meta = st.store.blob_meta(&sha256).await?;
    let bytes = st.store.read_blob(&sha256).await?;
    match (meta, bytes) {
        (Some(m), Some(b)) => Ok((m, b)),
        _ => Err(RecordError::not_found(&format!("file {sha256}"))),
    }
}

/// `GET /files/{sha256}` — the file, with its type and name.
#[utoipa::path(get, path = "/api/v1/files/{sha256}", tag = "files",
    params(("sha256" = String, Path, description = "文件的 SHA-256 / the file's SHA-256")),
    responses((status = 200, description = "文件，类型为登记时按内容识别的类型 / the file, with the type told by its content when it was uploaded",
        content(("image/jpeg"), ("image/png"), ("application/pdf"), ("application/ofd"), ("application/msword"),
            ("application/vnd.ms-excel"),
            ("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), Errors))]
pub async fn download(
    State(st): State<Shared>,
    Path(sha256): Path<String>,
) -> Result<Response, RecordError> {
    file_response(&st, &sha256).await
}

/// A held file as a download, named as its record names it: what the API and the UI serve.
pub async fn file_response(st: &ApiState, sha256: &str) -> Result<Response, RecordError> {
    let (meta, bytes) = held(st, sha256).await?;
    let name = super::file_name(&st.store, &meta.sha256).await?;
    let fallback = format!("{}{}", &meta.sha256[..12], extension(&name));
    Ok(crate::http::file::download(
        bytes,
        &meta.media_type,
        &name,
        &fallback,
    ))
}

/// The extension of `name` (with its dot) when it is short ASCII, else nothing.
fn extension(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((_, ext)) if ext.len() <= 5 && ext.chars().all(|c| c.is_ascii_alphanumeric()) => {
            format!(".{ext}")
        }
        _ => String::new(),
    }
}

/// `GET /files/{sha256}/thumbnail` — a JPEG no larger than 240 px of an image file.
#[utoipa::path(get, path = "/api/v1/files/{sha256}/thumbnail", tag = "files",
    params(("sha256" = String, Path, description = "图片的 SHA-256 / the image's SHA-256")),
    responses((status = 200, description = "缩略图 / the thumbnail", content_type = "image/jpeg"), Errors))]
pub async fn thumbnail(
    State(st): State<Shared>,
    Path(sha256): Path<String>,
) -> Result<Response, RecordError> {
    thumbnail_response(&st, &sha256).await
}

/// A held image's thumbnail as a JPEG: what the API and the UI serve.
pub async fn thumbnail_response(st: &ApiState, sha256: &str) -> Result<Response, RecordError> {
    let (meta, bytes) = held(st, sha256).await?;
    if !matches!(
        meta.media_type.as_str(),
        safemesh_model::evidence::JPEG | safemesh_model::evidence::PNG
    ) {
        return Err(RecordError::bad(
            "sha256",
            "只有图片有缩略图 / only images have thumbnails",
        ));
    }
    let small = super::thumbnail(bytes).await?;
    Ok(crate::http::file::download(
        small,
        "image/jpeg",
        "thumbnail.jpg",
        "thumbnail.jpg",
    ))
}

/// `GET /hazards/{id}/files` — a hazard's files, each with the event that attached it: who, when,
/// at which office.
#[utoipa::path(get, path = "/api/v1/hazards/{id}/files", tag = "files",
    params(("id" = String, Path, description = "h- + 32 hex")),
    responses((status = 200, description = "隐患的佐证材料 / the hazard's files", body = Vec<RecordFile>), Errors))]
pub async fn hazard_files(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Vec<RecordFile>>, RecordError> {
    Ok(Json(super::hazard_files(&st.store, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/directives/{id}/files", tag = "files",
    params(("id" = String, Path, description = "d- + 32 hex")),
    responses((status = 200, description = "任务各单位报送的材料 / the files the directive's responses attach", body = Vec<RecordFile>), Errors))]
pub async fn directive_files(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Vec<RecordFile>>, RecordError> {
    Ok(Json(super::directive_files(&st.store, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/accidents/{id}/files", tag = "files",
    params(("id" = String, Path, description = "a- + 32 hex")),
    responses((status = 200, description = "事故快报及各事件的佐证材料 / the accident's 快报 and its events' files", body = Vec<RecordFile>), Errors))]
pub async fn accident_files(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Vec<RecordFile>>, RecordError> {
    Ok(Json(super::accident_files(&st.store, &id).await?))
}
