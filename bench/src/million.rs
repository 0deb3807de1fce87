//! A node holding a very large number of documents bootstraps a new child: the county holds `n`
//! hazards of one township (its replicas of them), the township's store is empty (a new install),
//! and the link opens. Measured: time until the township holds them all, and the process's peak
//! resident memory (both nodes live in this process, so the figure bounds the serving node's).

use std::time::{Duration, Instant};

use anyhow::bail;
use automerge::transaction::CommitOptions;
use safemesh_doc::hazard::{Enterprise, HazardCore};
use safemesh_doc::{AutoCommit, actor::actor_id, hazard};
use safemesh_model::AdminCode;
use safemesh_model::hazard::{Channel, Grade, facts};
use safemesh_store::Store;
use safemesh_testkit::Cluster;

pub struct MillionResult {
    pub docs: usize,
    pub fill_s: f64,
    pub bootstrap_s: f64,
}

/// A small registered hazard (one change), distinct per `i`.
pub(crate) fn small_hazard(owner: &AdminCode, i: usize) -> (String, Vec<u8>) {
    let mut doc = AutoCommit::new().with_actor(actor_id(owner, b"million"));
    let core = HazardCore {
        title: format!("第{i}号隐患：配电箱未接地"),
        sector: ["消防", "城镇燃气", "建筑施工", "自建房"][i % 4].into(),
        sector_detail: None,
        grade: Grade::General,
        channel: Channel::Inspection,
        subject: Default::default(),
        responsible_unit: String::new(),
        enterprise: Enterprise {
            name: format!("某某商户{}", i % 1000),
            credit_code: String::new(),
            credit_code_override: None,
        },
        number: facts::format_number(owner, 2026, (i % 9999) as u32 + 1),
        inspection_mode: Some("明查暗访".into()),
        found_by_level: owner.clone(),
        found_on: "2026-04-28".into(),
        stock: facts::Stock::New,
        location: facts::Location {
            division: owner.to_string(),
            address: String::new(),
        },
        basis: facts::Basis {
            standard: "《建筑设计防火规范》".into(),
            clause: "10.2".into(),
        },
        deadline: "2027-06-30".into(),
        description: String::new(),
    };
    hazard::create(&mut doc, owner, "王五", "2026-05-01T08:00:00Z", &core).expect("create");
    doc.commit_with(
        CommitOptions::default()
            .with_message(format!("王五@{owner}"))
            .with_time(1_780_000_000),
    );
    (format!("h-m-{i:08}"), doc.save())
}

/// Fills `store` with `n` documents owned by `owner`, generating on a blocking thread while the
/// previous chunk is written.
async fn fill(store: &Store, owner: &AdminCode, n: usize) -> anyhow::Result<()> {
    const CHUNK: usize = 5_000;
    let gen_chunk = |from: usize| {
        let owner = owner.clone();
        tokio::task::spawn_blocking(move || {
            (from..(from + CHUNK).min(n))
                .map(|i| small_hazard(&owner, i))
                .collect::<Vec<_>>()
        })
    };
    let mut next = Some(gen_chunk(0));
    let mut from = 0;
    while let Some(job) = next.take() {
        let docs = job.await?;
        from += CHUNK;
        if from < n {
            next = Some(gen_chunk(from));
        }
        let mut w = store.writer().await?;
        for (id, bytes) in docs {
            let mut doc = AutoCommit::load(&bytes)?;
            w.put_new_doc_bytes(&id, &mut doc, bytes).await?;
        }
        w.commit().await?;
        if from % 100_000 == 0 {
            eprintln!("    {from} documents written");
        }
    }
    Ok(())
}

pub async fn run(n: usize) -> anyhow::Result<MillionResult> {
    const COUNTY: &str = "530181";
    const TOWN: &str = "530181006";
    let c = Cluster::start(&[COUNTY, TOWN]).await?;
    c.cut(TOWN);
    let town = AdminCode::parse(TOWN)?;
    let t0 = Instant::now();
    fill(&c.node(COUNTY).store, &town, n).await?;
    let fill_s = t0.elapsed().as_secs_f64();
    let child = c.node(TOWN).store.clone();
    let start = Instant::now();
    c.heal(TOWN);
    let mut last_report = Instant::now();
    loop {
        let have = safemesh_store::count_documents(&child).await? as usize;
        if have >= n {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            eprintln!("    child holds {have} of {n}");
            last_report = Instant::now();
        }
        if start.elapsed() > Duration::from_secs(6 * 3600) {
            bail!("the new child was not bootstrapped within six hours");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let bootstrap_s = start.elapsed().as_secs_f64();
    c.shutdown().await;
    Ok(MillionResult {
        docs: n,
        fill_s,
        bootstrap_s,
    })
}
