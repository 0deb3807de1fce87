//! 证书吊销列表 (CRL) — an X.509 CRL signed by the mesh CA: reading one, and deciding whether it is
//! to be believed (issue 19 #12).
//!
//! `safemesh ca revoke` signs a CRL ([`crate::ca`]); nodes hold it as `D/tls/crl.pem` and hand it to
//! rustls' own CRL check (`WebPkiClientVerifier::with_crls`, `WebPkiServerVerifier::with_crls`); a
//! parent offers it to its children over the link. [`Crl::verify`] is what every holder checks
//! before taking one, from a file or from a peer: it decodes (as x509-parser and as rustls-webpki
//! read it — the latter is what the handshakes use), names the CA as issuer, is signed by the CA's
//! key, and carries a CRL number. Which of two CRLs is newer is their CRL numbers' order.

use std::collections::BTreeSet;
use std::fmt;

use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
use x509_parser::prelude::FromDer as _;

use super::cert::hex_lower;

/// File name of a node's CRL (in `D/tls`) and of the CA's (in the CA directory), PEM.
pub const CRL_FILE: &str = "crl.pem";

/// A CRL checked against the CA: its DER bytes, number and revoked serials.
#[derive(Clone, PartialEq, Eq)]
pub struct Crl {
    der: Vec<u8>,
    number: u64,
    serials: BTreeSet<String>,
}

impl fmt::Debug for Crl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crl")
            .field("number", &self.number)
            .field("serials", &self.serials.len())
            .finish()
    }
}

/// 吊销列表被拒 — why a CRL was not taken. Nothing changes when one is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrlError {
    /// The bytes are not a CRL this mesh can use (not DER/PEM, no CRL number, not read by webpki).
    #[error("吊销列表无法解析 / revocation list does not decode: {0}")]
    Malformed(String),
    /// Another issuer, or a signature the CA's key did not make.
    #[error("吊销列表不是本网 CA 签发的 / revocation list not signed by the mesh CA: {0}")]
    NotSignedByCa(String),
    /// Its CRL number is not above the one held.
    #[error(
        "吊销列表不比现有的新（编号 {offered} ≤ {held}）/ revocation list not newer than the one held \
         (number {offered} ≤ {held})"
    )]
    NotNewer {
        /// The offered CRL's number.
        offered: u64,
        /// The number of the CRL held.
        held: u64,
    },
    /// It could not be kept (written to disk).
    #[error("吊销列表无法保存 / cannot keep the revocation list: {0}")]
    Io(String),
}

impl CrlError {
    /// The rule a refusal names on the link (docs/PROTOCOL.md).
    pub fn rule(&self) -> &'static str {
        match self {
            CrlError::Malformed(_) => "crl_decodes",
            CrlError::NotSignedByCa(_) => "crl_signed_by_ca",
            CrlError::NotNewer { .. } => "crl_newer",
            CrlError::Io(_) => "crl_kept",
        }
    }
}

impl Crl {
    /// Reads a CRL from DER or PEM bytes and checks it against `ca` (the CA certificates this node
    /// trusts): it must decode, be issued and signed by one of them, and carry a CRL number.
    pub fn verify(bytes: &[u8], ca: &[CertificateDer<'_>]) -> Result<Crl, CrlError> {
        let der = if bytes.starts_with(b"-----BEGIN") {
            rustls_pemfile::crls(&mut &bytes[..])
                .next()
                .ok_or_else(|| CrlError::Malformed("no X509 CRL in the PEM text".into()))?
                .map_err(|e| CrlError::Malformed(e.to_string()))?
                .as_ref()
                .to_vec()
        } else {
            bytes.to_vec()
        };
        let (rest, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der)
            .map_err(|e| CrlError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CrlError::Malformed(format!(
                "{} bytes after the CRL",
                rest.len()
            )));
        }
        // What the handshakes will use must read it too.
        webpki_reads(&der, ca)?;
        let number = crl
            .crl_number()
            .ok_or_else(|| CrlError::Malformed("no CRL number".into()))?;
        let number = u64::try_from(number)
            .map_err(|_| CrlError::Malformed(format!("CRL number {number} too large")))?;
        let mut signed = false;
        let mut why = String::from("no CA certificate");
        for ca_der in ca {
            let Ok((_, ca_cert)) = x509_parser::parse_x509_certificate(ca_der) else {
                continue;
            };
            if ca_cert.subject().as_raw() != crl.issuer().as_raw() {
                why = format!(
                    "issuer {} is not the CA {}",
                    crl.issuer(),
                    ca_cert.subject()
                );
                continue;
            }
            match crl.verify_signature(ca_cert.public_key()) {
                Ok(()) => {
                    signed = true;
                    break;
                }
                Err(e) => why = format!("signature: {e}"),
            }
        }
        if !signed {
            return Err(CrlError::NotSignedByCa(why));
        }
        let serials = crl
            .iter_revoked_certificates()
            .filter_map(|r| {
                // Canonical, as `canonical_serial` writes it: no leading zeros.
                let hex = hex_lower(r.raw_serial());
                let trimmed = hex.trim_start_matches('0');
                (!trimmed.is_empty()).then(|| trimmed.to_string())
            })
            .collect();
        Ok(Crl {
            der,
            number,
            serials,
        })
    }

    /// The CRL number: a later CRL of the CA has a higher one.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The revoked serials, canonical (lowercase hex without leading zeros).
    pub fn serials(&self) -> &BTreeSet<String> {
        &self.serials
    }

    /// The CRL as DER, as rustls takes it.
    pub fn der(&self) -> CertificateRevocationListDer<'static> {
        CertificateRevocationListDer::from(self.der.clone())
    }

    /// The DER bytes.
    pub fn der_bytes(&self) -> &[u8] {
        &self.der
    }

    /// The CRL as PEM text (`X509 CRL`), how it is kept on disk.
    pub fn to_pem(&self) -> String {
        pem_of(&self.der)
    }
}

/// The CRL number of a CRL (DER or PEM) without checking who signed it: only to decide whether a
/// copy would replace a newer one.
pub(crate) fn number_unverified(bytes: &[u8]) -> Option<u64> {
    let der = if bytes.starts_with(b"-----BEGIN") {
        rustls_pemfile::crls(&mut &bytes[..])
            .next()?
            .ok()?
            .as_ref()
            .to_vec()
    } else {
        bytes.to_vec()
    };
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der).ok()?;
    u64::try_from(crl.crl_number()?).ok()
}

/// PEM text (`X509 CRL`) of CRL DER bytes.
pub(crate) fn pem_of(der: &[u8]) -> String {
    pem::encode(&pem::Pem::new("X509 CRL", der))
}

/// Whether rustls-webpki reads the CRL: the client verifier parses its CRLs when built, the same
/// parse the handshakes rely on.
fn webpki_reads(der: &[u8], ca: &[CertificateDer<'_>]) -> Result<(), CrlError> {
    let mut roots = rustls::RootCertStore::empty();
    for c in ca {
        let _ = roots.add(c.clone().into_owned());
    }
    match rustls::server::WebPkiClientVerifier::builder_with_provider(
        std::sync::Arc::new(roots),
        super::profile::provider(),
    )
    .with_crls([CertificateRevocationListDer::from(der.to_vec())])
    .build()
    {
        Err(rustls::server::VerifierBuilderError::InvalidCrl(e)) => {
            Err(CrlError::Malformed(format!("{e:?}")))
        }
        _ => Ok(()),
    }
}
