//! 台账操作 — the node's record operations (directives, responses; hazards in `crate::hazards`), shared by the HTTP
//! API, the CLI and the demo. Each validates its input, checks the actor's authority with the same rules
//! the links enforce, writes one Automerge change carrying the person's name, and commits it with its
//! projection in one transaction.

use automerge::transaction::CommitOptions;
use safemesh_doc::authority::check_local;
use safemesh_doc::{AutoCommit, ChangeHash, directive};
use safemesh_model::AdminCode;
use safemesh_model::directive::ResponseAction;
use safemesh_model::directive::ResponseUpdate;
use safemesh_model::hazard as mh;
use safemesh_store::Store;
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

/// Input of `POST /api/v1/directives`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewDirective {
    pub title: Option<String>,
    #[serde(default)]
    pub body: String,
    pub targets: Option<Vec<String>>,
    pub deadline: Option<String>,
}

/// Input of `POST /api/v1/directives/{id}/responses`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewResponse {
    pub action: Option<String>,
    pub percent: Option<i64>,
    pub note: Option<String>,
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

fn percent(field: &str, p: Option<i64>) -> Result<Option<u8>, RecordError> {
    match p {
        None => Ok(None),
        Some(p) if (0..=100).contains(&p) => Ok(Some(p as u8)),
        Some(_) => Err(RecordError::bad(
            field,
            "应在 0 到 100 之间 / must be between 0 and 100",
        )),
    }
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

/// 下发任务 — issues a directive to direct children.
pub async fn create_directive(
    store: &Store,
    actor: &Actor,
    extra_children: &[AdminCode],
    input: NewDirective,
) -> Result<Value, RecordError> {
    let title = required("title", input.title)?;
    bounded("title", &title, 200)?;
    bounded("body", &input.body, 20000)?;
    let deadline = required("deadline", input.deadline)?;
    mh::parse_date("deadline", &deadline)?;
    let raw = input.targets.unwrap_or_default();
    if raw.is_empty() {
        return Err(RecordError::bad(
            "targets",
            "至少一个下级 / at least one target is required",
        ));
    }
    let mut targets = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        let field = format!("targets[{i}]");
        let code = AdminCode::parse(t).map_err(|e| RecordError::bad(&field, e.to_string()))?;
        if !code.is_direct_child_of(&actor.code) && !extra_children.contains(&code) {
            return Err(RecordError::bad(
                &field,
                format!(
                    "{code} 不是本级的直接下级 / {code} is not a direct child of {}",
                    actor.code
                ),
            ));
        }
        if !targets.contains(&code) {
            targets.push(code);
        }
    }
    let core = directive::DirectiveCore {
        title,
        body: input.body,
        targets,
        deadline,
    };
    let id = format!("d-{}", uuid::Uuid::now_v7().simple());
    let mut doc = AutoCommit::new().with_actor(actor.actor_id.clone());
    directive::create(&mut doc, &actor.code, &now(), &core)?;
    commit(&mut doc, actor);
    let mut w = store.writer().await?;
    store_change(&mut w, &id, &mut doc, &[]).await?;
    w.commit().await?;
    get_directive(store, &id).await
}

pub async fn get_directive(store: &Store, id: &str) -> Result<Value, RecordError> {
    let row = store
        .directive(id)
        .await?
        .ok_or_else(|| RecordError::not_found(id))?;
    Ok(row.body)
}

/// Records this node's own response (签收, progress, done) to a directive it is a target of.
pub async fn respond(
    store: &Store,
    actor: &Actor,
    id: &str,
    input: NewResponse,
) -> Result<Value, RecordError> {
    let action = ResponseAction::parse(&required("action", input.action)?)?;
    let pct = percent("percent", input.percent)?;
    if action == ResponseAction::Progress && pct.is_none() {
        return Err(RecordError::bad(
            "percent",
            "进展须给出百分比 / progress needs percent",
        ));
    }
    if let Some(n) = &input.note {
        bounded("note", n, 5000)?;
    }
    let mut w = store.writer().await?;
    let mut doc = w
        .load(id)
        .await?
        .ok_or_else(|| RecordError::not_found(id))?;
    let view =
        directive::read(&doc).map_err(|_| RecordError::not_found(&format!("directive {id}")))?;
    if !view.core.targets.contains(&actor.code) {
        return Err(RecordError::forbidden(
            "own_response_only",
            format!(
                "{} 不是该任务的承办单位 / {} is not a target of this directive",
                actor.code, actor.code
            ),
        ));
    }
    // A response moves forward only: signed for, then progress that never goes back, then done.
    let mine = view.responses.get(actor.code.as_str());
    if mine.is_some_and(|r| r.completed_at.is_some()) {
        return Err(RecordError::conflict(
            "action",
            "该任务已完成 / this directive is already completed",
        ));
    }
    if action == ResponseAction::Receive && mine.is_some_and(|r| r.received_at.is_some()) {
        return Err(RecordError::conflict("action", "已签收 / already received"));
    }
    if let (Some(p), Some(cur)) = (pct, mine.and_then(|r| r.percent))
        && action == ResponseAction::Progress
        && p < cur
    {
        return Err(RecordError::bad(
            "percent",
            format!("进度不能倒退（当前 {cur}%）/ progress cannot go back (now {cur}%)"),
        ));
    }
    let old = doc.get_heads();
    doc.set_actor(actor.actor_id.clone());
    let update = ResponseUpdate {
        action,
        at: now(),
        percent: pct,
        note: input.note.filter(|n| !n.trim().is_empty()),
        user: actor.user.clone(),
    };
    directive::respond(&mut doc, &actor.code, &update)?;
    commit(&mut doc, actor);
    store_change(&mut w, id, &mut doc, &old).await?;
    w.commit().await?;
    get_directive(store, id).await
}

pub async fn list_directives(store: &Store) -> Result<Vec<Value>, RecordError> {
    Ok(store
        .directives()
        .await?
        .into_iter()
        .map(|r| r.body)
        .collect())
}

/// A hazard body's JSON for list responses (used by the demo printout too).
pub fn brief(h: &Value) -> Value {
    json!({"id": h["id"], "title": h["title"], "status": h["status"], "owner": h["owner"]})
}
