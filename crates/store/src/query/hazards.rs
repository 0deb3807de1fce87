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
    /// 隐患所在: `enterprise`, `road`, `self_built_house`, `public_place`, `other`.
    pub subject: Option<String>,
    /// Overdue (`Some(true)`) or not (`Some(false)`) as of `today`.
    pub overdue: Option<bool>,
    /// `YYYY-MM-DD`, the day `overdue` is judged on; required with `overdue`.
    pub today: Option<String>,
    /// 临期 (`Some(true)`: not closed, deadline from `today` to `due_soon_until`) or not.
    pub due_soon: Option<bool>,
    /// `YYYY-MM-DD`, the last day a deadline may fall on to be 临期; required with `due_soon` (and
    /// `today`).
    pub due_soon_until: Option<String>,
    /// Listed for supervision (挂牌督办) or not.
    pub supervised: Option<bool>,
    /// A piece of the title or the number.
    pub q: Option<String>,
    /// Found on or after this day (`YYYY-MM-DD`).
    pub found_from: Option<String>,
    /// Found on or before this day (`YYYY-MM-DD`).
    pub found_to: Option<String>,
    /// The enterprise: its credit code exactly, or a piece of its name.
    pub enterprise: Option<String>,
}

/// The order of a ledger page; every order ends with the id, so pages are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HazardOrder {
    /// Newest registered first.
    #[default]
    Newest,
    /// Overdue first, most overdue first (judged as of the filter's `today`), then newest.
    OverdueFirst,
    /// Earliest deadline in force first.
    Deadline,
    /// Latest found first.
    Found,
}

/// One page of the ledger and how many hazards match in all.
#[derive(Debug, Clone)]
pub struct HazardPage {
    pub rows: Vec<HazardRow>,
    pub total: u64,
}

/// 待验收, reported rectified on or before the deadline: not 逾期 (the 口径 of
/// `safemesh_model::hazard::overdue_days`), and not 临期.
const ON_TIME_AWAITING: &str =
    "(status = 'pending_acceptance' AND rectified_on IS NOT NULL AND rectified_on <= deadline)";

fn like(v: &str) -> String {
    let escaped = v
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The WHERE clause of a filter and its binds (only fixed fragments are spliced in; every value is a
/// bind).
fn where_clause(f: &HazardFilter) -> Result<(String, Vec<String>), Error> {
    let mut sql = String::from(" WHERE 1 = 1");
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
    eq(&mut sql, "subject", &f.subject);
    if let Some(w) = &f.within {
        binds.push(w.clone());
        let n = binds.len();
        sql.push_str(&format!(" AND substr(owner, 1, length(${n})) = ${n}"));
    }
    match (f.overdue, &f.today) {
        (Some(true), Some(t)) => {
            binds.push(t.clone());
            sql.push_str(&format!(
                " AND status <> 'closed' AND deadline < ${} AND NOT {ON_TIME_AWAITING}",
                binds.len()
            ));
        }
        (Some(false), Some(t)) => {
            binds.push(t.clone());
            sql.push_str(&format!(
                " AND (status = 'closed' OR deadline >= ${} OR {ON_TIME_AWAITING})",
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
    match (f.due_soon, &f.today, &f.due_soon_until) {
        (Some(soon), Some(t), Some(u)) => {
            binds.push(t.clone());
            let t = binds.len();
            binds.push(u.clone());
            let u = binds.len();
            sql.push_str(&if soon {
                format!(
                    " AND status NOT IN ('closed', 'pending_acceptance') AND deadline >= ${t} AND deadline <= ${u}"
                )
            } else {
                format!(
                    " AND (status IN ('closed', 'pending_acceptance') OR deadline < ${t} OR deadline > ${u})"
                )
            });
        }
        (Some(_), _, _) => {
            return Err(Error::Invalid {
                field: "due_soon".into(),
                reason: "due_soon filter needs today and due_soon_until".into(),
            });
        }
        (None, _, _) => {}
    }
    match f.supervised {
        Some(true) => sql.push_str(" AND supervising IS NOT NULL"),
        Some(false) => sql.push_str(" AND supervising IS NULL"),
        None => {}
    }
    if let Some(q) = &f.q {
        binds.push(like(q));
        let n = binds.len();
        sql.push_str(&format!(
            " AND (title LIKE ${n} ESCAPE '\\' OR number LIKE ${n} ESCAPE '\\')"
        ));
    }
    if let Some(d) = &f.found_from {
        binds.push(d.clone());
        sql.push_str(&format!(" AND found_on >= ${}", binds.len()));
    }
    if let Some(d) = &f.found_to {
        binds.push(d.clone());
        sql.push_str(&format!(" AND found_on <= ${}", binds.len()));
    }
    if let Some(e) = &f.enterprise {
        binds.push(e.clone());
        let code = binds.len();
        binds.push(like(e));
        let name = binds.len();
        sql.push_str(&format!(
            " AND (credit_code = ${code} OR enterprise_name LIKE ${name} ESCAPE '\\')"
        ));
    }
    Ok((sql, binds))
}

/// The ORDER BY of a ledger order (every order ends with the id, so pages are stable); `OverdueFirst`
/// binds the filter's `today`.
fn order_by(
    f: &HazardFilter,
    order: HazardOrder,
    binds: &mut Vec<String>,
) -> Result<String, Error> {
    Ok(match order {
        // Each order walks one index (migration 10), forwards or backwards as a whole.
        HazardOrder::Newest => "created DESC, id DESC".to_string(),
        HazardOrder::Deadline => "deadline, id".to_string(),
        HazardOrder::Found => "found_on DESC, created DESC, id DESC".to_string(),
        HazardOrder::OverdueFirst => {
            let Some(today) = &f.today else {
                return Err(Error::Invalid {
                    field: "sort".into(),
                    reason: "overdue order needs today".into(),
                });
            };
            binds.push(today.clone());
            let n = binds.len();
            // Overdue rows first, the earliest deadline (the most days overdue) first among them.
            format!(
                "CASE WHEN status <> 'closed' AND deadline < ${n} AND NOT {ON_TIME_AWAITING} THEN 0 ELSE 1 END, deadline, id"
            )
        }
    })
}

impl Store {
    /// The hazard ledger, newest first.
    pub async fn hazards(&self, f: &HazardFilter) -> Result<Vec<HazardRow>, Error> {
        let (filter, binds) = where_clause(f)?;
        let sql = format!(
            "SELECT id, owner, status, deadline, body FROM hazards{filter} ORDER BY created DESC, id DESC"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query.fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(hazard_row).collect())
    }

    /// One page of the ledger in `order`: at most `limit` rows after skipping `offset`, and the count
    /// of all that match. `OverdueFirst` judges overdue as of the filter's `today`.
    pub async fn hazards_page(
        &self,
        f: &HazardFilter,
        order: HazardOrder,
        limit: u32,
        offset: u64,
    ) -> Result<HazardPage, Error> {
        let (filter, mut binds) = where_clause(f)?;
        let count_sql = format!("SELECT COUNT(*) FROM hazards{filter}");
        let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql));
        for b in &binds {
            count = count.bind(b);
        }
        let total = count.fetch_one(self.pool()).await?.max(0) as u64;
        let order_by = order_by(f, order, &mut binds)?;
        let sql = format!(
            "SELECT id, owner, status, deadline, body FROM hazards{filter} ORDER BY {order_by} LIMIT {limit} OFFSET {offset}"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query.fetch_all(self.pool()).await?;
        Ok(HazardPage {
            rows: rows.into_iter().map(hazard_row).collect(),
            total,
        })
    }

    /// The ids of the whole ledger for a filter, in `order`: what a ledger export walks, reading the
    /// rows a chunk at a time with [`Store::hazards_by_ids`]. One sort of ids instead of one sort of
    /// whole rows per page: paging by OFFSET re-sorts every row (bodies and all) for each page whenever
    /// the order has ties (hazards imported or filled in the same second), which made a 100,000-row
    /// export take minutes.
    pub async fn hazard_ids(
        &self,
        f: &HazardFilter,
        order: HazardOrder,
    ) -> Result<Vec<String>, Error> {
        let (filter, mut binds) = where_clause(f)?;
        let order_by = order_by(f, order, &mut binds)?;
        let sql = format!("SELECT id FROM hazards{filter} ORDER BY {order_by}");
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            query = query.bind(b);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// The hazards of `ids`, in that order (ids not held are left out).
    pub async fn hazards_by_ids(&self, ids: &[String]) -> Result<Vec<HazardRow>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id, owner, status, deadline, body FROM hazards WHERE id IN ({})",
            marks.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id);
        }
        let mut rows: std::collections::HashMap<String, HazardRow> = query
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(|r| {
                let h = hazard_row(r);
                (h.id.clone(), h)
            })
            .collect();
        Ok(ids.iter().filter_map(|id| rows.remove(id)).collect())
    }

    /// The hazard of `owner` that carries `number`, if any — the read outside a write session that an
    /// import's dry run asks (编号 is unique per owner).
    pub async fn hazard_id_by_number(
        &self,
        owner: &str,
        number: &str,
    ) -> Result<Option<String>, Error> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT id FROM hazards WHERE owner = $1 AND number = $2 LIMIT 1")
                .bind(owner)
                .bind(number)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|r| r.0))
    }

    pub async fn hazard(&self, id: &str) -> Result<Option<HazardRow>, Error> {
        let row =
            sqlx::query("SELECT id, owner, status, deadline, body FROM hazards WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(hazard_row))
    }

    /// Hazard counts over hazards owned by `owner` as of `today` (`YYYY-MM-DD`, China time): totals,
    /// open/closed, major, overdue (not counting 待验收 reported on time), supervised (not closed), found this month, extended (延期 approved
    /// at least once), 临期 (neither closed nor awaiting acceptance, due from `today` to `due_soon_until`), and by sector,
    /// status, grade and channel.
    pub async fn own_hazard_counts(
        &self,
        owner: &str,
        today: &str,
        due_soon_until: &str,
    ) -> Result<safemesh_model::summary::HazardCounts, Error> {
        let month_start = format!("{}01", today.get(..8).unwrap_or(today));
        let rows = sqlx::query(
            "SELECT sector, status, grade, channel,
                    CAST(CASE WHEN deadline < $2 AND status != 'closed'
                         AND NOT (status = 'pending_acceptance' AND rectified_on IS NOT NULL AND rectified_on <= deadline)
                         THEN 1 ELSE 0 END AS BIGINT) AS overdue,
                    CAST(CASE WHEN supervising IS NOT NULL AND status != 'closed' THEN 1 ELSE 0 END AS BIGINT) AS supervised,
                    CAST(CASE WHEN found_on >= $3 AND found_on <= $2 THEN 1 ELSE 0 END AS BIGINT) AS this_month,
                    CAST(CASE WHEN extended > 0 THEN 1 ELSE 0 END AS BIGINT) AS extended,
                    CAST(CASE WHEN deadline >= $2 AND deadline <= $4 AND status NOT IN ('closed', 'pending_acceptance') THEN 1 ELSE 0 END AS BIGINT) AS due_soon,
                    COUNT(*) AS n
             FROM hazards WHERE owner = $1 GROUP BY sector, status, grade, channel, overdue, supervised, this_month, extended, due_soon",
        )
        .bind(owner)
        .bind(today)
        .bind(&month_start)
        .bind(due_soon_until)
        .fetch_all(self.pool())
        .await?;
        let mut c = safemesh_model::summary::HazardCounts::default();
        for r in rows {
            let n: i64 = r.get("n");
            let n = n as u64;
            let sector: String = r.get("sector");
            let status: String = r.get("status");
            let grade: String = r.get("grade");
            let channel: String = r.get("channel");
            let flag = |k: &str| r.get::<i64, _>(k) != 0;
            c.total += n;
            if status == "closed" {
                c.closed += n;
            } else {
                c.unclosed += n;
            }
            if grade == "major" {
                c.major += n;
            }
            if flag("overdue") {
                c.overdue += n;
            }
            if flag("supervised") {
                c.supervised += n;
            }
            if flag("this_month") {
                c.this_month += n;
            }
            if flag("extended") {
                c.extended += n;
            }
            if flag("due_soon") {
                c.due_soon += n;
            }
            *c.by_sector.entry(sector).or_default() += n;
            *c.by_status.entry(status).or_default() += n;
            *c.by_grade.entry(grade).or_default() += n;
            *c.by_channel.entry(channel).or_default() += n;
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
