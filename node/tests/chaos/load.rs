//! The steady load: API writes at several levels over HTTP with each node's admin token — hazards
//! registered at townships and the county and evented by their owner and by superiors, directives from
//! the province, the city and the county, answered by their targets — and the ledger of every write
//! the API acknowledged (201), which the checks hold the mesh to.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::common::chain::major_hazard;

/// One acknowledged write: what, at which node (index), in which round.
#[derive(Debug, Clone)]
pub enum Write {
    /// 隐患 registered at `at`.
    Hazard { id: String, major: bool },
    /// A comment on hazard `hazard`, whose note is `note`.
    Event { hazard: String, note: String },
    /// 任务 issued at `at` to `targets` (node indices), or to its whole subtree when `cascade`.
    Directive {
        id: String,
        targets: Vec<usize>,
        cascade: bool,
    },
    /// A target's progress report on `directive`, whose note is `note`.
    Response { directive: String, note: String },
}

#[derive(Debug, Clone)]
pub struct Acked {
    pub at: usize,
    pub round: usize,
    pub write: Write,
}

/// What the load did: every acknowledged write, and the refusals by reason.
#[derive(Debug, Default)]
pub struct Ledger {
    pub acked: Vec<Acked>,
    /// Writes not acknowledged, by reason (`unreachable`, `500`, …): expected under faults.
    pub refused: BTreeMap<String, usize>,
}

impl Ledger {
    pub fn count(&self, kind: &str) -> usize {
        self.acked
            .iter()
            .filter(|a| kind_of(&a.write) == kind)
            .count()
    }
}

pub fn kind_of(w: &Write) -> &'static str {
    match w {
        Write::Hazard { .. } => "hazard",
        Write::Event { .. } => "event",
        Write::Directive { .. } => "directive",
        Write::Response { .. } => "response",
    }
}

/// What the load needs of a node: where and how to reach it, and its place in the tree.
#[derive(Debug, Clone)]
pub struct Target {
    pub code: &'static str,
    pub parent: Option<usize>,
    pub base: String,
    pub token: String,
}

impl Target {
    fn children(tree: &[Target], i: usize) -> Vec<usize> {
        (0..tree.len())
            .filter(|&c| tree[c].parent == Some(i))
            .collect()
    }

    fn ancestors(tree: &[Target], mut i: usize) -> Vec<usize> {
        let mut up = Vec::new();
        while let Some(p) = tree[i].parent {
            up.push(p);
            i = p;
        }
        up
    }
}

/// Runs the load until `stop` is set: one write every few hundred milliseconds, chosen by `rng`.
pub async fn run(
    tree: Vec<Target>,
    ledger: Arc<Mutex<Ledger>>,
    round: usize,
    seed: u64,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut n = 0usize;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let tag = format!("chaos r{round} w{n}");
        let Some((at, path, body, write)) = choose(&tree, &ledger, round, &mut rng, &tag) else {
            continue;
        };
        let outcome = client
            .post(format!("{}{path}", tree[at].base))
            .bearer_auth(&tree[at].token)
            .json(&body)
            .send()
            .await;
        let reason = match outcome {
            Ok(r) if r.status().as_u16() == 201 => match r.json::<Value>().await {
                Ok(v) => {
                    let write = write(v["id"].as_str().unwrap_or_default().to_string());
                    ledger
                        .lock()
                        .unwrap()
                        .acked
                        .push(Acked { at, round, write });
                    None
                }
                // A 201 whose body was lost: the write may or may not be there, and the runner
                // cannot name it, so it is not counted as acknowledged.
                Err(_) => Some("201 body lost".to_string()),
            },
            Ok(r) => Some(r.status().as_u16().to_string()),
            Err(e) if e.is_timeout() => Some("timeout".into()),
            Err(_) => Some("unreachable".into()),
        };
        if let Some(reason) = reason {
            *ledger.lock().unwrap().refused.entry(reason).or_default() += 1;
        }
        let pause = rng.random_range(100..400);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

type MakeWrite = Box<dyn FnOnce(String) -> Write + Send>;

/// The next write: at which node, the path, the body, and how its answer's id makes the record.
fn choose(
    tree: &[Target],
    ledger: &Mutex<Ledger>,
    round: usize,
    rng: &mut StdRng,
    tag: &str,
) -> Option<(usize, String, Value, MakeWrite)> {
    let led = ledger.lock().unwrap();
    // Records the last convergence check found everywhere they belong: a superior or a target holds them.
    let settled = |a: &&Acked| a.round < round;
    match rng.random_range(0..10) {
        // 隐患: at a township or the county; one in four major.
        0..=3 => {
            let at = *(0..tree.len())
                .filter(|&i| tree[i].code.len() >= 6)
                .collect::<Vec<_>>()
                .choose(rng)?;
            let major = rng.random_bool(0.25);
            let mut body = major_hazard(tag);
            if !major {
                body["grade"] = json!("general");
            }
            body["deadline"] = json!("2027-06-30");
            Some((
                at,
                "/api/v1/hazards".into(),
                body,
                Box::new(move |id| Write::Hazard { id, major }),
            ))
        }
        // 批注: by the owner on any of its hazards, or by a superior on one settled there.
        4..=6 => {
            let hazards: Vec<&Acked> = led
                .acked
                .iter()
                .filter(|a| matches!(a.write, Write::Hazard { .. }))
                .collect();
            let h = hazards.choose(rng)?;
            let Write::Hazard { id, major } = &h.write else {
                return None;
            };
            let mut who = vec![h.at];
            if settled(h) {
                let up = Target::ancestors(tree, h.at);
                // A general hazard's superior is its parent (none for one at the top).
                who.extend(if *major {
                    &up[..]
                } else {
                    &up[..up.len().min(1)]
                });
            }
            let at = *who.choose(rng)?;
            let note = tag.to_string();
            let hazard = id.clone();
            Some((
                at,
                format!("/api/v1/hazards/{id}/events"),
                json!({"kind": "comment", "note": note}),
                Box::new(move |_| Write::Event { hazard, note }),
            ))
        }
        // 任务: from a node with children, to one or all of them; now and then a 紧急通知.
        7 => {
            let at = *(0..tree.len())
                .filter(|&i| !Target::children(tree, i).is_empty())
                .collect::<Vec<_>>()
                .choose(rng)?;
            let children = Target::children(tree, at);
            let cascade = rng.random_bool(0.2);
            let targets: Vec<usize> = if cascade || rng.random_bool(0.5) {
                children
            } else {
                vec![*children.choose(rng)?]
            };
            let mut body = json!({"title": tag, "deadline": "2027-06-30", "body": "混沌测试任务"});
            if cascade {
                body["cascade"] = json!(true);
            } else {
                body["targets"] = json!(targets.iter().map(|&t| tree[t].code).collect::<Vec<_>>());
            }
            let targets = if cascade { Vec::new() } else { targets };
            Some((
                at,
                "/api/v1/directives".into(),
                body,
                Box::new(move |id| Write::Directive {
                    id,
                    targets,
                    cascade,
                }),
            ))
        }
        // 进展: a target's report on a directive settled there.
        _ => {
            let (id, at) = led
                .acked
                .iter()
                .filter(settled)
                .filter_map(|a| match &a.write {
                    Write::Directive {
                        id,
                        targets,
                        cascade: false,
                    } => Some((id, targets)),
                    _ => None,
                })
                .flat_map(|(id, ts)| ts.iter().map(move |&t| (id.clone(), t)))
                .collect::<Vec<_>>()
                .choose(rng)?
                .clone();
            let note = tag.to_string();
            let directive = id.clone();
            Some((
                at,
                format!("/api/v1/directives/{id}/responses"),
                json!({"action": "progress", "percent": 50, "note": note}),
                Box::new(move |_| Write::Response { directive, note }),
            ))
        }
    }
}

/// Issues a directive at `at` to its child `to` and records it as acknowledged: the runner's probe
/// that a partition really cuts the wire between them. Its id, or why it was not acknowledged.
pub async fn probe(
    client: &reqwest::Client,
    tree: &[Target],
    ledger: &Mutex<Ledger>,
    round: usize,
    (at, to): (usize, usize),
) -> Result<String, String> {
    let body = json!({"title": format!("chaos r{round} probe"), "deadline": "2027-06-30",
        "targets": [tree[to].code]});
    let v = post_201(client, &tree[at], "/api/v1/directives", &body).await?;
    let id = v["id"].as_str().unwrap_or_default().to_string();
    ledger.lock().unwrap().acked.push(Acked {
        at,
        round,
        write: Write::Directive {
            id: id.clone(),
            targets: vec![to],
            cascade: false,
        },
    });
    Ok(id)
}

/// Whether node `at` holds directive `id` (`GET /api/v1/directives/{id}` answers 200).
pub async fn holds(client: &reqwest::Client, t: &Target, id: &str) -> Result<bool, String> {
    let r = client
        .get(format!("{}/api/v1/directives/{id}", t.base))
        .bearer_auth(&t.token)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(r.status().is_success())
}

/// Registers a general hazard at `at`, records it as acknowledged, and returns the node's clock as
/// its `created` time shows it (Unix seconds): how the runner sees a clock jump take effect.
pub async fn clock_probe(
    client: &reqwest::Client,
    tree: &[Target],
    ledger: &Mutex<Ledger>,
    round: usize,
    at: usize,
) -> Result<i64, String> {
    let mut body = major_hazard(&format!("chaos r{round} clock probe"));
    body["grade"] = json!("general");
    body["deadline"] = json!("2027-06-30");
    let v = post_201(client, &tree[at], "/api/v1/hazards", &body).await?;
    let id = v["id"].as_str().unwrap_or_default().to_string();
    ledger.lock().unwrap().acked.push(Acked {
        at,
        round,
        write: Write::Hazard { id, major: false },
    });
    let created = v["created"].as_str().unwrap_or_default();
    time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("created {created:?}: {e}"))
}

/// `POST path` at node `at` with `body`; the answer when it is a 201, else why not.
async fn post_201(
    client: &reqwest::Client,
    t: &Target,
    path: &str,
    body: &Value,
) -> Result<Value, String> {
    let r = client
        .post(format!("{}{path}", t.base))
        .bearer_auth(&t.token)
        .json(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status().as_u16() != 201 {
        return Err(format!(
            "{}: {}",
            r.status(),
            r.text().await.unwrap_or_default()
        ));
    }
    r.json().await.map_err(|e| e.to_string())
}
