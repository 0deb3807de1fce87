//! 混沌测试 — the chaos runner: the real `safemesh` binary as a 4-level mesh (province, city, county,
//! townships; a second county and more townships in the long version), each node in its own network
//! namespace on its own small disk, under a steady load of API writes, through rounds of faults drawn
//! from a printed seed: kill -9 and restart, links down or black-holed, packet loss and delay, a full
//! disk, a wall clock ±2 days. After each round, faults healed: every acknowledged write at every node
//! of its audience, all heads equal, every store sound, every node running — within a bound.
//!
//! `SAFEMESH_CHAOS_ROUNDS` (default 3: every fault kind once), `SAFEMESH_CHAOS_SEED` to replay a run.
//! Needs root, `ip`/`tc`/`nft`, loop devices, `mkfs.ext4` and libfaketime (`.ci/run` installs them);
//! without them it fails under `CI` and skips loudly elsewhere.

#[path = "../common/mod.rs"]
mod common;

mod checks;
mod disk;
mod faults;
mod hosts;
mod load;
mod nodes;
mod report;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use faults::{KINDS, Kind};
use load::{Ledger, Target};
use nodes::Mesh;
use report::Figures;

/// The long mesh: province → city → county → four townships, and a second county with its
/// township. The short one is its first six: province → city → county → three townships.
const LONG: &[(&str, Option<usize>)] = &[
    ("53", None),
    ("5301", Some(0)),
    ("530181", Some(1)),
    ("530181006", Some(2)),
    ("530181001", Some(2)),
    ("530181007", Some(2)),
    ("530181002", Some(2)),
    ("530102", Some(1)),
    ("530102001", Some(7)),
];
const SHORT: usize = 6;

/// Faults at once in a round.
const PER_ROUND: usize = 2;
/// Each node's disk.
const DISK_MIB: u32 = 64;
/// How long the mesh may take to reconverge after a round's heal.
const CONVERGE_BOUND: Duration = Duration::from_secs(180);

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_mesh_loses_no_acknowledged_write_under_faults() {
    if let Err(why) = nodes::preflight() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the chaos runner cannot run here: {why}"
        );
        eprintln!(
            "\n!!!!!!!! chaos runner SKIPPED: {why} (runs as root with ip/tc/nft/faketime) !!!!!!!!\n"
        );
        return;
    }
    let rounds = env_u64("SAFEMESH_CHAOS_ROUNDS").unwrap_or(3) as usize;
    let seed = env_u64("SAFEMESH_CHAOS_SEED").unwrap_or_else(rand::random);
    println!("chaos: seed {seed} (replay with SAFEMESH_CHAOS_SEED={seed}), {rounds} rounds");
    let tree = if rounds > 3 { LONG } else { &LONG[..SHORT] };
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // 1. The mesh: hosts, disks, nodes set up with the CLI, all started.
    let mut mesh = Mesh::set_up(tree, DISK_MIB).unwrap();
    for i in 0..tree.len() {
        mesh.spawn(i).unwrap();
    }
    for i in 0..tree.len() {
        mesh.wait_up(&client, i, Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", tails(&mesh)));
    }
    let targets: Vec<Target> = mesh
        .nodes
        .iter()
        .map(|n| Target {
            code: n.code,
            parent: n.parent,
            base: n.base.clone(),
            token: n.token.clone(),
        })
        .collect();
    let stores: Vec<_> = mesh
        .nodes
        .iter()
        .map(|n| n.data_dir.join("safemesh.db"))
        .collect();
    let netem = faults::has_netem(&mesh.net);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut figures = Figures {
        seed,
        rounds,
        netem,
        ..Figures::default()
    };
    let mut order: Vec<Kind> = Vec::new();

    for round in 0..rounds {
        // 2. Faults drawn from the seed: every kind once per cycle of the shuffled list.
        while order.len() < PER_ROUND {
            let mut cycle = KINDS.to_vec();
            cycle.shuffle(&mut rng);
            order.extend(cycle);
        }
        let kinds: Vec<Kind> = order.drain(..PER_ROUND).collect();
        let drawn = faults::draw(&kinds, tree.len(), mesh.net.wires.len(), &mut rng);
        let hold = Duration::from_millis(rng.random_range(4_000..10_000));
        println!("chaos: round {round}: {drawn:?}, held {hold:?}");

        // 3. Under load: inject, hold, heal.
        let stop = Arc::new(AtomicBool::new(false));
        let load = tokio::spawn(load::run(
            targets.clone(),
            ledger.clone(),
            round,
            seed ^ (round as u64 + 1),
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        for f in &drawn {
            faults::inject(&mut mesh, f, netem).unwrap_or_else(|e| {
                panic!("round {round}, injecting {f:?}: {e}\n{}", tails(&mesh))
            });
            figures.fault(f.kind);
            if f.kind == Kind::Clock {
                check_clock(&client, &targets, &ledger, round, f.target, f.amount.0).await;
            }
        }
        // A partition is real: a directive issued across it stays on its side while it holds.
        let mut probes = Vec::new();
        for f in drawn.iter().filter(|f| f.cuts()) {
            let w = &mesh.net.wires[f.target];
            match load::probe(&client, &targets, &ledger, round, (w.parent, w.child)).await {
                Ok(id) => probes.push((w.child, id)),
                Err(e) => println!("chaos: round {round}: no probe across {f:?}: {e}"),
            }
        }
        tokio::time::sleep(hold).await;
        for (child, id) in &probes {
            if let Ok(held) = load::holds(&client, &targets[*child], id).await {
                assert!(
                    !held,
                    "round {round} (seed {seed}): {id} crossed a cut wire to {}",
                    targets[*child].code
                );
                figures.probes += 1;
            }
        }
        for f in drawn.iter().rev() {
            let exited = faults::heal(&mut mesh, &client, f, netem)
                .await
                .unwrap_or_else(|e| panic!("round {round}, healing {f:?}: {e}\n{}", tails(&mesh)));
            figures.disk_exits += usize::from(exited);
            if f.kind == Kind::Clock {
                check_clock(&client, &targets, &ledger, round, f.target, 0).await;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.store(true, Ordering::Relaxed);
        load.await.unwrap();

        // 4. No node needed a human: each is running (the runner restarted only what it faulted).
        for n in mesh.nodes.iter_mut() {
            assert!(
                n.running(),
                "round {round} (seed {seed}): {} is not running",
                n.code
            );
        }
        // 5. Every acknowledged write everywhere it belongs, heads equal, stores sound.
        let acked = ledger.lock().unwrap().acked.clone();
        match checks::converge(&client, &targets, &stores, &acked, CONVERGE_BOUND).await {
            Ok(took) => {
                println!("chaos: round {round}: converged in {took:.1?}");
                figures.reconverge.push(took);
            }
            Err(wrong) => {
                let shown: Vec<_> = wrong.iter().take(20).collect();
                panic!(
                    "round {round} (seed {seed}): not converged within {CONVERGE_BOUND:?}, {} problems:\n{shown:#?}\n{}\n{}",
                    wrong.len(),
                    figures.render(&ledger.lock().unwrap(), wrong.len()),
                    tails(&mesh)
                );
            }
        }
    }
    let ledger = ledger.lock().unwrap();
    println!("{}", figures.render(&ledger, 0));
    assert!(
        ledger.count("hazard") > 0 && ledger.count("event") > 0,
        "the load wrote too little to prove anything: {:?}",
        ledger.refused
    );
}

/// Checks that node `at` now writes with its wall clock `days` days off the true one (within an
/// hour): libfaketime really moved what the binary sees.
async fn check_clock(
    client: &reqwest::Client,
    targets: &[Target],
    ledger: &Mutex<Ledger>,
    round: usize,
    at: usize,
    days: i32,
) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let seen = load::clock_probe(client, targets, ledger, round, at)
        .await
        .unwrap_or_else(|e| panic!("round {round}: clock probe at {}: {e}", targets[at].code));
    let shift = seen - now;
    assert!(
        (shift - i64::from(days) * 86_400).abs() < 3_600,
        "round {round}: {}'s clock is {shift} s off, wanted {days} days",
        targets[at].code
    );
}

/// The last lines of every node's log, for a failure's message.
fn tails(mesh: &Mesh) -> String {
    let mut s = String::new();
    for (i, n) in mesh.nodes.iter().enumerate() {
        let log = std::fs::read_to_string(mesh.log(i)).unwrap_or_default();
        let lines: Vec<_> = log.lines().collect();
        let _ = writeln!(s, "--- {} (last lines of its log)", n.code);
        for l in &lines[lines.len().saturating_sub(15)..] {
            let _ = writeln!(s, "{l}");
        }
    }
    s
}
