//! 证书申请 — the node makes its key, the CA signs its request (issue 19 #12: keys travel).
//!
//! On the node, [`make_request`] makes an ECDSA P-256 key and a PKCS#10 request (CSR) naming the
//! node's code in the SAN URI `safemesh://node/<code>`; the key stays in the node's `tls` dir. On the
//! CA host, [`Ca::sign_request`] verifies the request's signature (it was made with the key it
//! carries, and not altered since), requires exactly one SAN, a `safemesh://node/` URI with a code in
//! prefix form, and issues the same profile as [`Ca::issue`] on the request's public key: nothing else
//! the request asks for (key usages, basic constraints, subject) is taken. [`write_signed_files`]
//! writes the certificate and the CA certificate, never a key. Back on the node, [`install_signed`]
//! checks the certificate is the CA's and belongs to the key already there, and installs it as a pair
//! with that key ([`crate::tls::pair`]).

use std::fs;
use std::path::Path;

use rcgen::{
    CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType, KeyPair,
    PKCS_ECDSA_P256_SHA256, SanType,
};
use rustls::pki_types::CertificateDer;
use safemesh_model::AdminCode;
use time::{Duration, OffsetDateTime};

use super::{BACKDATE, Ca, leaf_params, write_replace};
use crate::tls::{
    CA_CERT_FILE, Error, NODE_CERT_FILE, NODE_KEY_FILE, SAN_PREFIX, code_from_cert, code_from_uri,
    parse_certs,
};

/// 密钥与证书申请 — a key made on the node and its certificate request, both PEM.
pub struct NodeRequest {
    /// The node's private key, PKCS#8 PEM. Secret: it stays on the node.
    pub key_pem: String,
    /// The certificate request, PEM (`CERTIFICATE REQUEST`): what goes to the CA.
    pub csr_pem: String,
}

impl std::fmt::Debug for NodeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeRequest")
            .field("key_pem", &"[secret]")
            .field("csr_pem", &self.csr_pem)
            .finish()
    }
}

/// 签发结果（无私钥）— a certificate signed from a request: no key, the CA never had it.
#[derive(Debug, Clone)]
pub struct SignedCert {
    /// The node the certificate names.
    pub code: AdminCode,
    /// Leaf certificate, PEM.
    pub cert_pem: String,
    /// Serial number, lowercase hex without separators (what `ca revoke` takes).
    pub serial_hex: String,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

/// 生成密钥与证书申请 — a fresh ECDSA P-256 key and a CSR for `code` (CN = code, SAN URI
/// `safemesh://node/<code>`), signed with that key.
pub fn make_request(code: &AdminCode) -> Result<NodeRequest, Error> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "safemesh");
        dn.push(DnType::CommonName, code.as_str());
        dn
    };
    params.subject_alt_names = vec![SanType::URI(
        format!("{SAN_PREFIX}{}", code.as_str()).try_into()?,
    )];
    let csr = params.serialize_request(&key)?;
    Ok(NodeRequest {
        key_pem: key.serialize_pem(),
        csr_pem: csr.pem()?,
    })
}

fn refused(why: impl Into<String>) -> Error {
    Error::Request(why.into())
}

/// Parses `csr_pem`, verifies its signature, and returns its public key and the one code it names.
fn read_request(csr_der: &[u8]) -> Result<(CertificateSigningRequestParams, AdminCode), Error> {
    let csr = CertificateSigningRequestParams::from_der(&csr_der.into()).map_err(|e| match e {
        rcgen::Error::InvalidCertificationRequestSignature => refused(
            "签名验证失败（申请被改动过，或不是用其中的公钥签名）/ the signature does not verify \
             (the request was altered, or not signed with the key it carries)",
        ),
        rcgen::Error::CouldNotParseCertificationRequest => refused(
            "无法解析为 PKCS#10 证书申请（PEM CERTIFICATE REQUEST）/ not a PKCS#10 request \
             (PEM CERTIFICATE REQUEST)",
        ),
        rcgen::Error::UnsupportedExtension => {
            refused("含有 CA 不签发的扩展 / carries an extension the CA does not sign")
        }
        other => refused(format!("{other}")),
    })?;
    let code = match csr.params.subject_alt_names.as_slice() {
        [] => {
            return Err(refused(format!(
                "没有 SAN，应恰有一个 {SAN_PREFIX}<代码> / no subjectAltName: it must name exactly \
                 one {SAN_PREFIX}<code>"
            )));
        }
        [SanType::URI(uri)] => {
            let uri = uri.as_str();
            match code_from_uri(uri) {
                Ok(code) => code,
                Err(Error::NoCode) => {
                    return Err(refused(format!(
                        "SAN {uri:?} 不是 {SAN_PREFIX}<代码> / SAN {uri:?} is not {SAN_PREFIX}<code>"
                    )));
                }
                Err(e) => return Err(refused(format!("{e}"))),
            }
        }
        [other] => {
            return Err(refused(format!(
                "SAN {other:?} 不是 URI，应为 {SAN_PREFIX}<代码> / SAN {other:?} is not a URI; it \
                 must be {SAN_PREFIX}<code>"
            )));
        }
        many => {
            return Err(refused(format!(
                "有 {n} 个 SAN，应恰有一个 {SAN_PREFIX}<代码> / {n} SANs: it must name exactly one \
                 {SAN_PREFIX}<code>",
                n = many.len()
            )));
        }
    };
    Ok((csr, code))
}

impl Ca {
    /// 签发证书申请 — verifies `csr_pem` (see the module) and issues a certificate for the code it
    /// names, on its public key, with the profile of [`Ca::issue`], valid `validity_days` from now
    /// (back-dated one hour).
    pub fn sign_request(&self, csr_pem: &str, validity_days: u32) -> Result<SignedCert, Error> {
        let der = rustls_pemfile::csr(&mut csr_pem.as_bytes())
            .ok()
            .flatten()
            .ok_or_else(|| {
                refused(
                    "没有 PEM 格式的证书申请（CERTIFICATE REQUEST）/ no PEM CERTIFICATE REQUEST \
                     in the input",
                )
            })?;
        self.sign_request_der(&der, validity_days)
    }

    /// [`Ca::sign_request`] on a DER request.
    pub fn sign_request_der(
        &self,
        csr_der: &[u8],
        validity_days: u32,
    ) -> Result<SignedCert, Error> {
        if validity_days == 0 {
            return Err(Error::Cert(
                "有效期必须大于 0 天 / validity_days must be > 0".into(),
            ));
        }
        let (csr, code) = read_request(csr_der)?;
        let now = OffsetDateTime::now_utc();
        let not_after = now + Duration::days(i64::from(validity_days));
        let (params, serial_hex) = leaf_params(&code, now - BACKDATE, not_after)?;
        // Only the public key is taken from the request; the profile is the CA's.
        let cert = CertificateSigningRequestParams {
            params,
            public_key: csr.public_key,
        }
        .signed_by(&self.issuer)?;
        tracing::info!(code = %code, serial = %serial_hex, %not_after,
            "node certificate signed from a request");
        Ok(SignedCert {
            code,
            cert_pem: cert.pem(),
            serial_hex,
            not_after: not_after.replace_nanosecond(0).unwrap_or(not_after),
        })
    }
}

fn first_cert(pem: &str, what: &str) -> Result<CertificateDer<'static>, Error> {
    parse_certs(pem, what)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::NoCertificate {
            what: what.to_string(),
        })
}

/// 私钥与证书是否匹配 — whether the private key `key_pem` belongs to the certificate `cert_pem`
/// (their public keys are the same).
pub fn key_matches_cert(key_pem: &str, cert_pem: &str) -> Result<bool, Error> {
    let key = KeyPair::from_pem(key_pem).map_err(|e| Error::Pem {
        what: "key".into(),
        reason: e.to_string(),
    })?;
    let der = first_cert(cert_pem, "certificate")?;
    let (_, x509) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| Error::Cert(format!("X.509 解析失败 / cannot parse X.509: {e}")))?;
    Ok(x509.public_key().subject_public_key.data.as_ref() == key.public_key_raw())
}

/// 写出签发结果 — writes `dir/node.pem` and `dir/ca.pem` (atomically; `dir` created if needed), and
/// no key. If `dir` already holds a `node.key` (the CA host signing for a node on the same machine),
/// it must be the request's key: a certificate is never written beside a key it does not match.
pub fn write_signed_files(signed: &SignedCert, ca_pem: &str, dir: &Path) -> Result<(), Error> {
    let key_path = dir.join(NODE_KEY_FILE);
    match fs::read_to_string(&key_path) {
        Ok(key_pem) => {
            if !key_matches_cert(&key_pem, &signed.cert_pem)? {
                return Err(Error::KeyMismatch {
                    key: key_path.display().to_string(),
                    cert: format!("{} ({})", NODE_CERT_FILE, signed.code),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(Error::Io {
                path: key_path,
                source,
            });
        }
    }
    fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    write_replace(&dir.join(NODE_CERT_FILE), signed.cert_pem.as_bytes(), false)?;
    write_replace(&dir.join(CA_CERT_FILE), ca_pem.as_bytes(), false)?;
    Ok(())
}

/// 安装证书 — installs `cert_pem` (signed by the CA `ca_pem`) in the node's `tls` dir `dir`, beside
/// the key made there by [`make_request`]. Refuses a certificate the CA did not sign, and one whose
/// public key is not that key's. The certificate is installed as a pair with the key
/// ([`crate::tls::pair::replace_pair`]), and `ca.pem` replaced atomically. Refuses a certificate
/// that names another office than `code` (the node's). Returns the certificate's serial.
pub fn install_signed(
    dir: &Path,
    code: &AdminCode,
    cert_pem: &str,
    ca_pem: &str,
) -> Result<String, Error> {
    let key_path = dir.join(NODE_KEY_FILE);
    let key_pem = fs::read_to_string(&key_path).map_err(|source| Error::Io {
        path: key_path.clone(),
        source,
    })?;
    let leaf = first_cert(cert_pem, NODE_CERT_FILE)?;
    let ca = first_cert(ca_pem, CA_CERT_FILE)?;
    let (_, leaf_x509) = x509_parser::parse_x509_certificate(&leaf)
        .map_err(|e| Error::Cert(format!("{NODE_CERT_FILE}: {e}")))?;
    let (_, ca_x509) = x509_parser::parse_x509_certificate(&ca)
        .map_err(|e| Error::Cert(format!("{CA_CERT_FILE}: {e}")))?;
    leaf_x509
        .verify_signature(Some(ca_x509.public_key()))
        .map_err(|_| {
            Error::Cert(format!(
                "{NODE_CERT_FILE} 不是由该 {CA_CERT_FILE} 签发的 / was not signed by this \
                 {CA_CERT_FILE}"
            ))
        })?;
    if !key_matches_cert(&key_pem, cert_pem)? {
        return Err(Error::KeyMismatch {
            key: key_path.display().to_string(),
            cert: NODE_CERT_FILE.to_string(),
        });
    }
    let named = code_from_cert(&leaf)?;
    if &named != code {
        return Err(Error::Cert(format!(
            "{NODE_CERT_FILE} 属于 {named}，本节点是 {code} / names {named}, this node is {code}"
        )));
    }
    crate::tls::pair::replace_pair(dir, &key_pem, cert_pem)?;
    write_replace(&dir.join(CA_CERT_FILE), ca_pem.as_bytes(), false)?;
    Ok(crate::tls::serial_of(&leaf).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> AdminCode {
        AdminCode::parse(s).unwrap()
    }

    fn csr_with(sans: Vec<SanType>) -> String {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans;
        params.serialize_request(&key).unwrap().pem().unwrap()
    }

    /// A fresh directory under the system's temp dir, removed when dropped.
    struct TempDir(std::path::PathBuf);
    impl TempDir {
        fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn ca() -> (TempDir, Ca) {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            TempDir(std::env::temp_dir().join(format!("safemesh-csr-{}-{n}", std::process::id())));
        let ca = Ca::init(&dir.path().join("ca"), "t").unwrap();
        (dir, ca)
    }

    #[test]
    fn a_request_signed_has_the_issue_profile_and_matches_the_nodes_key() {
        let (_d, ca) = ca();
        let req = make_request(&code("530181")).unwrap();
        let signed = ca.sign_request(&req.csr_pem, 30).unwrap();
        assert_eq!(signed.code.as_str(), "530181");
        assert!(key_matches_cert(&req.key_pem, &signed.cert_pem).unwrap());
        let der = first_cert(&signed.cert_pem, "t").unwrap();
        assert_eq!(code_from_cert(&der).unwrap().as_str(), "530181");
        assert_eq!(
            crate::tls::serial_of(&der).unwrap(),
            signed.serial_hex,
            "the serial printed is the certificate's"
        );
        let (_, x) = x509_parser::parse_x509_certificate(&der).unwrap();
        let eku = x.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && eku.server_auth);
        assert!(!x.is_ca());
        // Another key does not match it.
        let other = make_request(&code("530181")).unwrap();
        assert!(!key_matches_cert(&other.key_pem, &signed.cert_pem).unwrap());
    }

    fn refusal(ca: &Ca, csr: &str) -> String {
        match ca.sign_request(csr, 30) {
            Err(e @ Error::Request(_)) => e.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn requests_naming_no_single_node_are_refused() {
        let (_d, ca) = ca();
        let missing = refusal(&ca, &csr_with(vec![]));
        assert!(missing.contains("no subjectAltName"), "{missing}");
        let dns = refusal(
            &ca,
            &csr_with(vec![SanType::DnsName("a.example".try_into().unwrap())]),
        );
        assert!(dns.contains("is not a URI"), "{dns}");
        let other_uri = refusal(
            &ca,
            &csr_with(vec![SanType::URI("https://node/5301".try_into().unwrap())]),
        );
        assert!(
            other_uri.contains("is not safemesh://node/<code>"),
            "{other_uri}"
        );
        let bad_code = refusal(
            &ca,
            &csr_with(vec![SanType::URI(
                "safemesh://node/530100".try_into().unwrap(),
            )]),
        );
        assert!(bad_code.contains("prefix form"), "{bad_code}");
        let two = refusal(
            &ca,
            &csr_with(vec![
                SanType::URI("safemesh://node/5301".try_into().unwrap()),
                SanType::URI("safemesh://node/53".try_into().unwrap()),
            ]),
        );
        assert!(two.contains("2 SANs"), "{two}");
        let junk = refusal(
            &ca,
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        );
        assert!(junk.contains("not a PKCS#10 request"), "{junk}");
    }

    #[test]
    fn a_tampered_request_is_refused() {
        let (_d, ca) = ca();
        let req = make_request(&code("530181")).unwrap();
        // Someone changes the code the request names (same length, so the DER still parses).
        let der = rustls_pemfile::csr(&mut req.csr_pem.as_bytes())
            .unwrap()
            .unwrap()
            .to_vec();
        let at = der
            .windows(6)
            .rposition(|w| w == b"530181")
            .expect("the code is in the request");
        let mut tampered = der.clone();
        tampered[at + 5] = b'2';
        let why = match ca.sign_request_der(&tampered, 30) {
            Err(e @ Error::Request(_)) => e.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(why.contains("signature does not verify"), "{why}");
    }

    #[test]
    fn install_checks_the_ca_and_the_key() {
        let (d, ca) = ca();
        let node = d.path().join("node");
        fs::create_dir_all(&node).unwrap();
        let req = make_request(&code("5301")).unwrap();
        fs::write(node.join(NODE_KEY_FILE), &req.key_pem).unwrap();
        // A certificate for another key is refused, and nothing is installed.
        let other = make_request(&code("5301")).unwrap();
        let wrong = ca.sign_request(&other.csr_pem, 30).unwrap();
        let err =
            install_signed(&node, &code("5301"), &wrong.cert_pem, ca.ca_cert_pem()).unwrap_err();
        assert!(matches!(err, Error::KeyMismatch { .. }), "{err}");
        assert!(!node.join(NODE_CERT_FILE).exists());
        // A certificate from another CA is refused.
        let (_d2, ca2) = self::ca();
        let foreign = ca2.sign_request(&req.csr_pem, 30).unwrap();
        let err =
            install_signed(&node, &code("5301"), &foreign.cert_pem, ca.ca_cert_pem()).unwrap_err();
        assert!(err.to_string().contains("was not signed by"), "{err}");
        // A certificate for another office is refused.
        let signed = ca.sign_request(&req.csr_pem, 30).unwrap();
        let err =
            install_signed(&node, &code("53"), &signed.cert_pem, ca.ca_cert_pem()).unwrap_err();
        assert!(err.to_string().contains("this node is 53"), "{err}");
        assert!(!node.join(NODE_CERT_FILE).exists());
        // The right one is installed beside the key, which is unchanged.
        let got = install_signed(&node, &code("5301"), &signed.cert_pem, ca.ca_cert_pem()).unwrap();
        assert_eq!(got, signed.serial_hex);
        assert_eq!(
            fs::read_to_string(node.join(NODE_KEY_FILE)).unwrap(),
            req.key_pem
        );
        assert_eq!(
            fs::read_to_string(node.join(NODE_CERT_FILE)).unwrap(),
            signed.cert_pem
        );
        crate::tls::NodeIdentity::load(&node).expect("the node can load its identity");
    }
}
