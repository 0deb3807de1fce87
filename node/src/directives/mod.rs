//! 任务操作 — issuing directives (下发), answering them (签收, 进展, 完成), the issuer's review of a
//! completion (审核通过 / 退回) and reminders (催办), forwarding them to the next level (转发/分解) and
//! recording the event an after-event deadline counts from. Shared by the HTTP API and
//! the demo. Inputs are validated with the field path named (`assignments[2].unit`); the rules
//! themselves live in `safemesh_model::directive` (deadlines, units) and `safemesh_doc` (authority).
//! Reading — the directive with its units' state, the list, the battle map — is in `board.rs`.

use safemesh_doc::AutoCommit;
use safemesh_doc::directive::{self, DirectiveView, ParentLink, Responder};
use safemesh_model::AdminCode;
use safemesh_model::directive::review::check_review;
use safemesh_model::directive::{
    Deadline, Reminder, ResponseAction, ResponseUpdate, Review, ReviewDecision, ReviewState,
    UnitKind,
};
use safemesh_model::hazard::{format_date, parse_date};
use safemesh_store::Store;
use serde_json::Value;

use crate::clock::now_rfc3339;
use crate::records::{Actor, RecordError, bounded, commit, required, store_change};

mod board;
pub mod http;
mod input;

pub use board::{board, get, list, vocabulary};
use input::{Draft, draft, percent};
pub use input::{
    Here, ListFilter, NewAssignment, NewDirective, NewEventDate, NewReminder, NewResponse,
    NewReview,
};

fn new_doc(actor: &Actor, d: &Draft) -> Result<(String, AutoCommit), RecordError> {
    let id = format!("d-{}", uuid::Uuid::now_v7().simple());
    let mut doc = AutoCommit::new().with_actor(actor.actor_id.clone());
    directive::create_with(&mut doc, &actor.code, &now_rfc3339(), &d.core, &d.details)?;
    safemesh_doc::put_owner_parent(&mut doc, &actor.chain())?;
    commit(&mut doc, actor);
    Ok((id, doc))
}

/// 下发任务 — issues a directive from this node.
pub async fn create(
    store: &Store,
    actor: &Actor,
    here: Here<'_>,
    input: NewDirective,
    days: u32,
) -> Result<Value, RecordError> {
    let d = draft(&actor.code, here, input)?;
    let (id, mut doc) = new_doc(actor, &d)?;
    let mut w = store.writer().await?;
    store_change(&mut w, &id, &mut doc, &[]).await?;
    w.commit().await?;
    get(store, &id, days).await
}

async fn load(
    w: &mut safemesh_store::Writer,
    id: &str,
) -> Result<(AutoCommit, DirectiveView), RecordError> {
    let doc = w
        .load(id)
        .await?
        .ok_or_else(|| RecordError::not_found(id))?;
    let view =
        directive::read(&doc).map_err(|_| RecordError::not_found(&format!("directive {id}")))?;
    Ok((doc, view))
}

fn not_responder(me: &AdminCode) -> RecordError {
    RecordError::forbidden(
        "own_response_only",
        format!("{me} 不是该任务的承办单位 / {me} is not a target of this directive"),
    )
}

/// Records a response: this node's own (签收, 进展, 完成), or — `unit` given — the issuer's record of one of
/// its departments. Responses only move forward.
pub async fn respond(
    store: &Store,
    actor: &Actor,
    id: &str,
    input: NewResponse,
    days: u32,
) -> Result<Value, RecordError> {
    let action = ResponseAction::parse(&required("action", input.action)?)?;
    let pct = percent(input.percent)?;
    if action == ResponseAction::Progress && pct.is_none() {
        return Err(RecordError::bad(
            "percent",
            "进展须给出百分比 / progress needs percent",
        ));
    }
    if let Some(n) = &input.note {
        bounded("note", n, 5000)?;
    }
    // The files (400s), from the store's own description of each, outside the write lock.
    let attachments = match input.attachments {
        Some(list) => crate::evidence::resolve(store, "attachments", list).await?,
        None => Vec::new(),
    };
    let milestone = input
        .milestone
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty());
    let mut w = store.writer().await?;
    let (mut doc, view) = load(&mut w, id).await?;
    let unit = input
        .unit
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty());
    let (who, mine, kind) = match &unit {
        Some(u) => {
            if actor.code != view.issuer {
                return Err(RecordError::forbidden(
                    "issuer_only",
                    "只有下发单位可登记部门进展 / only the issuer records its departments' progress",
                ));
            }
            if !view.department_units().contains(u) {
                return Err(RecordError::bad(
                    "unit",
                    format!("{u} 不是该任务的承办部门 / {u} is not a department of this directive"),
                ));
            }
            (
                Responder::Department(u.as_str()),
                view.unit_responses.get(u.as_str()),
                UnitKind::Department,
            )
        }
        None => {
            if !view.may_respond(&actor.code) {
                return Err(not_responder(&actor.code));
            }
            (
                Responder::Node(&actor.code),
                view.responses.get(actor.code.as_str()),
                UnitKind::Node,
            )
        }
    };
    // Folded from the updates and the issuer's reviews: a returned completion (已退回) is in
    // progress again and may be completed again; one that stands (待审核, 已办结) may not.
    let state = mine.map_or(ReviewState::Open, |r| {
        let name = unit.clone().unwrap_or_else(|| actor.code.to_string());
        view.fold_unit(&name, kind, r).state
    });
    if state.done() {
        return Err(RecordError::conflict(
            "action",
            "该任务已报告完成（待审核或已办结）/ this directive is already completed (awaiting review or approved)",
        ));
    }
    if action == ResponseAction::Receive && mine.is_some_and(|r| r.received_at.is_some()) {
        return Err(RecordError::conflict("action", "已签收 / already received"));
    }
    if let (Some(p), Some(cur)) = (pct, mine.and_then(|r| r.percent))
        && action == ResponseAction::Progress
        && state != ReviewState::Returned
        && p < cur
    {
        return Err(RecordError::bad(
            "percent",
            format!("进度不能倒退（当前 {cur}%）/ progress cannot go back (now {cur}%)"),
        ));
    }
    if let Some(m) = &milestone {
        let Deadline::Milestones { milestones } = view.deadline() else {
            return Err(RecordError::bad(
                "milestone",
                "该任务没有阶段节点 / this directive has no milestones",
            ));
        };
        if !milestones.iter().any(|x| x.label.trim() == m) {
            let labels: Vec<&str> = milestones.iter().map(|x| x.label.as_str()).collect();
            return Err(RecordError::bad(
                "milestone",
                format!(
                    "未知的阶段节点 {m}，应为 {} / unknown milestone {m}",
                    labels.join("、")
                ),
            ));
        }
        if action == ResponseAction::Receive {
            return Err(RecordError::bad(
                "milestone",
                "签收不能完成节点 / a receipt does not meet a milestone",
            ));
        }
        if mine.is_some_and(|r| r.milestones_met.iter().any(|x| x == m)) {
            return Err(RecordError::conflict(
                "milestone",
                format!("节点 {m} 已完成 / milestone {m} is already met"),
            ));
        }
    }
    let old = doc.get_heads();
    doc.set_actor(actor.actor_id.clone());
    let update = ResponseUpdate {
        action,
        at: now_rfc3339(),
        percent: pct,
        note: input.note.filter(|n| !n.trim().is_empty()),
        user: actor.user.clone(),
        attachments,
    };
    directive::respond_as(&mut doc, who, &update)?;
    if let Some(m) = &milestone {
        directive::mark_milestone(&mut doc, who, m)?;
    }
    commit(&mut doc, actor);
    store_change(&mut w, id, &mut doc, &old).await?;
    w.commit().await?;
    get(store, id, days).await
}

/// 转发/分解 — a target issues the directive on to its own children as a new directive linked to it,
/// signs for the original if it had not, and records the new id in its own response, which replicates
/// to the issuer. Omitted fields come from the original; group references of the original (各下级,
/// 各成员单位, …) are resolved again here. The new deadline may not be later than the original's.
pub async fn forward(
    store: &Store,
    actor: &Actor,
    here: Here<'_>,
    id: &str,
    input: NewDirective,
    days: u32,
) -> Result<Value, RecordError> {
    let mut w = store.writer().await?;
    let (mut parent_doc, parent) = load(&mut w, id).await?;
    if !parent.may_respond(&actor.code) {
        return Err(not_responder(&actor.code));
    }
    if parent.responses.get(actor.code.as_str()).is_some_and(|r| {
        parent
            .fold_unit(actor.code.as_str(), UnitKind::Node, r)
            .state
            .done()
    }) {
        return Err(RecordError::conflict(
            "action",
            "该任务已完成 / this directive is already completed",
        ));
    }
    let inherited_groups = || {
        parent
            .details
            .assignments
            .iter()
            .filter(|a| a.kind == UnitKind::Group)
            .map(|a| NewAssignment {
                role: Some(a.role.as_str().to_string()),
                unit: Some(a.unit.clone()),
            })
            .collect::<Vec<_>>()
    };
    let given_units = input.assignments.as_ref().is_some_and(|a| !a.is_empty())
        || input.targets.as_ref().is_some_and(|t| !t.is_empty());
    let parent_deadline = parent.deadline();
    let input = NewDirective {
        title: input.title.or_else(|| Some(parent.core.title.clone())),
        body: if input.body.trim().is_empty() {
            parent.core.body.clone()
        } else {
            input.body
        },
        source_document: input.source_document.or_else(|| {
            let n = &parent.details.doc_number;
            Some(if n.is_empty() {
                format!("《{}》", parent.core.title)
            } else {
                format!("《{}》（{n}）", parent.core.title)
            })
        }),
        category: input
            .category
            .or_else(|| Some(parent.details.category.clone())),
        assignments: if given_units {
            input.assignments
        } else {
            Some(inherited_groups())
        },
        deadline: input
            .deadline
            .or_else(|| serde_json::to_value(&parent_deadline).ok()),
        reporting: input.reporting.or_else(|| {
            parent
                .details
                .reporting
                .as_ref()
                .and_then(|c| serde_json::to_value(c).ok())
        }),
        cascade: false,
        ..input
    };
    let mut d = draft(&actor.code, here, input)?;
    if let (Some(mine), Some(theirs)) = (
        d.details
            .deadline_spec
            .as_ref()
            .and_then(Deadline::final_day),
        parent_deadline.final_day(),
    ) && mine > theirs
    {
        return Err(RecordError::bad(
            "deadline",
            format!(
                "不得晚于上级任务时限 {} / may not be later than the original's deadline",
                format_date(theirs)
            ),
        ));
    }
    d.details.parent = Some(ParentLink {
        directive: id.to_string(),
        issuer: parent.issuer.clone(),
        chain_top: parent
            .details
            .parent
            .as_ref()
            .map_or(parent.issuer.clone(), |p| p.chain_top.clone()),
    });
    let (sub_id, mut sub) = new_doc(actor, &d)?;
    store_change(&mut w, &sub_id, &mut sub, &[]).await?;
    let old = parent_doc.get_heads();
    parent_doc.set_actor(actor.actor_id.clone());
    if parent
        .responses
        .get(actor.code.as_str())
        .is_none_or(|r| r.received_at.is_none())
    {
        let receipt = ResponseUpdate {
            action: ResponseAction::Receive,
            at: now_rfc3339(),
            percent: None,
            note: Some(format!("已转发：{}", d.core.title)),
            user: actor.user.clone(),
            attachments: Vec::new(),
        };
        directive::respond(&mut parent_doc, &actor.code, &receipt)?;
    }
    directive::record_forward(&mut parent_doc, &actor.code, &sub_id)?;
    commit(&mut parent_doc, actor);
    store_change(&mut w, id, &mut parent_doc, &old).await?;
    w.commit().await?;
    get(store, &sub_id, days).await
}

/// 登记事件日期 — the issuer records when the event of an after-event deadline happened.
pub async fn set_event_date(
    store: &Store,
    actor: &Actor,
    id: &str,
    input: NewEventDate,
    due_soon_days: u32,
) -> Result<Value, RecordError> {
    let date = required("event_date", input.event_date)?;
    let day = parse_date("event_date", &date)?;
    let mut w = store.writer().await?;
    let (mut doc, view) = load(&mut w, id).await?;
    if actor.code != view.issuer {
        return Err(RecordError::forbidden(
            "issuer_only",
            "只有下发单位可登记事件日期 / only the issuer records the event date",
        ));
    }
    let Deadline::AfterEvent { days, .. } = view.deadline() else {
        return Err(RecordError::bad(
            "event_date",
            "该任务的时限不是事件后限期 / this directive's deadline does not count from an event",
        ));
    };
    let final_day = format_date(day + time::Duration::days(i64::from(days)));
    let old = doc.get_heads();
    doc.set_actor(actor.actor_id.clone());
    directive::set_event_date(&mut doc, &format_date(day), &final_day)?;
    commit(&mut doc, actor);
    store_change(&mut w, id, &mut doc, &old).await?;
    w.commit().await?;
    get(store, id, due_soon_days).await
}

fn issuer_only(me: &AdminCode, view: &DirectiveView, what: &str) -> Result<(), RecordError> {
    if *me != view.issuer {
        return Err(RecordError::forbidden(
            "issuer_only",
            format!("只有下发单位可{what} / only the issuer may do this"),
        ));
    }
    Ok(())
}

/// 审核 — the issuer approves (审核通过) or returns (退回, with a reason) a unit's completion. Only a
/// completion awaiting review (待审核) is reviewed; a returned unit is back in progress and its next
/// 完成 waits for a review of its own.
pub async fn review(
    store: &Store,
    actor: &Actor,
    id: &str,
    input: NewReview,
    days: u32,
) -> Result<Value, RecordError> {
    let unit = required("unit", input.unit)?.trim().to_string();
    let decision = ReviewDecision::parse(&required("decision", input.decision)?)?;
    let reason = input
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if let Some(r) = &reason {
        bounded("reason", r, 1000)?;
    }
    let mut w = store.writer().await?;
    let (mut doc, view) = load(&mut w, id).await?;
    issuer_only(&actor.code, &view, "审核")?;
    let Some(t) = view.target_states().into_iter().find(|t| t.unit == unit) else {
        return Err(RecordError::bad(
            "unit",
            format!("{unit} 不是该任务的承办单位 / {unit} is not a unit of this directive"),
        ));
    };
    let r = match t.kind {
        UnitKind::Node => view.responses.get(unit.as_str()),
        _ => view.unit_responses.get(unit.as_str()),
    }
    .cloned()
    .unwrap_or_default();
    let folded = view.fold_unit(&unit, t.kind, &r);
    let completion = check_review(&folded, decision, reason.as_deref()).map_err(|e| {
        if e.field() == "unit" {
            RecordError::conflict("unit", e.reason())
        } else {
            e.into()
        }
    })?;
    let old = doc.get_heads();
    doc.set_actor(actor.actor_id.clone());
    directive::add_review(
        &mut doc,
        &Review {
            unit,
            completion,
            decision,
            reason,
            at: now_rfc3339(),
            user: actor.user.clone(),
        },
    )?;
    commit(&mut doc, actor);
    store_change(&mut w, id, &mut doc, &old).await?;
    w.commit().await?;
    get(store, id, days).await
}

/// 催办 — the issuer reminds the units named (with what it asks of them); the reminder is recorded in
/// the directive and shown to those units.
pub async fn remind(
    store: &Store,
    actor: &Actor,
    id: &str,
    input: NewReminder,
    days: u32,
) -> Result<Value, RecordError> {
    let note = required("note", input.note)?.trim().to_string();
    bounded("note", &note, 1000)?;
    let mut units: Vec<String> = Vec::new();
    for u in input.units.unwrap_or_default() {
        let u = u.trim().to_string();
        if !u.is_empty() && !units.contains(&u) {
            units.push(u);
        }
    }
    if units.is_empty() {
        return Err(RecordError::bad(
            "units",
            "至少催办一个承办单位 / name at least one unit",
        ));
    }
    let mut w = store.writer().await?;
    let (mut doc, view) = load(&mut w, id).await?;
    issuer_only(&actor.code, &view, "催办")?;
    let states = view.target_states();
    for (i, u) in units.iter().enumerate() {
        if !states.iter().any(|t| t.unit == *u) {
            return Err(RecordError::bad(
                format!("units[{i}]"),
                format!("{u} 不是该任务的承办单位 / {u} is not a unit of this directive"),
            ));
        }
    }
    let old = doc.get_heads();
    doc.set_actor(actor.actor_id.clone());
    directive::add_reminder(
        &mut doc,
        &Reminder {
            units,
            note,
            at: now_rfc3339(),
            user: actor.user.clone(),
        },
    )?;
    commit(&mut doc, actor);
    store_change(&mut w, id, &mut doc, &old).await?;
    w.commit().await?;
    get(store, id, days).await
}
