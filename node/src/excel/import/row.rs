//! 行 — the sheet's header row and columns, and one row read into the `NewHazard` the API takes, with
//! its 整改状态 and status dates. Every error names the row, the column and the reason.

use std::collections::HashMap;

use safemesh_model::AdminCode;
use safemesh_model::hazard::plan::{Funds, PlanInput};
use safemesh_model::hazard::{self as mh, Status};
use time::Date;

use crate::enterprises::EnterpriseRef;
use crate::excel::columns::{COLUMNS, Col, Column, column_for_field, column_of};
use crate::excel::sheet::{Cell, Grid};
use crate::hazards::{NewBasis, NewHazard, NewLocation};
use crate::records::RecordError;

use super::RowError;

/// The words a 整改状态 cell may hold, the template's first.
pub const STATUS_WORDS: &[(&str, Status)] = &[
    ("未整改", Status::Open),
    ("整改中", Status::Rectifying),
    ("已整改", Status::PendingAcceptance),
    ("已销号", Status::Closed),
];

/// A 整改状态 cell's status: the template's words, the ledger's labels, the API's codes, and the
/// words other systems use.
pub fn parse_status(s: &str) -> Option<Status> {
    let s = s.trim();
    if let Some((_, st)) = STATUS_WORDS.iter().find(|(w, _)| *w == s) {
        return Some(*st);
    }
    match s {
        "待整改" | "未完成" | "open" => Some(Status::Open),
        "正在整改" | "整改中（未完成）" | "rectifying" => Some(Status::Rectifying),
        "待验收" | "待复查" | "已整改待验收" | "整改完成" | "pending_acceptance" => {
            Some(Status::PendingAcceptance)
        }
        "已整改销号" | "已闭环" | "已完成" | "销号" | "已验收销号" | "closed" => {
            Some(Status::Closed)
        }
        _ => Status::parse(s).ok(),
    }
}

/// How an import runs.
/// The sheet's columns: which input each column index fills.
pub(super) struct Layout {
    pub(super) header_row: usize,
    pub(super) by_index: HashMap<usize, &'static Column>,
    pub(super) headers: HashMap<usize, String>,
    pub(super) ignored: Vec<String>,
}

impl Layout {
    pub(super) fn index_of(&self, col: Col) -> Option<usize> {
        self.by_index
            .iter()
            .find(|(_, c)| c.col == col)
            .map(|(i, _)| *i)
    }

    /// A row error about `field`, placed on its column.
    pub(super) fn error(&self, row: usize, field: Option<&str>, reason: String) -> RowError {
        let column = field.and_then(column_for_field);
        let index = column.and_then(|c| self.index_of(c.col));
        RowError {
            row,
            column: index.map(crate::excel::column_letter),
            header: match (index, column) {
                (Some(i), _) => self.headers.get(&i).cloned(),
                (None, Some(c)) => Some(c.header.to_string()),
                _ => None,
            },
            field: field.map(str::to_string),
            reason,
        }
    }
}

pub(super) fn find_layout(grid: &Grid) -> Result<Layout, RecordError> {
    for (row, cells) in grid.rows.iter().take(30) {
        let mut by_index: HashMap<usize, &'static Column> = HashMap::new();
        let mut headers = HashMap::new();
        let mut ignored = Vec::new();
        for (i, cell) in cells.iter().enumerate() {
            let text = cell.text();
            if text.is_empty() {
                continue;
            }
            let mut found = column_of(&text);
            // A second 隐患名称-like column (隐患名称 and 隐患描述 both) is the description.
            if let Some(c) = found
                && by_index.values().any(|x| x.col == c.col)
            {
                found = match c.col {
                    Col::Title if !by_index.values().any(|x| x.col == Col::Description) => {
                        COLUMNS.iter().find(|x| x.col == Col::Description)
                    }
                    _ => None,
                };
            }
            match found {
                Some(c) => {
                    by_index.insert(i, c);
                    headers.insert(i, text);
                }
                None if crate::excel::columns::normalize(&text) == "序号" => {}
                None => ignored.push(text),
            }
        }
        if by_index.len() >= 2 && by_index.values().any(|c| c.col == Col::Title) {
            return Ok(Layout {
                header_row: *row,
                by_index,
                headers,
                ignored,
            });
        }
    }
    Err(RecordError::bad(
        "file",
        "未找到表头：表格前几行中须有一行列名，至少含“隐患名称”等列（可先下载导入模板） / no header row with 隐患名称 found",
    ))
}

/// Whether a row is a total line (合计, 总计, 小计) rather than a hazard.
pub(super) fn is_total_row(cells: &[Cell]) -> bool {
    cells
        .iter()
        .find(|c| !c.is_empty())
        .map(|c| {
            let t = c.text();
            t.starts_with("合计") || t.starts_with("总计") || t.starts_with("小计")
        })
        .unwrap_or(false)
}

/// A code as a sheet may write it: bare, or after a name in brackets (`禄脿街道（530181006）`).
fn code_text(s: &str) -> String {
    let inner = s
        .rsplit_once(['（', '('])
        .map(|(_, r)| r.trim_end_matches(['）', ')']).trim())
        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()));
    inner
        .map(str::to_string)
        .unwrap_or_else(|| s.trim().to_string())
}

/// A row's values, read.
pub(super) struct RowInput {
    pub(super) hazard: NewHazard,
    /// The 五落实 columns, when the sheet has any of them filled.
    pub(super) plan: Option<PlanInput>,
    pub(super) status: Option<Status>,
    pub(super) rectified_on: Option<Date>,
    pub(super) accepted_on: Option<Date>,
    pub(super) closed_on: Option<Date>,
}

pub(super) fn read_row(
    layout: &Layout,
    row: usize,
    cells: &[Cell],
    me: &AdminCode,
) -> Result<RowInput, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut text: HashMap<Col, String> = HashMap::new();
    let mut dates: HashMap<Col, Date> = HashMap::new();
    for (i, col) in &layout.by_index {
        let Some(cell) = cells.get(*i) else { continue };
        if cell.is_empty() {
            continue;
        }
        if col.date {
            let day = match cell {
                Cell::Date(s) | Cell::Number(s) => crate::excel::date_from_serial(*s),
                other => crate::excel::parse_date_text(&other.text()),
            };
            match day {
                Some(d) => {
                    dates.insert(col.col, d);
                    text.insert(col.col, mh::format_date(d));
                }
                None => errors.push(layout.error(
                    row,
                    Some(col.field),
                    format!(
                        "无法识别的日期“{}”，应为 2026-01-05、2026/1/5、2026年1月5日 或 Excel 日期 / unreadable date",
                        cell.text()
                    ),
                )),
            }
        } else {
            text.insert(col.col, cell.text());
        }
    }
    let mut get = |c: Col| text.remove(&c).filter(|s| !s.is_empty());
    let status = match get(Col::Status) {
        None => None,
        Some(s) => match parse_status(&s) {
            Some(st) => Some(st),
            None => {
                errors.push(layout.error(
                    row,
                    Some("status"),
                    format!(
                        "无法识别的整改状态“{s}”，应为 未整改、整改中、已整改 或 已销号 / unknown status"
                    ),
                ));
                None
            }
        },
    };
    if let Some(owner) = get(Col::Owner) {
        let code = code_text(&owner);
        if let Ok(c) = AdminCode::parse(&code)
            && &c != me
        {
            errors.push(layout.error(
                row,
                Some("owner"),
                format!(
                    "该隐患由 {code} 登记，本级（{me}）只能导入本级登记的隐患 / registered by another office"
                ),
            ));
        }
    }
    let name = get(Col::EnterpriseName);
    let credit_code = get(Col::CreditCode);
    let division = get(Col::Division).map(|d| code_text(&d));
    let address = get(Col::Address);
    let standard = get(Col::BasisStandard);
    let clause = get(Col::BasisClause);
    let plan_cols = [
        get(Col::PlanUnit),
        get(Col::PlanPerson),
        get(Col::PlanMeasures),
        get(Col::PlanFunds),
        get(Col::PlanContingency),
    ];
    let plan = plan_cols.iter().any(Option::is_some).then(|| {
        let [unit, person, measures, funds, contingency] = plan_cols;
        PlanInput {
            responsible_unit: unit,
            responsible_person: person,
            measures,
            funds_wan: funds.map(Funds::Text),
            deadline: None,
            contingency_plan: contingency,
        }
    });
    let hazard = NewHazard {
        number: get(Col::Number),
        title: get(Col::Title),
        sector: get(Col::Sector),
        grade: get(Col::Grade),
        channel: get(Col::Channel),
        inspection_mode: get(Col::InspectionMode),
        found_by_level: get(Col::FoundByLevel).map(|f| code_text(&f)),
        found_on: get(Col::FoundOn),
        stock: get(Col::Stock),
        // The sheet has no 隐患所在 column: a row is an enterprise's hazard.
        subject: None,
        responsible_unit: None,
        enterprise: (name.is_some() || credit_code.is_some()).then_some(EnterpriseRef {
            name,
            credit_code,
            credit_code_override: None,
        }),
        location: (division.is_some() || address.is_some())
            .then_some(NewLocation { division, address }),
        basis: (standard.is_some() || clause.is_some()).then_some(NewBasis { standard, clause }),
        deadline: get(Col::Deadline),
        description: get(Col::Description).unwrap_or_default(),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(RowInput {
        hazard,
        plan,
        status,
        rectified_on: dates.get(&Col::RectifiedOn).copied(),
        accepted_on: dates.get(&Col::AcceptedOn).copied(),
        closed_on: dates.get(&Col::ClosedOn).copied(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_in_the_words_of_ledgers() {
        assert_eq!(parse_status("已销号"), Some(Status::Closed));
        assert_eq!(parse_status("已整改销号"), Some(Status::Closed));
        assert_eq!(parse_status("待验收"), Some(Status::PendingAcceptance));
        assert_eq!(parse_status("已整改"), Some(Status::PendingAcceptance));
        assert_eq!(parse_status("整改中"), Some(Status::Rectifying));
        assert_eq!(parse_status("未整改"), Some(Status::Open));
        assert_eq!(parse_status("closed"), Some(Status::Closed));
        assert_eq!(parse_status("不知道"), None);
    }

    #[test]
    fn codes_are_read_from_names_in_brackets() {
        assert_eq!(code_text("禄脿街道（530181006）"), "530181006");
        assert_eq!(code_text("安宁市(530181)"), "530181");
        assert_eq!(code_text("530181006201"), "530181006201");
        assert_eq!(code_text("省级"), "省级");
    }
}
