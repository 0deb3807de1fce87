//! Certificates on real links (in-process clusters, gRPC over mutual TLS on loopback): who is refused,
//! how the refusal shows in both sides' sync status, that nothing from a refused peer is stored, and
//! that rotation and revocation take effect on running nodes.
//!
//! "Nothing stored" is checked after the refused child has retried at least twice *after* it wrote
//! the record that must not arrive (its parent's refusal counter says so), so the absence is not a
//! matter of waiting long enough.

use anyhow::{Context, ensure};
use safemesh_model::AdminCode;
use safemesh_node::init::{ca_issue, ca_revoke, cert_install_crl};
use safemesh_testkit::gateway::ca::{
    CRL_FILE, Ca, REVOKED_FILE, copy_revocation_list, read_crl, write_node_files,
};
use safemesh_testkit::gateway::tls::{self, NodeIdentity};
use safemesh_testkit::{Cluster, NodeSetup, hazard_json};
use serde_json::Value;

fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).expect("valid code")
}

async fn status(c: &Cluster, node: &str) -> anyhow::Result<Value> {
    let (s, v) = c.get(node, "/api/v1/sync/status").await?;
    ensure!(s == 200, "sync status of {node}: {s} {v}");
    Ok(v)
}

fn link<'a>(v: &'a Value, peer: &str) -> Option<&'a Value> {
    v["links"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["peer"] == peer))
}

fn count(v: &Value, reason: &str) -> u64 {
    v["rejected_handshakes"][reason].as_u64().unwrap_or(0)
}

/// Waits until `node`'s link to `peer` satisfies `check`; returns that link.
async fn wait_link(
    c: &Cluster,
    node: &str,
    peer: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let v = c
        .wait_for(node, "/api/v1/sync/status", what, |v| {
            link(v, peer).is_some_and(&check)
        })
        .await?;
    Ok(link(&v, peer).cloned().unwrap_or_default())
}

/// Waits until `node` has counted at least `n` refused handshakes for `reason`.
async fn wait_count(c: &Cluster, node: &str, reason: &str, n: u64) -> anyhow::Result<Value> {
    c.wait_for(
        node,
        "/api/v1/sync/status",
        &format!("{n} × {reason}"),
        |v| count(v, reason) >= n,
    )
    .await
}

fn in_sync(l: &Value) -> bool {
    l["state"] == "in_sync"
}

/// Registers a general hazard at `node`; returns its id.
async fn hazard(c: &Cluster, node: &str, title: &str) -> anyhow::Result<String> {
    let (s, h) = c
        .post(
            node,
            "/api/v1/hazards",
            &hazard_json(title, "general", "2026-12-31"),
        )
        .await?;
    ensure!(s == 201, "create hazard at {node}: {s} {h}");
    Ok(h["id"].as_str().context("id")?.to_string())
}

async fn holds(c: &Cluster, node: &str, hazard_id: &str) -> anyhow::Result<bool> {
    Ok(c.get(node, &format!("/api/v1/hazards/{hazard_id}"))
        .await?
        .0
        == 200)
}

/// `at` stores nothing from `peer`: no record it owns, no summary of it, no link row.
async fn assert_nothing_from(c: &Cluster, at: &str, peer: &str) -> anyhow::Result<()> {
    let (s, v) = c.get(at, &format!("/api/v1/hazards?owner={peer}")).await?;
    ensure!(s == 200, "{s} {v}");
    assert_eq!(
        v["items"],
        Value::Array(vec![]),
        "{at} holds hazards of {peer}"
    );
    let (s, v) = c.get(at, &format!("/api/v1/rollup?scope={peer}")).await?;
    assert_eq!(s, 404, "{at} holds a summary of {peer}: {v}");
    let rows = c.node(at).store.links().await?;
    assert!(
        rows.iter().all(|r| r.peer != peer),
        "{at} stored a link with {peer}"
    );
    Ok(())
}

/// Makes `child` open a new connection to `parent`: cuts the link until the child sees it down, then
/// heals it.
async fn reconnect(c: &Cluster, child: &str, parent: &str) -> anyhow::Result<()> {
    c.cut(child);
    wait_link(c, child, parent, "link down", |l| !in_sync(l)).await?;
    c.heal(child);
    Ok(())
}

/// The serial of the certificate a node presents now.
fn serial_in(c: &Cluster, node: &str) -> anyhow::Result<String> {
    NodeIdentity::load(&c.tls_dir(node))?
        .current_serial()
        .context("serial")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_with_certificate_from_another_ca_is_refused() -> anyhow::Result<()> {
    // 1. A province node, and another CA that is not the province's.
    let mut c = Cluster::empty()?;
    c.add("53", NodeSetup::default()).await?;
    let other = Ca::init(&c.base_dir().join("other-ca"), "other")?;
    let mesh_ca = std::fs::read_to_string(c.ca_dir().join("ca.pem"))?;

    // 2. City 5301 starts with a certificate from the other CA (it trusts both CAs, so only the
    //    province's check can refuse).
    let issued = other.issue(&code("5301"), 30)?;
    let both = format!("{}{mesh_ca}", other.ca_cert_pem());
    c.add(
        "5301",
        NodeSetup {
            before_start: Some(Box::new(move |d| {
                write_node_files(&issued, &both, &d.join("tls"))?;
                Ok(())
            })),
            ..NodeSetup::default()
        },
    )
    .await?;

    // 3. The province refuses it in the handshake and counts it as unknown_ca; the code such a
    //    certificate claims is not believed, so it is not listed among the province's links.
    let v = wait_count(&c, "53", "unknown_ca", 1).await?;
    assert!(link(&v, "5301").is_none(), "untrusted code listed: {v}");

    // 4. The city learns why from the TLS alert: rejected, unknown_ca.
    let l = wait_link(&c, "5301", "53", "city rejected", |l| {
        l["state"] == "rejected"
    })
    .await?;
    assert!(
        l["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("unknown_ca"),
        "{l}"
    );

    // 5. A hazard the city registers never reaches the province, however often it retries.
    let h = hazard(&c, "5301", "外省 CA 的证书").await?;
    let seen = count(&status(&c, "53").await?, "unknown_ca");
    wait_count(&c, "53", "unknown_ca", seen + 2).await?;
    assert!(!holds(&c, "53", &h).await?);
    assert_nothing_from(&c, "53", "5301").await?;
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grandchild_certificate_is_refused_and_shown_as_rejected() -> anyhow::Result<()> {
    // 1. A province, and county 530181 (a CA-issued certificate) dialling the province directly,
    //    configured to expect it as parent.
    let mut c = Cluster::empty()?;
    c.add("53", NodeSetup::default()).await?;
    c.add(
        "530181",
        NodeSetup {
            dial: Some("53".into()),
            parent_code: Some("53".into()),
            ..NodeSetup::default()
        },
    )
    .await?;
    assert_eq!(c.node("530181").parent_code(), Some(&code("53")));

    // 2. The province refuses it (not a direct child), counts it, and lists the county as rejected
    //    with the reason: its code is the CA's word.
    wait_count(&c, "53", "not_direct_child", 1).await?;
    let l = wait_link(&c, "53", "530181", "county rejected at province", |l| {
        l["state"] == "rejected"
    })
    .await?;
    assert_eq!(l["role"], "child", "{l}");
    let err = l["last_error"].as_str().unwrap_or("");
    assert!(err.contains("not_direct_child"), "{l}");
    assert!(err.contains("not a direct child of 53"), "{l}");
    assert!(
        l["peer_serial"].as_str() == Some(serial_in(&c, "530181")?.as_str()),
        "{l}"
    );

    // 3. The county sees the refusal's reason too (access_denied alert).
    let l = wait_link(&c, "530181", "53", "province refused county", |l| {
        l["state"] == "rejected"
    })
    .await?;
    assert!(
        l["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("not_direct_child"),
        "{l}"
    );

    // 4. Nothing of the county's reaches the province.
    let h = hazard(&c, "530181", "越级接入").await?;
    let seen = count(&status(&c, "53").await?, "not_direct_child");
    wait_count(&c, "53", "not_direct_child", seen + 2).await?;
    assert!(!holds(&c, "53", &h).await?);
    assert_nothing_from(&c, "53", "530181").await?;
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_certificate_is_refused() -> anyhow::Result<()> {
    // 1. Province and city, linked; the city's first hazard reaches the province.
    let c = Cluster::start(&["53", "5301"]).await?;
    wait_link(&c, "53", "5301", "city in sync", in_sync).await?;
    let h1 = hazard(&c, "5301", "有效证书期间登记").await?;
    c.wait_for(
        "53",
        &format!("/api/v1/hazards/{h1}"),
        "h1 at province",
        |v| v["id"] == h1.as_str(),
    )
    .await?;

    // 2. A certificate for city 5302 whose validity ended yesterday is refused in the handshake,
    //    counted as expired, and 5302 shows as rejected (the CA issued it; only its time is over).
    let old = c.issue_with_validity("5302", -10 * 86400, -86400)?;
    let ca_pem = std::fs::read_to_string(c.ca_dir().join("ca.pem"))?;
    let expired = NodeIdentity::from_pem_unverified(&old.cert_pem, &old.key_pem, &ca_pem)?;
    let refused = tls::probe(
        c.node("53").link_addr,
        tls::client_config(&expired, code("53"))?,
    )
    .await
    .expect_err("an expired certificate is refused");
    assert!(
        refused.to_string().contains("CertificateExpired"),
        "{refused}"
    );
    wait_count(&c, "53", "expired", 1).await?;
    let l = wait_link(&c, "53", "5302", "5302 rejected", |l| {
        l["state"] == "rejected"
    })
    .await?;
    assert!(
        l["last_error"].as_str().unwrap_or("").contains("expired"),
        "{l}"
    );
    assert_nothing_from(&c, "53", "5302").await?;

    // 3. The running city is given a certificate that expires in a few seconds and reconnects
    //    with it; the province accepts it while it is valid.
    let short = c.issue_with_validity("5301", -60, 6)?;
    write_node_files(&short, &ca_pem, &c.tls_dir("5301"))?;
    reconnect(&c, "5301", "53").await?;
    wait_link(
        &c,
        "53",
        "5301",
        "city back with the short certificate",
        |l| l["peer_serial"] == short.serial_hex.as_str() && in_sync(l),
    )
    .await?;

    // 4. When it expires, the province closes the live stream and refuses every reconnect.
    let l = wait_link(&c, "53", "5301", "stream closed at expiry", |l| {
        l["state"] == "rejected"
    })
    .await?;
    assert!(
        l["last_error"].as_str().unwrap_or("").contains("expired"),
        "{l}"
    );
    wait_count(&c, "53", "expired", 2).await?;
    let l = wait_link(&c, "5301", "53", "city told why", |l| {
        l["state"] == "rejected"
    })
    .await?;
    assert!(
        l["last_error"].as_str().unwrap_or("").contains("expired"),
        "{l}"
    );

    // 5. Nothing the city registers from now on reaches the province.
    let h2 = hazard(&c, "5301", "证书过期后登记").await?;
    let seen = count(&status(&c, "53").await?, "expired");
    wait_count(&c, "53", "expired", seen + 2).await?;
    assert!(!holds(&c, "53", &h2).await?);
    assert!(holds(&c, "53", &h1).await?, "what came before stays");
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_certificate_is_refused_without_restart_and_its_live_stream_closed()
-> anyhow::Result<()> {
    // 1. Province and city, linked; the city's hazard and summary reach the province.
    let c = Cluster::start(&["53", "5301"]).await?;
    let h1 = hazard(&c, "5301", "吊销前登记").await?;
    c.wait_for(
        "53",
        "/api/v1/rollup?scope=5301",
        "city summary at province",
        |v| v["own_hazards"]["total"] == 1,
    )
    .await?;
    assert!(holds(&c, "53", &h1).await?);
    let l = wait_link(&c, "53", "5301", "city in sync", in_sync).await?;
    let serial = serial_in(&c, "5301")?;
    assert_eq!(l["peer_serial"], serial.as_str(), "{l}");

    // 2. The CA revokes the city's certificate; the list is copied to the running province.
    ca_revoke(&c.ca_dir(), &serial, Some("测试吊销 / test"))?;
    assert!(copy_revocation_list(&c.ca_dir(), &c.tls_dir("53"))?);
    assert!(c.tls_dir("53").join(REVOKED_FILE).is_file());

    // 3. The province closes the city's live stream and shows it as rejected: revoked. (Nothing else
    //    would end that stream: the link was in sync, and no reconnect is refused before it ends.)
    let l = wait_link(&c, "53", "5301", "live stream closed", |l| {
        l["state"] == "rejected"
    })
    .await?;
    assert!(
        l["last_error"].as_str().unwrap_or("").contains("revoked"),
        "{l}"
    );

    // 4. Every reconnect is refused in the handshake and counted; the city is told why.
    wait_count(&c, "53", "revoked", 1).await?;
    let l = wait_link(&c, "5301", "53", "city told why", |l| {
        l["state"] == "rejected"
    })
    .await?;
    assert!(
        l["last_error"].as_str().unwrap_or("").contains("revoked"),
        "{l}"
    );

    // 5. Nothing the city writes from now on is stored at the province: not the hazard, not the
    //    summary counting it.
    let h2 = hazard(&c, "5301", "吊销后登记").await?;
    c.wait_for("5301", "/api/v1/rollup", "city counts both", |v| {
        v["own_hazards"]["total"] == 2
    })
    .await?;
    let seen = count(&status(&c, "53").await?, "revoked");
    wait_count(&c, "53", "revoked", seen + 2).await?;
    assert!(!holds(&c, "53", &h2).await?);
    let (_, r) = c.get("53", "/api/v1/rollup?scope=5301").await?;
    assert_eq!(r["own_hazards"]["total"], 1, "{r}");
    c.shutdown().await;
    Ok(())
}

/// Issues a directive at `node` for `targets`; returns its id.
async fn directive(
    c: &Cluster,
    node: &str,
    title: &str,
    targets: &[&str],
) -> anyhow::Result<String> {
    let body = serde_json::json!({
        "title": title,
        "body": "排查整治",
        "targets": targets,
        "deadline": "2026-12-31",
    });
    let (s, d) = c.post(node, "/api/v1/directives", &body).await?;
    ensure!(s == 201, "create directive at {node}: {s} {d}");
    Ok(d["id"].as_str().context("id")?.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_closes_its_link_to_a_revoked_parent() -> anyhow::Result<()> {
    // 1. Province and city, linked; a directive of the province reaches the city.
    let c = Cluster::start(&["53", "5301"]).await?;
    let d1 = directive(&c, "53", "吊销前的任务", &["5301"]).await?;
    c.wait_for(
        "5301",
        &format!("/api/v1/directives/{d1}"),
        "d1 at city",
        |v| v["id"] == d1.as_str(),
    )
    .await?;
    let l = wait_link(&c, "5301", "53", "city in sync", in_sync).await?;
    let serial = serial_in(&c, "53")?;
    assert_eq!(l["peer_serial"], serial.as_str(), "{l}");

    // 2. The province's certificate is revoked; the list reaches the running city only.
    ca_revoke(&c.ca_dir(), &serial, Some("省级私钥泄露 / key leaked"))?;
    assert!(copy_revocation_list(&c.ca_dir(), &c.tls_dir("5301"))?);

    // 3. The city closes its live link and refuses the province's certificate from then on.
    let l = wait_link(&c, "5301", "53", "link to revoked parent closed", |l| {
        l["state"] == "rejected"
    })
    .await?;
    assert!(
        l["last_error"].as_str().unwrap_or("").contains("revoked"),
        "{l}"
    );
    wait_count(&c, "5301", "revoked", 1).await?;

    // 4. Nothing the province sends from now on is stored at the city.
    let d2 = directive(&c, "53", "吊销后的任务", &["5301"]).await?;
    let seen = count(&status(&c, "5301").await?, "revoked");
    wait_count(&c, "5301", "revoked", seen + 2).await?;
    assert_eq!(
        c.get("5301", &format!("/api/v1/directives/{d2}")).await?.0,
        404
    );
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_certificate_is_used_on_reconnect_and_the_old_one_stays_valid() -> anyhow::Result<()>
{
    // 1. Province and city, linked; the province sees the city's serial.
    let c = Cluster::start(&["53", "5301"]).await?;
    let old_serial = serial_in(&c, "5301")?;
    wait_link(&c, "53", "5301", "old serial", |l| {
        in_sync(l) && l["peer_serial"] == old_serial.as_str()
    })
    .await?;
    let tls_dir = c.tls_dir("5301");
    let old_pem = std::fs::read_to_string(tls_dir.join("node.pem"))?;
    let old_key = std::fs::read_to_string(tls_dir.join("node.key"))?;

    // 2. A new certificate is issued into the running city's D/tls (no restart).
    let issued = ca_issue(&c.ca_dir(), &code("5301"), &tls_dir)?;
    assert_ne!(issued.serial_hex, old_serial);

    // 3. On its next connection the city presents the new certificate.
    reconnect(&c, "5301", "53").await?;
    wait_link(&c, "53", "5301", "new serial", |l| {
        in_sync(l) && l["peer_serial"] == issued.serial_hex.as_str()
    })
    .await?;
    let h = hazard(&c, "5301", "换证后登记").await?;
    c.wait_for(
        "53",
        &format!("/api/v1/hazards/{h}"),
        "hazard after rotation",
        |v| v["id"] == h.as_str(),
    )
    .await?;

    // 4. The old certificate is still accepted by the province until it expires.
    let ca_pem = std::fs::read_to_string(c.ca_dir().join("ca.pem"))?;
    let old = NodeIdentity::from_pem(&old_pem, &old_key, &ca_pem)?;
    let seen = tls::probe(
        c.node("53").link_addr,
        tls::client_config(&old, code("53"))?,
    )
    .await?;
    assert_eq!(seen, Some(code("53")));

    // 5. No refusal anywhere.
    for node in ["53", "5301"] {
        let v = status(&c, node).await?;
        let refused: u64 = v["rejected_handshakes"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        assert_eq!(refused, 0, "{node}: {v}");
    }
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_refuses_a_parent_presenting_another_code() -> anyhow::Result<()> {
    // 1. Province and city; county 530181 is pointed at the province's address by mistake (it
    //    expects its prefix parent 5301).
    let mut c = Cluster::start(&["53", "5301"]).await?;
    c.add(
        "530181",
        NodeSetup {
            dial: Some("53".into()),
            ..NodeSetup::default()
        },
    )
    .await?;
    assert_eq!(c.node("530181").parent_code(), Some(&code("5301")));

    // 2. The county refuses the province's certificate in the handshake: rejected, counted.
    let l = wait_link(&c, "530181", "5301", "county refuses province", |l| {
        l["state"] == "rejected"
    })
    .await?;
    assert!(
        l["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("server certificate code 53 is not the expected peer 5301"),
        "{l}"
    );
    wait_count(&c, "530181", "wrong_parent", 1).await?;

    // 3. The province never got as far as judging the county, and stores nothing of it.
    let h = hazard(&c, "530181", "连错上级").await?;
    let seen = count(&status(&c, "530181").await?, "wrong_parent");
    wait_count(&c, "530181", "wrong_parent", seen + 2).await?;
    assert!(!holds(&c, "53", &h).await?);
    let v = status(&c, "53").await?;
    assert!(link(&v, "530181").is_none(), "{v}");
    assert_nothing_from(&c, "53", "530181").await?;
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zone_configured_under_a_parent_links_by_its_configured_code() -> anyhow::Result<()> {
    // 1. 昆明经济技术开发区 (530111402, by its code under 官渡区 530111) is run by the city: the city
    //    lists it in `extra_children`, the zone names the city as `parent_code`.
    let mut c = Cluster::empty()?;
    c.add("53", NodeSetup::default()).await?;
    c.add(
        "5301",
        NodeSetup {
            extra_children: vec!["530111402".into()],
            ..NodeSetup::default()
        },
    )
    .await?;
    c.add(
        "530111402",
        NodeSetup {
            dial: Some("5301".into()),
            parent_code: Some("5301".into()),
            ..NodeSetup::default()
        },
    )
    .await?;

    // 2. Both ends of the link accept each other's certificate and reach in_sync.
    let l = wait_link(&c, "5301", "530111402", "zone at city", in_sync).await?;
    assert_eq!(l["role"], "child", "{l}");
    let l = wait_link(&c, "530111402", "5301", "city at zone", in_sync).await?;
    assert_eq!(l["role"], "parent", "{l}");
    for node in ["5301", "530111402"] {
        let v = status(&c, node).await?;
        assert_eq!(
            count(&v, "not_direct_child") + count(&v, "wrong_parent"),
            0,
            "{v}"
        );
    }

    // 3. A major hazard of the zone reaches the city over that link (its audience is every
    //    ancestor by code, which includes the city). Replication scope otherwise still follows the
    //    code prefix (see docs/OPERATIONS.md).
    let (s, h) = c
        .post(
            "530111402",
            "/api/v1/hazards",
            &hazard_json("开发区重大隐患", "major", "2026-12-31"),
        )
        .await?;
    ensure!(s == 201, "{s} {h}");
    let id = h["id"].as_str().context("id")?;
    c.wait_for(
        "5301",
        &format!("/api/v1/hazards/{id}"),
        "zone hazard at city",
        |v| v["id"] == id,
    )
    .await?;
    c.shutdown().await;
    Ok(())
}

#[test]
fn init_and_issue_copy_the_ca_revocation_list() -> anyhow::Result<()> {
    use safemesh_node::init::{InitOptions, ca_init, init_node};
    // 1. A CA that has revoked one serial.
    let dir = tempfile::tempdir()?;
    let ca = dir.path().join("ca");
    ca_init(&ca, "test")?;
    ca_revoke(&ca, "01:AB:cd", Some("test"))?;

    // 2. `safemesh init` gives the new node the CA's current list, which its node then honours.
    let data = dir.path().join("5301");
    init_node(&InitOptions {
        data_dir: data.clone(),
        code: "5301".into(),
        listen: "127.0.0.1:0".parse()?,
        http: "127.0.0.1:0".parse()?,
        parent: None,
        ca_dir: Some(ca.clone()),
        name: None,
        database_url: None,
    })?;
    let list = tls::RevocationList::open(data.join("tls").join(REVOKED_FILE));
    assert!(list.contains("1abcd"));

    // 3. `ca issue --out` does the same, and returns the serial it issued.
    ca_revoke(&ca, "7f00", None)?;
    let issued = ca_issue(&ca, &code("5301"), &data.join("tls"))?;
    assert!(
        list.is_revoked("7F:00"),
        "re-read after the copy changed it"
    );
    assert!(!list.is_revoked(&issued.serial_hex));
    Ok(())
}

/// Waits (up to 30 s) until `check` holds of what `probe` reads.
async fn eventually<T: std::fmt::Debug, F: std::future::Future<Output = anyhow::Result<T>>>(
    what: &str,
    probe: impl Fn() -> F,
    check: impl Fn(&T) -> bool,
) -> anyhow::Result<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let v = probe().await?;
        if check(&v) {
            return Ok(v);
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; last: {v:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Issue 19 #12: revocation as a CRL signed by the CA that travels down the mesh by itself, and
/// voids what the revoked certificate established at the moment a node learns of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crl_installed_at_the_province_reaches_the_county_by_the_mesh_and_voids_the_township()
-> anyhow::Result<()> {
    const COUNTY: &str = "530181";
    const TOWNSHIP: &str = "530181006";
    // 1. Province, city, county and township, linked; the township's hazard reaches the county,
    //    whose link state with the township is bound to its certificate and has moved.
    let mut c = Cluster::start(&["53", "5301", COUNTY, TOWNSHIP]).await?;
    let h = hazard(&c, TOWNSHIP, "吊销前登记").await?;
    c.wait_converged(&h, &[TOWNSHIP, COUNTY]).await?;
    wait_link(&c, COUNTY, TOWNSHIP, "township in sync", in_sync).await?;
    let serial = serial_in(&c, TOWNSHIP)?;
    let row = c.node(COUNTY).store.link(&code(TOWNSHIP)).await?;
    assert_eq!(row.peer_serial.as_deref(), Some(serial.as_str()));
    assert!(row.recv_cursor > 0, "{row:?}");

    // 2. The CA revokes the township's certificate; the CRL is installed at the province only.
    ca_revoke(&c.ca_dir(), &serial, Some("乡镇电脑被盗 / stolen"))?;
    let installed = cert_install_crl(&c.data_dir("53"), &c.ca_dir().join(CRL_FILE))?;
    assert_eq!(installed.number(), 1);

    // 3. The CRL reaches the city and the county over the links: each holds it, on its disk too.
    //    No revocation file was put at either.
    for node in ["5301", COUNTY] {
        eventually(
            &format!("CRL at {node}"),
            || async { Ok(c.node(node).revocations().crl().map(|crl| crl.number())) },
            |n| *n == Some(1),
        )
        .await?;
        let on_disk = read_crl(
            &c.tls_dir(node).join(CRL_FILE),
            &std::fs::read_to_string(c.tls_dir(node).join("ca.pem"))?,
        )?;
        assert!(on_disk.serials().contains(serial.trim_start_matches('0')));
        assert!(!c.tls_dir(node).join(REVOKED_FILE).exists());
    }

    // 4. The county closes the township's stream and refuses its certificate in the handshake.
    let l = wait_link(&c, COUNTY, TOWNSHIP, "township's stream closed", |l| {
        l["state"] == "rejected"
    })
    .await?;
    assert!(
        l["last_error"].as_str().unwrap_or("").contains("revoked"),
        "{l}"
    );
    wait_count(&c, COUNTY, "revoked", 1).await?;

    // 5. What the township's certificate established at the county is void now, not when a
    //    re-issued certificate first connects: cursors 0, a digest repair pending.
    let peer = code(TOWNSHIP);
    let row = eventually(
        "township's link state voided",
        || async { Ok(c.node(COUNTY).store.link(&peer).await?) },
        |r| {
            r.peer_serial
                .as_deref()
                .is_some_and(|s| s.starts_with("revoked:"))
        },
    )
    .await?;
    assert_eq!((row.recv_cursor, row.acked_cursor), (0, 0), "{row:?}");
    assert!(c.node(COUNTY).store.repair_pending(&peer).await?);

    // 6. After a restart the county still holds the CRL and still refuses the township.
    c.stop(COUNTY).await;
    c.restart(COUNTY).await?;
    assert_eq!(
        c.node(COUNTY).revocations().crl().map(|crl| crl.number()),
        Some(1)
    );
    wait_count(&c, COUNTY, "revoked", 1).await?;
    c.shutdown().await;
    Ok(())
}
