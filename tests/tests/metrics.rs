//! 监控指标 — `GET /metrics` on real in-process clusters (issue 18): who may read it, and that what it
//! says is what the node's own API says — links up and caught up, traffic, certificate expiry, hazards
//! as the ledger counts them, requests by route template, a refused batch under its rule; the
//! separate listen address; and that the alert rules and the Grafana dashboard in `deploy/` name only
//! metrics a node exports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use automerge::transaction::CommitOptions;
use safemesh_doc::hazard;
use safemesh_model::AdminCode;
use safemesh_model::hazard::{EventKind, HazardEvent};
use safemesh_testkit::{CONVERGE, Cluster, NodeSetup, hazard_json};
use serde_json::{Value, json};

const COUNTY: &str = "530181";
const TOWN: &str = "530181006";

/// One sample line of the Prometheus text format.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape: its samples, and the metric names its `# TYPE` lines declare.
#[derive(Debug, Default)]
struct Scrape {
    samples: Vec<Sample>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    /// Parses the text format (version 0.0.4): `# TYPE name type`, and `name{k="v",…} value` lines
    /// with `\\`, `\"` and `\n` escaped in label values.
    fn parse(text: &str) -> Scrape {
        let mut s = Scrape::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
                s.types.insert(name.to_string(), kind.to_string());
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            s.samples.push(sample(line));
        }
        s
    }

    /// The value of the one sample named `name` whose labels include `labels`.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
            })
            .collect();
        assert!(
            found.len() <= 1,
            "{name} {labels:?} is ambiguous: {found:?}"
        );
        found.first().map(|s| s.value)
    }

    /// Every metric name a query may use: each sample's name and each declared family's (a
    /// histogram's `_bucket`, `_sum` and `_count` included).
    fn names(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self.samples.iter().map(|s| s.name.clone()).collect();
        for (name, kind) in &self.types {
            out.insert(name.clone());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    out.insert(format!("{name}{suffix}"));
                }
            }
        }
        out
    }
}

fn sample(line: &str) -> Sample {
    let (head, value) = line.rsplit_once(' ').expect("name and value");
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("value of {line:?}")),
    };
    let Some((name, rest)) = head.split_once('{') else {
        return Sample {
            name: head.to_string(),
            labels: BTreeMap::new(),
            value,
        };
    };
    let mut labels = BTreeMap::new();
    let mut chars = rest.strip_suffix('}').expect("closing brace").chars();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "{line}");
        let mut v = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => v.push('\n'),
                    Some(o) => v.push(o),
                    None => panic!("{line}"),
                },
                '"' => break,
                c => v.push(c),
            }
        }
        labels.insert(key.trim_start_matches(',').to_string(), v);
    }
    Sample {
        name: name.to_string(),
        labels,
        value,
    }
}

/// `GET /metrics` on `code`'s HTTP address with `token` (none: no header); the status and the body.
async fn get_metrics(
    c: &Cluster,
    code: &str,
    token: Option<&str>,
) -> anyhow::Result<(u16, String)> {
    let mut req = c
        .client()
        .get(format!("{}/metrics", c.node(code).http_url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

/// A scrape of `code` with `token`, which must be answered.
async fn scrape(c: &Cluster, code: &str, token: &str) -> anyhow::Result<Scrape> {
    let (status, body) = get_metrics(c, code, Some(token)).await?;
    assert_eq!(status, 200, "{body}");
    Ok(Scrape::parse(&body))
}

/// Scrapes `code` until `check` holds (a bound on convergence, not a timing assertion).
async fn scrape_until(
    c: &Cluster,
    code: &str,
    token: &str,
    what: &str,
    check: impl Fn(&Scrape) -> bool,
) -> anyhow::Result<Scrape> {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let s = scrape(c, code, token).await?;
        if check(&s) {
            return Ok(s);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "timed out waiting at {code} for {what}; last scrape: {:?}",
            s.samples
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A new token of `role` at `code`, made by its admin.
async fn token(c: &Cluster, code: &str, role: &str) -> anyhow::Result<String> {
    let (s, v) = c
        .post(
            code,
            "/api/v1/tokens",
            &json!({"name": format!("{role}-test"), "role": role}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    Ok(v["secret"].as_str().expect("secret").to_string())
}

/// How many hazards the ledger at `code` lists with `query`.
async fn ledger(c: &Cluster, code: &str, query: &str) -> anyhow::Result<f64> {
    let (s, v) = c.get(code, &format!("/api/v1/hazards?{query}")).await?;
    assert_eq!(s, 200, "{v}");
    Ok(v["total"].as_u64().expect("total") as f64)
}

/// When the certificate in `code`'s `D/tls` expires, read from the file.
fn cert_expiry(c: &Cluster, code: &str) -> anyhow::Result<f64> {
    let id = safemesh_gateway::tls::NodeIdentity::load(&c.tls_dir(code))?;
    Ok(id.not_after().unix_timestamp() as f64)
}

/// A date `days` after today in China time, `YYYY-MM-DD`.
fn china_day(days: i64) -> String {
    let d = (time::OffsetDateTime::now_utc() + time::Duration::hours(8 + 24 * days)).date();
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_say_what_the_api_says_about_links_certificates_hazards_and_requests()
-> anyhow::Result<()> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    let town_metrics = token(&c, TOWN, "metrics").await?;
    let county_metrics = token(&c, COUNTY, "metrics").await?;

    // 1. Only a metrics or an admin token reads /metrics; a metrics token reads nothing else.
    let (s, body) = get_metrics(&c, TOWN, None).await?;
    assert_eq!(s, 401, "{body}");
    for role in ["viewer", "editor"] {
        let t = token(&c, TOWN, role).await?;
        let (s, body) = get_metrics(&c, TOWN, Some(&t)).await?;
        assert_eq!(s, 403, "{role}: {body}");
        let e: Value = serde_json::from_str(&body)?;
        assert_eq!(e["error"]["rule"], format!("role_{role}"), "{e}");
    }
    let admin = c.node(TOWN).token.clone();
    assert_eq!(get_metrics(&c, TOWN, Some(&admin)).await?.0, 200);
    let r = c
        .client()
        .get(format!("{}/api/v1/node", c.node(TOWN).http_url()))
        .bearer_auth(&town_metrics)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 403);
    let e: Value = r.json().await?;
    assert_eq!(e["error"]["rule"], "role_metrics", "{e}");

    // 2. The township registers three hazards: overdue, due tomorrow (临期), due in 2099.
    let mut late = hazard_json("逾期隐患", "general", "2020-01-01");
    late["found_on"] = json!("2019-12-01");
    let mut ids = Vec::new();
    for body in [
        late,
        hazard_json("临期隐患", "general", &china_day(1)),
        hazard_json("远期隐患", "general", "2099-01-01"),
    ] {
        let (s, h) = c.post(TOWN, "/api/v1/hazards", &body).await?;
        assert_eq!(s, 201, "{h}");
        ids.push(h["id"].as_str().expect("id").to_string());
    }
    for id in &ids {
        c.wait_converged(id, &[COUNTY, TOWN]).await?;
    }
    c.wait_for(COUNTY, "/api/v1/rollup", "the township's summary", |v| {
        v["hazards"]["total"] == 3
    })
    .await?;

    // 3. Both ends of the link: up, in sync, nothing left either way, traffic counted.
    let up = |peer: &'static str, role: &'static str| {
        move |s: &Scrape| {
            let l = [("peer", peer), ("role", role)];
            s.get("safemesh_link_up", &l) == Some(1.0)
                && s.get(
                    "safemesh_link_state",
                    &[("peer", peer), ("state", "in_sync")],
                ) == Some(1.0)
                && s.get("safemesh_link_lag_seq", &l) == Some(0.0)
                && s.get("safemesh_link_to_send_documents", &l) == Some(0.0)
                && s.get("safemesh_link_to_receive_documents", &l) == Some(0.0)
        }
    };
    let town = scrape_until(
        &c,
        TOWN,
        &town_metrics,
        "the parent link in sync",
        up(COUNTY, "parent"),
    )
    .await?;
    let county = scrape_until(
        &c,
        COUNTY,
        &county_metrics,
        "the child link in sync",
        up(TOWN, "child"),
    )
    .await?;
    let l = [("peer", COUNTY), ("role", "parent")];
    assert!(town.get("safemesh_link_sent_bytes_total", &l).unwrap() > 0.0);
    assert!(town.get("safemesh_link_received_bytes_total", &l).unwrap() > 0.0);
    assert!(town.get("safemesh_link_batches_sent_total", &l).unwrap() >= 1.0);
    assert_eq!(
        town.get(
            "safemesh_link_state",
            &[("peer", COUNTY), ("state", "disconnected")]
        ),
        Some(0.0)
    );
    let l = [("peer", TOWN), ("role", "child")];
    assert!(
        county
            .get("safemesh_link_batches_received_total", &l)
            .unwrap()
            >= 1.0
    );
    assert_eq!(
        county.get(
            "safemesh_tls_rejected_handshakes_total",
            &[("reason", "revoked")]
        ),
        Some(0.0)
    );

    // 4. Certificates: each node's own, and its peer's as the peer presented it, as in the files.
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    let expiry = "safemesh_cert_expiry_timestamp_seconds";
    assert_eq!(
        town.get(expiry, &[("subject", "self")]),
        Some(cert_expiry(&c, TOWN)?)
    );
    assert!(cert_expiry(&c, TOWN)? > now);
    assert_eq!(
        town.get(expiry, &[("subject", COUNTY)]),
        Some(cert_expiry(&c, COUNTY)?)
    );
    assert_eq!(
        county.get(expiry, &[("subject", TOWN)]),
        Some(cert_expiry(&c, TOWN)?)
    );

    // 5. Hazards: the numbers of the ledger, at the township (its own) and at the county (its
    //    jurisdiction, from the township's summary).
    for (code, s) in [(TOWN, &town), (COUNTY, &county)] {
        let open = ledger(&c, code, "").await? - ledger(&c, code, "status=closed").await?;
        let overdue = ledger(&c, code, "overdue=true").await?;
        let due_soon = ledger(&c, code, "due_soon=true").await?;
        assert_eq!((open, overdue, due_soon), (3.0, 1.0, 1.0), "{code}");
        let j = [("scope", "jurisdiction")];
        assert_eq!(s.get("safemesh_hazards_unclosed", &j), Some(open), "{code}");
        assert_eq!(
            s.get("safemesh_hazards_overdue", &j),
            Some(overdue),
            "{code}"
        );
        assert_eq!(
            s.get("safemesh_hazards_due_soon", &j),
            Some(due_soon),
            "{code}"
        );
    }
    assert_eq!(
        town.get("safemesh_hazards_unclosed", &[("scope", "own")]),
        Some(3.0)
    );
    assert_eq!(
        county.get("safemesh_hazards_unclosed", &[("scope", "own")]),
        Some(0.0)
    );

    // 6. The county knows how old the township's summary is (not 未上报).
    let age = county
        .get("safemesh_report_age_seconds", &[("descendant", TOWN)])
        .expect("the township's summary age");
    assert!((0.0..600.0).contains(&age), "{age}");
    assert_eq!(
        town.samples
            .iter()
            .filter(|s| s.name == "safemesh_report_age_seconds")
            .count(),
        0,
        "a township has no descendants"
    );

    // 7. Requests are counted under their route template, never their raw path.
    let route = [
        ("route", "/api/v1/hazards/{id}"),
        ("method", "GET"),
        ("status", "200"),
    ];
    let before = scrape(&c, TOWN, &town_metrics)
        .await?
        .get("safemesh_http_requests_total", &route)
        .unwrap_or(0.0);
    for id in &ids[..2] {
        let (s, _) = c.get(TOWN, &format!("/api/v1/hazards/{id}")).await?;
        assert_eq!(s, 200);
    }
    let after = scrape(&c, TOWN, &town_metrics).await?;
    assert_eq!(
        after.get("safemesh_http_requests_total", &route),
        Some(before + 2.0)
    );
    assert!(
        after
            .get(
                "safemesh_http_request_duration_seconds_count",
                &[("route", "/api/v1/hazards/{id}"), ("method", "GET")]
            )
            .unwrap()
            >= 2.0
    );
    assert!(
        !after
            .samples
            .iter()
            .any(|s| s.labels.get("route").is_some_and(|r| r.contains(&ids[0]))),
        "no raw path as a route"
    );
    assert!(
        after
            .get(
                "safemesh_http_requests_total",
                &[("route", "/metrics"), ("status", "403"), ("method", "GET")]
            )
            .unwrap()
            >= 2.0,
        "the refused scrapes of step 1"
    );

    // 8. The store: its size, its commits timed.
    assert!(after.get("safemesh_store_size_bytes", &[]).unwrap() > 0.0);
    assert!(
        after
            .get("safemesh_store_commit_duration_seconds_count", &[])
            .unwrap()
            >= 3.0
    );
    assert_eq!(
        after.get(
            "safemesh_node_info",
            &[("code", TOWN), ("level", "township")]
        ),
        Some(1.0)
    );
    c.shutdown().await;
    Ok(())
}

/// Writes a change at `code`'s own store without the authority check the API applies (as
/// tests/tests/rejections.rs does).
async fn forge_supervision(c: &Cluster, code: &str, id: &str) -> anyhow::Result<()> {
    let node = c.node(code);
    let mut w = node.store.writer().await?;
    let mut doc = w.load(id).await?.expect("document held");
    let old = doc.get_heads();
    doc.set_actor(node.actor.actor_id.clone());
    let me = AdminCode::parse(code)?;
    let event = HazardEvent {
        user: "forger".into(),
        level: Some(me.clone()),
        ..HazardEvent::new(EventKind::Supervise, me, "2026-11-22T00:00:00Z")
    };
    hazard::append_event(&mut doc, &event)?;
    doc.commit_with(CommitOptions::default().with_message(format!("forger@{code}")));
    w.put_doc(id, &mut doc, &old).await?;
    w.commit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_is_counted_under_the_rule_it_broke() -> anyhow::Result<()> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    let admin = c.node(COUNTY).token.clone();
    let (_, h) = c
        .post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("储罐区隐患", "general", "2099-12-31"),
        )
        .await?;
    let id = h["id"].as_str().expect("id").to_string();
    c.wait_converged(&id, &[COUNTY, TOWN]).await?;
    let rule = [("peer", TOWN), ("role", "child"), ("rule", "superior_only")];
    let before = scrape(&c, COUNTY, &admin).await?;
    assert_eq!(
        before.get("safemesh_link_rejected_batches_total", &rule),
        None
    );

    // The township lists its own general hazard for supervision (only its parent may): the county
    // refuses.
    forge_supervision(&c, TOWN, &id).await?;
    let after = scrape_until(&c, COUNTY, &admin, "the refusal counted", |s| {
        s.get("safemesh_link_rejected_batches_total", &rule)
            .is_some_and(|n| n >= 1.0)
    })
    .await?;
    let (_, status) = c.get(COUNTY, "/api/v1/sync/status").await?;
    let link = status["links"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["peer"] == TOWN))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        after.get("safemesh_link_rejected_batches_total", &rule),
        link["rejected_batches"].as_f64(),
        "the metric and the sync status agree: {link}"
    );
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_address_serves_metrics_only_and_without_a_token() -> anyhow::Result<()> {
    let mut c = Cluster::empty()?;
    c.add(
        TOWN,
        NodeSetup {
            metrics_listen: Some("127.0.0.1:0".parse()?),
            ..NodeSetup::default()
        },
    )
    .await?;
    let addr = c.node(TOWN).metrics_addr.expect("metrics address bound");
    let r = c
        .client()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()?
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        r.headers()
    );
    let s = Scrape::parse(&r.text().await?);
    assert_eq!(s.get("safemesh_node_info", &[("code", TOWN)]), Some(1.0));
    // Nothing else is served there, with or without a token.
    let r = c
        .client()
        .get(format!("http://{addr}/api/v1/node"))
        .bearer_auth(&c.node(TOWN).token)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 404);
    // The HTTP address still wants a token.
    assert_eq!(get_metrics(&c, TOWN, None).await?.0, 401);
    c.shutdown().await;
    Ok(())
}

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .join("deploy")
        .join(path)
}

/// The `safemesh_…` names in a PromQL expression.
fn metric_names(expr: &str, out: &mut BTreeSet<String>) {
    let mut rest = expr;
    while let Some(i) = rest.find("safemesh_") {
        let tail = &rest[i..];
        let n = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let preceded = rest[..i]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !preceded {
            out.insert(tail[..n].to_string());
        }
        rest = &tail[n..];
    }
}

/// Every `expr` in a Grafana dashboard (panels, rows' panels, template queries).
fn dashboard_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("expr" | "query", Value::String(s)) => out.push(s.clone()),
                    (_, x) => dashboard_exprs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| dashboard_exprs(x, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alerts_and_the_dashboard_use_only_metrics_a_node_exports() -> anyhow::Result<()> {
    // 1. The alert rules: a Prometheus rule file with the four alerts of issue 18, each explained.
    let rules: Value =
        serde_yaml::from_str(&std::fs::read_to_string(deploy("prometheus/alerts.yml"))?)?;
    let mut used = BTreeSet::new();
    let mut alerts = BTreeSet::new();
    for group in rules["groups"].as_array().expect("groups") {
        assert!(group["name"].is_string(), "{group}");
        for rule in group["rules"].as_array().expect("rules") {
            let name = rule["alert"].as_str().expect("an alert rule").to_string();
            let expr = rule["expr"].as_str().expect("expr");
            metric_names(expr, &mut used);
            for key in ["summary", "description"] {
                assert!(
                    rule["annotations"][key]
                        .as_str()
                        .is_some_and(|t| !t.is_empty()),
                    "{name}: annotations.{key}"
                );
            }
            assert!(rule["labels"]["severity"].is_string(), "{name}: severity");
            alerts.insert(name);
        }
    }
    for a in [
        "SafemeshLinkDown",
        "SafemeshDescendantNotReporting",
        "SafemeshCertificateExpiring",
        "SafemeshBatchRejected",
    ] {
        assert!(alerts.contains(a), "{a} missing from {alerts:?}");
    }
    // 2. The dashboard: Grafana JSON whose panels query the node's metrics.
    let dash: Value =
        serde_json::from_str(&std::fs::read_to_string(deploy("grafana/safemesh.json"))?)?;
    assert!(dash["title"].is_string() && dash["panels"].is_array());
    let mut exprs = Vec::new();
    dashboard_exprs(&dash, &mut exprs);
    assert!(exprs.len() >= 9, "{exprs:?}");
    for e in &exprs {
        metric_names(e, &mut used);
    }
    // 3. Every name is in a real scrape of a county with a township below it.
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    let admin = c.node(COUNTY).token.clone();
    c.wait_for(COUNTY, "/api/v1/rollup", "the township's summary", |v| {
        v["children"].as_array().is_some_and(|ch| {
            ch.iter()
                .any(|x| x["code"] == TOWN && x["reported"] == true)
        })
    })
    .await?;
    let exported = scrape(&c, COUNTY, &admin).await?.names();
    let missing: Vec<&String> = used.iter().filter(|n| !exported.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "not exported: {missing:?}; exported: {exported:?}"
    );
    assert!(used.len() >= 10, "{used:?}");
    c.shutdown().await;
    Ok(())
}
