//! 错误 — the one error type of certificate handling, identity loading and TLS configuration.
//!
//! [`crate::ca`] re-exports it, so an operator reads the same bilingual messages whether a node
//! fails to load its identity or `safemesh ca` fails to issue a certificate.

use std::io;
use std::path::PathBuf;

use super::profile::SAN_PREFIX;

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
    /// A certificate signing request (CSR) is malformed, badly signed or names no single node.
    #[error("证书申请无效 / invalid certificate request: {0}")]
    Request(String),
    /// A private key does not belong to the certificate it is to be used with.
    #[error("私钥与证书不匹配 / the key {key} does not match the certificate {cert}")]
    KeyMismatch {
        /// The key (a path or a description).
        key: String,
        /// The certificate (a path or a description).
        cert: String,
    },
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
