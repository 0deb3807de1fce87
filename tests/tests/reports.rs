//! The monthly report from the mesh: a real 4-level cluster (province → city → county → township) with
//! records at every level; the province's report — of itself and of a county below it — equals a
//! recount over every record in scope, the workbook reads back, the bulletin names who has not
//! reported, and the CLI writes the same report from a data directory.

use std::io::Cursor;
use std::time::{Duration, Instant};

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use safemesh_model::AdminCode;
use safemesh_model::period::form::{self, TOTAL_ROW};
use safemesh_model::period::{HazardFacts, Month, PeriodKind, RowFigures, recount};
use safemesh_store::HazardFilter;
use safemesh_testkit::{Cluster, hazard_json, notify_json, plan_json};
use serde_json::{Value, json};

const CODES: [&str; 4] = ["53", "5301", "530181", "530181006"];

fn events(id: &str) -> String {
    format!("/api/v1/hazards/{id}/events")
}

async fn register(c: &Cluster, code: &str, body: Value) -> anyhow::Result<String> {
    let (s, h) = c.post(code, "/api/v1/hazards", &body).await?;
    anyhow::ensure!(s == 201, "register at {code}: {s} {h}");
    Ok(h["id"].as_str().unwrap_or_default().to_string())
}

async fn event(c: &Cluster, code: &str, id: &str, body: Value) -> anyhow::Result<()> {
    let (s, v) = c.post(code, &events(id), &body).await?;
    anyhow::ensure!(s == 201, "event at {code}: {s} {v}");
    Ok(())
}

fn hazard(title: &str, grade: &str, sector: &str, credit: &str, found_on: &str) -> Value {
    let mut h = hazard_json(title, grade, "2099-12-31");
    h["sector"] = json!(sector);
    h["found_on"] = json!(found_on);
    h["enterprise"] = json!({"name": format!("{credit}公司"), "credit_code": credit});
    h
}

/// Every record owned within `scope`, read from its owner's own store.
async fn records_within(c: &Cluster, scope: &str) -> anyhow::Result<Vec<(AdminCode, HazardFacts)>> {
    let mut out = Vec::new();
    for code in CODES.iter().filter(|c| c.starts_with(scope)) {
        let f = HazardFilter {
            owner: Some(code.to_string()),
            ..HazardFilter::default()
        };
        for r in c.node(code).store.hazards(&f).await? {
            if let Some(h) = HazardFacts::from_body(&r.body) {
                out.push((AdminCode::parse(code)?, h));
            }
        }
    }
    Ok(out)
}

/// Whether the report's rows equal the recount (every row, and 合计 as their sum).
fn matches(
    report: &Value,
    rows: &std::collections::BTreeMap<String, RowFigures>,
    units: u64,
) -> Result<(), String> {
    let mut total = RowFigures::default();
    for f in rows.values() {
        total.add(f);
    }
    total.units = units;
    let empty = RowFigures::default();
    let got = report["rows"].as_array().ok_or("no rows")?;
    for row in got {
        let name = row["row"].as_str().unwrap_or("");
        let want = if name == TOTAL_ROW {
            &total
        } else {
            rows.get(name).unwrap_or(&empty)
        };
        let pairs = [
            ("units", row["units"].as_u64(), want.units),
            (
                "general.found",
                row["general"]["found"].as_u64(),
                want.general.found,
            ),
            (
                "general.rectified",
                row["general"]["rectified"].as_u64(),
                want.general.rectified,
            ),
            (
                "major.found",
                row["major"]["found"].as_u64(),
                want.major.found,
            ),
            (
                "major.rectified",
                row["major"]["rectified"].as_u64(),
                want.major.rectified,
            ),
            (
                "major.planned",
                row["major"]["planned"].as_u64(),
                want.major.planned,
            ),
            (
                "major.five_in_place",
                row["major"]["five_in_place"].as_u64(),
                want.major.five_in_place,
            ),
            (
                "major.supervised",
                row["major"]["supervised"].as_u64(),
                want.major.supervised,
            ),
            (
                "major.supervised_by_province",
                row["major"]["supervised_by_province"].as_u64(),
                want.major.supervised_by_province,
            ),
        ];
        for (k, g, w) in pairs {
            if g != Some(w) {
                return Err(format!("{name} {k}: report {g:?}, recount {w}"));
            }
        }
        if row["funds_wan"].as_f64() != Some(form::wan(want.funds_yuan())) {
            return Err(format!(
                "{name} funds: {} vs {}",
                row["funds_wan"],
                want.funds_yuan()
            ));
        }
    }
    Ok(())
}

/// Waits until the report of `scope` at the province equals a recount over the records within it.
async fn wait_for_parity(c: &Cluster, month: Month, scope: &str) -> anyhow::Result<Value> {
    let range = PeriodKind::Cumulative.range(month);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (rows, units) = recount(&records_within(c, scope).await?, &range);
        let (s, v) = c
            .get(
                "53",
                &format!("/api/v1/reports/monthly?month={month}&scope={scope}"),
            )
            .await?;
        let verdict = if s == 200 {
            matches(&v, &rows, units)
        } else {
            Err(format!("{s} {v}"))
        };
        match verdict {
            Ok(()) if !rows.is_empty() => return Ok(v),
            Ok(()) => {}
            Err(e) if Instant::now() > deadline => {
                anyhow::bail!("report of {scope} never matched: {e}")
            }
            Err(_) => {}
        }
        if Instant::now() > deadline {
            anyhow::bail!("report of {scope} empty");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn cell_text(d: Option<&Data>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn cell_num(d: Option<&Data>) -> f64 {
    match d {
        Some(Data::Float(f)) => *f,
        Some(Data::Int(i)) => *i as f64,
        _ => 0.0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn province_monthly_report_equals_a_recount_over_all_records() -> anyhow::Result<()> {
    let c = Cluster::start(&CODES).await?;
    let today = safemesh_node::clock::today();
    let month = Month::of_date(today);
    let day = safemesh_model::hazard::format_date(today);
    let early = if month.month > 1 {
        format!("{}-{:02}-10", month.year, month.month - 1)
    } else {
        day.clone()
    };
    // 1. Records at every level: the township's 尾矿库 (a finer row the dictionary folds into 非煤矿山),
    //    rectified; its major hazard with a plan; the county's 城市建设, closed; the city's major one.
    let town = "530181006";
    let t1 = register(
        &c,
        town,
        hazard(
            "尾矿库排洪设施淤堵",
            "general",
            "尾矿库",
            "91530181000070017X",
            &early,
        ),
    )
    .await?;
    event(&c, town, &t1, json!({"kind": "rectified"})).await?;
    register(
        &c,
        town,
        hazard(
            "尾矿库坝体渗水",
            "general",
            "尾矿库",
            "91530181000070017X",
            &day,
        ),
    )
    .await?;
    let t3 = register(
        &c,
        town,
        hazard(
            "液氨储罐报警未联锁",
            "major",
            "危险化学品",
            "91530181000070025Q",
            &day,
        ),
    )
    .await?;
    event(&c, town, &t3, notify_json()).await?;
    event(&c, town, &t3, plan_json("2099-06-30")).await?;
    let k1 = register(
        &c,
        "530181",
        hazard(
            "工地临边防护缺失",
            "general",
            "城市建设",
            "91530181000070033K",
            &early,
        ),
    )
    .await?;
    for k in ["rectified", "accept", "close"] {
        event(&c, "530181", &k1, json!({"kind": k})).await?;
    }
    let m1 = register(
        &c,
        "5301",
        hazard(
            "采空区未治理",
            "major",
            "非煤矿山",
            "915301000000700414",
            &day,
        ),
    )
    .await?;
    event(&c, "5301", &m1, notify_json()).await?;
    register(
        &c,
        "53",
        hazard(
            "烟花爆竹仓库超量储存",
            "general",
            "烟花爆竹",
            "9153000000007005XN",
            &day,
        ),
    )
    .await?;
    // 2. The province lists the township's major hazard for supervision (省级挂牌督办).
    c.wait_converged(&t3, &["53", town]).await?;
    event(
        &c,
        "53",
        &t3,
        json!({"kind": "supervise", "number": "督〔2026〕1号", "requirements": "按期整改"}),
    )
    .await?;

    // 3. The province's report equals a recount over all records; a county's too, made at the province.
    let v = wait_for_parity(&c, month, "53").await?;
    assert_eq!(v["scope_name"], "云南省");
    let row = |name: &str| {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["row"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(row("尾矿库")["general"]["found"], 2);
    assert_eq!(row("尾矿库")["general"]["rectified"], 1);
    assert_eq!(row("尾矿库")["units"], 1);
    assert_eq!(row("城市建设")["general"]["rectified"], 1);
    assert_eq!(row("危险化学品")["major"]["supervised_by_province"], 1);
    assert_eq!(row("危险化学品")["funds_wan"], 12.5);
    assert_eq!(row("金属非金属矿山")["major"]["found"], 1);
    assert_eq!(v["rows"].as_array().unwrap().last().unwrap()["row"], "合计");
    let county = wait_for_parity(&c, month, "530181").await?;
    assert_eq!(county["scope_name"], "安宁市");

    // 4. The workbook at the province.
    let n = c.node("53");
    let bytes = c
        .client()
        .get(format!(
            "{}/api/v1/reports/monthly?month={month}&format=xlsx",
            n.http_url()
        ))
        .bearer_auth(&n.token)
        .send()
        .await?
        .bytes()
        .await?;
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec()))?;
    let s = wb.worksheet_range("月报表")?;
    assert!(cell_text(s.get_value((0, 0))).ends_with("月报表"));
    assert!(cell_text(s.get_value((1, 0))).contains("云南省"));
    let rows: Vec<u32> = (4..40)
        .filter(|&i| !cell_text(s.get_value((i, 0))).is_empty())
        .collect();
    let total = *rows
        .iter()
        .find(|&&i| cell_text(s.get_value((i, 0))) == "合计")
        .unwrap();
    assert_eq!(cell_num(s.get_value((total, 2))), 4.0, "一般隐患排查 合计");
    let tail = rows
        .iter()
        .find(|&&i| cell_text(s.get_value((i, 0))) == "尾矿库")
        .unwrap();
    assert_eq!(cell_num(s.get_value((*tail, 2))), 2.0);

    // 5. The bulletin: 昆明市 reported and ranks first; the other cities of Yunnan have not reported.
    let (st, b) = c
        .get("53", &format!("/api/v1/reports/bulletin?month={month}"))
        .await?;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["rows"][0]["code"], "5301");
    assert_eq!(b["rows"][0]["rank"], 1);
    assert_eq!(
        b["rows"][0]["found"],
        6 - 1,
        "the city's subtree, not the province's own"
    );
    let missing = b["not_reported"].as_array().unwrap();
    assert_eq!(missing.len(), b["rows"].as_array().unwrap().len() - 1);
    assert!(missing.iter().all(|m| m["reason"] == "未上报"));

    // 6. The CLI writes the county's report from the province's data directory.
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("月报.xlsx");
    safemesh_node::reports::cli::run(safemesh_node::reports::cli::ReportCmd::Monthly {
        data_dir: c.data_dir("53"),
        month: Some(month.key()),
        scope: Some("530181".into()),
        period: None,
        out: out.clone(),
    })
    .await?;
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(std::fs::read(&out)?))?;
    let s = wb.worksheet_range("月报表")?;
    assert!(cell_text(s.get_value((1, 0))).contains("安宁市"));

    // 7. The web UI: the overview links to the report; the report page and its workbook need a session.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let base = n.http_url();
    let q = format!("scope=530181&month={month}&period=cumulative");
    let r = http
        .get(format!("{base}/reports/monthly?{q}"))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 303, "no session: to the login page");
    let r = http
        .post(format!("{base}/login"))
        .form(&[("token", n.token.as_str()), ("next", "/")])
        .send()
        .await?;
    let cookie = r.headers()["set-cookie"]
        .to_str()?
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let get = |path: String| {
        http.get(format!("{base}{path}"))
            .header("Cookie", cookie.clone())
            .send()
    };
    let overview = get("/?scope=53".into()).await?.text().await?;
    assert!(
        overview.contains("href=\"/reports/monthly?scope=53\">生成月报</a>"),
        "{overview}"
    );
    let r = get(format!("/reports/monthly?{q}")).await?;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await?;
    assert!(html.contains("填报单位：安宁市"), "{html}");
    assert!(html.contains("其中：已整改销号（项）"));
    assert!(
        html.contains(&format!(
            "/reports/monthly.xlsx?{}",
            q.replace('&', "&#38;")
        )),
        "{html}"
    );
    let r = get(format!("/reports/monthly.xlsx?{q}")).await?;
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()?
            .contains("spreadsheetml")
    );
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(r.bytes().await?.to_vec()))?;
    assert!(wb.worksheet_range("月报表").is_ok());
    c.shutdown().await;
    Ok(())
}
