//! What the process tests share.

pub mod chain;

use std::hash::{BuildHasher, Hasher};

/// A free loopback port for a node process to listen on, chosen below the kernel's ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`). A port from `bind(0)` is released before the node
/// binds it, and any other test's `bind(0)` or outgoing connection could take it in between; the
/// kernel never hands out a port below that range on its own, so only another test choosing the same
/// random port could, and it checks it is free first.
pub fn free_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (from, to) = (10_000u16, low.max(12_000));
    for _ in 0..1000 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let port = from + (h.finish() % u64::from(to - from)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {from}..{to}");
}
