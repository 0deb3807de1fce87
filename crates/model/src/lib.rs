//! Domain types of safemesh, pure: administrative codes and levels, sectors, hazards and their
//! lifecycle events, directives and their responses, roll-up summaries.
//!
//! Nothing here does I/O. Every other crate speaks these types; the protobuf and SQL shapes are
//! converted at their edges.
#![forbid(unsafe_code)]

mod chain;
mod code;
pub mod division;
mod error;

pub use chain::Chain;
pub use code::{AdminCode, Level};
pub use error::Error;
pub mod accident;
pub mod china;
pub mod credit;
pub mod directive;
pub mod evidence;
pub mod hazard;
pub mod period;
mod sector;
pub mod summary;

pub use sector::{SectorDictionary, SectorEntry, canonical_sector, sector_names};
