//! TLS 基线 — the fixed choices every TLS config of the mesh shares.
//!
//! A node is named by a code in a SAN URI, not by a host name ([`SAN_PREFIX`]); the mesh speaks
//! only HTTP/2 ([`ALPN_H2`]); and every config is built on the one ring provider made here, never
//! on a process-wide default that another library in the process could install. These sit apart
//! so the error type, certificate parsing and both configs can use them without using each other.

use std::sync::{Arc, LazyLock};

use rustls::crypto::CryptoProvider;

/// Prefix of the SAN URI that carries a node's code: `safemesh://node/530181006`.
pub const SAN_PREFIX: &str = "safemesh://node/";

/// File name of the CA certificate, in both the CA directory and a node directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of a node's leaf certificate.
pub const NODE_CERT_FILE: &str = "node.pem";
/// File name of a node's private key.
pub const NODE_KEY_FILE: &str = "node.key";
/// File name of the revocation list: published in the CA directory, honoured in a node's `tls`
/// directory.
pub const REVOKED_FILE: &str = "revoked.txt";

/// The only ALPN protocol spoken on the mesh: HTTP/2 (gRPC).
pub const ALPN_H2: &[u8] = b"h2";

/// The ring provider, built once. Configs never rely on a process-wide default provider.
static PROVIDER: LazyLock<Arc<CryptoProvider>> =
    LazyLock::new(|| Arc::new(rustls::crypto::ring::default_provider()));

pub(super) fn provider() -> Arc<CryptoProvider> {
    PROVIDER.clone()
}
