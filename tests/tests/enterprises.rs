//! 企业: keyed by unified social credit code, checked on entry, replicated upward, linked to hazards and
//! accidents.

use safemesh_testkit::{Cluster, hazard_json};
use serde_json::json;

const CODE: &str = "91350200776049653A";

fn enterprise(credit_code: &str) -> serde_json::Value {
    json!({
        "credit_code": credit_code, "name": "安宁某某化工有限公司", "principal": "王某", "controller": "李某",
        "sector": "危化品", "above_scale": true, "major_hazard_source_grade": 2, "dust_explosion": false,
        "ammonia_refrigeration": true, "standardisation_level": "二级"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enterprise_is_checked_replicated_and_linked() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181", "530181006"]).await?;
    // 1. A wrong check character is refused naming credit_code; so is a bad hazard-source grade.
    let (s, e) = c
        .post(
            "530181006",
            "/api/v1/enterprises",
            &enterprise("91350200776049653B"),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("credit_code")),
        "{e}"
    );
    let mut bad = enterprise(CODE);
    bad["major_hazard_source_grade"] = json!(5);
    let (s, e) = c.post("530181006", "/api/v1/enterprises", &bad).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("major_hazard_source_grade"))
    );
    // 2. Registered once; a second registration of the same code is a conflict.
    let (s, v) = c
        .post("530181006", "/api/v1/enterprises", &enterprise(CODE))
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (
            v["sector"].as_str(),
            v["major_hazard_source_grade"].as_i64()
        ),
        (Some("危险化学品"), Some(2))
    );
    assert_eq!(
        c.post("530181006", "/api/v1/enterprises", &enterprise(CODE))
            .await?
            .0,
        409
    );
    // 3. A hazard of that enterprise links to it; so does an accident.
    let (_, h) = c
        .post(
            "530181006",
            "/api/v1/hazards",
            &hazard_json("液氨储罐区报警未联锁", "general", "2026-12-31"),
        )
        .await?;
    let acc = json!({"title": "液氨泄漏", "occurred_at": "2026-01-01", "sector": "危化品", "deaths": 0, "serious_injuries": 1,
        "enterprise": {"name": "安宁某某化工有限公司", "credit_code": CODE}});
    assert_eq!(c.post("530181006", "/api/v1/accidents", &acc).await?.0, 201);
    let (s, v) = c
        .get("530181006", &format!("/api/v1/enterprises/{CODE}"))
        .await?;
    assert_eq!(s, 200);
    assert_eq!(v["hazards"][0]["id"], h["id"]);
    assert_eq!(v["accidents"][0]["title"], "液氨泄漏");
    // 4. The enterprise reaches the county.
    c.wait_for(
        "530181",
        &format!("/api/v1/enterprises/{CODE}"),
        "enterprise at county",
        |v| v["name"] == "安宁某某化工有限公司",
    )
    .await?;
    assert_eq!(
        c.get("530181", "/api/v1/enterprises").await?.1["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    c.shutdown().await;
    Ok(())
}

/// STANDARDS §6.3's example of an early Fujian pilot code: legal, but its check character fails.
const PILOT: &str = "91350100M0001TGQXM";
const WHY: &str = "2015年福建试点赋码，已核对营业执照原件";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pilot_credit_code_is_registered_by_exception_and_flagged_where_it_is_shown()
-> anyhow::Result<()> {
    let c = Cluster::start(&["530181", "530181006"]).await?;
    let town = "530181006";
    // 1. By default a failing check character is a 400 naming the field, which says how to register
    //    an early pilot code; the override's reason has a bound; nothing is stored.
    let (s, e) = c
        .post(town, "/api/v1/enterprises", &enterprise(PILOT))
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("credit_code")),
        "{e}"
    );
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("校验位错误") && msg.contains("例外说明"),
        "{msg}"
    );
    let mut long = enterprise(PILOT);
    long["credit_code_override"] = json!("长".repeat(201));
    let (s, e) = c.post(town, "/api/v1/enterprises", &long).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("credit_code_override"))
    );
    // A malformed code is refused whatever the reason.
    let mut malformed = enterprise("9135010000001TGQXI");
    malformed["credit_code_override"] = json!(WHY);
    let (s, e) = c.post(town, "/api/v1/enterprises", &malformed).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("credit_code"))
    );
    assert_eq!(c.get(town, "/api/v1/enterprises").await?.1["total"], 0);

    // 2. With an explicit override and its reason it is registered, and flagged with the reason.
    let mut pilot = enterprise(PILOT);
    pilot["credit_code_override"] = json!(format!("  {WHY} "));
    let (s, v) = c.post(town, "/api/v1/enterprises", &pilot).await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["credit_code"], PILOT);
    assert_eq!(v["credit_code_override"], WHY);
    // A valid code carries no flag, even when a reason is sent with it.
    let mut valid = enterprise(CODE);
    valid["credit_code_override"] = json!("不需要");
    let (s, v) = c.post(town, "/api/v1/enterprises", &valid).await?;
    assert_eq!(s, 201, "{v}");
    assert!(v.get("credit_code_override").is_none(), "{v}");

    // 3. A hazard naming the flagged enterprise by its code alone takes the name and the flag.
    let mut h = hazard_json("液氨储罐区报警未联锁", "general", "2099-12-31");
    h["enterprise"] = json!({"credit_code": PILOT});
    let (s, hz) = c.post(town, "/api/v1/hazards", &h).await?;
    assert_eq!(s, 201, "{hz}");
    assert_eq!(hz["enterprise"]["name"], "安宁某某化工有限公司");
    assert_eq!(hz["enterprise"]["credit_code_override"], WHY);
    // Another failing code this node does not know: refused, then accepted with its own reason.
    let other = "91350100M0001TGQX2"; // the same body, another wrong check character
    let mut h2 = hazard_json("配电室无挡鼠板", "general", "2099-12-31");
    h2["enterprise"] = json!({"name": "某某商贸公司", "credit_code": other});
    let (s, e) = c.post(town, "/api/v1/hazards", &h2).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("enterprise.credit_code")),
        "{e}"
    );
    h2["enterprise"]["credit_code_override"] = json!("试点代码，市场监管局出具证明");
    let (s, hz2) = c.post(town, "/api/v1/hazards", &h2).await?;
    assert_eq!(s, 201, "{hz2}");
    assert_eq!(
        hz2["enterprise"]["credit_code_override"],
        "试点代码，市场监管局出具证明"
    );
    // An accident likewise.
    let acc = json!({"title": "液氨泄漏", "occurred_at": "2026-01-01", "sector": "危化品", "deaths": 0,
        "enterprise": {"name": "安宁某某化工有限公司", "credit_code": PILOT}});
    let (s, e) = c.post(town, "/api/v1/accidents", &acc).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("enterprise.credit_code"))
    );
    let mut acc = acc;
    acc["enterprise"]["credit_code_override"] = json!(WHY);
    let (s, a) = c.post(town, "/api/v1/accidents", &acc).await?;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["enterprise"]["credit_code_override"], WHY);

    // 4. The flag replicates with the records: the county reads it.
    let hid = hz["id"].as_str().unwrap();
    let at_county = c
        .wait_for(
            "530181",
            &format!("/api/v1/hazards/{hid}"),
            "hazard at county",
            |v| v["id"] == hz["id"],
        )
        .await?;
    assert_eq!(at_county["enterprise"]["credit_code_override"], WHY);
    let e = c
        .wait_for(
            "530181",
            &format!("/api/v1/enterprises/{PILOT}"),
            "enterprise at county",
            |v| v["credit_code"] == PILOT,
        )
        .await?;
    assert_eq!(e["credit_code_override"], WHY);

    // 5. The pages show the flag, and the registration form offers the override.
    let (_, tok) = c
        .post(
            town,
            "/api/v1/tokens",
            &json!({"name": "查看员", "role": "viewer"}),
        )
        .await?;
    let base = c.node(town).http_url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let cookie = safemesh_testkit::web_login(&http, &base, tok["secret"].as_str().unwrap()).await?;
    for path in [
        format!("/hazards/{hid}"),
        format!("/enterprises/{PILOT}"),
        format!("/accidents/{}", a["id"].as_str().unwrap()),
    ] {
        let html = http
            .get(format!("{base}{path}"))
            .header("Cookie", &cookie)
            .send()
            .await?
            .text()
            .await?;
        assert!(
            html.contains("例外登记") && html.contains(WHY),
            "{path}: the flag and its reason"
        );
    }
    let html = http
        .get(format!("{base}/hazards/{}", hz2["id"].as_str().unwrap()))
        .header("Cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    assert!(html.contains("试点代码，市场监管局出具证明"));
    c.shutdown().await;
    Ok(())
}
