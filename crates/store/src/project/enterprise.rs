//! 企业 — an enterprise: one `enterprises` row.

use safemesh_doc::enterprise::Enterprises;

use super::bind::Bind;
use super::kind::{ProjectKind, Rows};

impl ProjectKind for Enterprises {
    fn rows(id: &str, view: &Self::View, rows: &mut Rows) {
        let mut body = serde_json::to_value(view).unwrap_or_default();
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
    }
}
