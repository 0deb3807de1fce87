//! The operator's commands as scripts use them (issue 18): the data directory from
//! `SAFEMESH_DATA_DIR`, `status` exit codes (2 down, 0 in sync) and `--json`, `rollup` as a table,
//! `backup` while the node runs, and logs as JSON lines when `SAFEMESH_LOG_FORMAT=json`.

mod common;
use common::free_port;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_safemesh");

/// `safemesh ARGS` with the data directory given only by the environment.
fn run_in(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("SAFEMESH_DATA_DIR", data_dir)
        .env_remove("SAFEMESH_LOG_FORMAT")
        .output()
        .expect("run safemesh")
}

/// A plain `GET` over HTTP/1.1: the whole response, status line first.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

/// Kills the node when the test ends, however it ends.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn status_rollup_backup_and_json_logs_as_scripts_use_them() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca");
    let d = tmp.path().join("node");
    let http = format!("127.0.0.1:{}", free_port());
    let ok = |out: Output| {
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(Command::new(BIN)
        .args(["ca", "init", "--dir", ca.to_str().unwrap()])
        .output()
        .unwrap());
    ok(run_in(
        &d,
        &[
            "init",
            "--code",
            "530181006",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--http",
            &http,
            "--ca-dir",
            ca.to_str().unwrap(),
        ],
    ));
    assert!(
        d.join("safemesh.toml").exists(),
        "init used SAFEMESH_DATA_DIR"
    );

    // Not running: status says down, with exit code 2, as text and as JSON.
    let out = run_in(&d, &["status"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("节点无响应"));
    let out = run_in(&d, &["status", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["health"], "down", "{v}");

    // Logs as JSON lines: the token command registers the data dir's token and logs it.
    let out = Command::new(BIN)
        .args(["token", "list"])
        .env("SAFEMESH_DATA_DIR", &d)
        .env("SAFEMESH_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(out.status.success());
    let logs = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["level"] == "INFO"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.contains("admin token"))),
        "{logs}"
    );

    // Running (no parent, no children): in sync, exit code 0.
    let _node = Node(
        Command::new(BIN)
            .arg("run")
            .env("SAFEMESH_DATA_DIR", &d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    let out = loop {
        let out = run_in(&d, &["status", "--json"]);
        if out.status.code() != Some(2) || start.elapsed() > Duration::from_secs(60) {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["health"], "in_sync");
    assert_eq!(v["code"], "530181006");
    let table = ok(run_in(&d, &["status"]));
    assert!(table.contains("全部链路已同步"), "{table}");
    // Alive and ready (the store answers with this build's format), without a token.
    for (path, body) in [("healthz", "ok"), ("readyz", "ready (format")] {
        let text = http_get(&http, path);
        assert!(text.starts_with("HTTP/1.1 200"), "{path}: {text}");
        assert!(
            text.split("\r\n\r\n")
                .nth(1)
                .is_some_and(|b| b.starts_with(body)),
            "{path}: {text}"
        );
    }

    // The roll-up as a table once the node has published its own summary.
    let start = Instant::now();
    let table = loop {
        let out = run_in(&d, &["rollup"]);
        if out.status.success() || start.elapsed() > Duration::from_secs(60) {
            break ok(out);
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(table.contains("（530181006）汇总"), "{table}");
    assert!(table.contains("隐患：共 0"), "{table}");
    let json = ok(run_in(&d, &["rollup", "--json"]));
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["scope"], "530181006");

    // A backup while it runs; the same file again is refused.
    let file = tmp.path().join("b.db");
    let out = ok(run_in(&d, &["backup", "--out", file.to_str().unwrap()]));
    assert!(out.contains("已备份"), "{out}");
    assert!(std::fs::metadata(&file).unwrap().len() > 0);
    let again = run_in(&d, &["backup", "--out", file.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("已存在"));
}
