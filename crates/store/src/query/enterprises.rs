//! 企业 — enterprises as the API reads them: the list by name, and one enterprise by credit code
//! with the hazards and accidents this node holds for it.

use sqlx::Row;

use super::hazards::HazardFilter;
use crate::error::Error;
use crate::store::Store;

impl Store {
    /// Enterprises held, by name.
    pub async fn enterprises(&self) -> Result<Vec<serde_json::Value>, Error> {
        let rows = sqlx::query("SELECT body FROM enterprises ORDER BY name, id")
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| serde_json::from_str(&r.get::<String, _>("body")).unwrap_or_default())
            .collect())
    }

    /// One page of [`Store::enterprises`] (same order: `name`, then `id`): at most `limit` after
    /// skipping `offset`, and the count of all.
    pub async fn enterprises_page(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<serde_json::Value>, u64), Error> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM enterprises")
            .fetch_one(self.pool())
            .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT body FROM enterprises ORDER BY name, id LIMIT {limit} OFFSET {offset}"
        )))
        .fetch_all(self.pool())
        .await?;
        Ok((
            rows.into_iter()
                .map(|r| serde_json::from_str(&r.get::<String, _>("body")).unwrap_or_default())
                .collect(),
            total.max(0) as u64,
        ))
    }

    /// Who registered the enterprise with this credit code, as this node holds it: `(document id,
    /// office)` of each registration, earliest first — one indexed query, without the linked records
    /// [`Store::enterprise`] gathers.
    pub async fn enterprise_registrations(
        &self,
        credit_code: &str,
    ) -> Result<Vec<(String, String)>, Error> {
        Ok(sqlx::query_as(
            "SELECT id, owner FROM enterprises WHERE credit_code = $1 ORDER BY created, id",
        )
        .bind(credit_code)
        .fetch_all(self.pool())
        .await?)
    }

    /// The enterprise with this credit code, with the hazards and accidents this node holds for it:
    /// the registration of office `prefer` if it has one, else the earliest. Offices register an
    /// enterprise each under their own id; `registered_by` lists every office whose registration
    /// this node holds, earliest first.
    pub async fn enterprise(
        &self,
        credit_code: &str,
        prefer: &str,
    ) -> Result<Option<serde_json::Value>, Error> {
        let rows = sqlx::query(
            "SELECT owner, body FROM enterprises WHERE credit_code = $1 ORDER BY created, id",
        )
        .bind(credit_code)
        .fetch_all(self.pool())
        .await?;
        let owners: Vec<String> = rows.iter().map(|r| r.get::<String, _>("owner")).collect();
        let Some(row) = rows
            .iter()
            .find(|r| r.get::<String, _>("owner") == prefer)
            .or(rows.first())
        else {
            return Ok(None);
        };
        let mut body: serde_json::Value =
            serde_json::from_str(&row.get::<String, _>("body")).unwrap_or_default();
        // Hazards and accidents link to their enterprise by credit code (kept in their bodies).
        let mut hazards = Vec::new();
        for h in self.hazards(&HazardFilter::default()).await? {
            if h.body["enterprise"]["credit_code"] == credit_code {
                hazards.push(serde_json::json!({"id": h.id, "title": h.body["title"], "status": h.status, "owner": h.owner}));
            }
        }
        let accidents: Vec<serde_json::Value> = self
            .accidents(None)
            .await?
            .into_iter()
            .filter(|a| a["enterprise"]["credit_code"] == credit_code)
            .map(|a| serde_json::json!({"id": a["id"], "title": a["title"], "grade": a["grade"], "occurred_at": a["occurred_at"]}))
            .collect();
        if let Some(o) = body.as_object_mut() {
            o.insert("hazards".into(), hazards.into());
            o.insert("accidents".into(), accidents.into());
            o.insert("registered_by".into(), owners.into());
        }
        Ok(Some(body))
    }
}
