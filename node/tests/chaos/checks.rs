//! What must hold once a round's faults are healed: every acknowledged write present at every node in
//! its audience (read through each node's HTTP API), the heads of every document equal wherever it is
//! held and every store sound (`PRAGMA integrity_check`, read-only beside the running node), and every
//! node still running. [`converge`] polls for the first two within a bound.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use safemesh_store::inspect_sqlite;
use serde_json::Value;

use super::load::{Acked, Target, Write};

/// The records one node's API shows: hazards and directives by id.
#[derive(Default)]
struct Held {
    hazards: HashMap<String, Value>,
    directives: HashMap<String, Value>,
}

async fn list(client: &reqwest::Client, t: &Target, path: &str) -> Result<Vec<Value>, String> {
    let mut all = Vec::new();
    loop {
        let url = format!("{}{path}?limit=500&offset={}", t.base, all.len());
        let r = client
            .get(&url)
            .bearer_auth(&t.token)
            .send()
            .await
            .map_err(|e| format!("{}: {e}", t.code))?;
        let v: Value = r.json().await.map_err(|e| format!("{}: {e}", t.code))?;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        let total = v["total"].as_u64().unwrap_or(0) as usize;
        let empty = items.is_empty();
        all.extend(items);
        if all.len() >= total || empty {
            return Ok(all);
        }
    }
}

async fn held(client: &reqwest::Client, t: &Target) -> Result<Held, String> {
    let by_id = |items: Vec<Value>| {
        items
            .into_iter()
            .map(|v| (v["id"].as_str().unwrap_or_default().to_string(), v))
            .collect()
    };
    Ok(Held {
        hazards: by_id(list(client, t, "/api/v1/hazards").await?),
        directives: by_id(list(client, t, "/api/v1/directives").await?),
    })
}

/// The nodes that must hold the document `doc` was written to: the audience rules of PROTOCOL.md §4
/// (a general hazard: owner and parent; a major one: owner and every ancestor; a directive: issuer and
/// targets, or the issuer's whole subtree for a 紧急通知).
fn audience(tree: &[Target], acked: &[Acked], doc: &str) -> Vec<usize> {
    let Some(origin) = acked.iter().find(|a| match &a.write {
        Write::Hazard { id, .. } | Write::Directive { id, .. } => id == doc,
        _ => false,
    }) else {
        return Vec::new();
    };
    let ancestors = |mut i: usize| {
        let mut up = Vec::new();
        while let Some(p) = tree[i].parent {
            up.push(p);
            i = p;
        }
        up
    };
    let below = |i: usize| (0..tree.len()).filter(move |&j| j != i && ancestors(j).contains(&i));
    let mut who = vec![origin.at];
    match &origin.write {
        Write::Hazard { major: true, .. } => who.extend(ancestors(origin.at)),
        Write::Hazard { major: false, .. } => who.extend(tree[origin.at].parent),
        Write::Directive { cascade: true, .. } => who.extend(below(origin.at)),
        Write::Directive { targets, .. } => who.extend(targets),
        _ => {}
    }
    who
}

/// Each acknowledged write missing at a node of its audience, in words.
fn missing(tree: &[Target], acked: &[Acked], helds: &[Held]) -> Vec<String> {
    let mut out = Vec::new();
    for a in acked {
        let (doc, note, directive) = match &a.write {
            Write::Hazard { id, .. } => (id, None, false),
            Write::Event { hazard, note } => (hazard, Some(note), false),
            Write::Directive { id, .. } => (id, None, true),
            Write::Response { directive, note } => (directive, Some(note), true),
        };
        for n in audience(tree, acked, doc) {
            let held = if directive {
                &helds[n].directives
            } else {
                &helds[n].hazards
            };
            let present = held.get(doc).is_some_and(|v| match note {
                None => true,
                Some(note) if directive => v["responses"][tree[a.at].code]["updates"]
                    .as_array()
                    .is_some_and(|u| u.iter().any(|e| e["note"] == note.as_str())),
                Some(note) => v["events"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|e| e["note"] == note.as_str())),
            });
            if !present {
                out.push(format!(
                    "{:?} acknowledged by {} in round {} is missing at {}",
                    a.write, tree[a.at].code, a.round, tree[n].code
                ));
            }
        }
    }
    out
}

/// Documents whose heads differ between the nodes holding them, and stores SQLite finds unsound.
async fn heads_and_integrity(
    tree: &[Target],
    stores: &[std::path::PathBuf],
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut docs: BTreeMap<String, Vec<(usize, Vec<String>)>> = BTreeMap::new();
    for (i, path) in stores.iter().enumerate() {
        let seen = inspect_sqlite(path)
            .await
            .map_err(|e| format!("{}: {e}", tree[i].code))?;
        if !seen.sound() {
            out.push(format!(
                "{}: integrity_check says {:?}",
                tree[i].code, seen.integrity
            ));
        }
        for (id, heads) in seen.heads {
            docs.entry(id).or_default().push((i, heads));
        }
    }
    for (id, held) in docs {
        if held.iter().any(|(_, h)| *h != held[0].1) {
            let at: Vec<_> = held.iter().map(|(i, h)| (tree[*i].code, h)).collect();
            out.push(format!("{id}: heads differ: {at:?}"));
        }
    }
    Ok(out)
}

/// Polls until every acknowledged write is everywhere it belongs and all heads agree, within
/// `bound`; the time it took, or what was still wrong at the bound.
pub async fn converge(
    client: &reqwest::Client,
    tree: &[Target],
    stores: &[std::path::PathBuf],
    acked: &[Acked],
    bound: Duration,
) -> Result<Duration, Vec<String>> {
    let start = Instant::now();
    loop {
        let mut wrong = Vec::new();
        let mut helds = Vec::new();
        for t in tree {
            match held(client, t).await {
                Ok(h) => helds.push(h),
                Err(e) => wrong.push(format!("API unreadable: {e}")),
            }
        }
        if wrong.is_empty() {
            wrong = missing(tree, acked, &helds);
        }
        if wrong.is_empty() {
            wrong = heads_and_integrity(tree, stores)
                .await
                .unwrap_or_else(|e| vec![format!("store unreadable: {e}")]);
        }
        if wrong.is_empty() {
            return Ok(start.elapsed());
        }
        if start.elapsed() > bound {
            return Err(wrong);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
