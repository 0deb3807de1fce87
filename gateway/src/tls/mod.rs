//! 身份与双向 TLS — node identity and mutual TLS.
//!
//! Every node holds a leaf certificate issued by the mesh CA (see [`crate::ca`]). Its identity is
//! the administrative code in the SAN URI `safemesh://node/<code>`, not a host name: nodes are
//! addressed by IP and may move, so host names are never checked.
//!
//! * A parent runs a server built from [`server_config`] / [`server_config_with`]: a client
//!   certificate is mandatory, must chain to the CA (rustls' [`WebPkiClientVerifier`]: signature,
//!   validity, clientAuth EKU, and rustls' own check against the CA's CRL), must not be listed in
//!   the revocation list ([`RevocationList`]), and
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
//!
//! # Layout
//!
//! One file per concept, each using only those listed before it:
//!
//! * `profile` — the fixed choices: SAN prefix, ALPN, the ring provider;
//! * `error` — [`Error`];
//! * `cert` — reading certificates: code, serial, validity, PEM;
//! * `stamp` — noticing that a file was replaced;
//! * `identity` — [`NodeIdentity`], with reload of a replaced certificate;
//! * `crl` — [`Crl`]: the CA's signed revocation list, read and checked against the CA;
//! * `revocation` — [`RevocationList`]: the CRL and the plain list, re-read on change, a newer CRL
//!   taken from the parent;
//! * `reject` — [`RejectReason`], [`Rejection`], the [`Rejections`] sink;
//! * `policy` — [`Policy`]: revocations and rejections, shared by the configs;
//! * `server` — the parent's config and its verifier of client certificates;
//! * `client` — the child's config and its verifier of server certificates;
//! * `admit` — [`ConnLimits`]: handshakes and connections a parent takes in, [`Admitted`];
//! * `accept` — the parent's accept loop, [`incoming`];
//! * `connect` — the child's dial, [`connect()`], [`probe`], [`connector`];
//! * `observe` — [`connector_observed`]: why a parent refused this node.
//!
//! [`WebPkiClientVerifier`]: rustls::server::WebPkiClientVerifier

mod accept;
mod admit;
mod cert;
mod client;
mod connect;
mod crl;
mod error;
mod identity;
mod observe;
pub mod pair;
mod policy;
mod profile;
mod reject;
mod revocation;
mod server;
mod stamp;

pub use accept::{incoming, incoming_limited, incoming_with};
pub use admit::{Admitted, ConnLimits};
pub(crate) use cert::hex_lower;
pub use cert::parse_certs;
pub use cert::{code_from_cert, code_from_uri, peer_code, serial_of, validity_of};
pub use client::{client_config, client_config_with};
pub use connect::{connect, connector, probe};
pub(crate) use crl::number_unverified;
pub use crl::{CRL_FILE, Crl, CrlError};
pub use error::Error;
pub use identity::NodeIdentity;
pub use observe::{Observed, Observer, PeerInfo, connector_observed};
pub use policy::Policy;
pub use profile::{ALPN_H2, CA_CERT_FILE, NODE_CERT_FILE, NODE_KEY_FILE, REVOKED_FILE, SAN_PREFIX};
pub use reject::{PeerKind, RejectReason, Rejection, Rejections, rustls_error};
pub use revocation::{RevocationList, canonical_serial, parse_revocation_list};
pub use server::{server_config, server_config_with};
