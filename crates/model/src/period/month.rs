//! 统计期 — calendar months in China time (UTC+8) and the periods a report covers: a month, a quarter,
//! the year to date (1月至本月累计) or the whole year, always within one calendar year.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

/// 月份 — a calendar month (China time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    /// 1..=12
    pub month: u8,
}

impl Month {
    pub fn new(year: i32, month: u8) -> Option<Month> {
        (1..=12).contains(&month).then_some(Month { year, month })
    }

    /// Parses `YYYY-MM`.
    pub fn parse(s: &str) -> Result<Month, Error> {
        let bad = || Error::invalid("month", "月份格式应为 YYYY-MM / month must be YYYY-MM");
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        Month::new(year, month).ok_or_else(bad)
    }

    /// The month of a `YYYY-MM…` text (a date, or a local date-time), if it starts with one.
    pub fn of_day(s: &str) -> Option<Month> {
        Month::parse(s.get(..7)?).ok()
    }

    /// The month of an instant given as RFC 3339, in China time.
    pub fn of_instant(s: &str) -> Option<Month> {
        let t =
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
        let local = t.to_offset(time::UtcOffset::from_hms(8, 0, 0).ok()?);
        Month::new(local.year(), local.month() as u8)
    }

    /// The month of `date`.
    pub fn of_date(date: time::Date) -> Month {
        Month {
            year: date.year(),
            month: date.month() as u8,
        }
    }

    /// January of this month's year.
    pub fn january(self) -> Month {
        Month {
            year: self.year,
            month: 1,
        }
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The same month `n` years earlier.
    pub fn years_back(self, n: i32) -> Month {
        Month {
            year: self.year - n,
            month: self.month,
        }
    }

    /// 1..=4
    pub fn quarter(self) -> u8 {
        (self.month - 1) / 3 + 1
    }

    /// `YYYY-MM`, the key months are stored under.
    pub fn key(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The months `[from, to]`, both in one calendar year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonthRange {
    pub from: Month,
    pub to: Month,
}

impl MonthRange {
    pub fn contains(&self, m: Month) -> bool {
        self.from <= m && m <= self.to
    }

    /// Every month of the range in order.
    pub fn months(&self) -> impl Iterator<Item = Month> + '_ {
        std::iter::successors(Some(self.from), |m| Some(m.next())).take_while(|m| *m <= self.to)
    }

    /// The same months a year earlier (同期).
    pub fn last_year(&self) -> MonthRange {
        MonthRange {
            from: self.from.years_back(1),
            to: self.to.years_back(1),
        }
    }

    /// `YYYY-MM..YYYY-MM`, the key of per-range figures (units with hazards).
    pub fn key(&self) -> String {
        format!("{}..{}", self.from, self.to)
    }

    /// 报告期 as printed on the form: `2026年1月至6月`, `2026年6月`.
    pub fn label(&self) -> String {
        if self.from == self.to {
            format!("{}年{}月", self.from.year, self.from.month)
        } else {
            format!(
                "{}年{}月至{}月",
                self.from.year, self.from.month, self.to.month
            )
        }
    }

    /// Every range a report can ask for in `year`: each month, each quarter, each year-to-date (the
    /// last one is the year). Distinct, in order.
    pub fn all_in_year(year: i32) -> Vec<MonthRange> {
        let mut out = Vec::new();
        for m in 1..=12u8 {
            let to = Month { year, month: m };
            for kind in [
                PeriodKind::Month,
                PeriodKind::Quarter,
                PeriodKind::Cumulative,
            ] {
                let r = kind.range(to);
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
        out.sort();
        out
    }
}

/// 统计期类型 — what `period=` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// 1月至本月累计 (the form's own period; the default).
    #[default]
    Cumulative,
    /// 本月
    Month,
    /// 本季度 (the whole quarter holding the month)
    Quarter,
    /// 全年
    Year,
}

impl PeriodKind {
    pub fn parse(s: &str) -> Result<PeriodKind, Error> {
        match s.trim() {
            "" | "cumulative" | "ytd" | "累计" => Ok(PeriodKind::Cumulative),
            "month" | "月" | "月报" => Ok(PeriodKind::Month),
            "quarter" | "季" | "季报" => Ok(PeriodKind::Quarter),
            "year" | "年" | "年报" => Ok(PeriodKind::Year),
            _ => Err(Error::invalid(
                "period",
                "应为 month、quarter、year 或 cumulative（默认，1月至本月累计） / must be month, quarter, year or cumulative",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Cumulative => "cumulative",
            PeriodKind::Month => "month",
            PeriodKind::Quarter => "quarter",
            PeriodKind::Year => "year",
        }
    }

    /// 报表名称: 月报表 / 季报表 / 年报表.
    pub fn form_kind_zh(self) -> &'static str {
        match self {
            PeriodKind::Cumulative | PeriodKind::Month => "月报表",
            PeriodKind::Quarter => "季报表",
            PeriodKind::Year => "年报表",
        }
    }

    /// The months this period covers for the report of `month`.
    pub fn range(self, month: Month) -> MonthRange {
        let year = month.year;
        match self {
            PeriodKind::Cumulative => MonthRange {
                from: month.january(),
                to: month,
            },
            PeriodKind::Month => MonthRange {
                from: month,
                to: month,
            },
            PeriodKind::Quarter => {
                let first = (month.quarter() - 1) * 3 + 1;
                MonthRange {
                    from: Month { year, month: first },
                    to: Month {
                        year,
                        month: first + 2,
                    },
                }
            }
            PeriodKind::Year => MonthRange {
                from: month.january(),
                to: Month { year, month: 12 },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_instants_fall_in_china_time() {
        assert_eq!(Month::parse("2026-03").unwrap().to_string(), "2026-03");
        assert!(Month::parse("2026-13").is_err());
        assert!(Month::parse("2026-3").is_err());
        // 16:30 UTC on 31 March is 00:30 on 1 April in Beijing.
        assert_eq!(
            Month::of_instant("2026-03-31T16:30:00Z").unwrap(),
            Month::parse("2026-04").unwrap()
        );
        assert_eq!(
            Month::of_instant("2026-03-31T15:59:59Z").unwrap(),
            Month::parse("2026-03").unwrap()
        );
    }

    #[test]
    fn periods_cover_the_right_months() {
        let m = Month::parse("2026-05").unwrap();
        assert_eq!(PeriodKind::Cumulative.range(m).key(), "2026-01..2026-05");
        assert_eq!(PeriodKind::Quarter.range(m).key(), "2026-04..2026-06");
        assert_eq!(PeriodKind::Month.range(m).label(), "2026年5月");
        assert_eq!(PeriodKind::Year.range(m).label(), "2026年1月至12月");
        // 12 months, 4 quarters, and the year-to-dates that are neither (Jan is a month, Jan–Mar Q1).
        assert_eq!(MonthRange::all_in_year(2026).len(), 12 + 4 + 10);
    }
}
