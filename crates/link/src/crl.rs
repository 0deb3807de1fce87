//! 吊销列表 — what a node's links know of its revocation list (issue 19 #12): the CRL a parent
//! offers its children, where a child keeps the one its parent offers, and what revocation does to
//! the link state a revoked certificate established.
//!
//! The CRL itself (X.509, signed by the CA) is the gateway's ([`CrlSource`] is implemented there);
//! this crate only carries it: a runner puts the CRL it holds in its hello and offers it to a child
//! that holds an older one, hands what its parent offers to [`CrlSource::offer`], and re-reads the
//! source whenever it changes, so a CRL learned from the parent goes on to every child at once.

use std::collections::BTreeSet;
use std::sync::Arc;

use safemesh_model::AdminCode;
use safemesh_store::{Error, Store};
use safemesh_sync::ErrorFrame;
use tokio::sync::watch;
use tracing::info;

/// The revocation list a node holds and takes from its parent.
pub trait CrlSource: Send + Sync {
    /// The CRL held now: its CRL number and DER bytes.
    fn current(&self) -> Option<(u64, Vec<u8>)>;
    /// Changes whenever the CRL (or the set of revoked serials) changes.
    fn subscribe(&self) -> watch::Receiver<u64>;
    /// The parent offers `der`: keep it (durably) if the CA signed it and it is newer than the one
    /// held, and return its number; otherwise the typed refusal to send back, and nothing changes.
    fn offer(&self, der: &[u8]) -> Result<u64, ErrorFrame>;
}

/// Shared handle to a node's [`CrlSource`].
pub type SharedCrl = Arc<dyn CrlSource>;

/// What a revoked peer certificate's link state is marked with once voided: `revoked:<serial>`.
/// No certificate has such a serial, so the next stream of the peer (under its re-issued
/// certificate) starts from a void state again (`run::bind_serial`), whatever a dying stream of the
/// revoked one wrote after the reset.
pub const REVOKED_MARK: &str = "revoked:";

/// 吊销即失效 — voids, at the moment of revocation, the link state bound to any of `revoked`
/// (canonical serials, see `links.peer_serial`): cursor and acked cursor 0, held heads and sync
/// states dropped, a digest repair pending — what `bind_serial` does when a re-issued certificate
/// first connects, done now instead of then. Returns the peers reset.
pub async fn void_revoked(store: &Store, revoked: &BTreeSet<String>) -> Result<Vec<String>, Error> {
    let mut reset = Vec::new();
    for row in store.links().await? {
        let Some(serial) = row.peer_serial.as_deref() else {
            continue;
        };
        // Stored as the certificate shows it (hex, maybe a leading zero); listed canonical.
        let canonical = serial.trim_start_matches('0').to_ascii_lowercase();
        if serial.starts_with(REVOKED_MARK) || !revoked.contains(&canonical) {
            continue;
        }
        let Ok(peer) = AdminCode::parse(&row.peer) else {
            continue;
        };
        let mut w = store.writer().await?;
        w.reset_peer(&peer).await?;
        w.set_repair_pending(&peer, true).await?;
        w.set_peer_serial(&peer, &format!("{REVOKED_MARK}{serial}"))
            .await?;
        w.commit().await?;
        info!(peer = %peer, serial, "peer's certificate revoked: its link state is void, repaired by digests");
        reset.push(row.peer);
    }
    Ok(reset)
}
