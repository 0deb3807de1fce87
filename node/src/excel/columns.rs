//! 列 — the columns a hazard sheet may have: the header the template and the export write, the other
//! headers people use for the same thing, and which input field each fills. The template, the export
//! and the import read this one table, so an exported ledger imports as it is.

/// What a column of an import sheet fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Col {
    Number,
    Title,
    Sector,
    Grade,
    Channel,
    InspectionMode,
    FoundByLevel,
    FoundOn,
    Stock,
    EnterpriseName,
    CreditCode,
    Division,
    Address,
    BasisStandard,
    BasisClause,
    Deadline,
    Description,
    /// 五落实 of the rectification plan: 责任单位, 整改责任人, 整改措施, 整改资金, 应急预案.
    PlanUnit,
    PlanPerson,
    PlanMeasures,
    PlanFunds,
    PlanContingency,
    /// 整改状态: what the imported history leads to.
    Status,
    /// 整改完成日期 (the `rectified` event).
    RectifiedOn,
    /// 验收日期 (the `accept` event).
    AcceptedOn,
    /// 销号日期 (the `close` event).
    ClosedOn,
    /// 登记单位: checked to be this office (a sheet exported at a county lists its townships' hazards).
    Owner,
}

/// One column: its header, the other names accepted for it, the input field it fills (the `field` of
/// a `RecordError` about it), and whether the template marks it required.
pub struct Column {
    pub col: Col,
    pub header: &'static str,
    pub aliases: &'static [&'static str],
    pub field: &'static str,
    pub required: bool,
    /// A date column (written as an Excel date; read from a serial or text).
    pub date: bool,
}

const fn c(
    col: Col,
    header: &'static str,
    aliases: &'static [&'static str],
    field: &'static str,
    required: bool,
    date: bool,
) -> Column {
    Column {
        col,
        header,
        aliases,
        field,
        required,
        date,
    }
}

/// The import columns in the template's order.
pub const COLUMNS: &[Column] = &[
    c(
        Col::Number,
        "编号",
        &["隐患编号", "台账编号"],
        "number",
        false,
        false,
    ),
    c(
        Col::Title,
        "隐患名称",
        &[
            "隐患描述",
            "隐患内容",
            "隐患问题",
            "存在问题",
            "隐患标题",
            "隐患",
        ],
        "title",
        true,
        false,
    ),
    c(
        Col::Sector,
        "行业领域",
        &[
            "行业",
            "所属行业",
            "行业类别",
            "所属领域",
            "领域",
            "行业分类",
        ],
        "sector",
        true,
        false,
    ),
    c(
        Col::Grade,
        "隐患等级",
        &["等级", "隐患级别", "级别", "隐患类别"],
        "grade",
        true,
        false,
    ),
    c(
        Col::Channel,
        "发现渠道",
        &["渠道", "隐患来源", "来源", "发现方式"],
        "channel",
        true,
        false,
    ),
    c(
        Col::InspectionMode,
        "检查方式",
        &["检查形式", "检查类型"],
        "inspection_mode",
        false,
        false,
    ),
    c(
        Col::FoundByLevel,
        "发现层级",
        &["检查层级", "发现单位层级"],
        "found_by_level",
        false,
        false,
    ),
    c(
        Col::FoundOn,
        "发现日期",
        &["检查日期", "排查日期", "发现时间", "排查时间", "检查时间"],
        "found_on",
        false,
        true,
    ),
    c(
        Col::Stock,
        "存量/增量",
        &["存量增量", "存量或增量"],
        "stock",
        false,
        false,
    ),
    c(
        Col::EnterpriseName,
        "单位名称",
        &[
            "企业名称",
            "生产经营单位",
            "生产经营单位名称",
            "被检查单位",
            "隐患单位",
            "企业",
        ],
        "enterprise.name",
        true,
        false,
    ),
    c(
        Col::CreditCode,
        "统一社会信用代码",
        &["信用代码", "社会信用代码", "社会统一信用代码"],
        "enterprise.credit_code",
        false,
        false,
    ),
    c(
        Col::Division,
        "所在区划代码",
        &["所在区划", "行政区划代码", "区划代码", "所在地区划"],
        "location.division",
        false,
        false,
    ),
    c(
        Col::Address,
        "隐患地点",
        &["地址", "详细地址", "隐患位置", "所在地点", "隐患部位"],
        "location.address",
        false,
        false,
    ),
    c(
        Col::BasisStandard,
        "判定依据",
        &["判定标准", "依据标准", "判定依据标准"],
        "basis.standard",
        false,
        false,
    ),
    c(
        Col::BasisClause,
        "判定条款",
        &["依据条款", "条款"],
        "basis.clause",
        false,
        false,
    ),
    c(
        Col::Deadline,
        "整改期限",
        &[
            "整改时限",
            "整改截止日期",
            "限期整改日期",
            "整改期限日期",
            "整改截止时间",
        ],
        "deadline",
        true,
        true,
    ),
    c(
        Col::Description,
        "详细描述",
        &["隐患详情", "具体情况", "情况说明", "隐患详细描述"],
        "description",
        false,
        false,
    ),
    c(
        Col::PlanUnit,
        "整改责任单位",
        &["责任单位", "治理责任单位"],
        "plan.responsible_unit",
        false,
        false,
    ),
    c(
        Col::PlanPerson,
        "整改责任人",
        &["责任人", "治理责任人"],
        "plan.responsible_person",
        false,
        false,
    ),
    c(
        Col::PlanMeasures,
        "整改措施",
        &["治理措施", "整改方案"],
        "plan.measures",
        false,
        false,
    ),
    c(
        Col::PlanFunds,
        "整改资金（万元）",
        &["治理资金", "落实资金", "落实治理资金"],
        "plan.funds_wan",
        false,
        false,
    ),
    c(
        Col::PlanContingency,
        "应急预案",
        &["应急措施", "安全防范措施", "整改期间安全措施"],
        "plan.contingency_plan",
        false,
        false,
    ),
    c(
        Col::Status,
        "整改状态",
        &["状态", "隐患状态", "治理状态", "是否整改"],
        "status",
        false,
        false,
    ),
    c(
        Col::RectifiedOn,
        "整改完成日期",
        &["完成整改日期", "整改完成时间", "实际完成日期", "完成日期"],
        "rectified_on",
        false,
        true,
    ),
    c(
        Col::AcceptedOn,
        "验收日期",
        &["复查日期", "验收时间", "复查验收日期", "复查时间"],
        "accepted_on",
        false,
        true,
    ),
    c(
        Col::ClosedOn,
        "销号日期",
        &["销号时间", "闭环日期", "销号验收日期"],
        "closed_on",
        false,
        true,
    ),
    c(Col::Owner, "登记单位", &["填报单位"], "owner", false, false),
];

/// A header as written, reduced to compare: no spaces, no required-marks (`*`, `※`), no note in
/// brackets (`整改期限（yyyy-mm-dd）`), no line breaks.
pub fn normalize(header: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for ch in header.chars() {
        match ch {
            '(' | '（' | '[' | '【' => depth += 1,
            ')' | '）' | ']' | '】' => depth = (depth - 1).max(0),
            _ if depth > 0 => {}
            c if c.is_whitespace() || matches!(c, '*' | '※' | '＊' | ':' | '：') => {}
            c => out.push(c),
        }
    }
    out
}

/// The column a header names, by its header or an alias.
pub fn column_of(header: &str) -> Option<&'static Column> {
    let h = normalize(header);
    if h.is_empty() {
        return None;
    }
    COLUMNS
        .iter()
        .find(|c| normalize(c.header) == h)
        .or_else(|| {
            COLUMNS
                .iter()
                .find(|c| c.aliases.iter().any(|a| normalize(a) == h))
        })
}

/// The column of an input field (a `RecordError`'s `field`): `enterprise` → 单位名称, `plan.…` and
/// event fields → the status dates.
pub fn column_for_field(field: &str) -> Option<&'static Column> {
    let f = match field {
        "enterprise" => "enterprise.name",
        "location" => "location.division",
        "basis" => "basis.standard",
        f => f,
    };
    COLUMNS.iter().find(|c| c.field == f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_people_use_find_their_column() {
        let col = |h: &str| column_of(h).map(|c| c.col);
        assert_eq!(col("隐患名称"), Some(Col::Title));
        assert_eq!(col("隐患内容"), Some(Col::Title));
        assert_eq!(col(" *隐患描述 "), Some(Col::Title));
        assert_eq!(col("整改时限"), Some(Col::Deadline));
        assert_eq!(col("整改期限（yyyy-mm-dd）"), Some(Col::Deadline));
        assert_eq!(col("企业名称"), Some(Col::EnterpriseName));
        assert_eq!(col("存量/增量"), Some(Col::Stock));
        assert_eq!(col("序号"), None);
        assert_eq!(col(""), None);
    }

    #[test]
    fn every_header_and_alias_names_one_column() {
        let mut seen = std::collections::HashSet::new();
        for c in COLUMNS {
            for h in std::iter::once(&c.header).chain(c.aliases) {
                assert!(seen.insert(normalize(h)), "{h} twice");
            }
        }
    }
}
