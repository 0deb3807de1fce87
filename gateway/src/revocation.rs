//! 吊销在链路上 — the node's revocation list as its links see it (issue 19 #12): the CRL a parent
//! offers its children and a child takes from its parent ([`LinkCrl`], the link runner's
//! [`CrlSource`]), and the link state of a revoked certificate voided at the moment the node learns
//! of the revocation ([`void_on_revocation`]), from its parent or from a file.

use safemesh_link::{CrlSource, LinkConfig, void_revoked};
use safemesh_sync::{ErrorCode, ErrorFrame};
use tokio::sync::watch;

use crate::tls::{CrlError, RevocationList};

/// The link runner's view of a [`RevocationList`]: its CRL, and taking a newer one from the parent.
#[derive(Clone, Debug)]
pub struct LinkCrl(pub RevocationList);

impl CrlSource for LinkCrl {
    fn current(&self) -> Option<(u64, Vec<u8>)> {
        self.0.crl().map(|c| (c.number(), c.der_bytes().to_vec()))
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }

    fn offer(&self, der: &[u8]) -> Result<u64, ErrorFrame> {
        self.0.offer(der).map(|c| c.number()).map_err(|e| {
            tracing::warn!(error = %e, "上级提供的吊销列表被拒 / revocation list from the parent refused");
            refusal(&e)
        })
    }
}

/// The typed error frame a refused CRL is answered with: `FORBIDDEN` for one the CA did not sign
/// or that is not newer, `MALFORMED` for bytes that are not a CRL, `INTERNAL` when it could not be
/// kept.
pub fn refusal(e: &CrlError) -> ErrorFrame {
    let code = match e {
        CrlError::NotSignedByCa(_) | CrlError::NotNewer { .. } => ErrorCode::Forbidden,
        CrlError::Malformed(_) => ErrorCode::Malformed,
        _ => ErrorCode::Internal,
    };
    ErrorFrame {
        code,
        doc_id: None,
        path: None,
        rule: Some(e.rule().to_string()),
        message: e.to_string(),
    }
}

/// 吊销即失效 — whenever `list` changes (a CRL from the parent or a file, or the plain list), and once
/// at the start, voids the link state bound to a revoked certificate ([`void_revoked`]), until
/// `shutdown`. Live streams of that certificate are closed by the link service itself.
pub async fn void_on_revocation(
    cfg: LinkConfig,
    list: RevocationList,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut changes = list.subscribe();
    loop {
        let serials = list.serials();
        if !serials.is_empty()
            && let Err(e) = void_revoked(&cfg.store, &serials).await
        {
            tracing::warn!(error = %e, "无法重置被吊销证书的链路状态 / cannot void a revoked certificate's link state");
        }
        tokio::select! {
            r = changes.changed() => if r.is_err() { return },
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}
