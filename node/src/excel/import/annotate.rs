//! 标注 — the uploaded sheet again, each bad cell marked, for the clerk to correct and import again.

use std::collections::HashMap;

use rust_xlsxwriter::{Format, Note, Workbook};

use crate::excel::export::{Styles, xlsx_error};
use crate::excel::sheet::{Cell, Grid};
use crate::records::RecordError;

use super::{ImportReport, RowDone, RowError, RowSkipped};

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
            let mark = bad.get(&crate::excel::column_letter(i));
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
            let i = (0..width as usize).find(|i| crate::excel::column_letter(*i) == *letter);
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
                        format!("{c}列（{h}）：{}", crate::format::chinese(&e.reason))
                    }
                    (None, Some(h)) => format!("{h}：{}", crate::format::chinese(&e.reason)),
                    _ => crate::format::chinese(&e.reason).to_string(),
                })
                .collect::<Vec<_>>()
                .join("；");
            ("错误，未导入", text)
        } else if let Some(sk) = skipped.get(row) {
            ("已跳过", crate::format::chinese(&sk.reason).to_string())
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
