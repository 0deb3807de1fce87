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
//!
//! Files: `row` (the header row, the columns, one row read into a `NewHazard`), `history` (the events a
//! rectified or closed row gets), `annotate` (the sheet again with each bad cell marked).

mod annotate;
mod history;
mod row;

use std::collections::HashMap;

use safemesh_model::hazard::{self as mh, HazardEvent, Status};
use safemesh_store::Store;
use serde::Serialize;
use time::Date;

use crate::excel::sheet::{Cell, Grid};
use crate::hazards::{self, Checked, HazardSettings, Numbering};
use crate::records::{Actor, RecordError};

pub use annotate::annotated_workbook;
use history::{history, status_word};
pub use row::{STATUS_WORDS, parse_status};
use row::{find_layout, is_total_row, read_row};

/// Rows written per transaction.
pub const BATCH: usize = 500;
/// The most data rows one import takes.
pub const MAX_ROWS: usize = 20_000;
/// The note every imported event carries.
pub const IMPORTED: &str = "导入";
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
                crate::excel::column_letter(*i),
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
