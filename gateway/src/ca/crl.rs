//! 签发吊销列表 — the CA's certificate revocation list (issue 19 #12): every serial in the CA's
//! `revoked.txt`, signed by the CA key as an X.509 CRL (`crl.pem`) with a CRL number one above the
//! last one's. Nodes check it with rustls and pass it down the mesh ([`crate::tls::Crl`]).

use std::path::Path;

use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use time::{Duration, OffsetDateTime};

use super::{Ca, Error, REVOKED_FILE, parse_revocation_list, read_to_string, write_replace};
use crate::tls::{CRL_FILE, Crl, RevocationList};

/// How long a CRL says it is current (`nextUpdate`). Nodes do not enforce it (a CRL stays in force
/// until a newer one replaces it: revocations are never undone by time); it is there because
/// RFC 5280 requires it.
const CRL_VALIDITY_DAYS: i64 = 3650;

/// The entries of a `revoked.txt`: each serial with the time written after it (`# <RFC 3339> …`,
/// as `revoke` writes it), else `fallback`.
fn entries(text: &str, fallback: OffsetDateTime) -> Vec<RevokedCertParams> {
    let (serials, _) = parse_revocation_list(text);
    let mut when = std::collections::BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        let mut words = line.split_whitespace();
        let (Some(serial), Some("#"), Some(at)) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        if let (Some(s), Ok(t)) = (
            super::canonical_serial(serial),
            OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339),
        ) {
            when.insert(s, t);
        }
    }
    serials
        .into_iter()
        .filter_map(|s| {
            let even = if s.len() % 2 == 1 {
                format!("0{s}")
            } else {
                s.clone()
            };
            let bytes = (0..even.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&even[i..i + 2], 16).ok())
                .collect::<Option<Vec<u8>>>()?;
            Some(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&bytes),
                revocation_time: when.get(&s).copied().unwrap_or(fallback),
                reason_code: None,
                invalidity_date: None,
            })
        })
        .collect()
}

impl Ca {
    /// 签发吊销列表 — a CRL revoking every serial listed in `revoked_text` (the CA's `revoked.txt`),
    /// numbered `number`, PEM.
    pub fn sign_crl(&self, revoked_text: &str, number: u64) -> Result<String, Error> {
        let now = OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| OffsetDateTime::now_utc());
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: now + Duration::days(CRL_VALIDITY_DAYS),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: entries(revoked_text, now),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
    }
}

/// 发布吊销列表 — signs the CA's current list (`ca_dir/revoked.txt`) as `ca_dir/crl.pem`, numbered one
/// above the CRL there (1 for the first), replaced atomically. Call with the revocation lock held.
/// Returns the new CRL.
pub fn publish_crl(ca_dir: &Path) -> Result<Crl, Error> {
    let ca = Ca::load(ca_dir)?;
    let ca_der = crate::tls::parse_certs(ca.ca_cert_pem(), "ca.pem")?;
    let crl_path = ca_dir.join(CRL_FILE);
    let last = match std::fs::read(&crl_path) {
        Ok(bytes) => Crl::verify(&bytes, &ca_der)
            .map_err(|e| Error::Cert(format!("{}: {e}", crl_path.display())))?
            .number(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(source) => {
            return Err(Error::Io {
                path: crl_path,
                source,
            });
        }
    };
    let text = match std::fs::read_to_string(ca_dir.join(REVOKED_FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::Io {
                path: ca_dir.join(REVOKED_FILE),
                source,
            });
        }
    };
    let pem = ca.sign_crl(&text, last + 1)?;
    let crl = Crl::verify(pem.as_bytes(), &ca_der)
        .map_err(|e| Error::Cert(format!("signed CRL: {e}")))?;
    write_replace(&crl_path, pem.as_bytes(), false)?;
    tracing::info!(crl_number = crl.number(), serials = crl.serials().len(), path = %crl_path.display(), "CRL signed");
    Ok(crl)
}

/// 读取吊销列表 — the CRL at `path`, checked against the CA certificate(s) in `ca_pem`.
pub fn read_crl(path: &Path, ca_pem: &str) -> Result<Crl, Error> {
    let ca_der = crate::tls::parse_certs(ca_pem, "ca.pem")?;
    let text = read_to_string(path)?;
    Crl::verify(text.as_bytes(), &ca_der)
        .map_err(|e| Error::Cert(format!("{}: {e}", path.display())))
}

/// 安装吊销列表 — installs a CRL (DER or PEM) in a node's `tls_dir`: refused unless the node's CA
/// (`tls_dir/ca.pem`) signed it and it is newer than the node's `crl.pem`; written atomically. A
/// running node re-reads the file within a second.
pub fn install_crl(tls_dir: &Path, bytes: &[u8]) -> Result<Crl, Error> {
    let ca_pem = read_to_string(&tls_dir.join(super::CA_CERT_FILE))?;
    let ca = crate::tls::parse_certs(&ca_pem, "ca.pem")?;
    let list =
        RevocationList::open_with_crl(tls_dir.join(REVOKED_FILE), tls_dir.join(CRL_FILE), &ca);
    let crl = list.offer(bytes).map_err(|e| Error::Cert(e.to_string()))?;
    Ok((*crl).clone())
}
