//! 身份与双向 TLS — node identity and mutual TLS.
//!
//! Every node holds a leaf certificate issued by the mesh CA (see [`crate::ca`]). Its identity is
//! the administrative code in the SAN URI `safemesh://node/<code>`, not a host name: nodes are
//! addressed by IP and may move, so host names are never checked.
//!
//! * A parent runs a server built from [`server_config`] / [`server_config_with`]: a client
//!   certificate is mandatory, must chain to the CA (rustls' [`WebPkiClientVerifier`]: signature,
//!   validity, clientAuth EKU), must not be listed in the revocation list ([`RevocationList`]), and
//!   its code must pass the parent's `accept_child` rule — all checked during the handshake.
//! * A child connects with [`client_config`] / [`client_config_with`]: the server's chain is
//!   checked against the CA (webpki, serverAuth EKU), the host name is ignored, the serial must not
//!   be revoked, and the code in the server certificate must equal the expected parent.
//! * Every refusal is reported once, with a [`RejectReason`], to the [`Rejections`] sink of the
//!   [`Policy`] (which logs it and lets the node count it and show it in its status).
//! * Rotation: an identity read with [`NodeIdentity::load`] re-reads `node.pem`/`node.key` when
//!   their modification time changes, so new connections present a replaced certificate without
//!   a restart. Peers accept old and new alike until each expires: both chain to the CA.
//!
//! Both sides use the ring provider explicitly, TLS 1.3 only, ALPN `h2`. For tonic, see
//! [`incoming`] (server side, for `serve_with_incoming`) and [`connector`] /
//! [`connector_observed`] (client side, for `Endpoint::connect_with_connector` with an `http://`
//! URI).
//!
//! With TLS 1.3 the client finishes its handshake before the server has judged the client
//! certificate, so a child learns that its parent refused it only from the alert that arrives on
//! its first read. [`connector_observed`] records that alert (`certificate_revoked`,
//! `certificate_expired`, `unknown_ca`, `access_denied`) so the dialer can say why.
//!
//! [`WebPkiClientVerifier`]: rustls::server::WebPkiClientVerifier

mod cert;
mod error;
mod identity;
mod policy;
mod profile;
mod reject;
mod revocation;
mod stamp;

pub use cert::{code_from_cert, peer_code, serial_of, validity_of};
pub(crate) use cert::{hex_lower, parse_certs};
pub use error::Error;
pub use identity::NodeIdentity;
pub use policy::Policy;
pub use profile::{ALPN_H2, SAN_PREFIX};
pub use reject::{PeerKind, RejectReason, Rejection, Rejections, rustls_error};
pub use revocation::RevocationList;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use hyper_util::rt::TokioIo;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName,
    RootCertStore, ServerConfig, SignatureScheme,
};
use safemesh_model::AdminCode;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use identity::Resolver;
use profile::provider;
use reject::{classify_webpki, reason_message};
use stamp::lock;

// ---------------------------------------------------------------------------------------------
// configs and verifiers

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
    let inner =
        WebPkiClientVerifier::builder_with_provider(id.roots(), provider.clone()).build()?;
    let verifier = Arc::new(ChildCertVerifier {
        inner,
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

/// Server-side verifier: webpki chain checks, the revocation list, then the parent's rule on the
/// child's code. Every error it returns is a `rustls::Error::InvalidCertificate` and has been
/// reported to the policy's [`Rejections`] (so [`incoming`] does not report it again).
struct ChildCertVerifier {
    inner: Arc<dyn ClientCertVerifier>,
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
        if let Err(e) = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
        {
            let (reason, trusted) = classify_webpki(&e, end_entity, |at| {
                self.inner
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

/// Client-side verifier: webpki chain checks without the host name, the revocation list, then the
/// expected code. Refusals are reported to the policy's [`Rejections`].
struct PeerCertVerifier {
    /// Used for handshake signatures and the scheme list, exactly as stock rustls.
    inner: Arc<WebPkiServerVerifier>,
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
        )
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

// ---------------------------------------------------------------------------------------------
// sockets

/// 接入流 — accepts TCP connections on `listener` and yields those whose TLS handshake with
/// `config` succeeds; for tonic's `Server::serve_with_incoming`. Refusals are only logged; see
/// [`incoming_with`].
pub fn incoming(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
) -> impl Stream<Item = io::Result<tokio_rustls::server::TlsStream<TcpStream>>> + Send + 'static {
    incoming_with(listener, config, handshake_timeout, Rejections::default())
}

/// 接入流 — accepts TCP connections on `listener` and yields those whose TLS handshake with
/// `config` succeeds; for tonic's `Server::serve_with_incoming`.
///
/// Each handshake runs in its own task, bounded by `handshake_timeout`, so a slow or hostile
/// client cannot stall the accept loop. Failed handshakes are never yielded: those the
/// certificate verifier refused were already reported by it; the others (no client certificate,
/// not TLS at all, a timeout) are reported to `rejections` here. A handshake the *client* aborted
/// (it refused this server's certificate: an alert received) is logged, not counted as a refusal
/// by this node. Accept errors are yielded as `Err`, which tonic logs and skips. Dropping the
/// stream stops the accept loop and closes the listener.
///
/// The yielded `tokio_rustls::server::TlsStream<TcpStream>` implements tonic's `Connected`, so
/// handlers find `tonic::transport::server::TlsConnectInfo<TcpConnectInfo>` in the request
/// extensions; pass its `peer_certs()` to [`peer_code`].
///
/// Must be called inside a Tokio runtime (it spawns the accept loop).
pub fn incoming_with(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
    rejections: Rejections,
) -> impl Stream<Item = io::Result<tokio_rustls::server::TlsStream<TcpStream>>> + Send + 'static {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = tx.closed() => break,
            };
            let (tcp, remote) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "TCP accept failed");
                    if tx.send(Err(e)).await.is_err() {
                        break;
                    }
                    // Typically EMFILE; back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            let rejections = rejections.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err(e)) => handshake_failed(&rejections, remote, &e),
                    Err(_) => rejections.record(Rejection {
                        reason: RejectReason::Timeout,
                        peer_kind: PeerKind::Child,
                        code: None,
                        claimed: None,
                        serial: None,
                        remote: Some(remote),
                        message: format!(
                            "TLS 握手超时 / TLS handshake timed out after {handshake_timeout:?}"
                        ),
                    }),
                }
            });
        }
    });
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn handshake_failed(rejections: &Rejections, remote: SocketAddr, e: &io::Error) {
    let (reason, message) = match rustls_error(e) {
        // Refused by our verifier, which reported it with the certificate's details.
        Some(rustls::Error::InvalidCertificate(_)) => {
            tracing::debug!(%remote, error = %e, "TLS handshake failed: certificate refused");
            return;
        }
        Some(rustls::Error::AlertReceived(alert)) => {
            tracing::warn!(%remote, ?alert,
                "TLS handshake failed: the client refused this node's certificate or aborted");
            return;
        }
        Some(rustls::Error::NoCertificatesPresented) => (
            RejectReason::NoCertificate,
            "客户端未出示证书 / client presented no certificate".to_string(),
        ),
        _ => (
            RejectReason::HandshakeFailed,
            format!("TLS 握手失败 / TLS handshake failed: {e}"),
        ),
    };
    rejections.record(Rejection {
        reason,
        peer_kind: PeerKind::Child,
        code: None,
        claimed: None,
        serial: None,
        remote: Some(remote),
        message,
    });
}

/// 连接 — TCP-connects to `addr` and runs the TLS handshake with `config` (from
/// [`client_config`]). The server name sent is the peer's IP; it is not checked.
pub async fn connect<A: tokio::net::ToSocketAddrs>(
    addr: A,
    config: Arc<ClientConfig>,
) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::IpAddress(tcp.peer_addr()?.ip().into());
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
}

/// 探测 — does the server at `addr` accept the client certificate of `config`?
///
/// Connects, completes the TLS handshake and waits for the server's first bytes (an HTTP/2 server,
/// such as a node's link port, sends its SETTINGS frame unasked; a server that waits for the client
/// to speak first is sent the HTTP/2 client preface after a second). With TLS 1.3 the server
/// judges the client certificate only after the client's handshake is done, so the answer is in
/// that first read: bytes → accepted (returns the server's code, if its certificate names one); an
/// error carrying `rustls::Error::AlertReceived` → refused, with the reason in the alert. Times out
/// after 10 s.
pub async fn probe<A: tokio::net::ToSocketAddrs>(
    addr: A,
    config: Arc<ClientConfig>,
) -> io::Result<Option<AdminCode>> {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    // An empty SETTINGS frame: length 0, type 4, flags 0, stream 0.
    const SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];
    let attempt = async {
        let mut stream = connect(addr, config).await?;
        let code = stream.get_ref().1.peer_certificates().and_then(peer_code);
        let mut buf = [0u8; 9];
        // Read before writing: a refusing server closes the connection right after its alert, and
        // a write racing with that close fails with a broken pipe that hides the alert.
        let n = match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(read) => read?,
            Err(_) => {
                // Quiet server: speak first. Write errors are ignored; the read says what happened.
                let _ = stream.write_all(PREFACE).await;
                let _ = stream.write_all(&SETTINGS).await;
                let _ = stream.flush().await;
                stream.read(&mut buf).await?
            }
        };
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "服务端未应答即关闭 / the server closed the connection without a word",
            ));
        }
        let _ = stream.shutdown().await;
        Ok(code)
    };
    tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "probe timed out"))?
}

/// 连接器 — a tower connector for tonic's `Endpoint::connect_with_connector`: connects to the
/// URI's `host:port` with [`connect`].
///
/// Give the endpoint an `http://` URI (e.g. `http://10.0.0.5:7443`): this connector already does
/// TLS, and tonic refuses `https://` URIs on an endpoint without its own TLS config.
pub fn connector(
    config: Arc<ClientConfig>,
) -> impl tower::Service<
    http::Uri,
    Response = TokioIo<tokio_rustls::client::TlsStream<TcpStream>>,
    Error = io::Error,
    Future: Send + 'static,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |uri: http::Uri| {
        let config = config.clone();
        async move {
            let stream = connect(host_port(&uri)?, config).await?;
            Ok(TokioIo::new(stream))
        }
    })
}

fn host_port(uri: &http::Uri) -> io::Result<(String, u16)> {
    let host = uri.host().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("URI 缺少主机 / no host in {uri}"),
        )
    })?;
    // `Uri::host` keeps IPv6 brackets, which `ToSocketAddrs` does not accept.
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok((host, uri.port_u16().unwrap_or(443)))
}

/// 连接观察 — what a connection made by [`connector_observed`] learnt about its peer.
#[derive(Debug, Clone, Default)]
pub struct PeerInfo {
    /// The server's code, from its (verified) certificate.
    pub code: Option<AdminCode>,
    /// The server certificate's serial (lowercase hex).
    pub serial: Option<String>,
    /// When the server certificate expires.
    pub not_after: Option<time::OffsetDateTime>,
    /// The fatal TLS alert the server sent, if it refused this node (with TLS 1.3 this arrives on
    /// the first read after the handshake, when the server has judged our certificate).
    pub alert: Option<AlertDescription>,
}

/// Shared record of the latest connection made by one [`connector_observed`].
#[derive(Debug, Clone, Default)]
pub struct Observer(Arc<Mutex<PeerInfo>>);

impl Observer {
    /// What was seen so far.
    pub fn info(&self) -> PeerInfo {
        lock(&self.0).clone()
    }

    fn note_error(&self, e: &io::Error) {
        if let Some(rustls::Error::AlertReceived(alert)) = rustls_error(e) {
            lock(&self.0).alert = Some(*alert);
        }
    }
}

/// 连接器 — like [`connector`], recording the server's certificate (code, serial, expiry) and any
/// fatal alert it sends into `observer`: how a child learns *why* its parent refused it.
pub fn connector_observed(
    config: Arc<ClientConfig>,
    observer: Observer,
) -> impl tower::Service<
    http::Uri,
    Response = TokioIo<Observed<tokio_rustls::client::TlsStream<TcpStream>>>,
    Error = io::Error,
    Future: Send + 'static,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |uri: http::Uri| {
        let config = config.clone();
        let observer = observer.clone();
        async move {
            let stream = match connect(host_port(&uri)?, config).await {
                Ok(s) => s,
                Err(e) => {
                    observer.note_error(&e);
                    return Err(e);
                }
            };
            {
                let leaf = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first());
                let mut info = lock(&observer.0);
                *info = PeerInfo {
                    code: leaf.and_then(|c| code_from_cert(c).ok()),
                    serial: leaf.and_then(serial_of),
                    not_after: leaf.and_then(validity_of).map(|(_, na)| na),
                    alert: None,
                };
            }
            Ok(TokioIo::new(Observed {
                inner: stream,
                observer,
            }))
        }
    })
}

/// A stream that reports a fatal TLS alert from its peer to an [`Observer`].
#[derive(Debug)]
pub struct Observed<S> {
    inner: S,
    observer: Observer,
}

impl<S: AsyncRead + Unpin> AsyncRead for Observed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Err(e)) = &r {
            this.observer.note_error(e);
        }
        r
    }
}

impl<S: AsyncRead + Unpin> Observed<S> {
    /// A write failed (typically a broken pipe: the peer closed right after its alert). The alert
    /// may still be waiting in the receive buffer: read once to record it. The stream is broken
    /// anyway, so whatever else is read is dropped.
    fn after_write_error(&mut self, cx: &mut Context<'_>, e: &io::Error) {
        self.observer.note_error(e);
        if self.observer.info().alert.is_some() {
            return;
        }
        let mut scratch = [0u8; 256];
        let mut buf = ReadBuf::new(&mut scratch);
        if let Poll::Ready(Err(read)) = Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
            self.observer.note_error(&read);
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Observed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Err(e)) = &r {
            this.after_write_error(cx, e);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        if let Poll::Ready(Err(e)) = &r {
            this.after_write_error(cx, e);
        }
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
