//! 报表工作簿 — the monthly report and the bulletin as xlsx (rust_xlsxwriter): the statutory layout —
//! title, 填报单位 and 报告期, the two-row merged header, the rows, 合计, units in the headers, and the
//! footer 单位负责人 / 填表人 / 填报日期 — printable on one landscape A4 page.

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

use super::bulletin::Bulletin;
use super::monthly::{
    Cell, FUNDS_HEADER, GENERAL_COLUMNS, GENERAL_HEADER, MAJOR_COLUMNS, MAJOR_HEADER,
    MonthlyReport, ROW_HEADER, UNITS_HEADER,
};
use crate::records::RecordError;

/// The monthly report's sheet.
pub const MONTHLY_SHEET: &str = "月报表";
/// Its companion sheet: accidents against the same period last year.
pub const ACCIDENT_SHEET: &str = "事故情况";
/// The bulletin's sheet.
pub const BULLETIN_SHEET: &str = "月通报";

/// Where the monthly sheet puts things (0-based rows): title, 填报单位/报告期, the two header rows,
/// then the form's rows from [`FIRST_DATA_ROW`], 合计 last, the footer after it.
pub const FIRST_DATA_ROW: u32 = 4;
/// The last column (M): 行业和领域 + 12 figures.
const LAST_COL: u16 = 12;

impl From<XlsxError> for RecordError {
    fn from(e: XlsxError) -> Self {
        RecordError::internal(format!(
            "生成 Excel 失败 / writing the workbook failed: {e}"
        ))
    }
}

struct Formats {
    title: Format,
    meta: Format,
    header: Format,
    text: Format,
    count: Format,
    rate: Format,
    wan: Format,
    total_text: Format,
    total_count: Format,
    total_rate: Format,
    total_wan: Format,
    footer: Format,
}

fn formats() -> Formats {
    let base = Format::new()
        .set_font_name("宋体")
        .set_font_size(10)
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::VerticalCenter);
    let num = base.clone().set_align(FormatAlign::Right);
    Formats {
        title: Format::new()
            .set_font_name("黑体")
            .set_font_size(16)
            .set_bold()
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter),
        meta: Format::new().set_font_name("宋体").set_font_size(11),
        header: base
            .clone()
            .set_bold()
            .set_text_wrap()
            .set_align(FormatAlign::Center),
        text: base.clone(),
        count: num.clone().set_num_format("0"),
        rate: num.clone().set_num_format("0.0"),
        wan: num.clone().set_num_format("0.00"),
        total_text: base.clone().set_bold().set_align(FormatAlign::Center),
        total_count: num.clone().set_bold().set_num_format("0"),
        total_rate: num.clone().set_bold().set_num_format("0.0"),
        total_wan: num.set_bold().set_num_format("0.00"),
        footer: Format::new().set_font_name("宋体").set_font_size(11),
    }
}

fn print_setup(ws: &mut Worksheet) {
    ws.set_landscape();
    ws.set_paper_size(9); // A4
    ws.set_print_fit_to_pages(1, 0);
}

fn write_cell(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    cell: Cell,
    f: &Formats,
    total: bool,
) -> Result<(), XlsxError> {
    let (count, rate, wan) = if total {
        (&f.total_count, &f.total_rate, &f.total_wan)
    } else {
        (&f.count, &f.rate, &f.wan)
    };
    match cell {
        Cell::Count(n) => ws.write_number_with_format(row, col, n as f64, count)?,
        Cell::Rate(Some(r)) => ws.write_number_with_format(row, col, r, rate)?,
        Cell::Rate(None) => ws.write_blank(row, col, rate)?,
        Cell::Wan(w) => ws.write_number_with_format(row, col, w, wan)?,
    };
    Ok(())
}

/// The monthly report as a workbook: the form on [`MONTHLY_SHEET`], accidents on [`ACCIDENT_SHEET`].
pub fn monthly_workbook(r: &MonthlyReport) -> Result<Vec<u8>, RecordError> {
    let f = formats();
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(MONTHLY_SHEET)?;
    print_setup(ws);
    ws.merge_range(0, 0, 0, LAST_COL, &r.title, &f.title)?;
    ws.set_row_height(0, 30)?;
    ws.merge_range(
        1,
        0,
        1,
        5,
        &format!("填报单位（盖章）：{}", r.scope_name),
        &f.meta,
    )?;
    ws.merge_range(
        1,
        6,
        1,
        LAST_COL,
        &format!("报告期：{}", r.period_label),
        &f.meta,
    )?;
    // The two-row header.
    ws.merge_range(2, 0, 3, 0, ROW_HEADER, &f.header)?;
    ws.merge_range(2, 1, 3, 1, UNITS_HEADER, &f.header)?;
    ws.merge_range(2, 2, 2, 4, GENERAL_HEADER, &f.header)?;
    ws.merge_range(2, 5, 2, 11, MAJOR_HEADER, &f.header)?;
    ws.merge_range(2, LAST_COL, 3, LAST_COL, FUNDS_HEADER, &f.header)?;
    for (i, h) in GENERAL_COLUMNS
        .iter()
        .chain(MAJOR_COLUMNS.iter())
        .enumerate()
    {
        ws.write_string_with_format(3, 2 + i as u16, *h, &f.header)?;
    }
    ws.set_row_height(2, 22)?;
    ws.set_row_height(3, 58)?;
    ws.set_column_width(0, 16)?;
    ws.set_column_width(1, 14)?;
    for c in 2..=LAST_COL {
        ws.set_column_width(c, 10)?;
    }
    let last = r.rows.len().saturating_sub(1);
    for (i, row) in r.rows.iter().enumerate() {
        let at = FIRST_DATA_ROW + i as u32;
        let total = i == last;
        let text = if total { &f.total_text } else { &f.text };
        ws.write_string_with_format(at, 0, &row.row, text)?;
        for (j, cell) in row.cells().into_iter().enumerate() {
            write_cell(ws, at, 1 + j as u16, cell, &f, total)?;
        }
    }
    let foot = FIRST_DATA_ROW + r.rows.len() as u32 + 1;
    let today = safemesh_model::hazard::format_date(crate::clock::today());
    ws.merge_range(foot, 0, foot, 3, "单位负责人：", &f.footer)?;
    ws.merge_range(foot, 4, foot, 7, "填表人：", &f.footer)?;
    ws.merge_range(
        foot,
        8,
        foot,
        LAST_COL,
        &format!("填报日期：{today}"),
        &f.footer,
    )?;
    ws.merge_range(
        foot + 1,
        0,
        foot + 1,
        LAST_COL,
        &format!(
            "说明：{}累计数据，按发现日期统计排查数，按报告期末状态统计整改、治理计划、督办与资金；口径见 docs/REPORTS.md。统计时间 {}。",
            r.period_label,
            super::china_time(&r.as_of)
        ),
        &f.footer,
    )?;

    let ws = wb.add_worksheet();
    ws.set_name(ACCIDENT_SHEET)?;
    print_setup(ws);
    ws.merge_range(
        0,
        0,
        0,
        4,
        &format!("{}生产安全事故情况（{}）", r.scope_name, r.period_label),
        &f.title,
    )?;
    for (i, h) in [
        "事故等级",
        "本期起数（起）",
        "本期死亡（人）",
        "去年同期起数（起）",
        "去年同期死亡（人）",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string_with_format(1, i as u16, *h, &f.header)?;
    }
    ws.set_column_width(0, 14)?;
    for c in 1..=4 {
        ws.set_column_width(c, 16)?;
    }
    let a = &r.accidents;
    let grades = [
        ("general", "一般事故"),
        ("larger", "较大事故"),
        ("major", "重大事故"),
        ("especially_major", "特别重大事故"),
    ];
    let mut at = 2;
    for (key, label) in grades {
        let t = a.this_period.get(key).cloned().unwrap_or_default();
        let l = a
            .same_period_last_year
            .get(key)
            .cloned()
            .unwrap_or_default();
        ws.write_string_with_format(at, 0, label, &f.text)?;
        for (j, n) in [t.count, t.deaths, l.count, l.deaths]
            .into_iter()
            .enumerate()
        {
            ws.write_number_with_format(at, 1 + j as u16, n as f64, &f.count)?;
        }
        at += 1;
    }
    ws.write_string_with_format(at, 0, "合计", &f.total_text)?;
    for (j, n) in [
        a.total.count,
        a.total.deaths,
        a.total_last_year.count,
        a.total_last_year.deaths,
    ]
    .into_iter()
    .enumerate()
    {
        ws.write_number_with_format(at, 1 + j as u16, n as f64, &f.total_count)?;
    }
    ws.write_string(
        at + 2,
        0,
        format!(
            "双下降（起数、死亡人数均低于去年同期）：{}",
            if a.double_decline { "是" } else { "否" }
        ),
    )?;
    Ok(wb.save_to_buffer()?)
}

/// The bulletin as a workbook on [`BULLETIN_SHEET`].
pub fn bulletin_workbook(b: &Bulletin) -> Result<Vec<u8>, RecordError> {
    let f = formats();
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(BULLETIN_SHEET)?;
    print_setup(ws);
    let headers = [
        "整改率排名",
        "单位",
        "区划代码",
        "排查（项）",
        "已整改（项）",
        "整改率（%）",
        "重大隐患（项）",
        "重大隐患已销号（项）",
        "逾期未整改（项）",
        "逾期排名",
        "上报情况",
        "汇总时间",
    ];
    let last = headers.len() as u16 - 1;
    ws.merge_range(
        0,
        0,
        0,
        last,
        &format!("{}{}（{}）", b.scope_name, b.title, b.period_label),
        &f.title,
    )?;
    ws.set_row_height(0, 30)?;
    for (i, h) in headers.iter().enumerate() {
        ws.write_string_with_format(1, i as u16, *h, &f.header)?;
    }
    ws.set_column_width(1, 18)?;
    ws.set_column_width(2, 12)?;
    ws.set_column_width(last, 22)?;
    for (i, r) in b.rows.iter().enumerate() {
        let at = 2 + i as u32;
        match r.rank {
            Some(n) => ws.write_number_with_format(at, 0, n as f64, &f.count)?,
            None => ws.write_blank(at, 0, &f.count)?,
        };
        ws.write_string_with_format(at, 1, &r.name, &f.text)?;
        ws.write_string_with_format(at, 2, &r.code, &f.text)?;
        write_cell(ws, at, 3, Cell::Count(r.found), &f, false)?;
        write_cell(ws, at, 4, Cell::Count(r.rectified), &f, false)?;
        write_cell(ws, at, 5, Cell::Rate(r.rate), &f, false)?;
        write_cell(ws, at, 6, Cell::Count(r.major_found), &f, false)?;
        write_cell(ws, at, 7, Cell::Count(r.major_rectified), &f, false)?;
        write_cell(ws, at, 8, Cell::Count(r.overdue), &f, false)?;
        match r.overdue_rank {
            Some(n) => ws.write_number_with_format(at, 9, n as f64, &f.count)?,
            None => ws.write_blank(at, 9, &f.count)?,
        };
        let state = if !r.reported {
            "未上报"
        } else if r.stale {
            "汇总过期"
        } else {
            "已上报"
        };
        ws.write_string_with_format(at, 10, state, &f.text)?;
        ws.write_string_with_format(at, 11, r.as_of.as_deref().unwrap_or(""), &f.text)?;
    }
    let mut at = 2 + b.rows.len() as u32 + 1;
    let names: Vec<String> = b
        .not_reported
        .iter()
        .map(|n| format!("{}（{}）", n.name, n.reason))
        .collect();
    ws.merge_range(
        at,
        0,
        at,
        last,
        &format!(
            "未按时上报单位（{} 个）：{}",
            names.len(),
            if names.is_empty() {
                "无".to_string()
            } else {
                names.join("、")
            }
        ),
        &f.footer,
    )?;
    at += 2;
    ws.merge_range(
        at,
        0,
        at,
        last,
        &format!("通报时间：{}", super::china_time(&b.made_at)),
        &f.footer,
    )?;
    Ok(wb.save_to_buffer()?)
}
