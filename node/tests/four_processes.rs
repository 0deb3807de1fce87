//! The real `safemesh` binary as four processes: province → city → county → township, set up with the
//! CLI exactly as an operator would, with a kill -9 and restart of the county in the middle; a file
//! attached at the township reaches the province (SQLite or PostgreSQL) byte for byte.

mod common;
use common::chain::{self, BIN, CHAIN, wait_json};

use std::process::Command;
use std::time::Duration;

use safemesh_store::testing::TestDb;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_replicate_and_survive_kill_9() {
    run_chain([None, None, None, None], 2).await;
}

/// Province and city on PostgreSQL, county and township on SQLite; the PostgreSQL-backed city is
/// killed with -9 while a burst of changes is on its way up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_province_and_city_survive_kill_9_of_the_city_mid_sync() {
    let Some(prov_db) = TestDb::postgres().await else {
        return;
    };
    let Some(city_db) = TestDb::postgres().await else {
        return;
    };
    run_chain([Some(prov_db.url()), Some(city_db.url()), None, None], 1).await;
    prov_db.cleanup().await;
    city_db.cleanup().await;
}

async fn run_chain(databases: [Option<String>; 4], victim: usize) {
    let dir = tempfile::tempdir().unwrap();
    // 1. The operator makes a CA and sets up four nodes with the CLI; 2. each runs as its own process.
    let mut procs = chain::set_up(dir.path(), &databases);
    let client = reqwest::Client::new();
    chain::start(dir.path(), &mut procs, &client).await;
    let (prov, town) = (0, 3);
    // 3. A major hazard registered at the township reaches the province, record and roll-up.
    let body = chain::major_hazard("磷矿边坡在线监测系统失效");
    let id = chain::register(&client, &procs[town], &body).await;
    let path = format!("/api/v1/hazards/{id}");
    wait_json(&client, &procs[prov], &path, "hazard at province", |v| {
        v["title"] == "磷矿边坡在线监测系统失效"
    })
    .await;
    wait_json(
        &client,
        &procs[prov],
        "/api/v1/rollup",
        "province roll-up",
        |v| v["hazards"]["major"] == 1,
    )
    .await;
    // 4. A burst of major hazards leaves the township; kill -9 a middle node while it travels.
    let mut burst = Vec::new();
    for i in 0..30 {
        let mut b = body.clone();
        b["title"] = json!(format!("批量登记的重大隐患 {i}"));
        burst.push(chain::register(&client, &procs[town], &b).await);
    }
    procs[victim].child.as_mut().unwrap().kill().unwrap();
    procs[victim].child.take().unwrap().wait().unwrap();
    // (The owner's first step on a major hazard: telling the 主要负责人 and 实际控制人, with the
    // signed 告知书 attached — uploaded first, while the victim is down.)
    let letter = b"%PDF-1.7\n% \xe5\x91\x8a\xe7\x9f\xa5\xe4\xb9\xa6\n%%EOF\n".to_vec();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(letter.clone()).file_name("告知书.pdf"),
    );
    let up: serde_json::Value = client
        .post(procs[town].url("/api/v1/files"))
        .bearer_auth(&procs[town].token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sha = up["sha256"].as_str().expect("uploaded").to_string();
    let ev = json!({"kind": "notify", "recipients": ["主要负责人", "实际控制人"], "method": "书面告知", "note": "已告知",
                    "attachments": [{"sha256": sha, "name": "告知书.pdf"}]});
    let r = client
        .post(procs[town].url(&format!("{path}/events")))
        .bearer_auth(&procs[town].token)
        .json(&ev)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_eq!(status, 201, "{}", r.text().await.unwrap_or_default());
    // 5. The victim restarts from its store; everything reaches the province.
    let log = dir.path().join(format!("{}.log", CHAIN[victim]));
    procs[victim].spawn(&log);
    wait_json(
        &client,
        &procs[prov],
        &path,
        "event at province after restart",
        |v| v["events"].as_array().is_some_and(|e| e.len() == 2),
    )
    .await;
    wait_json(
        &client,
        &procs[prov],
        &format!("{path}/files"),
        "the 告知书 held at the province",
        |v| v[0]["held"] == true,
    )
    .await;
    let got = client
        .get(procs[prov].url(&format!("/api/v1/files/{sha}")))
        .bearer_auth(&procs[prov].token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        got.as_ref(),
        letter.as_slice(),
        "the same bytes at the province"
    );
    wait_json(
        &client,
        &procs[prov],
        "/api/v1/hazards?grade=major",
        "the whole burst at the province",
        |v| v["items"].as_array().is_some_and(|i| i.len() == 31),
    )
    .await;
    wait_json(
        &client,
        &procs[prov],
        "/api/v1/rollup",
        "province roll-up counts the burst",
        |v| v["hazards"]["major"] == 31,
    )
    .await;
    // 6. The province supervises; it comes back down to the township.
    let sup = json!({"kind": "supervise", "number": "督〔2026〕1号", "requirements": "按期整改", "note": "省级挂牌督办"});
    let r = client
        .post(procs[prov].url(&format!("{path}/events")))
        .bearer_auth(&procs[prov].token)
        .json(&sup)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    wait_json(&client, &procs[town], &path, "supervise at township", |v| {
        v["supervising"] == "53"
    })
    .await;
    // 7. `safemesh status` at the township shows its parent link, caught up and complete, once the
    //    link has settled.
    let mut shown = String::new();
    let mut code = None;
    for _ in 0..200 {
        let out = Command::new(BIN)
            .args(["status", "--data-dir"])
            .arg(&procs[town].data_dir)
            .output()
            .expect("run safemesh status");
        // 0 in sync, 1 degraded (still catching up), never 2 (down): the node is running.
        code = out.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "{code:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        shown = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = shown
            .lines()
            .find(|l| l.starts_with(CHAIN[town - 1]))
            .unwrap_or("");
        if line.contains("已同步") && line.contains("100.0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let line = shown
        .lines()
        .find(|l| l.starts_with(CHAIN[town - 1]))
        .unwrap_or_else(|| panic!("no parent link in:\n{shown}"));
    assert!(
        line.contains("上级") && line.contains("已同步") && line.contains("100.0"),
        "{shown}"
    );
    assert!(
        shown.lines().nth(1).is_some_and(|h| h.contains("完成%")),
        "{shown}"
    );
    assert_eq!(code, Some(0), "its only link is in sync: {shown}");
    // 8. Nodes given a database URL kept nothing in a local SQLite file.
    for (i, p) in procs.iter().enumerate() {
        assert_eq!(
            p.data_dir.join("safemesh.db").exists(),
            databases[i].is_none(),
            "{}",
            CHAIN[i]
        );
    }
    // 9. SIGTERM: every process shuts down cleanly.
    for p in procs.iter_mut() {
        p.stop().await;
    }
}

#[test]
fn run_refuses_an_unreachable_database_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = chain::init_one(dir.path(), "53", "postgres://postgres@127.0.0.1:1/nowhere");
    let out = Command::new(BIN)
        .args(["run", "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("无法连接数据库") && err.contains("cannot reach the database"),
        "{err}"
    );
}
