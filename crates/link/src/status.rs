//! 同步状态 — what each link looks like to operators, shared between the runners of the links and the API.

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
    /// Documents in an Automerge sync exchange on the current stream (deltas that could not apply,
    /// docs/PROTOCOL.md §5).
    pub doc_syncs: usize,
    /// Incoming batches and frames this node refused from the peer (forbidden changes, malformed
    /// frames or bytes, broken receive bounds), since the process started.
    pub rejected_batches: u64,
    /// Documents and summaries applied from the peer since the stream opened.
    pub received_docs: u64,
    /// Documents and summaries the peer acknowledged since the stream opened.
    pub sent_docs: u64,
    /// What the peer said it still had to send (its last batch); 0 once it is caught up.
    pub to_receive_docs: u64,
    pub to_receive_bytes: u64,
    /// Those refusals by the rule named in the error frame (`superior_only`, `frame_decodes`, …; the
    /// error code when it names none), since the process started; they add up to `rejected_batches`.
    pub rejections: BTreeMap<String, u64>,
    /// Batches sent to the peer, and batches from the peer applied, since the process started.
    pub batches_sent: u64,
    pub batches_received: u64,
    /// The last such refusal: code, document, path, rule and message.
    pub last_rejection: Option<String>,
    /// Documents this node refused from the peer and now leaves out of the peer's batches.
    pub refused: Vec<String>,
    /// Serial (lowercase hex) of the certificate the peer presented on its latest stream (or, for a
    /// child refused in the handshake, of the refused certificate).
    pub peer_serial: Option<String>,
    /// When that certificate expires (RFC 3339).
    pub peer_not_after: Option<String>,
}

/// Every value [`LinkStatus::state`] takes (the link machine's states, `safemesh_sync::State`).
pub const LINK_STATES: [&str; 5] = [
    "connecting",
    "catching_up",
    "in_sync",
    "disconnected",
    "rejected",
];

/// Refusal reasons always listed by [`Registry::rejected_handshakes`], even at zero.
pub const BASE_REJECTION_REASONS: [&str; 4] =
    ["expired", "not_direct_child", "revoked", "unknown_ca"];

/// All links of a node, and the node's count of refused TLS handshakes. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    inner: Arc<Mutex<BTreeMap<String, LinkStatus>>>,
    rejected: Arc<Mutex<BTreeMap<String, u64>>>,
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
            doc_syncs: 0,
            rejected_batches: 0,
            rejections: BTreeMap::new(),
            batches_sent: 0,
            batches_received: 0,
            received_docs: 0,
            sent_docs: 0,
            to_receive_docs: 0,
            to_receive_bytes: 0,
            last_rejection: None,
            refused: Vec::new(),
            peer_serial: None,
            peer_not_after: None,
        });
        f(entry);
    }

    /// Counts one refused TLS handshake under `reason` (e.g. `revoked`).
    pub fn count_rejected_handshake(&self, reason: &str) {
        if let Ok(mut m) = self.rejected.lock() {
            *m.entry(reason.to_string()).or_default() += 1;
        }
    }

    /// Refused TLS handshakes since start, by reason; the [`BASE_REJECTION_REASONS`] always appear.
    pub fn rejected_handshakes(&self) -> BTreeMap<String, u64> {
        let mut out: BTreeMap<String, u64> = BASE_REJECTION_REASONS
            .iter()
            .map(|r| (r.to_string(), 0))
            .collect();
        if let Ok(m) = self.rejected.lock() {
            out.extend(m.iter().map(|(k, v)| (k.clone(), *v)));
        }
        out
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

#[cfg(test)]
mod tests {
    use safemesh_sync::State;

    #[test]
    fn link_states_are_the_machines() {
        let machine = [
            State::Connecting,
            State::CatchingUp,
            State::InSync,
            State::Disconnected,
            State::Rejected,
        ]
        .map(State::as_str);
        assert_eq!(machine, super::LINK_STATES);
    }
}
