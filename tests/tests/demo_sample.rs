//! The demo's sample (issue 17, "done means"): loaded into a real 4-level chain, it shows each step of
//! the follow-up workflow — a 督办 answered by a written reply, an approved extension, a 临期 hazard, an
//! accident's 补报 and an enterprise's 变更 — whatever day the demo runs.

use std::time::Duration;

use serde_json::Value;

async fn get(http: &reqwest::Client, base: &str, token: &str, path: &str) -> anyhow::Result<Value> {
    Ok(http
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_shows_each_follow_up_step() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!(
        "safemesh-demo-sample-{}-{}",
        std::process::id(),
        safemesh_testkit::free_addr().port()
    ));
    // Four HTTP ports from the base, four link ports from base + 10: a free range.
    let base_port = loop {
        let p = safemesh_testkit::free_addr().port();
        if p < 60000 && (0..14).all(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)).is_ok()) {
            break p;
        }
    };
    let nodes = safemesh_node::demo::start_chain(&dir, base_port).await?;
    safemesh_node::demo::load_sample(&nodes).await?;
    let http = reqwest::Client::new();
    let (county, town) = (&nodes[2], &nodes[3]);
    let (cu, tu) = (county.http_url(), town.http_url());

    // 临期: a hazard of the township due within its N days.
    let soon = get(&http, &tu, &town.token, "/api/v1/hazards?due_soon=true").await?;
    assert!(soon["total"].as_u64() >= Some(1), "{soon}");

    // The 边坡 hazard: a 函告 and a 约谈, each answered in writing, and an approved extension.
    let all = get(&http, &tu, &town.token, "/api/v1/hazards?limit=200").await?;
    let slope = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["title"].as_str().is_some_and(|t| t.contains("边坡")))
        .expect("the slope hazard");
    let h = get(
        &http,
        &tu,
        &town.token,
        &format!("/api/v1/hazards/{}", slope["id"].as_str().unwrap()),
    )
    .await?;
    let kinds: Vec<&str> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for k in ["escalate", "reply", "extend_request", "extend_decision"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert_eq!(h["extended"], 1, "{h}");

    // The county's replies-due list no longer waits for the two answered escalations of that hazard.
    let replies = get(&http, &cu, &county.token, "/api/v1/hazards/replies-due").await?;
    assert!(
        !replies
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["id"] == h["id"]),
        "{replies}"
    );

    // 补报: the recent accident was corrected, its grade following.
    let acc = get(&http, &tu, &town.token, "/api/v1/accidents?limit=50").await?;
    let corrected = acc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["events"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["kind"] == "supplement"))
        })
        .expect("an accident with a 补报");
    assert_eq!(corrected["deaths"], 1, "{corrected}");

    // 变更: the enterprise's principal changed, kept in its history.
    let e = get(
        &http,
        &tu,
        &town.token,
        "/api/v1/enterprises/91530181850111647K",
    )
    .await?;
    assert_eq!(e["principal"], "赵某", "{e}");
    assert!(
        e["events"]
            .as_array()
            .is_some_and(|ev| ev.iter().any(|x| x["kind"] == "update")),
        "{e}"
    );

    // 退回: the county returned the township's completion of its directive, and reminded it (催办).
    let list = get(&http, &cu, &county.token, "/api/v1/directives?limit=100").await?;
    let d = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["title"].as_str().is_some_and(|t| t.contains("3·14")))
        .expect("the county's directive");
    let d = get(
        &http,
        &tu,
        &town.token,
        &format!("/api/v1/directives/{}", d["id"].as_str().unwrap()),
    )
    .await?;
    let unit = d["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit"] == "530181006")
        .expect("the township's row");
    assert_eq!(unit["review"], "returned", "{unit}");
    assert!(!unit["reminders"].as_array().unwrap().is_empty(), "{unit}");

    for n in nodes.into_iter().rev() {
        n.shutdown().await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
