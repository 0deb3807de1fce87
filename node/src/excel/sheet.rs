//! 读表 — what people upload, as a grid of cells: the first worksheet of an `.xlsx`/`.xls` (calamine),
//! or a `.csv` in UTF-8 (with or without BOM) or GBK (GB18030), as Excel saves it on a Chinese
//! Windows.

use std::io::Cursor;

use calamine::{Data, Reader, open_workbook_auto_from_rs};

use crate::records::RecordError;

/// One cell as read.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// A date or date-time cell, as its Excel serial.
    Date(f64),
    Bool(bool),
}

impl Cell {
    /// The cell as text: numbers without a trailing `.0`, dates as `YYYY-MM-DD`.
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.trim().to_string(),
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Cell::Number(n) => n.to_string(),
            Cell::Date(s) => super::date_from_serial(*s)
                .map(safemesh_model::hazard::format_date)
                .unwrap_or_else(|| s.to_string()),
            Cell::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }
}

/// A sheet: its rows, each with the 1-based row number Excel shows.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    pub rows: Vec<(usize, Vec<Cell>)>,
}

/// The kinds of file the import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Workbook,
    Csv,
}

/// The kind of an upload: by its name's extension, else by its first bytes (a zip or an OLE file is a
/// workbook; anything else is taken for CSV).
pub fn kind_of(name: &str, bytes: &[u8]) -> Kind {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".csv") || lower.ends_with(".txt") {
        return Kind::Csv;
    }
    if lower.ends_with(".xlsx") || lower.ends_with(".xls") || lower.ends_with(".xlsm") {
        return Kind::Workbook;
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        Kind::Workbook
    } else {
        Kind::Csv
    }
}

fn unreadable(what: impl std::fmt::Display) -> RecordError {
    RecordError::bad(
        "file",
        format!(
            "无法读取文件，请上传 .xlsx、.xls 或 .csv（UTF-8 或 GBK）/ cannot read the file: {what}"
        ),
    )
}

/// Reads an upload named `name`.
pub fn read(name: &str, bytes: Vec<u8>) -> Result<Grid, RecordError> {
    match kind_of(name, &bytes) {
        Kind::Workbook => read_workbook(bytes),
        Kind::Csv => read_csv(&bytes),
    }
}

/// The first worksheet of an `.xlsx`, `.xlsm` or `.xls`.
pub fn read_workbook(bytes: Vec<u8>) -> Result<Grid, RecordError> {
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(unreadable)?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| unreadable("工作簿中没有工作表 / no worksheet"))?
        .map_err(unreadable)?;
    let (top, left) = range.start().unwrap_or((0, 0));
    let mut grid = Grid::default();
    for (i, row) in range.rows().enumerate() {
        let mut cells = vec![Cell::Empty; left as usize];
        cells.extend(row.iter().map(|d| match d {
            Data::Empty | Data::Error(_) => Cell::Empty,
            Data::String(s) => Cell::Text(s.clone()),
            Data::Int(n) => Cell::Number(*n as f64),
            Data::Float(f) => Cell::Number(*f),
            Data::Bool(b) => Cell::Bool(*b),
            Data::DateTime(dt) => Cell::Date(dt.as_f64()),
            Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        }));
        grid.rows.push((top as usize + i + 1, cells));
    }
    Ok(grid)
}

/// Text of a CSV upload: UTF-8 (a BOM is dropped) if it is valid UTF-8, else GB18030 (which GBK is a
/// part of).
pub fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::GB18030.decode(bytes).0.into_owned(),
    }
}

/// A CSV upload, every cell as text (dates in text are read by the import like any other).
pub fn read_csv(bytes: &[u8]) -> Result<Grid, RecordError> {
    let text = decode_text(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut grid = Grid::default();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(unreadable)?;
        grid.rows.push((
            i + 1,
            rec.iter().map(|s| Cell::Text(s.to_string())).collect(),
        ));
    }
    Ok(grid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_and_utf8_csv_read_the_same() {
        let text = "隐患名称,整改期限\n储罐区报警未联锁,2026/1/5\n";
        let gbk = encoding_rs::GBK.encode(text).0.into_owned();
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        for bytes in [gbk, bom, text.as_bytes().to_vec()] {
            let g = read_csv(&bytes).unwrap();
            assert_eq!(g.rows.len(), 2);
            assert_eq!(g.rows[0].1[0], Cell::Text("隐患名称".into()));
            assert_eq!(g.rows[1].0, 2);
            assert_eq!(g.rows[1].1[1].text(), "2026/1/5");
        }
    }

    #[test]
    fn the_kind_comes_from_the_name_or_the_bytes() {
        assert_eq!(kind_of("台账.XLSX", b""), Kind::Workbook);
        assert_eq!(kind_of("台账.csv", b"PK\x03\x04"), Kind::Csv);
        assert_eq!(kind_of("upload", b"PK\x03\x04rest"), Kind::Workbook);
        assert_eq!(kind_of("upload", "隐患名称".as_bytes()), Kind::Csv);
    }

    #[test]
    fn cells_as_text() {
        assert_eq!(Cell::Number(42.0).text(), "42");
        assert_eq!(Cell::Number(12.5).text(), "12.5");
        assert_eq!(Cell::Date(46027.0).text(), "2026-01-05");
        assert!(Cell::Text("  ".into()).is_empty());
    }
}
