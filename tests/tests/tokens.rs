//! HTTP tokens with roles: viewer reads, editor writes records, admin manages tokens; a revoked token is
//! refused (at once through the API, within `TOKEN_CACHE_TTL` through the CLI); every change names the
//! token's holder, at the owner and at the parent after replication.

use std::time::{Duration, Instant};

use reqwest::Method;
use safemesh_node::cli::{token_create, token_list, token_revoke, token_table};
use safemesh_node::tokens::TOKEN_CACHE_TTL;
use safemesh_store::{TokenRole, hash_secret};
use safemesh_testkit::{Cluster, hazard_json, plan_json};
use serde_json::{Value, json};

/// A request to `code` with `token` (the admin helpers of `Cluster` use the data dir's token).
async fn call(
    c: &Cluster,
    code: &str,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    let url = format!("{}{path}", c.node(code).http_url());
    let mut req = c.client().request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

/// Creates a token through the API as the node's admin; returns (id, secret).
async fn new_token(
    c: &Cluster,
    code: &str,
    name: &str,
    role: &str,
) -> anyhow::Result<(String, String)> {
    let (s, v) = c
        .post(code, "/api/v1/tokens", &json!({"name": name, "role": role}))
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["name"], name);
    assert_eq!(v["role"], role);
    assert_eq!(v["revoked"], Value::Null);
    Ok((
        v["id"].as_str().unwrap().to_string(),
        v["secret"].as_str().unwrap().to_string(),
    ))
}

fn assert_403(status: u16, v: &Value, rule: &str) {
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"]["status"], 403, "{v}");
    assert_eq!(v["error"]["rule"], rule, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(" / "), "message in Chinese and English: {msg}");
}

fn assert_401(status: u16, v: &Value) {
    assert_eq!(status, 401, "{v}");
    assert_eq!(v["error"]["field"], "Authorization", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_reads_but_every_write_is_403() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181", "530181006"]).await?;
    let t = "530181006";
    let (_, viewer) = new_token(&c, t, "观察员", "viewer").await?;
    for path in [
        "/api/v1/node",
        "/api/v1/hazards",
        "/api/v1/directives",
        "/api/v1/sync/status",
    ] {
        let (s, v) = call(&c, t, Method::GET, path, &viewer, None).await?;
        assert_eq!(s, 200, "{path}: {v}");
    }
    let writes = [
        (
            Method::POST,
            "/api/v1/hazards".to_string(),
            hazard_json("只读", "general", "2026-12-31"),
        ),
        (
            Method::POST,
            "/api/v1/hazards/h-x/events".to_string(),
            json!({"kind": "plan"}),
        ),
        (
            Method::POST,
            "/api/v1/directives".to_string(),
            json!({"title": "t", "targets": ["530181006001"], "deadline": "2026-12-31"}),
        ),
        (
            Method::POST,
            "/api/v1/directives/d-x/responses".to_string(),
            json!({"action": "receive"}),
        ),
        (
            Method::POST,
            "/api/v1/tokens".to_string(),
            json!({"role": "admin"}),
        ),
    ];
    for (m, path, body) in writes {
        let (s, v) = call(&c, t, m, &path, &viewer, Some(&body)).await?;
        assert_403(s, &v, "role_viewer");
    }
    for (m, path) in [
        (Method::GET, "/api/v1/tokens"),
        (Method::DELETE, "/api/v1/tokens/t-x"),
    ] {
        let (s, v) = call(&c, t, m, path, &viewer, None).await?;
        assert_403(s, &v, "role_viewer");
    }
    // The role is checked before the body: an unreadable body is still a 403.
    let (s, v) = call(
        &c,
        t,
        Method::POST,
        "/api/v1/hazards",
        &viewer,
        Some(&json!(5)),
    )
    .await?;
    assert_403(s, &v, "role_viewer");
    // Nothing was written, and only the admin's token and the viewer's exist.
    assert_eq!(c.get(t, "/api/v1/hazards").await?.1["items"], json!([]));
    assert_eq!(
        c.get(t, "/api/v1/tokens").await?.1["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editor_writes_records_but_may_not_manage_tokens() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181", "530181006"]).await?;
    let k = "530181";
    let (editor_id, editor) = new_token(&c, k, "张三", "editor").await?;
    let (s, h) = call(
        &c,
        k,
        Method::POST,
        "/api/v1/hazards",
        &editor,
        Some(&hazard_json("编辑登记", "general", "2026-12-31")),
    )
    .await?;
    assert_eq!(s, 201, "{h}");
    assert_eq!(h["events"][0]["user"], "张三");
    let (s, d) = call(
        &c,
        k,
        Method::POST,
        "/api/v1/directives",
        &editor,
        Some(&json!({"title": "汛期检查", "targets": ["530181006"], "deadline": "2026-12-31"})),
    )
    .await?;
    assert_eq!(s, 201, "{d}");
    let (s, v) = call(&c, k, Method::GET, "/api/v1/tokens", &editor, None).await?;
    assert_403(s, &v, "role_editor");
    let (s, v) = call(
        &c,
        k,
        Method::POST,
        "/api/v1/tokens",
        &editor,
        Some(&json!({"name": "自己", "role": "admin"})),
    )
    .await?;
    assert_403(s, &v, "role_editor");
    let (s, v) = call(
        &c,
        k,
        Method::DELETE,
        &format!("/api/v1/tokens/{editor_id}"),
        &editor,
        None,
    )
    .await?;
    assert_403(s, &v, "role_editor");
    // The editor's token is still valid; the admin sees one more token than before.
    let (s, _) = call(&c, k, Method::GET, "/api/v1/hazards", &editor, None).await?;
    assert_eq!(s, 200);
    // An admin token made through the API manages tokens too.
    let (_, admin2) = new_token(&c, k, "管理员乙", "admin").await?;
    let (s, v) = call(&c, k, Method::GET, "/api/v1/tokens", &admin2, None).await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_token_checks_role_and_name() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181006"]).await?;
    let t = "530181006";
    for (body, field) in [
        (json!({"name": "甲"}), "role"),
        (json!({"name": "甲", "role": "root"}), "role"),
        (json!({"name": "甲".repeat(65), "role": "viewer"}), "name"),
        (json!({"name": "a\u{1b}[31m", "role": "viewer"}), "name"),
        (json!({"name": 5, "role": "viewer"}), "name"),
    ] {
        let (s, v) = c.post(t, "/api/v1/tokens", &body).await?;
        assert_eq!(s, 400, "{body}: {v}");
        assert_eq!(v["error"]["field"], field, "{v}");
    }
    // Without a name, the token is named after its role and id.
    let (s, v) = c
        .post(t, "/api/v1/tokens", &json!({"role": "viewer"}))
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["name"], format!("viewer-{}", v["id"].as_str().unwrap()));
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_revoked_through_the_api_is_refused_at_once() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181006"]).await?;
    let t = "530181006";
    let (id, editor) = new_token(&c, t, "李四", "editor").await?;
    // Used, so the node has it cached.
    for _ in 0..3 {
        let (s, _) = call(&c, t, Method::GET, "/api/v1/hazards", &editor, None).await?;
        assert_eq!(s, 200);
    }
    let url = format!("{}/api/v1/tokens/{id}", c.node(t).http_url());
    let r = c
        .client()
        .delete(&url)
        .bearer_auth(&c.node(t).token)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let revoked: Value = r.json().await?;
    assert_eq!(revoked["id"], id.as_str());
    let at = revoked["revoked"]
        .as_str()
        .expect("revocation time")
        .to_string();
    // The very next request is refused, reads and writes alike.
    let (s, v) = call(&c, t, Method::GET, "/api/v1/hazards", &editor, None).await?;
    assert_401(s, &v);
    let (s, v) = call(
        &c,
        t,
        Method::POST,
        "/api/v1/hazards",
        &editor,
        Some(&hazard_json("吊销后", "general", "2026-12-31")),
    )
    .await?;
    assert_401(s, &v);
    // Revoking again keeps the first time; an unknown id is 404.
    let again: Value = c
        .client()
        .delete(&url)
        .bearer_auth(&c.node(t).token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(again["revoked"], at.as_str());
    let (s, v) = call(
        &c,
        t,
        Method::DELETE,
        "/api/v1/tokens/t-000000000000",
        &c.node(t).token,
        None,
    )
    .await?;
    assert_eq!(s, 404, "{v}");
    // The list shows it revoked; nothing was written with it.
    let (_, list) = c.get(t, "/api/v1/tokens").await?;
    let row = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["revoked"], at.as_str());
    assert_eq!(c.get(t, "/api/v1/hazards").await?.1["items"], json!([]));
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_tokens_work_on_a_running_node_and_revocation_lands_within_the_ttl()
-> anyhow::Result<()> {
    let c = Cluster::start(&["530181006"]).await?;
    let t = "530181006";
    let dir = c.node(t).data_dir.clone();
    // Created by the CLI (another store handle, as another process would): accepted at once.
    let (row, secret) = token_create(&dir, TokenRole::Editor, Some("赵六")).await?;
    assert_eq!((row.name.as_str(), row.role), ("赵六", TokenRole::Editor));
    let (s, h) = call(
        &c,
        t,
        Method::POST,
        "/api/v1/hazards",
        &secret,
        Some(&hazard_json("命令行令牌", "general", "2026-12-31")),
    )
    .await?;
    assert_eq!(s, 201, "{h}");
    assert_eq!(h["events"][0]["user"], "赵六");
    let (s, _) = call(&c, t, Method::GET, "/api/v1/hazards", &secret, None).await?;
    assert_eq!(s, 200);
    // Revoked by the CLI: the running node refuses it within TOKEN_CACHE_TTL (the bound allows for a
    // loaded machine).
    let (revoked, before) = token_revoke(&dir, &row.id).await?;
    assert!(before.is_none() && revoked.revoked.is_some());
    let start = Instant::now();
    loop {
        let (s, v) = call(&c, t, Method::GET, "/api/v1/hazards", &secret, None).await?;
        if s == 401 {
            assert_401(s, &v);
            break;
        }
        assert_eq!(s, 200, "{v}");
        assert!(
            start.elapsed() < TOKEN_CACHE_TTL + Duration::from_secs(5),
            "still accepted {:?} after a CLI revoke",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Revoking again reports when it was; an unknown id is an error.
    let (_, before) = token_revoke(&dir, &row.id).await?;
    assert_eq!(before, revoked.revoked);
    assert!(token_revoke(&dir, "t-000000000000").await.is_err());
    // The CLI's list is the API's list.
    let listed = token_list(&dir).await?;
    let (_, api) = c.get(t, "/api/v1/tokens").await?;
    let api_ids: Vec<&str> = api["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        api_ids
    );
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_name_the_person_at_the_owner_and_at_the_parent() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181", "530181006"]).await?;
    let (k, t) = ("530181", "530181006");
    let (_, zhang) = new_token(&c, t, "张三", "editor").await?;
    let (_, wang) = new_token(&c, k, "王五", "editor").await?;
    // 张三 at the township registers a hazard and sets its rectification plan.
    let (s, h) = call(
        &c,
        t,
        Method::POST,
        "/api/v1/hazards",
        &zhang,
        Some(&hazard_json(
            "液氨储罐区报警未联锁",
            "general",
            "2026-12-31",
        )),
    )
    .await?;
    assert_eq!(s, 201, "{h}");
    let id = h["id"].as_str().unwrap().to_string();
    let (s, v) = call(
        &c,
        t,
        Method::POST,
        &format!("/api/v1/hazards/{id}/events"),
        &zhang,
        Some(&{
            let mut p = plan_json("2026-12-20");
            p["note"] = json!("三日内完成联锁改造");
            p
        }),
    )
    .await?;
    assert_eq!(s, 201, "{v}");
    // 王五 at the county comments once it has arrived there.
    let path = format!("/api/v1/hazards/{id}");
    c.wait_for(k, &path, "张三's plan at the county", |v| {
        v["events"].as_array().is_some_and(|e| e.len() == 2)
    })
    .await?;
    let (s, v) = call(
        &c,
        k,
        Method::POST,
        &format!("/api/v1/hazards/{id}/events"),
        &wang,
        Some(&json!({"kind": "comment", "note": "请按期整改"})),
    )
    .await?;
    assert_eq!(s, 201, "{v}");
    c.wait_converged(&id, &[t, k]).await?;
    let who = |v: &Value| -> Vec<(String, String, String)> {
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_string(),
                    e["user"].as_str().unwrap().to_string(),
                    e["by"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let expected: Vec<(String, String, String)> = [
        ("registered", "张三", t),
        ("plan", "张三", t),
        ("comment", "王五", k),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    for code in [t, k] {
        let (s, v) = c.get(code, &path).await?;
        assert_eq!(s, 200);
        assert_eq!(who(&v), expected, "events at {code}");
        // The Automerge history names the person and the office of every change, with its time.
        let mut doc = c.node(code).store.load(&id).await?.unwrap();
        let messages: Vec<String> = doc
            .get_changes(&[])
            .iter()
            .map(|ch| {
                assert!(ch.timestamp() > 0);
                ch.message().unwrap_or("").to_string()
            })
            .collect();
        assert_eq!(
            messages,
            ["张三@530181006", "张三@530181006", "王五@530181"],
            "change messages at {code}"
        );
    }
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_lists_never_show_secrets_or_hashes() -> anyhow::Result<()> {
    let c = Cluster::start(&["530181006"]).await?;
    let t = "530181006";
    let mut secrets = vec![c.node(t).token.clone()];
    for (name, role) in [("甲", "viewer"), ("乙", "editor"), ("丙", "admin")] {
        secrets.push(new_token(&c, t, name, role).await?.1);
    }
    let (_, cli_secret) = token_create(&c.node(t).data_dir, TokenRole::Viewer, Some("丁")).await?;
    secrets.push(cli_secret);
    let (s, list) = c.get(t, "/api/v1/tokens").await?;
    assert_eq!(s, 200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    // The data dir's token is the admin token named `admin`.
    let admins: Vec<&Value> = items.iter().filter(|i| i["name"] == "admin").collect();
    assert_eq!(admins.len(), 1);
    assert_eq!(admins[0]["role"], "admin");
    for item in items {
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["created", "id", "name", "revoked", "role"], "{item}");
    }
    let api_text = list.to_string();
    let table = token_table(&token_list(&c.node(t).data_dir).await?);
    assert_eq!(table.lines().count(), 6, "{table}");
    for secret in &secrets {
        let hash = hash_secret(secret);
        for (what, text) in [("API", &api_text), ("CLI", &table)] {
            assert!(
                !text.contains(secret.as_str()),
                "{what} list shows a secret"
            );
            assert!(!text.contains(&hash), "{what} list shows a hash");
            assert!(
                !text.contains(&hash[..16]),
                "{what} list shows part of a hash"
            );
        }
    }
    c.shutdown().await;
    Ok(())
}
