//! 台账操作 — the node's record operations on hazards and their events, shared by the HTTP API, the CLI
//! and the demo (directives: [`crate::directives`]). Each validates its input, checks the actor's
//! authority with the same rules the links enforce, writes one Automerge change carrying the person's
//! name, and commits it with its projection in one transaction.

use automerge::transaction::CommitOptions;
use safemesh_doc::authority::check_local;
use safemesh_doc::hazard::{Enterprise, HazardCore};
use safemesh_doc::{AutoCommit, ChangeHash, hazard};
use safemesh_model::hazard::{self as mh, Channel, EventKind, Grade, HazardEvent};
use safemesh_model::{AdminCode, canonical_sector};
use safemesh_store::{HazardFilter, Store};
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
    fn from(e: safemesh_model::Error) -> Self {
        RecordError::bad(e.field().to_string(), e.to_string())
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

/// Who is acting: the office (this node) and the person.
#[derive(Debug, Clone)]
pub struct Actor {
    pub code: AdminCode,
    pub actor_id: automerge::ActorId,
    /// The person (token name), recorded in every change message.
    pub user: String,
}

/// Input of `POST /api/v1/hazards`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewHazard {
    pub title: Option<String>,
    pub sector: Option<String>,
    pub grade: Option<String>,
    pub channel: Option<String>,
    pub enterprise: Option<NewEnterprise>,
    pub deadline: Option<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NewEnterprise {
    pub name: Option<String>,
    pub credit_code: Option<String>,
}

/// Input of `POST /api/v1/hazards/{id}/events`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewEvent {
    pub kind: Option<String>,
    pub note: Option<String>,
    pub method: Option<String>,
    pub percent: Option<i64>,
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

/// Adds the `overdue` flag, which depends on today, to a stored hazard body.
pub fn with_overdue(mut body: Value, today: time::Date) -> Value {
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .and_then(|s| mh::Status::parse(s).ok());
    let deadline = body
        .get("deadline")
        .and_then(Value::as_str)
        .and_then(|d| mh::parse_date("deadline", d).ok());
    let overdue = matches!((status, deadline), (Some(s), Some(d)) if mh::is_overdue(s, d, today));
    if let Some(o) = body.as_object_mut() {
        o.insert("overdue".into(), overdue.into());
    }
    body
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

/// 登记隐患 — registers a hazard owned by this node.
pub async fn create_hazard(
    store: &Store,
    actor: &Actor,
    input: NewHazard,
) -> Result<Value, RecordError> {
    let title = required("title", input.title)?;
    bounded("title", &title, 200)?;
    bounded("description", &input.description, 5000)?;
    let sector = canonical_sector(&required("sector", input.sector)?)?.to_string();
    let grade = Grade::parse(&required("grade", input.grade)?)?;
    let channel = Channel::parse(&required("channel", input.channel)?)?;
    let ent = input.enterprise.ok_or_else(|| {
        RecordError::bad("enterprise", "enterprise 必填 / enterprise is required")
    })?;
    let ent_name = required("enterprise.name", ent.name)?;
    let credit_code = match ent.credit_code.map(|c| c.trim().to_uppercase()) {
        Some(c) if !c.is_empty() => {
            safemesh_model::credit::validate(&c)
                .map_err(|e| RecordError::bad("enterprise.credit_code", e.to_string()))?;
            c
        }
        _ => String::new(),
    };
    let deadline = required("deadline", input.deadline)?;
    mh::parse_date("deadline", &deadline)?;
    let core = HazardCore {
        title,
        sector,
        grade,
        channel,
        enterprise: Enterprise {
            name: ent_name,
            credit_code,
        },
        deadline,
        description: input.description,
    };
    let id = format!("h-{}", uuid::Uuid::now_v7().simple());
    let mut doc = AutoCommit::new().with_actor(actor.actor_id.clone());
    hazard::create(&mut doc, &actor.code, &actor.user, &now(), &core)?;
    commit(&mut doc, actor);
    let mut w = store.writer().await?;
    store_change(&mut w, &id, &mut doc, &[]).await?;
    w.commit().await?;
    get_hazard(store, &id).await
}

pub async fn get_hazard(store: &Store, id: &str) -> Result<Value, RecordError> {
    let row = store
        .hazard(id)
        .await?
        .ok_or_else(|| RecordError::not_found(id))?;
    Ok(with_overdue(row.body, today()))
}

pub async fn list_hazards(store: &Store, filter: &HazardFilter) -> Result<Vec<Value>, RecordError> {
    let t = today();
    Ok(store
        .hazards(filter)
        .await?
        .into_iter()
        .map(|r| with_overdue(r.body, t))
        .collect())
}

/// Appends a lifecycle event to a hazard this node holds.
pub async fn add_event(
    store: &Store,
    actor: &Actor,
    id: &str,
    input: NewEvent,
) -> Result<Value, RecordError> {
    let kind = EventKind::parse(&required("kind", input.kind)?)?;
    if kind == EventKind::Registered {
        return Err(RecordError::bad(
            "kind",
            "registered 由登记自动产生 / registered is recorded on creation",
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
    let view = hazard::read(&doc).map_err(|_| RecordError::not_found(&format!("hazard {id}")))?;
    let derived = view.derived();
    // Who may: the owner for its own events; a level above for supervision (only the parent for a
    // general hazard); the supervising level for acceptance of a listed hazard.
    let me = &actor.code;
    let superior = match view.core.grade {
        Grade::General => view.owner.parent().as_ref() == Some(me),
        Grade::Major => me.is_ancestor_of(&view.owner),
    };
    if me != &view.owner && !superior {
        return Err(RecordError::forbidden(
            "owner_or_superior",
            "本级无权处理该隐患 / this office may not act on this hazard",
        ));
    }
    mh::may_add_event(kind, &view.owner, me, derived.supervising.as_ref()).map_err(|rule| {
        RecordError::forbidden(
            rule,
            format!(
                "{} 事件无权由 {} 添加 / {} may not add {} (rule {rule})",
                kind.as_str(),
                me,
                me,
                kind.as_str()
            ),
        )
    })?;
    let event = HazardEvent {
        kind,
        at: now(),
        by: me.clone(),
        user: actor.user.clone(),
        note: input.note.filter(|n| !n.trim().is_empty()),
        method: input.method.clone(),
        level: (kind == EventKind::Supervise).then(|| me.clone()),
        percent: percent("percent", input.percent)?,
    };
    let mut check = derived.clone();
    mh::apply(&mut check, &event).map_err(|e| match &e {
        safemesh_model::Error::Invalid { field, reason } if field == "kind" => {
            RecordError::conflict("kind", reason.clone())
        }
        _ => RecordError::from(e),
    })?;
    let old = doc.get_heads();
    doc.set_actor(actor.actor_id.clone());
    hazard::append_event(&mut doc, &event)?;
    commit(&mut doc, actor);
    store_change(&mut w, id, &mut doc, &old).await?;
    w.commit().await?;
    get_hazard(store, id).await
}

/// A hazard body's JSON for list responses (used by the demo printout too).
pub fn brief(h: &Value) -> Value {
    json!({"id": h["id"], "title": h["title"], "status": h["status"], "owner": h["owner"]})
}
