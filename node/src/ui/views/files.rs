//! 佐证材料 in the UI: the files a hazard's timeline shows under each event (thumbnails of images,
//! a download link for the rest, "传输中" while the bytes have not arrived here yet), the table of a
//! directive's 报送材料 or an accident's files with the entry that attached each, the files an
//! event form uploads with it (`multipart/form-data`: the form's fields and any `file` parts), and
//! `/files/{sha256}` and its thumbnail for a logged-in person (the API's handlers, with the session
//! instead of a bearer token).

use std::sync::Arc;

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use serde_json::Value;

use super::User;
use crate::evidence::AttachmentInput;
use crate::format::text;
use crate::http::ApiState;
use crate::records::RecordError;
use crate::ui::page::record_error;

/// One file under an event on the page.
pub struct FileLink {
    pub sha256: String,
    pub name: String,
    /// 类型与大小, as a person reads them (`PNG 图片 · 1.2 MB`).
    pub about: String,
    pub is_image: bool,
    /// Whether this node holds the bytes yet.
    pub held: bool,
}

/// The files an event (as the record's JSON body holds it) attaches; `held` still to be set.
pub fn of_event(e: &Value) -> Vec<FileLink> {
    e["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let media_type = a["media_type"].as_str().unwrap_or_default();
            let kind = safemesh_model::evidence::kind_of(media_type).unwrap_or("文件");
            FileLink {
                sha256: text(&a["sha256"]),
                name: text(&a["name"]),
                about: format!("{kind} · {}", size_label(a["size"].as_u64().unwrap_or(0))),
                is_image: matches!(
                    media_type,
                    safemesh_model::evidence::JPEG | safemesh_model::evidence::PNG
                ),
                held: false,
            }
        })
        .collect()
}

/// Marks which of `files` this node holds.
pub async fn mark_held<'a>(
    st: &ApiState,
    files: impl Iterator<Item = &'a mut FileLink>,
) -> Result<(), RecordError> {
    for f in files {
        f.held = st.store.blob_meta(&f.sha256).await?.is_some();
    }
    Ok(())
}

/// One row of a record's 佐证材料 table (a directive's 报送材料, an accident's 快报 and files): the
/// file, and the entry that attached it.
pub struct RecordFileRow {
    pub file: FileLink,
    /// 事项: the entry's kind in words, with the unit for a directive's response (`进展 · 某县`).
    pub what: String,
    pub at: String,
    pub office: String,
    pub user: String,
}

/// The table rows of a record's files (as `crate::evidence` lists them, `held` already known).
pub fn record_rows(files: Vec<crate::evidence::RecordFile>) -> Vec<RecordFileRow> {
    files
        .into_iter()
        .map(|f| {
            let kind = safemesh_model::evidence::kind_of(&f.media_type).unwrap_or("文件");
            let what = match &f.unit {
                Some(u) => format!("{} · {}", f.event_zh, crate::format::office_name(u)),
                None => f.event_zh.clone(),
            };
            RecordFileRow {
                file: FileLink {
                    about: format!("{kind} · {}", size_label(f.size)),
                    sha256: f.sha256,
                    name: f.name,
                    is_image: f.is_image,
                    held: f.held,
                },
                what,
                at: crate::format::china_time(&f.at),
                office: crate::format::office(&f.by),
                user: f.user,
            }
        })
        .collect()
}

fn size_label(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{} KB", n >> 10),
        n => format!("{n} B"),
    }
}

/// An event form's fields, and the files uploaded with it (stored as they stream in, each refused
/// over the per-file limit or of a type not accepted). A form without files may come urlencoded.
pub async fn read_event_form(
    st: &Arc<ApiState>,
    req: Request,
) -> Result<(Vec<(String, String)>, Vec<AttachmentInput>), RecordError> {
    let (pairs, files) = read_form(st, req).await;
    files.map(|f| (pairs, f))
}

/// Like [`read_event_form`], but the fields read before a refused file come back with the refusal,
/// so a form can show what was typed again (the file inputs come last in a form, after its fields).
pub async fn read_form(
    st: &Arc<ApiState>,
    req: Request,
) -> (
    Vec<(String, String)>,
    Result<Vec<AttachmentInput>, RecordError>,
) {
    let multipart = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("multipart/form-data"));
    if !multipart {
        return match axum::extract::Form::<Vec<(String, String)>>::from_request(req, st).await {
            Ok(axum::extract::Form(pairs)) => (pairs, Ok(Vec::new())),
            Err(e) => (Vec::new(), Err(RecordError::bad("form", e.to_string()))),
        };
    }
    let mut m = match Multipart::from_request(req, st).await {
        Ok(m) => m,
        Err(e) => return (Vec::new(), Err(RecordError::bad("file", e.to_string()))),
    };
    let mut pairs = Vec::new();
    let files = read_parts(st, &mut m, &mut pairs).await;
    (pairs, files)
}

/// The parts of `m`: fields into `pairs`, files stored and returned.
async fn read_parts(
    st: &Arc<ApiState>,
    m: &mut Multipart,
    pairs: &mut Vec<(String, String)>,
) -> Result<Vec<AttachmentInput>, RecordError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        RecordError::bad("file", format!("上传内容无法读取 / unreadable upload: {e}"))
    };
    let mut files = Vec::new();
    while let Some(mut field) = m.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        if name != "file" {
            pairs.push((name, field.text().await.map_err(bad)?));
            continue;
        }
        let file_name = field.file_name().unwrap_or("").to_string();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            if (bytes.len() + chunk.len()) as u64 > st.evidence.max_file {
                return Err(crate::evidence::file_too_large(&st.evidence));
            }
            bytes.extend_from_slice(&chunk);
        }
        // A file input left empty still sends a part with no name and no bytes.
        if bytes.is_empty() && file_name.is_empty() {
            continue;
        }
        if files.len() >= safemesh_model::evidence::PER_EVENT_MAX {
            return Err(RecordError::bad(
                "file",
                format!(
                    "一次最多附 {} 个文件 / at most {} files per event",
                    safemesh_model::evidence::PER_EVENT_MAX,
                    safemesh_model::evidence::PER_EVENT_MAX
                ),
            ));
        }
        let up = crate::evidence::upload(&st.store, &st.evidence, &file_name, bytes).await?;
        files.push(AttachmentInput {
            sha256: Some(up.sha256),
            name: Some(up.name),
        });
    }
    Ok(files)
}

/// `GET /files/{sha256}` — a file, for a logged-in person.
pub async fn download(
    State(st): State<Arc<ApiState>>,
    _user: User,
    Path(sha256): Path<String>,
) -> Response {
    crate::evidence::http::file_response(&st, &sha256)
        .await
        .unwrap_or_else(|e| record_error(&e))
}

/// `GET /files/{sha256}/thumbnail` — an image's thumbnail, for a logged-in person.
pub async fn thumbnail(
    State(st): State<Arc<ApiState>>,
    _user: User,
    Path(sha256): Path<String>,
) -> Response {
    crate::evidence::http::thumbnail_response(&st, &sha256)
        .await
        .unwrap_or_else(|e| record_error(&e))
}
