//! In-process clusters over real gRPC + mutual TLS on loopback: what a user sees replicate.

use safemesh_testkit::{Cluster, hazard_json, notify_json, plan_json};
use serde_json::{Value, json};

const CHAIN: [&str; 4] = ["53", "5301", "530181", "530181006"];

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn township_hazard_reaches_province_rollup() -> anyhow::Result<()> {
    let c = Cluster::start(&CHAIN).await?;
    // 1. The township registers a general hazard.
    let (s, h) = c
        .post(
            "530181006",
            "/api/v1/hazards",
            &hazard_json("报警装置未联锁", "general", "2026-12-31"),
        )
        .await?;
    assert_eq!(s, 201, "{h}");
    // 2. The general hazard goes to the county (parent) only.
    c.wait_for(
        "530181",
        &format!("/api/v1/hazards/{}", id(&h)),
        "hazard at county",
        |v| v["title"] == "报警装置未联锁",
    )
    .await?;
    // 3. Its count reaches the province roll-up through the summaries, three hops up.
    let r = c
        .wait_for(
            "53",
            "/api/v1/rollup",
            "province rollup counts the hazard",
            |v| v["hazards"]["total"] == 1,
        )
        .await?;
    assert_eq!(r["hazards"]["by_sector"]["危险化学品"], 1);
    assert_eq!(r["scope"], "53");
    let kunming = r["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ch| ch["code"] == "5301")
        .unwrap()
        .clone();
    assert_eq!(kunming["hazards"]["total"], 1);
    assert_eq!(kunming["reported"], true);
    // 4. Drill-down: the province holds the township's own summary.
    let (s, t) = c.get("53", "/api/v1/rollup?scope=530181006").await?;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["own_hazards"]["total"], 1);
    // 5. The general hazard's record itself is not at the city or the province.
    assert_eq!(
        c.get("5301", &format!("/api/v1/hazards/{}", id(&h)))
            .await?
            .0,
        404
    );
    assert_eq!(
        c.get("53", &format!("/api/v1/hazards/{}", id(&h))).await?.0,
        404
    );
    // 6. Traces are not exported here (no `[telemetry]`, no OpenTelemetry layer): no node noted a
    //    trace context for the links to carry.
    for code in CHAIN {
        assert!(c.node(code).store.traces().is_empty(), "{code}");
    }
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn major_hazard_reaches_province_and_province_supervise_reaches_township()
-> anyhow::Result<()> {
    let c = Cluster::start(&CHAIN).await?;
    // 1. The township registers a major hazard and reports progress.
    let (s, h) = c
        .post(
            "530181006",
            "/api/v1/hazards",
            &hazard_json("液氨罐区重大隐患", "major", "2026-12-31"),
        )
        .await?;
    assert_eq!(s, 201, "{h}");
    let hid = id(&h);
    // (A major hazard moves only once its 主要负责人 and 实际控制人 were told.)
    let (s, _) = c
        .post(
            "530181006",
            &format!("/api/v1/hazards/{hid}/events"),
            &notify_json(),
        )
        .await?;
    assert_eq!(s, 201);
    let (s, _) = c
        .post(
            "530181006",
            &format!("/api/v1/hazards/{hid}/events"),
            &json!({"kind": "progress", "note": "已停用罐区", "percent": 30}),
        )
        .await?;
    assert_eq!(s, 201);
    // 2. The full record reaches the province, with every event.
    let path = format!("/api/v1/hazards/{hid}");
    c.wait_for("53", &path, "full record at province", |v| {
        v["events"].as_array().is_some_and(|e| e.len() == 3)
    })
    .await?;
    // 3. The province lists it for supervision (挂牌督办) and escalates with a 函告.
    let (s, v) = c
        .post(
            "53",
            &format!("{path}/events"),
            &json!({"kind": "supervise", "number": "督〔2026〕1号", "requirements": "按期整改", "note": "省级挂牌督办"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    let (s, v) = c
        .post(
            "53",
            &format!("{path}/events"),
            &json!({"kind": "escalate", "method": "函告", "reply_by": "2099-01-31"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    // 4. Both reach the township; the supervising level is the province.
    let t = c
        .wait_for("530181006", &path, "supervise at township", |v| {
            v["events"].as_array().is_some_and(|e| e.len() == 5)
        })
        .await?;
    assert_eq!(t["supervising"], "53");
    assert_eq!(t["escalations"], json!(["函告"]));
    assert_eq!(t["escalated"][0]["reply_by"], "2099-01-31");
    assert_eq!(t["events"][3]["kind"], "supervise");
    assert_eq!(t["events"][3]["by"], "53");
    // 5. Every level holds identical heads.
    c.wait_converged(&hid, &CHAIN).await?;
    // 6. Now acceptance belongs to the province: the township may not accept its own listed hazard.
    c.post(
        "530181006",
        &format!("{path}/events"),
        &json!({"kind": "rectified"}),
    )
    .await?;
    let (s, e) = c
        .post(
            "530181006",
            &format!("{path}/events"),
            &json!({"kind": "accept"}),
        )
        .await?;
    assert_eq!(s, 403, "{e}");
    assert_eq!(e["error"]["rule"], "supervising_level_accepts");
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directive_reaches_target_and_receipt_and_progress_reach_issuer() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181", "530181006"]).await?;
    // 1. The county issues a directive to the township.
    let (s, d) = c
        .post(
            "530181",
            "/api/v1/directives",
            &json!({"title": "开展危险化学品安全风险集中治理", "body": "按治本攻坚三年行动要求推进", "targets": ["530181006"], "deadline": "2026-12-31"}),
        )
        .await?;
    assert_eq!(s, 201, "{d}");
    let did = id(&d);
    // 2. It reaches the township, which signs for it (签收) and reports 60 %.
    c.wait_for(
        "530181006",
        &format!("/api/v1/directives/{did}"),
        "directive at township",
        |v| v["title"].is_string(),
    )
    .await?;
    let path = format!("/api/v1/directives/{did}/responses");
    assert_eq!(
        c.post("530181006", &path, &json!({"action": "receive"}))
            .await?
            .0,
        201
    );
    let (s, v) = c
        .post(
            "530181006",
            &path,
            &json!({"action": "progress", "percent": 60, "note": "已完成排查"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    // 3. The county sees both.
    let v = c
        .wait_for(
            "530181",
            &format!("/api/v1/directives/{did}"),
            "response at county",
            |v| v["responses"]["530181006"]["percent"] == 60,
        )
        .await?;
    let r = &v["responses"]["530181006"];
    assert!(r["received_at"].is_string());
    assert_eq!(r["updates"].as_array().unwrap().len(), 2);
    assert_eq!(r["note"], "已完成排查");
    // 4. The issuer may not answer for its target.
    let (s, e) = c
        .post("530181", &path, &json!({"action": "complete"}))
        .await?;
    assert_eq!(s, 403, "{e}");
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_restarted_from_its_store_keeps_everything_and_catches_up() -> anyhow::Result<()> {
    let mut c = Cluster::start(&["530181", "530181006"]).await?;
    // 1. The township registers a major hazard; the county has it.
    let (_, h) = c
        .post(
            "530181006",
            "/api/v1/hazards",
            &hazard_json("尾矿库排洪设施堵塞", "major", "2026-12-31"),
        )
        .await?;
    let hid = id(&h);
    c.wait_converged(&hid, &["530181", "530181006"]).await?;
    // 2. The county stops; meanwhile the township writes more.
    c.stop("530181").await;
    let path = format!("/api/v1/hazards/{hid}/events");
    assert_eq!(c.post("530181006", &path, &notify_json()).await?.0, 201);
    assert_eq!(
        c.post(
            "530181006",
            &path,
            &json!({"kind": "progress", "note": "清淤中", "percent": 50})
        )
        .await?
        .0,
        201
    );
    let (_, h2) = c
        .post(
            "530181006",
            "/api/v1/hazards",
            &hazard_json("自建房违规加层", "general", "2026-12-20"),
        )
        .await?;
    // 3. The county restarts from its store: it still has the first record and catches up on the rest.
    c.restart("530181").await?;
    let (s, v) = c.get("530181", &format!("/api/v1/hazards/{hid}")).await?;
    assert_eq!(s, 200, "kept across restart: {v}");
    c.wait_converged(&hid, &["530181", "530181006"]).await?;
    c.wait_converged(&id(&h2), &["530181", "530181006"]).await?;
    let v = c.get("530181", &format!("/api/v1/hazards/{hid}")).await?.1;
    assert_eq!(v["status"], "rectifying");
    // 4. The township restarts too and keeps its records.
    c.stop("530181006").await;
    c.restart("530181006").await?;
    assert_eq!(
        c.get("530181006", "/api/v1/hazards").await?.1["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    c.shutdown().await;
    Ok(())
}

/// Tests run in parallel processes that all pick free ports: a port a stopped node held may be
/// taken by the time it restarts. The testkit then starts it on fresh ports and points its
/// children's links there, so such a race cannot fail an unrelated test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_whose_ports_were_taken_restarts_elsewhere_and_its_child_follows() -> anyhow::Result<()>
{
    let mut c = Cluster::start(&["530181", "530181006"]).await?;
    let old = c.config("530181").clone();
    c.stop("530181").await;
    // Someone else now holds both of the county's ports.
    let _link = std::net::TcpListener::bind(old.listen)?;
    let _http = std::net::TcpListener::bind(old.http)?;
    c.restart("530181").await?;
    let new = c.config("530181");
    assert_ne!(new.listen, old.listen);
    assert_ne!(new.http, old.http);
    // The township still reaches its county: a record written now arrives there.
    let (s, h) = c
        .post(
            "530181006",
            "/api/v1/hazards",
            &hazard_json("尾矿库排洪设施堵塞", "major", "2026-12-31"),
        )
        .await?;
    assert_eq!(s, 201, "{h}");
    c.wait_converged(&id(&h), &["530181", "530181006"]).await?;
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_cut_off_while_both_sides_write_converges_after_reconnect() -> anyhow::Result<()> {
    let c = Cluster::start(&CHAIN).await?;
    // 1. A major hazard at the township reaches everyone.
    let (_, h) = c
        .post(
            "530181006",
            "/api/v1/hazards",
            &hazard_json("磷矿边坡监测失效", "major", "2026-12-31"),
        )
        .await?;
    let hid = id(&h);
    c.wait_converged(&hid, &CHAIN).await?;
    // 2. The township's link is cut; both sides keep writing.
    c.cut("530181006");
    c.wait_for(
        "530181",
        "/api/v1/sync/status",
        "county sees the child down",
        |v| {
            v["links"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["peer"] == "530181006" && l["state"] == "disconnected")
        },
    )
    .await?;
    let path = format!("/api/v1/hazards/{hid}/events");
    assert_eq!(c.post("530181006", &path, &notify_json()).await?.0, 201);
    assert_eq!(
        c.post("530181006", &path, &plan_json("2026-12-20"))
            .await?
            .0,
        201
    );
    assert_eq!(
        c.post(
            "530181006",
            &path,
            &json!({"kind": "progress", "percent": 40})
        )
        .await?
        .0,
        201
    );
    assert_eq!(
        c.post(
            "53",
            &path,
            &json!({"kind": "supervise", "number": "督〔2026〕1号", "requirements": "按期整改", "note": "省级挂牌"})
        )
        .await?
        .0,
        201
    );
    assert_eq!(
        c.post(
            "530181",
            &path,
            &json!({"kind": "comment", "note": "县安委办跟踪"})
        )
        .await?
        .0,
        201
    );
    let (_, offline) = c
        .post(
            "530181006",
            "/api/v1/hazards",
            &hazard_json("断网期间登记", "major", "2026-12-31"),
        )
        .await?;
    // 3. The township works on while cut off.
    assert_eq!(
        c.get("530181006", &format!("/api/v1/hazards/{hid}"))
            .await?
            .1["events"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // 4. The link heals: identical heads everywhere, all six events in one order.
    c.heal("530181006");
    let heads = c.wait_converged(&hid, &CHAIN).await?;
    assert!(!heads.is_empty());
    let mut orders = Vec::new();
    for code in CHAIN {
        let v = c.get(code, &format!("/api/v1/hazards/{hid}")).await?.1;
        assert_eq!(v["events"].as_array().unwrap().len(), 6, "{code}: {v}");
        assert_eq!(v["supervising"], "53");
        orders.push(v["events"].clone());
    }
    assert!(
        orders.windows(2).all(|w| w[0] == w[1]),
        "one history everywhere"
    );
    c.wait_converged(&id(&offline), &CHAIN).await?;
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_status_reports_links_in_sync() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181", "530181006"]).await?;
    c.post(
        "530181006",
        "/api/v1/hazards",
        &hazard_json("状态测试", "general", "2026-12-31"),
    )
    .await?;
    let v = c
        .wait_for(
            "530181006",
            "/api/v1/sync/status",
            "parent link in sync",
            |v| {
                v["links"].as_array().unwrap().iter().any(|l| {
                    l["role"] == "parent" && l["state"] == "in_sync" && l["pending_out"] == 0
                })
            },
        )
        .await?;
    let l = &v["links"][0];
    assert_eq!(l["peer"], "530181");
    assert!(l["bytes_out"].as_u64().unwrap() > 0);
    assert!(l["last_sync_at"].is_string());
    c.wait_for("530181", "/api/v1/sync/status", "child link in sync", |v| {
        v["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["peer"] == "530181006" && l["role"] == "child" && l["state"] == "in_sync")
    })
    .await?;
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_restored_from_backup_is_repaired_by_its_peer() -> anyhow::Result<()> {
    let mut c = Cluster::start(&["530181", "530181006"]).await?;
    // 1. The township registers hazard A; the county has it.
    let (_, a) = c
        .post(
            "530181006",
            "/api/v1/hazards",
            &hazard_json("备份前登记", "general", "2026-12-31"),
        )
        .await?;
    c.wait_converged(&id(&a), &["530181", "530181006"]).await?;
    // 2. A backup of the township's store is taken while it is stopped.
    let data = c.node("530181006").data_dir.clone();
    c.stop("530181006").await;
    let backup = tempfile::tempdir()?;
    for f in std::fs::read_dir(&data)? {
        let f = f?;
        if f.file_name().to_string_lossy().starts_with("safemesh.db") {
            std::fs::copy(f.path(), backup.path().join(f.file_name()))?;
        }
    }
    c.restart("530181006").await?;
    // 3. Work goes on: the township registers B, the county comments on A.
    let (_, b) = c
        .post(
            "530181006",
            "/api/v1/hazards",
            &hazard_json("备份后登记", "general", "2026-12-31"),
        )
        .await?;
    c.wait_converged(&id(&b), &["530181", "530181006"]).await?;
    let (s, _) = c
        .post(
            "530181",
            &format!("/api/v1/hazards/{}/events", id(&a)),
            &json!({"kind": "comment", "note": "县级复核意见"}),
        )
        .await?;
    assert_eq!(s, 201);
    c.wait_converged(&id(&a), &["530181", "530181006"]).await?;
    // 4. The township's disk is lost; the backup is restored and given a new install id.
    c.stop("530181006").await;
    for f in std::fs::read_dir(&data)? {
        let f = f?;
        if f.file_name().to_string_lossy().starts_with("safemesh.db") {
            std::fs::remove_file(f.path())?;
        }
    }
    for f in std::fs::read_dir(backup.path())? {
        let f = f?;
        std::fs::copy(f.path(), data.join(f.file_name()))?;
    }
    let store = safemesh_store::Store::open_sqlite(&data.join("safemesh.db")).await?;
    store.new_install().await?;
    store.close().await;
    c.restart("530181006").await?;
    // 5. The county repairs it: B and the comment on A come back.
    c.wait_converged(&id(&b), &["530181", "530181006"]).await?;
    c.wait_converged(&id(&a), &["530181", "530181006"]).await?;
    let v = c
        .get("530181006", &format!("/api/v1/hazards/{}", id(&a)))
        .await?
        .1;
    assert_eq!(v["events"].as_array().unwrap().len(), 2, "{v}");
    c.shutdown().await;
    Ok(())
}

/// Issue 19 #5: a node whose clock ran ahead (or was set back) keeps publishing its roll-up: each
/// version follows the last one published, whatever the clock says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_set_back_does_not_stop_an_office_publishing() -> anyhow::Result<()> {
    let db = safemesh_store::testing::TestDb::sqlite();
    let store = db.open().await?;
    let me = safemesh_model::AdminCode::parse("530181006")?;
    // The summary published while the clock was ten days ahead.
    let ahead = (time::OffsetDateTime::now_utc() + time::Duration::days(10)).unix_timestamp_nanos()
        as i64
        / 1_000;
    let mut w = store.writer().await?;
    w.put_summary(&me, ahead, "2026-12", "2026-12-17T00:00:00Z", "{}")
        .await?;
    w.commit().await?;
    // The clock is right again; the roll-up changed (its body is no longer `{}`): it is published.
    assert!(safemesh_node::rollup::publish(&store, &me, None, 3).await?);
    let s = store.summary(me.as_str()).await?.expect("summary");
    assert_eq!(s.version, ahead + 1);
    assert_ne!(s.body, "{}");
    Ok(())
}
