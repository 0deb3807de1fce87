//! `safemesh-bench [--scale smoke|full] [--json PATH]`: measures the link protocol and the store on a
//! real in-process cluster (gRPC + mutual TLS on loopback, durable commits) and prints a table.
//! Every number in docs/BENCHMARKS.md comes from this binary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use automerge::transaction::CommitOptions;
use clap::{Parser, ValueEnum};
use safemesh_doc::hazard::{Enterprise, HazardCore};
use safemesh_doc::{AutoCommit, actor::actor_id, hazard};
use safemesh_model::AdminCode;
use safemesh_model::hazard::facts;
use safemesh_model::hazard::{Channel, EventKind, Grade, HazardEvent};
use safemesh_store::Store;
use safemesh_store::testing::TestDb;
use safemesh_testkit::Cluster;
use serde_json::{Value, json};

/// The allocator the node binary uses too (see `node/src/main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod blobs;
mod costs;
mod excel;
mod fanout;
mod gap;
mod http_load;
mod live;
mod million;
mod province;
mod report;
mod restore;
mod samod;
mod telemetry;
mod ui;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Scale {
    /// Small sizes; seconds. What CI runs so the bench cannot rot.
    Smoke,
    /// The sizes the targets are stated for.
    Full,
}

#[derive(Parser, Debug)]
#[command(name = "safemesh-bench", about = "safemesh 基准测试 / benchmarks")]
struct Args {
    #[arg(long, value_enum, default_value_t = Scale::Smoke)]
    scale: Scale,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Documents in the bootstrap scenario (overrides the scale's default).
    #[arg(long)]
    docs: Option<usize>,
    /// Documents in our no-op reconnect scenario (overrides the scale's default).
    #[arg(long)]
    noop_docs: Option<usize>,
    /// Skip the PostgreSQL run of the bootstrap scenario.
    #[arg(long)]
    no_postgres: bool,
    /// Documents in both samod scenarios (default: ours in `smoke`, 2,000 in `full`).
    #[arg(long)]
    samod_docs: Option<usize>,
    /// samod's storage adapter for both repos (it has no SQLite adapter).
    #[arg(long, value_enum, default_value_t = samod::SamodStorage::Fs)]
    samod_storage: samod::SamodStorage,
    /// Skip the samod comparison.
    #[arg(long)]
    no_samod: bool,
    /// Run only the samod scenarios (for working on the comparison; no ratios).
    #[arg(long, conflicts_with = "no_samod")]
    samod_only: bool,
    /// Skip the province simulation.
    #[arg(long)]
    no_province: bool,
    /// Hazards per township in the province simulation (default: 10 in `smoke`, 100 in `full`).
    #[arg(long)]
    per_township: Option<usize>,
    /// Skip the large-node scenario.
    #[arg(long)]
    no_million: bool,
    /// Documents held by the node in the large-node scenario (default: 20,000 in `smoke`, 1,000,000 in `full`).
    #[arg(long)]
    million_docs: Option<usize>,
    /// Skip the per-document receive cost breakdown.
    #[arg(long)]
    no_costs: bool,
    /// Skip the restore-from-backup scenario.
    #[arg(long)]
    no_restore: bool,
    /// Shared documents in the restore scenario (default: 1,000 in `smoke`, 100,000 in `full`); 1 %
    /// more are written after the backup.
    #[arg(long)]
    restore_docs: Option<usize>,
    /// Skip the scenario of deltas that cannot apply (the sync fallback).
    #[arg(long)]
    no_gap: bool,
    /// Skip the evidence-file scenarios (overhead, resume waste, event latency under a file).
    #[arg(long)]
    no_blobs: bool,
    /// Shared hazards in the sync-fallback scenario, each missing one change at the county (default:
    /// 200 in `smoke`, 10,000 in `full`).
    #[arg(long)]
    gap_docs: Option<usize>,
    /// Skip the web UI's page timings.
    #[arg(long)]
    no_ui: bool,
    /// Hazards the UI ledger scenario holds (overrides the scale's default: 2,000 smoke, 100,000 full).
    #[arg(long)]
    ui_hazards: Option<usize>,
    /// Runs one memory-measured scenario in this process and prints its JSON (used by the bench
    /// itself: each such scenario runs in a child process, so its peak RSS is its own).
    /// Skip the monthly report at the province (`report_province_ms`).
    #[arg(long)]
    no_report: bool,
    /// Skip the telemetry overhead scenario.
    #[arg(long)]
    no_telemetry: bool,
    /// Rounds of (off, on) in the telemetry scenario (default: 2 in `smoke`, 5 in `full`).
    #[arg(long)]
    telemetry_rounds: Option<usize>,
    #[arg(long, hide = true, value_enum)]
    scenario: Option<Isolated>,
    /// Skip the Excel ledger export and import.
    #[arg(long)]
    no_excel: bool,
    /// Hazards in the ledger export (default: 2,000 in `smoke`, 100,000 in `full`).
    #[arg(long)]
    excel_hazards: Option<usize>,
    /// Rows in the ledger import (default: 1,000 in `smoke`, 10,000 in `full`).
    #[arg(long)]
    excel_rows: Option<usize>,
    /// Skip the HTTP API load test.
    #[arg(long)]
    no_http_load: bool,
    /// Concurrent clients in the HTTP load test (default: 50 in `smoke`, 500 in `full`).
    #[arg(long)]
    http_clients: Option<usize>,
    /// Seconds the HTTP load test runs (default: 3 in `smoke`, 30 in `full`).
    #[arg(long)]
    http_secs: Option<u64>,
    /// The store the `excel-export` scenario exports (set by the bench for its child).
    #[arg(long, hide = true)]
    excel_db: Option<PathBuf>,
    /// Children of the parent in `--scenario fanout` (docs/RELIABILITY.md).
    #[arg(long, default_value_t = 200)]
    fanout_children: usize,
    /// Hazards each child writes in `--scenario fanout`.
    #[arg(long, default_value_t = 5)]
    fanout_writes: usize,
    /// Where the fanout children's certificates are (set by the bench for its child).
    #[arg(long, hide = true)]
    fanout_dir: Option<PathBuf>,
    /// The parent the fanout children dial (set by the bench for its child).
    #[arg(long, hide = true)]
    fanout_parent: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Isolated {
    ProvinceSim,
    MillionDocs,
    Restore,
    /// The ledger export of a store filled by the parent (`--excel-db`).
    ExcelExport,
    ReportProvince,
    /// The telemetry scenario with traces exported, and without.
    TelemetryOn,
    TelemetryOff,
    /// The HTTP API under hundreds of concurrent clients.
    HttpLoad,
    /// A parent with `--fanout-children` children linked at once (run on its own:
    /// `safemesh-bench --scenario fanout`).
    Fanout,
    /// The children of `fanout` (its child process).
    FanoutChildren,
}

/// Peak resident memory of this process so far (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map(|kb| (kb / 1024.0 * 10.0).round() / 10.0)
        .unwrap_or(0.0)
}

/// Runs one scenario in this process (the child side of [`isolated`]) and prints its JSON.
async fn run_scenario(which: Isolated, args: &Args) -> anyhow::Result<()> {
    let out = match which {
        Isolated::ProvinceSim => {
            let (only_city, per, queries) = match args.scale {
                Scale::Smoke => (Some(code("5301")), 10, 400),
                Scale::Full => (None, 100, 2_000),
            };
            let per = args.per_township.unwrap_or(per);
            let dir = tempfile::Builder::new()
                .prefix("safemesh-province")
                .tempdir()?;
            let r =
                province::run(dir.path(), &code("53"), only_city.as_ref(), per, queries).await?;
            json!({
                "province_sim_nodes": r.nodes,
                "province_sim_hazards": r.hazards,
                "province_sim_setup_s": (r.setup_s * 10.0).round() / 10.0,
                "province_sim_converge_s": (r.converge_s * 100.0).round() / 100.0,
                "province_sim_peak_rss_mb": peak_rss_mb(),
                "province_rollup_p50_ms": (r.rollup_p50_ms * 100.0).round() / 100.0,
                "province_rollup_p99_ms": (r.rollup_p99_ms * 100.0).round() / 100.0,
                "province_rollup_queries": r.queries,
            })
        }
        Isolated::MillionDocs => {
            let n = args.million_docs.unwrap_or(match args.scale {
                Scale::Smoke => 20_000,
                Scale::Full => 1_000_000,
            });
            let r = million::run(n).await?;
            json!({
                "million_docs": r.docs,
                "million_docs_fill_s": (r.fill_s * 10.0).round() / 10.0,
                "million_docs_bootstrap_s": (r.bootstrap_s * 10.0).round() / 10.0,
                "million_docs_bootstrap_docs_per_s": (r.docs as f64 / r.bootstrap_s).round(),
                "million_docs_peak_rss_mb": peak_rss_mb(),
            })
        }
        Isolated::ExcelExport => {
            let db = args.excel_db.as_deref().context("--excel-db")?;
            excel::export_child(db).await?
        }
        Isolated::ReportProvince => {
            let per = args.per_township.unwrap_or(match args.scale {
                Scale::Smoke => 20,
                Scale::Full => 100,
            });
            let dir = tempfile::Builder::new()
                .prefix("safemesh-report")
                .tempdir()?;
            let mut m = report::run(dir.path(), per, 21).await?;
            m.insert("report_peak_rss_mb".into(), json!(peak_rss_mb()));
            Value::Object(m)
        }
        Isolated::Restore => {
            let n = args.restore_docs.unwrap_or(match args.scale {
                Scale::Smoke => 1_000,
                Scale::Full => 100_000,
            });
            let mut m = restore::run(n, (n / 100).max(1)).await?;
            m.insert("restore_peak_rss_mb".into(), json!(peak_rss_mb()));
            Value::Object(m)
        }
        Isolated::TelemetryOn | Isolated::TelemetryOff => {
            let (boot_n, edits) = match args.scale {
                Scale::Smoke => (1_000, 20),
                Scale::Full => (10_000, 100),
            };
            telemetry::child(which == Isolated::TelemetryOn, boot_n, edits).await?
        }
        Isolated::HttpLoad => {
            let (clients, secs) = http_load::size(args);
            Value::Object(http_load::run(clients, secs).await?)
        }
        Isolated::Fanout => fanout::parent(args.fanout_children, args.fanout_writes).await?,
        Isolated::FanoutChildren => {
            let dir = args.fanout_dir.as_deref().context("--fanout-dir")?;
            let parent = args.fanout_parent.as_deref().context("--fanout-parent")?;
            fanout::children(dir, parent, args.fanout_children, args.fanout_writes).await?;
            return Ok(());
        }
    };
    println!("{out}");
    Ok(())
}

/// Runs `which` in a child process of this binary and returns its JSON.
fn isolated(which: Isolated, args: &Args) -> anyhow::Result<serde_json::Map<String, Value>> {
    let exe = std::env::current_exe()?;
    let name = match which {
        Isolated::ProvinceSim => "province-sim",
        Isolated::MillionDocs => "million-docs",
        Isolated::Restore => "restore",
        Isolated::ExcelExport => bail!("the excel export is run by excel::export"),
        Isolated::ReportProvince => "report-province",
        Isolated::TelemetryOn => "telemetry-on",
        Isolated::TelemetryOff => "telemetry-off",
        Isolated::HttpLoad => "http-load",
        Isolated::Fanout | Isolated::FanoutChildren => bail!("fanout runs on its own"),
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--scenario")
        .arg(name)
        .arg("--scale")
        .arg(format!("{:?}", args.scale).to_lowercase());
    if let Some(n) = args.per_township {
        cmd.arg("--per-township").arg(n.to_string());
    }
    if let Some(n) = args.million_docs {
        cmd.arg("--million-docs").arg(n.to_string());
    }
    if let Some(n) = args.restore_docs {
        cmd.arg("--restore-docs").arg(n.to_string());
    }
    if let Some(n) = args.http_clients {
        cmd.arg("--http-clients").arg(n.to_string());
    }
    if let Some(n) = args.http_secs {
        cmd.arg("--http-secs").arg(n.to_string());
    }
    let out = cmd.stderr(std::process::Stdio::inherit()).output()?;
    if !out.status.success() {
        bail!("scenario {name} failed ({})", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().context("scenario printed nothing")?;
    match serde_json::from_str(line)? {
        Value::Object(m) => Ok(m),
        other => bail!("scenario {name} printed {other}"),
    }
}

/// samod's size in `--scale full` (100,000 would take days: see docs/BENCHMARKS.md).
const SAMOD_FULL_DOCS: usize = 2_000;

pub(crate) const TOWN: &str = "530181006";
pub(crate) const COUNTY: &str = "530181";

pub(crate) fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).expect("code")
}

/// A realistic hazard document with ~10 lifecycle events, each its own change, as an office writes it.
pub(crate) fn realistic_hazard(owner: &AdminCode, nonce: &[u8], i: usize) -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(actor_id(owner, nonce));
    let core = HazardCore {
        title: format!("第{i}号隐患：液氨储罐区可燃气体报警装置未与紧急切断联锁"),
        sector: ["危险化学品", "消防", "城镇燃气", "建筑施工", "冶金工贸"][i % 5].into(),
        sector_detail: None,
        grade: if i.is_multiple_of(20) { Grade::Major } else { Grade::General },
        channel: Channel::Inspection,
        subject: Default::default(),
        responsible_unit: String::new(),
        enterprise: Enterprise { name: format!("安宁某某化工有限公司{}", i % 97), credit_code: "91350200776049653A".into(), credit_code_override: None },
        number: facts::format_number(owner, 2026, i as u32 + 1),
        inspection_mode: Some("四不两直".into()),
        found_by_level: owner.clone(),
        found_on: "2026-10-30".into(),
        stock: facts::Stock::New,
        location: facts::Location { division: owner.to_string(), address: String::new() },
        basis: facts::Basis { standard: "《化工和危险化学品生产经营单位重大生产安全事故隐患判定标准（试行）》".into(), clause: "第十五条".into() },
        deadline: "2026-12-31".into(),
        description: "督导检查发现：储罐区报警装置未与紧急切断阀联锁，不符合《化工和危险化学品生产经营单位重大生产安全事故隐患判定标准》".into(),
    };
    let msg = || {
        CommitOptions::default()
            .with_message(format!("张三@{owner}"))
            .with_time(1_795_000_000)
    };
    hazard::create(&mut doc, owner, "张三", "2026-11-01T08:00:00Z", &core).expect("create");
    doc.commit_with(msg());
    let kinds = [
        EventKind::Plan,
        EventKind::Progress,
        EventKind::Progress,
        EventKind::Progress,
        EventKind::Progress,
        EventKind::Progress,
        EventKind::Progress,
        EventKind::Progress,
        EventKind::Rectified,
    ];
    for (k, kind) in kinds.into_iter().enumerate() {
        let e = HazardEvent {
            user: "张三".into(),
            note: Some(format!("第{}次整改进展：已完成{}%", k + 1, (k + 1) * 10)),
            percent: Some(((k + 1) * 10) as u8),
            ..HazardEvent::new(
                kind,
                owner.clone(),
                format!("2026-11-{:02}T09:00:00Z", 2 + k),
            )
        };
        hazard::append_event(&mut doc, &e).expect("event");
        doc.commit_with(msg());
    }
    doc
}

async fn fill(store: &Store, owner: &AdminCode, n: usize) -> anyhow::Result<()> {
    fill_range(store, owner, 0, n).await
}

/// Hazards `h-bench-{from}` … `h-bench-{to - 1}`.
pub(crate) async fn fill_range(
    store: &Store,
    owner: &AdminCode,
    from: usize,
    to: usize,
) -> anyhow::Result<()> {
    let nonce = b"bench-nonce";
    let mut i = from;
    while i < to {
        let mut w = store.writer().await?;
        for _ in 0..500.min(to - i) {
            let mut doc = realistic_hazard(owner, nonce, i);
            w.put_doc(&format!("h-bench-{i:07}"), &mut doc, &[]).await?;
            i += 1;
        }
        w.commit().await?;
    }
    Ok(())
}

pub(crate) async fn doc_count(store: &Store) -> anyhow::Result<i64> {
    let (n,): (i64,) = sqlx_count(store).await?;
    Ok(n)
}

async fn sqlx_count(store: &Store) -> anyhow::Result<(i64,)> {
    Ok(safemesh_store::count_documents(store).await.map(|n| (n,))?)
}

/// Empty parent, child holding `n` hazards: documents per second until the parent holds them all.
async fn bootstrap(n: usize, parent_db: Option<String>) -> anyhow::Result<f64> {
    let mut dbs = BTreeMap::new();
    if let Some(url) = parent_db {
        dbs.insert(COUNTY.to_string(), url);
    }
    let mut c = Cluster::start_with(&[COUNTY, TOWN], &dbs).await?;
    c.cut(TOWN);
    fill(&c.node(TOWN).store, &code(TOWN), n).await?;
    // The child comes up holding its documents and dials at once: timed from its start, not from a
    // heal that would wait out the reconnect backoff (samod's figure is timed from its connect).
    c.stop(TOWN).await;
    c.heal(TOWN);
    let parent = c.node(COUNTY).store.clone();
    let start = Instant::now();
    c.restart(TOWN).await?;
    loop {
        // Every document stored takes a seq of its own, so the store's in-memory seq (free to read)
        // says when counting can succeed; counting itself scans the table (45 ms at 100,000 rows on
        // PostgreSQL), which polled every 20 ms would take a core from the nodes being measured.
        if parent.current_seq() >= n as i64 && doc_count(&parent).await? >= n as i64 {
            break;
        }
        if start.elapsed() > Duration::from_secs(3600) {
            bail!("bootstrap did not finish within an hour");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    c.shutdown().await;
    Ok(n as f64 / secs)
}

pub(crate) fn link_bytes(v: &Value, peer: &str) -> u64 {
    v["links"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["peer"] == peer))
        .map(|l| l["bytes_in"].as_u64().unwrap_or(0) + l["bytes_out"].as_u64().unwrap_or(0))
        .unwrap_or(0)
}

pub(crate) async fn in_sync(c: &Cluster, node: &str, peer: &str) -> anyhow::Result<Value> {
    c.wait_for(node, "/api/v1/sync/status", "link in sync", |v| {
        v["links"].as_array().is_some_and(|l| {
            l.iter()
                .any(|l| l["peer"] == peer && l["state"] == "in_sync" && l["inflight"] == 0)
        })
    })
    .await
}

/// A link holding `n` shared documents reconnects with nothing changed: bytes both ways and time.
async fn noop_reconnect(n: usize) -> anyhow::Result<(u64, f64)> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    c.cut(TOWN);
    fill(&c.node(TOWN).store, &code(TOWN), n).await?;
    c.heal(TOWN);
    while doc_count(&c.node(COUNTY).store).await? < n as i64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the roll-up publisher settle, then measure one reconnect.
    tokio::time::sleep(Duration::from_millis(600)).await;
    in_sync(&c, TOWN, COUNTY).await?;
    in_sync(&c, COUNTY, TOWN).await?;
    // Five reconnects; the median time and the largest byte count are reported.
    let mut times = Vec::new();
    let mut bytes = 0u64;
    for _ in 0..5 {
        c.cut(TOWN);
        c.wait_for(TOWN, "/api/v1/sync/status", "link down", |v| {
            v["links"][0]["state"] != "in_sync"
        })
        .await?;
        let before = link_bytes(&c.get(TOWN, "/api/v1/sync/status").await?.1, COUNTY);
        // Time the reconnect itself, from the new stream's start to in-sync, not the dialer's backoff.
        let reg = c.node(TOWN).registry.clone();
        c.heal(TOWN);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut started = None;
        let ms = loop {
            let state = reg.get(COUNTY).map(|s| s.state).unwrap_or_default();
            if state == "disconnected" || state == "rejected" {
                started = None; // a dial that failed before the heal
            } else if started.is_none() && (state == "connecting" || state == "catching_up") {
                started = Some(Instant::now());
            }
            if let Some(t0) = started
                && state == "in_sync"
            {
                break t0.elapsed().as_secs_f64() * 1000.0;
            }
            if Instant::now() > deadline {
                bail!("no-op reconnect did not reach in_sync");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        in_sync(&c, TOWN, COUNTY).await?;
        let after = link_bytes(&c.get(TOWN, "/api/v1/sync/status").await?.1, COUNTY);
        times.push(ms);
        bytes = bytes.max(after - before);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let ms = times[times.len() / 2];
    c.shutdown().await;
    Ok((bytes, ms))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(which) = args.scenario {
        return run_scenario(which, &args).await;
    }
    let (boot_n, noop_n, edits) = match args.scale {
        Scale::Smoke => (1_000, 1_000, 20),
        Scale::Full => (100_000, 100_000, 300),
    };
    let boot_n = args.docs.unwrap_or(boot_n);
    let noop_n = args.noop_docs.unwrap_or(noop_n);
    let mut out = serde_json::Map::new();
    out.insert(
        "scale".into(),
        json!(format!("{:?}", args.scale).to_lowercase()),
    );
    out.insert(
        "machine".into(),
        json!(format!(
            "{} cores",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0)
        )),
    );

    // Ours, then samod's, in the same process and run.
    let mut ours_boot = None;
    let mut ours_noop_bytes = None;
    if !args.samod_only {
        eprintln!("bootstrap {boot_n} docs into SQLite …");
        let sqlite = bootstrap(boot_n, None).await?;
        ours_boot = Some(sqlite);
        out.insert("bootstrap_docs".into(), json!(boot_n));
        out.insert("bootstrap_docs_per_s".into(), json!(sqlite.round()));
        if !args.no_postgres
            && let Some(db) = TestDb::postgres().await
        {
            eprintln!("bootstrap {boot_n} docs into PostgreSQL …");
            let pg = bootstrap(boot_n, Some(db.url())).await?;
            db.cleanup().await;
            out.insert("bootstrap_pg_docs_per_s".into(), json!(pg.round()));
            out.insert(
                "bootstrap_pg_to_sqlite_ratio".into(),
                json!((pg / sqlite * 100.0).round() / 100.0),
            );
        }
        eprintln!("no-op reconnect with {noop_n} shared docs …");
        let (bytes, ms) = noop_reconnect(noop_n).await?;
        ours_noop_bytes = Some(bytes);
        out.insert("noop_reconnect_docs".into(), json!(noop_n));
        out.insert("noop_reconnect_bytes".into(), json!(bytes));
        out.insert(
            "noop_reconnect_ms".into(),
            json!((ms * 10.0).round() / 10.0),
        );
    }
    if !args.no_samod {
        // samod's cost per message grows with the number of open documents (see samod.rs), so its
        // sizes are capped in the full run; --samod-docs overrides.
        let n = args.samod_docs.unwrap_or(match args.scale {
            Scale::Smoke => boot_n.min(noop_n),
            Scale::Full => SAMOD_FULL_DOCS,
        });
        let rounds = if n <= 2_000 { 3 } else { 1 };
        let store = format!("{:?}", args.samod_storage).to_lowercase();
        eprintln!("samod: bootstrap and no-op reconnect with {n} docs ({store} storage) …");
        let (b, r) = samod::run(n, args.samod_storage, rounds).await?;
        out.insert("samod_storage".into(), json!(store));
        out.insert("samod_docs".into(), json!(n));
        out.insert(
            "samod_bootstrap_docs_per_s".into(),
            json!(b.docs_per_s.round()),
        );
        out.insert("samod_bootstrap_bytes".into(), json!(b.bytes));
        out.insert("samod_bootstrap_msgs".into(), json!(b.msgs));
        out.insert("samod_bootstrap_parent_puts".into(), json!(b.parent_puts));
        out.insert(
            "samod_bootstrap_parent_put_bytes".into(),
            json!(b.parent_put_bytes),
        );
        out.insert("samod_noop_reconnect_bytes".into(), json!(r.bytes));
        out.insert("samod_noop_reconnect_msgs".into(), json!(r.msgs));
        out.insert(
            "samod_noop_reconnect_ms".into(),
            json!((r.ms * 10.0).round() / 10.0),
        );
        out.insert(
            "samod_noop_reconnect_last_msg_ms".into(),
            json!((r.last_msg_ms * 10.0).round() / 10.0),
        );
        out.insert("samod_noop_reconnect_rounds".into(), json!(rounds));
        if let Some(ours) = ours_boot {
            out.insert(
                "bootstrap_ratio_ours_to_samod".into(),
                json!((ours / b.docs_per_s * 100.0).round() / 100.0),
            );
        }
        if let Some(ours) = ours_noop_bytes {
            out.insert(
                "noop_reconnect_bytes_ratio_samod_to_ours".into(),
                json!((r.bytes as f64 / ours.max(1) as f64).round()),
            );
        }
    }
    if !args.samod_only {
        eprintln!("live push over 3 hops, {edits} edits …");
        let (p50, p99, edit_bytes) = live::run(edits).await?;
        out.insert("live_p50_ms".into(), json!((p50 * 10.0).round() / 10.0));
        out.insert("live_p99_ms".into(), json!((p99 * 10.0).round() / 10.0));
        out.insert("edit_bytes_per_hop".into(), json!(edit_bytes));
    }

    if !args.samod_only && !args.no_costs {
        let n = match args.scale {
            Scale::Smoke => 300,
            Scale::Full => 3_000,
        };
        eprintln!("what receiving one document costs, step by step ({n} documents) …");
        out.extend(costs::run(n)?);
    }
    if !args.samod_only && !args.no_restore {
        eprintln!("a township restored from a backup is repaired by digests …");
        out.extend(isolated(Isolated::Restore, &args)?);
    }
    if !args.samod_only && !args.no_gap {
        let n = args.gap_docs.unwrap_or(match args.scale {
            Scale::Smoke => 200,
            Scale::Full => 10_000,
        });
        eprintln!("{n} deltas that cannot apply, reconciled by Automerge's sync protocol …");
        out.extend(gap::run(n).await?);
    }
    if !args.samod_only && !args.no_blobs {
        let (overhead_mib, chunks, latency_mib, edits) = match args.scale {
            Scale::Smoke => (2, 48, 8, 10),
            Scale::Full => (10, 300, 50, 50),
        };
        eprintln!("an evidence file of {overhead_mib} MiB over one hop …");
        out.extend(blobs::overhead(overhead_mib).await?);
        eprintln!("a {chunks}-chunk file cut after a third of it, resumed …");
        out.extend(blobs::resume_waste(chunks).await?);
        eprintln!("live events over 3 hops while a {latency_mib} MiB file moves …");
        out.extend(blobs::event_latency(latency_mib, edits).await?);
        // The target: within 2× of the same edit's p50 with no file moving (same run).
        if let (Some(under), Some(alone)) = (
            out.get("event_latency_under_blob_ms")
                .and_then(Value::as_f64),
            out.get("live_p50_ms").and_then(Value::as_f64),
        ) {
            out.insert(
                "event_latency_under_blob_to_live_ratio".into(),
                json!((under / alone.max(0.1) * 100.0).round() / 100.0),
            );
        }
    }
    if !args.samod_only && !args.no_ui {
        let (n, rounds) = match args.scale {
            Scale::Smoke => (2_000, 50),
            Scale::Full => (100_000, 300),
        };
        let n = args.ui_hazards.unwrap_or(n);
        eprintln!("web UI pages: the ledger with {n} hazards, the province overview …");
        out.extend(ui::run(n, rounds).await?);
    }
    if !args.samod_only && !args.no_excel {
        let (hz, rows) = match args.scale {
            Scale::Smoke => (2_000, 1_000),
            Scale::Full => (100_000, 10_000),
        };
        let hz = args.excel_hazards.unwrap_or(hz);
        let rows = args.excel_rows.unwrap_or(rows);
        eprintln!("the ledger of {hz} hazards exported to xlsx (child process) …");
        out.extend(excel::export(hz, &format!("{:?}", args.scale).to_lowercase()).await?);
        eprintln!("an xlsx of {rows} rows imported …");
        out.extend(excel::import(rows).await?);
    }
    if !args.samod_only && !args.no_province {
        eprintln!("province simulation (sans-IO engine, one process) …");
        out.extend(isolated(Isolated::ProvinceSim, &args)?);
    }
    if !args.samod_only && !args.no_report {
        eprintln!("the monthly report of the Yunnan tree at the province, from summaries …");
        out.extend(isolated(Isolated::ReportProvince, &args)?);
    }
    if !args.samod_only && !args.no_telemetry {
        let rounds = args.telemetry_rounds.unwrap_or(match args.scale {
            Scale::Smoke => 2,
            Scale::Full => 5,
        });
        eprintln!("traces exported over OTLP against not, {rounds} rounds (child processes) …");
        out.extend(telemetry::run(rounds, |on| {
            isolated(
                if on {
                    Isolated::TelemetryOn
                } else {
                    Isolated::TelemetryOff
                },
                &args,
            )
        })?);
    }
    if !args.samod_only && !args.no_http_load {
        let (clients, secs) = http_load::size(&args);
        eprintln!("the HTTP API under {clients} concurrent clients for {secs} s (child process) …");
        out.extend(isolated(Isolated::HttpLoad, &args)?);
    }
    if !args.samod_only && !args.no_million {
        eprintln!("a large node bootstraps a new child …");
        out.extend(isolated(Isolated::MillionDocs, &args)?);
    }

    println!("{:<42} {:>14}", "metric", "value");
    for (k, v) in &out {
        println!("{k:<42} {v:>14}");
    }
    if let Some(p) = args.json {
        std::fs::write(&p, serde_json::to_string_pretty(&Value::Object(out))?)?;
    }
    Ok(())
}
