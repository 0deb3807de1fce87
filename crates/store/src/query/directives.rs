//! 指令 — directives as the API reads them: the list, one directive, those forwarded from another,
//! the per-directive totals over its units (targets and departments), and an issuer's counts for its
//! summary.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::Error;
use crate::store::Store;

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
    /// 已办结 (approved).
    pub done: u64,
    /// 待审核
    pub awaiting_review: u64,
    /// Past their due day as of the `today` asked for, not done.
    pub overdue: u64,
    /// 临期: next due from `today` to the `due_soon_until` asked for, not done.
    pub due_soon: u64,
}

impl Store {
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

    /// Per directive: units, received, done (办结), awaiting review, overdue as of `today` and 临期 up
    /// to `due_soon_until` (`YYYY-MM-DD`). `overdue_after` is NULL for a unit whose completion
    /// stands (待审核 or 办结), so neither counts it.
    pub async fn directive_totals(
        &self,
        today: &str,
        due_soon_until: &str,
    ) -> Result<std::collections::BTreeMap<String, DirectiveTotals>, Error> {
        let rows = sqlx::query(
            "SELECT directive_id, COUNT(*) AS n, CAST(COALESCE(SUM(received), 0) AS BIGINT) AS received,
             CAST(COALESCE(SUM(completed), 0) AS BIGINT) AS done,
             CAST(COALESCE(SUM(awaiting_review), 0) AS BIGINT) AS awaiting_review,
             CAST(COALESCE(SUM(CASE WHEN completed = 0 AND overdue_after IS NOT NULL AND overdue_after < $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS overdue,
             CAST(COALESCE(SUM(CASE WHEN completed = 0 AND overdue_after IS NOT NULL AND overdue_after >= $1 AND overdue_after <= $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS due_soon
             FROM directive_targets GROUP BY directive_id",
        )
        .bind(today)
        .bind(due_soon_until)
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
                        awaiting_review: g("awaiting_review"),
                        overdue: g("overdue"),
                        due_soon: g("due_soon"),
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

    /// Directive counts for directives issued by `issuer`, overdue as of `today`, 临期 up to
    /// `due_soon_until`.
    pub async fn own_directive_counts(
        &self,
        issuer: &str,
        today: &str,
        due_soon_until: &str,
    ) -> Result<safemesh_model::summary::DirectiveCounts, Error> {
        let (issued,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM directives WHERE issuer = $1")
            .bind(issuer)
            .fetch_one(self.pool())
            .await?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(t.received), 0) AS BIGINT) AS received, CAST(COALESCE(SUM(t.completed), 0) AS BIGINT) AS completed,
             CAST(COALESCE(SUM(t.awaiting_review), 0) AS BIGINT) AS awaiting_review,
             CAST(COALESCE(SUM(CASE WHEN t.completed = 0 AND t.overdue_after IS NOT NULL AND t.overdue_after < $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS overdue,
             CAST(COALESCE(SUM(CASE WHEN t.completed = 0 AND t.overdue_after IS NOT NULL AND t.overdue_after >= $2 AND t.overdue_after <= $3 THEN 1 ELSE 0 END), 0) AS BIGINT) AS due_soon
             FROM directive_targets t JOIN directives d ON d.id = t.directive_id WHERE d.issuer = $1",
        )
        .bind(issuer)
        .bind(today)
        .bind(due_soon_until)
        .fetch_one(self.pool())
        .await?;
        let g = |k: &str| -> u64 { r_i64(&row, k) as u64 };
        Ok(safemesh_model::summary::DirectiveCounts {
            issued: issued as u64,
            assignments: g("n"),
            received: g("received"),
            completed: g("completed"),
            awaiting_review: g("awaiting_review"),
            overdue: g("overdue"),
            due_soon: g("due_soon"),
        })
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

fn r_i64(row: &AnyRow, k: &str) -> i64 {
    row.try_get::<i64, _>(k).unwrap_or(0)
}
