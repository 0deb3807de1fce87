//! 月报表的行与列 — the rows (行业和领域) and columns of the national monthly form 《煤矿、金属非金属矿山
//! 等工矿企业安全生产事故隐患排查治理情况月报表》 (STANDARDS.md §3.2), and how a hazard's sector lands on a
//! row.
//!
//! The sector dictionary folds some names into a wider sector (尾矿库 into 非煤矿山, 城市建设 into
//! 建筑施工); the form keeps them as rows of their own, so a hazard remembers the finer name it was
//! registered under ([`sub_row`]) and reports on that row. Rows partition the hazards: 合计 is their sum.

use serde::{Deserialize, Serialize};

/// 合计 — the total row.
pub const TOTAL_ROW: &str = "合计";

/// The form's rows in the form's order. A sector outside this list (a node may add sectors) reports on a
/// row of its own name, after these and before 合计.
pub const FORM_ROWS: &[&str] = &[
    "煤矿",
    "金属非金属矿山",
    "尾矿库",
    "危险化学品",
    "烟花爆竹",
    "冶金工贸",
    "建筑施工",
    "城市建设",
    "城镇燃气",
    "消防",
    "道路交通",
    "其他交通运输",
    "特种设备",
    "危险作业",
    "危险废物",
    "自建房",
    "校园",
    "文化旅游",
    "农林牧渔",
    "新业态",
    "其他",
];

/// Aliases that name a row of the form finer than the sector they fold into: (alias, sector).
const SUB_ROWS: &[(&str, &str)] = &[("尾矿库", "非煤矿山"), ("城市建设", "建筑施工")];

/// The finer form row a sector name as entered stands for, if it is one (`尾矿库` → `Some("尾矿库")`).
/// Registration keeps it beside the canonical sector.
pub fn sub_row(entered: &str) -> Option<&'static str> {
    let s = entered.trim();
    SUB_ROWS.iter().find(|(a, _)| *a == s).map(|(a, _)| *a)
}

/// The form row of a hazard of canonical `sector`, registered under the finer name `detail` if any.
pub fn form_row(sector: &str, detail: Option<&str>) -> String {
    if let Some(d) = detail
        && SUB_ROWS.iter().any(|(a, s)| *a == d && *s == sector)
    {
        return d.to_string();
    }
    match sector {
        "非煤矿山" => "金属非金属矿山".to_string(),
        other => other.to_string(),
    }
}

/// Orders row names as the form does: its own rows first, then others by name.
pub fn row_order(row: &str) -> (usize, String) {
    match FORM_ROWS.iter().position(|r| *r == row) {
        Some(i) => (i, String::new()),
        None => (FORM_ROWS.len(), row.to_string()),
    }
}

/// The figures of one grade of hazards on one row, over one period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeFigures {
    /// 排查 — found in the period.
    pub found: u64,
    /// 其中已整改 (一般: 整改完成，含待验收与已销号) / 其中已整改销号 (重大: 已销号) — of those found, as at
    /// the end of the period.
    pub rectified: u64,
    /// 列入治理计划 — of those found, with a rectification plan at the end of the period.
    pub planned: u64,
    /// 其中达到“五到位” — of those planned, the plan complete (措施、责任、资金、时限、预案).
    pub five_in_place: u64,
    /// 挂牌督办 — of those found, listed for supervision at the end of the period.
    pub supervised: u64,
    /// 其中省级挂牌督办 — listed by a province.
    pub supervised_by_province: u64,
    /// 落实治理资金, in 元 (the form prints 万元): the latest plan's funds at the end of the period.
    pub funds_yuan: i64,
}

impl GradeFigures {
    pub fn add(&mut self, o: &GradeFigures) {
        self.found = self.found.saturating_add(o.found);
        self.rectified = self.rectified.saturating_add(o.rectified);
        self.planned = self.planned.saturating_add(o.planned);
        self.five_in_place = self.five_in_place.saturating_add(o.five_in_place);
        self.supervised = self.supervised.saturating_add(o.supervised);
        self.supervised_by_province = self
            .supervised_by_province
            .saturating_add(o.supervised_by_province);
        self.funds_yuan = self.funds_yuan.saturating_add(o.funds_yuan);
    }

    /// 整改率 (%) with one decimal; `None` when nothing was found (the form leaves it blank).
    pub fn rate(&self) -> Option<f64> {
        (self.found > 0)
            .then(|| (self.rectified as f64 * 1000.0 / self.found as f64).round() / 10.0)
    }
}

/// One row of the form over one period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowFigures {
    /// 排查治理事故隐患的生产经营单位（家）.
    pub units: u64,
    /// 一般事故隐患.
    pub general: GradeFigures,
    /// 重大事故隐患.
    pub major: GradeFigures,
    /// 存量 (both grades).
    pub stock: GradeFigures,
    /// 增量 (both grades).
    pub new: GradeFigures,
}

impl RowFigures {
    pub fn add(&mut self, o: &RowFigures) {
        self.units = self.units.saturating_add(o.units);
        self.general.add(&o.general);
        self.major.add(&o.major);
        self.stock.add(&o.stock);
        self.new.add(&o.new);
    }

    /// 累计落实治理资金 in 元, both grades.
    pub fn funds_yuan(&self) -> i64 {
        self.general
            .funds_yuan
            .saturating_add(self.major.funds_yuan)
    }
}

/// 元 → 万元 with two decimals, as printed.
pub fn wan(yuan: i64) -> f64 {
    (yuan as f64 / 100.0).round() / 100.0
}

/// 万元 (as a plan states them) → whole 元, the unit figures are added in (exact, unlike floats).
pub fn yuan_of_wan(wan: f64) -> i64 {
    if wan.is_finite() {
        (wan * 10_000.0).round() as i64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_aliases_keep_their_rows() {
        assert_eq!(sub_row("尾矿库"), Some("尾矿库"));
        assert_eq!(sub_row("危化"), None);
        assert_eq!(form_row("非煤矿山", Some("尾矿库")), "尾矿库");
        assert_eq!(form_row("非煤矿山", None), "金属非金属矿山");
        assert_eq!(form_row("建筑施工", Some("城市建设")), "城市建设");
        assert_eq!(form_row("建筑施工", Some("尾矿库")), "建筑施工");
        assert_eq!(form_row("民爆", None), "民爆");
        // Every seed sector lands on a row of the form.
        for s in crate::sector_names() {
            assert!(FORM_ROWS.contains(&form_row(s, None).as_str()), "{s}");
        }
    }

    #[test]
    fn funds_add_exactly_in_yuan() {
        assert_eq!(yuan_of_wan(48.5), 485_000);
        assert_eq!(wan(yuan_of_wan(0.1) * 3), 0.3);
        assert_eq!(
            GradeFigures {
                found: 3,
                rectified: 2,
                ..Default::default()
            }
            .rate(),
            Some(66.7)
        );
    }
}
