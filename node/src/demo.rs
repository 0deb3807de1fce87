//! 演示 — `safemesh demo`: a real 云南省 530000 → 昆明市 530100 → 安宁市 530181 → 禄脿街道 530181006 chain in
//! one process, each node with its own SQLite store, mTLS link and HTTP port, loaded with a sample taken
//! from the 禄脿街道 2024–2026 治本攻坚 plan (`node/data/demo.json`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use safemesh_model::AdminCode;
use serde::Deserialize;

use crate::clock::today;
use crate::enterprises::EnterpriseRef;
use crate::hazards::{self, NewEvent, NewHazard};
use crate::init::{InitOptions, ca_init, init_node};
use crate::records::RecordError;
use crate::{NodeHandle, start};

/// The chain, top first.
pub const CHAIN: [&str; 4] = ["53", "5301", "530181", "530181006"];

static SAMPLE: &str = include_str!("../data/demo.json");

#[derive(Deserialize)]
struct Sample {
    /// Per node: what the department groups of directives stand for there (config `unit_groups`).
    #[serde(default)]
    unit_groups:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, Vec<String>>>,
    directives: Vec<SampleDirective>,
    hazards: Vec<SampleHazard>,
    #[serde(default)]
    accidents: Vec<SampleAccident>,
    /// Registered before the hazards, then updated (变更).
    #[serde(default)]
    enterprises: Vec<SampleEnterprisePage>,
}

/// An enterprise of the sample: registered at `owner`, then each of `updates` made there.
#[derive(Deserialize)]
struct SampleEnterprisePage {
    owner: String,
    #[serde(flatten)]
    input: crate::enterprises::NewEnterprise,
    #[serde(default)]
    updates: Vec<crate::enterprises::EnterpriseUpdate>,
}

#[derive(Deserialize)]
struct SampleAccident {
    owner: String,
    title: String,
    occurred_at: String,
    sector: String,
    deaths: i64,
    serious_injuries: i64,
    direct_loss_wan: f64,
    enterprise: Option<SampleEnterprise>,
    description: String,
    #[serde(default)]
    reviews: Vec<SampleReview>,
    /// 补报 by the owner, in order.
    #[serde(default)]
    supplements: Vec<crate::accidents::NewSupplement>,
}

#[derive(Deserialize)]
struct SampleReview {
    by: String,
    note: String,
}

/// A directive of the sample: issued at `issuer`, answered, and forwarded down the chain.
#[derive(Deserialize)]
struct SampleDirective {
    issuer: String,
    #[serde(flatten)]
    input: SampleInput,
    /// 事件发生日期 of an after-event deadline, recorded by the issuer after issuing.
    #[serde(default)]
    event_date: Option<String>,
    #[serde(default)]
    responses: Vec<SampleResponse>,
    /// The issuer's 审核 of completions, after the responses (a completion is awaited until it has
    /// reached the issuer).
    #[serde(default)]
    reviews: Vec<crate::directives::NewReview>,
    /// The issuer's 催办, after the reviews.
    #[serde(default)]
    reminders: Vec<crate::directives::NewReminder>,
    #[serde(default)]
    forwards: Vec<SampleForward>,
}

/// The fields of `POST /directives` (and of a forward, where all are optional).
#[derive(Deserialize, Default)]
struct SampleInput {
    title: Option<String>,
    #[serde(default)]
    body: String,
    doc_number: Option<String>,
    source_document: Option<String>,
    category: Option<String>,
    targets: Option<Vec<String>>,
    assignments: Option<Vec<SampleAssignment>>,
    deadline: Option<serde_json::Value>,
    reporting: Option<serde_json::Value>,
    #[serde(default)]
    cascade: bool,
}

impl SampleInput {
    fn to_new(&self) -> crate::directives::NewDirective {
        crate::directives::NewDirective {
            title: self.title.clone(),
            body: self.body.clone(),
            doc_number: self.doc_number.clone(),
            source_document: self.source_document.clone(),
            category: self.category.clone(),
            targets: self.targets.clone(),
            assignments: self.assignments.as_ref().map(|v| {
                v.iter()
                    .map(|a| crate::directives::NewAssignment {
                        role: Some(a.role.clone()),
                        unit: Some(a.unit.clone()),
                    })
                    .collect()
            }),
            deadline: self.deadline.clone(),
            reporting: self.reporting.clone(),
            cascade: self.cascade,
        }
    }
}

#[derive(Deserialize)]
struct SampleAssignment {
    role: String,
    unit: String,
}

/// A forward (转发/分解) by a target, with the answers to it and its own forwards.
#[derive(Deserialize)]
struct SampleForward {
    by: String,
    #[serde(flatten)]
    input: SampleInput,
    #[serde(default)]
    responses: Vec<SampleResponse>,
    #[serde(default)]
    forwards: Vec<SampleForward>,
}

/// A response: a node's own (`by`), or the issuer's record of one of its departments (`unit`).
#[derive(Deserialize)]
struct SampleResponse {
    by: Option<String>,
    unit: Option<String>,
    action: String,
    percent: Option<i64>,
    note: Option<String>,
    milestone: Option<String>,
}

/// A hazard of the sample: registered at `owner`, with the fields of `POST /api/v1/hazards`.
#[derive(Deserialize)]
struct SampleHazard {
    owner: String,
    #[serde(flatten)]
    input: NewHazard,
    #[serde(default)]
    events: Vec<SampleEvent>,
}

#[derive(Deserialize)]
struct SampleEnterprise {
    name: String,
    credit_code: String,
}

/// An event of the sample: added at office `by`, with the fields of `POST …/events`.
#[derive(Deserialize)]
struct SampleEvent {
    by: String,
    #[serde(flatten)]
    input: NewEvent,
}

/// Sets up and starts the four nodes under `dir` (HTTP on `base_port..+3`, links on `base_port+10..`).
pub async fn start_chain(dir: &std::path::Path, base_port: u16) -> anyhow::Result<Vec<NodeHandle>> {
    let ca = dir.join("ca");
    ca_init(&ca, "safemesh 演示 demo").context("CA")?;
    let sample: Sample = serde_json::from_str(SAMPLE).context("demo.json")?;
    let mut nodes: Vec<NodeHandle> = Vec::new();
    for (i, code) in CHAIN.iter().enumerate() {
        let data_dir = dir.join(code);
        let parent = nodes.last().map(|p| p.link_url());
        let mut cfg = init_node(&InitOptions {
            data_dir: data_dir.clone(),
            code: code.to_string(),
            listen: format!("127.0.0.1:{}", base_port + 10 + i as u16).parse()?,
            http: format!("127.0.0.1:{}", base_port + i as u16).parse()?,
            parent,
            ca_dir: Some(ca.clone()),
            name: None,
            database_url: None,
        })?;
        if let Some(groups) = sample.unit_groups.get(*code) {
            cfg.unit_groups = groups.clone();
            cfg.save(&data_dir)?;
        }
        nodes.push(
            start(&data_dir, cfg)
                .await
                .with_context(|| format!("starting {code}"))?,
        );
    }
    Ok(nodes)
}

fn node<'a>(nodes: &'a [NodeHandle], code: &str) -> anyhow::Result<&'a NodeHandle> {
    let code = AdminCode::parse(code)?;
    nodes
        .iter()
        .find(|n| n.code == code)
        .with_context(|| format!("no demo node {code}"))
}

/// Waits until `n` holds the record with at least `events` events (replication is a push; this bounds it).
async fn wait_for(n: &NodeHandle, id: &str, hazard: bool, events: usize) -> anyhow::Result<()> {
    for _ in 0..400 {
        let found = if hazard {
            n.store
                .hazard(id)
                .await?
                .is_some_and(|h| h.body["events"].as_array().map_or(0, Vec::len) >= events)
        } else {
            n.store.directive(id).await?.is_some()
        };
        if found {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("{id} did not reach {} within 10 s", n.code)
}

fn err(e: RecordError) -> anyhow::Error {
    anyhow::anyhow!(
        "{} {}: {}",
        e.status,
        e.field.unwrap_or_default(),
        e.message
    )
}

fn here(n: &NodeHandle) -> crate::directives::Here<'_> {
    crate::directives::Here {
        extra_children: n.extra_children(),
        unit_groups: n.unit_groups(),
    }
}

/// Records the responses of a directive issued at `issuer`: departments' by the issuer, nodes' by
/// each node once the directive has reached it.
async fn answer(
    nodes: &[NodeHandle],
    issuer: &NodeHandle,
    id: &str,
    responses: &[SampleResponse],
) -> anyhow::Result<()> {
    for r in responses {
        let at = match &r.by {
            Some(by) => node(nodes, by)?,
            None => issuer,
        };
        wait_for(at, id, false, 0).await?;
        crate::directives::respond(
            &at.store,
            &at.actor,
            id,
            crate::directives::NewResponse {
                action: Some(r.action.clone()),
                percent: r.percent,
                note: r.note.clone(),
                milestone: r.milestone.clone(),
                unit: r.unit.clone(),
                attachments: None,
            },
            at.hazard_settings.due_soon_days,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{id} {:?}: {}", r.unit, err(e)))?;
    }
    Ok(())
}

/// Forwards directive `id` at `f.by`, answers the forwarded one and forwards it further.
fn forward<'a>(
    nodes: &'a [NodeHandle],
    id: &'a str,
    f: &'a SampleForward,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'a>> {
    Box::pin(async move {
        let by = node(nodes, &f.by)?;
        wait_for(by, id, false, 0).await?;
        let sub = crate::directives::forward(
            &by.store,
            &by.actor,
            here(by),
            id,
            f.input.to_new(),
            by.hazard_settings.due_soon_days,
        )
        .await
        .map_err(err)?;
        let sub_id = sub["id"].as_str().unwrap_or_default().to_string();
        answer(nodes, by, &sub_id, &f.responses).await?;
        for next in &f.forwards {
            forward(nodes, &sub_id, next).await?;
        }
        Ok(())
    })
}

/// Loads the sample: each record is written at its own office, each event at the office that made it.
pub async fn load_sample(nodes: &[NodeHandle]) -> anyhow::Result<(usize, usize, usize)> {
    let sample: Sample = serde_json::from_str(SAMPLE).context("demo.json")?;
    for d in &sample.directives {
        let issuer = node(nodes, &d.issuer)?;
        let created = crate::directives::create(
            &issuer.store,
            &issuer.actor,
            here(issuer),
            d.input.to_new(),
            issuer.hazard_settings.due_soon_days,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", d.input.title.as_deref().unwrap_or(""), err(e)))?;
        let id = created["id"].as_str().unwrap_or_default().to_string();
        if let Some(date) = &d.event_date {
            crate::directives::set_event_date(
                &issuer.store,
                &issuer.actor,
                &id,
                crate::directives::NewEventDate {
                    event_date: Some(date.clone()),
                },
                issuer.hazard_settings.due_soon_days,
            )
            .await
            .map_err(err)?;
        }
        answer(nodes, issuer, &id, &d.responses).await?;
        let days = issuer.hazard_settings.due_soon_days;
        for r in &d.reviews {
            // The unit's completion travels up to the issuer first (409 until it has arrived).
            let mut tries = 0;
            loop {
                match crate::directives::review(&issuer.store, &issuer.actor, &id, r.clone(), days)
                    .await
                {
                    Ok(_) => break,
                    Err(e) if e.status == 409 && tries < 400 => {
                        tries += 1;
                        tokio::time::sleep(Duration::from_millis(25)).await;
                    }
                    Err(e) => bail!("{id} 审核 {:?}: {}", r.unit, err(e)),
                }
            }
        }
        for r in &d.reminders {
            crate::directives::remind(&issuer.store, &issuer.actor, &id, r.clone(), days)
                .await
                .map_err(|e| anyhow::anyhow!("{id} 催办: {}", err(e)))?;
        }
        for f in &d.forwards {
            forward(nodes, &id, f).await?;
        }
    }
    for e in &sample.enterprises {
        let owner = node(nodes, &e.owner)?;
        let created = crate::enterprises::create(&owner.store, &owner.actor, e.input.clone())
            .await
            .map_err(|x| anyhow::anyhow!("{:?}: {}", e.input.name, err(x)))?;
        let code = created["credit_code"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for u in &e.updates {
            crate::enterprises::update(
                &owner.store,
                &safemesh_model::SectorDictionary::default(),
                &owner.actor,
                &code,
                u.clone(),
            )
            .await
            .map_err(|x| anyhow::anyhow!("{:?} 变更: {}", e.input.name, err(x)))?;
        }
    }
    for h in &sample.hazards {
        let owner = node(nodes, &h.owner)?;
        let mut input = h.input.clone();
        if let Some(d) = &input.deadline {
            input.deadline = Some(sample_day(d)?);
        }
        let created = hazards::create(&owner.store, &owner.hazard_settings, &owner.actor, input)
            .await
            .map_err(|x| anyhow::anyhow!("{:?}: {}", h.input.title, err(x)))?;
        let id = created["id"].as_str().unwrap_or_default().to_string();
        for (k, e) in h.events.iter().enumerate() {
            let by = node(nodes, &e.by)?;
            // Every earlier event (and the registration) must have reached the acting office.
            wait_for(by, &id, true, k + 1).await?;
            // A reply deadline written `+N` is N days after today, so the sample stays loadable.
            let mut input = e.input.clone();
            if let Some(d) = &input.reply_by {
                input.reply_by = Some(sample_day(d)?);
            }
            if let Some(d) = &input.new_deadline {
                input.new_deadline = Some(sample_day(d)?);
            }
            if let Some(plan) = input.plan.as_mut()
                && let Some(d) = plan.deadline.clone()
            {
                plan.deadline = Some(sample_day(&d)?);
            }
            hazards::add_event(&by.store, &by.hazard_settings, &by.actor, &id, input)
                .await
                .map_err(|x| anyhow::anyhow!("{:?} at {}: {}", h.input.title, e.by, err(x)))?;
        }
    }
    for a in &sample.accidents {
        let owner = node(nodes, &a.owner)?;
        let created = crate::accidents::create(
            &owner.store,
            &owner.actor,
            crate::accidents::NewAccident {
                title: Some(a.title.clone()),
                occurred_at: Some(sample_day(&a.occurred_at)?),
                sector: Some(a.sector.clone()),
                deaths: Some(a.deaths),
                serious_injuries: Some(a.serious_injuries),
                direct_loss_wan: Some(a.direct_loss_wan),
                enterprise: a.enterprise.as_ref().map(|e| EnterpriseRef {
                    name: Some(e.name.clone()),
                    credit_code: Some(e.credit_code.clone()),
                    credit_code_override: None,
                }),
                description: a.description.clone(),
                attachments: None,
            },
        )
        .await
        .map_err(err)?;
        let id = created["id"].as_str().unwrap_or_default().to_string();
        for r in &a.reviews {
            let by = node(nodes, &r.by)?;
            for _ in 0..400 {
                if by.store.accident(&id).await?.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            crate::accidents::add_event(
                &by.store,
                &by.actor,
                &id,
                crate::accidents::NewAccidentEvent {
                    kind: Some("review".into()),
                    note: Some(r.note.clone()),
                    attachments: None,
                },
            )
            .await
            .map_err(err)?;
        }
        for s in &a.supplements {
            crate::accidents::supplement(&owner.store, &owner.actor, &id, s.clone())
                .await
                .map_err(|x| anyhow::anyhow!("{} 补报: {}", a.title, err(x)))?;
        }
    }
    Ok((
        sample.directives.len(),
        sample.hazards.len(),
        sample.accidents.len(),
    ))
}

/// A sample date: `+N` / `-N` is N days after / before today (China time), so the sample stays
/// loadable and its 临期 and 补报 steps stay open whatever the day; anything else is as written.
fn sample_day(s: &str) -> anyhow::Result<String> {
    let days: Option<i64> = match s.as_bytes().first() {
        Some(b'+') => Some(s[1..].parse().context("+N")?),
        Some(b'-') if !s.contains('T') && s.len() < 6 => {
            Some(-s[1..].parse::<i64>().context("-N")?)
        }
        _ => None,
    };
    Ok(match days {
        Some(d) => safemesh_model::hazard::format_date(today() + time::Duration::days(d)),
        None => s.to_string(),
    })
}

/// `safemesh demo`.
pub async fn run(
    dir: Option<PathBuf>,
    base_port: u16,
    exit_after_load: bool,
) -> anyhow::Result<()> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!(
            "safemesh-demo-{}-{}",
            std::process::id(),
            hex::encode(rand::random::<[u8; 3]>())
        )),
    };
    if dir.join("ca").exists() {
        bail!(
            "{} 已有演示数据，请换一个 --dir / already holds a demo; choose another --dir",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir)?;
    println!("safemesh 演示 / demo — 数据目录 / data: {}", dir.display());
    let nodes = start_chain(&dir, base_port).await?;
    println!("正在加载禄脿街道示例数据 / loading the 禄脿街道 sample …");
    let (d, h, a) = load_sample(&nodes).await?;
    println!("已加载 {d} 项任务、{h} 条隐患、{a} 起事故 / loaded {d} directives, {h} hazards and {a} accidents
");
    println!("工作台（在浏览器中打开，一键登录）/ web UI, one-click login:");
    for n in &nodes {
        println!(
            "  {:<10} {:<8} {}/login#token={}",
            n.code.as_str(),
            n.name,
            n.http_url(),
            n.token
        );
    }
    println!("\n令牌 / tokens (API: Authorization: Bearer …):");
    for n in &nodes {
        println!(
            "  {:<10} {:<8} {}  令牌 / token: {}",
            n.code.as_str(),
            n.name,
            n.http_url(),
            n.token
        );
    }
    let prov = &nodes[0];
    let town = &nodes[3];
    println!("\n试一试 / try:");
    println!(
        "  curl -s -H 'Authorization: Bearer {}' {}/api/v1/rollup",
        prov.token,
        prov.http_url()
    );
    println!(
        "  curl -s -H 'Authorization: Bearer {}' {}/api/v1/hazards",
        town.token,
        town.http_url()
    );
    println!(
        "  curl -s -H 'Authorization: Bearer {}' {}/api/v1/sync/status",
        town.token,
        town.http_url()
    );
    let county = &nodes[2];
    println!("\n闭环示例 / the follow-up steps in the sample:");
    println!(
        "  临期隐患 / due soon:            {}/hazards?due_soon=true",
        town.http_url()
    );
    println!(
        "  督办书面回复 / replies due:      curl -s -H 'Authorization: Bearer {}' {}/api/v1/hazards/replies-due",
        county.token,
        county.http_url()
    );
    println!(
        "  延期、函告与回复 / extension, escalations and replies: the 露天采场边坡 hazard at {}/hazards",
        town.http_url()
    );
    println!(
        "  退回的办结与催办 / a returned completion and a reminder: “3·14”事故调查配合 at {}/directives",
        town.http_url()
    );
    println!(
        "  事故补报 / accident correction: {}/accidents ；企业变更 / enterprise update: {}/enterprises/91530181850111647K",
        town.http_url(),
        town.http_url()
    );
    if exit_after_load {
        wait_rollup(prov, town).await?;
        wait_forward_chain(prov, town).await?;
    } else {
        println!("\n按 Ctrl-C 停止 / press Ctrl-C to stop");
        crate::signal::wait_for_signal().await;
    }
    println!("正在停止 / shutting down");
    for n in nodes.into_iter().rev() {
        n.shutdown().await;
    }
    Ok(())
}

/// Waits until the province's battle map of its first directive shows the township's progress on the
/// directive the county forwarded from the city's forward (the chain reached the top).
async fn wait_forward_chain(prov: &NodeHandle, town: &NodeHandle) -> anyhow::Result<()> {
    let top = prov
        .store
        .directives()
        .await?
        .into_iter()
        .filter(|d| d.issuer == prov.code.as_str() && d.body["cascade"] != true)
        .map(|d| d.id)
        .next_back()
        .context("the province issued no directive")?;
    for _ in 0..400 {
        let b = crate::directives::board(&prov.store, &top, prov.hazard_settings.due_soon_days)
            .await
            .map_err(err)?;
        let reached = b["rows"].as_array().is_some_and(|rows| {
            rows.iter().any(|r| {
                r["unit"] == town.code.as_str() && r["received"] == true && r["depth"] == 2
            })
        });
        if reached {
            println!(
                "省级挂图作战表已含乡级进展（{} 个承办单位）/ the province's battle map shows the township ({} units)",
                b["totals"]["units"], b["totals"]["units"]
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("the township's progress did not reach the province's battle map within 10 s")
}

/// Waits until the province's roll-up counts every township hazard (the summary went up three hops).
async fn wait_rollup(prov: &NodeHandle, town: &NodeHandle) -> anyhow::Result<()> {
    let own = town
        .store
        .own_hazard_counts(town.code.as_str(), "9999-12-31", "9999-12-31")
        .await?
        .total;
    for _ in 0..400 {
        if let Some(s) = prov.store.summary(town.code.as_str()).await? {
            let body: safemesh_model::summary::SummaryBody = serde_json::from_str(&s.body)?;
            if body.own_hazards.total == own {
                println!(
                    "省级汇总已包含乡级 {own} 条隐患 / the province roll-up includes the township's {own} hazards"
                );
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("province roll-up did not catch up within 10 s")
}
