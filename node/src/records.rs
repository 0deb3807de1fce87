//! 台账操作 — what the node's record operations share (hazards live in `crate::hazards`, directives in
//! `crate::directives`, accidents and enterprises in their modules), used by the HTTP API, the CLI and the
//! demo. Each validates its input, checks the actor's authority with the same rules
//! the links enforce, writes one Automerge change carrying the person's name, and commits it with its
//! projection in one transaction.

use automerge::transaction::CommitOptions;
use safemesh_doc::authority::check_local;
use safemesh_doc::{AutoCommit, ChangeHash};
use safemesh_model::AdminCode;
use serde::Deserialize;
use serde_json::{Value, json};

/// An error of a record operation, as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub status: u16,
    /// The input field the error is about, as a path (`enterprise.credit_code`, `targets[1]`).
    pub field: Option<String>,
    /// For 403: the authority rule that refused it.
    pub rule: Option<String>,
    pub message: String,
}

impl RecordError {
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        RecordError {
            status: 400,
            field: Some(field.into()),
            rule: None,
            message: message.into(),
        }
    }
    pub fn forbidden(rule: &str, message: impl Into<String>) -> Self {
        RecordError {
            status: 403,
            field: None,
            rule: Some(rule.to_string()),
            message: message.into(),
        }
    }
    pub fn not_found(what: &str) -> Self {
        RecordError {
            status: 404,
            field: None,
            rule: None,
            message: format!("未找到 / not found: {what}"),
        }
    }
    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        RecordError {
            status: 409,
            field: Some(field.into()),
            rule: None,
            message: message.into(),
        }
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        RecordError {
            status: 500,
            field: None,
            rule: None,
            message: format!("内部错误 / internal error: {e}"),
        }
    }
}

impl From<safemesh_model::Error> for RecordError {
    /// The field goes to `field`; the message is the reason alone, Chinese first.
    fn from(e: safemesh_model::Error) -> Self {
        match e {
            safemesh_model::Error::Invalid { field, reason } => RecordError::bad(field, reason),
            other => RecordError::bad(other.field().to_string(), other.to_string()),
        }
    }
}

impl From<safemesh_store::Error> for RecordError {
    fn from(e: safemesh_store::Error) -> Self {
        match e {
            safemesh_store::Error::Invalid { field, reason } => RecordError::bad(field, reason),
            other => RecordError::internal(other),
        }
    }
}

impl From<safemesh_doc::Error> for RecordError {
    fn from(e: safemesh_doc::Error) -> Self {
        match e {
            safemesh_doc::Error::Forbidden { rule, path, .. } => RecordError::forbidden(
                rule,
                format!("无权写入 {path} / write to {path} refused by rule {rule}"),
            ),
            other => RecordError::internal(other),
        }
    }
}

// Hazard operations moved to `crate::hazards`; re-exported for the CLI, the demo and the bench.
pub use crate::hazards::{
    NewEvent, NewHazard, add_event, create_hazard, decorate as with_overdue, get_hazard,
    list_hazards,
};

/// Who is acting: the office (this node) and the person.
#[derive(Debug, Clone)]
pub struct Actor {
    pub code: AdminCode,
    pub actor_id: automerge::ActorId,
    /// The person (token name), recorded in every change message.
    pub user: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NewEnterprise {
    pub name: Option<String>,
    pub credit_code: Option<String>,
}

pub(crate) fn required(field: &str, v: Option<String>) -> Result<String, RecordError> {
    match v.map(|s| s.trim().to_string()) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(RecordError::bad(
            field,
            format!("{field} 必填 / {field} is required"),
        )),
    }
}

pub(crate) fn bounded(field: &str, s: &str, max_chars: usize) -> Result<(), RecordError> {
    if s.chars().count() > max_chars {
        return Err(RecordError::bad(
            field,
            format!(
                "{field} 不能超过 {max_chars} 字 / {field} is longer than {max_chars} characters"
            ),
        ));
    }
    Ok(())
}

/// Today in UTC+8 (China Standard Time), the day deadlines are counted in.
pub fn today() -> time::Date {
    (time::OffsetDateTime::now_utc() + time::Duration::hours(8)).date()
}

pub fn now() -> String {
    safemesh_store::store_now()
}

pub(crate) fn commit(doc: &mut AutoCommit, actor: &Actor) {
    let msg = format!("{}@{}", actor.user, actor.code);
    let ts = time::OffsetDateTime::now_utc().unix_timestamp();
    doc.commit_with(CommitOptions::default().with_message(msg).with_time(ts));
}

/// Writes a change made by `actor` to the store, after the same authority check links apply.
pub(crate) async fn store_change(
    w: &mut safemesh_store::Writer,
    id: &str,
    doc: &mut AutoCommit,
    old: &[ChangeHash],
) -> Result<(), RecordError> {
    check_local(id, doc, old)?;
    w.put_doc(id, doc, old).await?;
    Ok(())
}

/// A hazard body's JSON for list responses (used by the demo printout too).
pub fn brief(h: &Value) -> Value {
    json!({"id": h["id"], "title": h["title"], "status": h["status"], "owner": h["owner"]})
}
