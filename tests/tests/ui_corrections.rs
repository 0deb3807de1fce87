//! The web UI's 补报 and 变更 forms (issue 17): shown to an editor of the registering office only; a
//! refused form says which field and why and stores nothing; an accepted one shows the change in the
//! record's history.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use safemesh_testkit::{Cluster, csrf_of, web_client, web_login};
use serde_json::json;

const COUNTY: &str = "530181";
const TOWN: &str = "530181006";
const CODE: &str = "91350200776049653A";

async fn get(http: &reqwest::Client, url: &str, cookie: &str) -> anyhow::Result<String> {
    let r = http.get(url).header("Cookie", cookie).send().await?;
    anyhow::ensure!(r.status() == StatusCode::OK, "{url}: {}", r.status());
    Ok(r.text().await?)
}

fn today(offset: i64) -> String {
    let d = (time::OffsetDateTime::now_utc() + time::Duration::hours(8)).date()
        + time::Duration::days(offset);
    safemesh_model::hazard::format_date(d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supplement_and_update_forms_refuse_with_the_field_and_record_the_change()
-> anyhow::Result<()> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    let http = web_client();
    let (town, county) = (c.node(TOWN), c.node(COUNTY));
    let (base, cbase) = (town.http_url(), county.http_url());
    let cookie = web_login(&http, &base, &town.token).await?;
    let ccookie = web_login(&http, &cbase, &county.token).await?;
    let (_, a) = c
        .post(
            TOWN,
            "/api/v1/accidents",
            &json!({"title": "有限空间中毒窒息", "occurred_at": today(-3), "sector": "工贸",
                    "deaths": 2, "serious_injuries": 3, "direct_loss_wan": 120.0}),
        )
        .await?;
    let id = a["id"].as_str().unwrap();
    // 1. The accident page has the 补报 form at the township, not at the county.
    let html = get(&http, &format!("{base}/accidents/{id}"), &cookie).await?;
    assert!(html.contains("id=\"supplement-form\""), "{html}");
    c.wait_for(
        COUNTY,
        &format!("/api/v1/accidents/{id}"),
        "accident at county",
        |v| v["id"] == id,
    )
    .await?;
    let chtml = get(&http, &format!("{cbase}/accidents/{id}"), &ccookie).await?;
    assert!(!chtml.contains("id=\"supplement-form\""));
    // 2. A form without the reason is refused naming 补报说明, keeps what was typed, stores nothing.
    let csrf = csrf_of(&html);
    let r = http
        .post(format!("{base}/accidents/{id}/supplement"))
        .header("Cookie", &cookie)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("deaths", "3"),
            ("serious_injuries", "2"),
            ("direct_loss_wan", "120"),
            ("note", ""),
        ])
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await?;
    assert!(body.contains("id=\"supplement-error\">说明："), "{body}");
    assert!(
        body.contains("name=\"deaths\" type=\"number\" min=\"0\" value=\"3\""),
        "typed value kept"
    );
    assert_eq!(
        c.get(TOWN, &format!("/api/v1/accidents/{id}")).await?.1["deaths"],
        2
    );
    // 3. With the reason: redirected to the page, which shows the new grade and what changed.
    let r = http
        .post(format!("{base}/accidents/{id}/supplement"))
        .header("Cookie", &cookie)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("deaths", "3"),
            ("serious_injuries", "2"),
            ("direct_loss_wan", "120"),
            ("note", "一名重伤人员经抢救无效死亡"),
        ])
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()[LOCATION],
        format!("/accidents/{id}?done=supplement")
    );
    let html = get(
        &http,
        &format!("{base}/accidents/{id}?done=supplement"),
        &cookie,
    )
    .await?;
    assert!(html.contains("已补报"), "{html}");
    assert!(
        html.contains("死亡人数 2 → 3；重伤人数 3 → 2；事故等级 一般 → 较大"),
        "{html}"
    );
    // 4. The enterprise page: the 变更 form at the registering township only.
    let (s, _) = c
        .post(
            TOWN,
            "/api/v1/enterprises",
            &json!({"credit_code": CODE, "name": "安宁某某化工有限公司", "principal": "王某", "sector": "危化品"}),
        )
        .await?;
    assert_eq!(s, 201);
    let html = get(&http, &format!("{base}/enterprises/{CODE}"), &cookie).await?;
    assert!(html.contains("id=\"update-form\""));
    let csrf = csrf_of(&html);
    let form = |division: &str, note: &str| {
        vec![
            ("_csrf", csrf.clone()),
            ("name", "安宁某某化工有限公司".to_string()),
            ("principal", "赵某".to_string()),
            ("division", division.to_string()),
            ("risk_grade", "较大风险".to_string()),
            ("key_unit", "true".to_string()),
            ("licence_name", "安全生产许可证".to_string()),
            ("licence_number", "(云)WH安许证字〔2024〕0001号".to_string()),
            ("licence_valid_until", "2027-06-30".to_string()),
            ("note", note.to_string()),
        ]
    };
    // A division outside the township: refused naming 所在区划, nothing changes.
    let r = http
        .post(format!("{base}/enterprises/{CODE}/update"))
        .header("Cookie", &cookie)
        .form(&form("530102", "主要负责人调整"))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await?;
    assert!(body.contains("id=\"update-error\">所在区划："), "{body}");
    assert_eq!(
        c.get(TOWN, &format!("/api/v1/enterprises/{CODE}")).await?.1["principal"],
        "王某"
    );
    let r = http
        .post(format!("{base}/enterprises/{CODE}/update"))
        .header("Cookie", &cookie)
        .form(&form(TOWN, "主要负责人调整"))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = get(
        &http,
        &format!("{base}/enterprises/{CODE}?done=update"),
        &cookie,
    )
    .await?;
    assert!(html.contains("主要负责人 王某 → 赵某"), "{html}");
    assert!(html.contains("安全风险等级 空 → 较大风险"), "{html}");
    assert!(html.contains("重点监管单位"), "{html}");
    let (_, e) = c.get(TOWN, &format!("/api/v1/enterprises/{CODE}")).await?;
    assert_eq!(e["licences"][0]["valid_until"], "2027-06-30");
    assert_eq!(
        e["events"].as_array().unwrap().len(),
        1,
        "one update, one event"
    );
    c.wait_for(
        COUNTY,
        &format!("/api/v1/enterprises/{CODE}"),
        "enterprise at county",
        |v| v["principal"] == "赵某",
    )
    .await?;
    let chtml = get(&http, &format!("{cbase}/enterprises/{CODE}"), &ccookie).await?;
    assert!(
        !chtml.contains("id=\"update-form\""),
        "the county sees no 变更 form"
    );
    assert!(
        chtml.contains("主要负责人 王某 → 赵某"),
        "the county sees the history"
    );
    c.shutdown().await;
    Ok(())
}
