//! 完成时限与报送周期 — deadline kinds, reporting cadences, and the one overdue / next-report rule.
//!
//! The rule, for the whole system: a target is **overdue** (逾期) when the day something was due on has
//! passed — due today is not overdue — and it is not done; done (已完成) is never overdue. What is due
//! is the earlier of the next deadline day (the date, the next milestone not yet met, the event date
//! plus N days) and the next report day of the cadence. Both depend only on the document (reports,
//! milestones met, the event date), never on today, so the day a target turns overdue can be
//! projected and compared with today in SQL.

use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month};

use crate::Error;
use crate::hazard::{format_date, parse_date};

/// 完成时限 — when a directive is due, in one of four kinds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Deadline {
    /// 限期完成 — one date (`YYYY-MM-DD`).
    Date { date: String },
    /// 分阶段 — dated milestones, e.g. 6月底前 / 12月底前. Each is met by a progress report naming it.
    Milestones { milestones: Vec<Milestone> },
    /// 事件后限期 — `days` days after an event (事故发生60日内): a date once the event's date is recorded.
    AfterEvent {
        /// 事件 — e.g. 事故发生.
        event: String,
        days: u32,
        /// 事件发生日期, recorded by the issuer when it is known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event_date: Option<String>,
    },
    /// 常态化 — ongoing; progress is reported on the cadence, optionally until a date.
    Ongoing {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
    },
}

/// 节点 — one dated milestone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestone {
    /// 名称, e.g. 6月底前.
    pub label: String,
    /// `YYYY-MM-DD`
    pub date: String,
}

/// 报送周期 — how often targets report progress. `day` is the day of the month reports are due by;
/// none means the month's last day (月底前). A day past the month's end means its last day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "every", rename_all = "snake_case")]
pub enum Cadence {
    /// 每月 — by `day` of every month.
    Monthly {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        day: Option<u8>,
    },
    /// 每季度 — by `day` of March, June, September and December.
    Quarterly {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        day: Option<u8>,
    },
    /// 每半年 — by `day` of June and December.
    HalfYearly {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        day: Option<u8>,
    },
    /// 每年 — by `day` of `month` (default December).
    Yearly {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        month: Option<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        day: Option<u8>,
    },
}

/// What a target is due for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueFor {
    /// 完成时限
    Deadline,
    /// 阶段节点
    Milestone,
    /// 定期报送
    Report,
}

/// One target's position against the deadline and cadence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetDue {
    /// The next deadline day (date, next milestone not met, event date + days); none when done,
    /// ongoing, or the event date is not known yet.
    pub due: Option<Date>,
    /// The label of that milestone, when it is one.
    pub milestone: Option<String>,
    /// 下次报送 — the next day a report is due: by the cadence, else the next deadline day.
    pub next_report_due: Option<Date>,
    /// The day after which the target is overdue: the earlier of `due` and the cadence's next day.
    pub overdue_after: Option<Date>,
    pub due_for: Option<DueFor>,
}

impl TargetDue {
    /// 逾期 — the one rule: past the due day, not done.
    pub fn overdue(&self, today: Date) -> bool {
        is_overdue(self.overdue_after, today)
    }

    /// 临期 — not done, not overdue, and the next day something is due (the deadline day or the next
    /// report day, whichever is earlier) within `days` days of today (due today counts), the same rule
    /// and the same per-node N (`[hazards] due_soon_days`) as a hazard's. Done targets have no due day.
    pub fn due_soon(&self, today: Date, days: u32) -> bool {
        is_due_soon(self.overdue_after, today, days)
    }
}

/// 临期规则 — a due day from today to `days` days after it.
pub fn is_due_soon(due: Option<Date>, today: Date, days: u32) -> bool {
    due.is_some_and(|d| d >= today && (d - today).whole_days() <= i64::from(days))
}

/// 逾期规则 — past the due day; due today is not overdue. (Done targets have no due day.)
pub fn is_overdue(due: Option<Date>, today: Date) -> bool {
    due.is_some_and(|d| today > d)
}

/// What the rule needs to know about one target.
#[derive(Debug, Clone, Default)]
pub struct TargetProgress<'a> {
    /// The day reporting starts from: the directive's issue day.
    pub start: Option<Date>,
    /// 已完成
    pub done: bool,
    /// The day of the last report (签收 excluded: it is not a progress report).
    pub last_report: Option<Date>,
    /// The days of every report, in order (签收 excluded). Empty: only `last_report` is known.
    pub reports: Vec<Date>,
    /// Labels of the milestones reported met.
    pub milestones_met: &'a [String],
}

impl Deadline {
    /// Checks dates, labels and numbers, naming the field under `field` (`deadline`).
    pub fn validate(&self, field: &str) -> Result<(), Error> {
        match self {
            Deadline::Date { date } => {
                parse_date(&format!("{field}.date"), date)?;
            }
            Deadline::Milestones { milestones } => {
                if milestones.is_empty() {
                    return Err(Error::invalid(
                        format!("{field}.milestones"),
                        "至少一个阶段节点 / at least one milestone is required",
                    ));
                }
                if milestones.len() > 24 {
                    return Err(Error::invalid(
                        format!("{field}.milestones"),
                        "阶段节点不能超过 24 个 / at most 24 milestones",
                    ));
                }
                let mut prev: Option<Date> = None;
                for (i, m) in milestones.iter().enumerate() {
                    let f = format!("{field}.milestones[{i}]");
                    let d = parse_date(&format!("{f}.date"), &m.date)?;
                    let label = m.label.trim();
                    if label.is_empty() || label.chars().count() > 50 {
                        return Err(Error::invalid(
                            format!("{f}.label"),
                            "节点名称必填，不超过 50 字 / label is required, at most 50 characters",
                        ));
                    }
                    if milestones[..i].iter().any(|o| o.label.trim() == label) {
                        return Err(Error::invalid(
                            format!("{f}.label"),
                            format!("节点名称重复：{label} / duplicate milestone label {label}"),
                        ));
                    }
                    if prev.is_some_and(|p| d <= p) {
                        return Err(Error::invalid(
                            format!("{f}.date"),
                            "阶段节点应按日期先后排列 / milestones must be in date order",
                        ));
                    }
                    prev = Some(d);
                }
            }
            Deadline::AfterEvent {
                event,
                days,
                event_date,
            } => {
                let e = event.trim();
                if e.is_empty() || e.chars().count() > 50 {
                    return Err(Error::invalid(
                        format!("{field}.event"),
                        "事件名称必填，不超过 50 字 / event is required, at most 50 characters",
                    ));
                }
                if !(1..=3650).contains(days) {
                    return Err(Error::invalid(
                        format!("{field}.days"),
                        "天数应在 1 到 3650 之间 / days must be between 1 and 3650",
                    ));
                }
                if let Some(d) = event_date {
                    parse_date(&format!("{field}.event_date"), d)?;
                }
            }
            Deadline::Ongoing { until } => {
                if let Some(u) = until {
                    parse_date(&format!("{field}.until"), u)?;
                }
            }
        }
        Ok(())
    }

    /// The final day of the directive, if it has one: the date, the last milestone, the event date
    /// plus the days. Ongoing directives have none.
    pub fn final_day(&self) -> Option<Date> {
        match self {
            Deadline::Date { date } => day(date),
            Deadline::Milestones { milestones } => {
                milestones.iter().filter_map(|m| day(&m.date)).max()
            }
            Deadline::AfterEvent {
                days, event_date, ..
            } => event_date
                .as_deref()
                .and_then(day)
                .map(|d| d + Duration::days(i64::from(*days))),
            Deadline::Ongoing { .. } => None,
        }
    }

    /// 中文说明, e.g. `2026-12-31前`, `6月底前（2024-06-30）；12月底前（2025-12-31）`, `事故发生后60日内`.
    pub fn describe_zh(&self) -> String {
        match self {
            Deadline::Date { date } => format!("{date}前"),
            Deadline::Milestones { milestones } => milestones
                .iter()
                .map(|m| format!("{}（{}）", m.label, m.date))
                .collect::<Vec<_>>()
                .join("；"),
            Deadline::AfterEvent {
                event,
                days,
                event_date,
            } => match event_date {
                Some(d) => format!("{event}后{days}日内（{event}于{d}）"),
                None => format!("{event}后{days}日内（事件日期未登记）"),
            },
            Deadline::Ongoing { until: Some(u) } => format!("常态化（至{u}）"),
            Deadline::Ongoing { until: None } => "常态化".to_string(),
        }
    }

    /// One target's due days, as the rule in this module's doc says.
    pub fn due_for(&self, cadence: Option<&Cadence>, p: &TargetProgress<'_>) -> TargetDue {
        if p.done {
            return TargetDue::default();
        }
        let (due, milestone) = match self {
            Deadline::Milestones { milestones } => {
                let next = milestones
                    .iter()
                    .filter(|m| !p.milestones_met.iter().any(|l| l.trim() == m.label.trim()))
                    .filter_map(|m| Some((day(&m.date)?, m.label.clone())))
                    .min_by_key(|(d, _)| *d);
                match next {
                    Some((d, l)) => (Some(d), Some(l)),
                    None => (None, None),
                }
            }
            Deadline::Ongoing { .. } => (None, None),
            _ => (self.final_day(), None),
        };
        let until = match self {
            Deadline::Ongoing { until } => until.as_deref().and_then(day),
            _ => self.final_day(),
        };
        let report = match (cadence, p.start) {
            (Some(c), Some(start)) => {
                let mut reports = if p.reports.is_empty() {
                    p.last_report.into_iter().collect()
                } else {
                    p.reports.clone()
                };
                reports.sort();
                c.first_unmet(start, &reports, until)
            }
            (Some(c), None) => p
                .last_report
                .and_then(|r| c.next_after(r))
                .filter(|d| until.is_none_or(|u| *d <= u)),
            _ => None,
        };
        let next_report_due = match (report, due) {
            (Some(r), Some(d)) => Some(r.min(d)),
            (r, d) => r.or(d),
        };
        let (overdue_after, due_for) = match (due, report) {
            (Some(d), Some(r)) if r < d => (Some(r), Some(DueFor::Report)),
            (Some(d), _) => (
                Some(d),
                Some(if milestone.is_some() {
                    DueFor::Milestone
                } else {
                    DueFor::Deadline
                }),
            ),
            (None, Some(r)) => (Some(r), Some(DueFor::Report)),
            (None, None) => (None, None),
        };
        TargetDue {
            due,
            milestone,
            next_report_due,
            overdue_after,
            due_for,
        }
    }
}

impl Cadence {
    pub fn validate(&self, field: &str) -> Result<(), Error> {
        let (month, day) = match self {
            Cadence::Monthly { day } | Cadence::Quarterly { day } | Cadence::HalfYearly { day } => {
                (None, *day)
            }
            Cadence::Yearly { month, day } => (*month, *day),
        };
        if let Some(d) = day
            && !(1..=31).contains(&d)
        {
            return Err(Error::invalid(
                format!("{field}.day"),
                "日应在 1 到 31 之间 / day must be between 1 and 31",
            ));
        }
        if let Some(m) = month
            && !(1..=12).contains(&m)
        {
            return Err(Error::invalid(
                format!("{field}.month"),
                "月应在 1 到 12 之间 / month must be between 1 and 12",
            ));
        }
        Ok(())
    }

    /// The months reports fall due in.
    fn months(&self) -> &'static [u8] {
        const ALL: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        const YEARLY: [[u8; 1]; 12] = [
            [1],
            [2],
            [3],
            [4],
            [5],
            [6],
            [7],
            [8],
            [9],
            [10],
            [11],
            [12],
        ];
        match self {
            Cadence::Monthly { .. } => &ALL,
            Cadence::Quarterly { .. } => &[3, 6, 9, 12],
            Cadence::HalfYearly { .. } => &[6, 12],
            Cadence::Yearly { month, .. } => {
                &YEARLY[(month.unwrap_or(12).clamp(1, 12) - 1) as usize]
            }
        }
    }

    fn day(&self) -> Option<u8> {
        match self {
            Cadence::Monthly { day }
            | Cadence::Quarterly { day }
            | Cadence::HalfYearly { day }
            | Cadence::Yearly { day, .. } => *day,
        }
    }

    /// The report day a target owes next (the "X日前" rule): the due days run from the first one after
    /// `start`; each is met by a report made in its window — after the previous due day, up to and
    /// including its own (a report on the 15th meets "每月17日前" for that month, and the unit is not
    /// due again until next month's 17th) — or, when its window had none, by the first report made
    /// after it (a late report meets the period it is late for). The first due day not met is owed;
    /// none once the reporting ends (`until`). `reports` is sorted.
    pub fn first_unmet(&self, start: Date, reports: &[Date], until: Option<Date>) -> Option<Date> {
        let mut used = 0;
        let mut due = self.next_after(start)?;
        // Bounded: a directive reporting monthly for 100 years.
        for _ in 0..1200 {
            if until.is_some_and(|u| due > u) {
                return None;
            }
            let before = used;
            while used < reports.len() && reports[used] <= due {
                used += 1;
            }
            if used == before {
                if used == reports.len() {
                    return Some(due);
                }
                used += 1;
            }
            due = self.next_after(due)?;
        }
        None
    }

    /// The first report day strictly after `after`: a report made on a due day counts for that day.
    pub fn next_after(&self, after: Date) -> Option<Date> {
        let (mut year, mut month) = (after.year(), after.month() as u8);
        for _ in 0..=24 {
            if self.months().contains(&month) {
                let m = Month::try_from(month).ok()?;
                let last = time::util::days_in_month(m, year);
                let d = self.day().map_or(last, |d| d.min(last));
                let candidate = Date::from_calendar_date(year, m, d).ok()?;
                if candidate > after {
                    return Some(candidate);
                }
            }
            if month == 12 {
                year += 1;
                month = 1;
            } else {
                month += 1;
            }
        }
        None
    }

    /// 中文说明, e.g. `每月25日前`, `每季度末月底前`, `每年12月31日前`.
    pub fn describe_zh(&self) -> String {
        let d = |day: Option<u8>| day.map_or("底前".to_string(), |d| format!("{d}日前"));
        match self {
            Cadence::Monthly { day } => format!("每月{}", d(*day)),
            Cadence::Quarterly { day } => format!("每季度末月{}", d(*day)),
            Cadence::HalfYearly { day } => format!("每半年（6月、12月）{}", d(*day)),
            Cadence::Yearly { month, day } => format!("每年{}月{}", month.unwrap_or(12), d(*day)),
        }
    }
}

fn day(s: &str) -> Option<Date> {
    parse_date("date", s).ok()
}

/// The calendar day (China Standard Time, UTC+8) of an RFC 3339 instant or a `YYYY-MM-DD` date.
pub fn day_of(at: &str) -> Option<Date> {
    crate::china::day_of_instant(at).or_else(|| day(at))
}

/// `YYYY-MM-DD`, for JSON.
pub fn date_str(d: Option<Date>) -> Option<String> {
    d.map(format_date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        parse_date("t", s).unwrap()
    }

    fn progress(start: &str) -> TargetProgress<'static> {
        TargetProgress {
            start: Some(d(start)),
            ..Default::default()
        }
    }

    #[test]
    fn due_today_is_not_overdue_and_the_day_after_is() {
        let dl = Deadline::Date {
            date: "2026-06-30".into(),
        };
        let due = dl.due_for(None, &progress("2026-01-05"));
        assert_eq!(due.due, Some(d("2026-06-30")));
        assert_eq!(due.next_report_due, Some(d("2026-06-30")));
        assert!(!due.overdue(d("2026-06-29")));
        assert!(!due.overdue(d("2026-06-30")));
        assert!(due.overdue(d("2026-07-01")));
    }

    #[test]
    fn due_soon_is_the_next_due_day_within_n_days_and_not_overdue() {
        // 临期, N = 3: due 2026-06-30 is 临期 from 06-27 to 06-30, not on 06-26, and not once overdue.
        let dl = Deadline::Date {
            date: "2026-06-30".into(),
        };
        let due = dl.due_for(None, &progress("2026-01-05"));
        assert!(!due.due_soon(d("2026-06-26"), 3));
        assert!(due.due_soon(d("2026-06-27"), 3));
        assert!(due.due_soon(d("2026-06-30"), 3), "due today is 临期");
        assert!(!due.due_soon(d("2026-07-01"), 3), "overdue is not 临期");
        assert!(due.due_soon(d("2026-06-26"), 4), "N is the node's");
        // A report day before the deadline is what falls due next.
        let c = Cadence::Monthly { day: Some(25) };
        let due = dl.due_for(Some(&c), &progress("2026-01-05"));
        assert!(
            due.due_soon(d("2026-01-23"), 3),
            "January's report on the 25th"
        );
        // Done: nothing is due.
        let p = TargetProgress {
            done: true,
            ..progress("2026-01-05")
        };
        assert!(!dl.due_for(None, &p).due_soon(d("2026-06-30"), 3));
    }

    #[test]
    fn done_is_never_overdue() {
        let dl = Deadline::Date {
            date: "2026-06-30".into(),
        };
        let p = TargetProgress {
            done: true,
            ..progress("2026-01-05")
        };
        let due = dl.due_for(Some(&Cadence::Monthly { day: Some(25) }), &p);
        assert_eq!(due, TargetDue::default());
        assert!(!due.overdue(d("2030-01-01")));
    }

    #[test]
    fn milestones_fall_due_in_turn_as_they_are_met() {
        let dl = Deadline::Milestones {
            milestones: vec![
                Milestone {
                    label: "6月底前".into(),
                    date: "2024-06-30".into(),
                },
                Milestone {
                    label: "12月底前".into(),
                    date: "2025-12-31".into(),
                },
            ],
        };
        let none: Vec<String> = Vec::new();
        let p = TargetProgress {
            milestones_met: &none,
            ..progress("2024-04-12")
        };
        let due = dl.due_for(None, &p);
        assert_eq!(due.due, Some(d("2024-06-30")));
        assert_eq!(due.milestone.as_deref(), Some("6月底前"));
        assert_eq!(due.due_for, Some(DueFor::Milestone));
        assert!(due.overdue(d("2024-07-01")));
        let met = vec!["6月底前".to_string()];
        let p = TargetProgress {
            milestones_met: &met,
            ..progress("2024-04-12")
        };
        let due = dl.due_for(None, &p);
        assert_eq!(due.due, Some(d("2025-12-31")));
        assert!(!due.overdue(d("2024-07-01")));
        assert_eq!(dl.final_day(), Some(d("2025-12-31")));
    }

    #[test]
    fn after_event_becomes_a_date_once_the_event_date_is_known() {
        let mut dl = Deadline::AfterEvent {
            event: "事故发生".into(),
            days: 60,
            event_date: None,
        };
        let due = dl.due_for(None, &progress("2026-03-01"));
        assert_eq!(due.due, None);
        assert!(!due.overdue(d("2099-01-01")));
        if let Deadline::AfterEvent { event_date, .. } = &mut dl {
            *event_date = Some("2026-03-14".into());
        }
        let due = dl.due_for(None, &progress("2026-03-01"));
        assert_eq!(due.due, Some(d("2026-05-13")), "60 days after 14 March");
        assert!(!due.overdue(d("2026-05-13")));
        assert!(due.overdue(d("2026-05-14")));
    }

    #[test]
    fn monthly_cadence_clamps_to_month_end_and_wraps_the_year() {
        let c = Cadence::Monthly { day: Some(31) };
        assert_eq!(c.next_after(d("2026-02-01")), Some(d("2026-02-28")));
        assert_eq!(
            c.next_after(d("2028-02-01")),
            Some(d("2028-02-29")),
            "leap year"
        );
        assert_eq!(c.next_after(d("2026-04-30")), Some(d("2026-05-31")));
        assert_eq!(c.next_after(d("2026-12-31")), Some(d("2027-01-31")));
        let c = Cadence::Monthly { day: Some(25) };
        assert_eq!(
            c.next_after(d("2026-12-25")),
            Some(d("2027-01-25")),
            "a report on the due day counts for it"
        );
        assert_eq!(c.next_after(d("2026-12-24")), Some(d("2026-12-25")));
        let end = Cadence::Monthly { day: None };
        assert_eq!(end.next_after(d("2026-01-31")), Some(d("2026-02-28")));
    }

    #[test]
    fn quarterly_half_yearly_and_yearly_cadences() {
        let q = Cadence::Quarterly { day: None };
        assert_eq!(q.next_after(d("2026-04-01")), Some(d("2026-06-30")));
        assert_eq!(q.next_after(d("2026-12-31")), Some(d("2027-03-31")));
        let q5 = Cadence::Quarterly { day: Some(5) };
        assert_eq!(q5.next_after(d("2026-09-05")), Some(d("2026-12-05")));
        let h = Cadence::HalfYearly { day: Some(30) };
        assert_eq!(h.next_after(d("2026-07-01")), Some(d("2026-12-30")));
        assert_eq!(h.next_after(d("2026-12-30")), Some(d("2027-06-30")));
        let y = Cadence::Yearly {
            month: None,
            day: None,
        };
        assert_eq!(y.next_after(d("2026-12-31")), Some(d("2027-12-31")));
        let y = Cadence::Yearly {
            month: Some(2),
            day: Some(30),
        };
        assert_eq!(y.next_after(d("2027-01-01")), Some(d("2027-02-28")));
    }

    #[test]
    fn ongoing_is_overdue_only_when_a_report_is_missed() {
        let dl = Deadline::Ongoing { until: None };
        let c = Cadence::Monthly { day: Some(25) };
        let due = dl.due_for(Some(&c), &progress("2026-01-10"));
        assert_eq!(due.due, None);
        assert_eq!(due.next_report_due, Some(d("2026-01-25")));
        assert_eq!(due.due_for, Some(DueFor::Report));
        assert!(!due.overdue(d("2026-01-25")));
        assert!(due.overdue(d("2026-01-26")));
        // A late report on 3 February covers January; February's is due on the 25th.
        let p = TargetProgress {
            last_report: Some(d("2026-02-03")),
            ..progress("2026-01-10")
        };
        let due = dl.due_for(Some(&c), &p);
        assert_eq!(due.next_report_due, Some(d("2026-02-25")));
        assert!(!due.overdue(d("2026-02-20")));
    }

    #[test]
    fn a_report_before_the_due_day_meets_that_period() {
        // 每月17日前报送 (seed 003): a report on the 15th is not due again on the 17th, nor overdue on
        // the 18th; the next is due on the 17th of next month.
        let dl = Deadline::Ongoing { until: None };
        let c = Cadence::Monthly { day: Some(17) };
        let p = TargetProgress {
            reports: vec![d("2026-01-15")],
            ..progress("2026-01-05")
        };
        let due = dl.due_for(Some(&c), &p);
        assert_eq!(due.next_report_due, Some(d("2026-02-17")));
        assert!(!due.overdue(d("2026-01-17")));
        assert!(!due.overdue(d("2026-01-18")));
        // Two reports in one window meet one period only.
        let p = TargetProgress {
            reports: vec![d("2026-01-15"), d("2026-01-16")],
            ..progress("2026-01-05")
        };
        assert_eq!(
            dl.due_for(Some(&c), &p).next_report_due,
            Some(d("2026-02-17"))
        );
        // A report on the due day meets it; one the day after is late for it (January met late),
        // February's stays due on the 17th.
        for r in ["2026-01-17", "2026-01-18"] {
            let p = TargetProgress {
                reports: vec![d(r)],
                ..progress("2026-01-05")
            };
            assert_eq!(
                dl.due_for(Some(&c), &p).next_report_due,
                Some(d("2026-02-17")),
                "{r}"
            );
        }
        // One late report does not clear three missed months.
        let p = TargetProgress {
            reports: vec![d("2026-03-20")],
            ..progress("2026-01-05")
        };
        let due = dl.due_for(Some(&c), &p);
        assert_eq!(due.next_report_due, Some(d("2026-02-17")));
        assert!(due.overdue(d("2026-03-21")));
        // Reporting every month before the day keeps the unit never overdue.
        let p = TargetProgress {
            reports: vec![d("2026-01-15"), d("2026-02-10"), d("2026-03-17")],
            ..progress("2026-01-05")
        };
        assert_eq!(
            dl.due_for(Some(&c), &p).next_report_due,
            Some(d("2026-04-17"))
        );
    }

    #[test]
    fn ongoing_until_stops_reports_after_its_end() {
        let dl = Deadline::Ongoing {
            until: Some("2026-12-31".into()),
        };
        let c = Cadence::Quarterly { day: None };
        // Every quarter reported (a single report at the end would leave three quarters missed).
        let p = TargetProgress {
            last_report: Some(d("2026-12-31")),
            reports: ["2026-03-31", "2026-06-30", "2026-09-30", "2026-12-31"]
                .map(d)
                .to_vec(),
            ..progress("2026-01-01")
        };
        let due = dl.due_for(Some(&c), &p);
        assert_eq!(due.next_report_due, None);
        assert!(!due.overdue(d("2027-06-01")));
    }

    #[test]
    fn a_dated_directive_with_a_cadence_is_due_for_the_earlier_of_the_two() {
        let dl = Deadline::Date {
            date: "2026-12-20".into(),
        };
        let c = Cadence::Monthly { day: Some(25) };
        let due = dl.due_for(Some(&c), &progress("2026-11-01"));
        assert_eq!(due.next_report_due, Some(d("2026-11-25")));
        assert_eq!(due.due_for, Some(DueFor::Report));
        let p = TargetProgress {
            last_report: Some(d("2026-11-25")),
            ..progress("2026-11-01")
        };
        let due = dl.due_for(Some(&c), &p);
        assert_eq!(
            due.next_report_due,
            Some(d("2026-12-20")),
            "the deadline comes before 25 December"
        );
        assert_eq!(due.due_for, Some(DueFor::Deadline));
    }

    #[test]
    fn validation_names_the_field() {
        let dl = Deadline::Milestones {
            milestones: vec![
                Milestone {
                    label: "12月底前".into(),
                    date: "2025-12-31".into(),
                },
                Milestone {
                    label: "6月底前".into(),
                    date: "2024-06-3x".into(),
                },
            ],
        };
        assert_eq!(
            dl.validate("deadline").unwrap_err().field(),
            "deadline.milestones[1].date"
        );
        let c = Cadence::Monthly { day: Some(32) };
        assert_eq!(
            c.validate("reporting").unwrap_err().field(),
            "reporting.day"
        );
        let e = Deadline::AfterEvent {
            event: "事故发生".into(),
            days: 0,
            event_date: None,
        };
        assert_eq!(e.validate("deadline").unwrap_err().field(), "deadline.days");
    }

    #[test]
    fn instants_count_in_china_standard_time() {
        assert_eq!(day_of("2026-06-30T16:30:00Z"), Some(d("2026-07-01")));
        assert_eq!(day_of("2026-06-30T15:59:59Z"), Some(d("2026-06-30")));
        assert_eq!(day_of("2026-06-30"), Some(d("2026-06-30")));
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn cadence() -> impl Strategy<Value = Cadence> {
            let day = proptest::option::of(1u8..=31);
            prop_oneof![
                day.clone().prop_map(|day| Cadence::Monthly { day }),
                day.clone().prop_map(|day| Cadence::Quarterly { day }),
                day.clone().prop_map(|day| Cadence::HalfYearly { day }),
                (proptest::option::of(1u8..=12), day)
                    .prop_map(|(month, day)| Cadence::Yearly { month, day }),
            ]
        }

        /// Whether `x` is a report day of `c`.
        fn is_report_day(c: &Cadence, x: Date) -> bool {
            let last = time::util::days_in_month(x.month(), x.year());
            c.months().contains(&(x.month() as u8))
                && x.day() == c.day().map_or(last, |d| d.min(last))
        }

        proptest! {
            /// The next report day is a report day, strictly after the given day, with none in between.
            #[test]
            fn next_report_day_is_the_first_report_day_after(c in cadence(), offset in 0i64..4000) {
                let from = Date::from_calendar_date(2020, Month::January, 1).unwrap() + Duration::days(offset);
                let next = c.next_after(from).expect("a report day within two years");
                prop_assert!(next > from);
                prop_assert!(is_report_day(&c, next), "{next} is not a report day of {c:?}");
                let mut x = from + Duration::days(1);
                while x < next {
                    prop_assert!(!is_report_day(&c, x), "{x} was skipped for {c:?}");
                    x += Duration::days(1);
                }
            }
        }
    }
}
