//! A node restored from a backup is repaired by digests (docs/PROTOCOL.md §8): a township and its
//! county share `n` hazards; the township's store is backed up; `k` more hazards are written and synced;
//! the township's disk is lost, the backup restored and given a new install id (`safemesh
//! after-restore`). Measured: bytes both ways on the link and time from the reconnect until both sides
//! hold everything and are in sync, next to the bytes the first full send of the same `n` documents
//! took (what a restore cost before digests: everything resent, both ways).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use safemesh_store::Store;
use safemesh_testkit::Cluster;
use serde_json::{Map, Value, json};

use crate::{COUNTY, TOWN, code, doc_count, fill_range, in_sync, link_bytes};

/// The database files of a node's data dir (SQLite main file, WAL, shared memory).
fn db_files(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for f in std::fs::read_dir(dir)? {
        let f = f?;
        if f.file_name().to_string_lossy().starts_with("safemesh.db") {
            out.push(f.path());
        }
    }
    Ok(out)
}

pub(crate) async fn wait_count(store: &Store, n: usize, what: &str) -> anyhow::Result<()> {
    let start = Instant::now();
    while doc_count(store).await? < n as i64 {
        if start.elapsed() > Duration::from_secs(3600) {
            bail!("{what}: not there within an hour");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn town_link_bytes(c: &Cluster) -> anyhow::Result<u64> {
    Ok(link_bytes(
        &c.get(TOWN, "/api/v1/sync/status").await?.1,
        COUNTY,
    ))
}

pub(crate) async fn run(n: usize, k: usize) -> anyhow::Result<Map<String, Value>> {
    let mut c = Cluster::start(&[COUNTY, TOWN]).await?;
    let town = code(TOWN);
    // 1. The first full send of n hazards: what resending everything costs (one way).
    c.cut(TOWN);
    fill_range(&c.node(TOWN).store, &town, 0, n).await?;
    let b0 = town_link_bytes(&c).await?;
    c.heal(TOWN);
    wait_count(&c.node(COUNTY).store, n, "bootstrap").await?;
    tokio::time::sleep(Duration::from_millis(600)).await; // the roll-up settles
    in_sync(&c, TOWN, COUNTY).await?;
    in_sync(&c, COUNTY, TOWN).await?;
    let full = town_link_bytes(&c).await? - b0;

    // 2. A backup of the township while it is stopped; then k more hazards, synced.
    let data = c.data_dir(TOWN);
    let backup = tempfile::tempdir()?;
    c.stop(TOWN).await;
    for f in db_files(&data)? {
        std::fs::copy(&f, backup.path().join(f.file_name().context("name")?))?;
    }
    c.restart(TOWN).await?;
    fill_range(&c.node(TOWN).store, &town, n, n + k).await?;
    wait_count(&c.node(COUNTY).store, n + k, "after the backup").await?;
    tokio::time::sleep(Duration::from_millis(600)).await;
    in_sync(&c, TOWN, COUNTY).await?;

    // 3. The township's disk is lost: the backup comes back with a new install id.
    c.stop(TOWN).await;
    for f in db_files(&data)? {
        std::fs::remove_file(f)?;
    }
    for f in db_files(backup.path())? {
        std::fs::copy(&f, data.join(f.file_name().context("name")?))?;
    }
    let store = Store::open_sqlite(&data.join("safemesh.db")).await?;
    store.new_install().await?;
    store.close().await;
    c.cut(TOWN);
    c.restart(TOWN).await?;
    let before = town_link_bytes(&c).await?;
    let t0 = Instant::now();
    c.heal(TOWN);
    wait_count(&c.node(TOWN).store, n + k, "repair").await?;
    in_sync(&c, TOWN, COUNTY).await?;
    in_sync(&c, COUNTY, TOWN).await?;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    let bytes = town_link_bytes(&c).await? - before;
    c.shutdown().await;

    let mut out = Map::new();
    out.insert("restore_repair_docs".into(), json!(n + k));
    out.insert("restore_repair_differ".into(), json!(k));
    out.insert("restore_repair_bytes".into(), json!(bytes));
    out.insert("restore_repair_ms".into(), json!(ms.round()));
    out.insert("restore_full_send_bytes".into(), json!(full));
    out.insert(
        "restore_full_send_to_repair_ratio".into(),
        json!((full as f64 / bytes.max(1) as f64 * 10.0).round() / 10.0),
    );
    Ok(out)
}
