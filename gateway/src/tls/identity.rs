//! 节点身份 — this node's own certificate and key: loading and checking them, and presenting a
//! replaced certificate without a restart.
//!
//! [`NodeIdentity::load`] checks everything it can at start (key matches, code present, chains to
//! the CA, currently valid), so a misconfigured node fails once, loudly, not at every handshake.
//! Both configs present the identity through [`Resolver`], which asks the shared [`CertSource`] at
//! each handshake; the source re-reads `node.pem`/`node.key` when their [`FileStamp`] changes and
//! takes the replacement only if it passes the same checks for the same code. Rotating a
//! certificate is therefore putting new files in place.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::{ClientHello, ParsedCertificate};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, SignatureScheme};
use safemesh_model::AdminCode;

use super::cert::{code_from_cert, parse_certs, parse_key, serial_of, validity_of};
use super::error::Error;
use super::profile::provider;
use super::profile::{CA_CERT_FILE, NODE_CERT_FILE, NODE_KEY_FILE};
use super::stamp::{FileStamp, lock};

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
    pub(super) source: Arc<CertSource>,
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
pub(super) struct CertSource {
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
        // A replacement of the key and certificate cut short by a crash is finished first.
        super::pair::finish_replacement(dir)?;
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

    /// When the certificate presented from now on expires: after a rotation, the replacement's
    /// (what an operator watches, so a renewed certificate clears the alert without a restart).
    pub fn current_not_after(&self) -> time::OffsetDateTime {
        self.source
            .current()
            .cert
            .first()
            .and_then(validity_of)
            .map_or(self.not_after, |(_, until)| until)
    }
}

/// Presents the identity's current certificate, on both sides of a link.
#[derive(Debug)]
pub(super) struct Resolver(pub(super) Arc<CertSource>);

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
