//! The record commands as scripts use them (issue 18): `safemesh hazard list|show|add|event` and
//! `safemesh directive list|show|respond`, the real binary against running nodes, the data directory
//! from `SAFEMESH_DATA_DIR` and a person's editor token from `SAFEMESH_TOKEN`. Tables for people, the
//! API's JSON with `--json`, the API's refusal (field path and reason) with a non-zero exit, and exit
//! code 2 when the node is down.

mod common;
use common::free_port;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
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

/// `safemesh ARGS` with the data directory and (if given) the token from the environment only.
fn run_in(data_dir: &Path, token: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("SAFEMESH_DATA_DIR", data_dir)
        .env_remove("SAFEMESH_TOKEN")
        .env_remove("SAFEMESH_LOG_FORMAT");
    if let Some(t) = token {
        c.env("SAFEMESH_TOKEN", t);
    }
    c.output().expect("run safemesh")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The output of a command that must succeed.
fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\n{}{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// A CA and a node's data directory set up with the CLI; returns the data dir and its HTTP address.
fn init_node(root: &Path, code: &str, parent_link: Option<u16>) -> (PathBuf, u16, u16) {
    let ca = root.join("ca");
    if !ca.exists() {
        ok(Command::new(BIN)
            .args(["ca", "init", "--dir", ca.to_str().unwrap()])
            .output()
            .unwrap());
    }
    let d = root.join(code);
    let (link, http) = (free_port(), free_port());
    let listen = format!("127.0.0.1:{link}");
    let http_addr = format!("127.0.0.1:{http}");
    let parent = parent_link.map(|p| format!("https://127.0.0.1:{p}"));
    let mut args = vec![
        "init",
        "--code",
        code,
        "--listen",
        &listen,
        "--http",
        &http_addr,
        "--ca-dir",
        ca.to_str().unwrap(),
    ];
    if let Some(p) = &parent {
        args.extend(["--parent", p.as_str()]);
    }
    ok(run_in(&d, None, &args));
    (d, link, http)
}

fn start(d: &Path, log: &Path) -> Node {
    let log = std::fs::File::create(log).unwrap();
    Node(
        Command::new(BIN)
            .arg("run")
            .env("SAFEMESH_DATA_DIR", d)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// Runs `args` until `done` says its output is what we wait for (60 s at most).
fn wait_for(
    d: &Path,
    token: Option<&str>,
    args: &[&str],
    done: impl Fn(&Output) -> bool,
) -> Output {
    let start = Instant::now();
    loop {
        let out = run_in(d, token, args);
        if done(&out) {
            return out;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out: safemesh {args:?}\n{}{}",
            stdout(&out),
            stderr(&out)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A token of `role` for `name`, made with the CLI (its secret is the last line).
fn token(d: &Path, role: &str, name: &str) -> String {
    let out = ok(run_in(
        d,
        None,
        &["token", "create", "--role", role, "--name", name],
    ));
    out.lines().last().unwrap().trim().to_string()
}

#[test]
fn hazards_are_registered_listed_shown_and_moved_along_from_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, _, _) = init_node(tmp.path(), "530181006", None);
    let zhang = token(&d, "editor", "张三");
    let node = start(&d, &tmp.path().join("node.log"));
    wait_for(&d, None, &["status"], |o| o.status.code() == Some(0));
    let tok = Some(zhang.as_str());

    // 1. Register with flags: stdout is the new id alone.
    let add = [
        "hazard",
        "add",
        "--title",
        "加油站卸油区静电接地报警仪损坏",
        "--sector",
        "危化品",
        "--grade",
        "一般",
        "--channel",
        "督导检查发现",
        "--inspection-mode",
        "双随机",
        "--enterprise",
        "安宁某某加油站",
        "--credit-code",
        "91350200776049653A",
        "--address",
        "卸油区",
        "--deadline",
        "2099-12-31",
    ];
    let out = run_in(&d, tok, &add);
    let id = ok(out).trim().to_string();
    assert!(id.starts_with("h-") && !id.contains('\n'), "{id}");

    // 2. The ledger as a table, and as the API's JSON.
    let table = ok(run_in(&d, tok, &["hazard", "list"]));
    let row = table
        .lines()
        .find(|l| l.contains("加油站卸油区静电接地报警仪损坏"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.starts_with("530181006-"), "{table}");
    for word in ["一般隐患", "未整改", "2099-12-31", "安宁某某加油站"] {
        assert!(row.contains(word), "{word}: {table}");
    }
    assert!(table.contains("共 1 条"), "{table}");
    let page: Value =
        serde_json::from_str(&ok(run_in(&d, tok, &["hazard", "list", "--json"]))).unwrap();
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["items"][0]["id"], id.as_str());
    let number = page["items"][0]["number"].as_str().unwrap().to_string();
    // The ledger's filters as flags.
    let none = ok(run_in(&d, tok, &["hazard", "list", "--status", "closed"]));
    assert!(none.contains("共 0 条"), "{none}");
    let overdue = ok(run_in(&d, tok, &["hazard", "list", "--overdue"]));
    assert!(overdue.contains("共 0 条"), "nothing is overdue: {overdue}");

    // 3. Shown by its number: the facts and the history, with the token's person.
    let shown = ok(run_in(&d, tok, &["hazard", "show", &number]));
    assert!(
        shown.starts_with(&format!("隐患 {number}  加油站卸油区静电接地报警仪损坏")),
        "{shown}"
    );
    let registered = shown
        .lines()
        .find(|l| l.contains("登记") && l.contains("张三"))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(registered.contains("禄脿街道（530181006）"), "{shown}");

    // 4. Events: a plan from a file, progress from flags; the status follows.
    let plan = tmp.path().join("plan.json");
    std::fs::write(
        &plan,
        json!({"kind": "plan", "plan": {"responsible_unit": "安宁某某加油站", "responsible_person": "李某",
               "measures": "更换报警仪", "funds_wan": 1.5, "deadline": "2099-12-01"}})
        .to_string(),
    )
    .unwrap();
    let said = ok(run_in(
        &d,
        tok,
        &["hazard", "event", &id, "--file", plan.to_str().unwrap()],
    ));
    assert!(said.contains("整改中"), "{said}");
    let said = ok(run_in(
        &d,
        tok,
        &[
            "hazard",
            "event",
            &number,
            "--kind",
            "progress",
            "--percent",
            "60",
            "--note",
            "已订购新报警仪",
        ],
    ));
    assert!(
        said.contains("报告整改进展") && said.contains("整改中"),
        "{said}"
    );
    for kind in ["rectified", "accept", "close"] {
        ok(run_in(&d, tok, &["hazard", "event", &id, "--kind", kind]));
    }
    let h: Value =
        serde_json::from_str(&ok(run_in(&d, tok, &["hazard", "show", &id, "--json"]))).unwrap();
    assert_eq!(h["status"], "closed", "{h}");
    let users: Vec<&str> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["user"].as_str().unwrap())
        .collect();
    assert_eq!(
        users, ["张三"; 6],
        "every change carries the token's person"
    );
    let shown = ok(run_in(&d, tok, &["hazard", "show", &id]));
    assert!(shown.contains("已销号"), "{shown}");
    assert!(
        shown.contains("完成 60%") && shown.contains("已订购新报警仪"),
        "{shown}"
    );
    let closed = ok(run_in(&d, tok, &["hazard", "list", "--status", "closed"]));
    assert!(
        closed.contains("已销号") && closed.contains("共 1 条"),
        "{closed}"
    );

    // 5. Refusals: the API's field path and reason, a non-zero exit, nothing stored.
    let mut bad = add.to_vec();
    let i = bad.iter().position(|a| *a == "91350200776049653A").unwrap();
    bad[i] = "91350200776049653B";
    let out = run_in(&d, tok, &bad);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(err.contains("400 Bad Request"), "{err}");
    assert!(
        err.contains("字段 / field: enterprise.credit_code"),
        "{err}"
    );
    assert!(err.contains("校验位错误，应为 A"), "{err}");
    bad.push("--json");
    let out = run_in(&d, tok, &bad);
    assert_eq!(out.status.code(), Some(1));
    let body: Value = serde_json::from_slice(&out.stdout).expect("the API's error body");
    assert_eq!(body["error"]["field"], "enterprise.credit_code", "{body}");
    let out = run_in(
        &d,
        tok,
        &[
            "hazard",
            "event",
            &id,
            "--kind",
            "progress",
            "--percent",
            "70",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("409") && stderr(&out).contains("字段 / field: kind"),
        "{}",
        stderr(&out)
    );
    let out = run_in(&d, tok, &["hazard", "show", "530181006-1999-0001"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("没有编号为"), "{}", stderr(&out));
    let page: Value =
        serde_json::from_str(&ok(run_in(&d, tok, &["hazard", "list", "--json"]))).unwrap();
    assert_eq!(page["total"], 1, "the refused registrations stored nothing");
    // A viewer may read but not write: 403 with the role named.
    let viewer = token(&d, "viewer", "赵六");
    ok(run_in(&d, Some(&viewer), &["hazard", "list"]));
    let out = run_in(&d, Some(&viewer), &add);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("规则 / rule: role_viewer"),
        "{}",
        stderr(&out)
    );

    // 6. The node down: a clear message and exit code 2.
    drop(node);
    let out = run_in(&d, tok, &["hazard", "list"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("无法连接节点"), "{}", stderr(&out));
}

#[test]
fn a_township_answers_its_countys_directive_from_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let (county, county_link, county_http) = init_node(tmp.path(), "530181", None);
    let (town, _, _) = init_node(tmp.path(), "530181006", Some(county_link));
    let wang = token(&town, "editor", "王五");
    let _county_node = start(&county, &tmp.path().join("county.log"));
    let _town_node = start(&town, &tmp.path().join("town.log"));
    // The township's link to its county is up.
    wait_for(&town, None, &["status"], |o| o.status.code() == Some(0));

    // 1. The county issues a directive to the township (through its API).
    let county_token = std::fs::read_to_string(county.join("admin.token")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let d: Value = rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{county_http}/api/v1/directives"))
            .bearer_auth(county_token.trim())
            .json(
                &json!({"title": "开展城镇燃气安全隐患排查", "doc_number": "安安办〔2026〕9号",
                          "targets": ["530181006"], "deadline": "2099-06-30"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        r.json().await.unwrap()
    });
    let id = d["id"].as_str().unwrap().to_string();
    let tok = Some(wang.as_str());

    // 2. It reaches the township: the list and the directive, unsigned.
    let table = ok(wait_for(&town, tok, &["directive", "list"], |o| {
        stdout(o).contains(&id)
    }));
    let row = table.lines().find(|l| l.starts_with(&id)).unwrap();
    for word in [
        "安安办〔2026〕9号",
        "开展城镇燃气安全隐患排查",
        "安宁市",
        "2099-06-30",
    ] {
        assert!(row.contains(word), "{word}: {table}");
    }
    let shown = ok(run_in(&town, tok, &["directive", "show", &id]));
    assert!(
        shown.starts_with("任务 开展城镇燃气安全隐患排查"),
        "{shown}"
    );
    assert!(shown.contains("安宁市（530181）"), "{shown}");
    let unit = shown
        .lines()
        .find(|l| l.starts_with("禄脿街道（530181006）"))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(unit.contains("未签收"), "{shown}");
    assert!(shown.contains("尚无"), "no responses yet: {shown}");

    // 3. Signed and reported on, as 王五.
    let said = ok(run_in(
        &town,
        tok,
        &["directive", "respond", &id, "--kind", "签收"],
    ));
    assert!(said.contains("已签收"), "{said}");
    let said = ok(run_in(
        &town,
        tok,
        &[
            "directive",
            "respond",
            &id,
            "--kind",
            "progress",
            "--percent",
            "40",
            "--note",
            "已排查 12 家",
        ],
    ));
    assert!(said.contains("进度 40%"), "{said}");
    // Progress without a percent: the API's refusal, named.
    let out = run_in(
        &town,
        tok,
        &["directive", "respond", &id, "--kind", "progress"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("字段 / field: percent"),
        "{}",
        stderr(&out)
    );
    let shown = ok(run_in(&town, tok, &["directive", "show", &id]));
    assert!(shown.contains("已签收，进度 40%"), "{shown}");
    let progress = shown
        .lines()
        .find(|l| l.contains("进展 40%"))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(
        progress.contains("王五") && progress.ends_with("已排查 12 家"),
        "{shown}"
    );

    // 4. The response went through the township's writer and its link: the county sees it.
    let at_county = wait_for(&county, None, &["directive", "show", &id, "--json"], |o| {
        serde_json::from_slice::<Value>(&o.stdout).is_ok_and(|d| d["units"][0]["percent"] == 40)
    });
    let d: Value = serde_json::from_slice(&at_county.stdout).unwrap();
    assert_eq!(d["units"][0]["received"], true, "{d}");
    // The county is not a target: 403, the rule named.
    let out = run_in(
        &county,
        None,
        &["directive", "respond", &id, "--kind", "complete"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("own_response_only"),
        "{}",
        stderr(&out)
    );

    // 5. Completed; `--json` gives the directive.
    let d: Value = serde_json::from_str(&ok(run_in(
        &town,
        tok,
        &["directive", "respond", &id, "--kind", "complete", "--json"],
    )))
    .unwrap();
    assert_eq!(d["units"][0]["done"], true, "{d}");
    let page: Value =
        serde_json::from_str(&ok(run_in(&town, tok, &["directive", "list", "--json"]))).unwrap();
    assert_eq!(page["total"], 1);
    assert_eq!(
        page["items"][0]["totals"]["done"], 0,
        "待审核 is not 办结: {page}"
    );
    assert_eq!(page["items"][0]["totals"]["awaiting_review"], 1, "{page}");
}
