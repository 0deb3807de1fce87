//! Every list of the API pages the same way: `limit` (default 50, 1–500) and `offset`, answered as
//! `{items, total, limit, offset}` in a stable, documented order; a bad value is a 400 naming it.

use safemesh_testkit::Cluster;
use serde_json::{Value, json};

const COUNTY: &str = "530181";
const TOWN: &str = "530181006";

/// A valid unified social credit code (GB 32100 and GB 11714 checks), different for each `n`.
fn credit_code(n: u32) -> String {
    const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    let org8 = format!("{:08}", 77_604_900 + n);
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let s: u32 = org8
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    let c9 = match 11 - s % 11 {
        10 => 'X',
        11 => '0',
        d => char::from_digit(d, 10).unwrap(),
    };
    let body = format!("91350200{org8}{c9}");
    let (mut sum, mut w) = (0u32, 1u32);
    for c in body.chars() {
        sum += ALPHABET.find(c).unwrap() as u32 * w;
        w = (w * 3) % 31;
    }
    let check = ALPHABET
        .chars()
        .nth(((31 - sum % 31) % 31) as usize)
        .unwrap();
    format!("{body}{check}")
}

/// Reads `path` page by page (`limit` rows each) and checks the envelope of every page.
async fn all_pages(c: &Cluster, code: &str, path: &str, limit: u64) -> anyhow::Result<Vec<Value>> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    let mut total = None;
    loop {
        let offset = out.len();
        let (s, v) = c
            .get(code, &format!("{path}{sep}limit={limit}&offset={offset}"))
            .await?;
        assert_eq!(s, 200, "{path}: {v}");
        assert_eq!(v["limit"], limit, "{path}: {v}");
        assert_eq!(v["offset"], offset, "{path}: {v}");
        let t = v["total"].as_u64().expect("total");
        assert_eq!(
            *total.get_or_insert(t),
            t,
            "{path}: total changed between pages"
        );
        let items = v["items"].as_array().expect("items").clone();
        assert!(items.len() as u64 <= limit);
        if items.is_empty() {
            assert_eq!(out.len() as u64, t, "{path}: pages add up to the total");
            return Ok(out);
        }
        out.extend(items);
    }
}

/// The whole list in one page, checking its total.
async fn whole(c: &Cluster, code: &str, path: &str) -> anyhow::Result<Vec<Value>> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let (s, v) = c.get(code, &format!("{path}{sep}limit=500")).await?;
    assert_eq!(s, 200, "{v}");
    let items = v["items"].as_array().unwrap().clone();
    assert_eq!(v["total"], items.len(), "{path}: {v}");
    Ok(items)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_lists_page_with_total_and_stable_order() -> anyhow::Result<()> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    // 7 accidents on different days, posted out of order.
    for (i, day) in [3, 1, 7, 5, 2, 6, 4].into_iter().enumerate() {
        let (s, v) = c
            .post(
                TOWN,
                "/api/v1/accidents",
                &json!({"title": format!("事故{i}"), "occurred_at": format!("2026-03-0{day}"),
                        "sector": "工贸", "deaths": 0}),
            )
            .await?;
        assert_eq!(s, 201, "{v}");
    }
    // 5 enterprises, names out of order.
    for (i, name) in ["戊公司", "乙公司", "丁公司", "甲公司", "丙公司"]
        .into_iter()
        .enumerate()
    {
        let (s, v) = c
            .post(
                TOWN,
                "/api/v1/enterprises",
                &json!({"credit_code": credit_code(i as u32), "name": name, "sector": "工贸"}),
            )
            .await?;
        assert_eq!(s, 201, "{v}");
    }
    // 6 directives issued by the county to the township.
    for i in 0..6 {
        let (s, v) = c
            .post(
                COUNTY,
                "/api/v1/directives",
                &json!({"title": format!("任务{i}"), "targets": [TOWN], "deadline": "2026-12-31",
                        "category": if i % 2 == 0 { "甲类" } else { "乙类" }}),
            )
            .await?;
        assert_eq!(s, 201, "{v}");
    }
    // 4 more tokens.
    for i in 0..4 {
        let (s, v) = c
            .post(
                TOWN,
                "/api/v1/tokens",
                &json!({"name": format!("用户{i}"), "role": "viewer"}),
            )
            .await?;
        assert_eq!(s, 201, "{v}");
    }

    // Accidents: newest occurred_at first; pages of 3 add up to the whole list.
    let acc = whole(&c, TOWN, "/api/v1/accidents").await?;
    assert_eq!(acc.len(), 7);
    let days: Vec<&str> = acc
        .iter()
        .map(|a| a["occurred_at"].as_str().unwrap())
        .collect();
    let mut sorted = days.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(days, sorted, "accidents newest first");
    assert_eq!(all_pages(&c, TOWN, "/api/v1/accidents", 3).await?, acc);

    // Enterprises: by name.
    let ent = whole(&c, TOWN, "/api/v1/enterprises").await?;
    let names: Vec<&str> = ent.iter().map(|e| e["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!((names.len(), &names), (5, &sorted));
    assert_eq!(all_pages(&c, TOWN, "/api/v1/enterprises", 2).await?, ent);

    // Directives: newest first (`created` descending, then `id`), paged after filtering.
    let dirs = whole(&c, COUNTY, "/api/v1/directives").await?;
    assert_eq!(dirs.len(), 6);
    let keys: Vec<(String, String)> = dirs
        .iter()
        .map(|d| {
            (
                d["created"].as_str().unwrap().to_string(),
                d["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(keys, sorted, "directives: created descending, then id");
    assert_eq!(all_pages(&c, COUNTY, "/api/v1/directives", 4).await?, dirs);
    let first_kind = whole(&c, COUNTY, "/api/v1/directives?category=甲类").await?;
    assert_eq!(first_kind.len(), 3);
    let (_, v) = c
        .get(COUNTY, "/api/v1/directives?category=甲类&limit=2&offset=1")
        .await?;
    assert_eq!(v["total"], 3, "{v}");
    assert_eq!(v["items"].as_array().unwrap()[..], first_kind[1..]);

    // Tokens: oldest first.
    let toks = whole(&c, TOWN, "/api/v1/tokens").await?;
    assert!(toks.len() >= 5, "{toks:?}");
    let created: Vec<&str> = toks
        .iter()
        .map(|t| t["created"].as_str().unwrap())
        .collect();
    let mut sorted = created.clone();
    sorted.sort();
    assert_eq!(created, sorted);
    assert_eq!(all_pages(&c, TOWN, "/api/v1/tokens", 2).await?, toks);

    // Escalation candidates: the same envelope, with the office.
    let (s, v) = c
        .get(COUNTY, "/api/v1/hazards/escalation-candidates")
        .await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (&v["office"], &v["total"], &v["limit"], &v["offset"]),
        (&json!(COUNTY), &json!(0), &json!(50), &json!(0))
    );
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_list_limits_are_bounded_and_named() -> anyhow::Result<()> {
    let c = Cluster::start(&[TOWN]).await?;
    for path in [
        "/api/v1/hazards",
        "/api/v1/hazards/escalation-candidates",
        "/api/v1/directives",
        "/api/v1/accidents",
        "/api/v1/enterprises",
        "/api/v1/tokens",
    ] {
        let (s, v) = c.get(TOWN, path).await?;
        assert_eq!(s, 200, "{path}: {v}");
        assert_eq!(
            (&v["limit"], &v["offset"]),
            (&json!(50), &json!(0)),
            "{path}: default"
        );
        assert!(v["total"].is_u64(), "{path}: {v}");
        let (s, v) = c.get(TOWN, &format!("{path}?limit=500&offset=3")).await?;
        assert_eq!(
            (s, &v["limit"], &v["offset"]),
            (200, &json!(500), &json!(3)),
            "{path}: {v}"
        );
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=ten", "limit"),
            ("limit=-1", "limit"),
            ("offset=-1", "offset"),
            ("offset=x", "offset"),
            // Past the store's 64-bit integers this was a 500 (schemathesis found it).
            ("offset=9223372036854775808", "offset"),
            ("offset=1000000001", "offset"),
        ] {
            let (s, e) = c.get(TOWN, &format!("{path}?{query}")).await?;
            assert_eq!(s, 400, "{path}?{query}: {e}");
            assert_eq!(e["error"]["field"], field, "{path}?{query}: {e}");
            assert_eq!(e["error"]["status"], 400);
            let msg = e["error"]["message"].as_str().unwrap();
            let zh = msg.split(" / ").next().unwrap();
            assert!(
                msg.contains(" / ") && !zh.is_ascii(),
                "Chinese, then English: {msg}"
            );
        }
    }
    c.shutdown().await;
    Ok(())
}

#[test]
fn credit_codes_of_the_test_are_valid() {
    for n in 0..20 {
        safemesh_model::credit::validate(&credit_code(n)).unwrap();
    }
}
