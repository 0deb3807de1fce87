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
