//! What operators read in `GET /api/v1/sync/status` while a link catches up and once it is in sync.

use safemesh_testkit::{Cluster, hazard_json};
use serde_json::Value;

const COUNTY: &str = "530181";
const TOWN: &str = "530181006";

fn find<'a>(v: &'a Value, peer: &str) -> Option<&'a Value> {
    v["links"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["peer"] == peer))
}

fn link<'a>(v: &'a Value, peer: &str) -> &'a Value {
    find(v, peer).unwrap_or_else(|| panic!("no link to {peer} in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_progress_counts_documents_both_ways_and_ends_complete() -> anyhow::Result<()> {
    // 1. The township registers 30 hazards while cut off from the county.
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    c.cut(TOWN);
    for i in 0..30 {
        let (s, h) = c
            .post(
                TOWN,
                "/api/v1/hazards",
                &hazard_json(&format!("断网期间登记的隐患{i}"), "general", "2027-06-30"),
            )
            .await?;
        assert_eq!(s, 201, "{h}");
    }
    // 2. While cut, the township shows the 30 documents (and their bytes) still to send.
    let st = c
        .wait_for(TOWN, "/api/v1/sync/status", "link down", |v| {
            find(v, COUNTY).is_some_and(|l| l["state"] != "in_sync")
        })
        .await?;
    let up = link(&st, COUNTY);
    assert!(up["to_send"]["docs"].as_i64().unwrap() >= 30, "{up}");
    assert!(up["to_send"]["bytes"].as_i64().unwrap() > 30 * 100, "{up}");
    assert!(up["completion_pct"].as_f64().unwrap() < 100.0, "{up}");
    // 3. The link heals: both sides end in sync, complete, nothing left either way.
    c.heal(TOWN);
    let st = c
        .wait_for(COUNTY, "/api/v1/sync/status", "county in sync", |v| {
            find(v, TOWN).is_some_and(|l| {
                l["state"] == "in_sync" && l["received_docs"].as_u64().unwrap_or(0) >= 30
            })
        })
        .await?;
    let down = link(&st, TOWN);
    assert_eq!(down["to_receive"]["docs"], 0, "{down}");
    assert_eq!(down["completion_pct"], 100.0, "{down}");
    let st = c
        .wait_for(TOWN, "/api/v1/sync/status", "township in sync", |v| {
            find(v, COUNTY).is_some_and(|l| l["state"] == "in_sync" && l["to_send"]["docs"] == 0)
        })
        .await?;
    let up = link(&st, COUNTY);
    assert!(up["sent_docs"].as_u64().unwrap() >= 30, "{up}");
    assert_eq!(up["completion_pct"], 100.0, "{up}");
    c.shutdown().await;
    Ok(())
}
