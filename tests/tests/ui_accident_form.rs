//! 登记事故 in the web UI: the form a clerk registers an accident with, its 事故快报 uploaded with it. A
//! refused form names the input and why, keeps what was typed and stores nothing; an accepted one
//! lands on the accident's page with the 快报 listed.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use reqwest::multipart::{Form, Part};
use safemesh_testkit::{Cluster, csrf_of, web_client, web_login};

const TOWN: &str = "530181006";

fn today() -> String {
    let d = (time::OffsetDateTime::now_utc() + time::Duration::hours(8)).date();
    safemesh_model::hazard::format_date(d)
}

/// The form's fields as a browser sends them, with `file` as the 快报 if given.
fn form(csrf: &str, fields: &[(&str, &str)], file: Option<(&str, Vec<u8>)>) -> Form {
    let mut f = Form::new().text("_csrf", csrf.to_string());
    for (k, v) in fields {
        f = f.text(k.to_string(), v.to_string());
    }
    match file {
        Some((name, bytes)) => f.part("file", Part::bytes(bytes).file_name(name.to_string())),
        None => f,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accident_is_registered_from_the_form_with_its_report() -> anyhow::Result<()> {
    let c = Cluster::start(&[TOWN]).await?;
    let http = web_client();
    let town = c.node(TOWN);
    let base = town.http_url();
    let cookie = web_login(&http, &base, &town.token).await?;
    let list = http
        .get(format!("{base}/accidents"))
        .header("Cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    assert!(list.contains("id=\"accident-new\""), "{list}");
    let page = http
        .get(format!("{base}/accidents/new"))
        .header("Cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    let csrf = csrf_of(&page);
    let post = |f: Form| {
        http.post(format!("{base}/accidents/new?_csrf={csrf}"))
            .header("Cookie", &cookie)
            .multipart(f)
            .send()
    };
    let day = today();
    let good = [
        ("title", "某公司“12·3”有限空间中毒窒息事故"),
        ("occurred_at", day.as_str()),
        ("sector", "工贸"),
        ("deaths", "2"),
        ("serious_injuries", "1"),
        ("direct_loss_wan", "260"),
        ("description", "清理污水池时未检测通风"),
    ];

    // 1. No 死亡人数: refused at that input, what was typed kept, nothing stored.
    let without: Vec<(&str, &str)> = good
        .iter()
        .copied()
        .filter(|(k, _)| *k != "deaths")
        .collect();
    let r = post(form(&csrf, &without, None)).await?;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await?;
    assert!(html.contains("data-field=\"deaths\""), "{html}");
    assert!(html.contains("死亡人数："), "{html}");
    assert!(
        html.contains("清理污水池时未检测通风"),
        "the description typed is kept"
    );
    // 2. A 快报 that is an executable named .pdf: refused at the file input by its content.
    let r = post(form(
        &csrf,
        &good,
        Some(("快报.pdf", b"MZ\x90\x00\x03".to_vec())),
    ))
    .await?;
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let html = r.text().await?;
    assert!(html.contains("data-field=\"file\""), "{html}");
    assert!(
        html.contains("清理污水池时未检测通风"),
        "what was typed is kept"
    );
    assert_eq!(c.get(TOWN, "/api/v1/accidents").await?.1["total"], 0);
    assert_eq!(
        town.store.blob_bytes().await?,
        0,
        "nothing of the refused file kept"
    );

    // 3. The whole form with its 快报: registered, graded, the report on its page.
    let report = b"%PDF-1.7\n% accident report\n%%EOF\n".to_vec();
    let r = post(form(&csrf, &good, Some(("事故快报.pdf", report.clone())))).await?;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[LOCATION].to_str()?.to_string();
    assert!(to.ends_with("?done=registered"), "{to}");
    let id = to
        .trim_start_matches("/accidents/")
        .trim_end_matches("?done=registered")
        .to_string();
    let (_, a) = c.get(TOWN, &format!("/api/v1/accidents/{id}")).await?;
    assert_eq!(
        (a["deaths"].as_u64(), a["grade"].as_str()),
        (Some(2), Some("general"))
    );
    let html = http
        .get(format!("{base}{to}"))
        .header("Cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    assert!(
        html.contains("已登记") && html.contains("事故快报.pdf"),
        "{html}"
    );
    let (_, files) = c
        .get(TOWN, &format!("/api/v1/accidents/{id}/files"))
        .await?;
    assert_eq!(files[0]["event"], "register");
    assert_eq!(
        files[0]["sha256"].as_str(),
        Some(safemesh_store::sha256_hex(&report).as_str())
    );
    c.shutdown().await;
    Ok(())
}
