//! 挂图作战 — reading directives: one directive with each unit's state, the chain of directives forwarded
//! from it, and the battle map (`/directives/{id}/board`): every unit of the directive and of the
//! directives forwarded from it that this node holds, with 签收, progress, done, overdue and the next
//! report day, and the totals.
//!
//! Overdue and 临期 (within the node's `hazards.due_soon_days`) are judged as of today in China
//! Standard Time, by the rules of `safemesh_model::directive::deadline`; each unit's 审核 state (办理中,
//! 待审核, 已办结, 已退回) is folded by `safemesh_model::directive::review`.

use std::collections::BTreeSet;

use safemesh_doc::directive::{self, DirectiveView, TargetState};
use safemesh_model::AdminCode;
use safemesh_model::directive::UnitKind;
use safemesh_model::directive::unit::is_known_category;
use safemesh_model::hazard::format_date;
use safemesh_store::Store;
use serde_json::{Value, json};

use super::ListFilter;
use crate::clock::today;
use crate::records::RecordError;

/// How deep the battle map follows forwarding (province → city → county → township is three).
const MAX_DEPTH: usize = 4;

fn unit_name(t: &TargetState) -> Option<String> {
    match t.kind {
        UnitKind::Node => AdminCode::parse(&t.unit)
            .ok()
            .and_then(|c| safemesh_model::division::name_of(&c))
            .map(str::to_string),
        _ => Some(t.unit.clone()),
    }
}

/// One unit's row, as `GET /directives/{id}` and the board show it. `done`: the completion stands
/// (待审核 or 已办结); `review`: the folded state, of which only `approved` is 办结.
fn unit_json(t: &TargetState, today: time::Date, days: u32) -> Value {
    let day = |d: Option<time::Date>| d.map(format_date);
    json!({
        "unit": t.unit,
        "name": unit_name(t),
        "kind": t.kind,
        "roles": t.roles,
        "role_labels": t.roles.iter().map(|r| r.label_zh()).collect::<Vec<_>>(),
        "received": t.received,
        "received_at": t.received_at,
        "percent": t.percent,
        "done": t.done,
        "completed_at": t.completed_at,
        "review": t.review,
        "review_label": t.review.label_zh(),
        "completions": t.completions,
        "last_review": t.last_review,
        "reminders": t.reminders,
        "overdue": t.due.overdue(today),
        "due_soon": t.due.due_soon(today, days),
        "due": day(t.due.due),
        "due_for": t.due.due_for,
        "milestone": t.due.milestone,
        "next_report_due": day(t.due.next_report_due),
        "last_report": t.last_update,
        "milestones_met": t.milestones_met,
        "forwarded": t.forwarded,
    })
}

/// 汇总 — counts over unit rows: `done` is 办结 (approved), `awaiting_review` 待审核.
fn totals(rows: &[Value]) -> Value {
    let n = rows.len();
    let count = |k: &str| rows.iter().filter(|r| r[k] == true).count();
    let state = |s: &str| rows.iter().filter(|r| r["review"] == s).count();
    let (received, overdue, due_soon) = (count("received"), count("overdue"), count("due_soon"));
    let (done, awaiting_review) = (state("approved"), state("pending"));
    let rate = |x: usize| {
        if n == 0 {
            0.0
        } else {
            (x as f64 / n as f64 * 1000.0).round() / 1000.0
        }
    };
    json!({
        "units": n,
        "received": received,
        "not_received": n - received,
        "done": done,
        "awaiting_review": awaiting_review,
        "overdue": overdue,
        "due_soon": due_soon,
        "received_rate": rate(received),
        "completion_rate": rate(done),
    })
}

async fn view(store: &Store, id: &str) -> Result<Option<DirectiveView>, RecordError> {
    let Some(doc) = store.load(id).await? else {
        return Ok(None);
    };
    directive::read(&doc)
        .map(Some)
        .map_err(|_| RecordError::not_found(&format!("directive {id}")))
}

/// The unit rows of a directive. For a cascade notice, nodes below the issuer known here (from the
/// summaries they publish and the links) that have not answered are listed too.
async fn unit_rows(
    store: &Store,
    v: &DirectiveView,
    today: time::Date,
    days: u32,
) -> Result<Vec<Value>, RecordError> {
    let mut states = v.target_states();
    if v.details.cascade {
        let mut known: BTreeSet<String> = store
            .summaries()
            .await?
            .into_iter()
            .map(|s| s.owner)
            .collect();
        known.extend(store.links().await?.into_iter().map(|l| l.peer));
        for code in known {
            let Ok(c) = AdminCode::parse(&code) else {
                continue;
            };
            if v.issuer.is_ancestor_of(&c) && !states.iter().any(|s| s.unit == code) {
                let mut none = v.clone();
                none.responses.clear();
                none.details.assignments.clear();
                none.core.targets = vec![c];
                none.unit_responses.clear();
                none.reviews.clear();
                states.extend(none.target_states());
            }
        }
    }
    Ok(states.iter().map(|t| unit_json(t, today, days)).collect())
}

/// The ids of the directives forwarded from `v` (`id`): those its units reported, and those held here
/// that name it as their parent.
async fn forwarded_ids(
    store: &Store,
    id: &str,
    v: &DirectiveView,
) -> Result<Vec<(String, Option<String>)>, RecordError> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for (code, r) in &v.responses {
        for f in &r.forwarded {
            if !out.iter().any(|(i, _)| i == f) {
                out.push((f.clone(), Some(code.clone())));
            }
        }
    }
    for row in store.directives_forwarded_from(id).await? {
        if !out.iter().any(|(i, _)| *i == row.id) {
            out.push((row.id, Some(row.issuer)));
        }
    }
    Ok(out)
}

/// `GET /directives/{id}`: the directive, its units' state as of today (临期 within `days`), and the
/// directives forwarded from it with their units' state.
pub async fn get(store: &Store, id: &str, days: u32) -> Result<Value, RecordError> {
    let row = store
        .directive(id)
        .await?
        .ok_or_else(|| RecordError::not_found(id))?;
    let v = view(store, id)
        .await?
        .ok_or_else(|| RecordError::not_found(id))?;
    let t = today();
    let units = unit_rows(store, &v, t, days).await?;
    let mut forwarded = Vec::new();
    for (fid, by) in forwarded_ids(store, id, &v).await? {
        match view(store, &fid).await? {
            Some(sub) => {
                let rows = unit_rows(store, &sub, t, days).await?;
                forwarded.push(json!({
                    "id": fid,
                    "held": true,
                    "forwarded_by": sub.issuer,
                    "title": sub.core.title,
                    "doc_number": sub.details.doc_number,
                    "deadline_text": sub.deadline().describe_zh(),
                    "totals": totals(&rows),
                    "units": rows,
                }));
            }
            None => forwarded.push(json!({"id": fid, "held": false, "forwarded_by": by})),
        }
    }
    let mut body = row.body;
    if let Some(o) = body.as_object_mut() {
        o.insert("deadline_text".into(), v.deadline().describe_zh().into());
        o.insert(
            "reporting_text".into(),
            v.details.reporting.as_ref().map(|c| c.describe_zh()).into(),
        );
        o.insert(
            "category_known".into(),
            is_known_category(&v.details.category).into(),
        );
        o.insert(
            "issuer_name".into(),
            safemesh_model::division::name_of(&v.issuer).into(),
        );
        o.insert("totals".into(), totals(&units));
        o.insert("units".into(), units.into());
        o.insert("forwarded".into(), forwarded.into());
    }
    Ok(body)
}

/// `GET /directives/{id}/board`: the battle map — this directive's units and, flattened with `via`
/// (the forwarding office) and `directive`, the units of every directive forwarded from it that this
/// node holds, down the chain; totals over all rows and over this directive's own.
pub async fn board(store: &Store, id: &str, days: u32) -> Result<Value, RecordError> {
    let v = view(store, id)
        .await?
        .ok_or_else(|| RecordError::not_found(id))?;
    let t = today();
    let own = unit_rows(store, &v, t, days).await?;
    let mut rows: Vec<Value> = own
        .iter()
        .cloned()
        .map(|mut r| {
            r["directive"] = id.into();
            r["via"] = Value::Null;
            r["depth"] = 0.into();
            r
        })
        .collect();
    let mut missing = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::from([id.to_string()]);
    let mut frontier = vec![(id.to_string(), v.clone(), 0usize)];
    while let Some((pid, pv, depth)) = frontier.pop() {
        if depth >= MAX_DEPTH {
            continue;
        }
        for (fid, by) in forwarded_ids(store, &pid, &pv).await? {
            if !seen.insert(fid.clone()) {
                continue;
            }
            let Some(sub) = view(store, &fid).await? else {
                missing.push(json!({"id": fid, "forwarded_by": by, "from": pid}));
                continue;
            };
            for mut r in unit_rows(store, &sub, t, days).await? {
                r["directive"] = fid.clone().into();
                r["via"] = sub.issuer.to_string().into();
                r["depth"] = (depth + 1).into();
                rows.push(r);
            }
            frontier.push((fid, sub, depth + 1));
        }
    }
    Ok(json!({
        "id": id,
        "title": v.core.title,
        "doc_number": v.details.doc_number,
        "category": v.details.category,
        "issuer": v.issuer,
        "cascade": v.details.cascade,
        "deadline_text": v.deadline().describe_zh(),
        "reporting_text": v.details.reporting.as_ref().map(|c| c.describe_zh()),
        "today": format_date(t),
        "totals": totals(&rows),
        "direct_totals": totals(&own),
        "rows": rows,
        "forwarded_not_held": missing,
    }))
}

/// `GET /directives`: every directive held, newest first, each with its totals as of today (临期 within
/// `days`). With `target`, each also carries `mine`: that target's own row (its 审核 state, 临期,
/// 逾期, the issuer's reminders to it), and `due_soon` filters on it.
pub async fn list(store: &Store, f: &ListFilter, days: u32) -> Result<Vec<Value>, RecordError> {
    let t = today();
    let until = format_date(safemesh_model::hazard::due_soon_until(t, days));
    let totals = store.directive_totals(&format_date(t), &until).await?;
    let nonempty = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let code = |field: &str, s: Option<String>| -> Result<Option<String>, RecordError> {
        s.map(|c| {
            AdminCode::parse(&c)
                .map(|c| c.to_string())
                .map_err(|e| RecordError::bad(field, e.to_string()))
        })
        .transpose()
    };
    let issuer = code("issuer", nonempty(&f.issuer))?;
    let target = code("target", nonempty(&f.target))?;
    let category = nonempty(&f.category);
    let mut out = Vec::new();
    for r in store.directives().await? {
        if issuer.as_ref().is_some_and(|i| *i != r.issuer)
            || target.as_ref().is_some_and(|tg| {
                !r.body["targets"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == tg.as_str()))
            })
            || category
                .as_ref()
                .is_some_and(|c| r.body["category"] != c.as_str())
        {
            continue;
        }
        let tot = totals.get(&r.id).cloned().unwrap_or_default();
        if f.overdue.is_some_and(|o| o != (tot.overdue > 0)) {
            continue;
        }
        let mine = match &target {
            Some(tg) => match view(store, &r.id).await? {
                Some(v) => v
                    .target_states()
                    .iter()
                    .find(|s| s.unit == *tg)
                    .map(|s| unit_json(s, t, days)),
                None => None,
            },
            None => None,
        };
        let due_soon = match &mine {
            Some(m) => m["due_soon"] == true,
            None => tot.due_soon > 0,
        };
        if f.due_soon.is_some_and(|d| d != due_soon) {
            continue;
        }
        let mut b = r.body;
        b["totals"] = json!({"units": tot.units, "received": tot.received, "done": tot.done,
            "awaiting_review": tot.awaiting_review, "overdue": tot.overdue, "due_soon": tot.due_soon});
        if let Some(m) = mine {
            b["mine"] = m;
        }
        out.push(b);
    }
    Ok(out)
}

/// `GET /directives/vocabulary`: the names the inputs accept, for forms.
pub fn vocabulary() -> Value {
    use safemesh_model::directive::UnitRole;
    use safemesh_model::directive::unit::{CAMPAIGNS, EIGHT_ACTIONS, GROUPS};
    let roles: Vec<Value> = [
        UnitRole::Lead,
        UnitRole::CoLead,
        UnitRole::Responsible,
        UnitRole::Cooperating,
    ]
    .iter()
    .map(|r| json!({"role": r, "label": r.label_zh()}))
    .collect();
    let groups: Vec<Value> = GROUPS
        .iter()
        .map(|g| json!({"group": g, "name": g.label_zh(), "aliases": g.aliases()}))
        .collect();
    json!({
        "categories": {"eight_actions": EIGHT_ACTIONS, "campaigns": CAMPAIGNS},
        "roles": roles,
        "groups": groups,
        "deadline_kinds": ["date", "milestones", "after_event", "ongoing"],
        "cadences": ["monthly", "quarterly", "half_yearly", "yearly"],
    })
}
