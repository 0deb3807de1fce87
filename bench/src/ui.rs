//! The web UI's server time, over HTTP on loopback against a real node (a request's whole time as the
//! client sees it: routing, the session check, the store queries, rendering):
//!
//! - `ui_ledger_first_page_p99_ms`: the 隐患台账's first page (50 rows, newest first, with the total)
//!   at a township holding `hazards` hazards of its own;
//! - `ui_overview_p99_ms`: the province's 总览 with a summary from every office of the real Yunnan
//!   tree (province, 16 cities, 129 counties, 1,461 townships and subdistricts from the bundled
//!   division table), as its store holds them after they replicated up.

use std::time::Instant;

use anyhow::{Context, bail};
use automerge::transaction::CommitOptions;
use safemesh_doc::hazard::{Enterprise, HazardCore};
use safemesh_doc::{AutoCommit, actor::actor_id, hazard};
use safemesh_model::AdminCode;
use safemesh_model::hazard::{Channel, Grade, facts};
use safemesh_model::summary::{AccidentCounts, DirectiveCounts, HazardCounts, SummaryBody};
use safemesh_store::Store;
use safemesh_testkit::Cluster;
use serde_json::{Map, Value, json};

use crate::code;

/// A registered hazard of one change, varied enough that filters and charts have something to do.
fn ledger_hazard(owner: &AdminCode, i: usize) -> (String, Vec<u8>) {
    let mut doc = AutoCommit::new().with_actor(actor_id(owner, b"ui-bench"));
    let core = HazardCore {
        title: format!("第{i}号隐患：配电箱未接地，消防通道堆放杂物"),
        sector: ["消防", "城镇燃气", "建筑施工", "自建房", "危险化学品"][i % 5].into(),
        sector_detail: None,
        grade: if i.is_multiple_of(25) {
            Grade::Major
        } else {
            Grade::General
        },
        channel: Channel::Inspection,
        subject: Default::default(),
        responsible_unit: String::new(),
        enterprise: Enterprise {
            name: format!("禄脿某某商贸有限公司{}", i % 1000),
            credit_code: String::new(),
            credit_code_override: None,
        },
        number: facts::format_number(owner, 2026, i as u32 + 1),
        inspection_mode: Some("明查暗访".into()),
        found_by_level: owner.clone(),
        found_on: format!("2026-{:02}-{:02}", 1 + i % 11, 1 + i % 28),
        stock: facts::Stock::New,
        location: facts::Location {
            division: owner.to_string(),
            address: String::new(),
        },
        basis: facts::Basis {
            standard: "《建筑设计防火规范》".into(),
            clause: "10.2".into(),
        },
        deadline: format!("2026-{:02}-28", 1 + i % 12),
        description: String::new(),
    };
    hazard::create(&mut doc, owner, "王五", "2026-05-01T08:00:00Z", &core).expect("create");
    doc.commit_with(
        CommitOptions::default()
            .with_message(format!("王五@{owner}"))
            .with_time(1_780_000_000),
    );
    (format!("h-ui-{i:08}"), doc.save())
}

async fn fill(store: &Store, owner: &AdminCode, n: usize) -> anyhow::Result<()> {
    const CHUNK: usize = 5_000;
    let mut from = 0;
    while from < n {
        let to = (from + CHUNK).min(n);
        let owner2 = owner.clone();
        let docs = tokio::task::spawn_blocking(move || {
            (from..to)
                .map(|i| ledger_hazard(&owner2, i))
                .collect::<Vec<_>>()
        })
        .await?;
        let mut w = store.writer().await?;
        for (id, bytes) in docs {
            let mut doc = AutoCommit::load(&bytes)?;
            w.put_new_doc_bytes(&id, &mut doc, bytes).await?;
        }
        w.commit().await?;
        from = to;
    }
    Ok(())
}

/// A session cookie for the node's own admin token.
async fn login(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let r = http
        .post(format!("{base}/login"))
        .form(&[("token", token)])
        .send()
        .await?;
    let set = r
        .headers()
        .get("set-cookie")
        .context("no session cookie")?
        .to_str()?;
    Ok(set.split(';').next().unwrap_or_default().to_string())
}

/// p50 and p99 in ms of `rounds` GETs of `url` (after a warm-up), checking each answer has `needle`.
async fn time_gets(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
    rounds: usize,
    needle: &str,
) -> anyhow::Result<(f64, f64)> {
    let mut ms = Vec::with_capacity(rounds);
    for i in 0..rounds + 5 {
        let t = Instant::now();
        let r = http.get(url).header("Cookie", cookie).send().await?;
        let status = r.status();
        let body = r.text().await?;
        let took = t.elapsed().as_secs_f64() * 1000.0;
        if !status.is_success() || !body.contains(needle) {
            bail!("{url}: {status}, no {needle:?} in the page");
        }
        if i >= 5 {
            ms.push(took);
        }
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
    Ok((at(0.5), at(0.99)))
}

fn round1(x: f64) -> Value {
    json!((x * 10.0).round() / 10.0)
}

/// A plausible summary for `c` (counts scaled by its level).
fn summary_of(c: &AdminCode, i: usize) -> SummaryBody {
    let base = match c.as_str().len() {
        4 => 400,
        6 => 60,
        _ => 8,
    } as u64
        + (i % 7) as u64;
    let mut h = HazardCounts {
        total: base,
        unclosed: base / 3,
        closed: base - base / 3,
        major: base / 20,
        overdue: base / 15,
        supervised: base / 40,
        this_month: base / 10,
        ..Default::default()
    };
    for (k, s) in ["消防", "城镇燃气", "建筑施工", "危险化学品", "道路运输"]
        .into_iter()
        .enumerate()
    {
        h.by_sector.insert(s.into(), base / (k as u64 + 2));
    }
    h.by_status.insert("open".into(), base / 6);
    h.by_status.insert("rectifying".into(), base / 6);
    h.by_status.insert("closed".into(), base - base / 3);
    h.by_grade.insert("major".into(), base / 20);
    h.by_grade.insert("general".into(), base - base / 20);
    h.by_channel.insert("inspection".into(), base / 2);
    h.by_channel
        .insert("enterprise_self_report".into(), base - base / 2);
    SummaryBody {
        own_hazards: h.clone(),
        hazards: h,
        directives: DirectiveCounts {
            issued: 3,
            assignments: 12,
            received: 10,
            completed: 6,
            overdue: 1,
            ..Default::default()
        },
        reporting_descendants: 0,
        accidents: AccidentCounts::default(),
        ..Default::default()
    }
}

/// Every office below `root` in the bundled division table.
fn tree(root: &AdminCode) -> Vec<AdminCode> {
    let mut out = Vec::new();
    let mut stack = safemesh_model::division::children_of(root);
    while let Some(c) = stack.pop() {
        stack.extend(safemesh_model::division::children_of(&c));
        out.push(c);
    }
    out
}

pub async fn run(hazards: usize, rounds: usize) -> anyhow::Result<Map<String, Value>> {
    let mut out = Map::new();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    // The ledger at a township holding `hazards` hazards.
    let c = Cluster::start(&["530181006"]).await?;
    let n = c.node("530181006");
    eprintln!("    filling {hazards} hazards …");
    fill(&n.store, &code("530181006"), hazards).await?;
    let cookie = login(&http, &n.http_url(), &n.token).await?;
    let (p50, p99) = time_gets(
        &http,
        &format!("{}/hazards", n.http_url()),
        &cookie,
        rounds,
        "ledger-table",
    )
    .await?;
    out.insert("ui_ledger_hazards".into(), json!(hazards));
    out.insert("ui_ledger_first_page_p50_ms".into(), round1(p50));
    out.insert("ui_ledger_first_page_p99_ms".into(), round1(p99));
    c.shutdown().await;

    // The province's overview with the real Yunnan tree's summaries.
    let c = Cluster::start(&["53"]).await?;
    let p = c.node("53");
    let offices = tree(&code("53"));
    {
        let mut w = p.store.writer().await?;
        for (i, o) in offices.iter().enumerate() {
            let body = serde_json::to_string(&summary_of(o, i))?;
            w.put_summary(o, 1, "2026-12", "2026-12-07T01:00:00Z", &body)
                .await?;
        }
        w.commit().await?;
    }
    let cookie = login(&http, &p.http_url(), &p.token).await?;
    let (p50, p99) = time_gets(
        &http,
        &format!("{}/", p.http_url()),
        &cookie,
        rounds,
        "fig-total",
    )
    .await?;
    out.insert("ui_overview_offices".into(), json!(offices.len()));
    out.insert("ui_overview_p50_ms".into(), round1(p50));
    out.insert("ui_overview_p99_ms".into(), round1(p99));
    c.shutdown().await;
    Ok(out)
}
