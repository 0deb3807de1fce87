//! What receiving one realistic hazard costs the receiver's CPU, step by step, on one thread: the
//! per-document floor under the bootstrap figure. Automerge's own steps (load the snapshot, rebuild
//! its changes, expand them into operations, hydrate it) are timed apart from ours (the authority
//! check over those changes, the projection built from the hydrated tree), so `docs/BENCHMARKS.md`
//! can say how far any change of ours can move the bootstrap rate.

use std::time::Instant;

use automerge::ReadDoc;
use safemesh_doc::authority::{Origin, check_snapshot};
use safemesh_doc::{AutoCommit, Header};
use serde_json::{Map, Value, json};

use crate::{TOWN, code, realistic_hazard};

/// Mean microseconds per document of `step` over `docs`, best of three passes (the least disturbed).
fn per_doc<T>(docs: &[AutoCommit], mut step: impl FnMut(usize, &AutoCommit) -> T) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            for (i, d) in docs.iter().enumerate() {
                std::hint::black_box(step(i, d));
            }
            t.elapsed().as_secs_f64() * 1e6 / docs.len() as f64
        })
        .fold(f64::INFINITY, f64::min)
}

pub(crate) fn run(n: usize) -> anyhow::Result<Map<String, Value>> {
    let owner = code(TOWN);
    let saved: Vec<Vec<u8>> = (0..n)
        .map(|i| realistic_hazard(&owner, b"bench-nonce", i).save())
        .collect();
    let docs: Vec<AutoCommit> = saved
        .iter()
        .map(|b| AutoCommit::load(b))
        .collect::<Result<_, _>>()?;
    let ids: Vec<String> = (0..n).map(|i| format!("h-bench-{i:07}")).collect();
    let origin = Origin::Child(owner.clone());

    let load = per_doc(&docs, |i, _| AutoCommit::load(&saved[i]).expect("load"));
    // The bounded pre-scan of what a received snapshot inflates to (issue 19 #3), run before the load.
    let scan = per_doc(&docs, |i, _| {
        let budget = safemesh_sync::inflate::Budget::default();
        safemesh_sync::inflate::scan(&budget, [saved[i].as_slice()]).expect("within bounds")
    });
    let clone = per_doc(&docs, |_, d| d.clone());
    let changes = per_doc(&docs, |_, d| d.clone().get_changes(&[]).len()) - clone;
    let decode = per_doc(&docs, |_, d| {
        d.clone()
            .get_changes(&[])
            .iter()
            .map(|c| c.decode().operations.len())
            .sum::<usize>()
    }) - clone
        - changes;
    let hydrate = per_doc(&docs, |_, d| {
        d.hydrate(automerge::ROOT, None).expect("hydrate")
    });
    // The whole check as the receiver runs it (it rebuilds and expands the changes itself), less
    // those Automerge steps.
    let check = per_doc(&docs, |i, d| {
        check_snapshot(&ids[i], d.clone(), &origin).expect("authorised")
    }) - clone
        - changes
        - decode;
    let projection = per_doc(&docs, |i, d| {
        let h = Header::read(d).expect("header");
        safemesh_store::compute_projection(&ids[i], &h, d).expect("projection")
    }) - hydrate;

    let automerge_us = load + changes + decode + hydrate;
    let ours_us = scan + check + projection;
    let cores = std::thread::available_parallelism()
        .map(|c| c.get())
        .unwrap_or(1) as f64;
    let r = |v: f64| (v * 10.0).round() / 10.0;
    let mut m = Map::new();
    m.insert("recv_cost_docs".into(), json!(n));
    m.insert(
        "recv_cost_bytes_per_doc".into(),
        json!(saved.iter().map(Vec::len).sum::<usize>() / n),
    );
    m.insert("recv_cost_load_us".into(), json!(r(load)));
    m.insert("recv_cost_inflate_scan_us".into(), json!(r(scan)));
    m.insert("recv_cost_get_changes_us".into(), json!(r(changes)));
    m.insert("recv_cost_decode_us".into(), json!(r(decode)));
    m.insert("recv_cost_hydrate_us".into(), json!(r(hydrate)));
    m.insert("recv_cost_authority_us".into(), json!(r(check)));
    m.insert("recv_cost_projection_us".into(), json!(r(projection)));
    m.insert("recv_cost_automerge_us".into(), json!(r(automerge_us)));
    m.insert("recv_cost_ours_us".into(), json!(r(ours_us)));
    // What the machine's cores could receive if nothing else ran (no store, no network, no sender):
    // Automerge's steps alone, and with ours.
    m.insert(
        "recv_ceiling_automerge_docs_per_s".into(),
        json!((cores * 1e6 / automerge_us).round()),
    );
    m.insert(
        "recv_ceiling_cpu_docs_per_s".into(),
        json!((cores * 1e6 / (automerge_us + ours_us)).round()),
    );
    Ok(m)
}
