//! 上级一侧 — a parent's TLS: the server config and the verifier that judges a child's certificate.
//!
//! A child is admitted during the handshake or not at all. [`ChildCertVerifier`] runs webpki's
//! chain checks, then the revocation list, then the parent's `accept_child` rule on the code, and
//! reports each refusal itself, while it still holds the certificate's code and serial (the accept
//! loop only sees the error). Session resumption is off, so every connection is judged afresh.

use std::fmt;
use std::sync::{Arc, Mutex};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig,
    SignatureScheme,
};
use safemesh_model::AdminCode;

use super::cert::{code_from_cert, serial_of};
use super::error::Error;
use super::identity::{NodeIdentity, Resolver};
use super::policy::Policy;
use super::profile::{ALPN_H2, provider};
use super::reject::{PeerKind, RejectReason, Rejection, classify_webpki, reason_message};
use super::stamp::lock;

/// 服务端配置 — the TLS config of a parent accepting children, with the default [`Policy`] (no
/// revocation list; refusals only logged). See [`server_config_with`].
pub fn server_config(
    id: &NodeIdentity,
    accept_child: Arc<dyn Fn(&AdminCode) -> bool + Send + Sync>,
) -> Result<Arc<ServerConfig>, Error> {
    server_config_with(id, accept_child, &Policy::default())
}

/// 服务端配置 — the TLS config of a parent accepting children.
///
/// A client certificate is required; it must chain to the CA (webpki: signature, validity,
/// clientAuth EKU), its serial must not be in `policy.revocations` (re-read when the file
/// changes), and it must carry a code for which `accept_child` returns true. Otherwise the
/// handshake fails with an alert that says why — `unknown_ca`, `certificate_expired`,
/// `certificate_revoked`, `access_denied` (not a direct child, or no code) — and the refusal goes
/// to `policy.rejections`. The server presents the identity's current certificate (re-read on
/// change, see [`NodeIdentity`]). ALPN `h2`, TLS 1.3.
///
/// `accept_child` runs inside the handshake, on the I/O task: it must be quick and must not
/// block (read an in-memory set, not a database). It only sees codes of verified certificates.
/// Session resumption is off, so every connection is judged afresh.
pub fn server_config_with(
    id: &NodeIdentity,
    accept_child: Arc<dyn Fn(&AdminCode) -> bool + Send + Sync>,
    policy: &Policy,
) -> Result<Arc<ServerConfig>, Error> {
    let provider = provider();
    let roots = id.roots();
    let inner =
        WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone()).build()?;
    let verifier = Arc::new(ChildCertVerifier {
        with_crl: Mutex::new((u64::MAX, inner.clone())),
        inner,
        roots,
        accept_child,
        local: id.code.clone(),
        policy: policy.clone(),
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(Resolver(id.source.clone())));
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    // No resumption: a resumed session skips certificate verification, so a child refused by
    // `accept_child` (or whose certificate expired or was revoked) could come back on an old
    // session.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// Server-side verifier: webpki chain checks, the revocation list, then the parent's rule on the
/// child's code. Every error it returns is a `rustls::Error::InvalidCertificate` and has been
/// reported to the policy's [`Rejections`] (so [`incoming`] does not report it again).
///
/// [`Rejections`]: super::Rejections
/// [`incoming`]: super::incoming
struct ChildCertVerifier {
    /// Without CRLs: handshake signatures, hints and schemes.
    inner: Arc<dyn ClientCertVerifier>,
    /// With the CA's CRL held now, and the revocation list's generation it was built at: rebuilt
    /// when the CRL changes (a CRL taken from the parent is checked from the next handshake on).
    with_crl: Mutex<(u64, Arc<dyn ClientCertVerifier>)>,
    roots: Arc<RootCertStore>,
    accept_child: Arc<dyn Fn(&AdminCode) -> bool + Send + Sync>,
    local: AdminCode,
    policy: Policy,
}

impl fmt::Debug for ChildCertVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildCertVerifier")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl ChildCertVerifier {
    /// The chain verifier to use now: rustls' own, with the CRL held now (see [`Policy::crls`]).
    fn chain_verifier(&self) -> Arc<dyn ClientCertVerifier> {
        let Some((generation, crls)) = self.policy.crls() else {
            return self.inner.clone();
        };
        let mut cached = lock(&self.with_crl);
        if cached.0 != generation {
            let built = WebPkiClientVerifier::builder_with_provider(self.roots.clone(), provider())
                .with_crls(crls)
                .only_check_end_entity_revocation()
                .build();
            match built {
                Ok(v) => *cached = (generation, v),
                Err(e) => {
                    tracing::warn!(error = %e, "吊销列表无法用于校验 / CRL not usable by the verifier");
                    *cached = (generation, self.inner.clone());
                }
            }
        }
        cached.1.clone()
    }

    fn reject(
        &self,
        reason: RejectReason,
        end_entity: &CertificateDer<'_>,
        code: Option<AdminCode>,
        message: String,
        error: CertificateError,
    ) -> rustls::Error {
        let claimed = if code.is_none() {
            code_from_cert(end_entity).ok().map(|c| c.to_string())
        } else {
            None
        };
        self.policy.rejections.record(Rejection {
            reason,
            peer_kind: PeerKind::Child,
            code,
            claimed,
            serial: serial_of(end_entity),
            remote: None,
            message,
        });
        rustls::Error::InvalidCertificate(error)
    }
}

impl ClientCertVerifier for ChildCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let chain = self.chain_verifier();
        if let Err(e) = chain.verify_client_cert(end_entity, intermediates, now) {
            let (reason, trusted) = classify_webpki(&e, end_entity, |at| {
                chain
                    .verify_client_cert(end_entity, intermediates, at)
                    .is_ok()
            });
            let code = if trusted {
                code_from_cert(end_entity).ok()
            } else {
                None
            };
            let message = reason_message(reason, end_entity, &e);
            let error = match e {
                rustls::Error::InvalidCertificate(ce) => ce,
                _ => CertificateError::BadEncoding,
            };
            return Err(self.reject(reason, end_entity, code, message, error));
        }
        let code = match code_from_cert(end_entity) {
            Ok(code) => code,
            Err(e) => {
                return Err(self.reject(
                    RejectReason::NoCode,
                    end_entity,
                    None,
                    format!("客户端证书无节点代码 / client certificate: {e}"),
                    CertificateError::ApplicationVerificationFailure,
                ));
            }
        };
        let serial = serial_of(end_entity);
        if self.policy.revoked(serial.as_deref()) {
            let message = format!(
                "证书 {serial} 已吊销 / certificate serial {serial} is revoked",
                serial = serial.as_deref().unwrap_or("")
            );
            return Err(self.reject(
                RejectReason::Revoked,
                end_entity,
                Some(code),
                message,
                CertificateError::Revoked,
            ));
        }
        if (self.accept_child)(&code) {
            return Ok(ClientCertVerified::assertion());
        }
        let message = if code.is_direct_child_of(&self.local) {
            format!(
                "证书代码 {code} 未被 {local} 接纳 / certificate code {code} is not accepted by {local}",
                local = self.local
            )
        } else {
            format!(
                "证书代码 {code} 不是 {local} 的直接下级 / certificate code {code} is not a direct \
                 child of {local}",
                local = self.local
            )
        };
        Err(self.reject(
            RejectReason::NotDirectChild,
            end_entity,
            Some(code),
            message,
            CertificateError::ApplicationVerificationFailure,
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner
            .verify_tls13_signature(message, cert, dss)
            .map_err(|e| {
                let message = format!(
                    "客户端未能证明持有证书私钥 / client did not prove it holds the certificate's key: {e}"
                );
                let error = match e {
                    rustls::Error::InvalidCertificate(ce) => ce,
                    _ => CertificateError::BadSignature,
                };
                self.reject(RejectReason::BadCertificate, cert, None, message, error)
            })
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
