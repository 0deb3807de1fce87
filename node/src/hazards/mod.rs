//! 隐患台账 — registering hazards, adding lifecycle events, the ledger with its filters and the
//! escalation candidates. The rules live in `safemesh_model::hazard` (lifecycle, overdue, notify,
//! candidates) and `safemesh_doc::authority` (who may write); this module checks input, applies them
//! in that order (400 → 403 → 409) and writes one change per operation.

use safemesh_doc::hazard::HazardCore;
use safemesh_doc::{AutoCommit, hazard};
use safemesh_model::AdminCode;
use safemesh_model::hazard::facts;
use safemesh_model::hazard::{self as mh, EventKind, Grade, HazardEvent};
use safemesh_store::{HazardFilter, Store};
use serde_json::{Value, json};
use time::Date;

use crate::clock::{now_rfc3339, today};
use crate::records::{Actor, RecordError, commit, store_change};

pub mod http;
mod input;

pub use crate::config::HazardSettings;
pub use input::{HazardQuery, NewBasis, NewEvent, NewHazard, NewLocation};

/// 登记隐患 — registers a hazard owned by this node, numbering it unless a number is given.
pub async fn create(
    store: &Store,
    settings: &HazardSettings,
    actor: &Actor,
    input: NewHazard,
) -> Result<Value, RecordError> {
    let checked = check(store, settings, actor, today(), input).await?;
    let mut w = store.writer().await?;
    let id = write_checked(&mut w, actor, checked, &[], &mut Numbering::default())
        .await?
        .0;
    w.commit().await?;
    get(store, settings, &id).await
}

/// A hazard's input that passed every check that needs no write session: its core, and the number
/// given (checked for its form, not yet for being free).
#[derive(Debug, Clone)]
pub struct Checked {
    pub core: HazardCore,
    pub given: Option<String>,
}

/// The checks `create` makes before it writes (400): the input, as of `day`, and — for an enterprise
/// named by its credit code alone — that this node knows it. The import calls it for every row, so a
/// row is judged by exactly the rules `POST /api/v1/hazards` applies.
pub async fn check(
    store: &Store,
    settings: &HazardSettings,
    actor: &Actor,
    day: Date,
    mut input: NewHazard,
) -> Result<Checked, RecordError> {
    inherit_override(store, &actor.code, &mut input).await?;
    let (mut core, given) = input::core(settings, &actor.chain(), day, input)?;
    // A hazard without an enterprise (a road, a self-built house…) names none, unless it gives a code.
    let needs_name = core.subject.is_enterprise() || !core.enterprise.credit_code.is_empty();
    if needs_name && core.enterprise.name.is_empty() {
        // A known enterprise may be named by its credit code alone.
        let known = match core.enterprise.credit_code.as_str() {
            "" => None,
            c => store.enterprise(c, actor.code.as_str()).await?,
        };
        core.enterprise.name = known
            .and_then(|e| e["name"].as_str().map(str::to_string))
            .ok_or_else(|| {
                RecordError::bad(
                    "enterprise.name",
                    "企业名称必填（本级未登记该信用代码的企业） / enterprise.name is required (no enterprise with this credit code here)",
                )
            })?;
    }
    Ok(Checked { core, given })
}

/// An enterprise this node registered by exception (例外登记: its credit code fails its check) is
/// named by a hazard without the reason again: the hazard takes the enterprise's reason, and so its
/// flag. Anything else is left for the input's own checks.
async fn inherit_override(
    store: &Store,
    here: &AdminCode,
    input: &mut NewHazard,
) -> Result<(), RecordError> {
    let Some(e) = input.enterprise.as_mut() else {
        return Ok(());
    };
    let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    if given(&e.credit_code_override) {
        return Ok(());
    }
    let Some(code) = e.credit_code.as_deref().map(|c| c.trim().to_uppercase()) else {
        return Ok(());
    };
    if !matches!(
        safemesh_model::credit::verdict(&code),
        safemesh_model::credit::Verdict::CheckFails(_)
    ) {
        return Ok(());
    }
    if let Some(known) = store.enterprise(&code, here.as_str()).await? {
        e.credit_code_override = known["credit_code_override"].as_str().map(str::to_string);
    }
    Ok(())
}

/// The numbers handed out in one write session, so a batch of registrations numbers each one without
/// scanning the owner's numbers again.
#[derive(Debug, Default)]
pub struct Numbering {
    /// The highest sequence in use per prefix (`{owner}-{year}-`).
    max: std::collections::HashMap<String, u32>,
}

/// Checks that `history` — events following registration, with their `at`, `by` and `user` set — may
/// be written by the owner in that order: each allowed to the owner ([`mh::may_add_event`]) and fitting
/// the lifecycle ([`mh::apply`], the fold `add_event` checks). On refusal, the event's index and why.
pub fn check_history(
    grade: Grade,
    owner: &AdminCode,
    history: &[HazardEvent],
) -> Result<(), (usize, RecordError)> {
    let mut d = mh::Derived::new(grade);
    for (i, e) in history.iter().enumerate() {
        mh::may_add_event(e.kind, &safemesh_model::Chain::of(owner), &e.by, &d).map_err(
            |rule| {
                (
                    i,
                    RecordError::forbidden(
                        rule,
                        format!("{} 事件无权添加 / rule {rule}", e.kind.as_str()),
                    ),
                )
            },
        )?;
        mh::apply(&mut d, e).map_err(|e| (i, RecordError::from(e)))?;
    }
    Ok(())
}

/// Writes a [`Checked`] hazard in the session `w`: its number (409 `number` if the given one is taken
/// by another hazard of this owner), its document with the `registered` event, then each event of
/// `history` as a change of its own (the caller has run [`check_history`]). Returns the id and number.
pub async fn write_checked(
    w: &mut safemesh_store::Writer,
    actor: &Actor,
    checked: Checked,
    history: &[HazardEvent],
    numbering: &mut Numbering,
) -> Result<(String, String), RecordError> {
    let Checked { mut core, given } = checked;
    let owner = actor.code.as_str();
    core.number = match given {
        Some(n) => {
            if let Some(other) = w.hazard_with_number(owner, &n).await? {
                return Err(RecordError::conflict(
                    "number",
                    format!(
                        "编号 {n} 已被隐患 {other} 使用 / number {n} is already used by {other}"
                    ),
                ));
            }
            if let Ok((year, seq)) = facts::parse_number(&actor.code, &n) {
                let prefix = facts::number_prefix(&actor.code, year);
                if let Some(m) = numbering.max.get_mut(&prefix) {
                    *m = (*m).max(seq);
                }
            }
            n
        }
        None => {
            let year = today().year();
            let prefix = facts::number_prefix(&actor.code, year);
            let seq = match numbering.max.get(&prefix) {
                Some(m) => *m + 1,
                None => w.max_hazard_seq(owner, &prefix).await? + 1,
            };
            numbering.max.insert(prefix, seq);
            facts::format_number(&actor.code, year, seq)
        }
    };
    let id = format!("h-{}", uuid::Uuid::now_v7().simple());
    let mut doc = AutoCommit::new().with_actor(actor.actor_id.clone());
    hazard::create(&mut doc, &actor.code, &actor.user, &now_rfc3339(), &core)?;
    safemesh_doc::put_owner_parent(&mut doc, &actor.chain())?;
    commit(&mut doc, actor);
    for e in history {
        hazard::append_event(&mut doc, e)?;
        commit(&mut doc, actor);
    }
    store_change(w, &id, &mut doc, &[]).await?;
    Ok((id, core.number))
}

/// One hazard, decorated as of today.
pub async fn get(store: &Store, settings: &HazardSettings, id: &str) -> Result<Value, RecordError> {
    let row = store
        .hazard(id)
        .await?
        .ok_or_else(|| RecordError::not_found(id))?;
    Ok(decorate(row.body, today(), settings))
}

/// The ledger: hazards matching `filter`, decorated as of today.
pub async fn list(
    store: &Store,
    settings: &HazardSettings,
    filter: &HazardFilter,
) -> Result<Vec<Value>, RecordError> {
    let t = today();
    Ok(store
        .hazards(filter)
        .await?
        .into_iter()
        .map(|r| decorate(r.body, t, settings))
        .collect())
}

/// Adds what depends on today and the labels a clerk reads to a stored hazard body: `overdue` and
/// `days_overdue` (逾期 as counted against the owner: a hazard awaiting acceptance that was reported
/// rectified on time is not, [`mh::overdue_days`]), `due_soon` within the node's `due_soon_days`, and
/// while it awaits acceptance `rectified_on`, `acceptor`, `acceptance_due`, `acceptance_overdue`
/// and `acceptance_days_overdue` (验收超期, the acceptor's delay after the node's `acceptance_days`);
/// the written replies owed and late.
pub fn decorate(mut body: Value, today: Date, settings: &HazardSettings) -> Value {
    let status = body["status"]
        .as_str()
        .and_then(|s| mh::Status::parse(s).ok());
    let due = body["effective_deadline"]
        .as_str()
        .or_else(|| body["deadline"].as_str())
        .and_then(|d| mh::parse_date("deadline", d).ok());
    let rectified_on = (status == Some(mh::Status::PendingAcceptance))
        .then(|| rectified_on(&body))
        .flatten();
    let days = match (status, due) {
        (Some(s), Some(d)) => mh::overdue_days(s, d, rectified_on, today),
        _ => None,
    };
    let due_soon = match (status, due) {
        (Some(s), Some(d)) => mh::is_due_soon(s, d, today, settings.due_soon_days),
        _ => false,
    };
    let acceptance_late = status.and_then(|s| {
        mh::acceptance_days_overdue(s, rectified_on, settings.acceptance_days, today)
    });
    let acceptor = rectified_on.map(|_| {
        body["supervising"]
            .as_str()
            .or_else(|| body["owner"].as_str())
            .unwrap_or_default()
            .to_string()
    });
    if let Some(o) = body.as_object_mut() {
        o.insert(
            "rectified_on".into(),
            rectified_on.map(mh::format_date).into(),
        );
        o.insert("acceptor".into(), acceptor.into());
        o.insert(
            "acceptance_due".into(),
            rectified_on
                .map(|r| mh::format_date(mh::acceptance_due(r, settings.acceptance_days)))
                .into(),
        );
        o.insert(
            "acceptance_overdue".into(),
            acceptance_late.is_some().into(),
        );
        o.insert("acceptance_days_overdue".into(), acceptance_late.into());
    }
    // 书面回复: each escalation is replied, owed, or late.
    if let Some(list) = body["escalated"].as_array_mut() {
        for e in list {
            let replied = e["replied_at"].is_string();
            let late = (!replied)
                .then(|| mh::ladder::reply_late_days(e["reply_by"].as_str(), today))
                .flatten();
            if let Some(o) = e.as_object_mut() {
                o.insert("reply_late".into(), late.is_some().into());
                o.insert("reply_days_late".into(), late.into());
            }
        }
    }
    let grade = body["grade"].as_str().and_then(|g| Grade::parse(g).ok());
    let channel = body["channel"]
        .as_str()
        .and_then(|c| mh::Channel::parse(c).ok());
    let stock = body["stock"]
        .as_str()
        .and_then(|s| facts::Stock::parse_as("stock", s).ok());
    let found_by = body["found_by_level"]
        .as_str()
        .and_then(|c| AdminCode::parse(c).ok());
    if let Some(o) = body.as_object_mut() {
        o.insert("overdue".into(), days.is_some().into());
        o.insert("days_overdue".into(), days.into());
        o.insert("due_soon".into(), due_soon.into());
        o.insert(
            "grade_label".into(),
            grade
                .map(|g| match g {
                    Grade::Major => "重大事故隐患",
                    Grade::General => "一般隐患",
                })
                .into(),
        );
        o.insert("channel_label".into(), channel.map(|c| c.label_zh()).into());
        o.insert("stock_label".into(), stock.map(|s| s.label_zh()).into());
        o.insert(
            "found_by_level_kind".into(),
            found_by.map(|c| c.level().as_str()).into(),
        );
    }
    body
}

/// The day the owner reported a hazard rectified, from its projected body: `rectified_on` as projected,
/// else (a row projected before it existed) the day of its last `rectified` event, in China time.
fn rectified_on(body: &Value) -> Option<Date> {
    if let Some(d) = body["rectified_on"].as_str() {
        return mh::parse_date("rectified_on", d).ok();
    }
    body["events"]
        .as_array()?
        .iter()
        .rev()
        .find(|e| e["kind"] == "rectified")
        .and_then(|e| e["at"].as_str())
        .and_then(safemesh_model::china::day_of_instant)
}

/// Appends a lifecycle event to a hazard this node holds: input (400), then who may (403), then
/// whether it fits the lifecycle (409).
pub async fn add_event(
    store: &Store,
    settings: &HazardSettings,
    actor: &Actor,
    id: &str,
    mut input: NewEvent,
) -> Result<Value, RecordError> {
    // The files first (400s), from the store's own description of each, outside the write lock.
    let attachments = match input.attachments.take() {
        Some(list) => crate::evidence::resolve(store, "attachments", list).await?,
        None => Vec::new(),
    };
    let mut w = store.writer().await?;
    let mut doc = w
        .load(id)
        .await?
        .ok_or_else(|| RecordError::not_found(id))?;
    let view = hazard::read(&doc).map_err(|_| RecordError::not_found(&format!("hazard {id}")))?;
    let day = today();
    let mut event: HazardEvent = input::event(&view, day, input)?;
    let kind = event.kind;
    let derived = view.derived();
    let me = &actor.code;
    authority(&view, &derived, me, kind)?;
    event.at = now_rfc3339();
    event.by = me.clone();
    event.user = actor.user.clone();
    event.level = (kind == mh::EventKind::Supervise).then(|| me.clone());
    event.attachments = attachments;
    let mut check = derived.clone();
    mh::apply(&mut check, &event).map_err(|e| match &e {
        safemesh_model::Error::Invalid { reason, .. } => {
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
    get(store, settings, id).await
}

/// Whether `me` may add an event of `kind` to this hazard: the owner for its own events; a level above
/// for supervision (only the parent for a general hazard); the supervising level for acceptance of a
/// listed hazard. The rule's name on refusal (403).
pub fn authority(
    view: &hazard::HazardView,
    derived: &mh::Derived,
    me: &AdminCode,
    kind: EventKind,
) -> Result<(), RecordError> {
    // Superiors along the owner's chain (a functional zone's configured parent and its ancestors).
    let chain = view.chain();
    let superior = match view.core.grade {
        Grade::General => chain.is_parent(me),
        Grade::Major => chain.has_superior(me),
    };
    if me != &view.owner && !superior {
        return Err(RecordError::forbidden(
            "owner_or_superior",
            "本级无权处理该隐患 / this office may not act on this hazard",
        ));
    }
    mh::may_add_event(kind, &chain, me, derived).map_err(|rule| {
        RecordError::forbidden(
            rule,
            format!(
                "本级（{me}）无权添加“{}” / {me} may not add {} (rule {rule})",
                kind.label_zh(),
                kind.as_str()
            ),
        )
    })
}

/// The events `me` may add to this hazard now: those its [`authority`] allows and the lifecycle
/// accepts in the hazard's current state (the same [`mh::apply`] that `add_event` runs, on an event
/// with its parameters filled in, so only the state decides). What the UI offers as action forms.
pub async fn actions(
    store: &Store,
    id: &str,
    me: &AdminCode,
) -> Result<Vec<EventKind>, RecordError> {
    let doc = store
        .load(id)
        .await?
        .ok_or_else(|| RecordError::not_found(id))?;
    let view = hazard::read(&doc).map_err(|_| RecordError::not_found(&format!("hazard {id}")))?;
    let derived = view.derived();
    Ok(EventKind::ALL
        .into_iter()
        .filter(|k| *k != EventKind::Registered)
        .filter(|k| authority(&view, &derived, me, *k).is_ok())
        .filter(|k| {
            let mut e = HazardEvent::new(*k, me.clone(), now_rfc3339());
            e.method = Some(mh::ESCALATION_METHODS[0].to_string());
            e.level = Some(me.clone());
            e.number = Some("—".into());
            e.requirements = Some("—".into());
            e.recipients = mh::notify::REQUIRED_RECIPIENTS
                .iter()
                .map(|r| r.to_string())
                .collect();
            e.new_deadline = Some(view.effective_deadline(&derived));
            e.approved = Some(true);
            // A reply is offered while an escalation waits for one.
            if *k == EventKind::Reply
                && let Some(x) = derived.escalated.iter().find(|x| x.replied_at.is_none())
            {
                e.to = Some(x.by.clone());
                e.method = Some(x.method.clone());
            }
            let mut check = derived.clone();
            mh::apply(&mut check, &e).is_ok()
        })
        .collect())
}

/// One page of the ledger and the count of all that match.
#[derive(Debug, Clone)]
pub struct Ledger {
    pub items: Vec<Value>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

/// 隐患台账 — one page of the ledger for a query (filters, `sort`, `limit`, `offset`), decorated as
/// of `day`. The API's `GET /hazards` and the UI's ledger both read through it.
pub async fn ledger(
    store: &Store,
    settings: &HazardSettings,
    day: Date,
    q: HazardQuery,
) -> Result<Ledger, RecordError> {
    let (filter, order, limit, offset) = input::ledger_query(settings, day, q)?;
    let page = store.hazards_page(&filter, order, limit, offset).await?;
    Ok(Ledger {
        items: page
            .rows
            .into_iter()
            .map(|r| decorate(r.body, day, settings))
            .collect(),
        total: page.total,
        limit,
        offset,
    })
}

/// The filter and order of a ledger query, its `limit` and `offset` checked and set aside: what the
/// Excel export pages through with its own page size.
pub fn ledger_filter(
    settings: &HazardSettings,
    day: Date,
    q: HazardQuery,
) -> Result<(HazardFilter, safemesh_store::HazardOrder), RecordError> {
    let (f, order, _, _) = input::ledger_query(settings, day, q)?;
    Ok((f, order))
}

/// 升级督办候选 — overdue major hazards in this office's jurisdiction, below it, that this office has
/// not escalated yet; most overdue first.
pub async fn escalation_candidates(
    store: &Store,
    office: &AdminCode,
) -> Result<Vec<Value>, RecordError> {
    let day = today();
    // Not filtered by code prefix: a functional zone below this office has a code of its own.
    let rows = store
        .hazards(&HazardFilter {
            grade: Some(Grade::Major.as_str().into()),
            overdue: Some(true),
            today: Some(mh::format_date(day)),
            ..Default::default()
        })
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let Some(owner) = chain_of(&r) else {
            continue;
        };
        let events: Vec<HazardEvent> =
            serde_json::from_value(r.body["events"].clone()).unwrap_or_default();
        let d = mh::fold(Grade::Major, &events);
        let Ok(due) = mh::parse_date("deadline", &r.deadline) else {
            continue;
        };
        if let Some(days) = mh::escalation_candidate(&d, &owner, due, office, day) {
            let b = &r.body;
            let s = mh::ladder::suggest(&owner, &events, &d, day);
            out.push((
                days,
                json!({
                    "id": r.id, "number": b["number"], "title": b["title"], "owner": r.owner,
                    "sector": b["sector"], "status": r.status, "effective_deadline": r.deadline,
                    "days_overdue": days, "supervising": b["supervising"], "escalated": b["escalated"],
                    "enterprise": b["enterprise"],
                    "suggested": s.step, "suggested_kind": s.kind, "suggested_method": s.method,
                    "ladder_reached": s.reached, "late_replies": s.late_replies,
                }),
            ));
        }
    }
    out.sort_by_key(|(days, _)| std::cmp::Reverse(*days));
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// The chain of a hazard's owner: its code and, for a functional zone, its configured parent
/// (`owner_parent`, from the record's header).
fn chain_of(r: &safemesh_store::HazardRow) -> Option<safemesh_model::Chain> {
    let owner = AdminCode::parse(&r.owner).ok()?;
    let parent = r.body["owner_parent"]
        .as_str()
        .and_then(|p| AdminCode::parse(p).ok());
    safemesh_model::Chain::configured(&owner, parent.as_ref()).ok()
}

/// 书面回复待收 — at the escalating office: its escalations of hazards below it with no written
/// reply recorded, late ones first (most days late first), then those not yet due (earliest reply day
/// first), then any without a reply day; ties by hazard id and escalation order.
pub async fn replies_due(store: &Store, office: &AdminCode) -> Result<Vec<Value>, RecordError> {
    let day = today();
    let rows = store.hazards(&HazardFilter::default()).await?;
    let mut out = Vec::new();
    for r in rows {
        // Below this office in the owner's chain (a zone's superiors are its configured parent's).
        if !chain_of(&r).is_some_and(|c| c.has_superior(office)) {
            continue;
        }
        let grade = r.body["grade"]
            .as_str()
            .and_then(|g| Grade::parse(g).ok())
            .unwrap_or(Grade::General);
        let events: Vec<HazardEvent> =
            serde_json::from_value(r.body["events"].clone()).unwrap_or_default();
        let d = mh::fold(grade, &events);
        let b = &r.body;
        for due in mh::ladder::replies_due(&d, office, day) {
            let key = (
                !due.late,
                std::cmp::Reverse(due.days_late),
                due.reply_by.is_none(),
                due.reply_by.clone(),
                r.id.clone(),
                due.index,
            );
            out.push((
                key,
                json!({
                    "id": r.id, "number": b["number"], "title": b["title"], "owner": r.owner,
                    "grade": b["grade"], "status": r.status, "escalation": due.index,
                    "method": due.method, "escalated_at": due.escalated_at, "reply_by": due.reply_by,
                    "late": due.late, "days_late": due.days_late, "enterprise": b["enterprise"],
                }),
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// 待本级验收 — at the acceptor's office: the hazards awaiting acceptance that this office accepts (the
/// supervising level of a listed hazard, else the owner), its own included. Late ones first (most days
/// past the acceptance period first), then by the day acceptance is due, then by id. Each is the
/// decorated hazard: its `acceptance_due`, `acceptance_overdue` and `acceptance_days_overdue` are
/// this office's delay, not the owner's 逾期.
pub async fn acceptance_due(
    store: &Store,
    settings: &HazardSettings,
    office: &AdminCode,
) -> Result<Vec<Value>, RecordError> {
    let day = today();
    // Whatever the owner's code: the acceptor is named in each hazard (a zone's too).
    let rows = store
        .hazards(&HazardFilter {
            status: Some(mh::Status::PendingAcceptance.as_str().to_string()),
            ..Default::default()
        })
        .await?;
    let mut out: Vec<Value> = rows
        .into_iter()
        .map(|r| decorate(r.body, day, settings))
        .filter(|b| b["acceptor"] == office.as_str())
        .collect();
    out.sort_by_key(|b| {
        (
            std::cmp::Reverse(b["acceptance_days_overdue"].as_i64().unwrap_or(-1)),
            b["acceptance_due"].as_str().unwrap_or_default().to_string(),
            b["id"].as_str().unwrap_or_default().to_string(),
        )
    });
    Ok(out)
}
