//! 佐证材料 — evidence files: uploading one (its type told by content, the per-file and per-node
//! limits of `[evidence]`), turning an event's references into attachments (only files this node
//! holds, their size and type from the store, not from the caller), listing a record's files with
//! who attached them, when, at which office, thumbnails of images, and the collector that removes
//! files nothing references. The bytes are the store's blobs (`safemesh_store`, `blobs`); the
//! documents hold only the references. The handlers are in `http.rs`.

pub mod http;
mod records;
mod thumbnail;

use safemesh_model::evidence::{self as ev, Attachment};
use safemesh_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use records::{RecordFile, accident_files, directive_files, hazard_files};
pub use thumbnail::{THUMBNAIL_EDGE, thumbnail};

use crate::config::EvidenceLimits;
use crate::records::RecordError;

/// An uploaded file, as the upload answers: what an event references it by.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Uploaded {
    /// SHA-256 of its bytes (hex): put it in the event's `attachments`.
    pub sha256: String,
    pub size: u64,
    /// Told from the content.
    pub media_type: String,
    /// 类型 — what a user calls the type.
    pub kind: String,
    /// The name it was uploaded under.
    pub name: String,
}

/// One file an event attaches (`attachments[i]` of an event's body): an uploaded file's hash and
/// the name to show.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct AttachmentInput {
    pub sha256: Option<String>,
    /// Defaults to the name it was uploaded under elsewhere, else `附件`.
    pub name: Option<String>,
}

fn too_large(field: &str, message: String) -> RecordError {
    RecordError {
        status: 413,
        field: Some(field.into()),
        rule: None,
        message,
    }
}

/// The refusal of a file over the per-file limit.
pub fn file_too_large(limits: &EvidenceLimits) -> RecordError {
    let mib = limits.max_file >> 20;
    too_large(
        "file",
        format!("文件超过单个文件上限 {mib} MiB / file larger than the {mib} MiB limit"),
    )
}

/// Stores an uploaded file: refused if empty, over the per-file limit (413), of a type not
/// accepted (415), or if the node's files would exceed their total (413).
pub async fn upload(
    store: &Store,
    limits: &EvidenceLimits,
    name: &str,
    bytes: Vec<u8>,
) -> Result<Uploaded, RecordError> {
    if bytes.is_empty() {
        return Err(RecordError::bad("file", "文件为空 / the file is empty"));
    }
    if bytes.len() as u64 > limits.max_file {
        return Err(file_too_large(limits));
    }
    let name = clean_name(name);
    let media_type = ev::sniff(&bytes, &name).map_err(|reason| RecordError {
        status: 415,
        field: Some("file".into()),
        rule: None,
        message: reason,
    })?;
    let sha256 = safemesh_store::sha256_hex(&bytes);
    if store.blob_meta(&sha256).await?.is_none() {
        let held = store.blob_bytes().await?.max(0) as u64;
        if held + bytes.len() as u64 > limits.max_node {
            let mib = limits.max_node >> 20;
            return Err(too_large(
                "file",
                format!(
                    "本节点佐证材料已达总量上限 {mib} MiB / this node's files would exceed their {mib} MiB total"
                ),
            ));
        }
    }
    let meta = store.put_blob(media_type, &bytes).await?;
    Ok(Uploaded {
        sha256: meta.sha256,
        size: meta.size as u64,
        media_type: media_type.to_string(),
        kind: ev::kind_of(media_type).unwrap_or_default().to_string(),
        name,
    })
}

/// A name as kept: its last path segment, control characters dropped, at most
/// [`ev::NAME_MAX`] characters; `附件` if nothing is left.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let s: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(ev::NAME_MAX)
        .collect();
    let s = s.trim().to_string();
    if s.is_empty() { "附件".into() } else { s }
}

/// The attachments an event's `attachments` input names (`field` is its path in the body): each a
/// complete file this node holds, its size and type from the store.
pub async fn resolve(
    store: &Store,
    field: &str,
    inputs: Vec<AttachmentInput>,
) -> Result<Vec<Attachment>, RecordError> {
    if inputs.len() > ev::PER_EVENT_MAX {
        return Err(RecordError::bad(
            field,
            format!(
                "一次最多附 {} 个文件 / at most {} files per event",
                ev::PER_EVENT_MAX,
                ev::PER_EVENT_MAX
            ),
        ));
    }
    let mut out: Vec<Attachment> = Vec::with_capacity(inputs.len());
    for (i, a) in inputs.into_iter().enumerate() {
        let at = format!("{field}[{i}]");
        let sha256 = a.sha256.unwrap_or_default().trim().to_ascii_lowercase();
        if !safemesh_store::is_sha256_hex(&sha256) {
            return Err(RecordError::bad(
                format!("{at}.sha256"),
                "须为上传文件返回的 64 位十六进制 SHA-256 / must be the hex SHA-256 the upload returned",
            ));
        }
        let meta = store.blob_meta(&sha256).await?.ok_or_else(|| {
            RecordError::bad(
                format!("{at}.sha256"),
                "本节点没有该文件，请先上传 / no such file on this node: upload it first",
            )
        })?;
        if out.iter().any(|o| o.sha256 == sha256) {
            return Err(RecordError::bad(
                format!("{at}.sha256"),
                "同一文件重复附加 / the same file twice",
            ));
        }
        let attachment = Attachment {
            sha256,
            size: meta.size as u64,
            media_type: meta.media_type,
            name: clean_name(a.name.as_deref().unwrap_or("")),
        };
        attachment
            .validate()
            .map_err(|(f, reason)| RecordError::bad(format!("{at}.{f}"), reason))?;
        out.push(attachment);
    }
    Ok(out)
}

/// The name a file is offered under when downloaded: the first a record gave it, else the
/// start of its hash.
pub async fn file_name(store: &Store, sha256: &str) -> Result<String, RecordError> {
    Ok(store
        .blob_name(sha256)
        .await?
        .unwrap_or_else(|| sha256.chars().take(12).collect()))
}

/// Removes files nothing references, once older than the limits' grace; how many it removed.
pub async fn collect(store: &Store, limits: &EvidenceLimits) -> Result<u64, RecordError> {
    let cutoff = time::OffsetDateTime::now_utc() - limits.unreferenced;
    let before = cutoff
        .replace_nanosecond(0)
        .unwrap_or(cutoff)
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(RecordError::internal)?;
    Ok(store.collect_blobs(&before).await?)
}

/// The collector's loop: after writes settle, at most once per `every`, until shutdown.
pub async fn run_collector(
    store: Store,
    limits: EvidenceLimits,
    every: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        match collect(&store, &limits).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                removed = n,
                "未引用的佐证材料已清理 / unreferenced files removed"
            ),
            Err(e) => {
                tracing::warn!(error = %e.message, "清理佐证材料失败 / file collection failed")
            }
        }
    }
}
