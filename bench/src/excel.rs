//! 台账导入导出 (issue 15): `export_100k_s` / `export_100k_peak_rss_mb` — a node holding N hazards
//! (~10 events each, as `realistic_hazard` writes them) exports its whole 隐患台账 to `.xlsx`; the
//! store is filled by the parent and the export runs in a child process (`--scenario excel-export`),
//! so the peak RSS is the export's own — and `import_10k_rows_s` — an `.xlsx` of N valid rows (a
//! tenth closed, with their dates) read, validated and stored as documents in a fresh node's store.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use rust_xlsxwriter::Workbook;
use safemesh_model::AdminCode;
use safemesh_node::excel::export::{Office, no_progress};
use safemesh_node::excel::import::ImportOptions;
use safemesh_node::hazards::{HazardQuery, HazardSettings};
use safemesh_node::records::Actor;
use safemesh_store::Store;
use serde_json::{Value, json};

use crate::{TOWN, code, fill_range, peak_rss_mb};

fn office() -> Office {
    Office {
        code: TOWN.into(),
        name: "禄脿街道".into(),
    }
}

fn today() -> time::Date {
    (time::OffsetDateTime::now_utc() + time::Duration::hours(8)).date()
}

/// The child side: exports the ledger of the store at `db` and prints its JSON.
pub async fn export_child(db: &Path) -> anyhow::Result<Value> {
    let store = Store::open_sqlite(db).await?;
    let start = Instant::now();
    let bytes = safemesh_node::excel::export_hazards(
        &store,
        &HazardSettings::default(),
        &office(),
        today(),
        HazardQuery::default(),
        &no_progress,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let out = db.with_extension("xlsx");
    std::fs::write(&out, &bytes)?;
    let secs = start.elapsed().as_secs_f64();
    store.close().await;
    Ok(json!({
        "export_100k_s": (secs * 100.0).round() / 100.0,
        "export_100k_peak_rss_mb": peak_rss_mb(),
        "export_bytes": bytes.len(),
    }))
}

/// Fills a store with `n` hazards, then times the export of its ledger in a child process.
pub async fn export(n: usize, scale: &str) -> anyhow::Result<serde_json::Map<String, Value>> {
    let dir = tempfile::Builder::new()
        .prefix("safemesh-excel")
        .tempdir()?;
    let db = dir.path().join("ledger.db");
    let store = Store::open_sqlite(&db).await?;
    fill_range(&store, &code(TOWN), 0, n).await?;
    store.close().await;
    let exe = std::env::current_exe()?;
    let out = std::process::Command::new(exe)
        .args(["--scenario", "excel-export", "--scale", scale, "--excel-db"])
        .arg(&db)
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!("scenario excel-export failed ({})", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().context("scenario printed nothing")?;
    let Value::Object(mut m) = serde_json::from_str(line)? else {
        bail!("scenario excel-export printed {line}");
    };
    // Read back: every hazard is a row (title, header, hazards, 合计).
    let bytes = std::fs::read(db.with_extension("xlsx"))?;
    let rows = {
        use calamine::Reader;
        let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))?;
        book.worksheet_range_at(0).context("a sheet")??.height()
    };
    if rows != n + 4 {
        bail!("the exported ledger has {rows} rows for {n} hazards");
    }
    m.insert("export_hazards".into(), json!(n));
    Ok(m)
}

/// An `.xlsx` of `n` valid rows as a clerk fills the template, a tenth of them closed.
fn sheet(n: usize) -> anyhow::Result<Vec<u8>> {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    let headers = [
        "编号",
        "隐患名称",
        "行业领域",
        "隐患等级",
        "发现渠道",
        "检查方式",
        "发现日期",
        "单位名称",
        "统一社会信用代码",
        "整改期限",
        "整改状态",
        "整改完成日期",
        "销号日期",
        "详细描述",
    ];
    for (i, h) in headers.iter().enumerate() {
        ws.write_string(0, i as u16, *h)?;
    }
    let sectors = ["危险化学品", "消防", "城镇燃气", "建筑施工", "冶金工贸"];
    for i in 0..n {
        let r = i as u32 + 1;
        let closed = i % 10 == 0;
        let cells = [
            format!("{TOWN}-2025-{:04}", i + 1),
            format!("第{i}号隐患：液氨储罐区可燃气体报警装置未与紧急切断联锁"),
            sectors[i % 5].to_string(),
            "一般隐患".into(),
            "督导检查发现".into(),
            "四不两直".into(),
            "2025/3/5".into(),
            format!("安宁某某化工有限公司{}", i % 97),
            "91350200776049653A".into(),
            "2025年12月31日".into(),
            if closed { "已销号" } else { "未整改" }.into(),
            if closed { "2025/6/20" } else { "" }.into(),
            if closed { "2025-06-28" } else { "" }.into(),
            "督导检查发现：储罐区报警装置未与紧急切断阀联锁".into(),
        ];
        for (c, v) in cells.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r, c as u16, v)?;
            }
        }
    }
    Ok(book.save_to_buffer()?)
}

/// Times the import of an `n`-row sheet into a fresh store (read, validated, stored).
pub async fn import(n: usize) -> anyhow::Result<serde_json::Map<String, Value>> {
    let bytes = sheet(n)?;
    let dir = tempfile::Builder::new()
        .prefix("safemesh-import")
        .tempdir()?;
    let store = Store::open_sqlite(&dir.path().join("node.db")).await?;
    let owner: AdminCode = code(TOWN);
    let actor = Actor {
        code: owner.clone(),
        actor_id: safemesh_doc::actor::actor_id(&owner, b"bench-import"),
        user: "bench".into(),
        owner_parent: None,
    };
    let start = Instant::now();
    let grid = safemesh_node::excel::sheet::read("台账.xlsx", bytes)
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let report = safemesh_node::excel::import_hazards(
        &store,
        &HazardSettings::default(),
        &actor,
        today(),
        &grid,
        &ImportOptions::default(),
        &|_, _, _| {},
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let secs = start.elapsed().as_secs_f64();
    if report.created != n || report.failed != 0 {
        bail!(
            "imported {} of {n} rows; errors: {:?}",
            report.created,
            report.errors.iter().take(3).collect::<Vec<_>>()
        );
    }
    store.close().await;
    Ok(serde_json::Map::from_iter([
        (
            "import_10k_rows_s".to_string(),
            json!((secs * 100.0).round() / 100.0),
        ),
        ("import_rows".to_string(), json!(n)),
    ]))
}
