//! 台账导入导出 — the ledgers as Excel workbooks, and hazards registered from a sheet (issue 15,
//! "Ledger export and import"; STANDARDS §6.1).
//!
//! - [`export`]: the 隐患台账 (and with `grade=major` the 重大隐患台账) and the 任务台账, written with
//!   rust_xlsxwriter in constant-memory mode while the hazards are read from the store a page at a
//!   time, so a ledger of any size takes the memory of one page.
//! - [`template`]: the header-only import template, with drop-downs from this node's dictionaries.
//! - [`sheet`]: reading what people send (`.xlsx`, `.xls` with calamine; `.csv` in UTF-8 or GBK).
//! - [`import`]: a sheet's rows as `NewHazard`s judged by `crate::hazards::check` — the rules
//!   `POST /api/v1/hazards` applies, nowhere copied — and written by `crate::hazards::write_checked`;
//!   the report of each bad row and its column, and the workbook annotated with it.
//! - [`http`]: the API's endpoints; the UI (`crate::ui::views::excel`) and the CLI call the same
//!   functions.

use time::Date;

pub mod cli;
pub mod columns;
pub mod export;
pub mod http;
pub mod import;
pub mod sheet;
pub mod template;

pub use export::{export_directives, export_hazards};
pub use import::{ImportOptions, ImportReport, import_hazards};

/// The content type of an `.xlsx` file.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The column letters Excel shows for a 0-based column index (0 → `A`, 26 → `AA`).
pub fn column_letter(mut col: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The day an Excel serial number (1900 date system, as Excel counts: day 60 is the phantom
/// 1900-02-29) names; `None` outside 1900–9999.
pub fn date_from_serial(serial: f64) -> Option<Date> {
    if !serial.is_finite() || !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as i64;
    // Excel's epoch is 1899-12-31 for day 1, and it counts 1900-02-29, which never was; from day 61 on,
    // counting from 1899-12-30 lands on the right day.
    let base = if days >= 61 {
        time::macros::date!(1899 - 12 - 30)
    } else {
        time::macros::date!(1899 - 12 - 31)
    };
    base.checked_add(time::Duration::days(days))
}

/// A date as people write it in sheets: `2026-01-05`, `2026/1/5`, `2026.1.5`, `2026年1月5日`,
/// `20260105`, with or without a time after it.
pub fn parse_date_text(s: &str) -> Option<Date> {
    let s = s.trim();
    let s = s.split([' ', 'T']).next().unwrap_or(s);
    let s = s.trim_end_matches('日').trim_end_matches('号');
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        let (y, rest) = s.split_at(4);
        let (m, d) = rest.split_at(2);
        return ymd(y, m, d);
    }
    let parts: Vec<&str> = s.split(['-', '/', '.', '年', '月']).collect();
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 => ymd(y, m, d),
        _ => None,
    }
}

fn ymd(y: &str, m: &str, d: &str) -> Option<Date> {
    let y: i32 = y.trim().parse().ok()?;
    let m: u8 = m.trim().parse().ok()?;
    let d: u8 = d.trim().parse().ok()?;
    Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()
}

/// The 1900-system Excel serial of a day.
pub fn serial_of(d: Date) -> f64 {
    (d - time::macros::date!(1899 - 12 - 30)).whole_days() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn column_letters_run_past_z() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27), "AB");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }

    #[test]
    fn serial_dates_are_the_days_excel_shows() {
        assert_eq!(date_from_serial(46027.0), Some(date!(2026 - 01 - 05)));
        assert_eq!(date_from_serial(1.0), Some(date!(1900 - 01 - 01)));
        assert_eq!(date_from_serial(61.0), Some(date!(1900 - 03 - 01)));
        assert_eq!(date_from_serial(46027.75), Some(date!(2026 - 01 - 05)));
        assert_eq!(serial_of(date!(2026 - 01 - 05)), 46027.0);
        assert_eq!(date_from_serial(-3.0), None);
    }

    #[test]
    fn dates_in_the_ways_clerks_write_them() {
        let d = Some(date!(2026 - 01 - 05));
        for s in [
            "2026-01-05",
            "2026/1/5",
            "2026.1.5",
            "2026年1月5日",
            "2026年01月05号",
            "20260105",
            "2026-01-05 00:00:00",
            " 2026/01/05 ",
        ] {
            assert_eq!(parse_date_text(s), d, "{s}");
        }
        for s in ["2026-13-01", "1月5日", "明天", "2026-02-30", ""] {
            assert_eq!(parse_date_text(s), None, "{s}");
        }
    }
}
