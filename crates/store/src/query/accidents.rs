//! 事故 — accidents as the API reads them: the list within a jurisdiction, one accident, and an
//! owner's counts for its summary (by grade; this year to date against the same part of last year).

use sqlx::Row;

use crate::error::Error;
use crate::store::Store;

impl Store {
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

    /// One page of [`Store::accidents`] (same order: `occurred_at` descending, then `id`): at most
    /// `limit` after skipping `offset`, and the count of all that match.
    pub async fn accidents_page(
        &self,
        within: Option<&str>,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<serde_json::Value>, u64), Error> {
        const WHERE: &str = "WHERE (CAST($1 AS TEXT) IS NULL OR substr(owner, 1, length($1)) = $1)";
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM accidents {WHERE}"
        )))
        .bind(within)
        .fetch_one(self.pool())
        .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT body FROM accidents {WHERE} ORDER BY occurred_at DESC, id LIMIT {limit} OFFSET {offset}"
        )))
        .bind(within)
        .fetch_all(self.pool())
        .await?;
        Ok((
            rows.into_iter()
                .map(|r| serde_json::from_str(&r.get::<String, _>("body")).unwrap_or_default())
                .collect(),
            total.max(0) as u64,
        ))
    }

    pub async fn accident(&self, id: &str) -> Result<Option<serde_json::Value>, Error> {
        let row = sqlx::query("SELECT body FROM accidents WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| serde_json::from_str(&r.get::<String, _>("body")).unwrap_or_default()))
    }

    /// Accident counts of accidents registered by `owner`: this year's (the year of `today`, China
    /// time) totals and by grade, and the year to `today` against the same part of last year (双下降).
    pub async fn own_accident_counts(
        &self,
        owner: &str,
        today: &str,
    ) -> Result<safemesh_model::summary::AccidentCounts, Error> {
        let rows = sqlx::query(
            "SELECT grade, occurred_at, deaths, serious_injuries FROM accidents WHERE owner = $1",
        )
        .bind(owner)
        .fetch_all(self.pool())
        .await?;
        let year: i64 = today.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0);
        let month_day = today.get(4..).unwrap_or("");
        let mut c = safemesh_model::summary::AccidentCounts {
            year: year as i32,
            ..Default::default()
        };
        for r in rows {
            let grade: String = r.get("grade");
            // An accident's day is its day in China time (an RFC 3339 instant late in the UTC day
            // is the next day in Beijing).
            let at: String = r.get("occurred_at");
            let day = safemesh_model::directive::deadline::day_of(&at)
                .map(safemesh_model::hazard::format_date)
                .unwrap_or_else(|| at.chars().take(10).collect());
            let deaths: i64 = r.get("deaths");
            let y: i64 = day.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0);
            if y == year {
                c.total += 1;
                c.deaths += deaths as u64;
                c.serious_injuries += r.get::<i64, _>("serious_injuries") as u64;
                let g = c.by_grade.entry(grade).or_default();
                g.count += 1;
                g.deaths += deaths as u64;
            }
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
}
