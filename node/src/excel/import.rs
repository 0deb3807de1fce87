//! 台账导入 — hazards registered from a sheet. Each row becomes the `NewHazard` the API takes and is
//! judged by `crate::hazards::check`, the checks `POST /api/v1/hazards` makes; a row that records an
//! already-rectified or closed hazard also gets the events that lead there, dated from the sheet and
//! noted 导入, checked by `crate::hazards::check_history` (the lifecycle fold `add_event` checks).
//! Only rows without any error are written (by `crate::hazards::write_checked`, in batches of
//! [`BATCH`] per transaction); a row whose 编号 this office already uses is skipped and said so, so
//! importing the same sheet twice creates nothing the second time.
//!
//! The header row is found among the first rows (a title above it is fine), headers are matched by
//! name or alias ([`super::columns`]), a 合计 row is passed over, and every error names the row (as
//! Excel numbers it), the column (letter and header) and the reason.

use std::collections::HashMap;

use rust_xlsxwriter::{Format, Note, Workbook};
use safemesh_model::AdminCode;
use safemesh_model::hazard::plan::{Funds, PlanInput};
use safemesh_model::hazard::{self as mh, EventKind, Grade, HazardEvent, Status, notify};
use safemesh_store::Store;
use serde::Serialize;
use time::Date;

use super::columns::{COLUMNS, Col, Column, column_for_field, column_of};
use super::export::{Styles, xlsx_error};
use super::sheet::{Cell, Grid};
use crate::enterprises::EnterpriseRef;
use crate::hazards::{self, Checked, HazardSettings, NewBasis, NewHazard, NewLocation, Numbering};
use crate::records::{Actor, RecordError};

/// Rows written per transaction.
pub const BATCH: usize = 500;
/// The most data rows one import takes.
pub const MAX_ROWS: usize = 20_000;
/// The note every imported event carries.
pub const IMPORTED: &str = "导入";

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
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Validate only; store nothing.
    pub dry_run: bool,
    /// The upload's name (shown in the report).
    pub file_name: String,
}

/// One refusal: the row, the column and why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RowError {
    /// The row as Excel numbers it (1-based).
    pub row: usize,
    /// The column letter (`D`), when the error is about a column the sheet has.
    pub column: Option<String>,
    /// The column's header as the sheet writes it (or the template's, when the sheet lacks it).
    pub header: Option<String>,
    /// The input field (`grade`, `enterprise.credit_code`, `closed_on`).
    pub field: Option<String>,
    pub reason: String,
}

/// A row skipped because its 编号 is taken.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RowSkipped {
    pub row: usize,
    pub number: String,
    /// The hazard that has it, or `第N行` for an earlier row of the same sheet.
    pub existing: String,
    pub reason: String,
}

/// A row stored (or, in a dry run, that would be).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RowDone {
    pub row: usize,
    /// `None` in a dry run.
    pub id: Option<String>,
    /// The 编号 (assigned ones only when stored).
    pub number: Option<String>,
    /// The status the imported history leads to.
    pub status: String,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ImportReport {
    pub file: String,
    pub dry_run: bool,
    /// The header row (1-based).
    pub header_row: usize,
    /// Data rows read (empty and 合计 rows not counted).
    pub rows: usize,
    /// Rows stored (in a dry run: rows that passed).
    pub created: usize,
    pub skipped: usize,
    /// Rows with at least one error (nothing of them stored).
    pub failed: usize,
    pub errors: Vec<RowError>,
    pub skipped_rows: Vec<RowSkipped>,
    pub created_rows: Vec<RowDone>,
    /// Headers recognised: `{column letter: field}`.
    pub columns: Vec<(String, String, String)>,
    /// Headers not used (neither a column nor 序号).
    pub ignored_headers: Vec<String>,
}

/// Reports progress: the phase (校验 / 写入), done and total.
pub type ImportProgress<'a> = &'a (dyn Fn(&str, u64, u64) + Send + Sync);

/// The sheet's columns: which input each column index fills.
struct Layout {
    header_row: usize,
    by_index: HashMap<usize, &'static Column>,
    headers: HashMap<usize, String>,
    ignored: Vec<String>,
}

impl Layout {
    fn index_of(&self, col: Col) -> Option<usize> {
        self.by_index
            .iter()
            .find(|(_, c)| c.col == col)
            .map(|(i, _)| *i)
    }

    /// A row error about `field`, placed on its column.
    fn error(&self, row: usize, field: Option<&str>, reason: String) -> RowError {
        let column = field.and_then(column_for_field);
        let index = column.and_then(|c| self.index_of(c.col));
        RowError {
            row,
            column: index.map(super::column_letter),
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

fn find_layout(grid: &Grid) -> Result<Layout, RecordError> {
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
                None if super::columns::normalize(&text) == "序号" => {}
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
fn is_total_row(cells: &[Cell]) -> bool {
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
struct RowInput {
    hazard: NewHazard,
    /// The 五落实 columns, when the sheet has any of them filled.
    plan: Option<PlanInput>,
    status: Option<Status>,
    rectified_on: Option<Date>,
    accepted_on: Option<Date>,
    closed_on: Option<Date>,
}

fn read_row(
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
                Cell::Date(s) | Cell::Number(s) => super::date_from_serial(*s),
                other => super::parse_date_text(&other.text()),
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
        enterprise: (name.is_some() || credit_code.is_some())
            .then_some(EnterpriseRef { name, credit_code }),
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

/// An imported event's time: noon of its day in China time, so it reads as that day in any zone.
fn at_noon(d: Date) -> String {
    format!("{}T04:00:00Z", mh::format_date(d))
}

/// The column field of a plan error (`plan.measures`), as a static name.
fn plan_field(field: &str) -> &'static str {
    match field {
        "plan.responsible_person" => "plan.responsible_person",
        "plan.measures" => "plan.measures",
        "plan.funds_wan" => "plan.funds_wan",
        "plan.contingency_plan" => "plan.contingency_plan",
        _ => "plan.responsible_unit",
    }
}

/// A refusal of a row's history: the field (a date column, or `status`) and why.
type Refusal = (&'static str, String);

/// An event of the history and the field (column) its date came from.
type Dated = (HazardEvent, &'static str);

/// The events after registration that lead to the row's status, with the sheet's dates, each noted
/// 导入. Errors name the date column at fault.
fn history(
    r: &RowInput,
    grade: Grade,
    found_on: Date,
    today: Date,
    actor: &Actor,
) -> Result<(Status, Vec<Dated>), Refusal> {
    // A date without a status says the status: 销号日期 → closed, 整改完成日期 → rectified.
    let status = r.status.unwrap_or(if r.closed_on.is_some() {
        Status::Closed
    } else if r.rectified_on.is_some() {
        Status::PendingAcceptance
    } else {
        Status::Open
    });
    let ev = |kind: EventKind, day: Date, note: &str| HazardEvent {
        user: actor.user.clone(),
        note: Some(note.to_string()),
        ..HazardEvent::new(kind, actor.code.clone(), at_noon(day))
    };
    let check = |field: &'static str, label: &str, d: Date, not_before: Date, what: &str| {
        if d > today {
            return Err((
                field,
                format!("{label}不能晚于今天 / {field} is in the future"),
            ));
        }
        if d < not_before {
            return Err((
                field,
                format!("{label}不能早于{what} / {field} is before {what}"),
            ));
        }
        Ok(())
    };
    let mut out = Vec::new();
    if grade == Grade::Major && status != Status::Open {
        // The lifecycle wants 主要负责人 and 实际控制人 told before anything is done about a major
        // hazard; a ledger that records it rectified records that they were.
        let mut n = ev(
            EventKind::Notify,
            found_on,
            "导入：原台账记录为已整改或整改中，按已告知企业主要负责人和实际控制人补录",
        );
        n.method = Some("导入补录".into());
        n.recipients = notify::REQUIRED_RECIPIENTS
            .iter()
            .map(|s| s.to_string())
            .collect();
        out.push((n, "status"));
    }
    // The 五落实 plan, when the sheet gives one (a major hazard rectified or closed needs it: the
    // lifecycle accepts its rectification only with a complete plan). Its deadline is the row's.
    if status != Status::Open {
        match (&r.plan, grade) {
            (Some(p), _) => {
                let registered = r
                    .hazard
                    .deadline
                    .as_deref()
                    .and_then(|d| mh::parse_date("deadline", d).ok())
                    .unwrap_or(today);
                let input = PlanInput {
                    deadline: Some(mh::format_date(registered)),
                    ..p.clone()
                };
                let plan = input
                    .validate(grade, found_on, registered)
                    .map_err(|e| (plan_field(e.field()), e.reason()))?;
                let mut e = ev(EventKind::Plan, found_on, IMPORTED);
                e.plan = Some(plan);
                out.push((e, "plan.responsible_unit"));
            }
            (None, Grade::Major) if status != Status::Rectifying => {
                return Err((
                    "plan.responsible_unit",
                    "已整改或已销号的重大事故隐患须填写整改方案（五落实）：整改责任单位、整改责任人、整改措施、整改资金、应急预案 / a rectified or closed major hazard needs its plan columns".into(),
                ));
            }
            (None, _) => {}
        }
    }
    match status {
        Status::Open => {}
        Status::Rectifying => {
            out.push((
                ev(EventKind::Progress, today, "导入：原台账状态为整改中"),
                "status",
            ));
        }
        Status::PendingAcceptance | Status::Closed => {
            let closed = status == Status::Closed;
            let (rect_field, rect_day) = match (r.rectified_on, closed) {
                (Some(d), _) => ("rectified_on", d),
                (None, true) => match r.accepted_on.or(r.closed_on) {
                    Some(d) => ("closed_on", d),
                    None => {
                        return Err((
                            "closed_on",
                            "已销号的隐患须填写销号日期 / closed_on is required for a closed hazard"
                                .into(),
                        ));
                    }
                },
                (None, false) => {
                    return Err((
                        "rectified_on",
                        "已整改的隐患须填写整改完成日期 / rectified_on is required for a rectified hazard"
                            .into(),
                    ));
                }
            };
            check(rect_field, "整改完成日期", rect_day, found_on, "发现日期")?;
            out.push((ev(EventKind::Rectified, rect_day, IMPORTED), rect_field));
            if closed {
                let Some(close_day) = r.closed_on else {
                    return Err((
                        "closed_on",
                        "已销号的隐患须填写销号日期 / closed_on is required for a closed hazard"
                            .into(),
                    ));
                };
                let accept_day = r.accepted_on.unwrap_or(close_day);
                check(
                    "accepted_on",
                    "验收日期",
                    accept_day,
                    rect_day,
                    "整改完成日期",
                )?;
                check("closed_on", "销号日期", close_day, accept_day, "验收日期")?;
                out.push((ev(EventKind::Accept, accept_day, IMPORTED), "accepted_on"));
                out.push((ev(EventKind::Close, close_day, IMPORTED), "closed_on"));
            } else if r.accepted_on.is_some() || r.closed_on.is_some() {
                return Err((
                    "status",
                    "填写了验收或销号日期，整改状态应为已销号 / accepted_on or closed_on given, status should be closed"
                        .into(),
                ));
            }
        }
    }
    if status != Status::PendingAcceptance && status != Status::Closed && r.rectified_on.is_some() {
        return Err((
            "status",
            "填写了整改完成日期，整改状态应为已整改或已销号 / rectified_on given, status should be rectified or closed"
                .into(),
        ));
    }
    Ok((status, out))
}

fn status_word(s: Status) -> &'static str {
    crate::ui::format::status_label(s.as_str())
}

/// A row that passed every check, waiting to be written.
struct Ready {
    row: usize,
    checked: Checked,
    history: Vec<HazardEvent>,
    status: Status,
}

/// Imports the hazards of `grid` as `actor` (this office), as of `day`.
pub async fn import_hazards(
    store: &Store,
    settings: &HazardSettings,
    actor: &Actor,
    day: Date,
    grid: &Grid,
    opts: &ImportOptions,
    progress: ImportProgress<'_>,
) -> Result<ImportReport, RecordError> {
    let layout = find_layout(grid)?;
    let mut report = ImportReport {
        file: opts.file_name.clone(),
        dry_run: opts.dry_run,
        header_row: layout.header_row,
        ignored_headers: layout.ignored.clone(),
        ..Default::default()
    };
    let mut cols: Vec<_> = layout.by_index.iter().collect();
    cols.sort_by_key(|(i, _)| **i);
    report.columns = cols
        .into_iter()
        .map(|(i, c)| {
            (
                super::column_letter(*i),
                layout.headers.get(i).cloned().unwrap_or_default(),
                c.field.to_string(),
            )
        })
        .collect();
    let data: Vec<&(usize, Vec<Cell>)> = grid
        .rows
        .iter()
        .filter(|(r, cells)| {
            *r > layout.header_row && !cells.iter().all(Cell::is_empty) && !is_total_row(cells)
        })
        .collect();
    if data.len() > MAX_ROWS {
        return Err(RecordError::bad(
            "file",
            format!(
                "一次最多导入 {MAX_ROWS} 行，本表 {} 行，请分批导入 / at most {MAX_ROWS} rows per import",
                data.len()
            ),
        ));
    }
    report.rows = data.len();
    let total = data.len() as u64;
    let owner = actor.code.as_str();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut ready: Vec<Ready> = Vec::new();
    for (k, (row, cells)) in data.into_iter().enumerate() {
        let row = *row;
        if k % 200 == 0 {
            progress("校验", k as u64, total);
        }
        let input = match read_row(&layout, row, cells, &actor.code) {
            Ok(i) => i,
            Err(errs) => {
                report.failed += 1;
                report.errors.extend(errs);
                continue;
            }
        };
        if let Some(n) = input.hazard.number.clone() {
            if let Some(first) = seen.get(&n) {
                report.skipped += 1;
                report.skipped_rows.push(RowSkipped {
                    row,
                    number: n,
                    existing: format!("第{first}行"),
                    reason: format!("编号与本表第{first}行重复，已跳过 / duplicate of row {first}"),
                });
                continue;
            }
            seen.insert(n.clone(), row);
            if let Some(id) = store.hazard_id_by_number(owner, &n).await? {
                report.skipped += 1;
                report.skipped_rows.push(RowSkipped {
                    row,
                    reason: format!(
                        "编号 {n} 已存在（隐患 {id}），已跳过 / number exists, skipped"
                    ),
                    number: n,
                    existing: id,
                });
                continue;
            }
        }
        let hazard = input.hazard.clone();
        let checked = match hazards::check(store, settings, actor, day, hazard).await {
            Ok(c) => c,
            Err(e) => {
                report.failed += 1;
                report
                    .errors
                    .push(layout.error(row, e.field.as_deref(), e.message));
                continue;
            }
        };
        let found_on = mh::parse_date("found_on", &checked.core.found_on).unwrap_or(day);
        let (status, events) = match history(&input, checked.core.grade, found_on, day, actor) {
            Ok(h) => h,
            Err((field, reason)) => {
                report.failed += 1;
                report.errors.push(layout.error(row, Some(field), reason));
                continue;
            }
        };
        let (events, fields): (Vec<HazardEvent>, Vec<&str>) = events.into_iter().unzip();
        if let Err((i, e)) = hazards::check_history(checked.core.grade, &actor.code, &events) {
            report.failed += 1;
            report
                .errors
                .push(layout.error(row, Some(fields[i]), e.message));
            continue;
        }
        ready.push(Ready {
            row,
            checked,
            history: events,
            status,
        });
    }
    progress("校验", total, total);
    if opts.dry_run {
        report.created = ready.len();
        report.created_rows = ready
            .into_iter()
            .map(|r| RowDone {
                row: r.row,
                id: None,
                number: r.checked.given.clone(),
                status: status_word(r.status).into(),
            })
            .collect();
        return Ok(report);
    }
    let n = ready.len() as u64;
    let mut done = 0u64;
    let mut rows = ready.into_iter().peekable();
    while rows.peek().is_some() {
        let mut w = store.writer().await?;
        let mut numbering = Numbering::default();
        let mut batch = Vec::new();
        for r in rows.by_ref().take(BATCH) {
            let given = r.checked.given.clone();
            match hazards::write_checked(&mut w, actor, r.checked, &r.history, &mut numbering).await
            {
                Ok((id, number)) => batch.push(RowDone {
                    row: r.row,
                    id: Some(id),
                    number: Some(number),
                    status: status_word(r.status).into(),
                }),
                // Taken since the check (another writer): skipped, like any number in use.
                Err(e) if e.status == 409 => {
                    report.skipped += 1;
                    report.skipped_rows.push(RowSkipped {
                        row: r.row,
                        number: given.unwrap_or_default(),
                        existing: String::new(),
                        reason: e.message,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        w.commit().await?;
        done += batch.len() as u64;
        report.created += batch.len();
        report.created_rows.extend(batch);
        progress("写入", done, n);
    }
    report.skipped_rows.sort_by_key(|s| s.row);
    Ok(report)
}

/// The uploaded sheet again, each bad cell marked (red, with the reason as a note), and two columns
/// at the end: 导入结果 and 说明.
pub fn annotated_workbook(grid: &Grid, report: &ImportReport) -> Result<Vec<u8>, RecordError> {
    let s = Styles::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name("导入结果").map_err(xlsx_error)?;
    let width = grid.rows.iter().map(|(_, c)| c.len()).max().unwrap_or(0) as u16;
    let (result_col, reason_col) = (width, width + 1);
    let mut errors: HashMap<usize, Vec<&RowError>> = HashMap::new();
    for e in &report.errors {
        errors.entry(e.row).or_default().push(e);
    }
    let skipped: HashMap<usize, &RowSkipped> =
        report.skipped_rows.iter().map(|s| (s.row, s)).collect();
    let created: HashMap<usize, &RowDone> =
        report.created_rows.iter().map(|d| (d.row, d)).collect();
    for c in 0..width {
        ws.set_column_width(c, 14).map_err(xlsx_error)?;
    }
    ws.set_column_width(result_col, 12).map_err(xlsx_error)?;
    ws.set_column_width(reason_col, 60).map_err(xlsx_error)?;
    for (row, cells) in &grid.rows {
        let r = (*row - 1) as u32;
        let bad: HashMap<String, &RowError> = errors
            .get(row)
            .map(|es| {
                es.iter()
                    .filter_map(|e| e.column.clone().map(|c| (c, *e)))
                    .collect()
            })
            .unwrap_or_default();
        for (i, cell) in cells.iter().enumerate() {
            let c = i as u16;
            let mark = bad.get(&super::column_letter(i));
            let res = match (cell, mark) {
                (Cell::Empty, Some(_)) => ws.write_blank(r, c, &s.bad).map(|_| ()),
                (Cell::Empty, None) => Ok(()),
                (Cell::Number(n), Some(_)) => {
                    ws.write_number_with_format(r, c, *n, &s.bad).map(|_| ())
                }
                (Cell::Number(n), None) => ws.write_number(r, c, *n).map(|_| ()),
                (Cell::Date(d), Some(_)) => ws
                    .write_number_with_format(r, c, *d, &s.bad.clone().set_num_format("yyyy-mm-dd"))
                    .map(|_| ()),
                (Cell::Date(d), None) => ws.write_number_with_format(r, c, *d, &date).map(|_| ()),
                (other, Some(_)) => ws
                    .write_string_with_format(r, c, other.text(), &s.bad)
                    .map(|_| ()),
                (other, None) => ws.write_string(r, c, other.text()).map(|_| ()),
            };
            res.map_err(xlsx_error)?;
            if let Some(e) = mark {
                ws.insert_note(r, c, &Note::new(&e.reason).add_author_prefix(false))
                    .map_err(xlsx_error)?;
            }
        }
        // Cells the sheet lacks but an error is about (an empty trailing cell).
        for (letter, e) in &bad {
            let i = (0..width as usize).find(|i| super::column_letter(*i) == *letter);
            if let Some(i) = i
                && i >= cells.len()
            {
                ws.write_blank(r, i as u16, &s.bad).map_err(xlsx_error)?;
                ws.insert_note(r, i as u16, &Note::new(&e.reason).add_author_prefix(false))
                    .map_err(xlsx_error)?;
            }
        }
        let (result, reason) = if *row == report.header_row {
            ws.write_string_with_format(r, result_col, "导入结果", &s.header)
                .map_err(xlsx_error)?;
            ws.write_string_with_format(r, reason_col, "说明", &s.header)
                .map_err(xlsx_error)?;
            continue;
        } else if let Some(es) = errors.get(row) {
            let text = es
                .iter()
                .map(|e| match (&e.column, &e.header) {
                    (Some(c), Some(h)) => {
                        format!("{c}列（{h}）：{}", crate::ui::page::chinese(&e.reason))
                    }
                    (None, Some(h)) => format!("{h}：{}", crate::ui::page::chinese(&e.reason)),
                    _ => crate::ui::page::chinese(&e.reason).to_string(),
                })
                .collect::<Vec<_>>()
                .join("；");
            ("错误，未导入", text)
        } else if let Some(sk) = skipped.get(row) {
            ("已跳过", crate::ui::page::chinese(&sk.reason).to_string())
        } else if let Some(d) = created.get(row) {
            let what = if report.dry_run {
                "校验通过"
            } else {
                "已导入"
            };
            let number = d.number.clone().unwrap_or_default();
            (what, format!("{number} {}", d.status).trim().to_string())
        } else {
            continue;
        };
        let f = if errors.contains_key(row) {
            &s.bad
        } else {
            &s.text
        };
        ws.write_string_with_format(r, result_col, result, f)
            .map_err(xlsx_error)?;
        ws.write_string_with_format(r, reason_col, reason, f)
            .map_err(xlsx_error)?;
    }
    if report.header_row > 0 {
        ws.set_freeze_panes(report.header_row as u32, 0)
            .map_err(xlsx_error)?;
    }
    book.save_to_buffer().map_err(xlsx_error)
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
