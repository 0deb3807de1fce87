//! The province simulation: the real division tree of one province (Yunnan: 1 + 16 + 129 + 1,461
//! nodes) in one process on the sans-IO engine — every node a real SQLite store, every parent–child
//! pair a real `run_link` pair wired by in-memory channels (no sockets, no TLS: the harness's mesh,
//! `safemesh_testkit::mesh`, on the real clock), every node running the node's own roll-up publisher. Each township holds `per_township` hazards (5 % major); the clock
//! runs from the moment every link opens until every roll-up held at the province is exact, i.e. equal
//! to the sum of what the townships themselves count. Then roll-up queries at the province.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use automerge::transaction::CommitOptions;
use futures::stream::{self, StreamExt, TryStreamExt};
use safemesh_doc::hazard::{Enterprise, HazardCore};
use safemesh_doc::{AutoCommit, actor::actor_id, hazard};
use safemesh_model::hazard::{Channel, EventKind, Grade, HazardEvent, facts};
use safemesh_model::summary::{HazardCounts, SummaryBody};
use safemesh_model::{AdminCode, Level, division};
use safemesh_node::rollup;
use safemesh_store::{SqliteLimits, Store};
use safemesh_testkit::mesh::{Clock, Mesh, Options};
use tokio::sync::watch;

/// What the simulation measured.
pub struct SimResult {
    pub nodes: usize,
    pub hazards: usize,
    pub setup_s: f64,
    pub converge_s: f64,
    pub rollup_p50_ms: f64,
    pub rollup_p99_ms: f64,
    pub queries: usize,
}

/// Each simulated office's store: fewer connections and smaller caches than a node's own (1,607 of
/// them share one process); what a single node would use is `SqliteLimits::default()`.
const SIM_STORE: SqliteLimits = SqliteLimits {
    connections: 2,
    cached_docs: 64,
    page_cache_kib: 256,
};

fn sectors() -> [&'static str; 8] {
    [
        "危险化学品",
        "消防",
        "城镇燃气",
        "建筑施工",
        "冶金工贸",
        "道路交通",
        "自建房",
        "特种设备",
    ]
}

/// One township hazard as an office writes it: registration, then (by `i`) a plan, a rectification
/// report, acceptance and closure — so the tree holds every status. Every 20th is major (5 %) and
/// stays open; every 7th is past its deadline.
fn sim_hazard(owner: &AdminCode, nonce: &[u8], i: usize) -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(actor_id(owner, nonce));
    let major = i % 20 == 7;
    let core = HazardCore {
        title: format!("{owner}第{i}号隐患：消防通道堵塞、应急照明损坏"),
        sector: sectors()[i % sectors().len()].into(),
        sector_detail: None,
        grade: if major { Grade::Major } else { Grade::General },
        channel: [
            Channel::Inspection,
            Channel::EnterpriseSelfReport,
            Channel::PublicReport,
        ][i % 3],
        subject: Default::default(),
        responsible_unit: String::new(),
        enterprise: Enterprise {
            name: format!("某某企业{}", i % 13),
            credit_code: String::new(),
            credit_code_override: None,
        },
        number: facts::format_number(owner, 2026, i as u32 + 1),
        inspection_mode: i.is_multiple_of(3).then(|| "双随机一公开".to_string()),
        found_by_level: owner.clone(),
        found_on: "2026-02-20".into(),
        stock: facts::Stock::New,
        location: facts::Location {
            division: owner.to_string(),
            address: String::new(),
        },
        basis: facts::Basis {
            standard: "《消防安全重大火灾隐患判定方法》（GB 35181）".into(),
            clause: "第6条".into(),
        },
        deadline: if i.is_multiple_of(7) {
            "2026-01-31"
        } else {
            "2027-06-30"
        }
        .into(),
        description: "督导检查发现，责令限期整改".into(),
    };
    let opts = || {
        CommitOptions::default()
            .with_message(format!("李四@{owner}"))
            .with_time(1_790_000_000)
    };
    hazard::create(&mut doc, owner, "李四", "2026-03-01T08:00:00Z", &core).expect("create");
    doc.commit_with(opts());
    if major {
        return doc;
    }
    let steps: &[EventKind] = match i % 4 {
        0 => &[],
        1 => &[EventKind::Plan],
        2 => &[EventKind::Plan, EventKind::Rectified],
        _ => &[
            EventKind::Plan,
            EventKind::Rectified,
            EventKind::Accept,
            EventKind::Close,
        ],
    };
    for (k, kind) in steps.iter().enumerate() {
        let e = HazardEvent {
            kind: *kind,
            at: format!("2026-03-{:02}T09:00:00Z", 2 + k),
            by: owner.clone(),
            user: "李四".into(),
            note: Some("按期推进".into()),
            method: None,
            level: None,
            number: None,
            requirements: None,
            due: None,
            percent: None,
            plan: None,
            recipients: Vec::new(),
            reply_by: None,
            new_deadline: None,
            approved: None,
            to: None,
            recipient_names: Default::default(),
            attachments: Vec::new(),
        };
        hazard::append_event(&mut doc, &e).expect("event");
        doc.commit_with(opts());
    }
    doc
}

/// The province's subtree from the bundled division data: `root` and every descendant, parents first.
/// With `only_city`, the province plus that one city's subtree (the smoke size).
pub fn tree(root: &AdminCode, only_city: Option<&AdminCode>) -> Vec<AdminCode> {
    let mut out = vec![root.clone()];
    let mut i = 0;
    while i < out.len() {
        let c = out[i].clone();
        for k in division::children_of(&c) {
            if c == *root && only_city.is_some_and(|o| *o != k) {
                continue;
            }
            out.push(k);
        }
        i += 1;
    }
    out
}

/// Writes `n` hazards at a township in one transaction; returns what the township itself counts.
async fn populate(
    code: &AdminCode,
    store: &Store,
    n: usize,
    today: &str,
) -> anyhow::Result<HazardCounts> {
    let nonce = b"sim";
    let mut w = store.writer().await?;
    for i in 0..n {
        let mut doc = sim_hazard(code, nonce, i);
        w.put_doc(&format!("h-{code}-{i:04}"), &mut doc, &[])
            .await?;
    }
    w.commit().await?;
    Ok(store.own_hazard_counts(code.as_str(), today, today).await?)
}

/// Whether every summary the province holds, and its own, equal the expected sums.
async fn exact_at_province(
    province: &AdminCode,
    store: &Store,
    expected: &BTreeMap<String, HazardCounts>,
) -> anyhow::Result<bool> {
    let own = rollup::compute(store, province, 3).await?;
    if own.hazards != expected[province.as_str()] {
        return Ok(false);
    }
    let held: BTreeMap<String, String> = store
        .summaries()
        .await?
        .into_iter()
        .map(|s| (s.owner, s.body))
        .collect();
    for (code, want) in expected {
        if code == province.as_str() {
            continue;
        }
        let Some(body) = held.get(code) else {
            return Ok(false);
        };
        let got: SummaryBody = serde_json::from_str(body).context("summary body")?;
        if got.hazards != *want {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs the simulation under `dir`. `only_city` limits it to one city's subtree (smoke).
pub async fn run(
    dir: &Path,
    root: &AdminCode,
    only_city: Option<&AdminCode>,
    per_township: usize,
    queries: usize,
) -> anyhow::Result<SimResult> {
    let setup = Instant::now();
    let codes = tree(root, only_city);
    eprintln!("  {} nodes: opening stores …", codes.len());
    let names: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let opts = Options {
        clock: Clock::Real,
        dir: Some(dir.to_path_buf()),
        sqlite: Some(SIM_STORE),
        record_traffic: false,
    };
    let mut mesh = Mesh::with(opts, &names).await;
    let today = safemesh_model::hazard::format_date(safemesh_node::clock::today());
    eprintln!("  writing {per_township} hazards at each township …");
    let towns: Vec<&AdminCode> = codes
        .iter()
        .filter(|c| c.level() == Level::Township)
        .collect();
    let counts: Vec<HazardCounts> = stream::iter(towns.iter().copied())
        .map(|c| populate(c, mesh.store(c.as_str()), per_township, &today))
        .buffered(4)
        .try_collect()
        .await?;
    // Expected roll-up of every node: the sum of its townships' own counts.
    let mut expected: BTreeMap<String, HazardCounts> = codes
        .iter()
        .map(|c| (c.to_string(), HazardCounts::default()))
        .collect();
    for (t, c) in towns.iter().zip(&counts) {
        let mut at = Some((*t).clone());
        while let Some(code) = at {
            if let Some(e) = expected.get_mut(code.as_str()) {
                e.add(c);
            }
            at = code.parent();
        }
    }
    let setup_s = setup.elapsed().as_secs_f64();
    let province = mesh.store(root.as_str()).clone();

    eprintln!("  connecting {} links …", codes.len() - 1);
    let (stop_tx, stop) = watch::channel(false);
    let start = Instant::now();
    for c in &codes {
        tokio::spawn(rollup::run(
            mesh.store(c.as_str()).clone(),
            c.clone(),
            None,
            3,
            Duration::from_millis(200),
            Duration::from_secs(3600),
            stop.clone(),
        ));
    }
    for c in &codes[1..] {
        let parent = c.parent().context("parent")?;
        mesh.connect(parent.as_str(), c.as_str());
    }
    let converge_s = loop {
        if exact_at_province(root, &province, &expected).await? {
            break start.elapsed().as_secs_f64();
        }
        if start.elapsed() > Duration::from_secs(1800) {
            bail!("the province's roll-ups were not exact within 30 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Roll-up queries at the province: itself, each city, each county, townships (drill-down).
    let name = division::name_of(root).unwrap_or("");
    let scopes: Vec<&AdminCode> = codes.iter().collect();
    let mut lat = Vec::with_capacity(queries);
    for q in 0..queries {
        // Every fourth query is the province itself; the rest walk the tree.
        let scope = if q % 4 == 0 {
            root
        } else {
            scopes[(q * 7919) % scopes.len()]
        };
        let t0 = Instant::now();
        let v = rollup::view(&province, root, name, scope, &[], 3)
            .await?
            .with_context(|| format!("no roll-up for {scope}"))?;
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
        if v["hazards"]["total"].as_u64() != Some(expected[scope.as_str()].total) {
            bail!(
                "roll-up of {scope} at the province is not exact: {}",
                v["hazards"]
            );
        }
    }
    let _ = stop_tx.send(true);
    mesh.stop_links();
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    let hazards = towns.len() * per_township;
    for c in &codes {
        mesh.store(c.as_str()).close().await;
    }
    Ok(SimResult {
        nodes: codes.len(),
        hazards,
        setup_s,
        converge_s,
        rollup_p50_ms: pct(0.5),
        rollup_p99_ms: pct(0.99),
        queries,
    })
}
