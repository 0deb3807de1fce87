//! Directives (任务) across a real chain: cascade notices (紧急通知), forwarding (转发/分解) and the battle map
//! (挂图作战), department records and deadlines, validation. In-process clusters over gRPC + mTLS.

use std::collections::BTreeMap;

use safemesh_testkit::{Cluster, NodeSetup};
use serde_json::{Value, json};

const CHAIN: [&str; 4] = ["53", "5301", "530181", "530181006"];
const TOWN: &str = "530181006";

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// The row of `unit` among a directive's `units` (or a board's `rows`).
fn row<'a>(rows: &'a Value, unit: &str) -> &'a Value {
    rows.as_array()
        .and_then(|a| a.iter().find(|r| r["unit"] == unit))
        .unwrap_or(&Value::Null)
}

/// The directive's web page at `code`, logged in with the node's token.
async fn page(c: &Cluster, code: &str, id: &str) -> anyhow::Result<String> {
    let base = c.node(code).http_url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let cookie = safemesh_testkit::web_login(&http, &base, c.node(code).token.as_str()).await?;
    Ok(http
        .get(format!("{base}/directives/{id}"))
        .header("Cookie", &cookie)
        .send()
        .await?
        .text()
        .await?)
}

fn received(v: &Value, unit: &str) -> bool {
    row(&v["units"], unit)["received"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cascade_notice_receipt_from_township_reaches_province() -> anyhow::Result<()> {
    let c = Cluster::start(&CHAIN).await?;
    // 1. The province issues a cascade notice naming no one: it goes to its whole subtree.
    let (s, d) = c
        .post(
            "53",
            "/api/v1/directives",
            &json!({"title": "关于切实做好岁末年初安全防范工作的紧急通知", "body": "接通知后立即签收",
                    "cascade": true, "deadline": "2026-12-05"}),
        )
        .await?;
    assert_eq!(s, 201, "{d}");
    let did = id(&d);
    let path = format!("/api/v1/directives/{did}");
    // 2. The township, three hops down, holds it and signs for it.
    c.wait_for(TOWN, &path, "notice at township", |v| v["cascade"] == true)
        .await?;
    let (s, v) = c
        .post(
            TOWN,
            &format!("{path}/responses"),
            &json!({"action": "receive", "note": "已签收并部署"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    // 3. The receipt comes back up to the province; the county signs too, and the province sees both.
    let (s, v) = c
        .post(
            "530181",
            &format!("{path}/responses"),
            &json!({"action": "receive"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    let v = c
        .wait_for("53", &path, "receipts at province", |v| {
            received(v, TOWN) && received(v, "530181")
        })
        .await?;
    assert_eq!(
        row(&v["units"], TOWN)["last_report"]["note"],
        "已签收并部署"
    );
    // 4. A node may only sign for itself: the county cannot answer for the township.
    let (s, e) = c
        .post(
            "5301",
            &format!("{path}/responses"),
            &json!({"action": "receive"}),
        )
        .await?;
    assert_eq!(s, 201, "the city signs for itself: {e}");
    // 5. The province's board counts who has signed among the nodes it knows (every one publishes a
    //    summary to it).
    let b = c
        .wait_for("53", &format!("{path}/board"), "board", |b| {
            b["totals"]["received"] == 3
        })
        .await?;
    assert_eq!(b["cascade"], true);
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cascade_notice_reaches_a_cut_off_township_and_its_receipt_returns_after_the_partition_heals()
-> anyhow::Result<()> {
    let c = Cluster::start(&CHAIN).await?;
    // 1. The township's link to the county is down when the province issues the notice.
    c.cut(TOWN);
    let (s, d) = c
        .post(
            "53",
            "/api/v1/directives",
            &json!({"title": "紧急通知：汛期安全防范", "cascade": true, "deadline": "2026-07-10"}),
        )
        .await?;
    assert_eq!(s, 201, "{d}");
    let path = format!("/api/v1/directives/{}", id(&d));
    // 2. It reaches the county; the county signs.
    c.wait_for("530181", &path, "notice at county", |v| {
        v["cascade"] == true
    })
    .await?;
    assert_eq!(
        c.post(
            "530181",
            &format!("{path}/responses"),
            &json!({"action": "receive"})
        )
        .await?
        .0,
        201
    );
    assert_eq!(c.get(TOWN, &path).await?.0, 404, "the township is cut off");
    // 3. The link heals: the notice reaches the township, and its receipt reaches the province.
    c.heal(TOWN);
    c.wait_for(TOWN, &path, "notice at township after heal", |v| {
        v["cascade"] == true
    })
    .await?;
    assert_eq!(
        c.post(
            TOWN,
            &format!("{path}/responses"),
            &json!({"action": "receive"})
        )
        .await?
        .0,
        201
    );
    c.wait_for("53", &path, "both receipts at province", |v| {
        received(v, TOWN) && received(v, "530181")
    })
    .await?;
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_directives_and_their_targets_appear_on_the_issuers_board() -> anyhow::Result<()>
{
    let c = Cluster::start(&CHAIN).await?;
    // 1. The province assigns the city (牵头); the city forwards to 各县（市、区）, which resolves at the
    //    city to its counties (the bundled division tree), and names a department of its own.
    let (s, d) = c
        .post(
            "53",
            "/api/v1/directives",
            &json!({"title": "推进重大事故隐患动态清零常态化", "doc_number": "云安办〔2026〕27号",
                    "category": "开展重大事故隐患动态清零行动",
                    "assignments": [{"role": "lead", "unit": "5301"}],
                    "deadline": "2026-12-20", "reporting": {"every": "monthly", "day": 25}}),
        )
        .await?;
    assert_eq!(s, 201, "{d}");
    let top = id(&d);
    c.wait_for(
        "5301",
        &format!("/api/v1/directives/{top}"),
        "at city",
        |v| v["title"].is_string(),
    )
    .await?;
    let (s, f1) = c
        .post(
            "5301",
            &format!("/api/v1/directives/{top}/forward"),
            &json!({"doc_number": "昆安办〔2026〕58号",
                    "assignments": [{"role": "responsible", "unit": "各县（市、区）"}, {"role": "lead", "unit": "昆明市应急管理局"}],
                    "deadline": "2026-12-10"}),
        )
        .await?;
    assert_eq!(s, 201, "{f1}");
    assert_eq!(f1["parent"]["directive"], top.as_str());
    assert_eq!(
        f1["source_document"],
        "《推进重大事故隐患动态清零常态化》（云安办〔2026〕27号）"
    );
    assert!(
        f1["targets"].as_array().unwrap().len() > 5,
        "all counties of 昆明市: {}",
        f1["targets"]
    );
    // A forward may not give more time than it was given.
    let (s, e) = c
        .post(
            "5301",
            &format!("/api/v1/directives/{top}/forward"),
            &json!({"deadline": "2027-01-31", "targets": ["530181"]}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("deadline")),
        "{e}"
    );
    // 2. The county forwards to its townships (the original's group, resolved again at the county).
    let sub = id(&f1);
    c.wait_for(
        "530181",
        &format!("/api/v1/directives/{sub}"),
        "at county",
        |v| v["title"].is_string(),
    )
    .await?;
    let (s, f2) = c
        .post(
            "530181",
            &format!("/api/v1/directives/{sub}/forward"),
            &json!({"assignments": [{"role": "responsible", "unit": "各乡镇（街道）"}]}),
        )
        .await?;
    assert_eq!(s, 201, "{f2}");
    assert_eq!(f2["parent"]["chain_top"], "53");
    let leaf = id(&f2);
    // 3. The township reports progress on the county's directive.
    c.wait_for(
        TOWN,
        &format!("/api/v1/directives/{leaf}"),
        "at township",
        |v| v["title"].is_string(),
    )
    .await?;
    let (s, v) = c
        .post(
            TOWN,
            &format!("/api/v1/directives/{leaf}/responses"),
            &json!({"action": "progress", "percent": 80, "note": "2项重大事故隐患均已销号"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    // 4. The province sees the chain: the city signed (by forwarding), its forward, the county's, and
    //    the township's 80 % — flattened on the board with `via`.
    let b = c
        .wait_for(
            "53",
            &format!("/api/v1/directives/{top}/board"),
            "township progress on the province's board",
            |b| {
                b["rows"].as_array().is_some_and(|rows| {
                    rows.iter()
                        .any(|r| r["unit"] == TOWN && r["percent"] == 80 && r["via"] == "530181")
                })
            },
        )
        .await?;
    assert_eq!(row(&b["rows"], "5301")["received"], true);
    assert_eq!(row(&b["rows"], "530181")["via"], "5301");
    assert_eq!(row(&b["rows"], "昆明市应急管理局")["kind"], "department");
    assert_eq!(b["direct_totals"]["units"], 1);
    assert!(b["totals"]["units"].as_u64().unwrap() > 10);
    let v = c.get("53", &format!("/api/v1/directives/{top}")).await?.1;
    let fwd = &v["forwarded"][0];
    assert_eq!(
        (fwd["id"].as_str(), fwd["held"].as_bool()),
        (Some(sub.as_str()), Some(true))
    );
    assert_eq!(row(&v["units"], "5301")["forwarded"][0], sub.as_str());
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_tracks_its_departments_milestones_and_event_deadlines() -> anyhow::Result<()> {
    let mut c = Cluster::empty()?;
    let groups = BTreeMap::from([(
        "负有安全监管职责的部门".to_string(),
        vec![
            "应急管理综合服务中心".to_string(),
            "城市管理综合服务中心".to_string(),
        ],
    )]);
    c.add(
        TOWN,
        NodeSetup {
            unit_groups: groups,
            ..NodeSetup::default()
        },
    )
    .await?;
    // 1. A task of the township's plan: a lead department and a group resolved from the config, with
    //    milestones long past.
    let (s, d) = c
        .post(
            TOWN,
            "/api/v1/directives",
            &json!({"title": "深化冶金工贸安全专项治理", "doc_number": "禄街发〔2024〕18号",
                    "category": "深化重点行业领域专项治理行动",
                    "assignments": [{"role": "牵头", "unit": "应急管理综合服务中心"}, {"role": "责任", "unit": "各负有安全监管职责的部门"}, {"role": "配合", "unit": "各村（社区）"}],
                    "deadline": {"kind": "milestones", "milestones": [{"label": "2024年底前", "date": "2024-12-31"}, {"label": "2025年底前", "date": "2025-12-31"}]}}),
        )
        .await?;
    assert_eq!(s, 201, "{d}");
    let path = format!("/api/v1/directives/{}", id(&d));
    // Three rows: the lead (also in the group), the other department of the group, the unconfigured
    // 各村（社区） tracked as one.
    let units = d["units"].as_array().unwrap();
    assert_eq!(units.len(), 3, "{units:?}");
    assert_eq!(
        row(&d["units"], "应急管理综合服务中心")["roles"],
        json!(["lead", "responsible"])
    );
    assert_eq!(row(&d["units"], "应急管理综合服务中心")["overdue"], true);
    assert_eq!(
        row(&d["units"], "应急管理综合服务中心")["milestone"],
        "2024年底前"
    );
    // 2. The 安委办 records a department's progress meeting the first milestone: the second is due next.
    let (s, v) = c
        .post(TOWN, &format!("{path}/responses"), &json!({"unit": "应急管理综合服务中心", "action": "progress", "percent": 50, "milestone": "2024年底前"}))
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        row(&v["units"], "应急管理综合服务中心")["due"],
        "2025-12-31"
    );
    let (s, e) = c
        .post(TOWN, &format!("{path}/responses"), &json!({"unit": "应急管理综合服务中心", "action": "progress", "percent": 60, "milestone": "6月底前"}))
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("milestone")),
        "{e}"
    );
    let (s, v) = c
        .post(
            TOWN,
            &format!("{path}/responses"),
            &json!({"unit": "城市管理综合服务中心", "action": "complete"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        row(&v["units"], "城市管理综合服务中心")["overdue"],
        false,
        "done is never overdue"
    );
    let (s, e) = c
        .post(
            TOWN,
            &format!("{path}/responses"),
            &json!({"unit": "不存在的部门", "action": "receive"}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("unit")),
        "{e}"
    );
    let b = c.get(TOWN, &format!("{path}/board")).await?.1;
    assert_eq!(
        (b["totals"]["units"].as_u64(), b["totals"]["done"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(b["totals"]["completion_rate"], 0.333);
    // The ledger filters: overdue directives, by category.
    let (s, l) = c
        .get(
            TOWN,
            "/api/v1/directives?overdue=true&category=深化重点行业领域专项治理行动",
        )
        .await?;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["items"].as_array().unwrap().len(), 1, "{l}");
    assert_eq!(
        l["items"][0]["totals"]["overdue"], 2,
        "the lead past its second milestone, the villages past the first"
    );
    let (s, e) = c.get(TOWN, "/api/v1/directives?issuer=abc").await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("issuer")),
        "{e}"
    );
    // 3. An after-event deadline (事故发生60日内) has no due day until the event date is recorded.
    let (s, d) = c
        .post(
            TOWN,
            "/api/v1/directives",
            &json!({"title": "配合事故调查", "assignments": [{"role": "lead", "unit": "应急管理综合服务中心"}],
                    "deadline": {"kind": "after_event", "event": "事故发生", "days": 60}}),
        )
        .await?;
    assert_eq!(s, 201, "{d}");
    assert_eq!(row(&d["units"], "应急管理综合服务中心")["due"], Value::Null);
    let (s, v) = c
        .post(
            TOWN,
            &format!("/api/v1/directives/{}/event", id(&d)),
            &json!({"event_date": "2026-03-14"}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["deadline"], "2026-05-13");
    assert_eq!(
        row(&v["units"], "应急管理综合服务中心")["due"],
        "2026-05-13"
    );
    // 4. An ongoing task needs a cadence; with one, the next report day follows it.
    let (s, e) = c
        .post(TOWN, "/api/v1/directives", &json!({"title": "月通报", "assignments": [{"role": "lead", "unit": "街道安委办"}], "deadline": {"kind": "ongoing"}}))
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("reporting")),
        "{e}"
    );
    let (s, d) = c
        .post(
            TOWN,
            "/api/v1/directives",
            &json!({"title": "月通报", "assignments": [{"role": "lead", "unit": "街道安委办"}],
            "deadline": {"kind": "ongoing"}, "reporting": {"every": "monthly", "day": 31}}),
        )
        .await?;
    assert_eq!(s, 201, "{d}");
    assert!(
        row(&d["units"], "街道安委办")["next_report_due"].is_string(),
        "{d}"
    );
    assert_eq!(d["deadline_text"], "常态化");
    assert_eq!(d["reporting_text"], "每月31日前");
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directive_input_errors_name_the_field_and_authority_errors_name_the_rule()
-> anyhow::Result<()> {
    let c = Cluster::start(&["530181", TOWN]).await?;
    let bad = |body: Value, field: &'static str| (body, field);
    let base = json!({"title": "t", "deadline": "2026-12-31"});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases = [
        bad(
            with(
                json!({"assignments": [{"role": "lead", "unit": TOWN}, {"role": "配合", "unit": "应急管理局"}, {"role": "lead", "unit": "5301"}]}),
            ),
            "assignments[2].unit",
        ),
        bad(
            with(json!({"assignments": [{"role": "督办", "unit": TOWN}]})),
            "assignments[0].role",
        ),
        bad(
            with(json!({"assignments": [{"unit": TOWN}]})),
            "assignments[0].role",
        ),
        bad(
            with(json!({"assignments": [{"role": "lead", "unit": ""}]})),
            "assignments[0].unit",
        ),
        bad(
            with(
                json!({"assignments": [{"role": "lead", "unit": TOWN}, {"role": "lead", "unit": TOWN}]}),
            ),
            "assignments[1].unit",
        ),
        bad(with(json!({})), "assignments"),
        bad(
            with(
                json!({"targets": [TOWN], "deadline": {"kind": "milestones", "milestones": [{"label": "6月底前", "date": "2026-06-31"}]}}),
            ),
            "deadline.milestones[0].date",
        ),
        bad(
            with(json!({"targets": [TOWN], "deadline": {"kind": "sometime"}})),
            "deadline",
        ),
        bad(
            with(json!({"targets": [TOWN], "reporting": {"every": "monthly", "day": 40}})),
            "reporting.day",
        ),
        bad(
            with(json!({"targets": [TOWN], "doc_number": "号".repeat(61)})),
            "doc_number",
        ),
    ];
    for (body, field) in cases {
        let (s, e) = c.post("530181", "/api/v1/directives", &body).await?;
        assert_eq!(s, 400, "{field}: {e}");
        assert_eq!(e["error"]["field"], field, "{e}");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(msg.contains(" / "), "message in Chinese and English: {msg}");
    }
    // A township has no child nodes for 各乡镇（街道）.
    let (s, e) = c
        .post(
            TOWN,
            "/api/v1/directives",
            &with(json!({"assignments": [{"role": "lead", "unit": "各乡镇（街道）"}]})),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("assignments[0].unit")),
        "{e}"
    );
    // Authority: the issuer cannot record the event of a plain deadline, a target cannot forward what it
    // was not given, nor record the issuer's department, nor set the event date.
    let (_, d) = c
        .post("530181", "/api/v1/directives", &with(json!({"assignments": [{"role": "lead", "unit": TOWN}, {"role": "配合", "unit": "安宁市应急管理局"}]})))
        .await?;
    let path = format!("/api/v1/directives/{}", id(&d));
    c.wait_for(TOWN, &path, "at township", |v| v["title"].is_string())
        .await?;
    let (s, e) = c
        .post(
            TOWN,
            &format!("{path}/responses"),
            &json!({"unit": "安宁市应急管理局", "action": "receive"}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["rule"].as_str()),
        (403, Some("issuer_only")),
        "{e}"
    );
    let (s, e) = c
        .post(
            TOWN,
            &format!("{path}/event"),
            &json!({"event_date": "2026-03-14"}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["rule"].as_str()),
        (403, Some("issuer_only")),
        "{e}"
    );
    let (s, e) = c
        .post(
            "530181",
            &format!("{path}/event"),
            &json!({"event_date": "2026-03-14"}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("event_date")),
        "{e}"
    );
    let (s, e) = c
        .post(
            "530181",
            &format!("{path}/forward"),
            &json!({"targets": [TOWN]}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["rule"].as_str()),
        (403, Some("own_response_only")),
        "{e}"
    );
    let (s, e) = c
        .post(
            "530181",
            &format!("{path}/responses"),
            &json!({"action": "receive"}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["rule"].as_str()),
        (403, Some("own_response_only")),
        "{e}"
    );
    let v = c.get("530181", "/api/v1/directives/vocabulary").await?.1;
    assert_eq!(
        v["categories"]["eight_actions"].as_array().unwrap().len(),
        8
    );
    c.shutdown().await;
    Ok(())
}

/// Issue 17, 审核 and 催办: the county issues to two townships; one completes (待审核, not yet 办结),
/// the county returns it with a reason (已退回: in progress again, the reason shown at the township),
/// the township reports progress and completes again (a new 待审核), the county approves (已办结,
/// counted in `done`). A 催办 to the other township is shown on its row and its task list, not on the
/// first's. Only the issuer reviews; a return needs a reason; an approved unit cannot be reviewed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_returns_then_approves_a_completion_and_reminds_one_unit() -> anyhow::Result<()> {
    const TOWN_B: &str = "530181007";
    let c = Cluster::start(&["530181", TOWN, TOWN_B]).await?;
    let (s, d) = c
        .post(
            "530181",
            "/api/v1/directives",
            &json!({"title": "开展燃气安全专项整治", "targets": [TOWN, TOWN_B], "deadline": "2099-12-31"}),
        )
        .await?;
    assert_eq!(s, 201, "{d}");
    let path = format!("/api/v1/directives/{}", id(&d));
    c.wait_for(TOWN, &path, "directive at township", |v| {
        v["id"].is_string()
    })
    .await?;
    // 1. The township completes: 待审核, its completion stands (not overdue), not yet 办结.
    let (s, v) = c
        .post(
            TOWN,
            &format!("{path}/responses"),
            &json!({"action": "complete", "note": "已完成排查"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(row(&v["units"], TOWN)["review"], "pending");
    assert_eq!(row(&v["units"], TOWN)["done"], true);
    assert_eq!(v["totals"]["done"], 0, "待审核 is not 办结");
    assert_eq!(v["totals"]["awaiting_review"], 1);
    let v = c
        .wait_for("530181", &path, "completion at county", |v| {
            row(&v["units"], TOWN)["review"] == "pending"
        })
        .await?;
    assert_eq!(v["totals"]["awaiting_review"], 1);
    // The county's page offers 审核通过 / 退回 on the completed unit.
    let county_page = page(&c, "530181", &id(&d)).await?;
    assert!(
        county_page.contains(&format!("name=\"unit\" value=\"{TOWN}\""))
            && county_page.contains("审核通过")
            && county_page.contains("退回原因"),
        "the issuer's review buttons"
    );
    // 2. The township may not review itself; a return needs a reason.
    let (s, e) = c
        .post(
            TOWN,
            &format!("{path}/reviews"),
            &json!({"unit": TOWN, "decision": "approve"}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["rule"].as_str()),
        (403, Some("issuer_only")),
        "{e}"
    );
    let (s, e) = c
        .post(
            "530181",
            &format!("{path}/reviews"),
            &json!({"unit": TOWN, "decision": "return"}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("reason")),
        "{e}"
    );
    // 3. The county returns it: back in progress, not done.
    let (s, v) = c
        .post(
            "530181",
            &format!("{path}/reviews"),
            &json!({"unit": TOWN, "decision": "return", "reason": "台账缺少企业签字"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(row(&v["units"], TOWN)["review"], "returned");
    assert_eq!(row(&v["units"], TOWN)["done"], false);
    // 4. The township sees 已退回 and the reason, reports progress and completes again.
    let v = c
        .wait_for(TOWN, &path, "return at township", |v| {
            row(&v["units"], TOWN)["review"] == "returned"
        })
        .await?;
    assert_eq!(
        row(&v["units"], TOWN)["last_review"]["reason"],
        "台账缺少企业签字"
    );
    assert_eq!(row(&v["units"], TOWN)["review_label"], "已退回");
    let town_page = page(&c, TOWN, &id(&d)).await?;
    assert!(
        town_page.contains("已退回：台账缺少企业签字"),
        "the township's page shows the return and its reason"
    );
    let (s, v) = c
        .post(
            TOWN,
            &format!("{path}/responses"),
            &json!({"action": "progress", "percent": 80, "note": "补签中"}),
        )
        .await?;
    assert_eq!(s, 201, "a returned unit reports progress again: {v}");
    let (s, v) = c
        .post(
            TOWN,
            &format!("{path}/responses"),
            &json!({"action": "complete"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(row(&v["units"], TOWN)["review"], "pending");
    assert_eq!(row(&v["units"], TOWN)["completions"], 2);
    // 5. The county approves the second completion: 已办结, counted as done; no second review.
    c.wait_for("530181", &path, "second completion at county", |v| {
        row(&v["units"], TOWN)["completions"] == 2
    })
    .await?;
    let (s, v) = c
        .post(
            "530181",
            &format!("{path}/reviews"),
            &json!({"unit": TOWN, "decision": "approve"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(row(&v["units"], TOWN)["review"], "approved");
    assert_eq!(v["totals"]["done"], 1);
    assert_eq!(v["totals"]["awaiting_review"], 0);
    let (s, e) = c
        .post(
            "530181",
            &format!("{path}/reviews"),
            &json!({"unit": TOWN, "decision": "return", "reason": "再查"}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (409, Some("unit")),
        "{e}"
    );
    let (s, e) = c
        .post(
            TOWN,
            &format!("{path}/responses"),
            &json!({"action": "complete"}),
        )
        .await?;
    assert_eq!(s, 409, "an approved unit does not complete again: {e}");
    // 6. 催办 to the other township: on its row and in its task list, not on the first's.
    let (s, e) = c
        .post(
            "530181",
            &format!("{path}/reminders"),
            &json!({"units": ["530181008"], "note": "x"}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("units[0]")),
        "{e}"
    );
    let (s, e) = c
        .post(
            TOWN_B,
            &format!("{path}/reminders"),
            &json!({"units": [TOWN_B], "note": "x"}),
        )
        .await?;
    assert_eq!(s, 403, "only the issuer reminds: {e}");
    let (s, v) = c
        .post(
            "530181",
            &format!("{path}/reminders"),
            &json!({"units": [TOWN_B], "note": "请于本周五前签收并报送进展"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    let v = c
        .wait_for(TOWN_B, &path, "reminder at the reminded township", |v| {
            row(&v["units"], TOWN_B)["reminders"]
                .as_array()
                .is_some_and(|a| a.len() == 1)
        })
        .await?;
    assert_eq!(
        row(&v["units"], TOWN_B)["reminders"][0]["note"],
        "请于本周五前签收并报送进展"
    );
    assert!(
        page(&c, TOWN_B, &id(&d))
            .await?
            .contains("请于本周五前签收并报送进展"),
        "the reminded township's page shows the reminder"
    );
    assert!(
        !page(&c, TOWN, &id(&d))
            .await?
            .contains("请于本周五前签收并报送进展"),
        "not the other township's"
    );
    assert_eq!(
        row(&v["units"], TOWN)["reminders"].as_array().map(Vec::len),
        Some(0),
        "not shown on the township not named"
    );
    let (s, l) = c
        .get(TOWN_B, &format!("/api/v1/directives?target={TOWN_B}"))
        .await?;
    assert_eq!(s, 200, "{l}");
    assert_eq!(
        l["items"][0]["mine"]["reminders"][0]["note"],
        "请于本周五前签收并报送进展"
    );
    let (_, l) = c
        .get(TOWN, &format!("/api/v1/directives?target={TOWN}"))
        .await?;
    assert_eq!(
        l["items"][0]["mine"]["reminders"].as_array().map(Vec::len),
        Some(0)
    );
    assert_eq!(l["items"][0]["mine"]["review"], "approved");
    c.shutdown().await;
    Ok(())
}

/// Issue 17, 临期 of directive targets: a unit not done, due within the node's warning days
/// (`hazards.due_soon_days`, default 3) from today, is 临期 on its row, in the totals and in its task
/// list (`due_soon=true` filters); a unit due later is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_due_within_the_warning_days_is_due_soon() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181", TOWN]).await?;
    // Two days from today in China time (UTC+8): within the default 3 days.
    let soon = time::OffsetDateTime::now_utc() + time::Duration::hours(8) + time::Duration::days(2);
    let soon = format!(
        "{:04}-{:02}-{:02}",
        soon.year(),
        soon.month() as u8,
        soon.day()
    );
    let mut ids = Vec::new();
    for deadline in [soon.as_str(), "2099-12-31"] {
        let (s, d) = c
            .post(
                "530181",
                "/api/v1/directives",
                &json!({"title": format!("任务 {deadline}"), "targets": [TOWN], "deadline": deadline}),
            )
            .await?;
        assert_eq!(s, 201, "{d}");
        let path = format!("/api/v1/directives/{}", id(&d));
        let v = c
            .wait_for(TOWN, &path, "directive at township", |v| {
                v["id"].is_string()
            })
            .await?;
        assert_eq!(
            row(&v["units"], TOWN)["due_soon"],
            deadline == soon,
            "{deadline}"
        );
        ids.push(id(&d));
    }
    let (_, l) = c
        .get(
            TOWN,
            &format!("/api/v1/directives?target={TOWN}&due_soon=true"),
        )
        .await?;
    assert_eq!(l["total"], 1, "{l}");
    assert_eq!(l["items"][0]["id"], ids[0]);
    assert_eq!(l["items"][0]["mine"]["due_soon"], true);
    assert_eq!(l["items"][0]["totals"]["due_soon"], 1);
    let (_, l) = c
        .get(
            TOWN,
            &format!("/api/v1/directives?target={TOWN}&due_soon=false"),
        )
        .await?;
    assert_eq!(l["items"][0]["id"], ids[1]);
    c.shutdown().await;
    Ok(())
}
