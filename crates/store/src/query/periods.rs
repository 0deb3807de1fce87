//! 分期统计 — an owner's own records as the period figures of its summary need them: hazards found in
//! the kept years (with their events, from the projected body) and accidents by month.

use safemesh_model::period::{AccidentFacts, HazardFacts, Month, PeriodStats};
use sqlx::Row;

use crate::error::Error;
use crate::store::Store;

impl Store {
    /// The period figures of the records `owner` holds as its own, as of month `now` (China time).
    pub async fn own_period_stats(&self, owner: &str, now: Month) -> Result<PeriodStats, Error> {
        let since = format!(
            "{:04}-01-01",
            now.year - (safemesh_model::period::HAZARD_YEARS - 1)
        );
        let rows = sqlx::query("SELECT body FROM hazards WHERE owner = $1 AND found_on >= $2")
            .bind(owner)
            .bind(&since)
            .fetch_all(self.pool())
            .await?;
        let hazards: Vec<HazardFacts> = rows
            .iter()
            .filter_map(|r| {
                let body: String = r.get("body");
                let v: serde_json::Value = serde_json::from_str(&body).ok()?;
                HazardFacts::from_body(&v)
            })
            .collect();
        let rows = sqlx::query("SELECT occurred_at, grade, deaths FROM accidents WHERE owner = $1")
            .bind(owner)
            .fetch_all(self.pool())
            .await?;
        let accidents: Vec<AccidentFacts> = rows
            .iter()
            .filter_map(|r| {
                let at: String = r.get("occurred_at");
                Some(AccidentFacts {
                    month: Month::of_day(&at)?,
                    grade: r.get("grade"),
                    deaths: r.get::<i64, _>("deaths").max(0) as u64,
                })
            })
            .collect();
        Ok(PeriodStats::own(&hazards, &accidents, now))
    }
}
