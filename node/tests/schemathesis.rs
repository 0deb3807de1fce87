//! The HTTP API under schemathesis (issue 19): a township node — the real binary on SQLite, set up
//! with the CLI as an operator would, its parent absent — and schemathesis, reading the OpenAPI
//! document the node serves, sending generated requests (valid and invalid) to every operation with
//! the node's admin token. It fails on any server error (5xx), a status code or content type the
//! document does not list for the operation, a response body that does not match its schema, or a
//! request that breaks the schema yet was accepted.
//!
//! Before it runs, the node holds one record of each kind (a hazard, a cascade notice, an accident, an
//! enterprise, a token), made through the API, and schemathesis is given their ids
//! (`schemathesis.toml`), so the operations on one record reach the record's code, not only its 404.
//!
//! Needs `st` (`pip install schemathesis`; `.ci/run` installs it). Without it the test fails when
//! `CI` is set and is skipped, loudly, otherwise. `SAFEMESH_SCHEMATHESIS_EXAMPLES` sets the examples
//! per operation (default 10); `SAFEMESH_SCHEMATHESIS_SEED` replays a run.

mod common;
use common::free_port;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_safemesh");

/// Kills the node when the test ends, however it ends.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn safemesh(args: &[&str]) {
    let out = Command::new(BIN).args(args).output().expect("run safemesh");
    assert!(
        out.status.success(),
        "safemesh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether schemathesis's `st` runs here.
fn have_st() -> bool {
    Command::new("st")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn wait_listening(port: u16, log: &Path) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "node did not listen: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `POST path body` with the token, which must answer 201; the id (or credit code) it made.
fn make(http: u16, token: &str, path: &str, body: Value, key: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "-X",
            "POST",
            "-H",
            &format!("Authorization: Bearer {token}"),
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body.to_string(),
            &format!("http://127.0.0.1:{http}{path}"),
        ])
        .output()
        .expect("run curl");
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{path}: {}", String::from_utf8_lossy(&out.stdout)));
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{path}: no {key} in {v}"))
        .to_string()
}

/// One record of each kind at the node; their ids as schemathesis's config.
fn seed(http: u16, token: &str) -> String {
    let enterprise = json!({"name": "安宁某某化工有限公司", "credit_code": "91350200776049653A"});
    let hazard = make(
        http,
        token,
        "/api/v1/hazards",
        json!({"title": "液氨储罐区可燃气体报警装置未联锁", "sector": "危险化学品", "grade": "general",
               "channel": "inspection", "inspection_mode": "四不两直", "enterprise": enterprise,
               "basis": {"standard": "《危险化学品重大危险源监督管理暂行规定》", "clause": "第十三条"},
               "deadline": "2030-12-31"}),
        "id",
    );
    let directive = make(
        http,
        token,
        "/api/v1/directives",
        json!({"title": "关于做好岁末年初安全防范工作的通知", "cascade": true, "deadline": "2030-12-31"}),
        "id",
    );
    let accident = make(
        http,
        token,
        "/api/v1/accidents",
        json!({"title": "有限空间中毒", "occurred_at": "2026-01-01", "sector": "工贸", "deaths": 0,
               "serious_injuries": 1, "direct_loss_wan": 3.0, "enterprise": enterprise}),
        "id",
    );
    let credit_code = make(
        http,
        token,
        "/api/v1/enterprises",
        json!({"credit_code": "91350200776049653A", "name": "安宁某某化工有限公司", "sector": "危化品"}),
        "credit_code",
    );
    let token_id = make(
        http,
        token,
        "/api/v1/tokens",
        json!({"name": "张三", "role": "viewer"}),
        "id",
    );
    // TOML literal strings: the regex's backslashes stay as they are.
    let op = |path: &str, name: &str, value: &str| {
        format!(
            "[[operations]]\ninclude-path-regex = '^{path}'\nparameters = {{ 'path.{name}' = '{value}' }}\n\n"
        )
    };
    [
        op(r"/api/v1/hazards/\{id\}", "id", &hazard),
        op(r"/api/v1/directives/\{id\}", "id", &directive),
        op(r"/api/v1/accidents/\{id\}", "id", &accident),
        op(
            r"/api/v1/enterprises/\{credit_code\}",
            "credit_code",
            &credit_code,
        ),
        op(r"/api/v1/tokens/\{id\}", "id", &token_id),
    ]
    .concat()
}

#[test]
fn the_http_api_holds_to_its_openapi_document_under_schemathesis() {
    if !have_st() {
        assert!(
            std::env::var_os("CI").is_none(),
            "schemathesis (st) is not installed: pip install schemathesis"
        );
        eprintln!("SKIPPED: schemathesis (st) is not installed — pip install schemathesis");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ca = root.join("ca");
    safemesh(&["ca", "init", "--dir", ca.to_str().unwrap()]);
    let d = root.join("530181006");
    let (link, http) = (free_port(), free_port());
    let (listen, http_addr) = (format!("127.0.0.1:{link}"), format!("127.0.0.1:{http}"));
    // A parent that is not there: the township keeps redialling, as when its link is down.
    let parent = format!("https://127.0.0.1:{}", free_port());
    safemesh(&[
        "init",
        "--data-dir",
        d.to_str().unwrap(),
        "--code",
        "530181006",
        "--listen",
        &listen,
        "--http",
        &http_addr,
        "--parent",
        &parent,
        "--ca-dir",
        ca.to_str().unwrap(),
    ]);
    let token = std::fs::read_to_string(d.join("admin.token"))
        .unwrap()
        .trim()
        .to_string();
    let log = root.join("node.log");
    let _node = Node(
        Command::new(BIN)
            .args(["run", "--data-dir", d.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_listening(http, &log);
    std::fs::write(root.join("schemathesis.toml"), seed(http, &token)).unwrap();

    let examples =
        std::env::var("SAFEMESH_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "10".to_string());
    let seed = std::env::var("SAFEMESH_SCHEMATHESIS_SEED").unwrap_or_else(|_| "19".to_string());
    let report = root.join("schemathesis");
    let out = Command::new("st")
        .current_dir(root)
        .args([
            "run",
            &format!("http://127.0.0.1:{http}/api/v1/openapi.json"),
            "--url",
            &format!("http://127.0.0.1:{http}"),
            "--header",
            &format!("Authorization: Bearer {token}"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,negative_data_rejection",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            &examples,
            "--seed",
            &seed,
            // One worker: with two, CPython 3.11's `ast.parse` (which hypothesis calls to describe
            // its filters) can fail across threads ("AST constructor recursion depth mismatch"), a
            // runtime error of the tool that is not a finding about the API.
            "--workers",
            "1",
            "--report-dir",
            report.to_str().unwrap(),
            "--no-color",
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .expect("run st");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found failures (seed {seed}):\n{text}\nnode log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    eprintln!("{text}");
}
