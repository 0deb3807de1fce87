//! What a node's links are configured with: identity, store, batch bounds, receive bounds, rate.

use std::sync::Arc;

use safemesh_model::AdminCode;
use safemesh_store::Store;
use safemesh_sync::{Link, RecvLimits, Role};

use crate::crl::SharedCrl;
use crate::hook::{CheckGate, Hook};
use crate::quota::{Quotas, SummaryRate};
use crate::status::Registry;

/// Bounds and identity of a node's links.
#[derive(Clone)]
pub struct LinkConfig {
    pub store: Store,
    pub me: AdminCode,
    pub registry: Registry,
    /// Items per batch frame.
    pub max_batch_items: usize,
    /// Payload bytes per batch frame (a single larger document still goes alone).
    pub max_batch_bytes: usize,
    /// Batches sent and not yet acknowledged.
    pub max_inflight: usize,
    /// Bounds on what this node accepts from a peer, whatever the peer claims.
    pub recv: RecvLimits,
    /// How fast this node reads a peer's frames.
    pub rate: RateLimit,
    /// 佐证材料 on each link: chunk size, blobs in flight, bytes ahead of the acknowledgement.
    pub blobs: safemesh_sync::blob::BlobLimits,
    /// Bytes of blobs this node keeps in all: a blob that would pass it is not asked for.
    pub blob_store_max: u64,
    /// A deterministic harness's view of the stream and its clock ([`crate::hook`]); `None` outside
    /// tests. Set per stream (the harness clones the config for each).
    pub hook: Option<Arc<dyn Hook>>,
    /// Per-child quotas ([`crate::quota`]).
    pub quotas: Quotas,
    /// Summary versions taken per office, for [`Quotas::summary_versions`] (shared by the links).
    pub summary_rate: Arc<SummaryRate>,
    /// A test's gate on a received batch's checks ([`crate::hook::CheckGate`]); `None` outside tests.
    pub checking: Option<CheckGate>,
    /// The revocation list this node holds, offers its children and takes from its parent
    /// ([`crate::crl`]); `None`: links carry none (a node without TLS, the in-memory mesh).
    pub crl: Option<SharedCrl>,
}

/// A per-link token bucket on incoming frames and bytes. Over the limit, the runner stops reading
/// until the bucket refills: the transport's buffers fill and the peer is slowed down (HTTP/2 flow
/// control on gRPC). Nothing is dropped. A frame larger than the burst still passes, after a wait.
/// A rate of 0 turns that bucket off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub frames_per_sec: f64,
    pub frame_burst: f64,
    pub bytes_per_sec: f64,
    pub byte_burst: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            frames_per_sec: 200.0,
            frame_burst: 400.0,
            bytes_per_sec: (32u64 << 20) as f64,
            byte_burst: (32u64 << 20) as f64,
        }
    }
}

impl RateLimit {
    /// No limit.
    pub fn unlimited() -> RateLimit {
        RateLimit {
            frames_per_sec: 0.0,
            frame_burst: 0.0,
            bytes_per_sec: 0.0,
            byte_burst: 0.0,
        }
    }
}

impl LinkConfig {
    pub fn new(store: Store, me: AdminCode, registry: Registry) -> LinkConfig {
        LinkConfig {
            store,
            me,
            registry,
            max_batch_items: 256,
            max_batch_bytes: 1 << 20,
            max_inflight: 4,
            recv: RecvLimits::default(),
            rate: RateLimit::default(),
            blobs: Default::default(),
            blob_store_max: u64::MAX,
            hook: None,
            quotas: Quotas::default(),
            summary_rate: Arc::default(),
            checking: None,
            crl: None,
        }
    }

    /// A fresh state machine for a link to `peer`.
    pub fn new_link(&self, peer: AdminCode, role: Role) -> Link {
        Link::new(
            self.me.clone(),
            self.store.install_id().to_string(),
            peer,
            role,
            self.max_inflight,
        )
        .with_limits(self.recv)
    }
}
