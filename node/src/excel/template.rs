//! 导入模板 — the header-only workbook a clerk fills in: the import's columns with their headers
//! (required ones in red, each with a note saying what it takes), drop-downs from this node's
//! dictionaries (行业领域, 隐患等级, 发现渠道, 检查方式, 存量/增量, 整改状态) kept on a hidden 字典 sheet
//! so a node's own sectors fit, date columns formatted as dates, and a 填写说明 sheet.

use rust_xlsxwriter::{Color, DataValidation, Format, Formula, Note, Workbook};
use safemesh_model::hazard::{Channel, facts};

use super::columns::{COLUMNS, Col};
use super::export::{Styles, xlsx_error};
use crate::hazards::HazardSettings;
use crate::records::RecordError;

/// Rows of the template that carry the drop-downs.
pub const TEMPLATE_ROWS: u32 = 10_000;

/// The values a dictionary column offers: Chinese labels (codes are accepted too).
pub fn choices(settings: &HazardSettings, col: Col) -> Option<Vec<String>> {
    let v: Vec<String> = match col {
        Col::Sector => settings
            .sectors
            .names()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Col::Grade => vec!["一般隐患".into(), "重大事故隐患".into()],
        Col::Channel => [
            Channel::Inspection,
            Channel::EnterpriseSelfReport,
            Channel::PublicReport,
        ]
        .iter()
        .map(|c| c.label_zh().to_string())
        .collect(),
        Col::InspectionMode => facts::inspection_modes()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Col::Stock => vec!["存量".into(), "增量".into()],
        Col::Status => super::import::STATUS_WORDS
            .iter()
            .map(|(w, _)| w.to_string())
            .collect(),
        _ => return None,
    };
    Some(v)
}

fn hint(col: Col) -> &'static str {
    match col {
        Col::Number => {
            "留空则自动编号；填写时须为本级格式（本级代码-年份-四位序号），重复导入时按编号跳过已有隐患"
        }
        Col::Title => "必填，不超过200字",
        Col::Sector => "必填，从下拉列表选择，也可填写别名（如 危化品、燃气）",
        Col::Grade => "必填：一般隐患 或 重大事故隐患",
        Col::Channel => "必填：督导检查发现、企业自查上报、群众举报查实",
        Col::InspectionMode => "督导检查发现时必填；企业自查上报时不填",
        Col::FoundByLevel => "可填行政区划代码或 省级/市级/县级/乡级，默认本级",
        Col::FoundOn => "日期，如 2026-01-05、2026/1/5 或 2026年1月5日；默认今天",
        Col::Stock => "可不填，按发现日期自动判定",
        Col::EnterpriseName => "必填（本级已登记信用代码的企业可只填信用代码）",
        Col::CreditCode => "18位统一社会信用代码，可不填",
        Col::Division => "本级辖区内的区划代码（可到村、社区12位），默认本级",
        Col::Address => "不超过200字",
        Col::BasisStandard => "重大事故隐患必填",
        Col::BasisClause => "重大事故隐患必填",
        Col::Deadline => "必填，日期，不早于发现日期",
        Col::Description => "不超过5000字",
        Col::PlanUnit => "整改方案（五落实）：责任单位；已整改、已销号的重大事故隐患必填",
        Col::PlanPerson => "整改方案：责任人；已整改、已销号的重大事故隐患必填",
        Col::PlanMeasures => "整改方案：整改措施；已整改、已销号的重大事故隐患必填",
        Col::PlanFunds => "整改方案：整改资金（万元），无需资金填0",
        Col::PlanContingency => "整改方案：应急预案（整改期间的安全防范措施）；重大事故隐患必填",
        Col::Status => "可不填（未整改）；已整改须填整改完成日期，已销号须填销号日期",
        Col::RectifiedOn => "已整改、已销号时填写",
        Col::AcceptedOn => "已销号时可填，默认同销号日期",
        Col::ClosedOn => "已销号时必填",
        Col::Owner => "可不填；填写时须为本级",
    }
}

/// The import template of this node.
pub fn import_template(settings: &HazardSettings) -> Result<Vec<u8>, RecordError> {
    let s = Styles::new();
    let required = s.header.clone().set_font_color(Color::RGB(0xC00000));
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let text = Format::new().set_num_format("@");
    let mut book = Workbook::new();
    // The 字典 sheet first in memory, so the validations can name it; it is hidden and second.
    let mut lists: Vec<(Col, String)> = Vec::new();
    {
        let ws = book.add_worksheet();
        ws.set_name("隐患导入模板").map_err(xlsx_error)?;
        for (i, c) in COLUMNS.iter().enumerate() {
            let col = i as u16;
            let width = if c.header.chars().count() > 5 {
                16.0
            } else {
                13.0
            };
            ws.set_column_width(col, if c.col == Col::Title { 36.0 } else { width })
                .map_err(xlsx_error)?;
            let f = if c.required { &required } else { &s.header };
            ws.write_string_with_format(0, col, c.header, f)
                .map_err(xlsx_error)?;
            ws.insert_note(
                0,
                col,
                &Note::new(hint(c.col))
                    .set_author("safemesh")
                    .add_author_prefix(false),
            )
            .map_err(xlsx_error)?;
            if c.date {
                ws.set_column_format(col, &date).map_err(xlsx_error)?;
            } else if matches!(c.col, Col::Number | Col::CreditCode | Col::Division) {
                // Codes stay text (a 12-digit code would otherwise turn into 5.30181E+11).
                ws.set_column_format(col, &text).map_err(xlsx_error)?;
            }
        }
        ws.set_freeze_panes(1, 2).map_err(xlsx_error)?;
    }
    {
        let ws = book.add_worksheet();
        ws.set_name("字典").map_err(xlsx_error)?;
        let mut k = 0u16;
        for c in COLUMNS {
            let Some(values) = choices(settings, c.col) else {
                continue;
            };
            ws.write_string(0, k, c.header).map_err(xlsx_error)?;
            for (r, v) in values.iter().enumerate() {
                ws.write_string(r as u32 + 1, k, v).map_err(xlsx_error)?;
            }
            let letter = super::column_letter(k as usize);
            lists.push((
                c.col,
                format!("='字典'!${letter}$2:${letter}${}", values.len() + 1),
            ));
            k += 1;
        }
        ws.set_hidden(true);
    }
    {
        let ws = book.add_worksheet();
        ws.set_name("填写说明").map_err(xlsx_error)?;
        ws.set_column_width(0, 18).map_err(xlsx_error)?;
        ws.set_column_width(1, 90).map_err(xlsx_error)?;
        ws.write_string_with_format(0, 0, "列", &s.header)
            .map_err(xlsx_error)?;
        ws.write_string_with_format(0, 1, "填写要求", &s.header)
            .map_err(xlsx_error)?;
        for (i, c) in COLUMNS.iter().enumerate() {
            let name = if c.required {
                format!("{}（必填）", c.header)
            } else {
                c.header.to_string()
            };
            ws.write_string(i as u32 + 1, 0, name).map_err(xlsx_error)?;
            let also = if c.aliases.is_empty() {
                String::new()
            } else {
                format!("（也可用列名：{}）", c.aliases.join("、"))
            };
            ws.write_string(i as u32 + 1, 1, format!("{}{also}", hint(c.col)))
                .map_err(xlsx_error)?;
        }
    }
    let ws = book.worksheet_from_index(0).map_err(xlsx_error)?;
    for (col, formula) in lists {
        let Some(i) = COLUMNS.iter().position(|c| c.col == col) else {
            continue;
        };
        let header = COLUMNS[i].header;
        let dv = DataValidation::new()
            .allow_list_formula(Formula::new(formula))
            .set_error_title("输入值无效")
            .and_then(|d| d.set_error_message(format!("{header}：请从下拉列表中选择")))
            .map_err(xlsx_error)?;
        ws.add_data_validation(1, i as u16, TEMPLATE_ROWS, i as u16, &dv)
            .map_err(xlsx_error)?;
    }
    book.save_to_buffer().map_err(xlsx_error)
}
