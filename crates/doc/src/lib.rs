//! The CRDT layer: one Automerge document per record, typed readers and writers over it, and the
//! write-authority check every incoming change passes before anything is stored. Pure: no I/O.
//!
//! Every document has a `header` map (`kind`, `schema`, `owner`, `created`, and a functional zone's
//! `owner_parent`). Lifecycles are
//! append-only lists (`events`, `responses[code].updates`), never fields two levels overwrite.
//! Actor ids are the node's code ‖ `.` ‖ a random install nonce ([`actor`]), so every change names the
//! office that made it, across relays.
//!
//! A record kind is a [`RecordKind`] impl in its module (`hazard`, `directive`, `accident`,
//! `enterprise`), its authority rules beside it; `registry` is the one list of kinds.
#![forbid(unsafe_code)]

pub mod accident;
pub mod actor;
pub mod authority;
pub mod directive;
pub mod enterprise;
mod error;
mod evidence;
pub mod hazard;
mod header;
mod json;
pub mod kind;
mod read;
mod registry;
pub mod revision;

pub use automerge::{AutoCommit, Change, ChangeHash};
pub use error::Error;
pub use header::{Audience, Header, Kind, SCHEMA_VERSION, put_owner_parent};
pub use kind::{KindVisitor, RecordKind};

/// Parses heads from their hex form.
pub fn heads_from_hex(list: &[String]) -> Result<Vec<ChangeHash>, Error> {
    list.iter()
        .map(|h| {
            h.parse::<ChangeHash>()
                .map_err(|_| Error::Corrupt(format!("bad change hash {h:?}")))
        })
        .collect()
}

/// Heads in hex form, sorted (Automerge returns them sorted already).
pub fn heads_to_hex(heads: &[ChangeHash]) -> Vec<String> {
    heads.iter().map(|h| h.to_string()).collect()
}
