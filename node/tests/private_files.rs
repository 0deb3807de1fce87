//! The data dir's secrets (issue 19 #11): `safemesh.toml` (it may hold a database password) and
//! `admin.token` are written mode 0600, and a node whose token file others may read refuses to start,
//! saying how to fix it.

mod common;
use common::chain::{self, BIN};

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn secrets_are_private_and_a_readable_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = chain::init_one(
        dir.path(),
        "530181",
        "postgres://safemesh:secret@127.0.0.1:1/nowhere",
    );
    assert_eq!(mode(&data.join("safemesh.toml")), 0o600);
    assert_eq!(mode(&data.join("admin.token")), 0o600);
    assert_eq!(mode(&data.join("tls").join("node.key")), 0o600);

    std::fs::set_permissions(
        data.join("admin.token"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["run", "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("admin.token") && err.contains("chmod 600"),
        "{err}"
    );
    // Nothing else was the matter: with the mode fixed, the node gets as far as its database.
    std::fs::set_permissions(
        data.join("admin.token"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["run", "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("无法连接数据库"), "{err}");
}
