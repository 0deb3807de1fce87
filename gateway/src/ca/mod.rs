//! 证书颁发 — the node CA.
//!
//! One self-signed ECDSA P-256 CA issues one leaf certificate per node. A node's identity is the
//! SAN URI `safemesh://node/<code>` of its leaf (see [`crate::tls`]); the CA is the only trust
//! anchor, so whoever holds `ca.key` decides which codes exist.
//!
//! A node's key may also be made on the node ([`make_request`]): the CA then signs its certificate
//! request ([`Ca::sign_request`]) and the key never leaves the node (issue 19 #12).
//!
//! On disk, a CA directory holds `ca.pem` (certificate), `ca.key` (PKCS#8 PEM, mode 0600) and,
//! once something was revoked, `revoked.txt` (the published revocation list, see [`revoke`] and
//! [`parse_revocation_list`]); a node directory holds `node.pem`, `node.key` (0600), `ca.pem` and
//! a copy of `revoked.txt` that the node honours (see [`crate::tls::RevocationList`]).
//!
//! ```no_run
//! # fn demo() -> Result<(), safemesh_gateway::tls::Error> {
//! use std::path::Path;
//! use safemesh_gateway::ca::{Ca, write_node_files};
//! use safemesh_model::AdminCode;
//!
//! let ca = Ca::init(Path::new("/etc/safemesh/ca"), "yunnan")?;
//! let code = AdminCode::parse("5301").expect("valid code");
//! let issued = ca.issue(&code, 365)?;
//! write_node_files(&issued, ca.ca_cert_pem(), Path::new("/etc/safemesh/node"))?;
//! # Ok(()) }
//! ```

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};
use safemesh_model::AdminCode;
use time::{Duration, OffsetDateTime};

// The file names and the list's format are the node's side of TLS (`tls`); the CA writes what a node reads.
pub use crate::tls::{
    CA_CERT_FILE, Error, NODE_CERT_FILE, NODE_KEY_FILE, REVOKED_FILE, canonical_serial,
    parse_revocation_list,
};
use crate::tls::{SAN_PREFIX, hex_lower};

mod crl;
mod request;

pub use crate::tls::{CRL_FILE, Crl};
pub use crl::{install_crl, publish_crl, read_crl};

pub use request::{
    NodeRequest, SignedCert, install_signed, key_matches_cert, make_request, write_signed_files,
};

/// File name of the CA private key in the CA directory.
pub const CA_KEY_FILE: &str = "ca.key";

/// Validity of a CA certificate: ten years.
const CA_VALIDITY_DAYS: i64 = 3650;
/// Back-dating of `not_before`, to tolerate clock skew between nodes.
const BACKDATE: Duration = Duration::hours(1);

/// 节点 CA — a loaded CA that can issue node certificates.
pub struct Ca {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Issuer`'s Debug already elides the key; keep the PEM out of logs too.
        f.debug_struct("Ca")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// 签发结果 — a freshly issued node certificate and its private key, both PEM.
#[derive(Clone)]
pub struct IssuedCert {
    /// Leaf certificate, PEM.
    pub cert_pem: String,
    /// Private key of the leaf, PKCS#8 PEM. Secret.
    pub key_pem: String,
    /// Serial number, lowercase hex without separators.
    pub serial_hex: String,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl std::fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCert")
            .field("serial_hex", &self.serial_hex)
            .field("not_after", &self.not_after)
            .field("key_pem", &"[secret]")
            .finish_non_exhaustive()
    }
}

impl Ca {
    /// 初始化 CA — creates `dir` (if needed), generates an ECDSA P-256 self-signed CA certificate
    /// valid for ten years and writes `dir/ca.pem` and `dir/ca.key` (mode 0600).
    ///
    /// Never overwrites: fails with [`Error::CaExists`] if `ca.pem` or `ca.key` is already there.
    pub fn init(dir: &Path, name: &str) -> Result<Ca, Error> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        for path in [&cert_path, &key_path] {
            if path.exists() {
                return Err(Error::CaExists { path: path.clone() });
            }
        }
        fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;

        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        params.distinguished_name = {
            let mut dn = DistinguishedName::new();
            dn.push(DnType::OrganizationName, "safemesh");
            dn.push(DnType::CommonName, format!("safemesh CA {name}"));
            dn
        };
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.serial_number = Some(random_serial()?.0);
        params.not_before = now - BACKDATE;
        params.not_after = now + Duration::days(CA_VALIDITY_DAYS);

        let cert_pem = params.self_signed(&key)?.pem();
        // Key first: a crash in between leaves a key without certificate, which `init` refuses to
        // overwrite — better than a certificate whose key is lost.
        write_new(&key_path, key.serialize_pem().as_bytes(), true)?;
        write_new(&cert_path, cert_pem.as_bytes(), false)?;
        tracing::info!(dir = %dir.display(), name, "CA initialised");

        Ok(Ca {
            cert_pem,
            issuer: Issuer::new(params, key),
        })
    }

    /// 加载 CA — reads `dir/ca.pem` and `dir/ca.key` so the CA can sign.
    ///
    /// Fails if the key does not belong to the certificate.
    pub fn load(dir: &Path) -> Result<Ca, Error> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let cert_pem = read_to_string(&cert_path)?;
        let key_pem = read_to_string(&key_path)?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| Error::Pem {
            what: key_path.display().to_string(),
            reason: e.to_string(),
        })?;

        let der = crate::tls::parse_certs(&cert_pem, &cert_path.display().to_string())?
            .into_iter()
            .next()
            .ok_or_else(|| Error::NoCertificate {
                what: cert_path.display().to_string(),
            })?;
        let (_, x509) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| Error::Cert(format!("{}: {e}", cert_path.display())))?;
        if !x509.is_ca() {
            return Err(Error::Cert(format!(
                "{} 不是 CA 证书 / is not a CA certificate",
                cert_path.display()
            )));
        }
        if x509.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(Error::Cert(format!(
                "{} 与 {} 不匹配 / key does not match the CA certificate",
                key_path.display(),
                cert_path.display()
            )));
        }

        let issuer = Issuer::from_ca_cert_der(&der, key)?;
        Ok(Ca { cert_pem, issuer })
    }

    /// 签发节点证书 — issues a leaf certificate for `code`, valid for `validity_days` from now
    /// (back-dated one hour), with a fresh ECDSA P-256 key.
    ///
    /// The leaf carries CN = code, SAN URI `safemesh://node/<code>` (prefix form), extended key
    /// usages serverAuth + clientAuth, and a random 16-byte serial.
    pub fn issue(&self, code: &AdminCode, validity_days: u32) -> Result<IssuedCert, Error> {
        if validity_days == 0 {
            return Err(Error::Cert(
                "有效期必须大于 0 天 / validity_days must be > 0".into(),
            ));
        }
        let now = OffsetDateTime::now_utc();
        self.issue_with_validity(
            code,
            now - BACKDATE,
            now + Duration::days(i64::from(validity_days)),
        )
    }

    /// 指定有效期签发 — like [`Ca::issue`], valid exactly from `not_before` to `not_after` (whole
    /// seconds). Either may lie in the past or the future: an already expired or not yet valid
    /// certificate is what tests of refusal need; operators use [`Ca::issue`].
    pub fn issue_with_validity(
        &self,
        code: &AdminCode,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<IssuedCert, Error> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let (params, serial_hex) = leaf_params(code, not_before, not_after)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        tracing::info!(code = %code, serial = %serial_hex, %not_after, "node certificate issued");
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            serial_hex,
            not_after: not_after.replace_nanosecond(0).unwrap_or(not_after),
        })
    }

    /// The CA certificate, PEM — what every node trusts (`ca.pem`).
    pub fn ca_cert_pem(&self) -> &str {
        &self.cert_pem
    }
}

/// The profile of every node certificate, whether its key was made here ([`Ca::issue`]) or on the
/// node ([`Ca::sign_request`]): CN = code, SAN URI `safemesh://node/<code>`, not a CA, digital
/// signature, serverAuth + clientAuth, the CA's key identifier, a random 16-byte serial (returned in
/// hex), valid from `not_before` to `not_after`.
fn leaf_params(
    code: &AdminCode,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<(CertificateParams, String), Error> {
    if not_after <= not_before {
        return Err(Error::Cert(format!(
            "有效期结束须晚于开始 / not_after ({not_after}) must be after not_before ({not_before})"
        )));
    }
    let (serial, serial_hex) = random_serial()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "safemesh");
        dn.push(DnType::CommonName, code.as_str());
        dn
    };
    let uri = format!("{SAN_PREFIX}{}", code.as_str());
    params.subject_alt_names = vec![SanType::URI(uri.try_into()?)];
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(serial);
    params.not_before = not_before;
    params.not_after = not_after;
    Ok((params, serial_hex))
}

/// 写入节点文件 — writes `dir/node.pem`, `dir/node.key` (mode 0600) and `dir/ca.pem`, creating
/// `dir` if needed. Existing files are replaced atomically (write to a temporary file, rename),
/// so a node re-reading its directory never sees a half-written key; the key and certificate as a
/// pair ([`crate::tls::pair`]), so a crash between them never leaves a mismatched pair.
pub fn write_node_files(issued: &IssuedCert, ca_pem: &str, dir: &Path) -> Result<(), Error> {
    fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    crate::tls::pair::replace_pair(dir, &issued.key_pem, &issued.cert_pem)?;
    write_replace(&dir.join(CA_CERT_FILE), ca_pem.as_bytes(), false)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// revocation list

/// What [`revoke`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// The serial was appended to the list at `path`, and a CRL numbered `crl_number` signed.
    Added {
        /// The published list.
        path: PathBuf,
        /// The number of the CRL signed (`crl.pem` beside the list).
        crl_number: u64,
    },
    /// The serial was already listed; nothing changed.
    AlreadyListed {
        /// The published list.
        path: PathBuf,
    },
}

const REVOKED_HEADER: &str = "\
# safemesh 证书吊销列表 / certificate revocation list
# 每行一个证书序列号（十六进制），其后可加说明；# 开头为注释。
# One certificate serial (hex) per line, optionally followed by free text; lines starting with # are comments.
# 由 `safemesh ca revoke` 维护；同时签发 crl.pem（吊销列表），装到最上级节点后经网络自动下发。
# Kept by `safemesh ca revoke`, which also signs crl.pem (the CRL): installed at the top node, it travels
# down the mesh by itself.
";

/// 吊销证书 — appends `serial` to the CA's list `ca_dir/revoked.txt` (created if needed), with the
/// time and `reason` as a comment, and signs the whole list as the CRL `ca_dir/crl.pem`, numbered
/// one above the last ([`publish_crl`]). Both files are replaced atomically, so a node reading a
/// copy never sees half of one. Needs the CA's key (the CRL is signed). A serial already listed
/// changes nothing (a CRL missing beside the list is signed, though).
pub fn revoke(ca_dir: &Path, serial: &str, reason: Option<&str>) -> Result<Revoked, Error> {
    let canonical = canonical_serial(serial).ok_or_else(|| Error::BadSerial(serial.to_string()))?;
    let ca_cert = ca_dir.join(CA_CERT_FILE);
    if !ca_cert.is_file() {
        return Err(Error::Io {
            path: ca_cert,
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "不是 CA 目录 / not a CA directory (no ca.pem)",
            ),
        });
    }
    // One revocation at a time: two `ca revoke` run at once would each read the list, add their
    // serial and write it back, and one serial would be lost. The lock is released when `_lock`
    // closes.
    let lock_path = ca_dir.join("revoked.lock");
    let _lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .and_then(|f| f.lock().map(|()| f))
        .map_err(|source| Error::Io {
            path: lock_path.clone(),
            source,
        })?;
    let path = ca_dir.join(REVOKED_FILE);
    let existing = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(Error::Io { path, source }),
    };
    if parse_revocation_list(&existing).0.contains(&canonical) {
        if !ca_dir.join(CRL_FILE).is_file() {
            publish_crl(ca_dir)?;
        }
        return Ok(Revoked::AlreadyListed { path });
    }
    let mut text = if existing.is_empty() {
        REVOKED_HEADER.to_string()
    } else {
        existing
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| OffsetDateTime::now_utc());
    let when = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    // One line per entry: newlines in the reason would start a new (bogus) entry.
    let reason: String = reason
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let shown: String = serial
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    text.push_str(format!("{shown}  # {when} {}", reason.trim()).trim_end());
    text.push('\n');
    // The key is needed for the CRL: load it before the list changes, so a CA directory without
    // it changes nothing.
    Ca::load(ca_dir)?;
    write_replace(&path, text.as_bytes(), false)?;
    let crl = publish_crl(ca_dir)?;
    tracing::info!(serial = %shown, list = %path.display(), crl_number = crl.number(), "certificate revoked");
    Ok(Revoked::Added {
        path,
        crl_number: crl.number(),
    })
}

/// 复制吊销列表 — copies the CA's list `ca_dir/revoked.txt` and its CRL `ca_dir/crl.pem` to
/// `node_dir` (atomically), those the CA has. Returns whether anything was copied. (A running node
/// gets a newer CRL from its parent by itself; this gives a new node the current one at once.)
pub fn copy_revocation_list(ca_dir: &Path, node_dir: &Path) -> Result<bool, Error> {
    let mut copied = false;
    for name in [REVOKED_FILE, CRL_FILE] {
        let from = ca_dir.join(name);
        let text = match fs::read(&from) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Io { path: from, source }),
        };
        // Never a CRL over a newer one (the node may have had a newer one from its parent).
        if name == CRL_FILE
            && let Ok(held) = fs::read(node_dir.join(name))
            && crate::tls::number_unverified(&held) >= crate::tls::number_unverified(&text)
        {
            continue;
        }
        fs::create_dir_all(node_dir).map_err(|source| Error::Io {
            path: node_dir.to_path_buf(),
            source,
        })?;
        write_replace(&node_dir.join(name), &text, false)?;
        copied = true;
    }
    Ok(copied)
}

/// A random positive 16-byte serial number and its hex form.
fn random_serial() -> Result<(SerialNumber, String), Error> {
    let mut bytes = [0u8; 16];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| Error::Random)?;
    // Positive (high bit clear) and exactly 16 bytes in DER (first byte non-zero).
    bytes[0] = (bytes[0] & 0x7f).max(1);
    Ok((SerialNumber::from_slice(&bytes), hex_lower(&bytes)))
}

fn read_to_string(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Options for creating a file, mode 0600 if `secret`.
fn open_options(secret: bool) -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    options
}

/// Creates `path`, failing if it exists.
fn write_new(path: &Path, contents: &[u8], secret: bool) -> Result<(), Error> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = open_options(secret).open(path).map_err(io_err)?;
    file.write_all(contents).map_err(io_err)?;
    file.sync_all().map_err(io_err)
}

/// Replaces `path` atomically via a temporary sibling file.
fn write_replace(path: &Path, contents: &[u8], secret: bool) -> Result<(), Error> {
    let tmp: PathBuf = {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        path.with_file_name(name)
    };
    // A stale temporary file from an interrupted earlier write is safe to discard.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(Error::Io { path: tmp, source }),
    }
    write_new(&tmp, contents, secret)?;
    fs::rename(&tmp, path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
