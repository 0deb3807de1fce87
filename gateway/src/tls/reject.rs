//! 拒绝 — why a peer was refused, and where each refusal is reported.
//!
//! Refusals happen deep inside rustls (in a verifier) or in the accept loop, far from anything an
//! operator looks at. Each becomes one [`Rejection`] with a [`RejectReason`], given once to the
//! [`Rejections`] sink, which logs it and hands it to the node (counted, shown in the sync status).
//! The mapping from what webpki and TLS alerts say onto those reasons is here too, so the parent
//! that refuses and the child that is refused name a refusal the same way.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::{AlertDescription, CertificateError};
use safemesh_model::AdminCode;

use super::cert::{unix_time, validity_of};

/// 拒绝原因 — why a handshake (or a certificate on a live stream) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RejectReason {
    /// The certificate does not chain to the trusted CA (another CA, self-signed).
    UnknownCa,
    /// The certificate has expired.
    Expired,
    /// The certificate is not valid yet (clock skew, or issued for later).
    NotYetValid,
    /// The certificate's serial is in the revocation list.
    Revoked,
    /// (Parent side) the child's code is not a direct child nor configured as one.
    NotDirectChild,
    /// (Child side) the server's code is not the configured parent.
    WrongParent,
    /// The certificate carries no valid `safemesh://node/` code.
    NoCode,
    /// The certificate is unusable otherwise (encoding, purpose, signature).
    BadCertificate,
    /// The client presented no certificate.
    NoCertificate,
    /// The TLS handshake failed before any certificate was judged (not TLS, protocol error).
    HandshakeFailed,
    /// The TLS handshake did not finish in time.
    Timeout,
    /// Over a connection limit: handshakes from one address, connections with one certificate or
    /// in all (`tls::ConnLimits`).
    TooManyConnections,
}

impl RejectReason {
    /// The name used in logs, counters and the sync status (`unknown_ca`, `expired`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::UnknownCa => "unknown_ca",
            RejectReason::Expired => "expired",
            RejectReason::NotYetValid => "not_yet_valid",
            RejectReason::Revoked => "revoked",
            RejectReason::NotDirectChild => "not_direct_child",
            RejectReason::WrongParent => "wrong_parent",
            RejectReason::NoCode => "no_code",
            RejectReason::BadCertificate => "bad_certificate",
            RejectReason::NoCertificate => "no_certificate",
            RejectReason::HandshakeFailed => "handshake_failed",
            RejectReason::Timeout => "timeout",
            RejectReason::TooManyConnections => "too_many_connections",
        }
    }

    /// What a TLS alert received from a peer says about why it refused this node's certificate,
    /// if it says anything.
    pub fn from_alert(alert: AlertDescription) -> Option<RejectReason> {
        Some(match alert {
            AlertDescription::CertificateRevoked => RejectReason::Revoked,
            AlertDescription::CertificateExpired => RejectReason::Expired,
            AlertDescription::UnknownCA => RejectReason::UnknownCa,
            AlertDescription::AccessDenied => RejectReason::NotDirectChild,
            AlertDescription::CertificateRequired => RejectReason::NoCertificate,
            AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::DecryptError => RejectReason::BadCertificate,
            _ => return None,
        })
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which side of a link the refused peer was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerKind {
    /// A client: a would-be child, refused by this node as parent.
    Child,
    /// A server: this node's would-be parent, refused by this node as child.
    Parent,
}

/// 一次拒绝 — one refused handshake, as reported to [`Rejections`].
#[derive(Debug, Clone)]
pub struct Rejection {
    pub reason: RejectReason,
    pub peer_kind: PeerKind,
    /// The peer's code, only if its certificate was issued by the trusted CA (then the code is the
    /// CA's word, even when the certificate has expired or is revoked).
    pub code: Option<AdminCode>,
    /// The code an untrusted certificate claims, for the log only.
    pub claimed: Option<String>,
    /// The certificate's serial (lowercase hex), if a certificate was presented.
    pub serial: Option<String>,
    /// The peer's address, when known (the TCP accept loop knows it; verifiers do not).
    pub remote: Option<SocketAddr>,
    /// What happened, in Chinese and English.
    pub message: String,
}

type RejectHook = Arc<dyn Fn(&Rejection) + Send + Sync>;

/// 拒绝记录 — where refused handshakes go: each is logged at WARN (reason, code, serial) and
/// handed to the hook, if any (the node counts it and shows it in its sync status).
#[derive(Clone, Default)]
pub struct Rejections {
    hook: Option<RejectHook>,
}

impl fmt::Debug for Rejections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejections")
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

impl Rejections {
    /// Logs every refusal and hands it to `hook` (which runs on the handshake's task: keep it quick).
    pub fn new(hook: impl Fn(&Rejection) + Send + Sync + 'static) -> Rejections {
        Rejections {
            hook: Some(Arc::new(hook)),
        }
    }

    /// Logs `r` and passes it to the hook.
    pub fn record(&self, r: Rejection) {
        let who = match r.peer_kind {
            PeerKind::Child => "client",
            PeerKind::Parent => "server",
        };
        let code = r.code.as_ref().map(ToString::to_string).unwrap_or_default();
        tracing::warn!(
            reason = r.reason.as_str(),
            code = %code,
            claimed_code = r.claimed.as_deref().unwrap_or(""),
            serial = r.serial.as_deref().unwrap_or(""),
            remote = ?r.remote,
            "rejected {who} certificate: {}",
            r.message
        );
        if let Some(hook) = &self.hook {
            hook(&r);
        }
    }
}

/// Why webpki refused a certificate, and whether its code can still be believed: an expired or
/// not-yet-valid certificate whose chain verifies at a moment inside its validity was issued by
/// the CA, so its code is the CA's word.
pub(super) fn classify_webpki(
    error: &rustls::Error,
    end_entity: &CertificateDer<'_>,
    chain_ok_at: impl Fn(UnixTime) -> bool,
) -> (RejectReason, bool) {
    let validity = validity_of(end_entity);
    match error {
        rustls::Error::InvalidCertificate(e) => match e {
            CertificateError::UnknownIssuer => (RejectReason::UnknownCa, false),
            // Revoked by the CRL: webpki checks it after the certificate's signature, so the code is
            // the CA's word.
            CertificateError::Revoked => (RejectReason::Revoked, true),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
                RejectReason::Expired,
                validity.is_some_and(|(_, na)| chain_ok_at(unix_time(na))),
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
                RejectReason::NotYetValid,
                validity.is_some_and(|(nb, _)| chain_ok_at(unix_time(nb))),
            ),
            _ => (RejectReason::BadCertificate, false),
        },
        _ => (RejectReason::BadCertificate, false),
    }
}

pub(super) fn reason_message(
    reason: RejectReason,
    end_entity: &CertificateDer<'_>,
    e: &rustls::Error,
) -> String {
    let validity = validity_of(end_entity);
    match reason {
        RejectReason::UnknownCa => {
            "证书不是由本网 CA 签发 / certificate not issued by the trusted CA".to_string()
        }
        RejectReason::Expired => format!(
            "证书已于 {at} 过期 / certificate expired at {at}",
            at = validity.map(|(_, na)| na.to_string()).unwrap_or_default()
        ),
        RejectReason::NotYetValid => format!(
            "证书自 {at} 起才生效 / certificate not valid before {at}",
            at = validity.map(|(nb, _)| nb.to_string()).unwrap_or_default()
        ),
        RejectReason::Revoked => format!(
            "证书 {serial} 已吊销（吊销列表）/ certificate serial {serial} is revoked (CRL)",
            serial = super::cert::serial_of(end_entity).unwrap_or_default()
        ),
        _ => format!("证书无效 / invalid certificate: {e}"),
    }
}

/// The rustls error inside an I/O error from tokio-rustls, if any.
pub fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}
