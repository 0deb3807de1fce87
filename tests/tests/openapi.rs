//! `GET /api/v1/openapi.json` is kept true: it documents exactly the routes the router serves
//! (`safemesh_node::api::routes()`, the table the router is built from), every documented operation
//! answers (not the router's JSON 404/405), and the document names the paging envelope, the error
//! shape, the request bodies and the bearer scheme.

use std::collections::BTreeSet;

use safemesh_testkit::Cluster;
use serde_json::{Value, json};

const TOWN: &str = "530181006";

/// (METHOD, path) of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().unwrap() {
            if ["get", "post", "put", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// Resolves a `$ref` to `#/components/schemas/X`.
fn schema_name(v: &Value) -> Option<&str> {
    v["$ref"].as_str()?.strip_prefix("#/components/schemas/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_openapi_document_matches_the_router() -> anyhow::Result<()> {
    let c = Cluster::start(&[TOWN]).await?;
    let n = c.node(TOWN);
    // Served without a token.
    let r = c
        .client()
        .get(format!("{}/api/v1/openapi.json", n.http_url()))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let doc: Value = r.json().await?;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );

    // Exactly the routes the router is built from.
    let registered: BTreeSet<(String, String)> = safemesh_node::api::routes()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect();
    let documented = documented(&doc);
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes not in openapi.json: {undocumented:?}; documented but not routed: {unrouted:?}"
    );
    assert!(registered.len() >= 27, "{registered:?}");

    // Every documented operation exists: a request to it is answered by its handler, never by the
    // router's JSON 404 (`field: "path"`) or 405. Path parameters are filled with a value no record
    // has; write bodies are empty objects, so every write is refused as input and nothing is stored.
    for (method, path) in &documented {
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x-none" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let m = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = c
            .client()
            .request(m.clone(), format!("{}{concrete}", n.http_url()))
            .bearer_auth(&n.token);
        if m == reqwest::Method::POST {
            req = req.json(&json!({}));
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_ne!(status, 405, "{method} {path}: {body}");
        assert!(
            !(status == 404 && body["error"]["field"] == "path"),
            "{method} {path} is documented but not routed: {body}"
        );
        assert!(status < 500, "{method} {path}: {status} {body}");
    }

    // The bearer scheme, required by every operation but the document itself.
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"]
            .as_str()
            .map(str::to_lowercase),
        Some("bearer".to_string())
    );
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    assert_eq!(
        doc["paths"]["/api/v1/openapi.json"]["get"]["security"],
        json!([{}])
    );

    // The paging envelope and the error shape are named schemas, and used.
    let schemas = &doc["components"]["schemas"];
    for (name, fields) in [
        ("Page", &["items", "total", "limit", "offset"][..]),
        ("ErrorDetail", &["status", "field", "rule", "message"][..]),
    ] {
        for f in fields {
            assert!(
                schemas[name]["properties"].get(*f).is_some(),
                "{name}.{f}: {}",
                schemas[name]
            );
        }
    }
    assert_eq!(
        schema_name(&schemas["ErrorBody"]["properties"]["error"]),
        Some("ErrorDetail")
    );
    for (method, path) in &documented {
        let op = &doc["paths"][path][method.to_lowercase()];
        let responses = op["responses"].as_object().unwrap();
        if path != "/api/v1/openapi.json" {
            for status in ["400", "401", "404", "405"] {
                let body = &responses[status]["content"]["application/json"]["schema"];
                assert_eq!(
                    schema_name(body),
                    Some("ErrorBody"),
                    "{method} {path} {status}"
                );
            }
        }
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["name"].as_str()).collect())
            .unwrap_or_default();
        // Every path parameter is described.
        for seg in path.split('/').filter(|s| s.starts_with('{')) {
            assert!(
                params.contains(&seg.trim_matches(['{', '}'])),
                "{method} {path}: {params:?}"
            );
        }
        // Every list pages.
        let ok = responses
            .iter()
            .find(|(s, _)| s.starts_with('2'))
            .map(|(_, r)| &r["content"]["application/json"]["schema"]);
        let ok_name = ok.and_then(schema_name);
        if matches!(ok_name, Some("Page" | "EscalationCandidates")) {
            assert!(
                params.contains(&"limit") && params.contains(&"offset"),
                "{method} {path}: {params:?}"
            );
        }
        // Every write documents its body.
        if method == "POST" {
            // JSON, or a multipart upload (the ledger import) with its fields named.
            let content = &op["requestBody"]["content"];
            let body = if content["multipart/form-data"].is_object() {
                &content["multipart/form-data"]["schema"]
            } else {
                &content["application/json"]["schema"]
            };
            let name = schema_name(body).unwrap_or_else(|| panic!("{method} {path}: {body}"));
            assert!(schemas[name]["properties"].is_object(), "{name}");
        }
    }
    let lists: Vec<&str> = [
        "/api/v1/hazards",
        "/api/v1/directives",
        "/api/v1/accidents",
        "/api/v1/enterprises",
        "/api/v1/tokens",
    ]
    .into_iter()
    .filter(|p| {
        schema_name(
            &doc["paths"][*p]["get"]["responses"]["200"]["content"]["application/json"]["schema"],
        ) == Some("Page")
    })
    .collect();
    assert_eq!(lists.len(), 5, "{lists:?}");
    c.shutdown().await;
    Ok(())
}
