//! The test harness, in two parts behind two cargo features, so a user of one does not build the
//! other:
//!
//! - `cluster` (default): in-process clusters of real nodes over gRPC + mutual TLS on loopback, a
//!   fault-injecting TCP proxy per link, stop/restart, wait-for-convergence ([`Cluster`], [`proxy`]).
//!   Depends on `node` and `gateway`.
//! - `mesh`: the deterministic in-memory mesh of the replication engine ([`mesh::Mesh`]): real stores
//!   and link runners over channels, one thread, a virtual clock, `run_until_quiet`. Depends only on
//!   the layers up to `link`.
#![forbid(unsafe_code)]

pub mod bytes;

#[cfg(feature = "cluster")]
mod cluster;
#[cfg(feature = "cluster")]
pub mod proxy;

#[cfg(feature = "cluster")]
pub use cluster::*;
/// The gateway crate (CA, TLS helpers such as [`gateway::tls::probe`]), for tests.
#[cfg(feature = "cluster")]
pub use safemesh_gateway as gateway;

#[cfg(feature = "mesh")]
pub mod mesh;
