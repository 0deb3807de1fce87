//! 证书内容 — what a certificate says (the node code in its SAN URI, its serial, its validity) and
//! how PEM text becomes certificates and a key.
//!
//! Only parsing, never verification. The verifiers decide whether a certificate is to be believed
//! and use these readers to learn what it claims: on an accepted certificate, who the peer is; on a
//! refused one, who it said it was, for the log. [`crate::ca`] reads what it issues with them too.

use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use safemesh_model::AdminCode;
use x509_parser::extensions::GeneralName;

use super::error::Error;
use super::profile::SAN_PREFIX;

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
    code_from_uri(uri)
}

/// The code of a SAN URI `safemesh://node/<code>`, in exact prefix form (what a certificate must
/// carry, and what `ca sign` requires of a request). [`Error::NoCode`] if `uri` does not start with
/// [`SAN_PREFIX`].
pub fn code_from_uri(uri: &str) -> Result<AdminCode, Error> {
    let code = uri.strip_prefix(SAN_PREFIX).ok_or(Error::NoCode)?;
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

pub(super) fn unix_time(t: time::OffsetDateTime) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(t.unix_timestamp()).unwrap_or(0),
    ))
}

/// Decodes all certificates of a PEM text; `what` names the input in errors.
pub fn parse_certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
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

pub(super) fn parse_key(pem: &str, what: &str) -> Result<PrivateKeyDer<'static>, Error> {
    rustls_pemfile::private_key(&mut pem.as_bytes())
        .map_err(|e| Error::Pem {
            what: what.to_string(),
            reason: e.to_string(),
        })?
        .ok_or_else(|| Error::NoKey {
            what: what.to_string(),
        })
}
