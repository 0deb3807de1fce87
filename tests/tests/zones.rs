//! 功能区 — a functional zone run by a county (seed 002 第 3 条: a district's 各镇（街道）、物流园、
//! 新城管理局; seed 004 “功能区”) on real links: the county lists the zone in `extra_children`, the zone
//! names the county as `parent_code`. The zone's code (530171) is, by its prefix, directly under the
//! city 5301, so every check below would come out otherwise if scope or roll-ups followed the prefix.
//!
//! Absences are checked after a record written later on the same links has arrived: links send in
//! sequence order, so what was in scope would have come first.

use anyhow::{Context, ensure};
use safemesh_testkit::{Cluster, NodeSetup, hazard_json};
use serde_json::{Value, json};

const ZONE: &str = "530171";
const COUNTY: &str = "530181";

async fn zone_cluster() -> anyhow::Result<Cluster> {
    let mut c = Cluster::empty()?;
    c.add("53", NodeSetup::default()).await?;
    c.add("5301", NodeSetup::default()).await?;
    c.add(
        COUNTY,
        NodeSetup {
            extra_children: vec![ZONE.into()],
            ..NodeSetup::default()
        },
    )
    .await?;
    c.add(
        ZONE,
        NodeSetup {
            dial: Some(COUNTY.into()),
            parent_code: Some(COUNTY.into()),
            name: Some("安宁物流园管委会".into()),
            ..NodeSetup::default()
        },
    )
    .await?;
    Ok(c)
}

async fn hazard(c: &Cluster, node: &str, title: &str, grade: &str) -> anyhow::Result<String> {
    let (s, h) = c
        .post(
            node,
            "/api/v1/hazards",
            &hazard_json(title, grade, "2026-12-31"),
        )
        .await?;
    ensure!(s == 201, "{s} {h}");
    Ok(h["id"].as_str().context("id")?.to_string())
}

fn child<'a>(rollup: &'a Value, code: &str) -> Option<&'a Value> {
    rollup["children"]
        .as_array()
        .and_then(|l| l.iter().find(|c| c["code"] == code))
}

fn total(v: &Value) -> u64 {
    v["hazards"]["total"].as_u64().unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_replicates_and_rolls_up_along_its_configured_chain() -> anyhow::Result<()> {
    let c = zone_cluster().await?;

    // 1. A general hazard of the zone goes to the county it names, and a major one to the county and
    //    every level above it.
    let general = hazard(&c, ZONE, "物流园一般隐患", "general").await?;
    let major = hazard(&c, ZONE, "物流园重大隐患", "major").await?;
    for (node, id) in [
        (COUNTY, &general),
        (COUNTY, &major),
        ("5301", &major),
        ("53", &major),
    ] {
        c.wait_for(node, &format!("/api/v1/hazards/{id}"), "zone hazard", |v| {
            v["id"] == id.as_str()
        })
        .await?;
    }
    let (s, v) = c.get(COUNTY, &format!("/api/v1/hazards/{general}")).await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["owner_parent"], COUNTY, "{v}");
    // Not the city (the zone's prefix parent): the major hazard, written after it, is there already.
    let (s, v) = c.get("5301", &format!("/api/v1/hazards/{general}")).await?;
    assert_eq!(s, 404, "the general hazard reached the city: {v}");

    // 2. The county is the general hazard's superior: its comment is taken on every hop and reaches
    //    the zone; the city, not in the chain of a general hazard, may not act on the major one's
    //    sibling — but is a superior of the major one.
    let (s, v) = c
        .post(
            COUNTY,
            &format!("/api/v1/hazards/{general}/events"),
            &json!({"kind": "comment", "note": "请物流园三日内报送整改方案"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    c.wait_for(
        ZONE,
        &format!("/api/v1/hazards/{general}"),
        "county comment at zone",
        |v| {
            v["events"].as_array().is_some_and(|e| {
                e.iter()
                    .any(|e| e["kind"] == "comment" && e["by"] == COUNTY)
            })
        },
    )
    .await?;
    let (s, v) = c
        .post(
            "5301",
            &format!("/api/v1/hazards/{major}/events"),
            &json!({"kind": "supervise", "note": "市级挂牌督办", "number": "昆安办督〔2026〕7号",
                    "requirements": "物流园管委会督促企业按期整改，每半月报送进展"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    c.wait_for(
        ZONE,
        &format!("/api/v1/hazards/{major}"),
        "city listing at zone",
        |v| {
            v["events"].as_array().is_some_and(|e| {
                e.iter()
                    .any(|e| e["kind"] == "supervise" && e["by"] == "5301")
            })
        },
    )
    .await?;

    // 3. A directive of the county to the zone reaches it, and the zone's receipt comes back.
    let (s, d) = c
        .post(
            COUNTY,
            "/api/v1/directives",
            &json!({"title": "物流园仓储安全专项检查", "targets": [ZONE], "deadline": "2026-12-31"}),
        )
        .await?;
    assert_eq!(s, 201, "{d}");
    let path = format!("/api/v1/directives/{}", d["id"].as_str().context("id")?);
    c.wait_for(ZONE, &path, "directive at zone", |v| v["id"] == d["id"])
        .await?;
    let (s, v) = c
        .post(
            ZONE,
            &format!("{path}/responses"),
            &json!({"action": "receive"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    c.wait_for(COUNTY, &path, "receipt at county", |v| {
        v["units"]
            .as_array()
            .is_some_and(|u| u.iter().any(|u| u["unit"] == ZONE && u["received"] == true))
    })
    .await?;

    // 4. The county's roll-up has the zone as its own child row, with its two hazards, counted once.
    let v = c
        .wait_for(COUNTY, "/api/v1/rollup", "zone in county roll-up", |v| {
            child(v, ZONE).is_some_and(|z| total(z) == 2) && total(v) == 2
        })
        .await?;
    assert_eq!(
        child(&v, ZONE).context("zone row")?["reported"],
        true,
        "{v}"
    );
    assert_eq!(
        child(&v, ZONE).context("zone row")?["name"],
        "安宁物流园管委会",
        "a zone's row is named by the zone (the division table has no name for it): {v}"
    );

    // 5. Up the chain: the city holds the zone's summary (relayed by the county) and sees the zone
    //    under the county, not as a child of its own; its total counts the zone's hazards once.
    c.wait_for(
        "5301",
        &format!("/api/v1/rollup?scope={ZONE}"),
        "zone summary at city",
        |v| total(v) == 2,
    )
    .await?;
    let v = c
        .wait_for(
            "5301",
            &format!("/api/v1/rollup?scope={COUNTY}"),
            "county at city",
            |v| total(v) == 2 && child(v, ZONE).is_some_and(|z| total(z) == 2),
        )
        .await?;
    assert_eq!(total(&v), 2, "{v}");
    let v = c
        .wait_for("5301", "/api/v1/rollup", "city total", |v| {
            child(v, COUNTY).is_some_and(|z| total(z) == 2)
        })
        .await?;
    assert_eq!(total(&v), 2, "the city counts the zone's hazards once: {v}");
    assert!(
        child(&v, ZONE).is_none(),
        "the zone is the county's child, not the city's: {v}"
    );
    assert!(
        !v["not_reported"]
            .as_array()
            .is_some_and(|l| l.iter().any(|c| c == ZONE)),
        "{v}"
    );
    let v = c
        .wait_for("53", "/api/v1/rollup", "province total", |v| total(v) == 2)
        .await?;
    assert_eq!(total(&v), 2, "{v}");
    c.shutdown().await;
    Ok(())
}
