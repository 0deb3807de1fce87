//! `safemesh token create|list|revoke` as an operator runs them: the secret is the last line of
//! `create`, `list` never shows it, and both work beside a running node on the same SQLite store.

mod common;
use common::free_port;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_safemesh");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run safemesh")
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "safemesh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Kills the node when the test ends, however it ends.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_commands_beside_a_running_node() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca");
    let d = tmp.path().join("node");
    let (ca_s, d_s) = (ca.to_str().unwrap(), d.to_str().unwrap());
    let http = free_port();
    ok(&["ca", "init", "--dir", ca_s]);
    ok(&[
        "init",
        "--data-dir",
        d_s,
        "--code",
        "530181006",
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
        "--http",
        &format!("127.0.0.1:{http}"),
        "--ca-dir",
        ca_s,
    ]);

    // Offline: create prints the secret as its last line; list shows the token but not the secret.
    let out = ok(&[
        "token",
        "create",
        "--data-dir",
        d_s,
        "--role",
        "editor",
        "--name",
        "张三",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains("张三") && lines[0].contains(" / "),
        "{out}"
    );
    let secret = lines[1].to_string();
    assert_eq!(secret.len(), 64, "{out}");
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()), "{out}");
    let list = ok(&["token", "list", "--data-dir", d_s]);
    assert!(list.starts_with("id"), "{list}");
    let zhang = list
        .lines()
        .find(|l| l.contains("张三"))
        .unwrap_or_else(|| panic!("张三 not listed: {list}"));
    assert!(
        zhang.contains("editor") && zhang.trim_end().ends_with('-'),
        "{zhang}"
    );
    let id = zhang.split_whitespace().next().unwrap().to_string();
    assert!(!list.contains(&secret), "list shows a secret");
    // A role that does not exist is refused by the argument parser.
    assert!(
        !run(&["token", "create", "--data-dir", d_s, "--role", "root"])
            .status
            .success()
    );

    // The node starts and registers its admin.token as the admin token named `admin`.
    let log = std::fs::File::create(tmp.path().join("node.log")).unwrap();
    let _node = Node(
        Command::new(BIN)
            .args(["run", "--data-dir", d_s])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn safemesh run"),
    );
    let admin = std::fs::read_to_string(d.join("admin.token"))
        .unwrap()
        .trim()
        .to_string();
    let base = format!("http://127.0.0.1:{http}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(Instant::now() < deadline, "node did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tokens: Value = client
        .get(format!("{base}/api/v1/tokens"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"admin") && names.contains(&"张三"),
        "{tokens}"
    );

    // The token made offline writes as 张三.
    let r = client
        .post(format!("{base}/api/v1/hazards"))
        .bearer_auth(&secret)
        .json(&json!({
            "title": "配电室堆放杂物", "sector": "消防", "grade": "general", "channel": "inspection", "inspection_mode": "日常检查",
            "enterprise": {"name": "某商场"}, "deadline": "2026-12-31"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let h: Value = r.json().await.unwrap();
    assert_eq!(h["events"][0]["user"], "张三", "{h}");

    // Revoked by the CLI while the node runs: refused within the documented delay (2 s; the bound
    // allows for a loaded machine).
    let out = ok(&["token", "revoke", "--data-dir", d_s, "--id", &id]);
    assert!(out.contains(&id), "{out}");
    let start = Instant::now();
    loop {
        let s = client
            .get(format!("{base}/api/v1/hazards"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if s == 401 {
            break;
        }
        assert_eq!(s, 200);
        assert!(
            start.elapsed() < Duration::from_secs(7),
            "still accepted after revoke"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let list = ok(&["token", "list", "--data-dir", d_s]);
    let zhang = list.lines().find(|l| l.contains(&id)).unwrap();
    assert!(
        !zhang.trim_end().ends_with('-'),
        "revocation time listed: {zhang}"
    );
    // An unknown id fails with a message.
    let out = run(&[
        "token",
        "revoke",
        "--data-dir",
        d_s,
        "--id",
        "t-000000000000",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("t-000000000000"));
}
