//! Live push over three hops (township → county → city → province): one small edit at the township
//! until it is committed at the province. `live_p50_ms` times it alone; `blobs::event_latency` times
//! the same edit while an evidence file moves up the same links — both through [`timed_progress`].

use std::time::{Duration, Instant};

use anyhow::Context;
use safemesh_node::hazards::{self, NewEvent};
use safemesh_store::Store;
use safemesh_testkit::Cluster;
use serde_json::json;

use crate::{COUNTY, TOWN, link_bytes};

/// The chain the edits travel, province first.
pub const CHAIN: [&str; 4] = ["53", "5301", COUNTY, TOWN];

/// A major hazard registered at the township, its owner's notify made (a major hazard moves only once
/// its 主要负责人 and 实际控制人 were told), held by the whole chain: its id.
pub async fn major_hazard_everywhere(c: &Cluster, title: &str) -> anyhow::Result<String> {
    let body = safemesh_testkit::hazard_json(title, "major", "2027-12-31");
    let (_, h) = c.post(TOWN, "/api/v1/hazards", &body).await?;
    let id = h["id"].as_str().context("id")?.to_string();
    let notify =
        json!({"kind": "notify", "recipients": ["主要负责人", "实际控制人"], "method": "书面告知"});
    c.post(TOWN, &format!("/api/v1/hazards/{id}/events"), &notify)
        .await?;
    c.wait_converged(&id, &CHAIN).await?;
    Ok(id)
}

/// The province's count of the hazard's events.
async fn events_at(prov: &Store, id: &str) -> anyhow::Result<usize> {
    Ok(prov
        .hazard(id)
        .await?
        .and_then(|r| r.body["events"].as_array().map(Vec::len))
        .unwrap_or(0))
}

/// One progress event written at the township (through the node's own write path, not HTTP), timed
/// until the province holds it: milliseconds.
pub async fn timed_progress(c: &Cluster, id: &str, note: String) -> anyhow::Result<f64> {
    let town = c.node(TOWN);
    let prov = &c.node("53").store;
    let before = events_at(prov, id).await?;
    let mut watch = prov.subscribe();
    let start = Instant::now();
    hazards::add_event(
        &town.store,
        &town.hazard_settings,
        &town.actor,
        id,
        NewEvent {
            kind: Some("progress".into()),
            note: Some(note),
            percent: Some(50),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    while events_at(prov, id).await? <= before {
        tokio::time::timeout(Duration::from_secs(30), watch.changed())
            .await
            .context("edit did not arrive")??;
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0)
}

/// The value at `p` (0–1) of sorted `v`.
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// `edits` live edits: their p50 and p99 in ms, and the median bytes one costs on the township's
/// link (the edit's own frames, batch and ack, before the roll-up follows).
pub async fn run(edits: usize) -> anyhow::Result<(f64, f64, u64)> {
    let c = Cluster::start(&CHAIN).await?;
    let id = major_hazard_everywhere(&c, "实时推送测试").await?;
    let mut lat = Vec::with_capacity(edits);
    let mut bytes = Vec::new();
    for i in 0..edits {
        tokio::time::sleep(Duration::from_millis(250)).await; // let the roll-up settle so bytes are the edit's
        let b0 = link_bytes(&c.get(TOWN, "/api/v1/sync/status").await?.1, COUNTY);
        lat.push(timed_progress(&c, &id, format!("进展{i}")).await?);
        let b1 = link_bytes(&c.get(TOWN, "/api/v1/sync/status").await?.1, COUNTY);
        bytes.push(b1 - b0);
    }
    c.shutdown().await;
    bytes.sort();
    Ok((
        percentile(&mut lat, 0.5),
        percentile(&mut lat, 0.99),
        bytes[bytes.len() / 2],
    ))
}
