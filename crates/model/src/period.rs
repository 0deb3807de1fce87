//! 分期统计 — the per-period figures a summary carries, from which any month, quarter, year to date
//! (1月至本月累计) or year of the current or last year can be reported at any ancestor without asking
//! anyone.
//!
//! Hazards are kept as **cohorts**: those of one form row, grade and 存量/增量 found in one month. A cohort
//! holds how many were found (排查) and, per later month of the same year, how its figures (rectified,
//! planned, 五到位, listed for supervision, by a province, funds) *changed* by that month's end. The
//! figures of a period `[A, B]` are then: found in `A..=B`, and their state at the end of `B` (the sum of
//! the changes up to `B`) — "其中已整改" is a part of "排查", as on the form. Everything adds up across
//! offices (saturating), so an ancestor's summary is its own cohorts plus its children's.
//!
//! Bounded: hazards found in the current and last year, units per reportable range of those years,
//! accidents of the last three years (the comparison with the same period last year needs them).
//! 排查治理事故隐患的生产经营单位 (units) are distinct enterprises (by credit code) per reporting office,
//! added up the tree as the paper forms are.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::accident::CountDeaths;
use crate::hazard::{Grade, HazardEvent, Status, fold};
use crate::{AdminCode, Level};

pub mod form;
pub mod month;

pub use form::{GradeFigures, RowFigures};
pub use month::{Month, MonthRange, PeriodKind};

/// Years of hazards kept (the current one and the last).
pub const HAZARD_YEARS: i32 = 2;
/// Years of accidents kept (two before the current one: last year's report still has its 同期).
pub const ACCIDENT_YEARS: i32 = 3;

/// One hazard as the period figures need it.
#[derive(Debug, Clone, PartialEq)]
pub struct HazardFacts {
    /// Month of 发现日期.
    pub found: Month,
    /// The form row ([`form::form_row`]).
    pub row: String,
    pub grade: Grade,
    /// 存量 (else 增量).
    pub stock: bool,
    /// 统一社会信用代码 of the enterprise (empty: unknown, not counted among units).
    pub credit_code: String,
    /// The lifecycle events in document order.
    pub events: Vec<HazardEvent>,
}

impl HazardFacts {
    /// From a hazard's projected body (the ledger's JSON: `found_on`, `sector`, `sector_detail`,
    /// `grade`, `stock`, `enterprise.credit_code`, `events`). `None` if it lacks a found month or grade.
    pub fn from_body(body: &serde_json::Value) -> Option<HazardFacts> {
        let s = |k: &str| body.get(k).and_then(|v| v.as_str());
        let found = Month::of_day(s("found_on")?)?;
        let grade = Grade::parse(s("grade")?).ok()?;
        let events = body
            .get("events")
            .and_then(|e| e.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|e| serde_json::from_value::<HazardEvent>(e.clone()).ok())
                    .collect()
            })
            .unwrap_or_default();
        Some(HazardFacts {
            found,
            row: form::form_row(s("sector").unwrap_or("其他"), s("sector_detail")),
            grade,
            stock: s("stock") == Some("stock"),
            credit_code: body
                .pointer("/enterprise/credit_code")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .trim()
                .to_uppercase(),
            events,
        })
    }

    /// What the hazard counts for at the end of month `m`: its events recorded by then (China time;
    /// an event without a readable time counts from the month it was found), folded.
    pub fn at_end_of(&self, m: Month) -> Figures {
        let events: Vec<HazardEvent> = self
            .events
            .iter()
            .filter(|e| Month::of_instant(&e.at).is_none_or(|em| em <= m))
            .cloned()
            .collect();
        let d = fold(self.grade, &events);
        let major = self.grade == Grade::Major;
        let rectified = match self.grade {
            Grade::General => matches!(d.status, Status::PendingAcceptance | Status::Closed),
            Grade::Major => d.status == Status::Closed,
        };
        let province = d
            .supervising
            .as_ref()
            .is_some_and(|c| c.level() == Level::Province);
        Figures {
            rectified: rectified as i64,
            planned: (major && d.plan.is_some()) as i64,
            five_in_place: (major && d.plan.as_ref().is_some_and(|p| p.complete())) as i64,
            supervised: (major && d.supervising.is_some()) as i64,
            supervised_by_province: (major && province) as i64,
            funds_yuan: d
                .plan
                .as_ref()
                .map_or(0, |p| form::yuan_of_wan(p.funds_wan)),
        }
    }

    fn bucket(&self) -> String {
        bucket_key(&self.row, self.grade, self.stock)
    }
}

fn bucket_key(row: &str, grade: Grade, stock: bool) -> String {
    format!(
        "{row}|{}|{}",
        grade.as_str(),
        if stock { "stock" } else { "new" }
    )
}

fn parse_bucket(key: &str) -> Option<(&str, Grade, bool)> {
    let mut it = key.rsplitn(3, '|');
    let stock = it.next()? == "stock";
    let grade = Grade::parse(it.next()?).ok()?;
    Some((it.next()?, grade, stock))
}

/// One accident as the period figures need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccidentFacts {
    /// Month it occurred (China time).
    pub month: Month,
    /// `general`, `larger`, `major`, `especially_major`.
    pub grade: String,
    pub deaths: u64,
}

/// What hazards count for at a month's end, or how that changed over a month. Stored as a 6-array.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "[i64; 6]", into = "[i64; 6]")]
pub struct Figures {
    pub rectified: i64,
    pub planned: i64,
    pub five_in_place: i64,
    pub supervised: i64,
    pub supervised_by_province: i64,
    pub funds_yuan: i64,
}

impl From<[i64; 6]> for Figures {
    fn from(a: [i64; 6]) -> Figures {
        Figures {
            rectified: a[0],
            planned: a[1],
            five_in_place: a[2],
            supervised: a[3],
            supervised_by_province: a[4],
            funds_yuan: a[5],
        }
    }
}

impl From<Figures> for [i64; 6] {
    fn from(f: Figures) -> [i64; 6] {
        [
            f.rectified,
            f.planned,
            f.five_in_place,
            f.supervised,
            f.supervised_by_province,
            f.funds_yuan,
        ]
    }
}

impl Figures {
    fn zip(self, o: Figures, f: impl Fn(i64, i64) -> i64) -> Figures {
        let (a, b): ([i64; 6], [i64; 6]) = (self.into(), o.into());
        Figures::from(std::array::from_fn(|i| f(a[i], b[i])))
    }
    pub fn saturating_add(self, o: Figures) -> Figures {
        self.zip(o, i64::saturating_add)
    }
    pub fn saturating_sub(self, o: Figures) -> Figures {
        self.zip(o, i64::saturating_sub)
    }
    pub fn is_zero(&self) -> bool {
        *self == Figures::default()
    }
}

/// 队列 — hazards of one row, grade and 存量/增量 found in one month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cohort {
    /// 排查 — how many were found.
    #[serde(rename = "n")]
    pub found: u64,
    /// `YYYY-MM` → how the cohort's figures changed by that month's end (months of the found year).
    #[serde(rename = "d", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub changes: BTreeMap<String, Figures>,
}

impl Cohort {
    fn add(&mut self, o: &Cohort) {
        self.found = self.found.saturating_add(o.found);
        for (m, f) in &o.changes {
            let e = self.changes.entry(m.clone()).or_default();
            *e = e.saturating_add(*f);
            if e.is_zero() {
                self.changes.remove(m);
            }
        }
    }

    /// The figures at the end of month `to` (`YYYY-MM`).
    fn at_end_of(&self, to: &str) -> Figures {
        self.changes
            .range(..=to.to_string())
            .fold(Figures::default(), |acc, (_, f)| acc.saturating_add(*f))
    }
}

/// 分期统计 — the period figures of an office and its subtree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodStats {
    /// Found month `YYYY-MM` → `row|grade|stock` → cohort.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hazards: BTreeMap<String, BTreeMap<String, Cohort>>,
    /// Range `YYYY-MM..YYYY-MM` → row (and 合计) → enterprises with hazards found in the range.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub units: BTreeMap<String, BTreeMap<String, u64>>,
    /// Month `YYYY-MM` → accident grade → accidents and deaths.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accidents: BTreeMap<String, BTreeMap<String, CountDeaths>>,
}

fn first_hazard_month(now: Month) -> Month {
    Month {
        year: now.year - (HAZARD_YEARS - 1),
        month: 1,
    }
}

fn first_accident_month(now: Month) -> Month {
    Month {
        year: now.year - (ACCIDENT_YEARS - 1),
        month: 1,
    }
}

impl PeriodStats {
    pub fn is_empty(&self) -> bool {
        self.hazards.is_empty() && self.units.is_empty() && self.accidents.is_empty()
    }

    /// The figures of one office's own records, as of month `now` (China time).
    pub fn own(hazards: &[HazardFacts], accidents: &[AccidentFacts], now: Month) -> PeriodStats {
        let first = first_hazard_month(now);
        let mut s = PeriodStats::default();
        let mut units: BTreeMap<String, BTreeMap<String, BTreeSet<&str>>> = BTreeMap::new();
        let ranges: Vec<MonthRange> = (first.year..=now.year)
            .flat_map(MonthRange::all_in_year)
            .collect();
        for h in hazards.iter().filter(|h| h.found >= first) {
            let cohort = s
                .hazards
                .entry(h.found.key())
                .or_default()
                .entry(h.bucket())
                .or_default();
            cohort.found += 1;
            let last = Month {
                year: h.found.year,
                month: 12,
            }
            .min(now);
            let mut before = Figures::default();
            let mut m = h.found;
            while m <= last {
                let at = h.at_end_of(m);
                let change = at.saturating_sub(before);
                if !change.is_zero() {
                    let e = cohort.changes.entry(m.key()).or_default();
                    *e = e.saturating_add(change);
                }
                before = at;
                m = m.next();
            }
            if !h.credit_code.is_empty() {
                for r in ranges.iter().filter(|r| r.contains(h.found)) {
                    let by_row = units.entry(r.key()).or_default();
                    for row in [h.row.as_str(), form::TOTAL_ROW] {
                        by_row
                            .entry(row.to_string())
                            .or_default()
                            .insert(&h.credit_code);
                    }
                }
            }
        }
        s.units = units
            .into_iter()
            .map(|(k, rows)| {
                (
                    k,
                    rows.into_iter()
                        .map(|(row, set)| (row, set.len() as u64))
                        .collect(),
                )
            })
            .collect();
        let first_acc = first_accident_month(now);
        for a in accidents.iter().filter(|a| a.month >= first_acc) {
            let e = s
                .accidents
                .entry(a.month.key())
                .or_default()
                .entry(a.grade.clone())
                .or_default();
            e.count = e.count.saturating_add(1);
            e.deaths = e.deaths.saturating_add(a.deaths);
        }
        s
    }

    /// Adds another office's figures (a child's summary) to these.
    pub fn add(&mut self, o: &PeriodStats) {
        for (m, cohorts) in &o.hazards {
            let mine = self.hazards.entry(m.clone()).or_default();
            for (k, c) in cohorts {
                mine.entry(k.clone()).or_default().add(c);
            }
        }
        for (r, rows) in &o.units {
            let mine = self.units.entry(r.clone()).or_default();
            for (row, n) in rows {
                let e = mine.entry(row.clone()).or_default();
                *e = e.saturating_add(*n);
            }
        }
        for (m, grades) in &o.accidents {
            let mine = self.accidents.entry(m.clone()).or_default();
            for (g, c) in grades {
                let e = mine.entry(g.clone()).or_default();
                e.count = e.count.saturating_add(c.count);
                e.deaths = e.deaths.saturating_add(c.deaths);
            }
        }
    }

    /// Drops what falls out of the kept years as of month `now` (what a child computed last year).
    pub fn retain_window(&mut self, now: Month) {
        let first = first_hazard_month(now).key();
        self.hazards.retain(|m, _| *m >= first);
        self.units.retain(|r, _| *r >= first);
        let first_acc = first_accident_month(now).key();
        self.accidents.retain(|m, _| *m >= first_acc);
    }

    /// The form's rows over `range`: hazards found in it, as at its last month's end. Rows with nothing
    /// found are left out; 合计 is not among them (see [`PeriodStats::total_units`]).
    pub fn rows(&self, range: &MonthRange) -> BTreeMap<String, RowFigures> {
        let mut out: BTreeMap<String, RowFigures> = BTreeMap::new();
        let to = range.to.key();
        for m in range.months() {
            let Some(cohorts) = self.hazards.get(&m.key()) else {
                continue;
            };
            for (key, c) in cohorts {
                let Some((row, grade, stock)) = parse_bucket(key) else {
                    continue;
                };
                let f = c.at_end_of(&to);
                let g = GradeFigures {
                    found: c.found,
                    rectified: f.rectified.max(0) as u64,
                    planned: f.planned.max(0) as u64,
                    five_in_place: f.five_in_place.max(0) as u64,
                    supervised: f.supervised.max(0) as u64,
                    supervised_by_province: f.supervised_by_province.max(0) as u64,
                    funds_yuan: f.funds_yuan.max(0),
                };
                let r = out.entry(row.to_string()).or_default();
                match grade {
                    Grade::General => r.general.add(&g),
                    Grade::Major => r.major.add(&g),
                }
                if stock {
                    r.stock.add(&g);
                } else {
                    r.new.add(&g);
                }
            }
        }
        if let Some(units) = self.units.get(&range.key()) {
            for (row, n) in units {
                if row != form::TOTAL_ROW {
                    out.entry(row.clone()).or_default().units = *n;
                }
            }
        }
        out
    }

    /// 合计 of units over `range`: enterprises with hazards in any row, once each per office.
    pub fn total_units(&self, range: &MonthRange) -> u64 {
        self.units
            .get(&range.key())
            .and_then(|u| u.get(form::TOTAL_ROW))
            .copied()
            .unwrap_or(0)
    }

    /// Accidents by grade over `range`.
    pub fn accidents_in(&self, range: &MonthRange) -> BTreeMap<String, CountDeaths> {
        let mut out: BTreeMap<String, CountDeaths> = BTreeMap::new();
        for m in range.months() {
            for (g, c) in self.accidents.get(&m.key()).into_iter().flatten() {
                let e = out.entry(g.clone()).or_default();
                e.count = e.count.saturating_add(c.count);
                e.deaths = e.deaths.saturating_add(c.deaths);
            }
        }
        out
    }
}

/// 复核 — the same figures counted directly from records (owner, hazard), without cohorts: what a clerk
/// would count by hand, and what the property tests hold [`PeriodStats`] to. `units` is the 合计 of units.
pub fn recount(
    records: &[(AdminCode, HazardFacts)],
    range: &MonthRange,
) -> (BTreeMap<String, RowFigures>, u64) {
    let mut rows: BTreeMap<String, RowFigures> = BTreeMap::new();
    let mut units: BTreeMap<(&AdminCode, &str), BTreeSet<&str>> = BTreeMap::new();
    for (owner, h) in records.iter().filter(|(_, h)| range.contains(h.found)) {
        let f = h.at_end_of(range.to);
        let g = GradeFigures {
            found: 1,
            rectified: f.rectified as u64,
            planned: f.planned as u64,
            five_in_place: f.five_in_place as u64,
            supervised: f.supervised as u64,
            supervised_by_province: f.supervised_by_province as u64,
            funds_yuan: f.funds_yuan,
        };
        let r = rows.entry(h.row.clone()).or_default();
        match h.grade {
            Grade::General => r.general.add(&g),
            Grade::Major => r.major.add(&g),
        }
        if h.stock {
            r.stock.add(&g);
        } else {
            r.new.add(&g);
        }
        if !h.credit_code.is_empty() {
            for row in [h.row.as_str(), form::TOTAL_ROW] {
                units
                    .entry((owner, row))
                    .or_default()
                    .insert(&h.credit_code);
            }
        }
    }
    let mut total = 0;
    for ((_, row), set) in units {
        if row == form::TOTAL_ROW {
            total += set.len() as u64;
        } else if let Some(r) = rows.get_mut(row) {
            r.units += set.len() as u64;
        }
    }
    (rows, total)
}
