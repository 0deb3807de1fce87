//! 同步状态 — what each link looks like to operators, shared between drivers and the API.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// One link's status.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LinkStatus {
    pub peer: String,
    pub role: String,
    pub state: String,
    pub last_sync_at: Option<String>,
    /// Batches sent and not yet acknowledged.
    pub inflight: usize,
    /// The peer's sequence this node has durably received.
    pub recv_cursor: i64,
    /// The peer's last announced sequence (from its hello).
    pub peer_seq: i64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub last_error: Option<String>,
    /// Documents quarantined on this link after the peer refused them.
    pub quarantined: Vec<String>,
}

/// All links of a node. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    inner: Arc<Mutex<BTreeMap<String, LinkStatus>>>,
}

impl Registry {
    pub fn update(&self, peer: &str, f: impl FnOnce(&mut LinkStatus)) {
        let Ok(mut map) = self.inner.lock() else {
            return;
        };
        let entry = map.entry(peer.to_string()).or_insert_with(|| LinkStatus {
            peer: peer.to_string(),
            role: String::new(),
            state: "connecting".into(),
            last_sync_at: None,
            inflight: 0,
            recv_cursor: 0,
            peer_seq: 0,
            bytes_in: 0,
            bytes_out: 0,
            last_error: None,
            quarantined: Vec::new(),
        });
        f(entry);
    }

    pub fn get(&self, peer: &str) -> Option<LinkStatus> {
        self.inner.lock().ok()?.get(peer).cloned()
    }

    pub fn all(&self) -> Vec<LinkStatus> {
        self.inner
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}
