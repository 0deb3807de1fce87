//! 台账导出 — the 隐患台账 (重大隐患台账 for `grade=major`) and the 任务台账 as workbooks: a title row,
//! the office and the date of export, Chinese headers, the header row and the first columns frozen,
//! dates as Excel dates, dictionary values as their Chinese labels, column widths, and a 合计 row.
//!
//! The hazard ledger is read from the store a page at a time: the ids of the whole ledger in its order
//! first (`Store::hazard_ids`, the ledger's own filter and order — one sort of ids), then the rows
//! [`PAGE`] ids at a time (`Store::hazards_by_ids`), written in rust_xlsxwriter's constant-memory
//! mode, which flushes each row to a temporary file: memory stays that of one page and the id list
//! whatever the ledger's size. (Paging with `Store::hazards_page` re-sorted every whole row for each
//! page when the order has ties — hazards created in the same second — and took minutes at 100,000.)

use rust_xlsxwriter::{
    Color, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};
use safemesh_model::hazard::{self as mh, Grade};
use safemesh_store::Store;
use serde_json::Value;
use time::Date;

use crate::directives::ListFilter;
use crate::format;
use crate::hazards::{HazardQuery, HazardSettings};
use crate::records::RecordError;

/// Hazards read from the store per chunk while exporting.
pub const PAGE: u32 = 1000;

/// The office a ledger is exported at (its title and 填报单位 line).
#[derive(Debug, Clone)]
pub struct Office {
    pub code: String,
    pub name: String,
}

/// Reports progress: rows written so far and the total.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Send + Sync);

/// No progress reporting.
pub fn no_progress(_: u64, _: u64) {}

pub(crate) fn xlsx_error(e: XlsxError) -> RecordError {
    RecordError::internal(format!(
        "生成 Excel 失败 / writing the workbook failed: {e}"
    ))
}

/// The cell formats of a ledger.
pub(crate) struct Styles {
    pub title: Format,
    pub subtitle: Format,
    pub header: Format,
    pub text: Format,
    pub number: Format,
    pub money: Format,
    pub date: Format,
    pub total: Format,
    pub total_number: Format,
    pub bad: Format,
}

impl Styles {
    pub fn new() -> Styles {
        let cell = Format::new()
            .set_border(FormatBorder::Thin)
            .set_align(FormatAlign::VerticalCenter);
        Styles {
            title: Format::new()
                .set_bold()
                .set_font_size(16)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            subtitle: Format::new().set_align(FormatAlign::Left),
            header: cell
                .clone()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_background_color(Color::RGB(0xD9E1F2)),
            text: cell.clone(),
            number: cell.clone().set_align(FormatAlign::Center),
            money: cell.clone().set_num_format("0.00"),
            date: cell
                .clone()
                .set_num_format("yyyy-mm-dd")
                .set_align(FormatAlign::Center),
            total: cell
                .clone()
                .set_bold()
                .set_background_color(Color::RGB(0xF2F2F2)),
            total_number: cell
                .clone()
                .set_bold()
                .set_num_format("0.00")
                .set_background_color(Color::RGB(0xF2F2F2)),
            bad: cell
                .set_background_color(Color::RGB(0xFFC7CE))
                .set_font_color(Color::RGB(0x9C0006)),
        }
    }
}

/// What a ledger cell holds.
pub(crate) enum V {
    Text(String),
    Number(f64),
    Money(f64),
    Date(Option<Date>),
}

pub(crate) fn write_value(
    ws: &mut Worksheet,
    s: &Styles,
    row: u32,
    col: u16,
    v: &V,
) -> Result<(), XlsxError> {
    match v {
        V::Text(t) if t.is_empty() => ws.write_blank(row, col, &s.text).map(|_| ()),
        V::Text(t) => ws
            .write_string_with_format(row, col, t, &s.text)
            .map(|_| ()),
        V::Number(n) => ws
            .write_number_with_format(row, col, *n, &s.number)
            .map(|_| ()),
        V::Money(n) => ws
            .write_number_with_format(row, col, *n, &s.money)
            .map(|_| ()),
        V::Date(Some(d)) => {
            let dt = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day())?;
            ws.write_datetime_with_format(row, col, &dt, &s.date)
                .map(|_| ())
        }
        V::Date(None) => ws.write_blank(row, col, &s.date).map(|_| ()),
    }
}

/// Writes the title row (merged over `cols` columns) and the 填报单位 / date / filter line; returns
/// the row the headers go in.
pub(crate) fn write_title(
    ws: &mut Worksheet,
    s: &Styles,
    title: &str,
    subtitle: &str,
    cols: u16,
) -> Result<u32, XlsxError> {
    let last = cols.saturating_sub(1);
    ws.set_row_height(0, 30)?;
    ws.merge_range(0, 0, 0, last, title, &s.title)?;
    ws.merge_range(1, 0, 1, last, subtitle, &s.subtitle)?;
    Ok(2)
}

pub(crate) fn write_headers(
    ws: &mut Worksheet,
    s: &Styles,
    row: u32,
    headers: &[(&str, f64)],
) -> Result<(), XlsxError> {
    ws.set_row_height(row, 32)?;
    for (i, (h, width)) in headers.iter().enumerate() {
        ws.set_column_width(i as u16, *width)?;
        ws.write_string_with_format(row, i as u16, *h, &s.header)?;
    }
    Ok(())
}

fn str_of<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or("")
}

fn date_of(s: &str) -> Option<Date> {
    if s.is_empty() {
        return None;
    }
    mh::parse_date("date", &format::china_date(s)).ok()
}

/// The day of the last event of `kind` in a hazard's log (in China time).
fn last_event_day(h: &Value, kind: &str) -> Option<Date> {
    h["events"]
        .as_array()?
        .iter()
        .rev()
        .find(|e| e["kind"] == kind)
        .and_then(|e| e["at"].as_str())
        .and_then(date_of)
}

/// A hazard ledger's columns: header, width, and the cell of a decorated hazard.
type HazardCol = (&'static str, f64, fn(&Value) -> V);

fn t(s: &str) -> V {
    V::Text(s.to_string())
}

const BASE_COLUMNS: &[HazardCol] = &[
    ("编号", 22.0, |h| t(str_of(h, &["number"]))),
    ("隐患名称", 40.0, |h| t(str_of(h, &["title"]))),
    ("行业领域", 12.0, |h| t(str_of(h, &["sector"]))),
    ("隐患等级", 14.0, |h| {
        t(format::grade_label(str_of(h, &["grade"])))
    }),
    ("发现渠道", 14.0, |h| {
        t(format::channel_label(str_of(h, &["channel"])))
    }),
    ("检查方式", 12.0, |h| t(str_of(h, &["inspection_mode"]))),
    ("发现层级", 20.0, |h| {
        V::Text(format::office(str_of(h, &["found_by_level"])))
    }),
    ("发现日期", 12.0, |h| {
        V::Date(date_of(str_of(h, &["found_on"])))
    }),
    ("存量/增量", 10.0, |h| t(str_of(h, &["stock_label"]))),
    ("单位名称", 30.0, |h| {
        t(str_of(h, &["enterprise", "name"]))
    }),
    ("统一社会信用代码", 21.0, |h| {
        t(str_of(h, &["enterprise", "credit_code"]))
    }),
    ("所在区划代码", 14.0, |h| {
        t(str_of(h, &["location", "division"]))
    }),
    ("隐患地点", 24.0, |h| {
        t(str_of(h, &["location", "address"]))
    }),
    ("判定依据", 30.0, |h| {
        t(str_of(h, &["basis", "standard"]))
    }),
    ("判定条款", 12.0, |h| t(str_of(h, &["basis", "clause"]))),
    ("整改期限", 12.0, |h| {
        V::Date(date_of(str_of(h, &["deadline"])))
    }),
    ("现行整改期限", 12.0, |h| {
        V::Date(date_of(str_of(h, &["effective_deadline"])))
    }),
    ("整改状态", 10.0, |h| {
        t(format::status_label(str_of(h, &["status"])))
    }),
    ("整改完成日期", 12.0, |h| {
        V::Date(last_event_day(h, "rectified"))
    }),
    ("验收日期", 12.0, |h| {
        V::Date(last_event_day(h, "accept"))
    }),
    ("销号日期", 12.0, |h| {
        V::Date(last_event_day(h, "close"))
    }),
    ("是否逾期", 8.0, |h| {
        t(if h["overdue"] == true { "是" } else { "否" })
    }),
    ("逾期天数", 8.0, |h| match h["days_overdue"].as_i64() {
        Some(d) => V::Number(d as f64),
        None => t(""),
    }),
];

/// The 重大隐患台账's own columns: 挂牌督办 and the 五落实 of the latest plan.
const MAJOR_COLUMNS: &[HazardCol] = &[
    ("挂牌督办", 20.0, |h| match h["supervising"].as_str() {
        Some(c) => V::Text(match h["listing"]["number"].as_str() {
            Some(n) => format!("是（{}，{n}）", format::office(c)),
            None => format!("是（{}）", format::office(c)),
        }),
        None => t("否"),
    }),
    ("五落实", 10.0, |h| {
        t(match (h["plan"].is_object(), h["plan_complete"] == true) {
            (false, _) => "未制定方案",
            (true, true) => "已落实",
            (true, false) => "未全部落实",
        })
    }),
    ("责任单位", 20.0, |h| {
        t(str_of(h, &["plan", "responsible_unit"]))
    }),
    ("责任人", 10.0, |h| {
        t(str_of(h, &["plan", "responsible_person"]))
    }),
    ("整改措施", 30.0, |h| {
        t(str_of(h, &["plan", "measures"]))
    }),
    (
        "治理资金（万元）",
        12.0,
        |h| match h["plan"]["funds_wan"].as_f64() {
            Some(f) => V::Money(f),
            None => t(""),
        },
    ),
    ("应急预案", 24.0, |h| {
        t(str_of(h, &["plan", "contingency_plan"]))
    }),
];

const TAIL_COLUMNS: &[HazardCol] = &[
    ("登记单位", 20.0, |h| {
        V::Text(format::office(str_of(h, &["owner"])))
    }),
    ("详细描述", 40.0, |h| t(str_of(h, &["description"]))),
];

/// Counts the 合计 row shows.
#[derive(Default)]
struct Totals {
    n: u64,
    major: u64,
    closed: u64,
    overdue: u64,
    supervised: u64,
    funds: f64,
}

/// A line saying which filters made this ledger (empty when none).
fn filter_words(q: &HazardQuery) -> String {
    let mut parts = Vec::new();
    let mut add = |label: &str, v: &Option<String>| {
        if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            parts.push(format!("{label}：{v}"));
        }
    };
    add("等级", &q.grade);
    add(
        "状态",
        &q.status
            .as_deref()
            .map(|s| format::status_label(s).to_string()),
    );
    add("登记单位", &q.owner);
    add("辖区", &q.within);
    add("行业领域", &q.sector);
    add("发现渠道", &q.channel);
    add("存量/增量", &q.stock);
    add("逾期", &q.overdue);
    add("挂牌督办", &q.supervised);
    add("关键词", &q.q);
    add("发现日期起", &q.found_from);
    add("发现日期止", &q.found_to);
    add("企业", &q.enterprise);
    parts.join("　")
}

/// 隐患台账 — the ledger for the query's filters and order (its `limit`/`offset` are checked, then
/// ignored: the whole ledger), as an `.xlsx`. `grade=major` gives the 重大隐患台账 with its own columns.
pub async fn export_hazards(
    store: &Store,
    settings: &HazardSettings,
    office: &Office,
    day: Date,
    mut q: HazardQuery,
    progress: Progress<'_>,
) -> Result<Vec<u8>, RecordError> {
    // Not applied, but read like the list's: a value the list would refuse is refused here too.
    crate::records::Paging::parse(q.limit.take().as_deref(), q.offset.take().as_deref())?;
    let words = filter_words(&q);
    let (filter, order) = crate::hazards::ledger_filter(settings, day, q)?;
    let major = filter.grade.as_deref() == Some(Grade::Major.as_str());
    let mut columns: Vec<&HazardCol> = BASE_COLUMNS.iter().collect();
    if major {
        columns.extend(MAJOR_COLUMNS);
    }
    columns.extend(TAIL_COLUMNS);
    let title = if major {
        "重大事故隐患台账"
    } else {
        "隐患台账"
    };

    let s = Styles::new();
    let mut book = Workbook::new();
    let header_row;
    {
        let ws = book
            .add_worksheet_with_constant_memory()
            .map_err(xlsx_error)?;
        ws.set_name(title).map_err(xlsx_error)?;
        let mut headers: Vec<(&str, f64)> = vec![("序号", 6.0)];
        headers.extend(columns.iter().map(|c| (c.0, c.1)));
        let subtitle = format!(
            "填报单位：{}（{}）　导出日期：{}{}",
            office.name,
            office.code,
            mh::format_date(day),
            if words.is_empty() {
                String::new()
            } else {
                format!("　筛选：{words}")
            }
        );
        header_row =
            write_title(ws, &s, title, &subtitle, headers.len() as u16).map_err(xlsx_error)?;
        write_headers(ws, &s, header_row, &headers).map_err(xlsx_error)?;
        // The header row and 序号, 编号, 隐患名称 stay in view.
        ws.set_freeze_panes(header_row + 1, 3).map_err(xlsx_error)?;
    }
    let mut totals = Totals::default();
    let ids = store.hazard_ids(&filter, order).await?;
    let total = ids.len() as u64;
    let mut row = header_row + 1;
    for chunk in ids.chunks(PAGE as usize) {
        let rows = store.hazards_by_ids(chunk).await?;
        let ws = book.worksheet_from_index(0).map_err(xlsx_error)?;
        for r in rows {
            let h = crate::hazards::decorate(r.body, day, settings);
            totals.n += 1;
            totals.major += u64::from(h["grade"] == "major");
            totals.closed += u64::from(h["status"] == "closed");
            totals.overdue += u64::from(h["overdue"] == true);
            totals.supervised += u64::from(h["supervising"].is_string());
            totals.funds += h["plan"]["funds_wan"].as_f64().unwrap_or(0.0);
            write_value(ws, &s, row, 0, &V::Number(totals.n as f64)).map_err(xlsx_error)?;
            for (i, c) in columns.iter().enumerate() {
                write_value(ws, &s, row, i as u16 + 1, &(c.2)(&h)).map_err(xlsx_error)?;
            }
            row += 1;
        }
        progress(totals.n, total);
    }
    let ws = book.worksheet_from_index(0).map_err(xlsx_error)?;
    let col_of = |h: &str| columns.iter().position(|c| c.0 == h).map(|i| i as u16 + 1);
    for i in 0..=columns.len() as u16 {
        ws.write_blank(row, i, &s.total).map_err(xlsx_error)?;
    }
    let mut put = |h: &str, text: String| -> Result<(), XlsxError> {
        if let Some(c) = col_of(h) {
            ws.write_string_with_format(row, c, text, &s.total)?;
        }
        Ok(())
    };
    (|| -> Result<(), XlsxError> {
        put("编号", format!("共{}项", totals.n))?;
        put("隐患等级", format!("重大{}项", totals.major))?;
        put("整改状态", format!("已销号{}项", totals.closed))?;
        put("是否逾期", format!("逾期{}项", totals.overdue))?;
        put("挂牌督办", format!("挂牌{}项", totals.supervised))?;
        Ok(())
    })()
    .map_err(xlsx_error)?;
    ws.write_string_with_format(row, 0, "合计", &s.total)
        .map_err(xlsx_error)?;
    if let Some(c) = col_of("治理资金（万元）") {
        ws.write_number_with_format(row, c, totals.funds, &s.total_number)
            .map_err(xlsx_error)?;
    }
    book.save_to_buffer().map_err(xlsx_error)
}

/// 任务台账 — every directive the filter keeps, one row per unit (its 签收, progress, completion and
/// overdue as of `day`), and a 合计 row.
pub async fn export_directives(
    store: &Store,
    office: &Office,
    day: Date,
    filter: &ListFilter,
    days: u32,
    progress: Progress<'_>,
) -> Result<Vec<u8>, RecordError> {
    let list = crate::directives::list(store, filter, days).await?;
    let headers: &[(&str, f64)] = &[
        ("序号", 6.0),
        ("文号", 20.0),
        ("任务名称", 36.0),
        ("类别", 20.0),
        ("下发单位", 20.0),
        ("下发日期", 12.0),
        ("完成期限", 24.0),
        ("承办单位", 20.0),
        ("承担角色", 12.0),
        ("是否签收", 8.0),
        ("签收日期", 12.0),
        ("进度（%）", 9.0),
        ("是否完成", 8.0),
        ("完成日期", 12.0),
        ("是否逾期", 8.0),
        ("应完成日期", 12.0),
        ("下次报告日期", 12.0),
        ("最近报告", 30.0),
    ];
    let s = Styles::new();
    let mut book = Workbook::new();
    let ws = book
        .add_worksheet_with_constant_memory()
        .map_err(xlsx_error)?;
    ws.set_name("任务台账").map_err(xlsx_error)?;
    let subtitle = format!(
        "填报单位：{}（{}）　导出日期：{}",
        office.name,
        office.code,
        mh::format_date(day)
    );
    let header_row =
        write_title(ws, &s, "任务台账", &subtitle, headers.len() as u16).map_err(xlsx_error)?;
    write_headers(ws, &s, header_row, headers).map_err(xlsx_error)?;
    ws.set_freeze_panes(header_row + 1, 3).map_err(xlsx_error)?;
    let mut row = header_row + 1;
    let (mut n, mut received, mut done, mut overdue) = (0u64, 0u64, 0u64, 0u64);
    let total = list.len() as u64;
    for (k, d) in list.iter().enumerate() {
        let id = d["id"].as_str().unwrap_or_default();
        let full = crate::directives::get(store, id, days).await?;
        let units = full["units"].as_array().cloned().unwrap_or_default();
        for u in units {
            n += 1;
            received += u64::from(u["received"] == true);
            done += u64::from(u["done"] == true);
            overdue += u64::from(u["overdue"] == true);
            let yes = |b: bool| t(if b { "是" } else { "否" });
            let unit = match u["name"].as_str() {
                Some(name) if name != u["unit"].as_str().unwrap_or("") => {
                    format!("{name}（{}）", u["unit"].as_str().unwrap_or(""))
                }
                _ => u["unit"].as_str().unwrap_or("").to_string(),
            };
            let roles = u["role_labels"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("、")
                })
                .unwrap_or_default();
            let cells = [
                V::Number(n as f64),
                t(str_of(&full, &["doc_number"])),
                t(str_of(&full, &["title"])),
                t(str_of(&full, &["category"])),
                V::Text(format::office(str_of(&full, &["issuer"]))),
                V::Date(date_of(str_of(&full, &["created"]))),
                t(str_of(&full, &["deadline_text"])),
                V::Text(unit),
                V::Text(roles),
                yes(u["received"] == true),
                V::Date(date_of(str_of(&u, &["received_at"]))),
                match u["percent"].as_f64() {
                    Some(p) => V::Number(p),
                    None => t(""),
                },
                yes(u["done"] == true),
                V::Date(date_of(str_of(&u, &["completed_at"]))),
                yes(u["overdue"] == true),
                V::Date(date_of(str_of(&u, &["due"]))),
                V::Date(date_of(str_of(&u, &["next_report_due"]))),
                V::Text(match &u["last_report"] {
                    Value::String(s) => s.clone(),
                    Value::Object(o) => o
                        .get("note")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    _ => String::new(),
                }),
            ];
            for (c, v) in cells.iter().enumerate() {
                write_value(ws, &s, row, c as u16, v).map_err(xlsx_error)?;
            }
            row += 1;
        }
        progress(k as u64 + 1, total);
    }
    for c in 0..headers.len() as u16 {
        ws.write_blank(row, c, &s.total).map_err(xlsx_error)?;
    }
    let totals = [
        (0u16, "合计".to_string()),
        (2, format!("任务{}项，承办单位{}个", list.len(), n)),
        (9, format!("已签收{received}")),
        (12, format!("已完成{done}")),
        (14, format!("逾期{overdue}")),
    ];
    for (c, text) in totals {
        ws.write_string_with_format(row, c, text, &s.total)
            .map_err(xlsx_error)?;
    }
    book.save_to_buffer().map_err(xlsx_error)
}
