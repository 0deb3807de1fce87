//! The HTTP API's input handling: bad input is a 400 naming the field; no token is a 401.

use safemesh_testkit::{Cluster, hazard_json};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_the_field_and_stores_nothing() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181", "530181006"]).await?;
    let cases = [
        ("sector", json!({"sector": "航天"})),
        ("grade", json!({"grade": "huge"})),
        ("channel", json!({"channel": "rumour"})),
        ("deadline", json!({"deadline": "31/12/2026"})),
        ("title", json!({"title": ""})),
        (
            "enterprise.credit_code",
            json!({"enterprise": {"name": "某公司", "credit_code": "91350200776049653B"}}),
        ),
    ];
    for (field, patch) in cases {
        let mut body = hazard_json("坏输入", "general", "2026-12-31");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, e) = c.post("530181006", "/api/v1/hazards", &body).await?;
        assert_eq!(s, 400, "{field}: {e}");
        assert_eq!(e["error"]["field"], field, "{e}");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(msg.contains(" / "), "message in Chinese and English: {msg}");
    }
    // Wrong JSON type.
    let (s, e) = c
        .post("530181006", "/api/v1/hazards", &json!({"title": 5}))
        .await?;
    assert_eq!(s, 400, "{e}");
    // A directive to someone who is not a direct child.
    let (s, e) = c
        .post(
            "530181",
            "/api/v1/directives",
            &json!({"title": "t", "targets": ["530181006", "5301"], "deadline": "2026-12-31"}),
        )
        .await?;
    assert_eq!(s, 400);
    assert_eq!(e["error"]["field"], "targets[1]");
    // An event that does not fit the lifecycle is refused with a reason.
    let (_, h) = c
        .post(
            "530181006",
            "/api/v1/hazards",
            &hazard_json("生命周期", "general", "2026-12-31"),
        )
        .await?;
    let (s, e) = c
        .post(
            "530181006",
            &format!("/api/v1/hazards/{}/events", h["id"].as_str().unwrap()),
            &json!({"kind": "close"}),
        )
        .await?;
    assert_eq!(s, 409, "{e}");
    assert_eq!(e["error"]["field"], "kind");
    // Only the one valid hazard was stored.
    assert_eq!(
        c.get("530181006", "/api/v1/hazards").await?.1["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_wrong_token_is_401() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181006"]).await?;
    let url = format!("{}/api/v1/node", c.node("530181006").http_url());
    assert_eq!(c.client().get(&url).send().await?.status().as_u16(), 401);
    assert_eq!(
        c.client()
            .get(&url)
            .bearer_auth("not-the-token")
            .send()
            .await?
            .status()
            .as_u16(),
        401
    );
    let (s, v) = c.get("530181006", "/api/v1/node").await?;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!({"code": "530181006", "name": "禄脿街道", "level": "township", "parent": "530181", "parent_addr": null})
    );
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_follows_the_deadline_day() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181006"]).await?;
    let mut late = hazard_json("已超期", "general", "2020-01-01");
    late["found_on"] = serde_json::json!("2019-12-01");
    let (_, past) = c.post("530181006", "/api/v1/hazards", &late).await?;
    let (_, future) = c
        .post(
            "530181006",
            "/api/v1/hazards",
            &hazard_json("未到期", "general", "2099-01-01"),
        )
        .await?;
    assert_eq!(past["overdue"], true);
    assert_eq!(future["overdue"], false);
    let (_, r) = c.get("530181006", "/api/v1/rollup").await?;
    assert_eq!(r["hazards"]["overdue"], 1);
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_accept_chinese_values_and_wrong_kinds_are_404() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181", "530181006"]).await?;
    let (_, h) = c
        .post(
            "530181006",
            "/api/v1/hazards",
            &hazard_json("重大隐患", "major", "2026-12-31"),
        )
        .await?;
    c.post(
        "530181006",
        "/api/v1/hazards",
        &hazard_json("一般隐患", "general", "2026-12-31"),
    )
    .await?;
    let (s, v) = c.get("530181006", "/api/v1/hazards?grade=重大").await?;
    assert_eq!(s, 200);
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    let (s, e) = c.get("530181006", "/api/v1/hazards?grade=huge").await?;
    assert_eq!((s, e["error"]["field"].as_str()), (400, Some("grade")));
    // A response to a hazard id, an event on a directive id: not found, not a server error.
    let (s, _) = c
        .post(
            "530181006",
            &format!("/api/v1/directives/{}/responses", h["id"].as_str().unwrap()),
            &json!({"action": "receive"}),
        )
        .await?;
    assert_eq!(s, 404);
    let (_, d) = c
        .post(
            "530181",
            "/api/v1/directives",
            &json!({"title": "t", "targets": ["530181006"], "deadline": "2026-12-31"}),
        )
        .await?;
    let (s, _) = c
        .post(
            "530181",
            &format!("/api/v1/hazards/{}/events", d["id"].as_str().unwrap()),
            &json!({"kind": "comment"}),
        )
        .await?;
    assert_eq!(s, 404);
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_only_move_forward() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181", "530181006"]).await?;
    let (_, d) = c
        .post(
            "530181",
            "/api/v1/directives",
            &json!({"title": "隐患排查", "targets": ["530181006"], "deadline": "2026-12-31"}),
        )
        .await?;
    let path = format!("/api/v1/directives/{}/responses", d["id"].as_str().unwrap());
    c.wait_for(
        "530181006",
        &format!("/api/v1/directives/{}", d["id"].as_str().unwrap()),
        "directive",
        |v| v["title"].is_string(),
    )
    .await?;
    assert_eq!(
        c.post("530181006", &path, &json!({"action": "receive"}))
            .await?
            .0,
        201
    );
    assert_eq!(
        c.post("530181006", &path, &json!({"action": "receive"}))
            .await?
            .0,
        409
    );
    assert_eq!(
        c.post(
            "530181006",
            &path,
            &json!({"action": "progress", "percent": 70})
        )
        .await?
        .0,
        201
    );
    let (s, e) = c
        .post(
            "530181006",
            &path,
            &json!({"action": "progress", "percent": 40}),
        )
        .await?;
    assert_eq!((s, e["error"]["field"].as_str()), (400, Some("percent")));
    assert_eq!(
        c.post("530181006", &path, &json!({"action": "progress"}))
            .await?
            .0,
        400
    );
    assert_eq!(
        c.post("530181006", &path, &json!({"action": "complete"}))
            .await?
            .0,
        201
    );
    assert_eq!(
        c.post(
            "530181006",
            &path,
            &json!({"action": "progress", "percent": 90})
        )
        .await?
        .0,
        409
    );
    c.shutdown().await;
    Ok(())
}
