//! 身份与双向 TLS — node identity and mutual TLS.
//!
//! Every node holds a leaf certificate issued by the mesh CA (see [`crate::ca`]). Its identity is
//! the administrative code in the SAN URI `safemesh://node/<code>`, not a host name: nodes are
//! addressed by IP and may move, so host names are never checked.
//!
//! * A parent runs a server built from [`server_config`]: a client certificate is mandatory, must
//!   chain to the CA (rustls' [`WebPkiClientVerifier`]: signature, validity, clientAuth EKU) and its
//!   code must pass the parent's `accept_child` rule, checked during the handshake.
//! * A child connects with [`client_config`]: the server's chain is checked against the CA
//!   (webpki, serverAuth EKU), the host name is ignored, and the code in the server certificate
//!   must equal the expected parent.
//!
//! Both sides use the ring provider explicitly, TLS 1.3 only, ALPN `h2`. For tonic, see
//! [`incoming`] (server side, for `serve_with_incoming`) and [`connector`] (client side, for
//! `Endpoint::connect_with_connector` with an `http://` URI).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use futures::Stream;
use hyper_util::rt::TokioIo;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig,
    SignatureScheme,
};
use safemesh_model::AdminCode;
use tokio::net::{TcpListener, TcpStream};
use x509_parser::extensions::GeneralName;

use crate::ca::{CA_CERT_FILE, NODE_CERT_FILE, NODE_KEY_FILE};

/// Prefix of the SAN URI that carries a node's code: `safemesh://node/530181006`.
pub const SAN_PREFIX: &str = "safemesh://node/";

/// The only ALPN protocol spoken on the mesh: HTTP/2 (gRPC).
pub const ALPN_H2: &[u8] = b"h2";

/// 错误 — errors of certificate handling, identity loading and TLS configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("文件读写失败 / I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// PEM text could not be decoded.
    #[error("PEM 解析失败 / cannot parse PEM in {what}: {reason}")]
    Pem {
        /// Which input (a path or a description).
        what: String,
        /// Why.
        reason: String,
    },
    /// The PEM input holds no certificate.
    #[error("未找到证书 / no certificate in {what}")]
    NoCertificate {
        /// Which input.
        what: String,
    },
    /// The PEM input holds no private key.
    #[error("未找到私钥 / no private key in {what}")]
    NoKey {
        /// Which input.
        what: String,
    },
    /// A certificate is malformed or unsuitable.
    #[error("证书无效 / invalid certificate: {0}")]
    Cert(String),
    /// The certificate carries no `safemesh://node/` SAN URI.
    #[error("证书中没有节点代码 / certificate has no SAN URI starting with {SAN_PREFIX}")]
    NoCode,
    /// The SAN URI does not hold a valid administrative code.
    #[error("证书中的代码无效 / invalid code in certificate SAN URI {uri}: {source}")]
    BadCode {
        /// The SAN URI as found.
        uri: String,
        /// Why the code is invalid.
        source: safemesh_model::Error,
    },
    /// `Ca::init` found an existing CA file and refuses to overwrite it.
    #[error("CA 已存在，拒绝覆盖 / CA already exists, refusing to overwrite {path}")]
    CaExists {
        /// The existing file.
        path: PathBuf,
    },
    /// Certificate generation (rcgen) failed.
    #[error("证书生成失败 / certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// The system random number generator failed.
    #[error("随机数生成失败 / random number generation failed")]
    Random,
    /// rustls rejected a certificate, key or configuration.
    #[error("TLS 错误 / TLS error: {0}")]
    Tls(#[from] rustls::Error),
    /// A rustls certificate verifier could not be built (e.g. no CA root).
    #[error("证书校验器构建失败 / cannot build certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// The ring provider, built once. Configs never rely on a process-wide default provider.
static PROVIDER: LazyLock<Arc<CryptoProvider>> =
    LazyLock::new(|| Arc::new(rustls::crypto::ring::default_provider()));

fn provider() -> Arc<CryptoProvider> {
    PROVIDER.clone()
}

/// 证书中的代码 — the code in the first SAN URI of `der` that starts with [`SAN_PREFIX`].
///
/// Only parses; it does not verify the certificate. Use it on certificates a verifier accepted,
/// e.g. `conn.peer_certificates()`.
pub fn code_from_cert(der: &CertificateDer<'_>) -> Result<AdminCode, Error> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| Error::Cert(format!("X.509 解析失败 / cannot parse X.509: {e}")))?;
    let san = cert
        .subject_alternative_name()
        .map_err(|e| Error::Cert(format!("SAN 扩展无效 / bad subjectAltName extension: {e}")))?
        .ok_or(Error::NoCode)?;
    let uri = san
        .value
        .general_names
        .iter()
        .find_map(|name| match name {
            GeneralName::URI(uri) if uri.starts_with(SAN_PREFIX) => Some(*uri),
            _ => None,
        })
        .ok_or(Error::NoCode)?;
    let code = &uri[SAN_PREFIX.len()..];
    let parsed = AdminCode::parse(code).map_err(|source| Error::BadCode {
        uri: uri.to_string(),
        source,
    })?;
    // `AdminCode::parse` also takes `530000` or ` 53`; an identity must be exact, in prefix form.
    if parsed.as_str() != code {
        return Err(Error::BadCode {
            uri: uri.to_string(),
            source: safemesh_model::Error::invalid(
                "code",
                format!("应为前缀形式 {parsed} / must be in prefix form {parsed}"),
            ),
        });
    }
    Ok(parsed)
}

/// The code of a peer from its presented chain (end-entity first), if any.
///
/// Convenience for `conn.peer_certificates()` and tonic's `TlsConnectInfo::peer_certs()`.
pub fn peer_code(certs: &[CertificateDer<'_>]) -> Option<AdminCode> {
    certs.first().and_then(|der| code_from_cert(der).ok())
}

/// 节点身份 — this node's certificate chain and key, its code, and the CA it trusts.
///
/// Cheap to clone; the key is shared, never copied.
#[derive(Clone)]
pub struct NodeIdentity {
    /// This node's code, from the SAN URI of its certificate.
    pub code: AdminCode,
    certified: Arc<CertifiedKey>,
    ca_certs: Arc<[CertificateDer<'static>]>,
    roots: Arc<RootCertStore>,
    not_after: time::OffsetDateTime,
}

impl fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("code", &self.code)
            .field("not_after", &self.not_after)
            .field("ca_certs", &self.ca_certs.len())
            .finish_non_exhaustive()
    }
}

impl NodeIdentity {
    /// 加载身份 — reads `dir/node.pem`, `dir/node.key` and `dir/ca.pem`.
    ///
    /// See [`NodeIdentity::from_pem`] for the checks made.
    pub fn load(dir: &Path) -> Result<NodeIdentity, Error> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| Error::Io { path, source })
        };
        let cert_pem = read(NODE_CERT_FILE)?;
        let key_pem = read(NODE_KEY_FILE)?;
        let ca_pem = read(CA_CERT_FILE)?;
        Self::build(
            (&cert_pem, &dir.join(NODE_CERT_FILE).display().to_string()),
            (&key_pem, &dir.join(NODE_KEY_FILE).display().to_string()),
            (&ca_pem, &dir.join(CA_CERT_FILE).display().to_string()),
        )
    }

    /// Builds an identity from PEM text: the node's chain (leaf first), its private key, and the
    /// CA certificate(s) to trust.
    ///
    /// Checks that the key belongs to the leaf, that the leaf carries a `safemesh://node/` code,
    /// and that it chains to the CA and is currently valid — a misconfigured node fails here
    /// rather than at every handshake.
    pub fn from_pem(cert_pem: &str, key_pem: &str, ca_pem: &str) -> Result<NodeIdentity, Error> {
        Self::build(
            (cert_pem, "node certificate"),
            (key_pem, "node key"),
            (ca_pem, "CA certificate"),
        )
    }

    fn build(
        (cert_pem, cert_what): (&str, &str),
        (key_pem, key_what): (&str, &str),
        (ca_pem, ca_what): (&str, &str),
    ) -> Result<NodeIdentity, Error> {
        let chain = parse_certs(cert_pem, cert_what)?;
        let key = parse_key(key_pem, key_what)?;
        let ca_certs = parse_certs(ca_pem, ca_what)?;

        let mut roots = RootCertStore::empty();
        for ca in &ca_certs {
            roots
                .add(ca.clone())
                .map_err(|e| Error::Cert(format!("{ca_what}: {e}")))?;
        }

        let leaf = chain
            .first()
            .ok_or_else(|| Error::NoCertificate {
                what: cert_what.to_string(),
            })?
            .clone();
        let code = code_from_cert(&leaf)?;
        let not_after = {
            let (_, x509) = x509_parser::parse_x509_certificate(&leaf)
                .map_err(|e| Error::Cert(format!("{cert_what}: {e}")))?;
            x509.validity().not_after.to_datetime()
        };

        let provider = provider();
        let parsed = ParsedCertificate::try_from(&leaf)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &roots,
            &chain[1..],
            UnixTime::now(),
            provider.signature_verification_algorithms.all,
        )
        .map_err(|e| {
            Error::Cert(format!(
                "{cert_what} ({code}) 未由 {ca_what} 签发或已失效 / does not chain to {ca_what} \
                 or is not currently valid: {e}"
            ))
        })?;
        // Parses the key with the ring provider and checks it matches the leaf.
        let certified = CertifiedKey::from_der(chain, key, &provider)
            .map_err(|e| Error::Cert(format!("{key_what} / {cert_what}: {e}")))?;

        Ok(NodeIdentity {
            code,
            certified: Arc::new(certified),
            ca_certs: ca_certs.into(),
            roots: Arc::new(roots),
            not_after,
        })
    }

    /// This node's certificate chain, leaf first.
    pub fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.certified.cert
    }

    /// The trusted CA certificate(s).
    pub fn ca_certs(&self) -> &[CertificateDer<'static>] {
        &self.ca_certs
    }

    /// The trusted CA(s) as a rustls root store.
    pub fn roots(&self) -> Arc<RootCertStore> {
        self.roots.clone()
    }

    /// When this node's certificate expires.
    pub fn not_after(&self) -> time::OffsetDateTime {
        self.not_after
    }
}

/// Decodes all certificates of a PEM text; `what` names the input in errors.
pub(crate) fn parse_certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Pem {
            what: what.to_string(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(Error::NoCertificate {
            what: what.to_string(),
        });
    }
    Ok(certs)
}

fn parse_key(pem: &str, what: &str) -> Result<PrivateKeyDer<'static>, Error> {
    rustls_pemfile::private_key(&mut pem.as_bytes())
        .map_err(|e| Error::Pem {
            what: what.to_string(),
            reason: e.to_string(),
        })?
        .ok_or_else(|| Error::NoKey {
            what: what.to_string(),
        })
}

/// 服务端配置 — the TLS config of a parent accepting children.
///
/// A client certificate is required; it must chain to the CA and carry a code for which
/// `accept_child` returns true, otherwise the handshake fails with a `rustls::Error::General`
/// naming the code and the reason (also logged with `tracing::warn!`). ALPN `h2`, TLS 1.3.
///
/// `accept_child` runs inside the handshake, on the I/O task: it must be quick and must not
/// block (read an in-memory set, not a database). It only sees codes of verified certificates.
/// Session resumption is off, so every connection is judged afresh.
pub fn server_config(
    id: &NodeIdentity,
    accept_child: Arc<dyn Fn(&AdminCode) -> bool + Send + Sync>,
) -> Result<Arc<ServerConfig>, Error> {
    let provider = provider();
    let inner =
        WebPkiClientVerifier::builder_with_provider(id.roots(), provider.clone()).build()?;
    let verifier = Arc::new(ChildCertVerifier {
        inner,
        accept_child,
        local: id.code.clone(),
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(id.certified.clone())));
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    // No resumption: a resumed session skips certificate verification, so a child refused by
    // `accept_child` (or whose certificate expired) could come back on an old session.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// 客户端配置 — the TLS config of a child connecting to `expected_peer` (its parent).
///
/// Presents this node's certificate. The server's chain must verify against the CA (webpki,
/// serverAuth EKU, validity); the host name / IP is ignored, and the code in the server's SAN URI
/// must equal `expected_peer`. ALPN `h2`, TLS 1.3. Any `ServerName` may be used to connect.
pub fn client_config(
    id: &NodeIdentity,
    expected_peer: AdminCode,
) -> Result<Arc<ClientConfig>, Error> {
    let provider = provider();
    let inner =
        WebPkiServerVerifier::builder_with_provider(id.roots(), provider.clone()).build()?;
    let verifier = Arc::new(PeerCertVerifier {
        inner,
        roots: id.roots(),
        provider: provider.clone(),
        expected: expected_peer,
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(id.certified.clone())));
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    // Every connection verifies the parent's certificate afresh (see `server_config`).
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// Server-side verifier: webpki chain checks, then the parent's rule on the child's code.
struct ChildCertVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    accept_child: Arc<dyn Fn(&AdminCode) -> bool + Send + Sync>,
    local: AdminCode,
}

impl fmt::Debug for ChildCertVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildCertVerifier")
            .field("local", &self.local)
            .finish_non_exhaustive()
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
            let claimed = code_from_cert(end_entity)
                .map(|c| c.to_string())
                .unwrap_or_default();
            tracing::warn!(node = %self.local, claimed_code = %claimed, error = %e,
                "rejected client certificate: chain verification failed");
            return Err(e);
        }
        let code = code_from_cert(end_entity).map_err(|e| {
            tracing::warn!(node = %self.local, error = %e, "rejected client certificate");
            rustls::Error::General(format!("客户端证书无节点代码 / client certificate: {e}"))
        })?;
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
        tracing::warn!(node = %self.local, code = %code, "rejected client certificate: {message}");
        Err(rustls::Error::General(message))
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

/// Client-side verifier: webpki chain checks without the host name, then the expected code.
struct PeerCertVerifier {
    /// Used for handshake signatures and the scheme list, exactly as stock rustls.
    inner: Arc<WebPkiServerVerifier>,
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    expected: AdminCode,
}

impl fmt::Debug for PeerCertVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerCertVerifier")
            .field("expected", &self.expected)
            .finish_non_exhaustive()
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
        let parsed = ParsedCertificate::try_from(end_entity)?;
        if let Err(e) = rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        ) {
            let claimed = code_from_cert(end_entity)
                .map(|c| c.to_string())
                .unwrap_or_default();
            tracing::warn!(expected = %self.expected, claimed_code = %claimed, error = %e,
                "rejected server certificate: chain verification failed");
            return Err(e);
        }
        let code = code_from_cert(end_entity).map_err(|e| {
            tracing::warn!(expected = %self.expected, error = %e, "rejected server certificate");
            rustls::Error::General(format!("服务端证书无节点代码 / server certificate: {e}"))
        })?;
        if code != self.expected {
            let message = format!(
                "服务端证书代码 {code} 不是预期的 {expected} / server certificate code {code} is \
                 not the expected peer {expected}",
                expected = self.expected
            );
            tracing::warn!(expected = %self.expected, code = %code,
                "rejected server certificate: {message}");
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

/// 接入流 — accepts TCP connections on `listener` and yields those whose TLS handshake with
/// `config` succeeds; for tonic's `Server::serve_with_incoming`.
///
/// Each handshake runs in its own task, bounded by `handshake_timeout`, so a slow or hostile
/// client cannot stall the accept loop. Failed handshakes are logged and skipped (never yielded);
/// accept errors are yielded as `Err`, which tonic logs and skips. Dropping the stream stops the
/// accept loop and closes the listener.
///
/// The yielded `tokio_rustls::server::TlsStream<TcpStream>` implements tonic's `Connected`, so
/// handlers find `tonic::transport::server::TlsConnectInfo<TcpConnectInfo>` in the request
/// extensions; pass its `peer_certs()` to [`peer_code`].
///
/// Must be called inside a Tokio runtime (it spawns the accept loop).
pub fn incoming(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
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
            tokio::spawn(async move {
                match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(%remote, error = %e, "TLS handshake failed");
                    }
                    Err(_) => {
                        tracing::warn!(%remote, ?handshake_timeout, "TLS handshake timed out");
                    }
                }
            });
        }
    });
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
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
            let port = uri.port_u16().unwrap_or(443);
            let stream = connect((host.as_str(), port), config).await?;
            Ok(TokioIo::new(stream))
        }
    })
}
