//! 安全策略 — what a node's TLS configs share at run time: the revocation list and the refusal sink.
//!
//! The configs are built once, but what they honour changes while the node runs. [`Policy`] is the
//! one value the node hands to its server config, its client configs and its link service, so all
//! of them refuse the same serials and report to the same place.

use rustls::pki_types::CertificateRevocationListDer;

use super::reject::Rejections;
use super::revocation::RevocationList;

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
    /// The CRL held now, for rustls' own check, with the generation of the revocation list it
    /// belongs to (a verifier built at that generation is current until it moves): `None` without
    /// a revocation list, or with a list that holds no CRL.
    pub(super) fn crls(&self) -> Option<(u64, Vec<CertificateRevocationListDer<'static>>)> {
        let list = self.revocations.as_ref()?;
        list.refresh();
        let generation = list.generation();
        let crl = list.crl()?;
        Some((generation, vec![crl.der()]))
    }

    pub(super) fn revoked(&self, serial: Option<&str>) -> bool {
        match (&self.revocations, serial) {
            (Some(list), Some(serial)) => list.is_revoked(serial),
            _ => false,
        }
    }
}
