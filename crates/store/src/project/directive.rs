//! 任务 — a directive: its `directives` row, one `directive_targets` row per target (replaced whole),
//! and the `blob_refs` of its responses' 报送材料.

use safemesh_doc::directive::Directives;
use safemesh_model::directive::ReviewState;

use super::bind::Bind;
use super::kind::{ProjectKind, Rows};

impl ProjectKind for Directives {
    fn rows(id: &str, view: &Self::View, rows: &mut Rows) {
        let mut body = serde_json::to_value(view).unwrap_or_default();
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
                "INSERT INTO directive_targets (directive_id, target, received, completed, percent, kind, role, received_at, overdue_after, next_report_due, awaiting_review)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                vec![
                    Bind::from(id),
                    Bind::from(&t.unit),
                    Bind::from(t.received as i64),
                    // 办结: approved only; a completion awaiting review is `awaiting_review`.
                    Bind::from((t.review == ReviewState::Approved) as i64),
                    Bind::from(t.percent.map(|p| p as i64)),
                    Bind::from(t.kind.as_str()),
                    Bind::from(t.roles.first().map_or("responsible", |r| r.as_str())),
                    Bind::from(&t.received_at),
                    Bind::from(day(t.due.overdue_after)),
                    Bind::from(day(t.due.next_report_due)),
                    Bind::from((t.review == ReviewState::Pending) as i64),
                ],
            ));
        }
        // 报送材料: the files every response's updates attach (a target's own and the issuer's record
        // of its departments'), which travel with the directive to whoever holds it.
        super::evidence::rows(
            id,
            view.responses
                .values()
                .chain(view.unit_responses.values())
                .flat_map(|r| r.updates.iter())
                .flat_map(|u| u.attachments.iter()),
            rows,
        );
    }
}
