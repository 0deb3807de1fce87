//! 事故: registered at a township, graded by Order 493, reviewed from above, counted in roll-ups with the
//! 双下降 comparison.

use safemesh_testkit::Cluster;
use serde_json::{Value, json};

const CHAIN: [&str; 4] = ["53", "5301", "530181", "530181006"];

fn day(offset_days: i64) -> String {
    let d = (time::OffsetDateTime::now_utc() + time::Duration::hours(8)).date()
        + time::Duration::days(offset_days);
    safemesh_model::hazard::format_date(d)
}

fn accident(title: &str, occurred_at: &str, deaths: i64, injuries: i64, loss: f64) -> Value {
    json!({
        "title": title, "occurred_at": occurred_at, "sector": "工贸", "deaths": deaths,
        "serious_injuries": injuries, "direct_loss_wan": loss,
        "enterprise": {"name": "安宁某某冶金有限公司", "credit_code": "91350200776049653A"},
        "description": "检修作业中发生有限空间中毒窒息"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accident_is_graded_replicated_reviewed_and_rolled_up() -> anyhow::Result<()> {
    let c = Cluster::start(&CHAIN).await?;
    // 1. Bad figures are refused with the field named; nothing is stored.
    let (s, e) = c
        .post(
            "530181006",
            "/api/v1/accidents",
            &accident("坏数据", &day(0), -1, 0, 0.0),
        )
        .await?;
    assert_eq!((s, e["error"]["field"].as_str()), (400, Some("deaths")));
    let (s, e) = c
        .post(
            "530181006",
            "/api/v1/accidents",
            &accident("未来", &day(3), 0, 0, 0.0),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("occurred_at"))
    );
    let mut bad = accident("坏信用代码", &day(0), 0, 0, 0.0);
    bad["enterprise"]["credit_code"] = json!("91350200776049653B");
    let (s, e) = c.post("530181006", "/api/v1/accidents", &bad).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("enterprise.credit_code"))
    );
    // 2. This year (1 January, so never in the future): a 较大 accident with 3 deaths, and a 重大 one by
    //    its direct loss. Last year: two on 1 January (same period), one on 31 December (later).
    let year = day(0)[..4].parse::<i32>()?;
    let (this_jan, last_jan, last_dec) = (
        format!("{year}-01-01"),
        format!("{}-01-01", year - 1),
        format!("{}-12-31", year - 1),
    );
    let (s, a) = c
        .post(
            "530181006",
            "/api/v1/accidents",
            &accident("有限空间中毒", &this_jan, 3, 2, 300.0),
        )
        .await?;
    assert_eq!(s, 201, "{a}");
    assert_eq!(
        (a["grade"].as_str(), a["grade_label"].as_str()),
        (Some("larger"), Some("较大"))
    );
    let id = a["id"].as_str().unwrap().to_string();
    let (_, big) = c
        .post(
            "530181006",
            "/api/v1/accidents",
            &accident("直接损失大", &this_jan, 0, 0, 5000.0),
        )
        .await?;
    assert_eq!(big["grade"], "major", "a loss of 5000 万元 is 重大");
    for (t, d, deaths) in [
        ("去年一", &last_jan, 2),
        ("去年二", &last_jan, 3),
        ("去年年底", &last_dec, 9),
    ] {
        let (s, v) = c
            .post(
                "530181006",
                "/api/v1/accidents",
                &accident(t, d, deaths, 0, 10.0),
            )
            .await?;
        assert_eq!(s, 201, "{v}");
    }
    // 3. The record reaches every level above; the province reviews it and the township sees the review.
    c.wait_for(
        "53",
        &format!("/api/v1/accidents/{id}"),
        "accident at province",
        |v| v["title"] == "有限空间中毒",
    )
    .await?;
    let (s, v) = c
        .post(
            "53",
            &format!("/api/v1/accidents/{id}/events"),
            &json!({"kind": "review", "note": "省安委办复核：定性准确"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    c.wait_for(
        "530181006",
        &format!("/api/v1/accidents/{id}"),
        "review at township",
        |v| v["events"].as_array().is_some_and(|e| e.len() == 1),
    )
    .await?;
    // 4. The township may comment but not review its own accident.
    let (s, e) = c
        .post(
            "530181006",
            &format!("/api/v1/accidents/{id}/events"),
            &json!({"kind": "review"}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["rule"].as_str()),
        (403, Some("superior_only"))
    );
    // 5. The province roll-up counts this year's accidents (China time) by grade — last year's are
    //    not in the year's totals — with the same-period comparison (2 accidents / 3 deaths this year
    //    against 2 / 5: not 双下降).
    let r = c
        .wait_for(
            "53",
            "/api/v1/rollup",
            "accidents in the province roll-up",
            |v| {
                v["accidents"]["total"] == 2
                    && v["accidents"]["last_year_same_period"]["count"].as_u64() >= Some(2)
            },
        )
        .await?;
    let acc = &r["accidents"];
    assert_eq!(acc["year"], year, "{acc}");
    assert_eq!(acc["deaths"], 3, "{acc}");
    assert_eq!(
        acc["by_grade"]["larger"],
        json!({"count": 1, "deaths": 3}),
        "{acc}"
    );
    assert_eq!(
        acc["by_grade"]["major"],
        json!({"count": 1, "deaths": 0}),
        "{acc}"
    );
    assert!(
        acc["by_grade"].get("general").is_none(),
        "last year's 一般 accidents are not this year's: {acc}"
    );
    assert_eq!(acc["this_year"], json!({"count": 2, "deaths": 3}), "{acc}");
    if !day(0).ends_with("12-31") {
        assert_eq!(
            acc["last_year_same_period"],
            json!({"count": 2, "deaths": 5}),
            "{acc}"
        );
        assert_eq!(
            r["double_decline"], false,
            "fewer deaths but as many accidents is not 双下降"
        );
    }
    // 6. Drill-down: the county's summary carries the same accident counts, of the same year.
    let (_, county) = c.get("53", "/api/v1/rollup?scope=530181").await?;
    assert_eq!(
        (&county["accidents"]["year"], &county["accidents"]["total"]),
        (&json!(year), &json!(2))
    );
    c.shutdown().await;
    Ok(())
}
