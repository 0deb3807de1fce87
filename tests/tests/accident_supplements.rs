//! 事故补报 (issue 17, STANDARDS §3.1): the registering office corrects an accident's casualty figures
//! within 30 days (7 for fire and road traffic), the grade follows, the history keeps each correction,
//! and the correction travels up like any change.

use safemesh_testkit::Cluster;
use serde_json::{Value, json};

const CHAIN: [&str; 3] = ["5301", "530181", "530181006"];

fn day(offset_days: i64) -> String {
    let d = (time::OffsetDateTime::now_utc() + time::Duration::hours(8)).date()
        + time::Duration::days(offset_days);
    safemesh_model::hazard::format_date(d)
}

fn accident(sector: &str, occurred_at: &str, deaths: i64, injuries: i64) -> Value {
    json!({
        "title": "有限空间中毒窒息", "occurred_at": occurred_at, "sector": sector, "deaths": deaths,
        "serious_injuries": injuries, "direct_loss_wan": 120.0,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn casualty_figures_are_corrected_within_the_window_and_the_grade_follows()
-> anyhow::Result<()> {
    let c = Cluster::start(&CHAIN).await?;
    let town = "530181006";
    let (s, a) = c
        .post(town, "/api/v1/accidents", &accident("工贸", &day(0), 2, 3))
        .await?;
    assert_eq!((s, a["grade"].as_str()), (201, Some("general")), "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    let at = format!("/api/v1/accidents/{id}/supplements");
    // 1. Bad input names its field and changes nothing.
    for (body, field) in [
        (json!({"deaths": 3}), "note"),
        (json!({"deaths": -1, "note": "核实"}), "deaths"),
        (
            json!({"direct_loss_wan": -5.0, "note": "核实"}),
            "direct_loss_wan",
        ),
        (json!({"deaths": 2, "note": "无变化"}), "deaths"),
    ] {
        let (s, r) = c.post(town, &at, &body).await?;
        assert_eq!(
            (s, r["error"]["field"].as_str()),
            (400, Some(field)),
            "{body} → {r}"
        );
    }
    // 2. A superior may not correct the township's figures.
    c.wait_for(
        "530181",
        &format!("/api/v1/accidents/{id}"),
        "accident at county",
        |v| v["id"] == id.as_str(),
    )
    .await?;
    let (s, r) = c
        .post("530181", &at, &json!({"deaths": 5, "note": "越级"}))
        .await?;
    assert_eq!(
        (s, r["error"]["rule"].as_str()),
        (403, Some("owner_only")),
        "{r}"
    );
    // 3. One injured person died: 3 deaths, 2 seriously injured — the grade becomes 较大.
    let (s, v) = c
        .post(
            town,
            &at,
            &json!({"deaths": 3, "serious_injuries": 2, "note": "一名重伤人员经抢救无效死亡"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["deaths"].as_i64(), v["grade"].as_str()),
        (Some(3), Some("larger"))
    );
    let ev = &v["events"][0];
    assert_eq!(
        (ev["kind"].as_str(), ev["by"].as_str()),
        (Some("supplement"), Some(town))
    );
    assert_eq!(
        ev["changes"],
        json!([
            {"field": "deaths", "from": "2", "to": "3"},
            {"field": "serious_injuries", "from": "3", "to": "2"},
            {"field": "grade", "from": "一般", "to": "较大"}
        ])
    );
    // 4. The correction reaches the city, and its roll-up counts the accident as 较大 with 3 deaths.
    c.wait_for(
        "5301",
        &format!("/api/v1/accidents/{id}"),
        "correction at city",
        |v| v["grade"] == "larger",
    )
    .await?;
    c.wait_for("5301", "/api/v1/rollup", "corrected roll-up", |v| {
        v["accidents"]["by_grade"]["larger"] == json!({"count": 1, "deaths": 3})
    })
    .await?;
    // 5. The window: 30 days after the accident for most sectors, 7 for fire and road traffic.
    let (_, old) = c
        .post(
            town,
            "/api/v1/accidents",
            &accident("工贸", &day(-31), 1, 0),
        )
        .await?;
    let (_, fire) = c
        .post(town, "/api/v1/accidents", &accident("消防", &day(-8), 1, 0))
        .await?;
    let (_, fire_ok) = c
        .post(town, "/api/v1/accidents", &accident("消防", &day(-7), 1, 0))
        .await?;
    for (a, status) in [(&old, 400), (&fire, 400), (&fire_ok, 201)] {
        let (s, r) = c
            .post(
                town,
                &format!(
                    "/api/v1/accidents/{}/supplements",
                    a["id"].as_str().unwrap()
                ),
                &json!({"deaths": 2, "note": "补报"}),
            )
            .await?;
        assert_eq!(s, status, "{a} → {r}");
        if status == 400 {
            assert_eq!(r["error"]["field"], "occurred_at", "{r}");
            assert_eq!(
                c.get(
                    town,
                    &format!("/api/v1/accidents/{}", a["id"].as_str().unwrap())
                )
                .await?
                .1["deaths"],
                1,
                "a refused correction changes nothing"
            );
        }
    }
    c.shutdown().await;
    Ok(())
}
