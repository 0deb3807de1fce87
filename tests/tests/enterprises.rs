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

/// 企业变更 (issue 17): the registering office updates the particulars; each change is kept in the
/// history with its before and after; the county sees the update; the county cannot update; bad input
/// names its field and changes nothing; a hazard registered before keeps the enterprise as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registering_office_updates_an_enterprise_and_the_history_keeps_each_change()
-> anyhow::Result<()> {
    let c = Cluster::start(&["530181", "530181006"]).await?;
    let path = format!("/api/v1/enterprises/{CODE}");
    let mut e = enterprise(CODE);
    e["address"] = json!("安宁市草铺街道化工园区 1 号");
    e["division"] = json!("530181006");
    let (s, v) = c.post("530181006", "/api/v1/enterprises", &e).await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["division"], "530181006");
    let (_, old_hazard) = c
        .post(
            "530181006",
            "/api/v1/hazards",
            &hazard_json("液氨储罐区报警未联锁", "general", "2026-12-31"),
        )
        .await?;
    // 1. Bad input: each refusal names its field, and nothing changes.
    for (body, field) in [
        (json!({"principal": "赵某"}), "note"),
        (json!({"risk_grade": "很大", "note": "评估"}), "risk_grade"),
        (json!({"division": "530102", "note": "搬迁"}), "division"),
        (
            json!({"licences": [{"name": "安全生产许可证", "number": ""}], "note": "换证"}),
            "licences[0].number",
        ),
        (
            json!({"major_hazard_source_grade": 7, "note": "重新辨识"}),
            "major_hazard_source_grade",
        ),
        (json!({"principal": "王某", "note": "无变化"}), "note"),
    ] {
        let (s, r) = c.patch("530181006", &path, &body).await?;
        assert_eq!(
            (s, r["error"]["field"].as_str()),
            (400, Some(field)),
            "{body} → {r}"
        );
    }
    assert!(
        c.get("530181006", &path).await?.1["events"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // 2. Two updates: the people, then the name, risk grade, licence and 重点 flag.
    let (s, v) = c
        .patch(
            "530181006",
            &path,
            &json!({"principal": "赵某", "controller": "钱某", "note": "主要负责人调整"}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    let (s, v) = c
        .patch(
            "530181006",
            &path,
            &json!({
                "name": "安宁某某新材料有限公司", "risk_grade": "橙", "key_unit": true,
                "licences": [{"name": "安全生产许可证", "number": "(云)WH安许证字〔2024〕0001号", "valid_until": "2027-06-30"}],
                "note": "企业更名，重新评估风险等级"
            }),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["name"].as_str(),
            v["principal"].as_str(),
            v["risk_grade"].as_str(),
            v["key_unit"].as_bool()
        ),
        (
            Some("安宁某某新材料有限公司"),
            Some("赵某"),
            Some("较大风险"),
            Some(true)
        )
    );
    assert_eq!(v["licences"][0]["valid_until"], "2027-06-30");
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["kind"], "update");
    assert_eq!(events[0]["note"], "主要负责人调整");
    assert_eq!(
        events[0]["changes"],
        json!([{"field": "principal", "from": "王某", "to": "赵某"}, {"field": "controller", "from": "李某", "to": "钱某"}])
    );
    let fields: Vec<&str> = events[1]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "risk_grade", "key_unit", "licences"]);
    assert_eq!(events[1]["changes"][0]["from"], "安宁某某化工有限公司");
    // 3. The county sees the enterprise as updated, with its history, and may not update it.
    c.wait_for("530181", &path, "update at county", |v| {
        v["name"] == "安宁某某新材料有限公司"
            && v["events"].as_array().is_some_and(|e| e.len() == 2)
    })
    .await?;
    let (s, r) = c
        .patch(
            "530181",
            &path,
            &json!({"principal": "孙某", "note": "越级"}),
        )
        .await?;
    assert_eq!(
        (s, r["error"]["rule"].as_str()),
        (403, Some("owner_only")),
        "{r}"
    );
    // 4. The hazard registered before keeps the enterprise as it was when it was registered.
    let id = old_hazard["id"].as_str().unwrap();
    let (_, h) = c.get("530181006", &format!("/api/v1/hazards/{id}")).await?;
    assert_eq!(h["enterprise"]["name"], "安宁某某化工有限公司", "{h}");
    c.shutdown().await;
    Ok(())
}

/// SECURITY weakness 7: enterprise ids cannot collide across offices. Two sibling townships register the
/// same enterprise; both registrations reach the county without a refusal, the county finds the
/// enterprise by its credit code and sees who registered it, and each township updates only its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sibling_offices_register_the_same_enterprise_without_colliding() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181", "530181006", "530181007"]).await?;
    for t in ["530181006", "530181007"] {
        let (s, v) = c.post(t, "/api/v1/enterprises", &enterprise(CODE)).await?;
        assert_eq!(s, 201, "{t}: {v}");
        assert_eq!(v["owner"], t);
    }
    let path = format!("/api/v1/enterprises/{CODE}");
    let v = c
        .wait_for("530181", &path, "both registrations at the county", |v| {
            v["registered_by"].as_array().is_some_and(|r| r.len() == 2)
        })
        .await?;
    assert_eq!(v["credit_code"], CODE);
    let (s, v) = c
        .patch(
            "530181007",
            &path,
            &json!({"principal": "孙某", "note": "主要负责人调整"}),
        )
        .await?;
    assert_eq!((s, v["owner"].as_str()), (200, Some("530181007")), "{v}");
    let (_, mine) = c.get("530181006", &path).await?;
    assert_eq!(
        mine["principal"], "王某",
        "the other township's registration is its own"
    );
    // Replication between the county and both townships stayed clean: nothing was refused.
    let (_, status) = c.get("530181", "/api/v1/sync/status").await?;
    for l in status["links"].as_array().unwrap() {
        assert_eq!(l["rejected_batches"].as_u64(), Some(0), "{l}");
        assert!(l["last_rejection"].is_null(), "{l}");
    }
    c.shutdown().await;
    Ok(())
}
