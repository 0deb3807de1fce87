//! Deltas that cannot apply (docs/PROTOCOL.md §5): a township and its county share `n` realistic
//! hazards; cut off, the township adds two comments to each and records, wrongly, that the county
//! holds the first (as after a rollback of the county's disk that kept its install id). On reconnect
//! each delta lacks its dependency at the county, which holds the hazard, so each is reconciled with
//! Automerge's sync protocol from a fresh sync state. Then the same again, from the kept states.
//!
//! Measured: bytes both ways on the link and time from the reconnect until both sides hold the same
//! heads for every hazard and are in sync, next to the bytes the same hazards take whole (their
//! `save()`), which a snapshot fallback would send on top of the deltas that failed.

use std::time::{Duration, Instant};

use anyhow::bail;
use automerge::transaction::CommitOptions;
use safemesh_doc::{hazard, heads_to_hex};
use safemesh_model::AdminCode;
use safemesh_model::hazard::{EventKind, HazardEvent};
use safemesh_store::Store;
use safemesh_testkit::Cluster;
use serde_json::{Map, Value, json};

use crate::{COUNTY, TOWN, code, fill_range, in_sync, link_bytes};

/// Adds two comments to each of the first `n` hazards at the township; records that the county
/// holds the first. Returns the bytes the hazards take whole afterwards.
async fn lose_one_each(store: &Store, n: usize, round: usize) -> anyhow::Result<u64> {
    let town = code(TOWN);
    let county = code(COUNTY);
    let mut whole = 0u64;
    let mut i = 0;
    while i < n {
        let mut w = store.writer().await?;
        for _ in 0..200.min(n - i) {
            let id = format!("h-bench-{i:07}");
            let Some(mut doc) = w.load(&id).await? else {
                bail!("the township lacks {id}");
            };
            let old = doc.get_heads();
            doc.set_actor(safemesh_doc::actor::actor_id(&town, b"gap-bench"));
            let mut believed = Vec::new();
            for k in 0..2 {
                let e = HazardEvent {
                    user: "李四".into(),
                    note: Some(format!("第{round}轮批注{k}：整改资料已补充，请复核")),
                    ..HazardEvent::new(EventKind::Comment, town.clone(), "2026-11-20T09:00:00Z")
                };
                hazard::append_event(&mut doc, &e)?;
                doc.commit_with(CommitOptions::default().with_message(format!("李四@{town}")));
                if k == 0 {
                    believed = heads_to_hex(&doc.get_heads());
                }
            }
            w.put_doc(&id, &mut doc, &old).await?;
            w.set_peer_heads(&county, &id, &believed).await?;
            whole += doc.save().len() as u64;
            i += 1;
        }
        w.commit().await?;
    }
    Ok(whole)
}

/// Waits until the county holds every one of the first `n` hazards at the township's heads.
async fn wait_same(c: &Cluster, n: usize) -> anyhow::Result<()> {
    let (town, county) = (&c.node(TOWN).store, &c.node(COUNTY).store);
    let start = Instant::now();
    let mut i = 0;
    while i < n {
        let id = format!("h-bench-{i:07}");
        let a = town.doc_row(&id).await?.map(|r| r.heads);
        let b = county.doc_row(&id).await?.map(|r| r.heads);
        if a.is_some() && a == b {
            i += 1;
            continue;
        }
        if start.elapsed() > Duration::from_secs(3600) {
            bail!("{id}: not reconciled within an hour");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Bytes both ways on the county's link to the township (the county stays up throughout).
async fn county_link_bytes(c: &Cluster) -> anyhow::Result<u64> {
    Ok(link_bytes(
        &c.get(COUNTY, "/api/v1/sync/status").await?.1,
        TOWN,
    ))
}

/// One round: cut, lose one change per hazard, restart the township; bytes and milliseconds from
/// its start (it dials at once) until everything is reconciled and both sides are in sync.
async fn round(c: &mut Cluster, n: usize, k: usize) -> anyhow::Result<(u64, f64, u64)> {
    c.cut(TOWN);
    c.wait_for(COUNTY, "/api/v1/sync/status", "link down", |v| {
        v["links"].as_array().is_some_and(|l| {
            l.iter().any(|l| {
                l["peer"] == TOWN && l["state"] != "in_sync" && l["state"] != "catching_up"
            })
        })
    })
    .await?;
    let whole = lose_one_each(&c.node(TOWN).store, n, k).await?;
    c.stop(TOWN).await;
    c.heal(TOWN);
    let before = county_link_bytes(c).await?;
    let t0 = Instant::now();
    c.restart(TOWN).await?;
    wait_same(c, n).await?;
    in_sync(c, TOWN, COUNTY).await?;
    in_sync(c, COUNTY, TOWN).await?;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    Ok((county_link_bytes(c).await? - before, ms, whole))
}

pub(crate) async fn run(n: usize) -> anyhow::Result<Map<String, Value>> {
    let mut c = Cluster::start(&[COUNTY, TOWN]).await?;
    let town: AdminCode = code(TOWN);
    c.cut(TOWN);
    fill_range(&c.node(TOWN).store, &town, 0, n).await?;
    c.heal(TOWN);
    crate::restore::wait_count(&c.node(COUNTY).store, n, "the first send").await?;
    tokio::time::sleep(Duration::from_millis(600)).await; // the roll-up settles
    in_sync(&c, TOWN, COUNTY).await?;
    in_sync(&c, COUNTY, TOWN).await?;

    let (bytes, ms, whole) = round(&mut c, n, 1).await?;
    let (kept_bytes, kept_ms, _) = round(&mut c, n, 2).await?;
    c.shutdown().await;

    let ratio = |a: u64, b: u64| (a as f64 / b.max(1) as f64 * 10.0).round() / 10.0;
    let mut out = Map::new();
    out.insert("gap_docs".into(), json!(n));
    out.insert("gap_sync_bytes".into(), json!(bytes));
    out.insert("gap_sync_ms".into(), json!(ms.round()));
    out.insert("gap_kept_state_bytes".into(), json!(kept_bytes));
    out.insert("gap_kept_state_ms".into(), json!(kept_ms.round()));
    out.insert("gap_whole_docs_bytes".into(), json!(whole));
    out.insert("gap_whole_to_sync_ratio".into(), json!(ratio(whole, bytes)));
    Ok(out)
}
