//! The monthly report and its workbook, read back with calamine: the title, 填报单位, 报告期, the two-row
//! merged header, a sector row's numbers, 合计 equal to the sum of the rows, the footer; and the JSON
//! shape.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use safemesh_model::AdminCode;
use safemesh_model::hazard::{EventKind, Grade, HazardEvent, Plan};
use safemesh_model::period::{HazardFacts, Month, PeriodKind, PeriodStats};
use safemesh_node::reports::monthly::{self, MonthlyReport};
use safemesh_node::reports::xlsx::{self, FIRST_DATA_ROW, MONTHLY_SHEET};

fn ev(kind: EventKind, at: &str) -> HazardEvent {
    HazardEvent::new(kind, AdminCode::parse("530181006").unwrap(), at)
}

fn hazard(
    month: &str,
    row: &str,
    grade: Grade,
    credit: &str,
    events: Vec<HazardEvent>,
) -> HazardFacts {
    HazardFacts {
        found: Month::parse(month).unwrap(),
        row: row.into(),
        grade,
        stock: false,
        credit_code: credit.into(),
        events,
    }
}

fn sample() -> MonthlyReport {
    let plan = HazardEvent {
        plan: Some(Plan {
            responsible_unit: "某矿业公司".into(),
            responsible_person: "张三".into(),
            measures: "加高坝体".into(),
            funds_wan: 48.5,
            deadline: "2026-09-30".into(),
            contingency_plan: "汛期值守".into(),
        }),
        ..ev(EventKind::Plan, "2026-03-05T02:00:00Z")
    };
    let notify = HazardEvent {
        recipients: vec!["主要负责人".into(), "实际控制人".into()],
        ..ev(EventKind::Notify, "2026-03-01T02:00:00Z")
    };
    let supervise = HazardEvent {
        level: Some(AdminCode::parse("53").unwrap()),
        ..ev(EventKind::Supervise, "2026-03-02T02:00:00Z")
    };
    let hazards = vec![
        hazard(
            "2026-01",
            "尾矿库",
            Grade::General,
            "A",
            vec![ev(EventKind::Rectified, "2026-02-01T02:00:00Z")],
        ),
        hazard("2026-02", "尾矿库", Grade::General, "A", vec![]),
        hazard(
            "2026-03",
            "尾矿库",
            Grade::Major,
            "B",
            vec![notify, supervise, plan],
        ),
        hazard("2026-03", "危险化学品", Grade::General, "C", vec![]),
        // Outside the period (next month) and outside the year.
        hazard("2026-04", "危险化学品", Grade::General, "C", vec![]),
        hazard("2025-12", "危险化学品", Grade::General, "C", vec![]),
    ];
    let stats = PeriodStats::own(&hazards, &[], Month::parse("2026-04").unwrap());
    monthly::build(
        &AdminCode::parse("530181").unwrap(),
        "安宁市",
        "2026-04-01T00:00:00Z",
        Month::parse("2026-03").unwrap(),
        PeriodKind::Cumulative,
        &stats,
    )
}

fn num(d: Option<&Data>) -> f64 {
    match d {
        Some(Data::Float(f)) => *f,
        Some(Data::Int(i)) => *i as f64,
        _ => 0.0,
    }
}

fn text(d: Option<&Data>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

#[test]
fn the_report_has_the_forms_rows_and_a_total() {
    let r = sample();
    assert_eq!(r.period_label, "2026年1月至3月");
    assert_eq!(r.rows.first().unwrap().row, "煤矿");
    assert_eq!(r.total().row, "合计");
    let tail = r.rows.iter().find(|x| x.row == "尾矿库").unwrap();
    assert_eq!((tail.general.found, tail.general.rectified), (2, 1));
    assert_eq!(tail.general.rate, Some(50.0));
    assert_eq!(
        (
            tail.major.found,
            tail.major.planned,
            tail.major.five_in_place
        ),
        (1, 1, 1)
    );
    assert_eq!(
        (tail.major.supervised, tail.major.supervised_by_province),
        (1, 1)
    );
    assert_eq!(tail.funds_wan, 48.5);
    assert_eq!(tail.units, 2);
    let t = r.total();
    assert_eq!((t.general.found, t.major.found, t.units), (3, 1, 3));
    // The JSON shape.
    let v = serde_json::to_value(&r).unwrap();
    for k in [
        "title",
        "scope",
        "scope_name",
        "month",
        "period",
        "from",
        "to",
        "period_label",
        "rows",
        "accidents",
    ] {
        assert!(v.get(k).is_some(), "{k} in {v}");
    }
    assert_eq!(v["period"], "cumulative");
    let row = &v["rows"][2];
    assert_eq!(row["row"], "尾矿库");
    for k in ["units", "general", "major", "funds_wan", "stock", "new"] {
        assert!(row.get(k).is_some(), "{k}");
    }
    assert_eq!(row["major"]["supervised_by_province"], 1);
    assert_eq!(v["rows"][0]["general"]["rate"], serde_json::Value::Null);
}

#[test]
fn the_workbook_reads_back_in_the_statutory_layout() {
    let r = sample();
    let bytes = xlsx::monthly_workbook(&r).unwrap();
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let s = wb.worksheet_range(MONTHLY_SHEET).unwrap();
    let at = |row: u32, col: u32| s.get_value((row, col));
    assert_eq!(
        text(at(0, 0)),
        "煤矿、金属非金属矿山等工矿企业安全生产事故隐患排查治理情况月报表"
    );
    assert!(text(at(1, 0)).contains("填报单位"), "{}", text(at(1, 0)));
    assert!(text(at(1, 0)).contains("安宁市"));
    assert_eq!(text(at(1, 6)), "报告期：2026年1月至3月");
    assert_eq!(text(at(2, 0)), "行业和领域");
    assert_eq!(text(at(2, 1)), "排查治理事故隐患的生产经营单位（家）");
    assert_eq!(text(at(2, 2)), "一般事故隐患");
    assert_eq!(text(at(2, 5)), "重大事故隐患");
    assert_eq!(text(at(2, 12)), "累计落实治理资金（万元）");
    assert_eq!(text(at(3, 2)), "排查（项）");
    assert_eq!(text(at(3, 4)), "整改率（%）");
    assert_eq!(text(at(3, 6)), "其中：已整改销号（项）");
    let merges = wb.merge_cells_by_sheet_name(MONTHLY_SHEET).unwrap();
    let merged = |a: (u32, u32), b: (u32, u32)| merges.iter().any(|d| d.start == a && d.end == b);
    assert!(merged((0, 0), (0, 12)), "title over the whole width");
    assert!(merged((2, 0), (3, 0)), "行业和领域 over both header rows");
    assert!(
        merged((2, 2), (2, 4)),
        "一般事故隐患 over its three columns"
    );
    assert!(
        merged((2, 5), (2, 11)),
        "重大事故隐患 over its seven columns"
    );
    assert!(merged((2, 12), (3, 12)), "funds over both header rows");
    // The 尾矿库 row.
    let first = FIRST_DATA_ROW;
    let rows = r.rows.len() as u32;
    let tail = (first..first + rows)
        .find(|&i| text(at(i, 0)) == "尾矿库")
        .expect("尾矿库 row");
    assert_eq!(num(at(tail, 1)), 2.0);
    assert_eq!(
        (num(at(tail, 2)), num(at(tail, 3)), num(at(tail, 4))),
        (2.0, 1.0, 50.0)
    );
    assert_eq!(num(at(tail, 5)), 1.0);
    assert_eq!(num(at(tail, 12)), 48.5);
    // 合计 is the last row and equals the sum of the rows above it (counts and funds).
    let total = first + rows - 1;
    assert_eq!(text(at(total, 0)), "合计");
    for col in [2u32, 3, 5, 6, 8, 9, 10, 11, 12] {
        let sum: f64 = (first..total).map(|i| num(at(i, col))).sum();
        assert_eq!(num(at(total, col)), sum, "column {col}");
    }
    // Blank 整改率 where nothing was found.
    assert!(matches!(at(first, 4), None | Some(Data::Empty)));
    // The footer.
    let foot = total + 2;
    assert_eq!(text(at(foot, 0)), "单位负责人：");
    assert_eq!(text(at(foot, 4)), "填表人：");
    assert!(text(at(foot, 8)).starts_with("填报日期："));
    let acc = wb.worksheet_range(xlsx::ACCIDENT_SHEET).unwrap();
    assert_eq!(text(acc.get_value((1, 0))), "事故等级");
}
