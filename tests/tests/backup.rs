//! 备份与恢复 — `safemesh backup` while the node runs, then the disk is lost: the backup is put back,
//! `safemesh after-restore` runs, and the node converges with its parent and loses nothing its parent
//! had acknowledged (docs/OPERATIONS.md, 备份与恢复).

use safemesh_node::cli::{Backup, after_restore, backup};
use safemesh_testkit::{Cluster, hazard_json};
use serde_json::{Value, json};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_backup_restored_after_a_lost_disk_converges_and_loses_nothing()
-> anyhow::Result<()> {
    let mut c = Cluster::start(&["530181", "530181006"]).await?;
    let (_, a) = c
        .post(
            "530181006",
            "/api/v1/hazards",
            &hazard_json("备份前登记", "general", "2026-12-31"),
        )
        .await?;
    c.wait_converged(&id(&a), &["530181", "530181006"]).await?;

    // 1. The backup is taken while the township runs (and is written to again right after).
    let data = c.node("530181006").data_dir.clone();
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("township.db");
    match backup(&data, &out).await? {
        Backup::Written(bytes) => assert!(bytes > 0),
        other => panic!("a SQLite node is backed up, not {other:?}"),
    }
    // A second backup to the same file is refused, and the first is left as it was.
    let before = std::fs::read(&out)?;
    let e = backup(&data, &out)
        .await
        .expect_err("an existing file is not overwritten");
    assert!(e.to_string().contains("已存在"), "{e}");
    assert_eq!(std::fs::read(&out)?, before);

    // 2. Work goes on after the backup, acknowledged by the county: B, and a comment on A.
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

    // 3. The township's disk is lost: the backup is its database again, then after-restore.
    c.stop("530181006").await;
    for f in std::fs::read_dir(&data)? {
        let f = f?;
        if f.file_name().to_string_lossy().starts_with("safemesh.db") {
            std::fs::remove_file(f.path())?;
        }
    }
    std::fs::copy(&out, data.join("safemesh.db"))?;
    let install = after_restore(&data).await?;
    assert!(!install.is_empty());
    c.restart("530181006").await?;

    // 4. The county repairs it: B and the comment on A are back at the township.
    c.wait_converged(&id(&b), &["530181", "530181006"]).await?;
    c.wait_converged(&id(&a), &["530181", "530181006"]).await?;
    let v = c
        .get("530181006", &format!("/api/v1/hazards/{}", id(&a)))
        .await?
        .1;
    assert_eq!(v["events"].as_array().map(Vec::len), Some(2), "{v}");
    let (s, _) = c
        .get("530181006", &format!("/api/v1/hazards/{}", id(&b)))
        .await?;
    assert_eq!(s, 200);
    c.shutdown().await;
    Ok(())
}
