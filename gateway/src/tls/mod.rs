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

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use futures::Stream;
use hyper_util::rt::TokioIo;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ParsedCertificate, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName,
    RootCertStore, ServerConfig, SignatureScheme,
};
use safemesh_model::AdminCode;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use x509_parser::extensions::GeneralName;

use crate::ca::{
    CA_CERT_FILE, NODE_CERT_FILE, NODE_KEY_FILE, canonical_serial, parse_revocation_list,
};

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
    /// A certificate serial number given by an operator is not hexadecimal.
    #[error(
        "序列号无效 / invalid serial {0:?}: expected hexadecimal digits (colons allowed), at most 20 bytes"
    )]
    BadSerial(String),
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

/// Locks a mutex, ignoring poisoning: every value guarded here stays consistent between statements.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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

/// 证书序列号 — the serial number of `der` as lowercase hex without separators, exactly as
/// `safemesh ca issue` prints it and `openssl x509 -serial` shows it (modulo case). Only parses.
pub fn serial_of(der: &CertificateDer<'_>) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(hex_lower(cert.raw_serial()))
}

/// 有效期 — `(not_before, not_after)` of `der`. Only parses.
pub fn validity_of(
    der: &CertificateDer<'_>,
) -> Option<(time::OffsetDateTime, time::OffsetDateTime)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let v = cert.validity();
    Some((v.not_before.to_datetime(), v.not_after.to_datetime()))
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn unix_time(t: time::OffsetDateTime) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(t.unix_timestamp()).unwrap_or(0),
    ))
}

// ---------------------------------------------------------------------------------------------
// identity, with reloading of a replaced certificate

/// 节点身份 — this node's certificate chain and key, its code, and the CA it trusts.
///
/// Cheap to clone; the key is shared, never copied. An identity read from a directory with
/// [`NodeIdentity::load`] re-reads `node.pem` and `node.key` when either file's modification time
/// (or size, or inode) changes, at the next handshake: rotation without a restart. A replacement
/// is only taken if it is complete and sound (key matches, chains to the CA, currently valid, same
/// code); otherwise the certificate in use stays and a warning is logged once per change.
#[derive(Clone)]
pub struct NodeIdentity {
    /// This node's code, from the SAN URI of its certificate.
    pub code: AdminCode,
    certified: Arc<CertifiedKey>,
    source: Arc<CertSource>,
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
            .field("reloads_from", &self.source.dir)
            .finish_non_exhaustive()
    }
}

/// What the TLS configs of one identity present: fixed, or re-read from a directory on change.
struct CertSource {
    code: AdminCode,
    dir: Option<PathBuf>,
    roots: Arc<RootCertStore>,
    state: Mutex<SourceState>,
}

struct SourceState {
    current: Arc<CertifiedKey>,
    /// Stamps of (node.pem, node.key) the current key was read from.
    stamp: Option<(FileStamp, FileStamp)>,
    /// Stamps of a replacement that could not be used (so it is not retried until it changes).
    failed: Option<(FileStamp, FileStamp)>,
}

impl fmt::Debug for CertSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertSource")
            .field("code", &self.code)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// What identifies a version of a file: modification time, size, and (on Unix) inode, so an atomic
/// replacement (rename) is seen even within one mtime tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    ino: u64,
}

impl FileStamp {
    /// `Ok(None)` if the file does not exist.
    fn of(path: &Path) -> io::Result<Option<FileStamp>> {
        match std::fs::metadata(path) {
            Ok(m) => {
                #[cfg(unix)]
                let ino = std::os::unix::fs::MetadataExt::ino(&m);
                #[cfg(not(unix))]
                let ino = 0;
                Ok(Some(FileStamp {
                    modified: m.modified().ok(),
                    len: m.len(),
                    ino,
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl CertSource {
    fn stamps(dir: &Path) -> Option<(FileStamp, FileStamp)> {
        let cert = FileStamp::of(&dir.join(NODE_CERT_FILE)).ok()??;
        let key = FileStamp::of(&dir.join(NODE_KEY_FILE)).ok()??;
        Some((cert, key))
    }

    /// The certificate and key to present now, re-read first if the files changed.
    fn current(&self) -> Arc<CertifiedKey> {
        let mut st = lock(&self.state);
        let Some(dir) = &self.dir else {
            return st.current.clone();
        };
        let Some(stamp) = Self::stamps(dir) else {
            // Files missing (mid-replacement by hand?): keep presenting what we have.
            return st.current.clone();
        };
        if st.stamp == Some(stamp) || st.failed == Some(stamp) {
            return st.current.clone();
        }
        match self.read(dir) {
            Ok((certified, serial, not_after)) => {
                tracing::info!(node = %self.code, serial = %serial, %not_after,
                    "节点证书已重新加载 / node certificate reloaded; new connections present it");
                st.current = Arc::new(certified);
                st.stamp = Some(stamp);
                st.failed = None;
            }
            Err(e) => {
                tracing::warn!(node = %self.code, dir = %dir.display(), error = %e,
                    "替换的节点证书不可用，继续使用原证书 / replaced node certificate not usable; \
                     still presenting the previous one");
                st.failed = Some(stamp);
            }
        }
        st.current.clone()
    }

    fn read(&self, dir: &Path) -> Result<(CertifiedKey, String, time::OffsetDateTime), Error> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| Error::Io { path, source })
        };
        let cert_pem = read(NODE_CERT_FILE)?;
        let key_pem = read(NODE_KEY_FILE)?;
        let checked = check_identity(
            (&cert_pem, NODE_CERT_FILE),
            (&key_pem, NODE_KEY_FILE),
            &self.roots,
            CA_CERT_FILE,
            true,
        )?;
        if checked.code != self.code {
            return Err(Error::Cert(format!(
                "新证书代码 {} 与本节点 {} 不符 / the new certificate is for {}, this node is {}",
                checked.code, self.code, checked.code, self.code
            )));
        }
        let serial = checked
            .certified
            .cert
            .first()
            .and_then(serial_of)
            .unwrap_or_default();
        Ok((checked.certified, serial, checked.not_after))
    }
}

/// A parsed and checked node certificate and key.
struct Checked {
    code: AdminCode,
    certified: CertifiedKey,
    not_after: time::OffsetDateTime,
}

/// Parses a chain and key, checks the key matches the leaf and the leaf names a code; if `verify`,
/// also that it chains to `roots` and is currently valid.
fn check_identity(
    (cert_pem, cert_what): (&str, &str),
    (key_pem, key_what): (&str, &str),
    roots: &RootCertStore,
    ca_what: &str,
    verify: bool,
) -> Result<Checked, Error> {
    let chain = parse_certs(cert_pem, cert_what)?;
    let key = parse_key(key_pem, key_what)?;
    let leaf = chain
        .first()
        .ok_or_else(|| Error::NoCertificate {
            what: cert_what.to_string(),
        })?
        .clone();
    let code = code_from_cert(&leaf)?;
    let not_after = validity_of(&leaf)
        .ok_or_else(|| {
            Error::Cert(format!(
                "{cert_what}: 无法解析有效期 / cannot parse validity"
            ))
        })?
        .1;
    let provider = provider();
    if verify {
        let parsed = ParsedCertificate::try_from(&leaf)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            roots,
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
    }
    // Parses the key with the ring provider and checks it matches the leaf.
    let certified = CertifiedKey::from_der(chain, key, &provider)
        .map_err(|e| Error::Cert(format!("{key_what} / {cert_what}: {e}")))?;
    Ok(Checked {
        code,
        certified,
        not_after,
    })
}

impl NodeIdentity {
    /// 加载身份 — reads `dir/node.pem`, `dir/node.key` and `dir/ca.pem`.
    ///
    /// See [`NodeIdentity::from_pem`] for the checks made. The identity keeps watching `node.pem`
    /// and `node.key` in `dir`: TLS configs built from it present a replaced certificate from the
    /// next handshake on (rotation without restart). `ca.pem` is read once.
    pub fn load(dir: &Path) -> Result<NodeIdentity, Error> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| Error::Io { path, source })
        };
        // Stamps first: a replacement racing with this read is then seen as a change and re-read.
        let stamp = CertSource::stamps(dir);
        let cert_pem = read(NODE_CERT_FILE)?;
        let key_pem = read(NODE_KEY_FILE)?;
        let ca_pem = read(CA_CERT_FILE)?;
        Self::build(
            (&cert_pem, &dir.join(NODE_CERT_FILE).display().to_string()),
            (&key_pem, &dir.join(NODE_KEY_FILE).display().to_string()),
            (&ca_pem, &dir.join(CA_CERT_FILE).display().to_string()),
            Some((dir.to_path_buf(), stamp)),
            true,
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
            None,
            true,
        )
    }

    /// Like [`NodeIdentity::from_pem`] but without checking that the certificate chains to the CA
    /// or is currently valid (the key must still match and the code must parse).
    ///
    /// For tools and tests that must *present* a certificate peers are expected to refuse — an
    /// expired one, one from another CA. Nothing is trusted because of it: peers verify what they
    /// are shown.
    pub fn from_pem_unverified(
        cert_pem: &str,
        key_pem: &str,
        ca_pem: &str,
    ) -> Result<NodeIdentity, Error> {
        Self::build(
            (cert_pem, "node certificate"),
            (key_pem, "node key"),
            (ca_pem, "CA certificate"),
            None,
            false,
        )
    }

    fn build(
        cert: (&str, &str),
        key: (&str, &str),
        (ca_pem, ca_what): (&str, &str),
        reload: Option<(PathBuf, Option<(FileStamp, FileStamp)>)>,
        verify: bool,
    ) -> Result<NodeIdentity, Error> {
        let ca_certs = parse_certs(ca_pem, ca_what)?;
        let mut roots = RootCertStore::empty();
        for ca in &ca_certs {
            roots
                .add(ca.clone())
                .map_err(|e| Error::Cert(format!("{ca_what}: {e}")))?;
        }
        let checked = check_identity(cert, key, &roots, ca_what, verify)?;
        let certified = Arc::new(checked.certified);
        let roots = Arc::new(roots);
        let (dir, stamp) = match reload {
            Some((dir, stamp)) => (Some(dir), stamp),
            None => (None, None),
        };
        let source = Arc::new(CertSource {
            code: checked.code.clone(),
            dir,
            roots: roots.clone(),
            state: Mutex::new(SourceState {
                current: certified.clone(),
                stamp,
                failed: None,
            }),
        });
        Ok(NodeIdentity {
            code: checked.code,
            certified,
            source,
            ca_certs: ca_certs.into(),
            roots,
            not_after: checked.not_after,
        })
    }

    /// This node's certificate chain as loaded, leaf first (see [`NodeIdentity::current_chain`]
    /// for the one presented now).
    pub fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.certified.cert
    }

    /// The chain presented from now on: after a rotation, the replacement's.
    pub fn current_chain(&self) -> Vec<CertificateDer<'static>> {
        self.source.current().cert.clone()
    }

    /// Serial (lowercase hex) of the certificate presented from now on.
    pub fn current_serial(&self) -> Option<String> {
        self.source.current().cert.first().and_then(serial_of)
    }

    /// The trusted CA certificate(s).
    pub fn ca_certs(&self) -> &[CertificateDer<'static>] {
        &self.ca_certs
    }

    /// The trusted CA(s) as a rustls root store.
    pub fn roots(&self) -> Arc<RootCertStore> {
        self.roots.clone()
    }

    /// When this node's certificate (as loaded) expires.
    pub fn not_after(&self) -> time::OffsetDateTime {
        self.not_after
    }
}

/// Presents the identity's current certificate, on both sides of a link.
#[derive(Debug)]
struct Resolver(Arc<CertSource>);

impl rustls::server::ResolvesServerCert for Resolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current())
    }
}

impl rustls::client::ResolvesClientCert for Resolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current())
    }

    fn has_certs(&self) -> bool {
        true
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

// ---------------------------------------------------------------------------------------------
// revocation

/// 吊销列表 — the serials a node refuses, read from a file (`D/tls/revoked.txt`, format in
/// [`crate::ca::parse_revocation_list`]) and re-read whenever it changes, without a restart.
///
/// Cheap to clone (shared). A missing file is an empty list. An unreadable file keeps the list
/// last read (and is logged); a malformed line is skipped (and logged). [`RevocationList::refresh`]
/// re-reads the file if its modification time, size or inode changed; the TLS verifiers call it
/// at every handshake, and [`RevocationList::watch`] calls it periodically so live streams can be
/// checked with [`RevocationList::subscribe`].
#[derive(Clone)]
pub struct RevocationList {
    inner: Arc<RevocationInner>,
}

struct RevocationInner {
    path: PathBuf,
    state: Mutex<RevocationState>,
    changed: watch::Sender<u64>,
}

struct RevocationState {
    stamp: Option<FileStamp>,
    serials: Arc<BTreeSet<String>>,
    last_error: Option<String>,
}

impl fmt::Debug for RevocationList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationList")
            .field("path", &self.inner.path)
            .field("serials", &lock(&self.inner.state).serials.len())
            .finish()
    }
}

impl RevocationList {
    /// Opens the list at `path` (which need not exist yet) and reads it.
    pub fn open(path: impl Into<PathBuf>) -> RevocationList {
        let list = RevocationList {
            inner: Arc::new(RevocationInner {
                path: path.into(),
                state: Mutex::new(RevocationState {
                    stamp: None,
                    serials: Arc::default(),
                    last_error: None,
                }),
                changed: watch::channel(0).0,
            }),
        };
        list.refresh();
        list
    }

    /// The file this list is read from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Re-reads the file if it changed since the last read. Returns true if the set of serials
    /// changed (subscribers are then notified).
    pub fn refresh(&self) -> bool {
        let path = &self.inner.path;
        let mut st = lock(&self.inner.state);
        let stamp = match FileStamp::of(path) {
            Ok(s) => s,
            Err(e) => {
                self.read_failed(&mut st, e.to_string());
                return false;
            }
        };
        if stamp == st.stamp && st.last_error.is_none() {
            return false;
        }
        let text = match stamp {
            None => String::new(),
            Some(_) => match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
                Err(e) => {
                    self.read_failed(&mut st, e.to_string());
                    return false;
                }
            },
        };
        st.stamp = stamp;
        st.last_error = None;
        let (serials, bad) = parse_revocation_list(&text);
        for (line, content) in bad {
            tracing::warn!(file = %path.display(), line, content = %content,
                "吊销列表中的行无法解析，已跳过 / revocation list line is not a serial; skipped");
        }
        if *st.serials == serials {
            return false;
        }
        tracing::info!(file = %path.display(), serials = serials.len(),
            "吊销列表已更新 / revocation list reloaded");
        st.serials = Arc::new(serials);
        drop(st);
        self.inner.changed.send_modify(|g| *g += 1);
        true
    }

    fn read_failed(&self, st: &mut RevocationState, error: String) {
        if st.last_error.as_deref() != Some(error.as_str()) {
            tracing::warn!(file = %self.inner.path.display(), %error,
                "无法读取吊销列表，沿用上次内容 / cannot read the revocation list; keeping the last one read");
        }
        st.last_error = Some(error);
    }

    /// True if `serial` (hex, any case, colons allowed) is listed, after re-reading the file if it
    /// changed.
    pub fn is_revoked(&self, serial: &str) -> bool {
        self.refresh();
        self.contains(serial)
    }

    /// True if `serial` is in the list as last read (no file access).
    pub fn contains(&self, serial: &str) -> bool {
        canonical_serial(serial).is_some_and(|s| lock(&self.inner.state).serials.contains(&s))
    }

    /// The listed serials (canonical: lowercase hex without leading zeros), as last read.
    pub fn serials(&self) -> Arc<BTreeSet<String>> {
        lock(&self.inner.state).serials.clone()
    }

    /// A receiver that changes whenever the set of serials changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// Re-reads the file every `every` until `shutdown` turns true, so subscribers (live streams)
    /// learn of new revocations without waiting for a handshake.
    pub async fn watch(self, every: Duration, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => { self.refresh(); }
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// refusals

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

/// 安全策略 — what a node's TLS configs share at run time: the revocation list they honour and
/// where their refusals go. The default honours no list and only logs.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Serials refused in every handshake (re-read on change).
    pub revocations: Option<RevocationList>,
    /// Where refusals are reported.
    pub rejections: Rejections,
}

impl Policy {
    fn revoked(&self, serial: Option<&str>) -> bool {
        match (&self.revocations, serial) {
            (Some(list), Some(serial)) => list.is_revoked(serial),
            _ => false,
        }
    }
}

/// Why webpki refused a certificate, and whether its code can still be believed: an expired or
/// not-yet-valid certificate whose chain verifies at a moment inside its validity was issued by
/// the CA, so its code is the CA's word.
fn classify_webpki(
    error: &rustls::Error,
    end_entity: &CertificateDer<'_>,
    chain_ok_at: impl Fn(UnixTime) -> bool,
) -> (RejectReason, bool) {
    let validity = validity_of(end_entity);
    match error {
        rustls::Error::InvalidCertificate(e) => match e {
            CertificateError::UnknownIssuer => (RejectReason::UnknownCa, false),
            CertificateError::Revoked => (RejectReason::Revoked, false),
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

fn reason_message(
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
        _ => format!("证书无效 / invalid certificate: {e}"),
    }
}

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

/// The rustls error inside an I/O error from tokio-rustls, if any.
pub fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
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
