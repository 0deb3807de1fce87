//! 佐证材料 on the link (issue 16): what a file costs on the wire beyond its own bytes (one hop, real
//! gRPC + mutual TLS), what a cut mid-transfer makes the holder send twice (the deterministic mesh,
//! cut after a third of the chunks), and the live event latency over three hops while a large file
//! moves on the same links.

use std::time::{Duration, Instant};

use anyhow::Context;
use safemesh_model::hazard::{EventKind, Grade};
use safemesh_node::evidence::AttachmentInput;
use safemesh_node::hazards::{self, NewEvent};
use safemesh_testkit::Cluster;
use safemesh_testkit::bytes::incompressible;
use safemesh_testkit::mesh::Mesh;
use serde_json::{Value, json};

use crate::{COUNTY, TOWN, link_bytes, live};

/// Stores `bytes` at `node` of the cluster and attaches it to a new `progress` event of `id`.
async fn attach(c: &Cluster, node: &str, id: &str, bytes: &[u8]) -> anyhow::Result<String> {
    let n = c.node(node);
    let meta = n.store.put_blob("image/jpeg", bytes).await?;
    hazards::add_event(
        &n.store,
        &n.hazard_settings,
        &n.actor,
        id,
        NewEvent {
            kind: Some("progress".into()),
            percent: Some(60),
            attachments: Some(vec![AttachmentInput {
                sha256: Some(meta.sha256.clone()),
                name: Some("现场.jpg".into()),
            }]),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok(meta.sha256)
}

/// Waits until `node` holds blob `sha256` whole.
async fn wait_blob(c: &Cluster, node: &str, sha256: &str) -> anyhow::Result<()> {
    let store = &c.node(node).store;
    let deadline = Instant::now() + Duration::from_secs(600);
    while store.blob_meta(sha256).await?.is_none() {
        anyhow::ensure!(Instant::now() < deadline, "{node} never held the file");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn register(c: &Cluster, node: &str, grade: &str) -> anyhow::Result<String> {
    let body = safemesh_testkit::hazard_json("佐证材料基准", grade, "2026-12-31");
    let (_, h) = c.post(node, "/api/v1/hazards", &body).await?;
    Ok(h["id"].as_str().context("id")?.to_string())
}

/// `blob_overhead_pct`: a `mib`-MiB file over one hop, the link's bytes (both ways) beyond the file.
pub async fn overhead(mib: usize) -> anyhow::Result<Vec<(String, Value)>> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    let id = register(&c, TOWN, "general").await?;
    c.wait_converged(&id, &[COUNTY, TOWN]).await?;
    tokio::time::sleep(Duration::from_millis(300)).await; // the roll-up settles
    let b0 = link_bytes(&c.get(TOWN, "/api/v1/sync/status").await?.1, COUNTY);
    let bytes = incompressible(mib << 20, 11);
    let sha = attach(&c, TOWN, &id, &bytes).await?;
    wait_blob(&c, COUNTY, &sha).await?;
    tokio::time::sleep(Duration::from_millis(300)).await; // the last acknowledgements land
    let b1 = link_bytes(&c.get(TOWN, "/api/v1/sync/status").await?.1, COUNTY);
    c.shutdown().await;
    let extra = b1.saturating_sub(b0).saturating_sub(bytes.len() as u64);
    let pct = extra as f64 / bytes.len() as f64 * 100.0;
    Ok(vec![
        ("blob_overhead_file_mib".into(), json!(mib)),
        (
            "blob_overhead_pct".into(),
            json!((pct * 100.0).round() / 100.0),
        ),
    ])
}

/// `blob_resume_waste_bytes`: a `chunks`-chunk file whose stream is cut after a third of them; the
/// chunk bytes both streams carried beyond the file.
pub async fn resume_waste(chunks: usize) -> anyhow::Result<Vec<(String, Value)>> {
    let chunk = safemesh_store::BLOB_CHUNK;
    let mut m = Mesh::new(&[COUNTY, TOWN]).await;
    m.connect(COUNTY, TOWN);
    let id = m.register_hazard(TOWN, Grade::General, "断点续传").await;
    m.run_until_quiet().await;
    m.cut(COUNTY, TOWN).await;
    let bytes = incompressible(chunks * chunk, 12);
    let sha = m
        .attach_file(TOWN, &id, EventKind::Progress, "全景.jpg", &bytes)
        .await;
    m.cut_after(COUNTY, TOWN, "blob_chunk", chunks / 3);
    let first = m.heal(COUNTY, TOWN);
    m.wait_closed(COUNTY, TOWN).await;
    let second = m.heal(COUNTY, TOWN);
    m.run_until_quiet().await;
    anyhow::ensure!(
        m.store(COUNTY).read_blob(&sha).await?.as_deref() == Some(&bytes[..]),
        "the file did not complete"
    );
    let carried: usize = [first, second]
        .iter()
        .flat_map(|t| t.from(TOWN))
        .filter(|s| s.kind == "blob_chunk")
        .map(|s| s.bytes)
        .sum();
    // A chunk frame's bytes beyond its data (hash, offsets, type), not counted as waste.
    let frames = carried.div_ceil(chunk + 100).max(1);
    let waste = carried.saturating_sub(bytes.len() + frames * 100);
    Ok(vec![
        ("blob_resume_file_chunks".into(), json!(chunks)),
        ("blob_resume_waste_bytes".into(), json!(waste)),
    ])
}

/// `event_latency_under_blob_ms`: the live event p50 over three hops (township → province) while a
/// `mib`-MiB file attached to a major hazard moves up the same links.
pub async fn event_latency(mib: usize, edits: usize) -> anyhow::Result<Vec<(String, Value)>> {
    let c = Cluster::start(&live::CHAIN).await?;
    let id = live::major_hazard_everywhere(&c, "储罐区报警未联锁").await?;
    let prov = c.node("53").store.clone();
    let big = incompressible(mib << 20, 13);
    let sha = attach(&c, TOWN, &id, &big).await?;
    let mut lat = Vec::with_capacity(edits);
    let mut during = 0;
    for i in 0..edits {
        lat.push(live::timed_progress(&c, &id, format!("文件传输中的进展{i}")).await?);
        if prov.blob_meta(&sha).await?.is_none() {
            during += 1;
        }
        // The same pause between edits as `live_p50_ms` takes.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    wait_blob(&c, "53", &sha).await?;
    c.shutdown().await;
    let p50 = live::percentile(&mut lat, 0.5);
    Ok(vec![
        ("event_latency_under_blob_file_mib".into(), json!(mib)),
        (
            "event_latency_under_blob_ms".into(),
            json!((p50 * 10.0).round() / 10.0),
        ),
        (
            "event_latency_under_blob_edits_during_transfer".into(),
            json!(during),
        ),
    ])
}
