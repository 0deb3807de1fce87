//! A record's 佐证材料 as a user lists them: every file a hazard's events, a directive's responses or
//! an accident's registration and events attach, in the order they were attached, each with the
//! entry that attached it (what, when, which office, who) and whether this node holds its bytes yet.

use safemesh_doc::{accident, directive, hazard};
use safemesh_model::evidence::Attachment;
use safemesh_store::Store;
use serde::Serialize;
use utoipa::ToSchema;

use crate::records::RecordError;

/// A record's file, with the entry that attached it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordFile {
    pub sha256: String,
    pub size: u64,
    pub media_type: String,
    pub name: String,
    /// The entry's kind (a hazard event's `rectified`, `accept`, …; a response update's `receive`,
    /// `progress`, `complete`; an accident's `register`, `supplement`, `review`, `comment`) and its
    /// Chinese label.
    pub event: String,
    pub event_zh: String,
    /// When, by which office and person it was attached.
    pub at: String,
    pub by: String,
    pub user: String,
    /// For a directive's file: the unit whose response carries it (a target's code or one of the
    /// issuer's departments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Whether this node holds the bytes yet (a file attached elsewhere arrives after its record).
    pub held: bool,
    pub is_image: bool,
}

/// The entry that attached a file.
struct Entry<'a> {
    event: &'a str,
    event_zh: &'a str,
    at: &'a str,
    by: String,
    user: &'a str,
    unit: Option<&'a str>,
}

/// The files of `entries`, in order, each marked held or not.
/// (A `Vec`, not an iterator: the closures that build one must not live across the awaits.)
async fn files(
    store: &Store,
    entries: Vec<(Entry<'_>, &[Attachment])>,
) -> Result<Vec<RecordFile>, RecordError> {
    let mut out = Vec::new();
    for (e, list) in entries {
        for a in list {
            let held = store.blob_meta(&a.sha256).await?.is_some();
            out.push(RecordFile {
                sha256: a.sha256.clone(),
                size: a.size,
                media_type: a.media_type.clone(),
                name: a.name.clone(),
                event: e.event.to_string(),
                event_zh: e.event_zh.to_string(),
                at: e.at.to_string(),
                by: e.by.clone(),
                user: e.user.to_string(),
                unit: e.unit.map(str::to_string),
                held,
                is_image: a.is_image(),
            });
        }
    }
    Ok(out)
}

async fn load(store: &Store, id: &str) -> Result<safemesh_doc::AutoCommit, RecordError> {
    store
        .load(id)
        .await?
        .ok_or_else(|| RecordError::not_found(id))
}

/// A hazard's files, each with its event.
pub async fn hazard_files(store: &Store, id: &str) -> Result<Vec<RecordFile>, RecordError> {
    let doc = load(store, id).await?;
    let view = hazard::read(&doc).map_err(|_| RecordError::not_found(&format!("hazard {id}")))?;
    let entries = view
        .events
        .iter()
        .map(|e| {
            (
                Entry {
                    event: e.kind.as_str(),
                    event_zh: e.kind.label_zh(),
                    at: &e.at,
                    by: e.by.to_string(),
                    user: &e.user,
                    unit: None,
                },
                e.attachments.as_slice(),
            )
        })
        .collect();
    files(store, entries).await
}

/// A directive's 报送材料: each response's updates' files, the targets' (by code) then the issuer's
/// departments' (recorded by the issuer), each with its unit.
pub async fn directive_files(store: &Store, id: &str) -> Result<Vec<RecordFile>, RecordError> {
    let doc = load(store, id).await?;
    let view =
        directive::read(&doc).map_err(|_| RecordError::not_found(&format!("directive {id}")))?;
    let issuer = view.issuer.to_string();
    let entries = view
        .responses
        .iter()
        .map(|(unit, r)| (unit, unit.clone(), r))
        .chain(
            view.unit_responses
                .iter()
                .map(|(unit, r)| (unit, issuer.clone(), r)),
        )
        .flat_map(|(unit, by, r)| {
            r.updates.iter().map(move |u| {
                (
                    Entry {
                        event: u.action.as_str(),
                        event_zh: u.action.label_zh(),
                        at: &u.at,
                        by: by.clone(),
                        user: &u.user,
                        unit: Some(unit.as_str()),
                    },
                    u.attachments.as_slice(),
                )
            })
        })
        .collect();
    files(store, entries).await
}

/// An accident's files: the registration's (事故快报) first, then each event's.
pub async fn accident_files(store: &Store, id: &str) -> Result<Vec<RecordFile>, RecordError> {
    let doc = load(store, id).await?;
    let view =
        accident::read(&doc).map_err(|_| RecordError::not_found(&format!("accident {id}")))?;
    let register = Entry {
        event: "register",
        event_zh: "登记",
        at: &view.created,
        by: view.owner.to_string(),
        user: "",
        unit: None,
    };
    let entries = std::iter::once((register, view.core.attachments.as_slice()))
        .chain(view.events.iter().map(|e| {
            (
                Entry {
                    event: &e.kind,
                    event_zh: crate::format::record_event_label(&e.kind),
                    at: &e.at,
                    by: e.by.to_string(),
                    user: &e.user,
                    unit: None,
                },
                e.attachments.as_slice(),
            )
        }))
        .collect();
    files(store, entries).await
}
