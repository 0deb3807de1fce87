//! The web UI in headless Chromium against a real in-process 4-level mesh (省 53 → 市 5301 → 县 530181
//! → 乡 530181006): a clerk registers a hazard through the form (a bad credit code first), the province
//! finds it in its ledger and its drill-down, supervises it through the detail page, the township sees
//! that in its timeline; a target 签收s a directive and the issuer's battle map changes; a viewer sees
//! no action forms and a forged post is refused. Screenshots of each page are saved
//! (`SAFEMESH_SCREENSHOTS=docs/screenshots` to refresh the ones the README shows).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use safemesh_testkit::Cluster;
use safemesh_tests::browser::Browser;
use serde_json::{Value, json};

const PROVINCE: &str = "53";
const CITY: &str = "5301";
const COUNTY: &str = "530181";
const TOWN: &str = "530181006";

/// A site photo to attach: a sky, a tank and the ground, 480 × 320.
fn site_photo() -> image::RgbImage {
    image::RgbImage::from_fn(480, 320, |x, y| {
        let tank = (x as i32 - 240).pow(2) / 4 + (y as i32 - 170).pow(2) < 90 * 90 / 4 * 4;
        match (tank, y) {
            (true, _) => image::Rgb([200, 205, 210]),
            (false, y) if y < 200 => image::Rgb([120, 170, 225]),
            _ => image::Rgb([110, 140, 90]),
        }
    })
}

/// Waits until `f` is true, polling.
async fn eventually<F, Fut>(what: &str, mut f: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if f().await? {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn token(c: &Cluster, code: &str, name: &str, role: &str) -> anyhow::Result<String> {
    let (s, v) = c
        .post(code, "/api/v1/tokens", &json!({"name": name, "role": role}))
        .await?;
    anyhow::ensure!(s == 201, "token: {s} {v}");
    Ok(v["secret"].as_str().context("secret")?.to_string())
}

async fn hazard_count(c: &Cluster, code: &str) -> anyhow::Result<u64> {
    let (_, v) = c.get(code, "/api/v1/hazards").await?;
    Ok(v["total"]
        .as_u64()
        .unwrap_or_else(|| v["items"].as_array().map_or(0, |a| a.len() as u64)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerks_day_in_the_browser_across_four_levels() -> anyhow::Result<()> {
    let Some(b) = Browser::start().await? else {
        return Ok(());
    };
    let c = Cluster::start(&[PROVINCE, CITY, COUNTY, TOWN]).await?;
    let town = c.node(TOWN).http_url();
    let county = c.node(COUNTY).http_url();
    let province = c.node(PROVINCE).http_url();
    let clerk = token(&c, TOWN, "王芳", "editor").await?;
    let viewer = token(&c, TOWN, "查看员", "viewer").await?;
    let inspector = token(&c, PROVINCE, "省安委办督查员", "editor").await?;

    // 1. Log in at the township; the header names the person and the office.
    b.client.goto(&format!("{town}/login")).await?;
    b.wait_css("#token").await?;
    b.shot("01-login").await?;
    b.login(&town, &clerk).await?;
    assert!(b.text("#whoami").await?.contains("王芳"));
    assert!(b.text("header .office").await?.contains("禄脿街道"));

    // 2. Register a major hazard with a credit code whose check character is wrong: the error is next
    // to the field, the values stay, nothing is stored.
    let before = hazard_count(&c, TOWN).await?;
    b.open(&format!("{town}/hazards/new"), "#register-form")
        .await?;
    b.fill("#title", "液氨储罐区紧急切断阀失效").await?;
    b.select("#sector", "危险化学品").await?;
    b.select("#grade", "major").await?;
    b.select("#channel", "inspection").await?;
    b.select("#inspection_mode", "四不两直").await?;
    b.set("#deadline", "2027-03-31").await?;
    b.fill("[id='enterprise.name']", "安宁某某化工有限公司")
        .await?;
    b.fill("[id='enterprise.credit_code']", "91350200776049653B")
        .await?;
    b.fill(
        "[id='basis.standard']",
        "《化工和危险化学品生产经营单位重大生产安全事故隐患判定标准（试行）》",
    )
    .await?;
    b.fill("[id='basis.clause']", "第十五项").await?;
    b.fill("#description", "可燃气体报警装置未与紧急切断联锁")
        .await?;
    b.click("#register-submit").await?;
    b.wait_css("p.field-error[data-field='enterprise.credit_code']")
        .await?;
    b.shot("02-register-error").await?;
    let msg = b
        .text("p.field-error[data-field='enterprise.credit_code']")
        .await?;
    assert!(
        !msg.is_empty() && !msg.contains(" / "),
        "Chinese only: {msg}"
    );
    let kept = b
        .client
        .find(fantoccini::Locator::Css("#title"))
        .await?
        .prop("value")
        .await?;
    assert_eq!(kept.as_deref(), Some("液氨储罐区紧急切断阀失效"));
    assert_eq!(hazard_count(&c, TOWN).await?, before, "nothing stored");

    // 3. Corrected, it is registered and the browser lands on its page.
    b.fill("[id='enterprise.credit_code']", "91350200776049653A")
        .await?;
    b.click("#register-submit").await?;
    b.wait_css("#hazard-number").await?;
    let url = b.client.current_url().await?;
    let id = url
        .path()
        .rsplit('/')
        .next()
        .context("hazard id")?
        .to_string();
    assert!(id.starts_with("h-"), "{url}");
    assert!(b.text("#notice").await?.contains("已登记"));
    // The owner tells the 主要负责人 and 实际控制人 through the detail page's form.
    assert!(b.has("#action-notify").await?);
    b.click("#action-notify button[type=submit]").await?;
    b.wait_css("#notice").await?;
    b.shot("03-hazard-registered").await?;

    // 4. The province finds it in its ledger and in the drill-down to the township.
    c.wait_for(
        PROVINCE,
        &format!("/api/v1/hazards/{id}"),
        "hazard at province",
        |v| v["events"].as_array().is_some_and(|e| e.len() >= 2),
    )
    .await?;
    b.logout().await?;
    b.login(&province, &inspector).await?;
    b.open(&format!("{province}/hazards?grade=major"), "#ledger-table")
        .await?;
    assert!(
        b.text("#ledger-table")
            .await?
            .contains("液氨储罐区紧急切断阀失效"),
        "province ledger lists it"
    );
    b.shot("04-province-ledger").await?;
    eventually("the township's summary at the province", || async {
        let (s, v) = c
            .get(PROVINCE, &format!("/api/v1/rollup?scope={TOWN}"))
            .await?;
        Ok(s == 200 && v["hazards"]["major"].as_u64().unwrap_or(0) >= 1)
    })
    .await?;
    b.open(&format!("{province}/"), "#figures").await?;
    tokio::time::sleep(Duration::from_millis(800)).await; // charts draw
    b.shot("05-province-overview").await?;
    b.open(&format!("{province}/?scope={TOWN}"), "#crumbs")
        .await?;
    let crumbs = b.text("#crumbs").await?;
    assert!(
        crumbs.contains("云南省") && crumbs.contains("昆明市") && crumbs.contains("安宁市"),
        "{crumbs}"
    );
    assert!(b.text("#scope-name").await?.contains("禄脿街道"));
    let major: u64 = b.text("#fig-major").await?.trim().parse()?;
    assert!(major >= 1);
    b.shot("06-drilldown-township").await?;

    // 5. The province lists it for supervision through the detail page.
    b.open(&format!("{province}/hazards/{id}"), "#timeline")
        .await?;
    assert!(b.has("#action-supervise").await?, "province may supervise");
    assert!(
        !b.has("#action-rectified").await?,
        "the province may not report the township's rectification"
    );
    b.fill(
        "#action-supervise input[name=number]",
        "云安办督〔2026〕3号",
    )
    .await?;
    b.fill(
        "#action-supervise textarea[name=requirements]",
        "12月底前完成整改，每半月报送整改进展",
    )
    .await?;
    b.fill(
        "#action-supervise textarea[name=note]",
        "省级挂牌督办，限期整改",
    )
    .await?;
    b.click("#action-supervise button[type=submit]").await?;
    b.wait_css("#notice").await?;
    assert!(!b.text("#hazard-status").await?.is_empty());
    b.shot("07-province-supervised").await?;

    // 6. The township sees that event in its timeline.
    c.wait_for(
        TOWN,
        &format!("/api/v1/hazards/{id}"),
        "supervise at township",
        |v| v["supervising"] == PROVINCE,
    )
    .await?;
    b.logout().await?;
    b.login(&town, &clerk).await?;
    b.open(&format!("{town}/hazards/{id}"), "#timeline").await?;
    let timeline = b.text("#timeline").await?;
    assert!(
        timeline.contains("挂牌督办") && timeline.contains("省安委办督查员"),
        "{timeline}"
    );
    assert!(
        b.text("#listing-number").await? == "云安办督〔2026〕3号",
        "the township sees the listing's number"
    );
    assert!(b.has("#action-plan").await?, "the owner may now plan");
    b.shot("08-township-timeline").await?;

    // 6a. The township reports progress with a photo of the site (整改中照片) from the form: the
    //     timeline shows its thumbnail and a download under the event.
    let photo = std::env::temp_dir().join(format!("site-photo-{}.png", std::process::id()));
    site_photo().save(&photo)?;
    b.client
        .find(fantoccini::Locator::Css(
            "#action-progress input[type=file]",
        ))
        .await?
        .send_keys(&photo.to_string_lossy())
        .await?;
    b.fill(
        "#action-progress textarea[name=note]",
        "储罐区切断阀已更换，附现场照片",
    )
    .await?;
    b.click("#action-progress button[type=submit]").await?;
    b.wait_css("#timeline img.thumb").await?;
    let _ = std::fs::remove_file(&photo);
    let files = b.text("#timeline ul.files").await?;
    assert!(
        files.contains("site-photo") && files.contains("PNG"),
        "{files}"
    );
    b.scroll_to("#timeline-head").await?;
    b.shot("17-hazard-photo").await?;

    // 7. A directive from the county: the township 签收s it, the county's battle map changes.
    let (s, d) = c
        .post(
            COUNTY,
            "/api/v1/directives",
            &json!({"title": "开展燃气安全专项排查整治", "category": "城镇燃气", "targets": [TOWN],
                    "deadline": "2027-01-31", "body": "12月底前完成辖区燃气用户全覆盖排查"}),
        )
        .await?;
    anyhow::ensure!(s == 201, "{d}");
    let did = d["id"].as_str().context("directive id")?.to_string();
    c.wait_for(
        TOWN,
        &format!("/api/v1/directives/{did}"),
        "directive at township",
        |_| true,
    )
    .await?;
    b.open(&format!("{town}/directives"), "#directive-list")
        .await?;
    assert!(
        b.text("#directive-list")
            .await?
            .contains("燃气安全专项排查整治")
    );
    b.shot("09-township-directives").await?;
    b.open(&format!("{town}/directives/{did}"), "#action-receive")
        .await?;
    b.click("#action-receive button[type=submit]").await?;
    b.wait_css("#notice").await?;
    assert!(b.text("#my-state").await?.contains("已签收"));
    // 7a. Its progress with the 排查台账 attached (报送材料), from the form.
    let ledger = std::env::temp_dir().join(format!("gas-ledger-{}.pdf", std::process::id()));
    std::fs::write(&ledger, b"%PDF-1.7\n% gas survey ledger\n%%EOF\n")?;
    b.fill("#action-progress input[name=percent]", "60").await?;
    b.fill(
        "#action-progress textarea[name=note]",
        "已排查燃气用户 1200 户，附排查台账",
    )
    .await?;
    b.client
        .find(fantoccini::Locator::Css(
            "#action-progress input[type=file]",
        ))
        .await?
        .send_keys(&ledger.to_string_lossy())
        .await?;
    b.click("#action-progress button[type=submit]").await?;
    b.wait_css("#record-files").await?;
    let _ = std::fs::remove_file(&ledger);
    let listed = b.text("#record-files").await?;
    assert!(
        listed.contains("gas-ledger") && listed.contains("PDF") && listed.contains("进展"),
        "{listed}"
    );
    let county_editor = token(&c, COUNTY, "县安委办", "editor").await?;
    c.wait_for(
        COUNTY,
        &format!("/api/v1/directives/{did}/board"),
        "receipt at county",
        |v| v["totals"]["received"] == 1,
    )
    .await?;
    b.logout().await?;
    b.login(&county, &county_editor).await?;
    b.open(&format!("{county}/directives/{did}"), "#board")
        .await?;
    assert_eq!(b.text("#board-received").await?.trim(), "1");
    assert!(b.text("#board").await?.contains("已签收"));
    b.shot("10-county-battle-map").await?;
    // The issuer has the township's 报送材料 (once its bytes have come up the link).
    c.wait_for(
        COUNTY,
        &format!("/api/v1/directives/{did}/files"),
        "the ledger at the county",
        |v| v[0]["held"] == true,
    )
    .await?;
    b.open(&format!("{county}/directives/{did}"), "#record-files")
        .await?;
    assert!(b.text("#record-files").await?.contains("gas-ledger"));
    b.scroll_to("#evidence").await?;
    b.shot("18-directive-evidence").await?;
    b.open(&format!("{county}/sync"), "#links").await?;
    b.shot("11-county-sync").await?;
    b.open(&format!("{county}/hazards"), "#ledger-table")
        .await?;
    b.logout().await?;

    // 8. A viewer sees the record but no action forms.
    b.login(&town, &viewer).await?;
    b.open(&format!("{town}/hazards/{id}"), "#timeline").await?;
    assert!(b.has("#read-only").await?);
    assert!(!b.has("#actions").await?);
    assert!(!b.text("nav").await?.contains("登记隐患"));
    b.shot("12-viewer-hazard").await?;
    // 9. A post without the page's CSRF token, from the logged-in browser itself, is refused and
    // changes nothing.
    let events_before = c.get(TOWN, &format!("/api/v1/hazards/{id}")).await?.1["events"]
        .as_array()
        .map_or(0, Vec::len);
    b.logout().await?;
    b.login(&town, &clerk).await?;
    let status: Value = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0], {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
                   body: 'kind=comment&note=forged'}).then(r => done(r.status));",
            vec![json!(format!("/hazards/{id}/events"))],
        )
        .await?;
    assert_eq!(status, json!(403), "forged post refused");
    let events_after = c.get(TOWN, &format!("/api/v1/hazards/{id}")).await?.1["events"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(events_before, events_after, "nothing written");
    // The overview of the township, for the screenshots.
    b.open(&format!("{town}/"), "#figures").await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    b.shot("13-township-overview").await?;
    b.open(&format!("{town}/hazards"), "#ledger-table").await?;
    b.shot("14-township-ledger").await?;
    b.open(&format!("{town}/accidents"), "#accident-list")
        .await?;
    b.open(&format!("{town}/enterprises"), "#enterprise-list")
        .await?;
    // 补报 and 变更 through their forms: the accident's grade follows, the enterprise keeps its history.
    let today = safemesh_model::hazard::format_date(
        (time::OffsetDateTime::now_utc() + time::Duration::hours(8)).date(),
    );
    // 登记事故 from the list's button, with its 事故快报 (a PDF) from the form.
    b.open(&format!("{town}/accidents"), "#accident-new")
        .await?;
    b.open(&format!("{town}/accidents/new"), "#accident-form")
        .await?;
    b.fill("#title", "叉车倾覆伤人").await?;
    b.set("#occurred_at", &today).await?;
    b.select("#sector", "其他交通运输").await?;
    b.set("#deaths", "1").await?;
    b.set("#serious_injuries", "2").await?;
    b.set("#direct_loss_wan", "36").await?;
    b.fill(
        "#description",
        "仓库内叉车转弯时倾覆，驾驶员及一名装卸工受伤",
    )
    .await?;
    let report = std::env::temp_dir().join(format!("accident-report-{}.pdf", std::process::id()));
    std::fs::write(&report, b"%PDF-1.7\n% accident report\n%%EOF\n")?;
    b.client
        .find(fantoccini::Locator::Css("#accident-form input[type=file]"))
        .await?
        .send_keys(&report.to_string_lossy())
        .await?;
    b.shot("19-accident-new").await?;
    b.click("#accident-submit").await?;
    b.wait_css("#notice").await?;
    let _ = std::fs::remove_file(&report);
    assert!(b.text("#notice").await?.contains("已登记"));
    assert!(b.text("#record-files").await?.contains("accident-report"));
    let url = b.client.current_url().await?;
    let aid = url.path().trim_start_matches("/accidents/").to_string();
    let (_, acc) = c.get(TOWN, &format!("/api/v1/accidents/{aid}")).await?;
    assert_eq!(acc["grade"], "general", "{acc}");
    b.set("#supplement-form [name=deaths]", "3").await?;
    b.set("#supplement-form [name=serious_injuries]", "0")
        .await?;
    b.fill("#supplement-form [name=note]", "两名重伤人员经抢救无效死亡")
        .await?;
    b.click("#supplement-form button[type=submit]").await?;
    b.wait_css("#notice").await?;
    let history = b.text("#accident-events").await?;
    assert!(history.contains("死亡人数 1 → 3"), "{history}");
    assert!(history.contains("事故等级 一般 → 较大"), "{history}");
    b.shot("15-accident-supplement").await?;
    let (s, _) = c
        .post(
            TOWN,
            "/api/v1/enterprises",
            &json!({"credit_code": "91530181850111647K", "name": "安宁某某化工有限公司",
                    "principal": "李某", "controller": "王某", "sector": "危险化学品"}),
        )
        .await?;
    assert_eq!(s, 201);
    b.open(
        &format!("{town}/enterprises/91530181850111647K"),
        "#update-form",
    )
    .await?;
    b.fill("#update-form [name=principal]", "赵某").await?;
    b.select("#update-form [name=risk_grade]", "较大风险")
        .await?;
    b.fill(
        "#update-form [name=note]",
        "主要负责人调整，重新评估风险等级",
    )
    .await?;
    b.click("#update-form button[type=submit]").await?;
    b.wait_css("#notice").await?;
    let history = b.text("#enterprise-events").await?;
    assert!(history.contains("主要负责人 李某 → 赵某"), "{history}");
    b.shot("16-enterprise-update").await?;
    // 10. The demo's one-click link: the token in the URL fragment logs in, and leaves the address bar.
    b.logout().await?;
    b.client
        .goto(&format!("{town}/login#token={clerk}"))
        .await?;
    b.wait_css("#whoami").await?;
    assert!(!b.client.current_url().await?.as_str().contains(&clerk));
    c.shutdown().await;
    Ok(())
}
