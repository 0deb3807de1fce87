//! Keys stay on the node (issue 19 #12): `init --csr` makes the key (0600) and a request there,
//! `ca sign` signs the request on the CA host and writes no key, `cert install` puts the
//! certificate beside the key — and the node links with its parent. A request the CA must not sign
//! is refused, saying what is wrong.

mod common;
use common::chain::{self, BIN, Proc, cli, wait_json};
use common::free_port;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn init(data: &Path, code: &str, parent: Option<u16>, key: &[&str]) -> (u16, Proc) {
    let (link, http) = (free_port(), free_port());
    let (l, h) = (format!("127.0.0.1:{link}"), format!("127.0.0.1:{http}"));
    let parent = parent.map(|p| format!("https://127.0.0.1:{p}"));
    let mut args = vec![
        "init",
        "--data-dir",
        data.to_str().unwrap(),
        "--code",
        code,
        "--listen",
        &l,
        "--http",
        &h,
    ];
    args.extend(key);
    if let Some(p) = &parent {
        args.extend(["--parent", p.as_str()]);
    }
    cli(&args);
    let token = std::fs::read_to_string(data.join("admin.token"))
        .unwrap()
        .trim()
        .to_string();
    let proc = Proc {
        data_dir: data.to_path_buf(),
        http,
        token,
        child: None,
        env: Vec::new(),
    };
    (link, proc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_its_own_key_signed_by_the_ca_links_with_its_parent() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca");
    cli(&["ca", "init", "--dir", ca.to_str().unwrap()]);
    let ca_s = ca.to_str().unwrap();
    let (city_link, mut city) = init(&dir.path().join("5301"), "5301", None, &["--ca-dir", ca_s]);
    let county_dir = dir.path().join("530181");
    let (_, mut county) = init(&county_dir, "530181", Some(city_link), &["--csr"]);
    let tls = county_dir.join("tls");
    assert_eq!(files_in(&tls), ["node.csr", "node.key"]);
    let mode = std::fs::metadata(tls.join("node.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    // The request travels to the CA host; the signed certificate comes back, and no key with it.
    let signed = dir.path().join("signed");
    std::fs::create_dir_all(&signed).unwrap();
    std::fs::copy(tls.join("node.csr"), signed.join("node.csr")).unwrap();
    cli(&[
        "ca",
        "sign",
        "--dir",
        ca_s,
        "--csr",
        signed.join("node.csr").to_str().unwrap(),
    ]);
    assert_eq!(files_in(&signed), ["ca.pem", "node.csr", "node.pem"]);
    assert!(
        files_in(&ca)
            .iter()
            .all(|f| f == "ca.key" || !f.ends_with(".key")),
        "the CA's dir holds only its own key: {:?}",
        files_in(&ca)
    );
    let key_before = std::fs::read(tls.join("node.key")).unwrap();
    cli(&[
        "cert",
        "install",
        "--data-dir",
        county_dir.to_str().unwrap(),
        "--from",
        signed.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(tls.join("node.key")).unwrap(), key_before);

    // The two link: a hazard registered at the county reaches the city.
    let client = reqwest::Client::new();
    city.spawn(&dir.path().join("5301.log"));
    county.spawn(&dir.path().join("530181.log"));
    for p in [&city, &county] {
        wait_json(&client, p, "/api/v1/node", "node up", |v| {
            v["code"].is_string()
        })
        .await;
    }
    let id = chain::register(&client, &county, &chain::major_hazard("边坡监测中断")).await;
    wait_json(
        &client,
        &city,
        &format!("/api/v1/hazards/{id}"),
        "hazard at the city",
        |v| v["title"] == "边坡监测中断",
    )
    .await;
    city.stop().await;
    county.stop().await;
}

fn install_fails(data: &Path, from: &Path) -> String {
    let out = Command::new(BIN)
        .args(["cert", "install", "--data-dir", data.to_str().unwrap()])
        .args(["--from", from.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_tampered_request_is_refused_and_a_certificate_for_another_key_is_not_installed() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca");
    cli(&["ca", "init", "--dir", ca.to_str().unwrap()]);
    let ca_s = ca.to_str().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    init(&a, "530181", None, &["--csr"]);
    init(&b, "530181", None, &["--csr"]);

    // A request whose text was altered (one base64 character of its body) is refused.
    let csr = std::fs::read_to_string(a.join("tls/node.csr")).unwrap();
    let mut lines: Vec<String> = csr.lines().map(str::to_string).collect();
    let mid = &mut lines[3];
    let c = mid.remove(10);
    mid.insert(10, if c == 'A' { 'B' } else { 'A' });
    let bad = dir.path().join("bad.csr");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let out = Command::new(BIN)
        .args(["ca", "sign", "--dir", ca_s, "--csr", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("证书申请无效 / invalid certificate request"),
        "{err}"
    );
    assert!(!dir.path().join("node.pem").exists(), "nothing was signed");

    // b's certificate is not installed beside a's key.
    let out_b = dir.path().join("out-b");
    cli(&[
        "ca",
        "sign",
        "--dir",
        ca_s,
        "--csr",
        b.join("tls/node.csr").to_str().unwrap(),
        "--out",
        out_b.to_str().unwrap(),
    ]);
    let err = install_fails(&a, &out_b);
    assert!(
        err.contains("私钥与证书不匹配") && err.contains("does not match"),
        "{err}"
    );
    assert!(!a.join("tls/node.pem").exists());
}
