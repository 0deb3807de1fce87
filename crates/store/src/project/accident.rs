//! 事故 — an accident: one `accidents` row, and the `blob_refs` of its 快报 and events' files.

use safemesh_doc::accident::Accidents;

use super::bind::Bind;
use super::kind::{ProjectKind, Rows};

impl ProjectKind for Accidents {
    fn rows(id: &str, view: &Self::View, rows: &mut Rows) {
        let mut body = serde_json::to_value(view).unwrap_or_default();
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
        // 事故快报 filed with the registration, then what its events attach.
        super::evidence::rows(
            id,
            view.core
                .attachments
                .iter()
                .chain(view.events.iter().flat_map(|e| e.attachments.iter())),
            rows,
        );
    }
}
