//! What a document projects to: per record kind, the statements that write its query rows and the
//! audience it is sent to, computed from the document alone so the receiver can do it on the
//! thread that checked the document.

use safemesh_doc::{Audience, AutoCommit, Header, Kind, directive, hazard};

use super::bind::Bind;
use crate::error::Error;

/// What a document projects to — its audience and the statements that write its query rows —
/// computed from the document alone (CPU only, no store): the receiver computes it on the thread
/// that checked the document, and the writer only executes it.
#[derive(Debug, Clone)]
pub struct Projection {
    pub audience: Audience,
    pub(super) rows: Vec<(&'static str, Vec<Bind>)>,
}

/// The projection of document `id`. Fails when the document cannot be read into records.
pub fn compute_projection(
    id: &str,
    header: &Header,
    doc: &AutoCommit,
) -> Result<Projection, Error> {
    let mut rows: Vec<(&'static str, Vec<Bind>)> = Vec::new();
    let audience = match header.kind {
        Kind::Hazard => {
            let view = hazard::read(doc)?;
            let derived = view.derived();
            let due = view.effective_deadline(&derived);
            let plan_complete = derived.plan.as_ref().is_some_and(|p| p.complete());
            let funds = derived.plan.as_ref().map_or(0.0, |p| p.funds_wan);
            let mut body = serde_json::to_value(&view).unwrap_or_default();
            if let Some(o) = body.as_object_mut() {
                o.insert("id".into(), id.into());
                o.insert("status".into(), derived.status.as_str().into());
                o.insert("accepted".into(), derived.accepted.into());
                o.insert(
                    "supervising".into(),
                    derived.supervising.as_ref().map(|c| c.to_string()).into(),
                );
                o.insert("escalations".into(), derived.escalations.clone().into());
                o.insert(
                    "escalated".into(),
                    serde_json::to_value(&derived.escalated).unwrap_or_default(),
                );
                o.insert("notified".into(), derived.notified.clone().into());
                o.insert("fully_notified".into(), derived.fully_notified().into());
                o.insert(
                    "plan".into(),
                    serde_json::to_value(&derived.plan).unwrap_or_default(),
                );
                o.insert("plan_complete".into(), plan_complete.into());
                o.insert("effective_deadline".into(), due.clone().into());
                o.insert("extended".into(), derived.extended.into());
                o.insert(
                    "extension_pending".into(),
                    serde_json::to_value(&derived.extension_pending).unwrap_or_default(),
                );
            }
            rows.push((
                "INSERT INTO hazards (id, owner, title, sector, grade, channel, status, deadline, supervising, created, updated_at, body,
                 number, inspection_mode, found_by_level, found_on, stock, location, credit_code, notified, plan_complete, funds_wan, enterprise_name, extended)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
                 ON CONFLICT (id) DO UPDATE SET title = excluded.title, sector = excluded.sector, grade = excluded.grade,
                 channel = excluded.channel, status = excluded.status, deadline = excluded.deadline,
                 supervising = excluded.supervising, updated_at = excluded.updated_at, body = excluded.body,
                 number = excluded.number, inspection_mode = excluded.inspection_mode, found_by_level = excluded.found_by_level,
                 found_on = excluded.found_on, stock = excluded.stock, location = excluded.location,
                 credit_code = excluded.credit_code, notified = excluded.notified,
                 plan_complete = excluded.plan_complete, funds_wan = excluded.funds_wan,
                 enterprise_name = excluded.enterprise_name, extended = excluded.extended",
                vec![
                    Bind::from(id),
                    Bind::from(view.owner.as_str()),
                    Bind::from(&view.core.title),
                    Bind::from(&view.core.sector),
                    Bind::from(view.core.grade.as_str()),
                    Bind::from(view.core.channel.as_str()),
                    Bind::from(derived.status.as_str()),
                    Bind::from(&due),
                    Bind::from(derived.supervising.as_ref().map(|c| c.to_string())),
                    Bind::from(&view.created),
                    Bind::Now,
                    Bind::from(body.to_string()),
                    Bind::from(&view.core.number),
                    Bind::from(view.core.inspection_mode.clone()),
                    Bind::from(view.core.found_by_level.as_str()),
                    Bind::from(&view.core.found_on),
                    Bind::from(view.core.stock.as_str()),
                    Bind::from(&view.core.location.division),
                    Bind::from(&view.core.enterprise.credit_code),
                    Bind::from(derived.fully_notified() as i64),
                    Bind::from(plan_complete as i64),
                    Bind::from(funds),
                    Bind::from(&view.core.enterprise.name),
                    Bind::from(i64::from(derived.extended)),
                ],
            ));
            view.audience()
        }
        Kind::Accident => {
            let view = safemesh_doc::accident::read(doc)?;
            let mut body = serde_json::to_value(&view).unwrap_or_default();
            if let Some(o) = body.as_object_mut() {
                o.insert("id".into(), id.into());
            }
            rows.push((
                "INSERT INTO accidents (id, owner, title, occurred_at, sector, deaths, serious_injuries, direct_loss_wan, grade, created, updated_at, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (id) DO UPDATE SET title = excluded.title, occurred_at = excluded.occurred_at, sector = excluded.sector,
                 deaths = excluded.deaths, serious_injuries = excluded.serious_injuries, direct_loss_wan = excluded.direct_loss_wan,
                 grade = excluded.grade, updated_at = excluded.updated_at, body = excluded.body",
                vec![
                    Bind::from(id),
                    Bind::from(view.owner.as_str()),
                    Bind::from(&view.core.title),
                    Bind::from(&view.core.occurred_at),
                    Bind::from(&view.core.sector),
                    Bind::from(view.core.deaths as i64),
                    Bind::from(view.core.serious_injuries as i64),
                    Bind::from(view.core.direct_loss_wan),
                    Bind::from(view.grade.as_str()),
                    Bind::from(&view.created),
                    Bind::Now,
                    Bind::from(body.to_string()),
                ],
            ));
            safemesh_doc::accident::audience(&view.owner)
        }
        Kind::Enterprise => {
            let view = safemesh_doc::enterprise::read(doc)?;
            let mut body = serde_json::to_value(&view).unwrap_or_default();
            if let Some(o) = body.as_object_mut() {
                o.insert("id".into(), id.into());
            }
            rows.push((
                "INSERT INTO enterprises (id, credit_code, owner, name, sector, created, updated_at, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, sector = excluded.sector,
                 updated_at = excluded.updated_at, body = excluded.body",
                vec![
                    Bind::from(id),
                    Bind::from(&view.core.credit_code),
                    Bind::from(view.owner.as_str()),
                    Bind::from(&view.core.name),
                    Bind::from(&view.core.sector),
                    Bind::from(&view.created),
                    Bind::Now,
                    Bind::from(body.to_string()),
                ],
            ));
            safemesh_doc::enterprise::audience(&view.owner)
        }
        Kind::Directive => {
            let view = directive::read(doc)?;
            let mut body = serde_json::to_value(&view).unwrap_or_default();
            if let Some(o) = body.as_object_mut() {
                o.insert("id".into(), id.into());
            }
            let kind = match view.deadline() {
                safemesh_model::directive::Deadline::Date { .. } => "date",
                safemesh_model::directive::Deadline::Milestones { .. } => "milestones",
                safemesh_model::directive::Deadline::AfterEvent { .. } => "after_event",
                safemesh_model::directive::Deadline::Ongoing { .. } => "ongoing",
            };
            rows.push((
                "INSERT INTO directives (id, issuer, title, deadline, created, updated_at, body, doc_number, category, is_cascade, parent_directive, deadline_kind)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (id) DO UPDATE SET title = excluded.title, deadline = excluded.deadline,
                 updated_at = excluded.updated_at, body = excluded.body, doc_number = excluded.doc_number,
                 category = excluded.category, deadline_kind = excluded.deadline_kind",
                vec![
                    Bind::from(id),
                    Bind::from(view.issuer.as_str()),
                    Bind::from(&view.core.title),
                    Bind::from(&view.core.deadline),
                    Bind::from(&view.created),
                    Bind::Now,
                    Bind::from(body.to_string()),
                    Bind::from(&view.details.doc_number),
                    Bind::from(&view.details.category),
                    Bind::from(view.details.cascade as i64),
                    Bind::from(view.details.parent.as_ref().map(|p| p.directive.clone())),
                    Bind::from(kind),
                ],
            ));
            rows.push((
                "DELETE FROM directive_targets WHERE directive_id = $1",
                vec![Bind::from(id)],
            ));
            let day = |d: Option<time::Date>| d.map(safemesh_model::hazard::format_date);
            for t in view.target_states() {
                rows.push((
                "INSERT INTO directive_targets (directive_id, target, received, completed, percent, kind, role, received_at, overdue_after, next_report_due)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                vec![
                    Bind::from(id),
                    Bind::from(&t.unit),
                    Bind::from(t.received as i64),
                    Bind::from(t.done as i64),
                    Bind::from(t.percent.map(|p| p as i64)),
                    Bind::from(t.kind.as_str()),
                    Bind::from(t.roles.first().map_or("responsible", |r| r.as_str())),
                    Bind::from(&t.received_at),
                    Bind::from(day(t.due.overdue_after)),
                    Bind::from(day(t.due.next_report_due)),
                ],
            ));
            }
            view.audience()
        }
    };
    Ok(Projection { audience, rows })
}
