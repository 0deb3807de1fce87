//! The real `safemesh` binary as four processes: province → city → county → township, set up with the
//! CLI exactly as an operator would, with a kill -9 and restart of the county in the middle.

mod common;
use common::free_port;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use safemesh_store::testing::TestDb;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_safemesh");
const CHAIN: [&str; 4] = ["53", "5301", "530181", "530181006"];

fn cli(args: &[&str]) {
    let out = Command::new(BIN).args(args).output().expect("run safemesh");
    assert!(
        out.status.success(),
        "safemesh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Proc {
    data_dir: PathBuf,
    http: u16,
    token: String,
    child: Option<Child>,
}

/// A test that fails part-way must not leave its nodes running.
impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Proc {
    fn spawn(&mut self, log: &Path) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(BIN)
            .args(["run", "--data-dir", self.data_dir.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn safemesh run");
        self.child = Some(child);
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }
}

async fn wait_json(
    client: &reqwest::Client,
    p: &Proc,
    path: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(p.url(path)).bearer_auth(&p.token).send().await
            && r.status().is_success()
            && let Ok(v) = r.json::<Value>().await
            && check(&v)
        {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what} at {path}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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
    let ca = dir.path().join("ca");
    // 1. The operator makes a CA and sets up four nodes with the CLI.
    cli(&["ca", "init", "--dir", ca.to_str().unwrap()]);
    let mut procs: Vec<Proc> = Vec::new();
    let mut parent_link: Option<u16> = None;
    for (i, code) in CHAIN.into_iter().enumerate() {
        let data_dir = dir.path().join(code);
        let (link, http) = (free_port(), free_port());
        let listen = format!("127.0.0.1:{link}");
        let http_addr = format!("127.0.0.1:{http}");
        let mut args = vec![
            "init",
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--code",
            code,
            "--listen",
            &listen,
            "--http",
            &http_addr,
            "--ca-dir",
            ca.to_str().unwrap(),
        ];
        let parent = parent_link.map(|p| format!("https://127.0.0.1:{p}"));
        if let Some(p) = &parent {
            args.extend(["--parent", p.as_str()]);
        }
        if let Some(url) = &databases[i] {
            args.extend(["--database-url", url.as_str()]);
        }
        cli(&args);
        let token = std::fs::read_to_string(data_dir.join("admin.token"))
            .unwrap()
            .trim()
            .to_string();
        procs.push(Proc {
            data_dir,
            http,
            token,
            child: None,
        });
        parent_link = Some(link);
    }
    // 2. Each runs as its own process.
    for (i, p) in procs.iter_mut().enumerate() {
        p.spawn(&dir.path().join(format!("{}.log", CHAIN[i])));
    }
    let client = reqwest::Client::new();
    for p in &procs {
        wait_json(&client, p, "/api/v1/node", "node up", |v| {
            v["code"].is_string()
        })
        .await;
    }
    let (prov, town) = (0, 3);
    // 3. A major hazard registered at the township reaches the province, record and roll-up.
    let body = json!({
        "title": "磷矿边坡在线监测系统失效", "sector": "非煤矿山", "grade": "major", "channel": "inspection",
        "inspection_mode": "专项执法",
        "basis": {"standard": "《金属非金属矿山重大事故隐患判定标准》", "clause": "露天矿山边坡在线监测"},
        "enterprise": {"name": "安宁某某磷化工有限公司", "credit_code": "91350200776049653A"},
        "deadline": "2026-12-31", "description": "边坡位移监测数据中断超过72小时"
    });
    let r = client
        .post(procs[town].url("/api/v1/hazards"))
        .bearer_auth(&procs[town].token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
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
        let r = client
            .post(procs[town].url("/api/v1/hazards"))
            .bearer_auth(&procs[town].token)
            .json(&b)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        burst.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    procs[victim].child.as_mut().unwrap().kill().unwrap();
    procs[victim].child.take().unwrap().wait().unwrap();
    // (The owner's first step on a major hazard: telling the 主要负责人 and 实际控制人.)
    let ev = json!({"kind": "notify", "recipients": ["主要负责人", "实际控制人"], "method": "书面告知", "note": "已告知"});
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
    let sup = json!({"kind": "supervise", "note": "省级挂牌督办"});
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
        let mut child = p.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                assert!(st.success(), "{} exited with {st}", p.data_dir.display());
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not stop on SIGTERM",
                p.data_dir.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[test]
fn run_refuses_an_unreachable_database_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca");
    cli(&["ca", "init", "--dir", ca.to_str().unwrap()]);
    let data = dir.path().join("n");
    let (l, h) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    cli(&[
        "init",
        "--data-dir",
        data.to_str().unwrap(),
        "--code",
        "53",
        "--listen",
        &l,
        "--http",
        &h,
        "--ca-dir",
        ca.to_str().unwrap(),
        "--database-url",
        "postgres://postgres@127.0.0.1:1/nowhere",
    ]);
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
