//! A bounded load test of the HTTP API: `clients` concurrent clients, each with its own connection,
//! against one real township node (SQLite, durable commits, the default `[http_limits]`: 256
//! requests at once, 1,024 waiting, 5 s of waiting at most) for `secs` seconds. Each client loops:
//! one request in five creates a hazard, the rest read (the ledger's first page, the node's
//! status). It reports what a client saw — requests per second, latency p50/p99, answers by status —
//! the process's peak RSS (run in a child process, so it is the node's and the clients' alone), and
//! checks that every hazard the API acknowledged (201) is in the ledger afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::ensure;
use safemesh_testkit::{Cluster, hazard_json};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

/// What the clients saw, merged.
#[derive(Default)]
struct Seen {
    latencies_ms: Vec<f64>,
    by_status: std::collections::BTreeMap<u16, u64>,
    created: u64,
    failed_to_send: u64,
}

/// Clients and seconds: the scale's, unless `--http-clients` / `--http-secs` say otherwise.
pub fn size(args: &crate::Args) -> (usize, u64) {
    let (clients, secs) = match args.scale {
        crate::Scale::Smoke => (50, 3),
        crate::Scale::Full => (500, 30),
    };
    (
        args.http_clients.unwrap_or(clients),
        args.http_secs.unwrap_or(secs),
    )
}

pub async fn run(clients: usize, secs: u64) -> anyhow::Result<Map<String, Value>> {
    const TOWN: &str = "530181006";
    let c = Cluster::start(&[TOWN]).await?;
    let n = c.node(TOWN);
    let (base, token) = (n.http_url(), n.token.clone());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let (base, token, seen) = (base.clone(), token.clone(), seen.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client");
            let mut mine = Seen::default();
            let mut i = 0usize;
            while Instant::now() < until {
                i += 1;
                let t = Instant::now();
                let req = if (client + i).is_multiple_of(5) {
                    http.post(format!("{base}/api/v1/hazards"))
                        .json(&hazard_json(
                            &format!("压测隐患 {client}-{i}"),
                            "general",
                            "2030-12-31",
                        ))
                } else if i.is_multiple_of(2) {
                    http.get(format!("{base}/api/v1/hazards?limit=20"))
                } else {
                    http.get(format!("{base}/api/v1/node"))
                };
                match req.bearer_auth(&token).send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let _ = r.bytes().await;
                        mine.latencies_ms.push(t.elapsed().as_secs_f64() * 1e3);
                        *mine.by_status.entry(status).or_default() += 1;
                        if status == 201 {
                            mine.created += 1;
                        }
                    }
                    Err(_) => mine.failed_to_send += 1,
                }
            }
            let mut all = seen.lock().await;
            all.latencies_ms.extend(mine.latencies_ms);
            for (s, k) in mine.by_status {
                *all.by_status.entry(s).or_default() += k;
            }
            all.created += mine.created;
            all.failed_to_send += mine.failed_to_send;
        }));
    }
    for t in tasks {
        t.await?;
    }
    let wall = started.elapsed().as_secs_f64();
    let mut seen = Arc::try_unwrap(seen)
        .map_err(|_| anyhow::anyhow!("a client still holds the results"))?
        .into_inner();
    seen.latencies_ms.sort_by(f64::total_cmp);
    let pct = |p: f64| -> f64 {
        let v = &seen.latencies_ms;
        if v.is_empty() {
            return 0.0;
        }
        let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
        (v[i] * 10.0).round() / 10.0
    };
    let (_, ledger) = c.get(TOWN, "/api/v1/hazards?limit=1").await?;
    let in_ledger = ledger["total"].as_u64().unwrap_or(0);
    ensure!(
        in_ledger == seen.created,
        "{} hazards acknowledged, {in_ledger} in the ledger",
        seen.created
    );
    let count = |pred: &dyn Fn(u16) -> bool| -> u64 {
        seen.by_status
            .iter()
            .filter(|(s, _)| pred(**s))
            .map(|(_, k)| k)
            .sum()
    };
    let total = seen.latencies_ms.len() as u64;
    let mut out = Map::new();
    out.insert("http_load_clients".into(), json!(clients));
    out.insert("http_load_requests".into(), json!(total));
    out.insert(
        "http_load_requests_per_s".into(),
        json!((total as f64 / wall).round()),
    );
    out.insert("http_load_p50_ms".into(), json!(pct(0.50)));
    out.insert("http_load_p99_ms".into(), json!(pct(0.99)));
    out.insert("http_load_created".into(), json!(seen.created));
    out.insert("http_load_503".into(), json!(count(&|s| s == 503)));
    out.insert(
        "http_load_other_errors".into(),
        json!(count(&|s| s >= 400 && s != 503) + seen.failed_to_send),
    );
    out.insert("http_load_peak_rss_mb".into(), json!(crate::peak_rss_mb()));
    c.shutdown().await;
    Ok(out)
}
