//! 隐患 — the hazard ledger as the API reads it: the filtered list, one hazard, an owner's counts
//! for its summary, and the writer's look-ups for numbering a new hazard (编号 unique per owner).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::Error;
use crate::store::Store;
use crate::writer::Writer;

/// One hazard as the API lists it. `body` is the full record as JSON.
#[derive(Debug, Clone)]
pub struct HazardRow {
    pub id: String,
    pub owner: String,
    pub status: String,
    pub deadline: String,
    pub body: serde_json::Value,
}

/// Filters of the hazard ledger. Empty fields do not filter; values are canonical (the API resolves
/// aliases before it asks).
#[derive(Debug, Clone, Default)]
pub struct HazardFilter {
    pub grade: Option<String>,
    pub status: Option<String>,
    pub owner: Option<String>,
    /// Only hazards whose owner is within this code.
    pub within: Option<String>,
    pub sector: Option<String>,
    pub channel: Option<String>,
    /// `stock` (存量) or `new` (增量).
    pub stock: Option<String>,
    /// Overdue (`Some(true)`) or not (`Some(false)`) as of `today`.
    pub overdue: Option<bool>,
    /// `YYYY-MM-DD`, the day `overdue` is judged on; required with `overdue`.
    pub today: Option<String>,
    /// Listed for supervision (挂牌督办) or not.
    pub supervised: Option<bool>,
    /// A piece of the title or the number.
    pub q: Option<String>,
}

impl Store {
    /// The hazard ledger, newest first.
    pub async fn hazards(&self, f: &HazardFilter) -> Result<Vec<HazardRow>, Error> {
        let mut sql =
            String::from("SELECT id, owner, status, deadline, body FROM hazards WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let mut eq = |sql: &mut String, col: &str, v: &Option<String>| {
            if let Some(v) = v {
                binds.push(v.clone());
                sql.push_str(&format!(" AND {col} = ${}", binds.len()));
            }
        };
        eq(&mut sql, "grade", &f.grade);
        eq(&mut sql, "status", &f.status);
        eq(&mut sql, "owner", &f.owner);
        eq(&mut sql, "sector", &f.sector);
        eq(&mut sql, "channel", &f.channel);
        eq(&mut sql, "stock", &f.stock);
        if let Some(w) = &f.within {
            binds.push(w.clone());
            let n = binds.len();
            sql.push_str(&format!(" AND substr(owner, 1, length(${n})) = ${n}"));
        }
        match (f.overdue, &f.today) {
            (Some(true), Some(t)) => {
                binds.push(t.clone());
                sql.push_str(&format!(
                    " AND status <> 'closed' AND deadline < ${}",
                    binds.len()
                ));
            }
            (Some(false), Some(t)) => {
                binds.push(t.clone());
                sql.push_str(&format!(
                    " AND (status = 'closed' OR deadline >= ${})",
                    binds.len()
                ));
            }
            (Some(_), None) => {
                return Err(Error::Invalid {
                    field: "overdue".into(),
                    reason: "overdue filter needs today".into(),
                });
            }
            (None, _) => {}
        }
        match f.supervised {
            Some(true) => sql.push_str(" AND supervising IS NOT NULL"),
            Some(false) => sql.push_str(" AND supervising IS NULL"),
            None => {}
        }
        if let Some(q) = &f.q {
            let escaped = q
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            binds.push(format!("%{escaped}%"));
            let n = binds.len();
            sql.push_str(&format!(
                " AND (title LIKE ${n} ESCAPE '\\' OR number LIKE ${n} ESCAPE '\\')"
            ));
        }
        sql.push_str(" ORDER BY created DESC, id");
        // Only fixed fragments are spliced in; every value is a bind.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query.fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(hazard_row).collect())
    }

    pub async fn hazard(&self, id: &str) -> Result<Option<HazardRow>, Error> {
        let row =
            sqlx::query("SELECT id, owner, status, deadline, body FROM hazards WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(hazard_row))
    }

    /// Hazard counts over hazards owned by `owner`: (total, open, closed, major, overdue, by sector, by status).
    pub async fn own_hazard_counts(
        &self,
        owner: &str,
        today: &str,
    ) -> Result<safemesh_model::summary::HazardCounts, Error> {
        let rows = sqlx::query(
            "SELECT sector, status, grade, CAST(CASE WHEN deadline < $2 AND status != 'closed' THEN 1 ELSE 0 END AS BIGINT) AS overdue, COUNT(*) AS n
             FROM hazards WHERE owner = $1 GROUP BY sector, status, grade, overdue",
        )
        .bind(owner)
        .bind(today)
        .fetch_all(self.pool())
        .await?;
        let mut c = safemesh_model::summary::HazardCounts::default();
        for r in rows {
            let n: i64 = r.get("n");
            let n = n as u64;
            let sector: String = r.get("sector");
            let status: String = r.get("status");
            let grade: String = r.get("grade");
            let overdue = r.get::<i64, _>("overdue") != 0;
            c.total += n;
            if status == "closed" {
                c.closed += n;
            } else {
                c.open += n;
            }
            if grade == "major" {
                c.major += n;
            }
            if overdue {
                c.overdue += n;
            }
            *c.by_sector.entry(sector).or_default() += n;
            *c.by_status.entry(status).or_default() += n;
        }
        Ok(c)
    }
}

impl Writer {
    /// The hazard of `owner` that already carries `number`, if any (编号 is unique per owner).
    pub async fn hazard_with_number(
        &mut self,
        owner: &str,
        number: &str,
    ) -> Result<Option<String>, Error> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT id FROM hazards WHERE owner = $1 AND number = $2 LIMIT 1")
                .bind(owner)
                .bind(number)
                .fetch_optional(&mut **self.tx())
                .await?;
        Ok(row.map(|r| r.0))
    }

    /// The highest sequence among `owner`'s hazard numbers that start with `prefix`
    /// (`{owner}-{year}-`), 0 if none.
    pub async fn max_hazard_seq(&mut self, owner: &str, prefix: &str) -> Result<u32, Error> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT number FROM hazards WHERE owner = $1 AND substr(number, 1, length($2)) = $2",
        )
        .bind(owner)
        .bind(prefix)
        .fetch_all(&mut **self.tx())
        .await?;
        Ok(rows
            .iter()
            .filter_map(|(n,)| n.get(prefix.len()..)?.parse::<u32>().ok())
            .max()
            .unwrap_or(0))
    }
}

fn hazard_row(r: AnyRow) -> HazardRow {
    let body: String = r.get("body");
    HazardRow {
        id: r.get("id"),
        owner: r.get("owner"),
        status: r.get("status"),
        deadline: r.get("deadline"),
        body: serde_json::from_str(&body).unwrap_or_default(),
    }
}
