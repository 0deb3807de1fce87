//! 隐患 through the HTTP API: the registration facts, 编号, the 五落实 plan, the notify rule for major
//! hazards, escalation with a reply deadline, the ledger's filters, and escalation candidates across
//! two levels.

use safemesh_model::SectorEntry;
use safemesh_testkit::{Cluster, NodeSetup, hazard_json, plan_json};
use serde_json::{Value, json};

const TOWN: &str = "530181006";
const COUNTY: &str = "530181";

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

fn events(id: &str) -> String {
    format!("/api/v1/hazards/{id}/events")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_records_the_facts_and_numbers_per_owner() -> anyhow::Result<()> {
    let c = Cluster::start(&[TOWN]).await?;
    let mut body = hazard_json("液氨储罐区报警未联锁", "major", "2026-12-31");
    body["inspection_mode"] = json!("双随机");
    body["found_by_level"] = json!("province");
    body["found_on"] = json!("2023-10-09");
    body["location"] = json!({"division": "530181006201", "address": "某村化工园区"});
    let (s, h) = c.post(TOWN, "/api/v1/hazards", &body).await?;
    assert_eq!(s, 201, "{h}");
    let number = h["number"].as_str().unwrap().to_string();
    let parts: Vec<&str> = number.split('-').collect();
    assert_eq!((parts[0], parts[2]), (TOWN, "0001"), "{number}");
    assert_eq!(h["inspection_mode"], "双随机一公开");
    assert_eq!(h["found_by_level"], "53");
    assert_eq!(h["found_by_level_kind"], "province");
    assert_eq!(
        (h["stock"].as_str(), h["stock_label"].as_str()),
        (Some("stock"), Some("存量"))
    );
    assert_eq!(h["location"]["division"], "530181006201");
    assert_eq!(h["basis"]["clause"], "第十五项");
    assert_eq!(h["channel_label"], "督导检查发现");
    assert_eq!(h["grade_label"], "重大事故隐患");
    // The next one is numbered after it; found today it is 增量.
    let (_, h2) = c
        .post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("第二条", "general", "2099-12-31"),
        )
        .await?;
    assert_eq!(h2["number"], format!("{}-{}-0002", parts[0], parts[1]));
    assert_eq!(h2["stock"], "new");
    assert_eq!(h2["found_by_level"], TOWN);
    // A given number is kept, and unique per owner.
    let mut given = hazard_json("给定编号", "general", "2099-12-31");
    given["number"] = json!(format!("{TOWN}-2025-0042"));
    let (s, h3) = c.post(TOWN, "/api/v1/hazards", &given).await?;
    assert_eq!(
        (s, h3["number"].as_str()),
        (201, Some("530181006-2025-0042"))
    );
    let (s, e) = c.post(TOWN, "/api/v1/hazards", &given).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (409, Some("number")),
        "{e}"
    );
    // A known enterprise may be named by its credit code alone; an unknown one needs its name.
    let mut by_code = hazard_json("只填信用代码", "general", "2099-12-31");
    by_code["enterprise"] = json!({"credit_code": "91350200776049653A"});
    let (s, e) = c.post(TOWN, "/api/v1/hazards", &by_code).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("enterprise.name")),
        "{e}"
    );
    let ent = json!({"credit_code": "91350200776049653A", "name": "厦门某某化工有限公司", "sector": "危化"});
    let (s, v) = c.post(TOWN, "/api/v1/enterprises", &ent).await?;
    assert_eq!(s, 201, "{v}");
    let (s, h4) = c.post(TOWN, "/api/v1/hazards", &by_code).await?;
    assert_eq!(
        (s, h4["enterprise"]["name"].as_str()),
        (201, Some("厦门某某化工有限公司")),
        "{h4}"
    );
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_hazard_input_names_the_field_path_in_chinese_first() -> anyhow::Result<()> {
    let c = Cluster::start(&[TOWN]).await?;
    let cases = [
        (
            "inspection_mode",
            json!({"inspection_mode": "随便看看"}),
            Some("交叉互检"),
        ),
        ("inspection_mode", json!({"inspection_mode": null}), None),
        ("inspection_mode", json!({"channel": "企业自查上报"}), None),
        (
            "location.division",
            json!({"location": {"division": "530181007"}}),
            None,
        ),
        (
            "location.division",
            json!({"location": {"division": "530181006700"}}),
            None,
        ),
        (
            "found_by_level",
            json!({"found_by_level": "530181006001"}),
            None,
        ),
        ("found_by_level", json!({"found_by_level": "5302"}), None),
        ("number", json!({"number": "530181007-2026-0001"}), None),
        (
            "basis.clause",
            json!({"grade": "major", "basis": {"standard": "某标准"}}),
            None,
        ),
        ("stock", json!({"stock": "旧的"}), None),
        ("found_on", json!({"found_on": "2999-01-01"}), None),
        (
            "deadline",
            json!({"found_on": "2026-11-01", "deadline": "2026-10-01"}),
            None,
        ),
        ("sector", json!({"sector": "航天"}), Some("危险化学品")),
    ];
    for (field, patch, lists) in cases {
        let mut body = hazard_json("坏输入", "general", "2099-12-31");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, e) = c.post(TOWN, "/api/v1/hazards", &body).await?;
        assert_eq!(
            (s, e["error"]["field"].as_str()),
            (400, Some(field)),
            "{patch}: {e}"
        );
        let msg = e["error"]["message"].as_str().unwrap();
        // Chinese first, then English.
        let (zh, en) = msg.split_once(" / ").unwrap_or(("", ""));
        assert!(!zh.is_ascii() && !en.is_empty(), "{msg}");
        if let Some(word) = lists {
            assert!(msg.contains(word), "{msg}");
        }
    }
    assert!(
        c.get(TOWN, "/api/v1/hazards").await?.1["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn major_hazard_cannot_leave_open_before_notify() -> anyhow::Result<()> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    let (_, h) = c
        .post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("储罐区重大隐患", "major", "2099-12-31"),
        )
        .await?;
    let path = events(&id(&h));
    // Nothing moves before both are told.
    for kind in ["progress", "rectified"] {
        let (s, e) = c.post(TOWN, &path, &json!({"kind": kind})).await?;
        assert_eq!(s, 409, "{e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("主要负责人"),
            "{e}"
        );
    }
    let (s, e) = c.post(TOWN, &path, &plan_json("2099-12-01")).await?;
    assert_eq!(s, 409, "{e}");
    // A notify needs known recipients and a method.
    let (s, e) = c
        .post(
            TOWN,
            &path,
            &json!({"kind": "notify", "recipients": ["厂长"], "method": "电话"}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("recipients[0]")),
        "{e}"
    );
    let (s, e) = c
        .post(
            TOWN,
            &path,
            &json!({"kind": "notify", "recipients": ["主要负责人"]}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("method")),
        "{e}"
    );
    // Telling one is not enough.
    let (s, v) = c
        .post(
            TOWN,
            &path,
            &json!({"kind": "notify", "recipients": ["principal"], "method": "当面告知"}),
        )
        .await?;
    assert_eq!(
        (s, v["notified"].clone()),
        (201, json!(["主要负责人"])),
        "{v}"
    );
    let (s, e) = c.post(TOWN, &path, &plan_json("2099-12-01")).await?;
    assert_eq!(s, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("实际控制人"),
        "{e}"
    );
    let (s, v) = c
        .post(
            TOWN,
            &path,
            &json!({"kind": "notify", "recipients": ["实际控制人"], "method": "书面告知"}),
        )
        .await?;
    assert_eq!((s, v["fully_notified"].as_bool()), (201, Some(true)));
    // The plan: each of the five in place, checked field by field.
    let mut bad = plan_json("2099-12-01");
    bad["plan"]["funds_wan"] = json!(-3);
    let (s, e) = c.post(TOWN, &path, &bad).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("plan.funds_wan")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("整改资金不能为负数"),
        "{e}"
    );
    let (s, e) = c.post(TOWN, &path, &plan_json("2100-01-31")).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("plan.deadline")),
        "{e}"
    );
    let mut bad = plan_json("2099-12-01");
    bad["plan"]
        .as_object_mut()
        .unwrap()
        .remove("contingency_plan");
    let (s, e) = c.post(TOWN, &path, &bad).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("plan.contingency_plan")),
        "{e}"
    );
    let (s, e) = c.post(TOWN, &path, &json!({"kind": "plan"})).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("plan")),
        "{e}"
    );
    let (s, e) = c
        .post(TOWN, &path, &json!({"kind": "comment", "plan": {}}))
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("plan")),
        "{e}"
    );
    let (s, v) = c.post(TOWN, &path, &plan_json("2099-12-01")).await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["status"], "rectifying");
    assert_eq!(v["plan"]["funds_wan"], 12.5);
    assert_eq!(v["plan_complete"], true);
    assert_eq!(
        (v["deadline"].as_str(), v["effective_deadline"].as_str()),
        (Some("2099-12-31"), Some("2099-12-01"))
    );
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_needs_a_superior_a_method_and_a_reply_deadline() -> anyhow::Result<()> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    let (_, h) = c
        .post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("逾期隐患", "general", "2099-12-31"),
        )
        .await?;
    let hid = id(&h);
    let path = events(&hid);
    let esc = json!({"kind": "escalate", "method": "约谈", "reply_by": "2099-01-15"});
    let (s, e) = c.post(TOWN, &path, &esc).await?;
    assert_eq!(
        (s, e["error"]["rule"].as_str()),
        (403, Some("superior_only")),
        "{e}"
    );
    c.wait_for(
        COUNTY,
        &format!("/api/v1/hazards/{hid}"),
        "hazard at county",
        |v| v["id"] == hid.as_str(),
    )
    .await?;
    for (patch, field) in [
        (json!({"reply_by": null}), "reply_by"),
        (json!({"reply_by": "2000-01-01"}), "reply_by"),
        (json!({"method": "罚款"}), "method"),
    ] {
        let mut body = esc.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, e) = c.post(COUNTY, &path, &body).await?;
        assert_eq!(
            (s, e["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}: {e}"
        );
    }
    let (s, e) = c.post(TOWN, &path, &json!({"kind": "notify", "recipients": ["主要负责人"], "method": "x", "reply_by": "2099-01-01"})).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("reply_by")),
        "{e}"
    );
    let (s, v) = c.post(COUNTY, &path, &esc).await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        v["escalated"][0],
        json!({"by": COUNTY, "method": "约谈", "reply_by": "2099-01-15", "at": v["escalated"][0]["at"],
            "replied_at": null, "reply_late": false, "reply_days_late": null})
    );
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_filters_accept_what_a_clerk_types_and_name_bad_parameters() -> anyhow::Result<()> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    let mut old = hazard_json("液氨储罐区存量隐患", "major", "2026-02-01");
    old["found_on"] = json!("2023-05-01");
    let (_, a) = c.post(TOWN, "/api/v1/hazards", &old).await?;
    let mut fire = hazard_json("疏散通道堵塞", "general", "2099-12-31");
    fire["sector"] = json!("消防");
    fire["channel"] = json!("群众举报查实");
    fire["inspection_mode"] = json!("举报核查");
    let (_, b) = c.post(TOWN, "/api/v1/hazards", &fire).await?;
    // The county lists the fire hazard (挂牌督办) once it holds it.
    c.wait_converged(&id(&b), &[COUNTY, TOWN]).await?;
    let (s, v) = c
        .post(
            COUNTY,
            &events(&id(&b)),
            &json!({"kind": "supervise", "number": "督〔2026〕1号", "requirements": "按期整改"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    // The county's supervise reaches the township.
    c.wait_for(
        TOWN,
        &format!("/api/v1/hazards/{}", id(&b)),
        "supervised",
        |v| v["supervising"] == COUNTY,
    )
    .await?;
    let ids = |v: &Value| -> Vec<String> {
        let mut out: Vec<String> = v["items"].as_array().unwrap().iter().map(id).collect();
        out.sort();
        out
    };
    let mut both = vec![id(&a), id(&b)];
    both.sort();
    let number = a["number"].as_str().unwrap();
    for (query, want) in [
        ("grade=重大", vec![id(&a)]),
        ("sector=危化", vec![id(&a)]),
        ("sector=消防", vec![id(&b)]),
        ("channel=群众举报查实", vec![id(&b)]),
        ("channel=inspection", vec![id(&a)]),
        ("stock=存量", vec![id(&a)]),
        ("stock=new", vec![id(&b)]),
        ("overdue=true", vec![id(&a)]),
        ("overdue=false", vec![id(&b)]),
        ("supervised=true", vec![id(&b)]),
        ("supervised=false", vec![id(&a)]),
        ("status=open", both.clone()),
        ("q=通道", vec![id(&b)]),
        (&format!("q={number}") as &str, vec![id(&a)]),
    ] {
        let (s, v) = c.get(TOWN, &format!("/api/v1/hazards?{query}")).await?;
        assert_eq!(s, 200, "{query}: {v}");
        assert_eq!(ids(&v), want, "{query}");
    }
    let (_, v) = c.get(TOWN, &format!("/api/v1/hazards/{}", id(&a))).await?;
    assert_eq!(v["overdue"], true);
    assert!(v["days_overdue"].as_i64().unwrap() > 0);
    for (query, param) in [
        ("status=done", "status"),
        ("grade=huge", "grade"),
        ("sector=航天", "sector"),
        ("channel=rumour", "channel"),
        ("stock=old", "stock"),
        ("overdue=yes", "overdue"),
        ("supervised=maybe", "supervised"),
        ("owner=abc", "owner"),
    ] {
        let (s, e) = c.get(TOWN, &format!("/api/v1/hazards?{query}")).await?;
        assert_eq!(
            (s, e["error"]["field"].as_str()),
            (400, Some(param)),
            "{query}: {e}"
        );
    }
    c.shutdown().await;
    Ok(())
}

/// A township's overdue major hazard is a candidate for escalation at the county (and not at the
/// township, which cannot escalate its own); once the county escalates, it is no longer the county's
/// candidate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_major_hazard_is_an_escalation_candidate_until_the_county_escalates()
-> anyhow::Result<()> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    let candidates = "/api/v1/hazards/escalation-candidates";
    // 1. The township registers an overdue major hazard and a major one still in time.
    let mut late = hazard_json("尾矿库排洪设施淤堵", "major", "2026-02-01");
    late["found_on"] = json!("2026-01-10");
    let (s, h) = c.post(TOWN, "/api/v1/hazards", &late).await?;
    assert_eq!(s, 201, "{h}");
    let hid = id(&h);
    let (_, in_time) = c
        .post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("未到期", "major", "2099-12-31"),
        )
        .await?;
    // 2. Both reach the county.
    c.wait_converged(&hid, &[COUNTY, TOWN]).await?;
    c.wait_converged(&id(&in_time), &[COUNTY, TOWN]).await?;
    // 3. The county lists the overdue one, with its days overdue; the township lists nothing.
    let (s, v) = c.get(COUNTY, candidates).await?;
    assert_eq!(s, 200, "{v}");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["id"], hid.as_str());
    assert!(items[0]["days_overdue"].as_i64().unwrap() > 0);
    assert_eq!(items[0]["owner"], TOWN);
    // Nothing on the ladder yet: the suggested first step is 提醒 (a comment from above).
    assert_eq!(
        (
            items[0]["suggested"].as_str(),
            items[0]["suggested_kind"].as_str()
        ),
        (Some("提醒"), Some("comment")),
        "{v}"
    );
    assert!(
        c.get(TOWN, candidates).await?.1["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // 4. The county escalates (通报, reply within a deadline): no longer its candidate.
    let (s, e) = c
        .post(
            COUNTY,
            &events(&hid),
            &json!({"kind": "escalate", "method": "通报", "reply_by": "2099-01-31"}),
        )
        .await?;
    assert_eq!(s, 201, "{e}");
    assert!(
        c.get(COUNTY, candidates).await?.1["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // 5. The escalation reaches the township.
    c.wait_for(
        TOWN,
        &format!("/api/v1/hazards/{hid}"),
        "escalation at township",
        |v| v["escalations"] == json!(["通报"]),
    )
    .await?;
    c.shutdown().await;
    Ok(())
}

/// A node's config adds a sector and an alias: the township accepts them for hazards, enterprises and
/// ledger filters, and stores the canonical name; the county, without that config, does not know them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sectors_added_in_a_nodes_config_are_accepted_there() -> anyhow::Result<()> {
    let mut c = Cluster::empty()?;
    c.add(COUNTY, NodeSetup::default()).await?;
    let sectors = vec![
        SectorEntry {
            name: "民爆".into(),
            aliases: vec!["民用爆炸物品".into()],
        },
        SectorEntry {
            name: "冶金工贸".into(),
            aliases: vec!["有色".into()],
        },
    ];
    c.add(
        TOWN,
        NodeSetup {
            sectors,
            ..NodeSetup::default()
        },
    )
    .await?;
    let mut h = hazard_json("炸药库防雷设施失效", "general", "2099-12-31");
    h["sector"] = json!("民用爆炸物品");
    let (s, v) = c.post(TOWN, "/api/v1/hazards", &h).await?;
    assert_eq!((s, v["sector"].as_str()), (201, Some("民爆")), "{v}");
    h["sector"] = json!("有色");
    let (s, v) = c.post(TOWN, "/api/v1/hazards", &h).await?;
    assert_eq!((s, v["sector"].as_str()), (201, Some("冶金工贸")), "{v}");
    let (_, list) = c.get(TOWN, "/api/v1/hazards?sector=民用爆炸物品").await?;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let ent =
        json!({"credit_code": "91350200776049653A", "name": "某民爆器材公司", "sector": "民爆"});
    assert_eq!(c.post(TOWN, "/api/v1/enterprises", &ent).await?.0, 201);
    // The county's dictionary is the seed one; the error lists what it accepts.
    h["sector"] = json!("民爆");
    let (s, e) = c.post(COUNTY, "/api/v1/hazards", &h).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("sector")),
        "{e}"
    );
    assert!(
        !e["error"]["message"].as_str().unwrap().contains("民爆、"),
        "{e}"
    );
    c.shutdown().await;
    Ok(())
}

/// China's calendar day `days` from today, `YYYY-MM-DD`.
fn china_day(days: i64) -> String {
    let d = (time::OffsetDateTime::now_utc() + time::Duration::hours(8)).date()
        + time::Duration::days(days);
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

/// 临期, 延期 and 书面回复 across two levels: a hazard due in two days is 临期 at the owner; the owner
/// asks for an extension with a reason, may not decide it itself, and the county approves it, which
/// moves the deadline in force (the registered one stays); the county's 函告 waits for its written
/// reply at the county until the owner records it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_soon_extension_and_written_reply_across_two_levels() -> anyhow::Result<()> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    let soon = china_day(2);
    let (s, h) = c
        .post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("临期隐患", "general", &soon),
        )
        .await?;
    assert_eq!(s, 201, "{h}");
    assert_eq!(h["due_soon"], true, "{h}");
    let hid = id(&h);
    let (_, later) = c
        .post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("远期隐患", "general", "2099-12-31"),
        )
        .await?;
    assert_eq!(later["due_soon"], false);
    let (s, v) = c.get(TOWN, "/api/v1/hazards?due_soon=true").await?;
    assert_eq!(s, 200, "{v}");
    let ids: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert_eq!(ids, vec![hid.as_str()], "{v}");
    let (s, v) = c.get(TOWN, "/api/v1/hazards?due_soon=false").await?;
    assert_eq!((s, v["total"].as_u64()), (200, Some(1)), "{v}");
    let (s, e) = c.get(TOWN, "/api/v1/hazards?due_soon=maybe").await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("due_soon")),
        "{e}"
    );

    // 延期: a reason and a later day are required.
    let path = events(&hid);
    let target = china_day(40);
    for (body, field) in [
        (
            json!({"kind": "extend_request", "new_deadline": target}),
            "note",
        ),
        (
            json!({"kind": "extend_request", "new_deadline": soon, "note": "设备到货延迟"}),
            "new_deadline",
        ),
        (
            json!({"kind": "comment", "new_deadline": target, "note": "x"}),
            "new_deadline",
        ),
        (json!({"kind": "extend_decision", "note": "x"}), "approved"),
    ] {
        let (s, e) = c.post(TOWN, &path, &body).await?;
        assert_eq!(
            (s, e["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}: {e}"
        );
    }
    let (s, v) = c
        .post(
            TOWN,
            &path,
            &json!({"kind": "extend_request", "new_deadline": target, "note": "设备到货延迟"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["extension_pending"]["new_deadline"], target.as_str());
    let (s, e) = c
        .post(
            TOWN,
            &path,
            &json!({"kind": "extend_request", "new_deadline": china_day(50), "note": "再延"}),
        )
        .await?;
    assert_eq!(s, 409, "one request at a time: {e}");
    let (s, e) = c
        .post(
            TOWN,
            &path,
            &json!({"kind": "extend_decision", "approved": true}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["rule"].as_str()),
        (403, Some("parent_decides")),
        "{e}"
    );
    c.wait_for(
        COUNTY,
        &format!("/api/v1/hazards/{hid}"),
        "request at county",
        |v| v["extension_pending"].is_object(),
    )
    .await?;
    let (s, v) = c
        .post(
            COUNTY,
            &path,
            &json!({"kind": "extend_decision", "approved": true, "note": "同意"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (
            v["effective_deadline"].as_str(),
            v["deadline"].as_str(),
            v["extended"].as_u64(),
            v["due_soon"].as_bool()
        ),
        (
            Some(target.as_str()),
            Some(soon.as_str()),
            Some(1),
            Some(false)
        ),
        "{v}"
    );
    assert!(v["extension_pending"].is_null());
    let (s, e) = c
        .post(
            COUNTY,
            &path,
            &json!({"kind": "extend_decision", "approved": false, "note": "x"}),
        )
        .await?;
    assert_eq!(s, 409, "nothing pending: {e}");

    // 书面回复: the county's 函告 is owed a reply, listed at the county until the owner records it.
    let replies = "/api/v1/hazards/replies-due";
    let (s, v) = c
        .post(
            COUNTY,
            &path,
            &json!({"kind": "escalate", "method": "函告", "reply_by": china_day(0)}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    let (s, v) = c.get(COUNTY, replies).await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["office"], COUNTY);
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(
        (
            items[0]["id"].as_str(),
            items[0]["method"].as_str(),
            items[0]["late"].as_bool()
        ),
        (Some(hid.as_str()), Some("函告"), Some(false))
    );
    assert!(
        c.get(TOWN, replies).await?.1["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    c.wait_for(
        TOWN,
        &format!("/api/v1/hazards/{hid}"),
        "escalation at township",
        |v| v["escalations"] == json!(["函告"]),
    )
    .await?;
    let (s, e) = c
        .post(
            TOWN,
            &path,
            &json!({"kind": "reply", "to": COUNTY, "method": "通报", "note": "已整改"}),
        )
        .await?;
    assert_eq!(s, 409, "no 通报 to answer: {e}");
    let (s, e) = c
        .post(
            TOWN,
            &path,
            &json!({"kind": "reply", "to": COUNTY, "method": "函告"}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("note")),
        "{e}"
    );
    let (s, v) = c
        .post(TOWN, &path, &json!({"kind": "reply", "to": COUNTY, "method": "函告", "note": "已按要求整改，详见附件"}))
        .await?;
    assert_eq!(s, 201, "{v}");
    assert!(v["escalated"][0]["replied_at"].is_string(), "{v}");
    c.wait_for(COUNTY, replies, "reply at county", |v| {
        v["items"].as_array().is_some_and(|a| a.is_empty())
    })
    .await?;
    c.shutdown().await;
    Ok(())
}

/// seed 002 #6: 法定代表人, 主要负责人, 实际控制人 and 实际负责人 are four posts. Each is recorded on the
/// enterprise and told on its own, with the person's name; telling one never tells another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_four_posts_are_told_apart_and_by_name() -> anyhow::Result<()> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    // 1. The enterprise names the four people.
    let (s, e) = c
        .post(
            TOWN,
            "/api/v1/enterprises",
            &json!({"credit_code": "91350200776049653A", "name": "安宁某某化工有限公司", "sector": "危化品",
                    "legal_representative": "赵某", "principal": "王某", "controller": "李某",
                    "actual_manager": "孙某"}),
        )
        .await?;
    assert_eq!(s, 201, "{e}");
    assert_eq!(
        [
            &e["legal_representative"],
            &e["principal"],
            &e["controller"],
            &e["actual_manager"]
        ],
        [
            &json!("赵某"),
            &json!("王某"),
            &json!("李某"),
            &json!("孙某")
        ]
    );
    let (_, h) = c
        .post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("液氨储罐区重大隐患", "major", "2099-12-31"),
        )
        .await?;
    let path = events(&id(&h));
    // 2. Telling the 法定代表人 and the 实际负责人 tells neither the 主要负责人 nor the 实际控制人.
    let (s, v) = c
        .post(
            TOWN,
            &path,
            &json!({"kind": "notify", "recipients": ["法定代表人", "actual_manager"], "method": "书面告知",
                    "recipient_names": {"法定代表人": "赵某", "实际负责人": "孙某"}}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["notified"], json!(["法定代表人", "实际负责人"]));
    assert_eq!(v["fully_notified"], false);
    assert_eq!(
        v["events"][1]["recipient_names"],
        json!({"法定代表人": "赵某", "实际负责人": "孙某"})
    );
    let (s, e) = c.post(TOWN, &path, &plan_json("2099-12-01")).await?;
    assert_eq!(s, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("尚未告知: 主要负责人、实际控制人"),
        "{e}"
    );
    // A name for a post not told is refused, naming it.
    let (s, e) = c
        .post(
            TOWN,
            &path,
            &json!({"kind": "notify", "recipients": ["主要负责人"], "method": "书面告知",
                    "recipient_names": {"实际控制人": "李某"}}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("recipient_names.实际控制人")),
        "{e}"
    );
    // 3. The two the rule names, by name: now it may move.
    let (s, v) = c
        .post(
            TOWN,
            &path,
            &json!({"kind": "notify", "recipients": ["主要负责人", "实际控制人"], "method": "当面告知",
                    "recipient_names": {"主要负责人": "王某", "实际控制人": "李某"}}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        v["notified"],
        json!(["法定代表人", "主要负责人", "实际控制人", "实际负责人"])
    );
    assert_eq!(
        v["notified_names"],
        json!({"法定代表人": "赵某", "主要负责人": "王某", "实际控制人": "李某", "实际负责人": "孙某"})
    );
    assert_eq!(c.post(TOWN, &path, &plan_json("2099-12-01")).await?.0, 201);
    // 4. The county reads the same history.
    let at = format!("/api/v1/hazards/{}", id(&h));
    let v = c
        .wait_for(COUNTY, &at, "notify at the county", |v| {
            v["status"] == "rectifying"
        })
        .await?;
    assert_eq!(v["notified_names"]["主要负责人"], "王某");
    assert_eq!(v["events"][2]["recipient_names"]["实际控制人"], "李某");
    // 5. The page shows who was told by name, and the notify form offers the four posts, the
    //    enterprise's people filled in.
    let (_, tok) = c
        .post(
            TOWN,
            "/api/v1/tokens",
            &json!({"name": "王芳", "role": "editor"}),
        )
        .await?;
    let base = c.node(TOWN).http_url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let cookie = safemesh_testkit::web_login(&http, &base, tok["secret"].as_str().unwrap()).await?;
    let html = http
        .get(format!("{base}/hazards/{}", id(&h)))
        .header("Cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    assert!(
        html.contains("主要负责人（王某）、实际控制人（李某）"),
        "who was told"
    );
    for (post, person) in [("法定代表人", "赵某"), ("实际负责人", "孙某")] {
        assert!(
            html.contains(&format!(r#"name="recipient_name.{post}" value="{person}""#)),
            "{post}"
        );
    }
    c.shutdown().await;
    Ok(())
}

/// 隐患所在: a road, a self-built house (自建房), a public place has no enterprise: it is registered with
/// its location and the unit responsible for it, filtered by what it is at, replicated like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hazard_without_an_enterprise_names_its_place_and_its_responsible_unit()
-> anyhow::Result<()> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    let road = json!({
        "title": "县道X012 禄脿段急弯处护栏缺失", "sector": "道路交通", "grade": "general",
        "channel": "inspection", "inspection_mode": "日常巡查", "subject": "道路",
        "responsible_unit": "安宁市交通运输局",
        "location": {"division": "530181006", "address": "县道X012 K3+200 急弯处"},
        "deadline": "2099-12-31"
    });
    // 1. Without an enterprise the responsible unit and the address are required, each named.
    let mut no_unit = road.clone();
    no_unit.as_object_mut().unwrap().remove("responsible_unit");
    let (s, e) = c.post(TOWN, "/api/v1/hazards", &no_unit).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("responsible_unit")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("道路的隐患没有企业"),
        "{e}"
    );
    let mut no_address = road.clone();
    no_address["location"] = json!({"division": "530181006"});
    let (s, e) = c.post(TOWN, "/api/v1/hazards", &no_address).await?;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("location.address"))
    );
    let mut bad = road.clone();
    bad["subject"] = json!("河道");
    let (s, e) = c.post(TOWN, "/api/v1/hazards", &bad).await?;
    assert_eq!((s, e["error"]["field"].as_str()), (400, Some("subject")));
    // An enterprise's hazard (the default) still needs its enterprise, and the refusal says what to do.
    let mut ent = road.clone();
    ent.as_object_mut().unwrap().remove("subject");
    let (s, e) = c.post(TOWN, "/api/v1/hazards", &ent).await?;
    assert_eq!((s, e["error"]["field"].as_str()), (400, Some("enterprise")));
    assert!(
        e["error"]["message"].as_str().unwrap().contains("责任单位"),
        "{e}"
    );

    // 2. Registered without an enterprise: a road, and a self-built house.
    let (s, h) = c.post(TOWN, "/api/v1/hazards", &road).await?;
    assert_eq!(s, 201, "{h}");
    assert_eq!(h["subject"], "road");
    assert_eq!(h["responsible_unit"], "安宁市交通运输局");
    assert_eq!(h["enterprise"]["name"], "");
    let house = json!({
        "title": "某村三层自建房擅自加层，墙体开裂", "sector": "自建房", "grade": "major",
        "channel": "public_report", "subject": "self_built_house", "responsible_unit": "房屋产权人 张某；某村村民委员会",
        "location": {"division": "530181006201", "address": "某村 12 号"},
        "basis": {"standard": "《城镇房屋安全隐患排查整治指引》", "clause": "擅自加层"},
        "deadline": "2099-06-30"
    });
    let (s, hh) = c.post(TOWN, "/api/v1/hazards", &house).await?;
    assert_eq!(s, 201, "{hh}");
    // 3. The ledger filters by what a hazard is at; the enterprise's hazards are untouched.
    let (s, _) = c
        .post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("液氨储罐区报警未联锁", "general", "2099-12-31"),
        )
        .await?;
    assert_eq!(s, 201);
    for (subject, n) in [
        ("道路", 1),
        ("self_built_house", 1),
        ("enterprise", 1),
        ("public_place", 0),
    ] {
        let (_, page) = c
            .get(TOWN, &format!("/api/v1/hazards?subject={subject}"))
            .await?;
        assert_eq!(page["total"], n, "{subject}: {page}");
    }
    let (s, e) = c.get(TOWN, "/api/v1/hazards?subject=河道").await?;
    assert_eq!((s, e["error"]["field"].as_str()), (400, Some("subject")));
    // 4. It replicates like any hazard (the major one to the county too).
    let v = c
        .wait_for(
            COUNTY,
            &format!("/api/v1/hazards/{}", id(&hh)),
            "house at county",
            |v| v["id"] == hh["id"],
        )
        .await?;
    assert_eq!(v["subject"], "self_built_house");
    assert_eq!(v["responsible_unit"], "房屋产权人 张某；某村村民委员会");
    // 5. The web form registers one, and the page shows the place and the unit.
    let (_, tok) = c
        .post(
            TOWN,
            "/api/v1/tokens",
            &json!({"name": "王芳", "role": "editor"}),
        )
        .await?;
    let base = c.node(TOWN).http_url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let cookie = safemesh_testkit::web_login(&http, &base, tok["secret"].as_str().unwrap()).await?;
    let form = http
        .get(format!("{base}/hazards/new"))
        .header("Cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    let at = form.find("name=\"_csrf\" value=\"").unwrap() + 20;
    let csrf = form[at..at + 64].to_string();
    let r = http
        .post(format!("{base}/hazards/new"))
        .header("Cookie", &cookie)
        .header("Origin", &base)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("title", "农贸市场顶棚钢结构锈蚀"),
            ("sector", "其他"),
            ("grade", "general"),
            ("channel", "inspection"),
            ("inspection_mode", "日常检查"),
            ("subject", "public_place"),
            ("responsible_unit", "禄脿街道农贸市场管理所"),
            ("location.division", "530181006"),
            ("location.address", "禄脿农贸市场"),
            ("deadline", "2099-12-31"),
        ])
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 303, "{}", r.text().await?);
    let to = r.headers()["location"].to_str()?.to_string();
    let page = http
        .get(format!("{base}{to}"))
        .header("Cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    assert!(
        page.contains("公共场所") && page.contains("禄脿街道农贸市场管理所"),
        "{page}"
    );
    let ledger = http
        .get(format!("{base}/hazards?subject=public_place"))
        .header("Cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    assert!(
        ledger.contains("公共场所 · 禄脿街道农贸市场管理所"),
        "the ledger's 单位"
    );
    c.shutdown().await;
    Ok(())
}

/// 待验收与逾期 (the 口径 in DOMAIN.md): a hazard reported rectified on or before its deadline waits for
/// acceptance as 待验收, never 逾期, in the hazard, the ledger's filter and order and the roll-up; one
/// reported late stays 逾期 by the days it was late. The acceptor's delay past its acceptance period
/// (10 days) is shown at the acceptor's level — the owner for an unlisted hazard, the supervising level
/// once listed. The history comes from an imported ledger, which dates each step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hazard_reported_rectified_on_time_awaits_acceptance_and_is_not_overdue()
-> anyhow::Result<()> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    let d = china_day;
    let csv = format!(
        "隐患名称,行业领域,隐患等级,发现渠道,发现日期,单位名称,整改期限,整改状态,整改完成日期\n\
         按期报告待验收,工贸,一般,企业自查上报,{f},甲公司,{dl},待验收,{on_time}\n\
         逾期报告待验收,工贸,一般,企业自查上报,{f},乙公司,{dl},待验收,{late}\n\
         逾期仍在整改,工贸,一般,企业自查上报,{f},丙公司,{dl},整改中,\n\
         刚报告整改完成,工贸,一般,企业自查上报,{f},丁公司,{soon},待验收,{yesterday}\n",
        f = d(-40),
        dl = d(-20),
        on_time = d(-25),
        late = d(-12),
        soon = d(2),
        yesterday = d(-1),
    );
    let n = c.node(TOWN);
    let part = reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("台账.csv");
    let r = c
        .client()
        .post(format!("{}/api/v1/hazards/import", n.http_url()))
        .bearer_auth(&n.token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await?;
    let v: Value = r.json().await?;
    assert_eq!(v["created"], 4, "{v}");
    let (_, page) = c.get(TOWN, "/api/v1/hazards?limit=10").await?;
    let by = |title: &str| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["title"] == title)
            .cloned()
            .unwrap()
    };
    // 1. Reported 5 days before the deadline, 20 days past it now: 待验收, not 逾期; the owner (it is
    //    not listed) is 15 days past its 10 days to accept.
    let h = by("按期报告待验收");
    assert_eq!(h["status"], "pending_acceptance");
    assert_eq!(
        (h["overdue"].as_bool(), h["days_overdue"].as_i64()),
        (Some(false), None),
        "{h}"
    );
    assert_eq!(h["rectified_on"].as_str(), Some(d(-25).as_str()));
    assert_eq!(h["acceptor"], TOWN);
    assert_eq!(h["acceptance_due"].as_str(), Some(d(-15).as_str()));
    assert_eq!(h["acceptance_days_overdue"], 15);
    // Reported 8 days late: 逾期 by those 8 days; the acceptor's own delay beside it.
    let late = by("逾期报告待验收");
    assert_eq!(
        (late["overdue"].as_bool(), late["days_overdue"].as_i64()),
        (Some(true), Some(8))
    );
    assert_eq!(late["acceptance_days_overdue"], 2);
    let open = by("逾期仍在整改");
    assert_eq!(open["days_overdue"], 20);
    // Reported yesterday, due in two days: neither 逾期 nor 临期 (the owner's part is done).
    let soon = by("刚报告整改完成");
    assert_eq!(
        (soon["overdue"].as_bool(), soon["due_soon"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(soon["acceptance_overdue"], false);

    // 2. The ledger's filters and order count the same way.
    let titles = |p: &Value| -> Vec<String> {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["title"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, p) = c.get(TOWN, "/api/v1/hazards?overdue=true").await?;
    let mut t = titles(&p);
    t.sort();
    assert_eq!(t, ["逾期仍在整改", "逾期报告待验收"], "{p}");
    let (_, p) = c.get(TOWN, "/api/v1/hazards?overdue=false").await?;
    assert_eq!(p["total"], 2);
    let (_, p) = c.get(TOWN, "/api/v1/hazards?due_soon=true").await?;
    assert_eq!(p["total"], 0);
    let (_, p) = c.get(TOWN, "/api/v1/hazards?sort=overdue").await?;
    let t = titles(&p);
    assert!(
        t[..2].iter().all(|x| x.starts_with("逾期")),
        "overdue first: {t:?}"
    );
    // And the roll-up: 2 逾期 at the township, not 3.
    c.wait_for(TOWN, "/api/v1/rollup", "roll-up", |v| {
        v["hazards"]["total"] == 4
    })
    .await?;
    let (_, roll) = c.get(TOWN, "/api/v1/rollup").await?;
    assert_eq!(roll["hazards"]["overdue"], 2, "{roll}");
    assert_eq!(roll["hazards"]["due_soon"], 0, "{roll}");

    // 3. The acceptor's list: the owner accepts what is not listed, the most late first.
    let (_, due) = c.get(TOWN, "/api/v1/hazards/acceptance-due").await?;
    assert_eq!(due["office"], TOWN);
    assert_eq!(
        titles(&due),
        ["按期报告待验收", "逾期报告待验收", "刚报告整改完成"],
        "{due}"
    );
    // 4. Listed by the county, the hazard's acceptance is the county's: its delay shows there.
    let path = format!("/api/v1/hazards/{}", id(&h));
    c.wait_for(COUNTY, &path, "hazard at the county", |v| {
        v["id"] == h["id"]
    })
    .await?;
    let (s, v) = c
        .post(
            COUNTY,
            &events(&id(&h)),
            &json!({"kind": "supervise", "number": "督〔2026〕1号", "requirements": "按期整改"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["acceptor"].as_str(), v["overdue"].as_bool()),
        (Some(COUNTY), Some(false))
    );
    let (_, due) = c.get(COUNTY, "/api/v1/hazards/acceptance-due").await?;
    assert_eq!(titles(&due), ["按期报告待验收"], "{due}");
    assert_eq!(due["items"][0]["acceptance_days_overdue"], 15);
    c.wait_for(TOWN, &path, "the listing at the township", |v| {
        v["supervising"] == COUNTY
    })
    .await?;
    let (_, due) = c.get(TOWN, "/api/v1/hazards/acceptance-due").await?;
    assert_eq!(
        titles(&due),
        ["逾期报告待验收", "刚报告整改完成"],
        "no longer the township's to accept"
    );
    // 5. The page says it: 待验收 on time, the county's delay, no 逾期 badge.
    let base = c.node(TOWN).http_url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let cookie = safemesh_testkit::web_login(&http, &base, c.node(TOWN).token.as_str()).await?;
    let html = http
        .get(format!("{base}/hazards/{}", id(&h)))
        .header("Cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    assert!(
        html.contains(&format!("{} 报告整改完成（按期），待安宁市验收", d(-25))),
        "the page says who accepts"
    );
    assert!(html.contains("验收超期 15 天") && !html.contains("逾期 20 天"));
    c.shutdown().await;
    Ok(())
}

/// Issue 17, 挂牌督办 as a document: a county lists a major hazard it registered itself (its own
/// finding) with 督办编号, 督办要求 and 督办期限 — each checked, the number and requirements required —
/// and the hazard shows the listing; a general hazard it may not list itself. 摘牌 before acceptance
/// does not fit (409); once the county (the supervising level) has accepted, it lifts the listing and
/// the hazard is no longer supervised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_lists_its_own_major_hazard_and_lifts_it_after_acceptance() -> anyhow::Result<()>
{
    let c = Cluster::start(&[COUNTY]).await?;
    let (s, h) = c
        .post(
            COUNTY,
            "/api/v1/hazards",
            &hazard_json("县级检查发现的液氨储罐区隐患", "major", "2099-12-31"),
        )
        .await?;
    assert_eq!(s, 201, "{h}");
    let ev = events(&id(&h));
    // A listing's document is checked, the field named.
    for (body, field) in [
        (
            json!({"kind": "supervise", "requirements": "限期整改"}),
            "number",
        ),
        (
            json!({"kind": "supervise", "number": "禄安办督〔2026〕3号"}),
            "requirements",
        ),
        (
            json!({"kind": "supervise", "number": "禄安办督〔2026〕3号", "requirements": "限期整改", "due": "2099-02-30"}),
            "due",
        ),
        (json!({"kind": "comment", "number": "x"}), "number"),
    ] {
        let (s, e) = c.post(COUNTY, &ev, &body).await?;
        assert_eq!(
            (s, e["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}: {e}"
        );
    }
    let (s, v) = c
        .post(
            COUNTY,
            &ev,
            &json!({"kind": "supervise", "number": "禄安办督〔2026〕3号",
                    "requirements": "12月底前完成紧急切断联锁改造，每半月报送进展", "due": "2099-12-31"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["supervising"], COUNTY);
    assert_eq!(v["listing"]["number"], "禄安办督〔2026〕3号");
    assert_eq!(
        v["listing"]["requirements"],
        "12月底前完成紧急切断联锁改造，每半月报送进展"
    );
    assert_eq!(v["listing"]["due"], "2099-12-31");
    assert_eq!(v["listing"]["by"], COUNTY);
    // 摘牌 before acceptance: refused as not fitting the lifecycle.
    let (s, e) = c.post(COUNTY, &ev, &json!({"kind": "lift"})).await?;
    assert_eq!(s, 409, "{e}");
    // Told, planned, rectified, accepted by the county, then lifted.
    let (s, e) = c
        .post(
            COUNTY,
            &ev,
            &json!({"kind": "notify", "recipients": ["主要负责人", "实际控制人"], "method": "书面告知"}),
        )
        .await?;
    assert_eq!(s, 201, "{e}");
    for body in [
        plan_json("2099-12-01"),
        json!({"kind": "rectified"}),
        json!({"kind": "accept"}),
    ] {
        let (s, e) = c.post(COUNTY, &ev, &body).await?;
        assert_eq!(s, 201, "{body}: {e}");
    }
    let (s, v) = c
        .post(
            COUNTY,
            &ev,
            &json!({"kind": "lift", "note": "已验收，摘牌"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert!(v["supervising"].is_null(), "{v}");
    assert!(v["listing"].is_null(), "{v}");
    // A general hazard the county registered: not its own to list.
    let (_, g) = c
        .post(
            COUNTY,
            "/api/v1/hazards",
            &hazard_json("一般隐患", "general", "2099-12-31"),
        )
        .await?;
    let (s, e) = c
        .post(
            COUNTY,
            &events(&id(&g)),
            &json!({"kind": "supervise", "number": "禄安办督〔2026〕4号", "requirements": "限期整改"}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["rule"].as_str()),
        (403, Some("superior_only")),
        "{e}"
    );
    c.shutdown().await;
    Ok(())
}
