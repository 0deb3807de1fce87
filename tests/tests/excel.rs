//! 台账导入导出 through the HTTP API and the CLI's functions: the ledgers read back with calamine
//! (headers, labels, dates as dates, the 合计 row) and their sheet XML (frozen panes, drop-downs); the
//! import of good, bad and mixed sheets (a bad row named with its column and nothing of it stored),
//! re-import without duplicates, GBK CSV, aliases and serial dates, a closed row with its events, the
//! dry run, the annotated workbook, and export → import into another node.

use std::io::{Cursor, Read};

use calamine::{Data, Range, Reader, open_workbook_auto_from_rs};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use safemesh_testkit::{Cluster, hazard_json, notify_json, plan_json};
use serde_json::{Value, json};

const TOWN: &str = "530181006";

async fn get_bytes(c: &Cluster, code: &str, path: &str) -> anyhow::Result<(u16, Vec<u8>, String)> {
    let n = c.node(code);
    let r = c
        .client()
        .get(format!("{}{path}", n.http_url()))
        .bearer_auth(&n.token)
        .send()
        .await?;
    let status = r.status().as_u16();
    let disposition = r
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Ok((status, r.bytes().await?.to_vec(), disposition))
}

async fn upload(
    c: &Cluster,
    code: &str,
    query: &str,
    name: &str,
    bytes: Vec<u8>,
) -> anyhow::Result<(u16, Vec<u8>)> {
    let n = c.node(code);
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
    let form = reqwest::multipart::Form::new().part("file", part);
    let r = c
        .client()
        .post(format!("{}/api/v1/hazards/import{query}", n.http_url()))
        .bearer_auth(&n.token)
        .multipart(form)
        .send()
        .await?;
    Ok((r.status().as_u16(), r.bytes().await?.to_vec()))
}

async fn import(c: &Cluster, query: &str, name: &str, bytes: Vec<u8>) -> anyhow::Result<Value> {
    let (s, body) = upload(c, TOWN, query, name, bytes).await?;
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    assert_eq!(s, 200, "{v}");
    Ok(v)
}

fn first_sheet(bytes: &[u8]) -> Range<Data> {
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes.to_vec())).expect("a workbook");
    book.worksheet_range_at(0)
        .expect("a sheet")
        .expect("readable")
}

fn sheet_names(bytes: &[u8]) -> Vec<String> {
    open_workbook_auto_from_rs(Cursor::new(bytes.to_vec()))
        .expect("a workbook")
        .sheet_names()
}

/// The XML of `xl/worksheets/sheet{n}.xml`.
fn sheet_xml(bytes: &[u8], n: usize) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).expect("a zip");
    let mut f = zip
        .by_name(&format!("xl/worksheets/sheet{n}.xml"))
        .expect("sheet xml");
    let mut s = String::new();
    f.read_to_string(&mut s).expect("utf-8");
    s
}

fn text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

fn row_texts(r: &Range<Data>, row: usize) -> Vec<String> {
    r.rows()
        .nth(row)
        .map(|c| c.iter().map(text).collect())
        .unwrap_or_default()
}

fn col(headers: &[String], h: &str) -> usize {
    headers
        .iter()
        .position(|x| x == h)
        .unwrap_or_else(|| panic!("no column {h} in {headers:?}"))
}

async fn hazards(c: &Cluster) -> anyhow::Result<Vec<Value>> {
    let (_, v) = c.get(TOWN, "/api/v1/hazards?limit=500").await?;
    Ok(v["items"].as_array().cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exported_ledger_has_labels_dates_a_total_row_and_frozen_panes() -> anyhow::Result<()> {
    let c = Cluster::start(&[TOWN]).await?;
    // 1. A major hazard with its 五落实 plan, and a general one.
    let mut major = hazard_json("液氨储罐区报警未联锁", "major", "2099-12-31");
    major["found_on"] = json!("2026-01-05");
    let (s, m) = c.post(TOWN, "/api/v1/hazards", &major).await?;
    assert_eq!(s, 201, "{m}");
    let mid = m["id"].as_str().unwrap().to_string();
    let ev = format!("/api/v1/hazards/{mid}/events");
    assert_eq!(c.post(TOWN, &ev, &notify_json()).await?.0, 201);
    assert_eq!(c.post(TOWN, &ev, &plan_json("2099-06-30")).await?.0, 201);
    let mut general = hazard_json("消防通道堵塞", "general", "2099-12-31");
    general["channel"] = json!("enterprise_self_report");
    general.as_object_mut().unwrap().remove("inspection_mode");
    assert_eq!(c.post(TOWN, "/api/v1/hazards", &general).await?.0, 201);

    // 2. The whole ledger.
    let (s, bytes, disposition) = get_bytes(&c, TOWN, "/api/v1/hazards/export.xlsx").await?;
    assert_eq!(s, 200);
    assert!(disposition.contains("filename*=UTF-8''"), "{disposition}");
    let r = first_sheet(&bytes);
    assert_eq!(text(&r[(0, 0)]), "隐患台账");
    assert!(
        text(&r[(1, 0)]).contains("填报单位"),
        "{}",
        text(&r[(1, 0)])
    );
    let headers = row_texts(&r, 2);
    for h in [
        "序号",
        "编号",
        "隐患名称",
        "行业领域",
        "隐患等级",
        "发现渠道",
        "发现日期",
        "存量/增量",
        "整改期限",
        "整改状态",
        "判定依据",
    ] {
        col(&headers, h);
    }
    assert!(!headers.contains(&"五落实".to_string()), "{headers:?}");
    let rows: Vec<Vec<Data>> = r.rows().skip(3).map(|x| x.to_vec()).collect();
    assert_eq!(rows.len(), 3, "two hazards and the total");
    let grades: Vec<String> = rows[..2]
        .iter()
        .map(|x| text(&x[col(&headers, "隐患等级")]))
        .collect();
    assert!(
        grades.contains(&"重大事故隐患".to_string()) && grades.contains(&"一般隐患".to_string()),
        "{grades:?}"
    );
    let channels: Vec<String> = rows[..2]
        .iter()
        .map(|x| text(&x[col(&headers, "发现渠道")]))
        .collect();
    assert!(
        channels.contains(&"企业自查上报".to_string()),
        "{channels:?}"
    );
    let major_row = rows
        .iter()
        .find(|x| text(&x[col(&headers, "隐患等级")]) == "重大事故隐患")
        .unwrap();
    let found = &major_row[col(&headers, "发现日期")];
    match found {
        Data::DateTime(d) => assert_eq!(d.as_f64(), 46027.0, "2026-01-05"),
        other => panic!("not a date cell: {other:?}"),
    }
    assert_eq!(text(&major_row[col(&headers, "存量/增量")]), "增量");
    assert_eq!(text(&major_row[col(&headers, "整改状态")]), "整改中");
    let total = &rows[2];
    assert_eq!(text(&total[0]), "合计");
    assert_eq!(text(&total[col(&headers, "编号")]), "共2项");
    assert_eq!(text(&total[col(&headers, "隐患等级")]), "重大1项");
    // The header row and three columns stay in view.
    let xml = sheet_xml(&bytes, 1);
    assert!(
        xml.contains(r#"xSplit="3""#)
            && xml.contains(r#"ySplit="3""#)
            && xml.contains(r#"state="frozen""#),
        "{}",
        &xml[..xml.len().min(1500)]
    );

    // 3. The 重大隐患台账: its title, its own columns, its one row.
    let (_, bytes, disposition) = get_bytes(
        &c,
        TOWN,
        "/api/v1/hazards/export.xlsx?grade=%E9%87%8D%E5%A4%A7",
    )
    .await?;
    assert!(disposition.contains("major-hazards"), "{disposition}");
    let r = first_sheet(&bytes);
    assert_eq!(text(&r[(0, 0)]), "重大事故隐患台账");
    let headers = row_texts(&r, 2);
    for h in [
        "判定依据",
        "挂牌督办",
        "五落实",
        "责任人",
        "治理资金（万元）",
    ] {
        col(&headers, h);
    }
    let row = row_texts(&r, 3);
    assert_eq!(row[col(&headers, "五落实")], "已落实");
    assert_eq!(row[col(&headers, "挂牌督办")], "否");
    assert_eq!(row[col(&headers, "责任人")], "李四");
    let total = row_texts(&r, 4);
    assert_eq!(
        (
            total[0].as_str(),
            total[col(&headers, "治理资金（万元）")].as_str()
        ),
        ("合计", "12.5")
    );
    // A bad filter is the ledger's 400.
    let (s, _, _) = get_bytes(&c, TOWN, "/api/v1/hazards/export.xlsx?stock=maybe").await?;
    assert_eq!(s, 400);
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directive_ledger_has_a_row_per_unit_with_its_receipt() -> anyhow::Result<()> {
    let c = Cluster::start(&[TOWN]).await?;
    let (s, d) = c
        .post(
            TOWN,
            "/api/v1/directives",
            &json!({"title": "配合事故调查", "doc_number": "禄街发〔2026〕3号", "deadline": "2099-12-31",
                    "assignments": [{"role": "lead", "unit": "应急管理综合服务中心"}, {"role": "cooperating", "unit": "派出所"}]}),
        )
        .await?;
    assert_eq!(s, 201, "{d}");
    let id = d["id"].as_str().unwrap();
    let (s, v) = c
        .post(
            TOWN,
            &format!("/api/v1/directives/{id}/responses"),
            &json!({"action": "receive", "unit": "派出所"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    let (s, bytes, _) = get_bytes(&c, TOWN, "/api/v1/directives/export.xlsx").await?;
    assert_eq!(s, 200);
    let r = first_sheet(&bytes);
    assert_eq!(text(&r[(0, 0)]), "任务台账");
    let headers = row_texts(&r, 2);
    let rows: Vec<Vec<String>> = (3..5).map(|i| row_texts(&r, i)).collect();
    let police = rows
        .iter()
        .find(|x| x[col(&headers, "承办单位")] == "派出所")
        .expect("a row per unit");
    assert_eq!(police[col(&headers, "是否签收")], "是");
    assert_eq!(police[col(&headers, "文号")], "禄街发〔2026〕3号");
    assert!(matches!(
        r[(
            3 + rows.iter().position(|x| x == police).unwrap(),
            col(&headers, "签收日期")
        )],
        Data::DateTime(_)
    ));
    let total = row_texts(&r, 5);
    assert_eq!(total[0], "合计");
    assert_eq!(total[col(&headers, "是否签收")], "已签收1");
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_has_every_column_and_drop_downs() -> anyhow::Result<()> {
    let c = Cluster::start(&[TOWN]).await?;
    let (s, bytes, _) = get_bytes(&c, TOWN, "/api/v1/hazards/import-template.xlsx").await?;
    assert_eq!(s, 200);
    assert_eq!(sheet_names(&bytes), ["隐患导入模板", "字典", "填写说明"]);
    let r = first_sheet(&bytes);
    assert_eq!(r.height(), 1, "header only");
    let headers = row_texts(&r, 0);
    assert_eq!(&headers[..3], ["编号", "隐患名称", "行业领域"]);
    let xml = sheet_xml(&bytes, 1);
    assert!(
        xml.contains("<dataValidation") && xml.contains("字典"),
        "drop-downs"
    );
    let mut dict = open_workbook_auto_from_rs(Cursor::new(bytes.clone()))?;
    let d = dict.worksheet_range("字典")?;
    let lists: Vec<String> = (0..d.width()).map(|i| text(&d[(0, i)])).collect();
    assert!(
        lists.contains(&"行业领域".into()) && lists.contains(&"检查方式".into()),
        "{lists:?}"
    );
    let sectors: Vec<String> = (1..d.height()).map(|i| text(&d[(i, 0)])).collect();
    assert!(sectors.contains(&"危险化学品".into()), "{sectors:?}");
    // The template as downloaded imports as an empty sheet.
    let v = import(&c, "", "模板.xlsx", bytes).await?;
    assert_eq!(
        (v["rows"].as_u64(), v["created"].as_u64()),
        (Some(0), Some(0)),
        "{v}"
    );
    c.shutdown().await;
    Ok(())
}

/// A sheet as clerks make them: a title row, alias headers, dates as Excel dates and as text.
fn mixed_sheet() -> Vec<u8> {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    let date = Format::new().set_num_format("yyyy/m/d");
    ws.write_string(0, 0, "2026年隐患台账（禄脿街道）").unwrap();
    let headers = [
        "序号",
        "编号",
        "隐患内容",
        "所属行业",
        "隐患级别",
        "隐患来源",
        "检查方式",
        "检查日期",
        "企业名称",
        "整改时限",
        "状态",
        "整改完成日期",
        "销号日期",
        "判定标准",
        "判定条款",
        "责任单位",
        "责任人",
        "整改措施",
        "整改资金",
        "应急预案",
    ];
    for (i, h) in headers.iter().enumerate() {
        ws.write_string(1, i as u16, *h).unwrap();
    }
    let n: Vec<String> = (0..6).map(|k| format!("{TOWN}-2025-{k:04}")).collect();
    // Row 3: good, serial dates.
    let rows: Vec<Vec<&str>> = vec![
        vec![
            "1",
            &n[1],
            "配电箱未接地",
            "工贸",
            "一般隐患",
            "督导检查发现",
            "四不两直",
            "",
            "安宁某某钢铁有限公司",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        vec![
            "2",
            &n[2],
            "液氨储罐区报警未联锁",
            "危化品",
            "重大事故隐患",
            "检查发现",
            "双随机",
            "2025/3/5",
            "安宁某某化工有限公司",
            "2025年6月30日",
            "已销号",
            "2025/6/20",
            "2025-06-28",
            "《化工和危险化学品生产经营单位重大生产安全事故隐患判定标准（试行）》",
            "第十五项",
            "安宁某某化工有限公司",
            "李四",
            "增设紧急切断阀并与报警联锁",
            "12.5",
            "限量储存，专人巡检",
        ],
        vec![
            "3",
            &n[3],
            "疏散通道堵塞",
            "消防",
            "特大",
            "企业自查",
            "",
            "2025/3/5",
            "安宁某某商场",
            "2025/4/1",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        vec![
            "4",
            &n[4],
            "脚手架未设剪刀撑",
            "建筑施工",
            "一般",
            "督导检查发现",
            "日常检查",
            "2025/3/5",
            "安宁某某建设公司",
            "2025/4/5",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        vec![
            "5",
            &n[5],
            "燃气管道腐蚀",
            "燃气",
            "一般",
            "群众举报",
            "",
            "2025/3/5",
            "安宁某某燃气公司",
            "2025/3/1",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        vec![
            "6",
            "",
            "吊装作业无人监护",
            "建筑施工",
            "一般",
            "企业自查上报",
            "",
            "2025/4/8",
            "安宁某某建设公司",
            "2025/5/8",
            "整改中",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
    ];
    for (r, cells) in rows.iter().enumerate() {
        for (i, v) in cells.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r as u32 + 2, i as u16, *v).unwrap();
            }
        }
    }
    // Row 3's dates as real Excel dates.
    ws.write_datetime_with_format(2, 7, ExcelDateTime::from_ymd(2025, 2, 10).unwrap(), &date)
        .unwrap();
    ws.write_datetime_with_format(2, 9, ExcelDateTime::from_ymd(2025, 3, 10).unwrap(), &date)
        .unwrap();
    ws.write_string(8, 0, "合计").unwrap();
    book.save_to_buffer().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_sheet_stores_its_good_rows_and_names_each_bad_cell() -> anyhow::Result<()> {
    let c = Cluster::start(&[TOWN]).await?;
    // 1. A dry run stores nothing but says what would happen.
    let v = import(&c, "?dry_run=true", "台账.xlsx", mixed_sheet()).await?;
    assert_eq!(v["dry_run"], true);
    assert_eq!(
        (
            v["rows"].as_u64(),
            v["created"].as_u64(),
            v["failed"].as_u64()
        ),
        (Some(6), Some(4), Some(2)),
        "{v}"
    );
    assert!(hazards(&c).await?.is_empty(), "a dry run stores nothing");

    // 2. The import: rows 3, 4, 6, 8 stored; 5 (grade) and 7 (deadline before found) refused.
    let v = import(&c, "", "台账.xlsx", mixed_sheet()).await?;
    assert_eq!(v["header_row"], 2);
    assert_eq!(
        (
            v["created"].as_u64(),
            v["failed"].as_u64(),
            v["skipped"].as_u64()
        ),
        (Some(4), Some(2), Some(0)),
        "{v}"
    );
    let errors = v["errors"].as_array().unwrap();
    let e5 = errors
        .iter()
        .find(|e| e["row"] == 5)
        .expect("row 5 refused");
    assert_eq!(
        (
            e5["column"].as_str(),
            e5["header"].as_str(),
            e5["field"].as_str()
        ),
        (Some("E"), Some("隐患级别"), Some("grade")),
        "{e5}"
    );
    let e7 = errors
        .iter()
        .find(|e| e["row"] == 7)
        .expect("row 7 refused");
    assert_eq!(
        (e7["column"].as_str(), e7["header"].as_str()),
        (Some("J"), Some("整改时限")),
        "{e7}"
    );
    let stored = hazards(&c).await?;
    assert_eq!(stored.len(), 4);
    let numbers: Vec<&str> = stored.iter().filter_map(|h| h["number"].as_str()).collect();
    assert!(
        !numbers.contains(&format!("{TOWN}-2025-0003").as_str()),
        "nothing of a bad row is stored"
    );
    // Aliases and labels: 工贸 → 冶金工贸, 一般隐患 → general; serial dates read as the days they show.
    let first = stored
        .iter()
        .find(|h| h["number"] == format!("{TOWN}-2025-0001"))
        .unwrap();
    assert_eq!(
        (first["sector"].as_str(), first["grade"].as_str()),
        (Some("冶金工贸"), Some("general"))
    );
    assert_eq!(
        (first["found_on"].as_str(), first["deadline"].as_str()),
        (Some("2025-02-10"), Some("2025-03-10"))
    );
    // The closed row: its events lead there with the sheet's dates, each noted 导入.
    let closed = stored
        .iter()
        .find(|h| h["number"] == format!("{TOWN}-2025-0002"))
        .unwrap();
    assert_eq!(closed["status"], "closed", "{closed}");
    assert_eq!(closed["deadline"], "2025-06-30");
    let kinds: Vec<&str> = closed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    // A closed major hazard: its 五落实 plan from the sheet's plan columns before its rectification.
    assert_eq!(
        kinds,
        [
            "registered",
            "notify",
            "plan",
            "rectified",
            "accept",
            "close"
        ]
    );
    assert_eq!(closed["plan"]["responsible_person"], "李四", "{closed}");
    assert_eq!(closed["plan_complete"], true);
    let close = closed["events"].as_array().unwrap().last().unwrap();
    assert!(
        close["at"].as_str().unwrap().starts_with("2025-06-28"),
        "{close}"
    );
    assert_eq!(close["note"], "导入");
    // The unnumbered row was numbered; 整改中 is 整改中.
    let unnumbered = stored
        .iter()
        .find(|h| h["title"] == "吊装作业无人监护")
        .unwrap();
    assert_eq!(unnumbered["status"], "rectifying");
    assert!(unnumbered["number"].as_str().unwrap().starts_with(TOWN));

    // 3. The same sheet again: the numbered rows are skipped, the refused ones refused again.
    let v = import(&c, "", "台账.xlsx", mixed_sheet()).await?;
    assert_eq!(
        (v["skipped"].as_u64(), v["failed"].as_u64()),
        (Some(3), Some(2)),
        "{v}"
    );
    let skipped = &v["skipped_rows"][0];
    assert_eq!(skipped["row"], 3);
    assert!(
        skipped["reason"].as_str().unwrap().contains("已存在"),
        "{skipped}"
    );
    // (the unnumbered row has no key and is stored again)
    assert_eq!(hazards(&c).await?.len(), 5);

    // 4. The annotated workbook marks the bad cells and says why, row by row.
    let (s, bytes) = upload(
        &c,
        TOWN,
        "?dry_run=true&annotated=xlsx",
        "台账.xlsx",
        mixed_sheet(),
    )
    .await?;
    assert_eq!(s, 200);
    let r = first_sheet(&bytes);
    let header = row_texts(&r, 1);
    let result = col(&header, "导入结果");
    let reason = col(&header, "说明");
    let row5 = row_texts(&r, 4);
    assert_eq!(row5[result], "错误，未导入");
    assert!(row5[reason].contains("E列（隐患级别）"), "{}", row5[reason]);
    assert_eq!(row_texts(&r, 2)[result], "已跳过");
    let xml = sheet_xml(&bytes, 1);
    assert!(xml.contains("legacyDrawing"), "the reasons are cell notes");
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gbk_csv_imports_and_a_bad_upload_is_a_400() -> anyhow::Result<()> {
    let c = Cluster::start(&[TOWN]).await?;
    let csv = String::from(
        "隐患名称,行业领域,隐患等级,发现渠道,检查方式,发现日期,单位名称,整改期限\n\
         配电箱未接地,工贸,一般,督导检查发现,四不两直,2025年3月5日,安宁某某钢铁有限公司,2025/4/5\n\
         仓库堆垛超高,消防,一般,企业自查上报,,2025-03-06,安宁某某物流有限公司,20250406\n",
    );
    let gbk = encoding_rs::GBK.encode(&csv).0.into_owned();
    assert!(std::str::from_utf8(&gbk).is_err(), "really GBK");
    let v = import(&c, "", "台账.csv", gbk).await?;
    assert_eq!(
        (v["created"].as_u64(), v["failed"].as_u64()),
        (Some(2), Some(0)),
        "{v}"
    );
    let stored = hazards(&c).await?;
    let t: Vec<&str> = stored.iter().filter_map(|h| h["title"].as_str()).collect();
    assert!(
        t.contains(&"仓库堆垛超高") && t.contains(&"配电箱未接地"),
        "{t:?}"
    );
    let h = stored
        .iter()
        .find(|h| h["title"] == "配电箱未接地")
        .unwrap();
    assert_eq!(
        (h["found_on"].as_str(), h["deadline"].as_str()),
        (Some("2025-03-05"), Some("2025-04-05"))
    );
    // Not a sheet at all, or no header: 400 on `file`, nothing stored.
    let (s, body) = upload(&c, TOWN, "", "x.xlsx", b"PK\x03\x04 not really".to_vec()).await?;
    let v: Value = serde_json::from_slice(&body)?;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (400, Some("file")),
        "{v}"
    );
    let (s, _) = upload(&c, TOWN, "", "x.csv", "a,b\n1,2\n".as_bytes().to_vec()).await?;
    assert_eq!(s, 400);
    // Not multipart: 400.
    let n = c.node(TOWN);
    let r = c
        .client()
        .post(format!("{}/api/v1/hazards/import", n.http_url()))
        .bearer_auth(&n.token)
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(hazards(&c).await?.len(), 2);
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_exports_a_ledger_that_another_node_imports() -> anyhow::Result<()> {
    // 1. A node with a closed and an open hazard, still running (the CLI works beside it).
    let a = Cluster::start(&[TOWN]).await?;
    let mut h = hazard_json("液氨储罐区报警未联锁", "general", "2026-06-30");
    h["found_on"] = json!("2026-01-05");
    let (_, made) = a.post(TOWN, "/api/v1/hazards", &h).await?;
    let id = made["id"].as_str().unwrap().to_string();
    for kind in ["rectified", "accept", "close"] {
        let (s, v) = a
            .post(
                TOWN,
                &format!("/api/v1/hazards/{id}/events"),
                &json!({"kind": kind}),
            )
            .await?;
        assert_eq!(s, 201, "{v}");
    }
    assert_eq!(
        a.post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("消防通道堵塞", "general", "2099-12-31")
        )
        .await?
        .0,
        201
    );
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("台账.xlsx");
    let n = safemesh_node::excel::cli::export_hazards(&a.data_dir(TOWN), &out, Default::default())
        .await?;
    assert_eq!(n, 2);
    let tasks = dir.path().join("任务.xlsx");
    safemesh_node::excel::cli::export_directives(&a.data_dir(TOWN), &tasks, Default::default())
        .await?;
    assert_eq!(
        text(&first_sheet(&std::fs::read(&tasks)?)[(0, 0)]),
        "任务台账"
    );
    a.shutdown().await;

    // 2. Another node of the same office (a rebuilt one) imports it: a dry run first, then for real.
    let b = Cluster::start(&[TOWN]).await?;
    let r = safemesh_node::excel::cli::import_hazards(&b.data_dir(TOWN), &out, true, "张三", None)
        .await?;
    assert_eq!((r.created, r.failed), (2, 0), "{:?}", r.errors);
    assert!(hazards(&b).await?.is_empty());
    let annotated = dir.path().join("结果.xlsx");
    let r = safemesh_node::excel::cli::import_hazards(
        &b.data_dir(TOWN),
        &out,
        false,
        "张三",
        Some(&annotated),
    )
    .await?;
    assert_eq!(
        (r.created, r.failed, r.skipped),
        (2, 0, 0),
        "{:?}",
        r.errors
    );
    let lines = safemesh_node::excel::cli::report_lines(&r);
    assert!(lines[0].starts_with("导入完成"), "{lines:?}");
    assert!(annotated.exists());
    let got = hazards(&b).await?;
    let closed = got
        .iter()
        .find(|x| x["number"] == made["number"])
        .expect("same number");
    assert_eq!(
        (closed["status"].as_str(), closed["found_on"].as_str()),
        (Some("closed"), Some("2026-01-05"))
    );
    let user: Vec<&str> = closed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["user"].as_str())
        .collect();
    assert!(user.iter().all(|u| *u == "张三"), "{user:?}");
    // 3. Again: nothing new.
    let r = safemesh_node::excel::cli::import_hazards(&b.data_dir(TOWN), &out, false, "张三", None)
        .await?;
    assert_eq!((r.created, r.skipped), (0, 2));
    assert_eq!(hazards(&b).await?.len(), 2);
    b.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_page_exports_and_imports_with_the_session() -> anyhow::Result<()> {
    let c = Cluster::start(&[TOWN]).await?;
    assert_eq!(
        c.post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("消防通道堵塞", "general", "2099-12-31")
        )
        .await?
        .0,
        201
    );
    let base = c.node(TOWN).http_url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let r = http
        .post(format!("{base}/login"))
        .form(&[("token", c.node(TOWN).token.as_str()), ("next", "/hazards")])
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 303);
    let cookie = r.headers()["set-cookie"]
        .to_str()?
        .split(';')
        .next()
        .unwrap()
        .to_string();
    // 1. The ledger links to the export with its filters; the export answers the workbook.
    let ledger = http
        .get(format!("{base}/hazards?grade=general"))
        .header("Cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    assert!(
        ledger.contains(r#"href="/hazards/export.xlsx?grade=general""#),
        "export link with the filters"
    );
    assert!(ledger.contains("导出Excel") && ledger.contains(r#"href="/hazards/import""#));
    let r = http
        .get(format!("{base}/hazards/export.xlsx?grade=general"))
        .header("Cookie", &cookie)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let bytes = r.bytes().await?.to_vec();
    assert_eq!(row_texts(&first_sheet(&bytes), 3)[2], "消防通道堵塞");
    let r = http
        .get(format!("{base}/hazards/import-template.xlsx"))
        .header("Cookie", &cookie)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    // Without a session: the login page, not the ledger.
    let r = http
        .get(format!("{base}/hazards/export.xlsx"))
        .send()
        .await?;
    assert_ne!(r.status().as_u16(), 200);
    // 2. The import form, its token in the action; a post without it is refused and stores nothing.
    let form = http
        .get(format!("{base}/hazards/import"))
        .header("Cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    let at = form
        .find("/hazards/import?_csrf=")
        .expect("token in the action")
        + 22;
    let csrf = form[at..at + 64].to_string();
    let post = |url: String, bytes: Vec<u8>| {
        let part = reqwest::multipart::Part::bytes(bytes).file_name("台账.xlsx");
        http.post(url)
            .header("Cookie", &cookie)
            .multipart(reqwest::multipart::Form::new().part("file", part))
    };
    let r = post(format!("{base}/hazards/import"), mixed_sheet())
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(hazards(&c).await?.len(), 1);
    // 3. With it: the result page lists each bad row with its column.
    let r = post(format!("{base}/hazards/import?_csrf={csrf}"), mixed_sheet())
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await?;
    assert!(html.contains("id=\"import-errors\""), "{html}");
    assert!(
        html.contains("<td>5</td><td>E</td><td>隐患级别</td>"),
        "{html}"
    );
    assert_eq!(hazards(&c).await?.len(), 5);
    c.shutdown().await;
    Ok(())
}
