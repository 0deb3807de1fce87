//! 证书指标 — when this node's certificate and each peer's expire, so a renewal is planned before a
//! link is refused (`safemesh_cert_expiry_timestamp_seconds{subject}`: `self`, or the peer's code).

use super::family::Family;
use super::link::unix_seconds;
use crate::api::node::LinkReport;

/// The expiry of this node's certificate (`own`: the one presented from now on) and of the one each
/// peer presented on its latest stream.
pub(crate) fn family(own: time::OffsetDateTime, reports: &[LinkReport]) -> Family {
    let mut f = Family::gauge(
        "safemesh_cert_expiry_timestamp_seconds",
        "When a certificate expires (Unix time): subject self, or the peer's code.",
    );
    f.push(
        vec![("subject", "self".into())],
        own.unix_timestamp() as f64,
    );
    for r in reports {
        let until = r
            .live
            .as_ref()
            .and_then(|s| s.peer_not_after.as_deref())
            .and_then(unix_seconds);
        if let Some(t) = until {
            f.push(vec![("subject", r.peer.as_str().to_string())], t);
        }
    }
    f
}
