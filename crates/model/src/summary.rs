//! 汇总 — the roll-up summary a node publishes to every ancestor: per record kind, counts over the
//! node and its subtree (an office's are its own records' plus its direct children's summaries', each
//! kind's counts type has its `add`). The body is stored and sent as JSON, so each kind's counts are
//! a named field of [`SummaryBody`] (absent in summaries from builds before the kind), added up in
//! [`SummaryBody::add_child`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::accident::CountDeaths;

/// Hazard counts over some scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HazardCounts {
    pub total: u64,
    /// 未销号 — not closed (whatever its status: 未整改, 整改中 or 待验收). Not the status `open`
    /// (未整改): one word, one meaning. Read from `open` in summaries of older builds (a stored and
    /// sent format).
    #[serde(alias = "open")]
    pub unclosed: u64,
    /// 已销号.
    pub closed: u64,
    pub major: u64,
    pub overdue: u64,
    pub by_sector: BTreeMap<String, u64>,
    #[serde(default)]
    pub by_status: BTreeMap<String, u64>,
    /// By grade (`major`, `general`).
    #[serde(default)]
    pub by_grade: BTreeMap<String, u64>,
    /// By channel (`enterprise_self_report`, `inspection`, `public_report`).
    #[serde(default)]
    pub by_channel: BTreeMap<String, u64>,
    /// 挂牌督办 — listed for supervision and not closed.
    #[serde(default)]
    pub supervised: u64,
    /// 本月新增 — registered in the summary's calendar month (China time).
    #[serde(default)]
    pub this_month: u64,
    /// 已延期 — hazards with at least one approved extension (延期).
    #[serde(default)]
    pub extended: u64,
    /// 临期 — not closed, not overdue, due within the owner node's warning days.
    #[serde(default)]
    pub due_soon: u64,
}

impl HazardCounts {
    /// Adds another office's counts (a child's summary) to these.
    pub fn add(&mut self, o: &HazardCounts) {
        self.total = self.total.saturating_add(o.total);
        self.unclosed = self.unclosed.saturating_add(o.unclosed);
        self.closed = self.closed.saturating_add(o.closed);
        self.major = self.major.saturating_add(o.major);
        self.overdue = self.overdue.saturating_add(o.overdue);
        for (k, v) in &o.by_sector {
            let e = self.by_sector.entry(k.clone()).or_default();
            *e = e.saturating_add(*v);
        }
        for (k, v) in &o.by_status {
            let e = self.by_status.entry(k.clone()).or_default();
            *e = e.saturating_add(*v);
        }
        for (k, v) in &o.by_grade {
            let e = self.by_grade.entry(k.clone()).or_default();
            *e = e.saturating_add(*v);
        }
        for (k, v) in &o.by_channel {
            let e = self.by_channel.entry(k.clone()).or_default();
            *e = e.saturating_add(*v);
        }
        self.supervised = self.supervised.saturating_add(o.supervised);
        self.this_month = self.this_month.saturating_add(o.this_month);
        self.extended = self.extended.saturating_add(o.extended);
        self.due_soon = self.due_soon.saturating_add(o.due_soon);
    }

    /// What a received summary may claim of its hazards: no part larger than the whole.
    pub fn check(&self) -> Result<(), String> {
        let parts = [
            ("unclosed", self.unclosed),
            ("closed", self.closed),
            ("major", self.major),
            ("overdue", self.overdue),
            ("supervised", self.supervised),
            ("this_month", self.this_month),
            ("extended", self.extended),
            ("due_soon", self.due_soon),
        ];
        for (name, n) in parts {
            if n > self.total {
                return Err(format!("{name} {n} > total {}", self.total));
            }
        }
        for (name, map) in [
            ("by_sector", &self.by_sector),
            ("by_status", &self.by_status),
            ("by_grade", &self.by_grade),
            ("by_channel", &self.by_channel),
        ] {
            let sum = map.values().fold(0u64, |a, v| a.saturating_add(*v));
            if sum > self.total {
                return Err(format!("{name} adds up to {sum} > total {}", self.total));
            }
        }
        Ok(())
    }

    /// 整改率 — closed over total, in percent with one decimal (100 when there is nothing to rectify).
    pub fn rectification_rate(&self) -> f64 {
        if self.total == 0 {
            return 100.0;
        }
        (self.closed as f64 * 1000.0 / self.total as f64).round() / 10.0
    }
}

/// Directive counts over some scope: issued by offices in scope, and responses owed by them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DirectiveCounts {
    /// Directives issued.
    pub issued: u64,
    /// (directive, target) pairs assigned.
    pub assignments: u64,
    /// 已签收
    pub received: u64,
    /// 已办结 — completions the issuer approved (and those of directives issued before review).
    pub completed: u64,
    /// 待审核 — completions awaiting the issuer's review: not 办结, not overdue.
    pub awaiting_review: u64,
    /// Assignments past deadline and not completed.
    pub overdue: u64,
    /// 临期 — not completed, not overdue, next due within the owner node's warning days.
    pub due_soon: u64,
}

impl DirectiveCounts {
    /// Adds another office's counts (a child's summary) to these.
    pub fn add(&mut self, o: &DirectiveCounts) {
        self.issued = self.issued.saturating_add(o.issued);
        self.assignments = self.assignments.saturating_add(o.assignments);
        self.received = self.received.saturating_add(o.received);
        self.completed = self.completed.saturating_add(o.completed);
        self.awaiting_review = self.awaiting_review.saturating_add(o.awaiting_review);
        self.overdue = self.overdue.saturating_add(o.overdue);
        self.due_soon = self.due_soon.saturating_add(o.due_soon);
    }
}

/// 事故统计 — accident counts over some scope, of one calendar year (China time): what the 双下降
/// assessment counts (seed 001: “确保事故起数和死亡人数‘双下降’”, year on year).
///
/// `total`, `deaths`, `serious_injuries` and `by_grade` count the accidents of [`Self::year`] (before
/// this field, they counted every accident ever registered: a summary from an older build has
/// `year` 0, and its totals are not added to a year's — [`Self::add`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccidentCounts {
    /// 统计年度 — the year counted: the year of the summary's day, China time (0: an older build's
    /// all-time totals).
    pub year: i32,
    /// 本年事故起数.
    pub total: u64,
    /// 本年死亡人数.
    pub deaths: u64,
    /// 本年重伤人数.
    pub serious_injuries: u64,
    /// This year's by grade (`general`, `larger`, `major`, `especially_major`).
    pub by_grade: BTreeMap<String, CountDeaths>,
    /// From 1 January to the day of the summary.
    pub this_year: CountDeaths,
    /// The same days of last year.
    pub last_year_same_period: CountDeaths,
}

impl AccidentCounts {
    /// Adds another office's counts (a child's summary) to these. The year's totals only when the
    /// child counted the same year: not an older build's all-time totals (`year` 0), nor last year's
    /// of a summary made before New Year's Day.
    pub fn add(&mut self, o: &AccidentCounts) {
        if o.year == self.year {
            self.total = self.total.saturating_add(o.total);
            self.deaths = self.deaths.saturating_add(o.deaths);
            self.serious_injuries = self.serious_injuries.saturating_add(o.serious_injuries);
            for (k, v) in &o.by_grade {
                self.by_grade.entry(k.clone()).or_default().add(v);
            }
        }
        self.this_year.add(&o.this_year);
        self.last_year_same_period.add(&o.last_year_same_period);
    }

    /// 双下降: fewer accidents and fewer deaths than the same period last year.
    pub fn double_decline(&self) -> bool {
        self.this_year.count < self.last_year_same_period.count
            && self.this_year.deaths < self.last_year_same_period.deaths
    }
}

/// A node's published summary: its own records plus its children's latest summaries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SummaryBody {
    /// 功能区的上级 — the publishing office's configured parent when it is a functional zone whose
    /// parent is not its code's prefix parent ([`crate::Chain`]); absent otherwise. The summary
    /// travels up that chain, and that parent counts the zone as its own direct child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_parent: Option<crate::AdminCode>,
    /// The office's name as its node is configured (`name`), sent by a functional zone only: the
    /// division table has no name for a zone, so its parent's drill-down shows this one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub office_name: String,
    /// Counts over the node and its whole subtree.
    pub hazards: HazardCounts,
    pub directives: DirectiveCounts,
    /// Counts of the node's own records only.
    pub own_hazards: HazardCounts,
    /// Number of descendants whose summary is included.
    pub reporting_descendants: u64,
    /// Accidents over the node and its subtree (absent in summaries from older builds).
    #[serde(default)]
    pub accidents: AccidentCounts,
    /// 分期统计 — per-period figures over the node and its subtree, for the monthly report (absent in
    /// summaries from older builds).
    #[serde(default, skip_serializing_if = "crate::period::PeriodStats::is_empty")]
    pub periods: crate::period::PeriodStats,
}

impl SummaryBody {
    /// What a summary received from `owner`'s subtree may claim: each hazard count within its whole,
    /// the office's own hazards within its subtree's, and no reporting descendants below a township
    /// (a township has no subordinate offices). Refused otherwise (issue 19: summaries taken on trust).
    pub fn check(&self, owner: &crate::AdminCode) -> Result<(), String> {
        self.hazards.check().map_err(|e| format!("hazards: {e}"))?;
        self.own_hazards
            .check()
            .map_err(|e| format!("own_hazards: {e}"))?;
        if self.own_hazards.total > self.hazards.total {
            return Err(format!(
                "own_hazards.total {} > hazards.total {}",
                self.own_hazards.total, self.hazards.total
            ));
        }
        if owner.level() == crate::Level::Township && self.reporting_descendants > 0 {
            return Err(format!(
                "reporting_descendants {} of a township",
                self.reporting_descendants
            ));
        }
        if self.office_name.chars().count() > 100 {
            return Err("office_name longer than 100 characters".into());
        }
        Ok(())
    }

    /// Adds a direct child's summary: each kind's counts, and the offices reporting through it.
    pub fn add_child(&mut self, child: &SummaryBody) {
        self.hazards.add(&child.hazards);
        self.directives.add(&child.directives);
        self.accidents.add(&child.accidents);
        self.periods.add(&child.periods);
        self.reporting_descendants = self
            .reporting_descendants
            .saturating_add(child.reporting_descendants.saturating_add(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Forged counts cannot overflow an ancestor's roll-up (issue 19 #5): adding saturates.
    #[test]
    fn adding_a_childs_counts_saturates() {
        let mut mine = SummaryBody::default();
        mine.hazards.total = u64::MAX - 1;
        mine.hazards.by_sector.insert("x".into(), u64::MAX);
        mine.reporting_descendants = u64::MAX;
        let mut child = SummaryBody::default();
        child.hazards.total = 5;
        child.hazards.by_sector.insert("x".into(), 3);
        child.accidents.this_year.deaths = u64::MAX;
        mine.accidents.this_year.deaths = 2;
        mine.add_child(&child);
        assert_eq!(mine.hazards.total, u64::MAX);
        assert_eq!(mine.hazards.by_sector["x"], u64::MAX);
        assert_eq!(mine.reporting_descendants, u64::MAX);
        assert_eq!(mine.accidents.this_year.deaths, u64::MAX);
    }

    /// A year's totals add up only with the same year's: an older build's all-time totals (no
    /// `year`) and another year's are left out; the year-on-year figures add up all the same.
    #[test]
    fn accident_totals_add_up_per_year() {
        let mut mine = AccidentCounts {
            year: 2026,
            total: 1,
            deaths: 1,
            ..Default::default()
        };
        let same = AccidentCounts {
            year: 2026,
            total: 2,
            deaths: 3,
            this_year: CountDeaths {
                count: 2,
                deaths: 3,
            },
            ..Default::default()
        };
        let old: AccidentCounts =
            serde_json::from_str(r#"{"total":9,"deaths":9,"this_year":{"count":1,"deaths":0}}"#)
                .unwrap();
        assert_eq!(old.year, 0);
        let last_year = AccidentCounts {
            year: 2025,
            total: 5,
            ..Default::default()
        };
        for c in [&same, &old, &last_year] {
            mine.add(c);
        }
        assert_eq!((mine.year, mine.total, mine.deaths), (2026, 3, 4));
        assert_eq!((mine.this_year.count, mine.this_year.deaths), (3, 3));
    }

    /// `open` (未销号) was renamed `unclosed`: summaries stored or sent by older builds still read.
    #[test]
    fn the_old_name_of_unclosed_still_reads() {
        let old: HazardCounts = serde_json::from_str(r#"{"total":5,"open":3,"closed":2}"#).unwrap();
        assert_eq!((old.total, old.unclosed, old.closed), (5, 3, 2));
        let new = serde_json::to_value(&old).unwrap();
        assert_eq!(new["unclosed"], 3);
        assert!(new.get("open").is_none());
    }

    #[test]
    fn a_summary_body_from_an_older_or_smaller_build_still_reads() {
        let b: SummaryBody = serde_json::from_str(r#"{"hazards":{"total":3}}"#).unwrap();
        assert_eq!(b.hazards.total, 3);
        assert!(
            b.check(&crate::AdminCode::parse("530181006").unwrap())
                .is_ok()
        );
    }
}
