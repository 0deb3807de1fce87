//! The rejection matrix over a real link (gRPC + mutual TLS): a node that writes what it may not —
//! forged straight into its own store, past its API — has the whole batch refused by its parent with a
//! typed error frame; nothing of it is stored upstream, the document is quarantined on that link, and the
//! link keeps serving everything else.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ObjType, ROOT, ReadDoc};
use safemesh_doc::{AutoCommit, hazard};
use safemesh_model::AdminCode;
use safemesh_model::hazard::{EventKind, HazardEvent};
use safemesh_testkit::{Cluster, hazard_json};
use serde_json::{Value, json};

const TOWN: &str = "530181006";
const COUNTY: &str = "530181";

/// Writes a change at `code`'s own store without the authority check the API applies.
async fn forge(
    c: &Cluster,
    code: &str,
    id: &str,
    edit: impl FnOnce(&mut AutoCommit),
) -> anyhow::Result<()> {
    let node = c.node(code);
    let mut w = node.store.writer().await?;
    let mut doc = w.load(id).await?.expect("document held");
    let old = doc.get_heads();
    doc.set_actor(node.actor.actor_id.clone());
    edit(&mut doc);
    doc.commit_with(CommitOptions::default().with_message(format!("forger@{code}")));
    w.put_doc(id, &mut doc, &old).await?;
    w.commit().await?;
    Ok(())
}

fn ev(kind: EventKind, by: &str) -> HazardEvent {
    let code = AdminCode::parse(by).unwrap();
    HazardEvent {
        user: "forger".into(),
        level: Some(code.clone()),
        ..HazardEvent::new(kind, code, "2026-11-22T00:00:00Z")
    }
}

async fn county_link(c: &Cluster, peer: &str) -> anyhow::Result<Value> {
    let (_, v) = c.get(COUNTY, "/api/v1/sync/status").await?;
    Ok(v["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["peer"] == peer)
        .cloned()
        .unwrap_or(Value::Null))
}

/// Asserts the township's link reports the refusal of `id` by `rule`, and the county holds `id` at `heads`.
async fn refused(
    c: &Cluster,
    id: &str,
    rule: &str,
    county_heads: Option<Vec<String>>,
) -> anyhow::Result<()> {
    let status = c
        .wait_for(
            TOWN,
            "/api/v1/sync/status",
            "quarantine at the township",
            |v| {
                v["links"][0]["quarantined"]
                    .as_array()
                    .is_some_and(|q| q.iter().any(|d| d == id))
            },
        )
        .await?;
    let err = status["links"][0]["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        err.contains(rule) || err.contains("forbidden"),
        "the error names the refusal: {err}"
    );
    assert_eq!(
        c.heads(COUNTY, id).await?,
        county_heads,
        "nothing of the forged change stored at the county"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_writes_over_a_real_link_are_refused_and_nothing_is_stored() -> anyhow::Result<()>
{
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    // Setup: a township major hazard and a county directive to the township, replicated.
    let (_, h) = c
        .post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("储罐区隐患", "major", "2026-12-31"),
        )
        .await?;
    let hid = h["id"].as_str().unwrap().to_string();
    let (_, d) = c
        .post(
            COUNTY,
            "/api/v1/directives",
            &json!({"title": "专项整治", "targets": [TOWN], "deadline": "2026-12-31"}),
        )
        .await?;
    let did = d["id"].as_str().unwrap().to_string();
    c.wait_converged(&hid, &[COUNTY, TOWN]).await?;
    c.wait_converged(&did, &[COUNTY, TOWN]).await?;
    let hazard_heads = c.heads(COUNTY, &hid).await?;
    let directive_heads = c.heads(COUNTY, &did).await?;

    // 1. The township escalates its own hazard (only a level above may): refused.
    forge(&c, TOWN, &hid, |doc| {
        hazard::append_event(doc, &ev(EventKind::Escalate, TOWN)).unwrap()
    })
    .await?;
    refused(&c, &hid, "superior_only", hazard_heads.clone()).await?;

    // 2. The link still serves valid traffic: a new hazard from the township arrives.
    let (_, ok) = c
        .post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("正常登记", "general", "2026-12-31"),
        )
        .await?;
    c.wait_converged(ok["id"].as_str().unwrap(), &[COUNTY, TOWN])
        .await?;

    // 3. The township rewrites the title of the county's directive (only the issuer may): refused.
    forge(&c, TOWN, &did, |doc| {
        let core = doc.get(ROOT, "core").unwrap().unwrap().1;
        doc.put(&core, "title", "被篡改的标题").unwrap();
    })
    .await?;
    refused(&c, &did, "issuer_only", directive_heads.clone()).await?;

    // 4. The county's copy of both documents is as it was; the county counted the rejections.
    assert_eq!(
        c.get(COUNTY, &format!("/api/v1/directives/{did}")).await?.1["title"],
        "专项整治"
    );
    assert!(c.get(COUNTY, &format!("/api/v1/hazards/{hid}")).await?.1["supervising"].is_null());
    let link = county_link(&c, TOWN).await?;
    assert!(
        link["rejected_batches"].as_u64().unwrap_or(0) >= 2 || link["last_error"].is_string(),
        "{link}"
    );

    // 5. Through the API the same writes are 403 with the rule's name, and nothing is stored.
    let (s, e) = c
        .post(
            TOWN,
            &format!("/api/v1/hazards/{hid}/events"),
            &json!({"kind": "escalate", "method": "约谈", "reply_by": "2099-12-01"}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["rule"].as_str()),
        (403, Some("superior_only"))
    );
    let (s, e) = c
        .post(
            COUNTY,
            &format!("/api/v1/directives/{did}/responses"),
            &json!({"action": "receive"}),
        )
        .await?;
    assert_eq!(
        (s, e["error"]["rule"].as_str()),
        (403, Some("own_response_only"))
    );
    c.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_cannot_write_into_a_childs_record_or_delete_its_events() -> anyhow::Result<()> {
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    let (_, h) = c
        .post(
            TOWN,
            "/api/v1/hazards",
            &hazard_json("一般隐患", "general", "2026-12-31"),
        )
        .await?;
    let hid = h["id"].as_str().unwrap().to_string();
    c.wait_converged(&hid, &[COUNTY, TOWN]).await?;
    let town_heads = c.heads(TOWN, &hid).await?;
    // 1. The county deletes the township's registration event and edits its core: refused at the township.
    forge(&c, COUNTY, &hid, |doc| {
        let events = doc.get(ROOT, "events").unwrap().unwrap().1;
        doc.delete(&events, 0).unwrap();
        let core = doc.get(ROOT, "core").unwrap().unwrap().1;
        let _ = doc.put_object(&core, "enterprise", ObjType::Map).unwrap();
    })
    .await?;
    let status = c
        .wait_for(
            COUNTY,
            "/api/v1/sync/status",
            "quarantine at the county",
            |v| {
                v["links"].as_array().unwrap().iter().any(|l| {
                    l["quarantined"]
                        .as_array()
                        .is_some_and(|q| q.iter().any(|d| d == &hid))
                })
            },
        )
        .await?;
    assert!(
        status.to_string().contains("events_append_only"),
        "the error names the rule: {status}"
    );
    // 2. The township still has its record untouched.
    assert_eq!(c.heads(TOWN, &hid).await?, town_heads);
    assert_eq!(
        c.get(TOWN, &format!("/api/v1/hazards/{hid}")).await?.1["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    c.shutdown().await;
    Ok(())
}
