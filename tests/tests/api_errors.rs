//! Every error under `/api/v1` is JSON in the documented shape — unknown routes (404, `field: "path"`),
//! wrong methods (405, `field: "method"`, with `Allow`), unreadable query strings and path parameters
//! (400 naming the parameter) — and its Chinese text has no rule names or enum codes.

use safemesh_testkit::{Cluster, hazard_json};
use serde_json::{Value, json};

const COUNTY: &str = "530181";
const TOWN: &str = "530181006";

/// The error object of an answer, checked for the documented shape.
fn error_of(status: u16, body: &Value) -> &Value {
    let e = &body["error"];
    assert_eq!(e["status"], status, "{body}");
    let keys: Vec<&String> = e.as_object().expect("error object").keys().collect();
    assert_eq!(keys.len(), 4, "status, field, rule, message: {body}");
    for k in ["field", "rule", "message"] {
        assert!(e.get(k).is_some(), "{k} missing: {body}");
    }
    let msg = e["message"].as_str().unwrap();
    let (zh, en) = msg.split_once(" / ").expect("Chinese / English");
    assert!(!zh.is_ascii() && !en.is_empty(), "{msg}");
    e
}

async fn send(
    c: &Cluster,
    code: &str,
    method: reqwest::Method,
    path: &str,
    token: bool,
) -> anyhow::Result<(u16, Option<String>, Value)> {
    let n = c.node(code);
    let mut r = c
        .client()
        .request(method, format!("{}{path}", n.http_url()));
    if token {
        r = r.bearer_auth(&n.token);
    }
    let r = r.send().await?;
    let status = r.status().as_u16();
    let allow = r
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap_or("").to_string());
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    assert!(
        ct.starts_with("application/json"),
        "{path}: content-type {ct:?}"
    );
    Ok((status, allow, r.json().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_unknown_routes_and_wrong_methods_answer_json() -> anyhow::Result<()> {
    use reqwest::Method;
    let c = Cluster::start(&[TOWN]).await?;
    // Unknown routes: 404 naming the path, with or without a token.
    for (path, token) in [
        ("/api/v1/nope", true),
        ("/api/v1/nope", false),
        ("/api/v1/hazards/h-1/nothing", true),
        ("/api/v1/", true),
        ("/api/v1", true),
    ] {
        let (s, _, v) = send(&c, TOWN, Method::GET, path, token).await?;
        assert_eq!(s, 404, "{path}: {v}");
        let e = error_of(404, &v);
        assert_eq!(
            (&e["field"], &e["rule"]),
            (&json!("path"), &Value::Null),
            "{v}"
        );
    }
    // A record that is not here is a 404 too, but about no input: `field` null.
    let (s, _, v) = send(&c, TOWN, Method::GET, "/api/v1/hazards/h-unknown", true).await?;
    assert_eq!(s, 404);
    assert_eq!(error_of(404, &v)["field"], Value::Null);
    // Wrong methods: 405 naming the method, the Allow header listing those the route takes.
    for (method, path, allowed) in [
        (Method::DELETE, "/api/v1/hazards", "GET,HEAD,POST"),
        (Method::PUT, "/api/v1/hazards/h-1", "GET,HEAD"),
        (Method::GET, "/api/v1/hazards/h-1/events", "POST"),
        (Method::POST, "/api/v1/tokens/t-1", "DELETE"),
        (Method::POST, "/api/v1/openapi.json", "GET,HEAD"),
    ] {
        let (s, allow, v) = send(&c, TOWN, method.clone(), path, true).await?;
        assert_eq!(s, 405, "{method} {path}: {v}");
        assert_eq!(error_of(405, &v)["field"], "method", "{v}");
        let mut got: Vec<String> = allow
            .unwrap_or_default()
            .split(',')
            .map(|m| m.trim().to_string())
            .collect();
        got.sort();
        assert_eq!(got.join(","), allowed, "{method} {path}");
    }
    // Without a token, a wrong method on a route that needs one is a 401 (nothing is told).
    let (s, _, v) = send(&c, TOWN, Method::DELETE, "/api/v1/hazards", false).await?;
    assert_eq!(s, 401, "{v}");
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_unreadable_query_and_path_name_the_parameter() -> anyhow::Result<()> {
    let c = Cluster::start(&[TOWN]).await?;
    for (path, field) in [
        ("/api/v1/directives?overdue=maybe", "overdue"),
        ("/api/v1/directives?limit=many", "limit"),
        ("/api/v1/hazards?offset=-5", "offset"),
        ("/api/v1/hazards?sort=sideways", "sort"),
        ("/api/v1/hazards/%FF%FE", "id"),
        ("/api/v1/directives/%C3%28/board", "id"),
        ("/api/v1/enterprises/%FF", "credit_code"),
    ] {
        let (s, v) = c.get(TOWN, path).await?;
        assert_eq!(s, 400, "{path}: {v}");
        assert_eq!(error_of(400, &v)["field"], field, "{path}: {v}");
    }
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_refusals_speak_chinese_without_codes() -> anyhow::Result<()> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    let (_, h) = c
        .post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("自查", "general", "2026-12-31"),
        )
        .await?;
    let events = format!("/api/v1/hazards/{}/events", h["id"].as_str().unwrap());
    // The owner may not escalate its own hazard: the rule is in `rule`, the event named in Chinese.
    let (s, v) = c
        .post(
            TOWN,
            &events,
            &json!({"kind": "escalate", "method": "约谈", "reply_by": "2099-01-01"}),
        )
        .await?;
    assert_eq!(s, 403, "{v}");
    let e = error_of(403, &v);
    assert_eq!(e["rule"], "superior_only");
    let msg = e["message"].as_str().unwrap();
    let zh = msg.split(" / ").next().unwrap();
    assert!(zh.contains("督办升级"), "{msg}");
    for code in ["escalate", "superior_only", "rule"] {
        assert!(!zh.contains(code), "{code} in the Chinese text: {msg}");
    }
    // A parameter on the wrong kind names the event in Chinese too.
    let (s, v) = c
        .post(
            TOWN,
            &events,
            &json!({"kind": "comment", "note": "x", "percent": 5}),
        )
        .await?;
    assert_eq!(s, 400, "{v}");
    let e = error_of(400, &v);
    assert_eq!(e["field"], "percent");
    let zh = e["message"].as_str().unwrap().split(" / ").next().unwrap();
    assert!(!zh.contains("progress"), "{v}");
    // Token roles and accident event kinds: Chinese names, codes only in English.
    let (_, v) = c
        .post(
            TOWN,
            "/api/v1/tokens",
            &json!({"name": "某人", "role": "boss"}),
        )
        .await?;
    let zh = error_of(400, &v)["message"]
        .as_str()
        .unwrap()
        .split(" / ")
        .next()
        .unwrap()
        .to_string();
    assert!(!zh.contains("viewer") && zh.contains("只读"), "{v}");
    c.shutdown().await;
    Ok(())
}

/// A body larger than `http_limits.max_body_bytes` (1 MiB by default) is answered 413 naming `body`,
/// nothing is written, and the next request of normal size is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_a_body_over_the_bound_is_413_naming_body_and_writes_nothing() -> anyhow::Result<()> {
    let c = Cluster::start(&[TOWN]).await?;
    let n = c.node(TOWN);
    let mut big = hazard_json("超大请求体", "general", "2030-12-31");
    big["description"] = json!("隐".repeat(400_000)); // 1.2 MB of UTF-8
    let r = c
        .client()
        .post(format!("{}/api/v1/hazards", n.http_url()))
        .bearer_auth(&n.token)
        .json(&big)
        .send()
        .await?;
    let status = r.status().as_u16();
    let body: Value = r.json().await?;
    assert_eq!(status, 413, "{body}");
    let e = error_of(413, &body);
    assert_eq!(e["field"], "body", "{body}");
    let (_, list) = c.get(TOWN, "/api/v1/hazards").await?;
    assert_eq!(list["total"], 0, "nothing written: {list}");
    let (s, _) = c
        .post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("正常隐患", "general", "2030-12-31"),
        )
        .await?;
    assert_eq!(s, 201);
    c.shutdown().await;
    Ok(())
}
