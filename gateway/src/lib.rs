//! The network edge of safemesh: the tonic link service and its dialer over mutual TLS (rustls), the
//! node certificate authority, and the conversion between protobuf and domain frames.
//!
//! Identity is the certificate: a node's code sits in a SAN URI `safemesh://node/<code>`. A parent
//! accepts a child only if that code is one of its direct children; a child accepts only its parent's
//! code, whatever host name or IP it dialled.
#![forbid(unsafe_code)]

pub mod ca;
pub mod convert;
pub mod limits;
pub mod link;
pub mod revocation;
pub mod tls;
