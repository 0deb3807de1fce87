//! 佐证材料 through the HTTP API and over real gRPC + mutual TLS (issue 16): a file uploaded, attached
//! to an event, listed with who attached it, downloaded under its name, its thumbnail; a file of
//! another type or over the limit refused with its field and reason, nothing kept; a township's photo
//! of a major hazard at the province byte for byte — on SQLite, and on a PostgreSQL province; a
//! target's 报送材料 at the directive's issuer and not at a sibling it was not sent to; an accident's
//! 快报 and its 补报's file at every level above.

use std::collections::BTreeMap;

use safemesh_node::config::EvidenceConfig;
use safemesh_store::testing::TestDb;
use safemesh_testkit::{Cluster, NodeSetup, hazard_json};
use serde_json::{Value, json};

const PROVINCE: &str = "53";
const CITY: &str = "5301";
const COUNTY: &str = "530181";
const TOWN: &str = "530181006";
const TOWN_B: &str = "530181007";

/// A 320 × 200 PNG.
fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(320, 200, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Uploads `bytes` as `name` to `code`'s `POST /api/v1/files`; the status and body.
async fn upload(
    c: &Cluster,
    code: &str,
    name: &str,
    bytes: Vec<u8>,
) -> anyhow::Result<(u16, Value)> {
    let n = c.node(code);
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
    );
    let r = c
        .client()
        .post(format!("{}/api/v1/files", n.http_url()))
        .bearer_auth(&n.token)
        .multipart(form)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

async fn register(c: &Cluster, code: &str, grade: &str) -> anyhow::Result<String> {
    let (s, h) = c
        .post(
            code,
            "/api/v1/hazards",
            &hazard_json("储罐区报警未联锁", grade, "2027-12-31"),
        )
        .await?;
    anyhow::ensure!(s == 201, "{h}");
    Ok(h["id"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_uploaded_attached_listed_and_downloaded_under_its_name() -> anyhow::Result<()> {
    let c = Cluster::start(&[TOWN]).await?;
    let id = register(&c, TOWN, "general").await?;
    // 1. Upload: the type comes from the content.
    let photo = png();
    let (s, up) = upload(&c, TOWN, "整改后 照片.png", photo.clone()).await?;
    assert_eq!(s, 201, "{up}");
    assert_eq!(up["media_type"], "image/png");
    assert_eq!(up["size"], photo.len());
    let sha = up["sha256"].as_str().unwrap().to_string();
    // 2. Attached to a progress event.
    let (s, h) = c
        .post(
            TOWN,
            &format!("/api/v1/hazards/{id}/events"),
            &json!({"kind": "progress", "percent": 40,
                    "attachments": [{"sha256": sha, "name": "整改后 照片.png"}]}),
        )
        .await?;
    assert_eq!(s, 201, "{h}");
    // 3. Listed with the event that attached it: who, when, which office.
    let (s, files) = c.get(TOWN, &format!("/api/v1/hazards/{id}/files")).await?;
    assert_eq!(s, 200);
    let f = &files[0];
    assert_eq!(
        (f["sha256"].as_str(), f["event"].as_str(), f["by"].as_str()),
        (Some(sha.as_str()), Some("progress"), Some(TOWN))
    );
    assert!(f["held"].as_bool().unwrap() && f["is_image"].as_bool().unwrap());
    assert!(!f["user"].as_str().unwrap().is_empty() && !f["at"].as_str().unwrap().is_empty());
    // 4. Downloaded: its bytes, its type, its UTF-8 name.
    let n = c.node(TOWN);
    let r = c
        .client()
        .get(format!("{}/api/v1/files/{sha}", n.http_url()))
        .bearer_auth(&n.token)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    let disposition = r.headers()["content-disposition"].to_str()?.to_string();
    assert!(
        disposition
            .contains("filename*=UTF-8''%E6%95%B4%E6%94%B9%E5%90%8E%20%E7%85%A7%E7%89%87.png"),
        "{disposition}"
    );
    assert_eq!(r.bytes().await?.to_vec(), photo);
    // 5. Its thumbnail: a JPEG no larger than 240 px.
    let r = c
        .client()
        .get(format!("{}/api/v1/files/{sha}/thumbnail", n.http_url()))
        .bearer_auth(&n.token)
        .send()
        .await?;
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let thumb = image::load_from_memory(&r.bytes().await?)?;
    assert_eq!((thumb.width(), thumb.height()), (240, 150));
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_another_type_or_over_the_limit_is_refused_with_its_field_and_nothing_kept()
-> anyhow::Result<()> {
    let mut c = Cluster::empty()?;
    c.add(
        TOWN,
        NodeSetup {
            evidence: Some(EvidenceConfig {
                max_file_mib: 1,
                ..EvidenceConfig::default()
            }),
            ..NodeSetup::default()
        },
    )
    .await?;
    let id = register(&c, TOWN, "general").await?;
    // 1. An executable named as a photo: refused by content.
    let (s, e) = upload(&c, TOWN, "照片.jpg", b"MZ\x90\x00\x03\x00".to_vec()).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (415, Some("file")),
        "{e}"
    );
    assert!(e["error"]["message"].as_str().unwrap().contains("JPEG"));
    // 2. A JPEG one byte over the limit of 1 MiB.
    let mut big = vec![0xFF, 0xD8, 0xFF, 0xE0];
    big.resize((1 << 20) + 1, 7);
    let (s, e) = upload(&c, TOWN, "大.jpg", big).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (413, Some("file")),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("1 MiB"),
        "{e}"
    );
    // 3. An event naming a file never uploaded: 400 on the field, the event not written.
    let (s, e) = c
        .post(
            TOWN,
            &format!("/api/v1/hazards/{id}/events"),
            &json!({"kind": "progress", "attachments": [{"sha256": "ab".repeat(32), "name": "x.jpg"}]}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("attachments[0].sha256")),
        "{e}"
    );
    let (_, h) = c.get(TOWN, &format!("/api/v1/hazards/{id}")).await?;
    assert_eq!(h["events"].as_array().unwrap().len(), 1);
    // 4. Nothing of the refused files was kept.
    assert_eq!(c.node(TOWN).store.blob_bytes().await?, 0);
    c.shutdown().await;
    Ok(())
}

/// A township's photo of a major hazard at every ancestor, byte for byte, over gRPC + mTLS;
/// the province on `province_db` if given.
async fn photo_reaches_the_province(province_db: Option<String>) -> anyhow::Result<()> {
    let mut dbs = BTreeMap::new();
    if let Some(url) = province_db {
        dbs.insert(PROVINCE.to_string(), url);
    }
    let chain = [PROVINCE, CITY, COUNTY, TOWN];
    let c = Cluster::start_with(&chain, &dbs).await?;
    let id = register(&c, TOWN, "major").await?;
    let photo = png();
    let (_, up) = upload(&c, TOWN, "整改前.png", photo.clone()).await?;
    let sha = up["sha256"].as_str().unwrap().to_string();
    let (s, h) = c
        .post(
            TOWN,
            &format!("/api/v1/hazards/{id}/events"),
            &json!({"kind": "notify", "recipients": ["主要负责人", "实际控制人"], "method": "书面告知",
                    "attachments": [{"sha256": sha, "name": "整改前.png"}]}),
        )
        .await?;
    anyhow::ensure!(s == 201, "{h}");
    c.wait_for(
        PROVINCE,
        &format!("/api/v1/hazards/{id}/files"),
        "the photo held at the province",
        |v| v[0]["held"] == true,
    )
    .await?;
    for code in [CITY, COUNTY, PROVINCE] {
        let got = c.node(code).store.read_blob(&sha).await?.expect("held");
        assert_eq!(safemesh_store::sha256_hex(&got), sha, "{code}");
        assert_eq!(got, photo, "{code}");
    }
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_township_photo_of_a_major_hazard_reaches_the_province_over_grpc() -> anyhow::Result<()> {
    photo_reaches_the_province(None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_township_photo_reaches_a_postgresql_province() -> anyhow::Result<()> {
    let Some(db) = TestDb::postgres().await else {
        return Ok(());
    };
    photo_reaches_the_province(Some(db.url())).await?;
    db.cleanup().await;
    Ok(())
}

/// A minimal PDF (what `sniff` tells by its signature), distinct per `what`.
fn pdf(what: &str) -> Vec<u8> {
    format!("%PDF-1.7\n% {what}\n%%EOF\n").into_bytes()
}

/// Waits until `code` holds the blob `sha` whole, then checks its bytes are `bytes`.
async fn held_at(c: &Cluster, code: &str, sha: &str, bytes: &[u8]) -> anyhow::Result<()> {
    for _ in 0..600 {
        if let Some(got) = c.node(code).store.read_blob(sha).await? {
            assert_eq!(safemesh_store::sha256_hex(&got), sha, "{code}");
            assert_eq!(got, bytes, "{code}");
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    anyhow::bail!("{code} never held {sha}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_report_reaches_the_issuer_and_an_accident_report_every_level_above()
-> anyhow::Result<()> {
    let c = Cluster::start(&[PROVINCE, CITY, COUNTY, TOWN, TOWN_B]).await?;
    // 1. The county issues a directive to one township; it answers with its plan attached.
    let (s, d) = c
        .post(
            COUNTY,
            "/api/v1/directives",
            &json!({"title": "危化品专项整治", "targets": [TOWN], "deadline": "2027-12-31"}),
        )
        .await?;
    anyhow::ensure!(s == 201, "{d}");
    let did = d["id"].as_str().unwrap().to_string();
    c.wait_for(
        TOWN,
        &format!("/api/v1/directives/{did}"),
        "directive",
        |v| v["title"].is_string(),
    )
    .await?;
    let plan = pdf("整治方案");
    let (_, up) = upload(&c, TOWN, "整治方案.pdf", plan.clone()).await?;
    let plan_sha = up["sha256"].as_str().unwrap().to_string();
    // A file the township never uploaded is refused on its field; the update is not written.
    let path = format!("/api/v1/directives/{did}/responses");
    let (s, e) = c
        .post(
            TOWN,
            &path,
            &json!({"action": "progress", "percent": 30,
                    "attachments": [{"sha256": "ab".repeat(32)}]}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("attachments[0].sha256")),
        "{e}"
    );
    let (s, r) = c
        .post(
            TOWN,
            &path,
            &json!({"action": "progress", "percent": 30, "note": "已制定方案",
                    "attachments": [{"sha256": plan_sha, "name": "整治方案.pdf"}]}),
        )
        .await?;
    assert_eq!(s, 201, "{r}");
    // At the issuer, byte for byte, listed with the unit and update that attached it.
    held_at(&c, COUNTY, &plan_sha, &plan).await?;
    let (s, files) = c
        .get(COUNTY, &format!("/api/v1/directives/{did}/files"))
        .await?;
    assert_eq!(s, 200);
    let f = &files[0];
    assert_eq!(
        (
            f["sha256"].as_str(),
            f["event"].as_str(),
            f["unit"].as_str(),
            f["by"].as_str()
        ),
        (
            Some(plan_sha.as_str()),
            Some("progress"),
            Some(TOWN),
            Some(TOWN)
        )
    );
    assert_eq!(
        (f["name"].as_str(), f["held"].as_bool()),
        (Some("整治方案.pdf"), Some(true))
    );

    // 2. An accident registered with its 快报, then a 补报 with a certificate: at every level above.
    let report = pdf("事故快报");
    let (_, up) = upload(&c, TOWN, "事故快报.pdf", report.clone()).await?;
    let report_sha = up["sha256"].as_str().unwrap().to_string();
    let today = (time::OffsetDateTime::now_utc() + time::Duration::hours(8)).date();
    let (s, a) = c
        .post(
            TOWN,
            "/api/v1/accidents",
            &json!({"title": "有限空间中毒窒息", "occurred_at": safemesh_model::hazard::format_date(today),
                    "sector": "工贸", "deaths": 1, "serious_injuries": 2, "direct_loss_wan": 80.0,
                    "attachments": [{"sha256": report_sha, "name": "事故快报.pdf"}]}),
        )
        .await?;
    assert_eq!(s, 201, "{a}");
    let aid = a["id"].as_str().unwrap().to_string();
    let cert = pdf("死亡证明");
    let (_, up) = upload(&c, TOWN, "死亡证明.pdf", cert.clone()).await?;
    let cert_sha = up["sha256"].as_str().unwrap().to_string();
    let (s, r) = c
        .post(
            TOWN,
            &format!("/api/v1/accidents/{aid}/supplements"),
            &json!({"deaths": 2, "note": "一名重伤人员经抢救无效死亡",
                    "attachments": [{"sha256": cert_sha}]}),
        )
        .await?;
    assert_eq!(s, 201, "{r}");
    for code in [COUNTY, CITY, PROVINCE] {
        held_at(&c, code, &report_sha, &report).await?;
        held_at(&c, code, &cert_sha, &cert).await?;
    }
    let (_, files) = c
        .get(PROVINCE, &format!("/api/v1/accidents/{aid}/files"))
        .await?;
    let seen: Vec<(&str, &str)> = files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["event"].as_str().unwrap(), f["sha256"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("register", report_sha.as_str()),
            ("supplement", cert_sha.as_str())
        ]
    );

    // 3. Nowhere else: the sibling township was sent neither the directive nor the accident, and
    // holds none of the files (checked after the province has them all).
    for sha in [&plan_sha, &report_sha, &cert_sha] {
        assert!(
            c.node(TOWN_B).store.blob_meta(sha).await?.is_none(),
            "{sha} at {TOWN_B}"
        );
    }
    c.shutdown().await;
    Ok(())
}
