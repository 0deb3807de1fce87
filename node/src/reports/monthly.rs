//! 月报表 — 《煤矿、金属非金属矿山等工矿企业安全生产事故隐患排查治理情况月报表》 over a period, for one
//! scope: the form's rows in order with 合计, each column as its 口径 in docs/REPORTS.md says, and the
//! accidents against the same period last year (双下降).

use std::collections::BTreeMap;

use safemesh_model::AdminCode;
use safemesh_model::period::form::{self, FORM_ROWS, TOTAL_ROW};
use safemesh_model::period::{GradeFigures, Month, PeriodKind, PeriodStats, RowFigures};
use safemesh_model::summary::CountDeaths;
use safemesh_store::Store;
use serde::Serialize;

use super::{ReportRequest, scope_name, scope_summary};
use crate::records::RecordError;

/// The form's title (the quarterly and yearly variants end in 季报表 / 年报表).
pub fn title(period: PeriodKind) -> String {
    format!(
        "煤矿、金属非金属矿山等工矿企业安全生产事故隐患排查治理情况{}",
        period.form_kind_zh()
    )
}

/// 行业和领域 — the header of the rows.
pub const ROW_HEADER: &str = "行业和领域";
/// The column before the grades.
pub const UNITS_HEADER: &str = "排查治理事故隐患的生产经营单位（家）";
pub const GENERAL_HEADER: &str = "一般事故隐患";
pub const GENERAL_COLUMNS: [&str; 3] = ["排查（项）", "其中：已整改（项）", "整改率（%）"];
pub const MAJOR_HEADER: &str = "重大事故隐患";
pub const MAJOR_COLUMNS: [&str; 7] = [
    "排查（项）",
    "其中：已整改销号（项）",
    "整改率（%）",
    "列入治理计划的重大事故隐患（项）",
    "其中：达到“五到位”要求的（项）",
    "挂牌督办的重大事故隐患（项）",
    "其中：省级挂牌督办（项）",
];
/// The last column.
pub const FUNDS_HEADER: &str = "累计落实治理资金（万元）";

/// One figure of a row as printed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// 项 or 家.
    Count(u64),
    /// %; blank when nothing was found.
    Rate(Option<f64>),
    /// 万元, two decimals.
    Wan(f64),
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Count(n) => write!(f, "{n}"),
            Cell::Rate(Some(r)) => write!(f, "{r:.1}"),
            Cell::Rate(None) => Ok(()),
            Cell::Wan(w) => write!(f, "{w:.2}"),
        }
    }
}

/// 一般事故隐患 columns.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GeneralColumns {
    /// 排查（项）
    pub found: u64,
    /// 其中：已整改（项）
    pub rectified: u64,
    /// 整改率（%）; `null` when nothing was found.
    pub rate: Option<f64>,
}

/// 重大事故隐患 columns.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MajorColumns {
    /// 排查（项）
    pub found: u64,
    /// 其中：已整改销号（项）
    pub rectified: u64,
    /// 整改率（%）
    pub rate: Option<f64>,
    /// 列入治理计划的重大事故隐患（项）
    pub planned: u64,
    /// 其中：达到“五到位”要求的（项）
    pub five_in_place: u64,
    /// 挂牌督办的重大事故隐患（项）
    pub supervised: u64,
    /// 其中：省级挂牌督办（项）
    pub supervised_by_province: u64,
}

/// 存量 / 增量 split (both grades).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SplitColumns {
    pub found: u64,
    pub rectified: u64,
    pub rate: Option<f64>,
}

/// One row of the form.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReportRow {
    /// 行业和领域 (or 合计).
    pub row: String,
    /// 排查治理事故隐患的生产经营单位（家）
    pub units: u64,
    pub general: GeneralColumns,
    pub major: MajorColumns,
    /// 累计落实治理资金（万元）, two decimals.
    pub funds_wan: f64,
    /// 存量 (found before the 存量 cut-off).
    pub stock: SplitColumns,
    /// 增量.
    pub new: SplitColumns,
}

fn split(g: &GradeFigures) -> SplitColumns {
    SplitColumns {
        found: g.found,
        rectified: g.rectified,
        rate: g.rate(),
    }
}

impl ReportRow {
    /// The row's 12 figures in the form's column order (after 行业和领域).
    pub fn cells(&self) -> [Cell; 12] {
        let (g, m) = (&self.general, &self.major);
        [
            Cell::Count(self.units),
            Cell::Count(g.found),
            Cell::Count(g.rectified),
            Cell::Rate(g.rate),
            Cell::Count(m.found),
            Cell::Count(m.rectified),
            Cell::Rate(m.rate),
            Cell::Count(m.planned),
            Cell::Count(m.five_in_place),
            Cell::Count(m.supervised),
            Cell::Count(m.supervised_by_province),
            Cell::Wan(self.funds_wan),
        ]
    }

    fn of(row: &str, f: &RowFigures) -> ReportRow {
        ReportRow {
            row: row.to_string(),
            units: f.units,
            general: GeneralColumns {
                found: f.general.found,
                rectified: f.general.rectified,
                rate: f.general.rate(),
            },
            major: MajorColumns {
                found: f.major.found,
                rectified: f.major.rectified,
                rate: f.major.rate(),
                planned: f.major.planned,
                five_in_place: f.major.five_in_place,
                supervised: f.major.supervised,
                supervised_by_province: f.major.supervised_by_province,
            },
            funds_wan: form::wan(f.funds_yuan()),
            stock: split(&f.stock),
            new: split(&f.new),
        }
    }
}

/// Accidents of the period against the same period last year.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AccidentComparison {
    /// By grade (`general`, `larger`, `major`, `especially_major`).
    pub this_period: BTreeMap<String, CountDeaths>,
    pub same_period_last_year: BTreeMap<String, CountDeaths>,
    pub total: CountDeaths,
    pub total_last_year: CountDeaths,
    /// 双下降: fewer accidents and fewer deaths than the same period last year.
    pub double_decline: bool,
}

/// The report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonthlyReport {
    pub title: String,
    /// 填报单位
    pub scope: String,
    pub scope_name: String,
    /// The month asked for, `YYYY-MM`.
    pub month: String,
    pub period: PeriodKind,
    /// First and last month covered.
    pub from: String,
    pub to: String,
    /// 报告期 as printed: `2026年1月至6月`.
    pub period_label: String,
    /// When the figures were computed (the scope's summary's time).
    pub as_of: String,
    /// The form's rows in order, 合计 last.
    pub rows: Vec<ReportRow>,
    pub accidents: AccidentComparison,
}

impl MonthlyReport {
    /// The 合计 row.
    pub fn total(&self) -> &ReportRow {
        self.rows.last().expect("a report always has its 合计 row")
    }
}

fn sum(m: &BTreeMap<String, CountDeaths>) -> CountDeaths {
    let mut t = CountDeaths::default();
    for c in m.values() {
        t.count = t.count.saturating_add(c.count);
        t.deaths = t.deaths.saturating_add(c.deaths);
    }
    t
}

/// Assembles the report from a scope's period figures (pure; the bench times this with the read).
pub fn build(
    scope: &AdminCode,
    name: &str,
    as_of: &str,
    month: Month,
    period: PeriodKind,
    stats: &PeriodStats,
) -> MonthlyReport {
    let range = period.range(month);
    let figures = stats.rows(&range);
    let mut names: Vec<String> = FORM_ROWS.iter().map(|r| r.to_string()).collect();
    names.extend(
        figures
            .keys()
            .filter(|k| !FORM_ROWS.contains(&k.as_str()))
            .cloned(),
    );
    names.sort_by_key(|n| form::row_order(n));
    let empty = RowFigures::default();
    let mut total = RowFigures::default();
    let mut rows = Vec::with_capacity(names.len() + 1);
    for n in &names {
        let f = figures.get(n).unwrap_or(&empty);
        total.add(f);
        rows.push(ReportRow::of(n, f));
    }
    total.units = stats.total_units(&range);
    rows.push(ReportRow::of(TOTAL_ROW, &total));
    let this_period = stats.accidents_in(&range);
    let same_period_last_year = stats.accidents_in(&range.last_year());
    let (t, l) = (sum(&this_period), sum(&same_period_last_year));
    MonthlyReport {
        title: title(period),
        scope: scope.to_string(),
        scope_name: name.to_string(),
        month: month.key(),
        period,
        from: range.from.key(),
        to: range.to.key(),
        period_label: range.label(),
        as_of: as_of.to_string(),
        rows,
        accidents: AccidentComparison {
            double_decline: t.count < l.count && t.deaths < l.deaths,
            this_period,
            same_period_last_year,
            total: t,
            total_last_year: l,
        },
    }
}

/// The report of `req.scope` at this office `me` (from the summaries it holds). 404 when a descendant
/// scope has not reported.
pub async fn monthly(
    store: &Store,
    me: &AdminCode,
    my_name: &str,
    req: &ReportRequest,
) -> Result<MonthlyReport, RecordError> {
    let s = scope_summary(store, me, &req.scope).await?.ok_or_else(|| {
        RecordError::not_found(&format!(
            "summary of {} (尚未上报，无法生成报表 / not reported yet)",
            req.scope
        ))
    })?;
    Ok(build(
        &req.scope,
        &scope_name(me, my_name, &req.scope),
        &s.as_of,
        req.month,
        req.period,
        &s.body.periods,
    ))
}
