//! 下级一侧 — a child's TLS: the client config and the verifier that judges its parent's
//! certificate.
//!
//! A child dials its parent by IP, which may change, so the host name is never checked.
//! [`PeerCertVerifier`] checks the chain with webpki, then the revocation list, then that the code
//! in the server certificate is the one parent configured, and reports each refusal once.

use std::fmt;
use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use safemesh_model::AdminCode;

use super::cert::{code_from_cert, serial_of};
use super::error::Error;
use super::identity::{NodeIdentity, Resolver};
use super::policy::Policy;
use super::profile::{ALPN_H2, provider};
use super::reject::{PeerKind, RejectReason, Rejection, classify_webpki, reason_message};
use super::stamp::lock;

/// 客户端配置 — the TLS config of a child connecting to `expected_peer`, with the default
/// [`Policy`]. See [`client_config_with`].
pub fn client_config(
    id: &NodeIdentity,
    expected_peer: AdminCode,
) -> Result<Arc<ClientConfig>, Error> {
    client_config_with(id, expected_peer, &Policy::default())
}

/// 客户端配置 — the TLS config of a child connecting to `expected_peer` (its parent).
///
/// Presents this node's current certificate (re-read on change). The server's chain must verify
/// against the CA (webpki, serverAuth EKU, validity); the host name / IP is ignored; its serial
/// must not be in `policy.revocations`; and the code in its SAN URI must equal `expected_peer`.
/// Refusals go to `policy.rejections`. ALPN `h2`, TLS 1.3. Any `ServerName` may be used to
/// connect.
pub fn client_config_with(
    id: &NodeIdentity,
    expected_peer: AdminCode,
    policy: &Policy,
) -> Result<Arc<ClientConfig>, Error> {
    let provider = provider();
    let inner =
        WebPkiServerVerifier::builder_with_provider(id.roots(), provider.clone()).build()?;
    let verifier = Arc::new(PeerCertVerifier {
        with_crl: Mutex::new((u64::MAX, None)),
        inner,
        roots: id.roots(),
        provider: provider.clone(),
        expected: expected_peer,
        policy: policy.clone(),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(Arc::new(Resolver(id.source.clone())));
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    // Every connection verifies the parent's certificate afresh (see `server_config`).
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// Client-side verifier: webpki chain checks without the host name, the revocation list, then the
/// expected code. Refusals are reported to the policy's [`Rejections`].
///
/// [`Rejections`]: super::Rejections
struct PeerCertVerifier {
    /// Used for handshake signatures and the scheme list, exactly as stock rustls.
    inner: Arc<WebPkiServerVerifier>,
    /// rustls' own verifier with the CA's CRL held now, and the revocation list's generation it was
    /// built at (`None`: no CRL held).
    with_crl: Mutex<(u64, Option<Arc<WebPkiServerVerifier>>)>,
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    expected: AdminCode,
    policy: Policy,
}

impl fmt::Debug for PeerCertVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerCertVerifier")
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

impl PeerCertVerifier {
    fn chain_ok(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        at: UnixTime,
    ) -> Result<(), rustls::Error> {
        let parsed = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &self.roots,
            intermediates,
            at,
            self.provider.signature_verification_algorithms.all,
        )?;
        self.crl_ok(end_entity, intermediates, at)
    }

    /// rustls' own CRL check of the chain, when a CRL is held. rustls checks a server certificate's
    /// name after its chain and revocation; a node is named by its code, not a host name, so the
    /// name check (the last) failing means everything before it passed.
    fn crl_ok(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        at: UnixTime,
    ) -> Result<(), rustls::Error> {
        let Some(verifier) = self.crl_verifier() else {
            return Ok(());
        };
        let name = ServerName::try_from("safemesh.invalid")
            .map_err(|e| rustls::Error::General(format!("server name: {e}")))?;
        match verifier.verify_server_cert(end_entity, intermediates, &name, &[], at) {
            Ok(_) => Ok(()),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn crl_verifier(&self) -> Option<Arc<WebPkiServerVerifier>> {
        let (generation, crls) = self.policy.crls()?;
        let mut cached = lock(&self.with_crl);
        if cached.0 != generation {
            let built = WebPkiServerVerifier::builder_with_provider(
                self.roots.clone(),
                self.provider.clone(),
            )
            .with_crls(crls)
            .only_check_end_entity_revocation()
            .build();
            let built = match built {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::warn!(error = %e, "吊销列表无法用于校验 / CRL not usable by the verifier");
                    None
                }
            };
            *cached = (generation, built);
        }
        cached.1.clone()
    }

    fn record(
        &self,
        reason: RejectReason,
        end_entity: &CertificateDer<'_>,
        code: Option<AdminCode>,
        message: String,
    ) {
        let claimed = if code.is_none() {
            code_from_cert(end_entity).ok().map(|c| c.to_string())
        } else {
            None
        };
        self.policy.rejections.record(Rejection {
            reason,
            peer_kind: PeerKind::Parent,
            code,
            claimed,
            serial: serial_of(end_entity),
            remote: None,
            message,
        });
    }
}

impl ServerCertVerifier for PeerCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // Same chain check as `WebPkiServerVerifier::verify_server_cert`, minus the name check:
        // the peer is identified by the code in its SAN URI, not by how we addressed it.
        if let Err(e) = self.chain_ok(end_entity, intermediates, now) {
            let (reason, trusted) = classify_webpki(&e, end_entity, |at| {
                self.chain_ok(end_entity, intermediates, at).is_ok()
            });
            let code = if trusted {
                code_from_cert(end_entity).ok()
            } else {
                None
            };
            self.record(
                reason,
                end_entity,
                code,
                reason_message(reason, end_entity, &e),
            );
            return Err(e);
        }
        let code = code_from_cert(end_entity).map_err(|e| {
            let message = format!("服务端证书无节点代码 / server certificate: {e}");
            self.record(RejectReason::NoCode, end_entity, None, message.clone());
            rustls::Error::General(message)
        })?;
        let serial = serial_of(end_entity);
        if self.policy.revoked(serial.as_deref()) {
            let message = format!(
                "上级证书 {serial} 已吊销 / server certificate serial {serial} is revoked",
                serial = serial.as_deref().unwrap_or("")
            );
            self.record(RejectReason::Revoked, end_entity, Some(code), message);
            return Err(rustls::Error::InvalidCertificate(CertificateError::Revoked));
        }
        if code != self.expected {
            let message = format!(
                "服务端证书代码 {code} 不是预期的 {expected} / server certificate code {code} is \
                 not the expected peer {expected}",
                expected = self.expected
            );
            self.record(
                RejectReason::WrongParent,
                end_entity,
                Some(code),
                message.clone(),
            );
            return Err(rustls::Error::General(message));
        }
        Ok(ServerCertVerified::assertion())
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
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
