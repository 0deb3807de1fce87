//! 200 个下级 — a parent with many children linked at once (issue 19, docs/RELIABILITY.md): one real
//! county node (gRPC + mutual TLS on loopback, its HTTP API, roll-up and all) in this process, and
//! `n` township children in a child process of this binary, each its own SQLite store, certificate
//! and link, all dialling at once and each writing `k` hazards. Measured: the time until the parent
//! holds every child's hazards with every link in sync on both sides, and the parent process's peak
//! resident memory (the children's is their own process's).
//!
//! The children are link runners over real TLS, not whole nodes (no HTTP API or roll-up each): 200
//! whole nodes in one process would measure the harness, and 200 processes would not fit the machine.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use safemesh_model::AdminCode;
use safemesh_store::{SqliteLimits, Store};
use safemesh_testkit::Cluster;
use safemesh_testkit::gateway::ca::{Ca, write_node_files};
use safemesh_testkit::gateway::link::dial_parent_with;
use safemesh_testkit::gateway::tls::{NodeIdentity, Policy, client_config_with};
use serde_json::{Value, json};
use tokio::sync::watch;

const PARENT: &str = "530181";

/// How long convergence may take before the scenario fails (a bound, not a measurement).
const BOUND: Duration = Duration::from_secs(1800);

fn child_code(i: usize) -> String {
    format!("{PARENT}{i:03}")
}

/// The parent's side: starts the county, issues `n` children's certificates, runs the children in a
/// child process and waits until everything is in sync.
pub async fn parent(n: usize, k: usize) -> anyhow::Result<Value> {
    ensure!((1..=999).contains(&n), "1 to 999 children");
    let c = Cluster::start(&[PARENT]).await?;
    let dir = tempfile::Builder::new()
        .prefix("safemesh-fanout")
        .tempdir()?;
    let ca = Ca::load(&c.ca_dir())?;
    for i in 1..=n {
        let code = AdminCode::parse(&child_code(i))?;
        let issued = ca.issue(&code, 30)?;
        write_node_files(&issued, ca.ca_cert_pem(), &dir.path().join(code.as_str()))?;
    }
    let url = c.node(PARENT).link_url();
    eprintln!("    {n} children dial {url} at once, {k} hazards each …");
    let start = Instant::now();
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--scenario", "fanout-children", "--fanout-children"])
        .arg(n.to_string())
        .arg("--fanout-writes")
        .arg(k.to_string())
        .arg("--fanout-dir")
        .arg(dir.path())
        .arg("--fanout-parent")
        .arg(&url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let node = c.node(PARENT);
    let want = (n * k) as i64;
    let mut last = Instant::now();
    loop {
        let held = safemesh_store::count_documents(&node.store).await?;
        let links = node.registry.all();
        let in_sync = links
            .iter()
            .filter(|l| l.role == "child" && l.state == "in_sync")
            .count();
        if held >= want && in_sync == n {
            break;
        }
        if last.elapsed() > Duration::from_secs(10) {
            eprintln!("    parent holds {held} of {want}; {in_sync} of {n} links in sync");
            last = Instant::now();
        }
        if start.elapsed() > BOUND {
            let _ = child.kill();
            bail!("not in sync within {BOUND:?}: {held} of {want} held, {in_sync} links in sync");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let converge_s = start.elapsed().as_secs_f64();
    let parent_rss = crate::peak_rss_mb();
    // The children report when every one of their links is in sync (so both sides agree).
    let stdout = child.stdout.take().context("children's stdout")?;
    let line =
        tokio::task::spawn_blocking(move || BufReader::new(stdout).lines().next().transpose())
            .await??
            .context("the children printed nothing")?;
    let children: Value = serde_json::from_str(&line)?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"done\n");
    }
    let status = child.wait()?;
    ensure!(status.success(), "children failed: {status}");
    let refused: u64 = node.registry.rejected_handshakes().values().sum();
    c.shutdown().await;
    Ok(json!({
        "fanout_children": n,
        "fanout_writes_per_child": k,
        "fanout_docs_at_parent": want,
        "fanout_converge_s": (converge_s * 10.0).round() / 10.0,
        "fanout_parent_peak_rss_mb": parent_rss,
        "fanout_children_process_peak_rss_mb": children["peak_rss_mb"],
        "fanout_children_in_sync": children["in_sync"],
        "fanout_handshakes_turned_away": refused,
    }))
}

/// The children's side: one store, certificate and link per directory under `dir`, all dialling
/// `parent_url` at once; each writes `k` hazards. Prints `{"in_sync": n, "peak_rss_mb": …}` once
/// every link is in sync, then waits for a line on stdin before it stops.
pub async fn children(dir: &Path, parent_url: &str, n: usize, k: usize) -> anyhow::Result<()> {
    let parent = AdminCode::parse(PARENT)?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let limits = SqliteLimits {
        connections: 2,
        cached_docs: 64,
        page_cache_kib: 256,
    };
    let mut nodes = Vec::with_capacity(n);
    for i in 1..=n {
        let code = AdminCode::parse(&child_code(i))?;
        let home = dir.join(code.as_str());
        let id = NodeIdentity::load(&home)?;
        let store = Store::open_sqlite_with(&home.join("store.db"), limits).await?;
        let registry = safemesh_link::Registry::default();
        let cfg = safemesh_link::LinkConfig::new(store.clone(), code.clone(), registry.clone());
        let tls = client_config_with(&id, parent.clone(), &Policy::default())?;
        nodes.push((code, store, registry, cfg, tls));
    }
    // All at once.
    let mut tasks = Vec::new();
    for (_, _, _, cfg, tls) in &nodes {
        tasks.push(tokio::spawn(dial_parent_with(
            cfg.clone(),
            parent.clone(),
            parent_url.to_string(),
            Arc::clone(tls),
            Duration::from_secs(2),
            shutdown_rx.clone(),
            Policy::default(),
        )));
    }
    // Each writes while the others link.
    for j in 0..k {
        for (i, (code, store, ..)) in nodes.iter().enumerate() {
            let (id, bytes) = crate::million::small_hazard(code, i * k + j);
            let mut doc = automerge::AutoCommit::load(&bytes)?;
            let mut w = store.writer().await?;
            w.put_new_doc_bytes(&format!("{id}-{code}"), &mut doc, bytes)
                .await?;
            w.commit().await?;
        }
    }
    let start = Instant::now();
    loop {
        let states: BTreeMap<String, usize> =
            nodes
                .iter()
                .fold(BTreeMap::new(), |mut m, (_, _, reg, _, _)| {
                    let state = reg.get(PARENT).map_or("none".into(), |s| s.state);
                    *m.entry(state).or_default() += 1;
                    m
                });
        if states.get("in_sync") == Some(&n) {
            break;
        }
        ensure!(
            start.elapsed() < BOUND,
            "children not in sync within {BOUND:?}: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{}",
        json!({"in_sync": n, "peak_rss_mb": crate::peak_rss_mb()})
    );
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)
    })
    .await??;
    let _ = shutdown.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    for (_, store, ..) in nodes {
        store.close().await;
    }
    Ok(())
}
