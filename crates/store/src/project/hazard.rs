//! 隐患 — a hazard: one `hazards` row (its columns the ledger filters and sorts on, `body` the view with what is derived from its events).

use safemesh_doc::hazard::Hazards;

use super::bind::Bind;
use super::kind::{ProjectKind, Rows};

impl ProjectKind for Hazards {
    fn rows(id: &str, view: &Self::View, rows: &mut Rows) {
        let derived = view.derived();
        let due = view.effective_deadline(&derived);
        let plan_complete = derived.plan.as_ref().is_some_and(|p| p.complete());
        let funds = derived.plan.as_ref().map_or(0.0, |p| p.funds_wan);
        let mut body = serde_json::to_value(view).unwrap_or_default();
        if let Some(o) = body.as_object_mut() {
            o.insert("id".into(), id.into());
            o.insert("status".into(), derived.status.as_str().into());
            o.insert("accepted".into(), derived.accepted.into());
            o.insert(
                "supervising".into(),
                derived.supervising.as_ref().map(|c| c.to_string()).into(),
            );
            // 挂牌督办: the listing that decides (督办编号, 要求, 期限, by, at) and every one standing.
            o.insert(
                "listing".into(),
                serde_json::to_value(derived.listing()).unwrap_or_default(),
            );
            o.insert(
                "listings".into(),
                serde_json::to_value(&derived.listings).unwrap_or_default(),
            );
            o.insert("escalations".into(), derived.escalations.clone().into());
            o.insert(
                "escalated".into(),
                serde_json::to_value(&derived.escalated).unwrap_or_default(),
            );
            o.insert("notified".into(), derived.notified.clone().into());
            o.insert(
                "notified_names".into(),
                serde_json::to_value(&derived.notified_names).unwrap_or_default(),
            );
            o.insert("fully_notified".into(), derived.fully_notified().into());
            o.insert(
                "plan".into(),
                serde_json::to_value(&derived.plan).unwrap_or_default(),
            );
            o.insert("plan_complete".into(), plan_complete.into());
            o.insert(
                "rectified_on".into(),
                derived
                    .rectified_on()
                    .map(safemesh_model::hazard::format_date)
                    .into(),
            );
            o.insert("effective_deadline".into(), due.clone().into());
            o.insert("extended".into(), derived.extended.into());
            o.insert(
                "extension_pending".into(),
                serde_json::to_value(&derived.extension_pending).unwrap_or_default(),
            );
        }
        rows.push((
                "INSERT INTO hazards (id, owner, title, sector, grade, channel, status, deadline, supervising, created, updated_at, body,
                 number, inspection_mode, found_by_level, found_on, stock, location, credit_code, notified, plan_complete, funds_wan, enterprise_name, extended, subject, rectified_on)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)
                 ON CONFLICT (id) DO UPDATE SET title = excluded.title, sector = excluded.sector, grade = excluded.grade,
                 channel = excluded.channel, status = excluded.status, deadline = excluded.deadline,
                 supervising = excluded.supervising, updated_at = excluded.updated_at, body = excluded.body,
                 number = excluded.number, inspection_mode = excluded.inspection_mode, found_by_level = excluded.found_by_level,
                 found_on = excluded.found_on, stock = excluded.stock, location = excluded.location,
                 credit_code = excluded.credit_code, notified = excluded.notified,
                 plan_complete = excluded.plan_complete, funds_wan = excluded.funds_wan,
                 enterprise_name = excluded.enterprise_name, extended = excluded.extended,
                 subject = excluded.subject, rectified_on = excluded.rectified_on",
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
                    Bind::from(view.core.subject.as_str()),
                    Bind::from(
                        derived
                            .rectified_on()
                            .map(safemesh_model::hazard::format_date),
                    ),
                ],
            ));
        super::evidence::rows(
            id,
            view.events.iter().flat_map(|e| e.attachments.iter()),
            rows,
        );
    }
}
