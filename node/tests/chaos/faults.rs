//! The faults, injected and healed on the real hosts:
//! - `Kill`: kill -9 of a node, restarted at the heal;
//! - `LinkDown`: a wire's veth set down (both ends lose carrier), set up at the heal;
//! - `Blackhole`: every packet on a wire dropped silently (nftables in both namespaces), so
//!   connections hang rather than fail;
//! - `Lossy`: packet loss and delay on a wire — `tc netem loss X% delay Yms` where the kernel has
//!   netem; where it does not (this CI's kernel), loss by nftables' `numgen random` and delay as
//!   the queueing of a slow token-bucket link (`tc tbf`);
//! - `DiskFull`: a node's disk filled to the last block, then given back;
//! - `Clock`: a running node's wall clock jumps ±2 days (libfaketime's timestamp file) and back at the
//!   heal (the runner checks each jump in the time of a write the node makes).

use std::time::Duration;

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::hosts::{Net, sh};
use super::nodes::Mesh;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Kill,
    LinkDown,
    Blackhole,
    Lossy,
    DiskFull,
    Clock,
}

pub const KINDS: [Kind; 6] = [
    Kind::Kill,
    Kind::LinkDown,
    Kind::Blackhole,
    Kind::Lossy,
    Kind::DiskFull,
    Kind::Clock,
];

impl Kind {
    fn on_node(self) -> bool {
        matches!(self, Kind::Kill | Kind::DiskFull | Kind::Clock)
    }
}

impl Fault {
    /// Whether nothing at all crosses its wire while it holds.
    pub fn cuts(&self) -> bool {
        matches!(self.kind, Kind::LinkDown | Kind::Blackhole)
    }
}

/// One fault: its kind, its node or wire (index), and the detail drawn for it.
#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: Kind,
    pub target: usize,
    /// Loss in per cent and delay in ms (`Lossy`), or the clock shift in days (`Clock`).
    pub amount: (i32, i32),
}

/// Draws the faults of one round: `kinds` (each on its own node or wire, so two never meet).
pub fn draw(kinds: &[Kind], nodes: usize, wires: usize, rng: &mut StdRng) -> Vec<Fault> {
    let mut node_pool: Vec<usize> = (0..nodes).collect();
    let mut wire_pool: Vec<usize> = (0..wires).collect();
    node_pool.shuffle(rng);
    wire_pool.shuffle(rng);
    kinds
        .iter()
        .map(|&kind| {
            let target = if kind.on_node() {
                node_pool.pop().unwrap()
            } else {
                wire_pool.pop().unwrap()
            };
            let amount = match kind {
                Kind::Lossy => (rng.random_range(5..=30), rng.random_range(20..=300)),
                Kind::Clock => (if rng.random_bool(0.5) { 2 } else { -2 }, 0),
                _ => (0, 0),
            };
            Fault {
                kind,
                target,
                amount,
            }
        })
        .collect()
}

/// Whether this kernel has `tc netem` (probed on wire 0's child end, then removed).
pub fn has_netem(net: &Net) -> bool {
    let [(ns, dev), _] = ends(net, 0);
    let ok = tc(
        &ns,
        &["qdisc", "add", "dev", &dev, "root", "netem", "delay", "1ms"],
    )
    .is_ok();
    if ok {
        let _ = tc(&ns, &["qdisc", "del", "dev", &dev, "root"]);
    }
    ok
}

/// `tc ARGS` in namespace `ns`.
fn tc(ns: &str, args: &[&str]) -> Result<(), String> {
    let mut all = vec!["netns", "exec", ns, "tc"];
    all.extend_from_slice(args);
    sh("ip", &all)
}

/// The two ends of wire `w`: (namespace, interface).
fn ends(net: &Net, w: usize) -> [(String, String); 2] {
    let wire = &net.wires[w];
    [
        (net.hosts[wire.child].ns.clone(), wire.child_if.clone()),
        (net.hosts[wire.parent].ns.clone(), wire.parent_if.clone()),
    ]
}

/// An nftables chain `f<wire>` in both namespaces of wire `w`, dropping what arrives on it when
/// `rule` says so (`drop`, or `numgen random mod 100 < X drop`).
fn nft_drop(net: &Net, w: usize, rule: &str) -> Result<(), String> {
    for (ns, dev) in ends(net, w) {
        let nft = |cmd: &str| sh("ip", &["netns", "exec", &ns, "nft", cmd]);
        nft("add table inet chaos")?;
        nft(&format!(
            "add chain inet chaos f{w} {{ type filter hook input priority 0 ; }}"
        ))?;
        nft(&format!(
            "add rule inet chaos f{w} iifname \"{dev}\" {rule}"
        ))?;
    }
    Ok(())
}

fn nft_clear(net: &Net, w: usize) {
    for (ns, _) in ends(net, w) {
        for verb in ["flush", "delete"] {
            let cmd = format!("{verb} chain inet chaos f{w}");
            let _ = sh("ip", &["netns", "exec", &ns, "nft", &cmd]);
        }
    }
}

/// A root qdisc on both ends of wire `w`: `qdisc add dev <end> root ARGS`.
fn qdisc(net: &Net, w: usize, args: &[&str]) -> Result<(), String> {
    for (ns, dev) in ends(net, w) {
        let mut all = vec!["qdisc", "add", "dev", dev.as_str(), "root"];
        all.extend_from_slice(args);
        tc(&ns, &all)?;
    }
    Ok(())
}

/// Injects `f`.
pub fn inject(mesh: &mut Mesh, f: &Fault, netem: bool) -> Result<(), String> {
    let w = f.target;
    match f.kind {
        Kind::Kill => mesh.kill9(f.target),
        Kind::LinkDown => {
            let (ns, dev) = ends(&mesh.net, w)[0].clone();
            sh("ip", &["-n", &ns, "link", "set", "dev", &dev, "down"])?;
        }
        Kind::Blackhole => nft_drop(&mesh.net, w, "drop")?,
        Kind::Lossy => {
            let (loss, delay) = (f.amount.0, format!("{}ms", f.amount.1));
            if netem {
                let loss = format!("{loss}%");
                qdisc(&mesh.net, w, &["netem", "loss", &loss, "delay", &delay])?;
            } else {
                let rule = format!("numgen random mod 100 < {loss} drop");
                nft_drop(&mesh.net, w, &rule)?;
                // 256 kbit/s with up to `delay` of queue: a slow, congested line.
                let tbf = ["tbf", "rate", "256kbit", "burst", "4kb", "latency", &delay];
                qdisc(&mesh.net, w, &tbf)?;
            }
        }
        Kind::DiskFull => {
            mesh.nodes[f.target].disk.fill();
        }
        Kind::Clock => {
            let days = f.amount.0;
            mesh.set_clock(f.target, &format!("{days:+}d"))?;
        }
    }
    Ok(())
}

/// Heals `f`. Returns whether the node of a `DiskFull` had exited (and was restarted).
pub async fn heal(
    mesh: &mut Mesh,
    client: &reqwest::Client,
    f: &Fault,
    netem: bool,
) -> Result<bool, String> {
    let w = f.target;
    let mut exited = false;
    match f.kind {
        Kind::Kill => mesh.spawn(f.target)?,
        Kind::LinkDown => {
            let (ns, dev) = ends(&mesh.net, w)[0].clone();
            sh("ip", &["-n", &ns, "link", "set", "dev", &dev, "up"])?;
        }
        Kind::Blackhole => nft_clear(&mesh.net, w),
        Kind::Lossy => {
            if !netem {
                nft_clear(&mesh.net, w);
            }
            for (ns, dev) in ends(&mesh.net, w) {
                tc(&ns, &["qdisc", "del", "dev", &dev, "root"])?;
            }
        }
        Kind::DiskFull => {
            mesh.nodes[f.target].disk.free();
            if !mesh.nodes[f.target].running() {
                exited = true;
                mesh.spawn(f.target)?;
            }
        }
        Kind::Clock => {
            mesh.set_clock(f.target, "+0")?;
        }
    }
    if matches!(f.kind, Kind::Kill | Kind::DiskFull) {
        mesh.wait_up(client, f.target, Duration::from_secs(30))
            .await?;
    }
    Ok(exited)
}
