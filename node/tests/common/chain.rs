//! A chain of real `safemesh` processes — province → city → county → township — set up with the CLI
//! exactly as an operator would (`ca init`, `init`, `run`), for the process tests.
#![allow(dead_code)] // each test uses its part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::free_port;

pub const BIN: &str = env!("CARGO_BIN_EXE_safemesh");
pub const CHAIN: [&str; 4] = ["53", "5301", "530181", "530181006"];

/// Runs `safemesh ARGS`, which must succeed.
pub fn cli(args: &[&str]) {
    let out = Command::new(BIN).args(args).output().expect("run safemesh");
    assert!(
        out.status.success(),
        "safemesh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One node: its data dir, HTTP port, admin token and process.
pub struct Proc {
    pub data_dir: PathBuf,
    pub http: u16,
    pub token: String,
    pub child: Option<Child>,
    /// Environment the process runs with, beyond the test's.
    pub env: Vec<(String, String)>,
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
    /// `safemesh run`, its stderr appended to `log`.
    pub fn spawn(&mut self, log: &Path) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(BIN)
            .args(["run", "--data-dir", self.data_dir.to_str().unwrap()])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn safemesh run");
        self.child = Some(child);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }

    /// SIGTERM, and waits (15 s at most) for a clean exit.
    pub async fn stop(&mut self) {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                assert!(st.success(), "{} exited with {st}", self.data_dir.display());
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not stop on SIGTERM",
                self.data_dir.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Makes a CA under `dir` and sets up the four nodes of [`CHAIN`] with the CLI, each child dialling
/// its parent; `databases[i]` is node i's database URL (SQLite in its data dir when `None`). Not
/// started yet.
pub fn set_up(dir: &Path, databases: &[Option<String>; 4]) -> Vec<Proc> {
    let ca = dir.join("ca");
    cli(&["ca", "init", "--dir", ca.to_str().unwrap()]);
    let mut procs: Vec<Proc> = Vec::new();
    let mut parent_link: Option<u16> = None;
    for (i, code) in CHAIN.into_iter().enumerate() {
        let data_dir = dir.join(code);
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
            env: Vec::new(),
        });
        parent_link = Some(link);
    }
    procs
}

/// Starts every node (logs in `dir/CODE.log`) and waits until each answers.
pub async fn start(dir: &Path, procs: &mut [Proc], client: &reqwest::Client) {
    for (i, p) in procs.iter_mut().enumerate() {
        p.spawn(&dir.join(format!("{}.log", CHAIN[i])));
    }
    for p in procs.iter() {
        wait_json(client, p, "/api/v1/node", "node up", |v| {
            v["code"].is_string()
        })
        .await;
    }
}

/// Polls `GET path` on `p` (30 s at most) until `check` holds.
pub async fn wait_json(
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

/// Sets up one node `code` under a new CA in `dir/n` with the CLI (`database_url`: its database),
/// not started. Returns its data dir.
pub fn init_one(dir: &Path, code: &str, database_url: &str) -> PathBuf {
    let ca = dir.join("ca");
    cli(&["ca", "init", "--dir", ca.to_str().unwrap()]);
    let data = dir.join("n");
    let (l, h) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    cli(&[
        "init",
        "--data-dir",
        data.to_str().unwrap(),
        "--code",
        code,
        "--listen",
        &l,
        "--http",
        &h,
        "--ca-dir",
        ca.to_str().unwrap(),
        "--database-url",
        database_url,
    ]);
    data
}

/// The body of a major hazard of a mine titled `title` (`POST /api/v1/hazards`).
pub fn major_hazard(title: &str) -> Value {
    serde_json::json!({
        "title": title, "sector": "非煤矿山", "grade": "major", "channel": "inspection",
        "inspection_mode": "专项执法",
        "basis": {"standard": "《金属非金属矿山重大事故隐患判定标准》", "clause": "露天矿山边坡在线监测"},
        "enterprise": {"name": "安宁某某磷化工有限公司", "credit_code": "91350200776049653A"},
        "deadline": "2026-12-31", "description": "边坡位移监测数据中断超过72小时"
    })
}

/// Registers `body` at `p` (201 expected); returns the new hazard's id.
pub async fn register(client: &reqwest::Client, p: &Proc, body: &Value) -> String {
    let r = client
        .post(p.url("/api/v1/hazards"))
        .bearer_auth(&p.token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}
