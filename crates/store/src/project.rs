//! Query projections: rows derived from documents in the same transaction, and the queries over them.

use safemesh_doc::{Audience, AutoCommit, Header, Kind, directive, hazard};
use sqlx::AnyPool;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::store::tuples;
use crate::{Error, Store};

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

/// One directive as the API lists it.
#[derive(Debug, Clone)]
pub struct DirectiveRow {
    pub id: String,
    pub issuer: String,
    pub body: serde_json::Value,
}

/// Counts over one directive's units (targets and departments).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectiveTotals {
    pub units: u64,
    pub received: u64,
    pub done: u64,
    /// Past their due day as of the `today` asked for, not done.
    pub overdue: u64,
}

/// A summary as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    pub owner: String,
    pub version: i64,
    pub period: String,
    pub as_of: String,
    pub body: String,
    pub seq: i64,
    pub received_at: String,
}

/// One value bound to a projection statement; `Now` is the time of the write.
#[derive(Debug, Clone)]
pub enum Bind {
    Str(String),
    OptStr(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Float(f64),
    Now,
}

impl From<&str> for Bind {
    fn from(v: &str) -> Bind {
        Bind::Str(v.to_string())
    }
}
impl From<&String> for Bind {
    fn from(v: &String) -> Bind {
        Bind::Str(v.clone())
    }
}
impl From<String> for Bind {
    fn from(v: String) -> Bind {
        Bind::Str(v)
    }
}
impl From<Option<String>> for Bind {
    fn from(v: Option<String>) -> Bind {
        Bind::OptStr(v)
    }
}
impl From<&Option<String>> for Bind {
    fn from(v: &Option<String>) -> Bind {
        Bind::OptStr(v.clone())
    }
}
impl From<i64> for Bind {
    fn from(v: i64) -> Bind {
        Bind::Int(v)
    }
}
impl From<Option<i64>> for Bind {
    fn from(v: Option<i64>) -> Bind {
        Bind::OptInt(v)
    }
}
impl From<f64> for Bind {
    fn from(v: f64) -> Bind {
        Bind::Float(v)
    }
}

/// What a document projects to — its audience and the statements that write its query rows —
/// computed from the document alone (CPU only, no store): the receiver computes it on the thread
/// that checked the document, and the writer only executes it.
#[derive(Debug, Clone)]
pub struct Projection {
    pub audience: Audience,
    rows: Vec<(&'static str, Vec<Bind>)>,
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
            }
            rows.push((
                "INSERT INTO hazards (id, owner, title, sector, grade, channel, status, deadline, supervising, created, updated_at, body,
                 number, inspection_mode, found_by_level, found_on, stock, location, credit_code, notified, plan_complete, funds_wan)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
                 ON CONFLICT (id) DO UPDATE SET title = excluded.title, sector = excluded.sector, grade = excluded.grade,
                 channel = excluded.channel, status = excluded.status, deadline = excluded.deadline,
                 supervising = excluded.supervising, updated_at = excluded.updated_at, body = excluded.body,
                 number = excluded.number, inspection_mode = excluded.inspection_mode, found_by_level = excluded.found_by_level,
                 found_on = excluded.found_on, stock = excluded.stock, location = excluded.location,
                 credit_code = excluded.credit_code, notified = excluded.notified,
                 plan_complete = excluded.plan_complete, funds_wan = excluded.funds_wan",
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

/// Writes the rows of projections — one document's, or many distinct documents new to the store —
/// statements of the same text as one multi-row `INSERT` each (in chunks of at most
/// [`crate::MAX_BINDS`] binds), in the order the texts first appear. Each document's statements
/// keep their order: a kind's statements always come in the same order, and different kinds write
/// different tables. A statement that is not a
/// single-tuple `INSERT … VALUES ($1, …, $n) …` (a `DELETE`) runs once per row, in its place.
pub(crate) async fn write_rows_many(
    tx: &mut Transaction<'static, Any>,
    projections: &[Projection],
    now: &str,
) -> Result<(), Error> {
    let mut groups: Vec<(&'static str, Vec<&[Bind]>)> = Vec::new();
    for p in projections {
        for (sql, binds) in &p.rows {
            match groups.iter_mut().find(|(s, _)| s == sql) {
                Some((_, rows)) => rows.push(binds),
                None => groups.push((sql, vec![binds])),
            }
        }
    }
    for (sql, rows) in groups {
        let width = rows[0].len();
        let per = (crate::MAX_BINDS / width.max(1)).max(1);
        match (rows.len() > 1).then(|| values_tuple(sql, width)).flatten() {
            Some((head, tail)) => {
                for chunk in rows.chunks(per) {
                    let text = format!("{head}{}{tail}", tuples(chunk.len(), width));
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(text));
                    for b in chunk.iter().flat_map(|r| r.iter()) {
                        q = bind(q, b, now);
                    }
                    q.execute(&mut **tx).await?;
                }
            }
            None => {
                for binds in rows {
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for b in binds {
                        q = bind(q, b, now);
                    }
                    q.execute(&mut **tx).await?;
                }
            }
        }
    }
    Ok(())
}

/// Splits `INSERT … VALUES ($1, …, $width) tail` around its one tuple, when it is exactly that.
fn values_tuple(sql: &str, width: usize) -> Option<(&str, &str)> {
    let open = sql.find("VALUES (")? + "VALUES ".len();
    let close = open + sql[open..].find(')')?;
    let inside: String = sql[open + 1..close]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let expected: Vec<String> = (1..=width).map(|i| format!("${i}")).collect();
    (inside == expected.join(",")).then(|| (&sql[..open], &sql[close + 1..]))
}

fn bind<'q>(
    q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    b: &'q Bind,
    now: &'q str,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    match b {
        Bind::Str(v) => q.bind(v.as_str()),
        Bind::OptStr(v) => q.bind(v.as_deref()),
        Bind::Int(v) => q.bind(*v),
        Bind::OptInt(v) => q.bind(*v),
        Bind::Float(v) => q.bind(*v),
        Bind::Now => q.bind(now),
    }
}

/// Computes and writes the projection of `doc`; returns its audience.
pub(crate) async fn write_projection(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    header: &Header,
    doc: &AutoCommit,
    now: &str,
) -> Result<Audience, Error> {
    let p = compute_projection(id, header, doc)?;
    write_rows_many(tx, std::slice::from_ref(&p), now).await?;
    Ok(p.audience)
}

pub(crate) async fn summaries_after(
    pool: &AnyPool,
    after: i64,
    limit: i64,
) -> Result<Vec<SummaryRow>, Error> {
    let rows = sqlx::query("SELECT * FROM summaries WHERE seq > $1 ORDER BY seq LIMIT $2")
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(summary_row).collect())
}

fn summary_row(r: AnyRow) -> SummaryRow {
    SummaryRow {
        owner: r.get("owner"),
        version: r.get("version"),
        period: r.get("period"),
        as_of: r.get("as_of"),
        body: r.get("body"),
        seq: r.get("seq"),
        received_at: r.get("received_at"),
    }
}

fn directive_row(r: AnyRow) -> DirectiveRow {
    let body: String = r.get("body");
    DirectiveRow {
        id: r.get("id"),
        issuer: r.get("issuer"),
        body: serde_json::from_str(&body).unwrap_or_default(),
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

    pub async fn directives(&self) -> Result<Vec<DirectiveRow>, Error> {
        let rows = sqlx::query("SELECT id, issuer, body FROM directives ORDER BY created DESC, id")
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(directive_row).collect())
    }

    /// Directives forwarded from directive `parent` that this node holds.
    pub async fn directives_forwarded_from(
        &self,
        parent: &str,
    ) -> Result<Vec<DirectiveRow>, Error> {
        let rows = sqlx::query("SELECT id, issuer, body FROM directives WHERE parent_directive = $1 ORDER BY created, id")
            .bind(parent)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(directive_row).collect())
    }

    /// Per directive: units, received, done, and overdue as of `today` (`YYYY-MM-DD`).
    pub async fn directive_totals(
        &self,
        today: &str,
    ) -> Result<std::collections::BTreeMap<String, DirectiveTotals>, Error> {
        let rows = sqlx::query(
            "SELECT directive_id, COUNT(*) AS n, CAST(COALESCE(SUM(received), 0) AS BIGINT) AS received,
             CAST(COALESCE(SUM(completed), 0) AS BIGINT) AS done,
             CAST(COALESCE(SUM(CASE WHEN completed = 0 AND overdue_after IS NOT NULL AND overdue_after < $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS overdue
             FROM directive_targets GROUP BY directive_id",
        )
        .bind(today)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let g = |k: &str| r_i64(&r, k) as u64;
                (
                    r.get::<String, _>("directive_id"),
                    DirectiveTotals {
                        units: g("n"),
                        received: g("received"),
                        done: g("done"),
                        overdue: g("overdue"),
                    },
                )
            })
            .collect())
    }

    pub async fn directive(&self, id: &str) -> Result<Option<DirectiveRow>, Error> {
        let row = sqlx::query("SELECT id, issuer, body FROM directives WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(directive_row))
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

    /// Directive counts for directives issued by `issuer`.
    pub async fn own_directive_counts(
        &self,
        issuer: &str,
        today: &str,
    ) -> Result<safemesh_model::summary::DirectiveCounts, Error> {
        let (issued,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM directives WHERE issuer = $1")
            .bind(issuer)
            .fetch_one(self.pool())
            .await?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(t.received), 0) AS BIGINT) AS received, CAST(COALESCE(SUM(t.completed), 0) AS BIGINT) AS completed,
             CAST(COALESCE(SUM(CASE WHEN t.completed = 0 AND t.overdue_after IS NOT NULL AND t.overdue_after < $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS overdue
             FROM directive_targets t JOIN directives d ON d.id = t.directive_id WHERE d.issuer = $1",
        )
        .bind(issuer)
        .bind(today)
        .fetch_one(self.pool())
        .await?;
        let g = |k: &str| -> u64 { r_i64(&row, k) as u64 };
        Ok(safemesh_model::summary::DirectiveCounts {
            issued: issued as u64,
            assignments: g("n"),
            received: g("received"),
            completed: g("completed"),
            overdue: g("overdue"),
        })
    }

    /// Accidents held, newest first; `within` limits them to an office's jurisdiction.
    pub async fn accidents(&self, within: Option<&str>) -> Result<Vec<serde_json::Value>, Error> {
        let rows = sqlx::query(
            "SELECT body FROM accidents WHERE (CAST($1 AS TEXT) IS NULL OR substr(owner, 1, length($1)) = $1)
             ORDER BY occurred_at DESC, id",
        )
        .bind(within)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| serde_json::from_str(&r.get::<String, _>("body")).unwrap_or_default())
            .collect())
    }

    pub async fn accident(&self, id: &str) -> Result<Option<serde_json::Value>, Error> {
        let row = sqlx::query("SELECT body FROM accidents WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| serde_json::from_str(&r.get::<String, _>("body")).unwrap_or_default()))
    }

    /// Accident counts of accidents registered by `owner`: by grade, and the year to `today` against the
    /// same part of last year (双下降).
    pub async fn own_accident_counts(
        &self,
        owner: &str,
        today: &str,
    ) -> Result<safemesh_model::summary::AccidentCounts, Error> {
        let rows = sqlx::query(
            "SELECT grade, substr(occurred_at, 1, 10) AS day, deaths, serious_injuries FROM accidents WHERE owner = $1",
        )
        .bind(owner)
        .fetch_all(self.pool())
        .await?;
        let year: i64 = today.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0);
        let month_day = today.get(4..).unwrap_or("");
        let mut c = safemesh_model::summary::AccidentCounts::default();
        for r in rows {
            let grade: String = r.get("grade");
            let day: String = r.get("day");
            let deaths: i64 = r.get("deaths");
            c.total += 1;
            c.deaths += deaths as u64;
            c.serious_injuries += r.get::<i64, _>("serious_injuries") as u64;
            let g = c.by_grade.entry(grade).or_default();
            g.count += 1;
            g.deaths += deaths as u64;
            let y: i64 = day.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0);
            let md = day.get(4..).unwrap_or("");
            if md <= month_day {
                if y == year {
                    c.this_year.count += 1;
                    c.this_year.deaths += deaths as u64;
                } else if y == year - 1 {
                    c.last_year_same_period.count += 1;
                    c.last_year_same_period.deaths += deaths as u64;
                }
            }
        }
        Ok(c)
    }

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

    /// The enterprise with this credit code, with the hazards and accidents this node holds for it.
    pub async fn enterprise(&self, credit_code: &str) -> Result<Option<serde_json::Value>, Error> {
        let row = sqlx::query(
            "SELECT body FROM enterprises WHERE credit_code = $1 ORDER BY created LIMIT 1",
        )
        .bind(credit_code)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut body: serde_json::Value =
            serde_json::from_str(&row.get::<String, _>("body")).unwrap_or_default();
        // Hazards and accidents link to their enterprise by credit code (kept in their bodies).
        let mut hazards = Vec::new();
        for h in self.hazards(&crate::HazardFilter::default()).await? {
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
        }
        Ok(Some(body))
    }

    /// Every summary held (this node's own and its descendants').
    pub async fn summaries(&self) -> Result<Vec<SummaryRow>, Error> {
        let rows = sqlx::query("SELECT * FROM summaries ORDER BY owner")
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(summary_row).collect())
    }

    /// The summaries of `parent`'s direct children (codes one level down under its prefix), without
    /// reading the rest: a province holds every descendant's summary, and its roll-up needs only its
    /// cities'.
    pub async fn child_summaries(
        &self,
        parent: &safemesh_model::AdminCode,
    ) -> Result<Vec<SummaryRow>, Error> {
        use safemesh_model::Level;
        let digits = match parent.level() {
            Level::Province => Level::City.digits(),
            Level::City => Level::County.digits(),
            Level::County => Level::Township.digits(),
            Level::Township => return Ok(Vec::new()),
        };
        let prefix = parent.as_str();
        let rows = sqlx::query(
            "SELECT * FROM summaries WHERE length(owner) = CAST($1 AS INTEGER)
             AND substr(owner, 1, CAST($2 AS INTEGER)) = $3 ORDER BY owner",
        )
        .bind(digits as i64)
        .bind(prefix.len() as i64)
        .bind(prefix)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(summary_row).collect())
    }

    pub async fn summary(&self, owner: &str) -> Result<Option<SummaryRow>, Error> {
        let row = sqlx::query("SELECT * FROM summaries WHERE owner = $1")
            .bind(owner)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(summary_row))
    }
}

fn r_i64(row: &AnyRow, k: &str) -> i64 {
    row.try_get::<i64, _>(k).unwrap_or(0)
}

impl crate::Writer {
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

#[cfg(test)]
mod tests {
    use super::values_tuple;

    #[test]
    fn an_insert_of_one_full_tuple_splits_around_it() {
        let sql = "INSERT INTO t (a, b, c) VALUES ($1, $2,\n $3) ON CONFLICT (a) DO NOTHING";
        assert_eq!(
            values_tuple(sql, 3),
            Some((
                "INSERT INTO t (a, b, c) VALUES ",
                " ON CONFLICT (a) DO NOTHING"
            ))
        );
    }

    #[test]
    fn anything_else_runs_row_by_row() {
        // Fewer binds than the tuple names, a tuple out of order, a constant in it, no tuple at all.
        assert_eq!(values_tuple("INSERT INTO t VALUES ($1, $2, $3)", 2), None);
        assert_eq!(values_tuple("INSERT INTO t VALUES ($2, $1)", 2), None);
        assert_eq!(values_tuple("INSERT INTO t VALUES ($1, 0)", 1), None);
        assert_eq!(values_tuple("DELETE FROM t WHERE a = $1", 1), None);
    }
}
