//! Real network hosts: one network namespace per node, made with `ip netns`, and
//! - a management leg per node (a veth to a bridge in the runner's namespace) that carries only the
//!   runner's HTTP requests, so faults never cut the runner off from a node's API;
//! - one point-to-point veth pair per mesh link (`uplink` in the child, `dn<child>` in the parent), the
//!   only path between two nodes: a fault on it is real packet loss, not a proxy.
//!
//! Names carry a run tag (this process's id and a counter), so parallel runs do not clash; runs whose
//! process is gone are swept at the start; everything is deleted on drop, panics included.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Runs `cmd args`, which must succeed; its stderr in the error.
pub fn sh(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn sh_out(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// One node's host: its namespace and the address the runner reaches it on.
#[derive(Debug, Clone)]
pub struct Host {
    pub ns: String,
    pub mgmt: Ipv4Addr,
}

/// One mesh link's wire: the child's `uplink` end and the parent's `dn<child>` end.
#[derive(Debug, Clone)]
pub struct Wire {
    pub child: usize,
    pub parent: usize,
    pub child_if: String,
    pub parent_if: String,
    /// The parent's address on this wire, which the child dials.
    pub parent_ip: Ipv4Addr,
}

/// The namespaces, bridge and wires of one run; deleted on drop.
pub struct Net {
    tag: String,
    bridge: String,
    pub hosts: Vec<Host>,
    pub wires: Vec<Wire>,
}

const PREFIX: &str = "smc";

impl Net {
    /// Makes one host per node and one wire per `(child, parent)` in `links`.
    pub fn create(nodes: usize, links: &[(usize, usize)]) -> Result<Net, String> {
        static RUNS: AtomicU32 = AtomicU32::new(0);
        sweep_stale();
        let tag = format!(
            "{}{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed) % 10
        );
        let mut net = Net {
            bridge: format!("{PREFIX}{tag}b"),
            tag,
            hosts: Vec::new(),
            wires: Vec::new(),
        };
        let third = free_subnet()?;
        sh("ip", &["link", "add", &net.bridge, "type", "bridge"])?;
        let gw = format!("10.213.{third}.254/24");
        sh("ip", &["addr", "add", &gw, "dev", &net.bridge])?;
        sh("ip", &["link", "set", &net.bridge, "up"])?;
        for i in 0..nodes {
            let ns = format!("{PREFIX}-{}-{i}", net.tag);
            let _ = sh("ip", &["netns", "del", &ns]);
            sh("ip", &["netns", "add", &ns])?;
            let mgmt = Ipv4Addr::new(10, 213, third, i as u8 + 1);
            net.hosts.push(Host {
                ns: ns.clone(),
                mgmt,
            });
            sh("ip", &["-n", &ns, "link", "set", "dev", "lo", "up"])?;
            let outer = format!("{PREFIX}{}m{i}", net.tag);
            sh(
                "ip",
                &[
                    "link", "add", &outer, "type", "veth", "peer", "name", "mg", "netns", &ns,
                ],
            )?;
            sh("ip", &["link", "set", &outer, "master", &net.bridge, "up"])?;
            sh(
                "ip",
                &["-n", &ns, "addr", "add", &format!("{mgmt}/24"), "dev", "mg"],
            )?;
            sh("ip", &["-n", &ns, "link", "set", "dev", "mg", "up"])?;
        }
        for (k, &(child, parent)) in links.iter().enumerate() {
            let (cns, pns) = (net.hosts[child].ns.clone(), net.hosts[parent].ns.clone());
            let parent_if = format!("dn{child}");
            sh(
                "ip",
                &[
                    "-n", &cns, "link", "add", "uplink", "type", "veth", "peer", "name",
                    &parent_if, "netns", &pns,
                ],
            )?;
            let parent_ip = Ipv4Addr::new(172, 30, k as u8, 1);
            sh(
                "ip",
                &[
                    "-n",
                    &pns,
                    "addr",
                    "add",
                    &format!("{parent_ip}/30"),
                    "dev",
                    &parent_if,
                ],
            )?;
            let child_ip = format!("172.30.{k}.2/30");
            sh(
                "ip",
                &["-n", &cns, "addr", "add", &child_ip, "dev", "uplink"],
            )?;
            sh("ip", &["-n", &pns, "link", "set", "dev", &parent_if, "up"])?;
            sh("ip", &["-n", &cns, "link", "set", "dev", "uplink", "up"])?;
            net.wires.push(Wire {
                child,
                parent,
                child_if: "uplink".into(),
                parent_if,
                parent_ip,
            });
        }
        Ok(net)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for h in &self.hosts {
            let _ = sh("ip", &["netns", "del", &h.ns]);
        }
        let _ = sh("ip", &["link", "del", &self.bridge]);
    }
}

/// A /24 of 10.213.0.0/16 no interface of this machine uses yet.
fn free_subnet() -> Result<u8, String> {
    let used = sh_out("ip", &["-4", "-o", "addr"]);
    let start = (std::process::id() % 250) as u8;
    (0..250u16)
        .map(|d| ((u16::from(start) + d) % 250) as u8)
        .find(|t| !used.contains(&format!("10.213.{t}.")))
        .ok_or_else(|| "no free 10.213.x.0/24 subnet".to_string())
}

/// Deletes the namespaces and bridge legs of earlier runs whose process is gone.
fn sweep_stale() {
    let dead = |tag: &str| {
        let pid = &tag[..tag.len().saturating_sub(1)];
        !pid.is_empty() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
    };
    for line in sh_out("ip", &["netns", "list"]).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if let Some(rest) = name.strip_prefix(&format!("{PREFIX}-"))
            && let Some((tag, _)) = rest.split_once('-')
            && dead(tag)
        {
            let _ = sh("ip", &["netns", "del", name]);
        }
    }
    for line in sh_out("ip", &["-o", "link", "show", "type", "bridge"]).lines() {
        let name = line.split(": ").nth(1).unwrap_or("");
        if let Some(rest) = name.strip_prefix(PREFIX)
            && let Some(tag) = rest.strip_suffix('b')
            && tag.bytes().all(|b| b.is_ascii_digit())
            && dead(tag)
        {
            let _ = sh("ip", &["link", "del", name]);
        }
    }
}
