//! Read queries over the projections, one file per record kind: the hazard ledger and its counts,
//! directives and their units' totals, accidents, enterprises (with the hazards and accidents held
//! for them). Each file holds the kind's row type and every `Store`/`Writer` query on its table.

mod accidents;
mod directives;
mod enterprises;
mod hazards;
mod periods;

pub use directives::{DirectiveRow, DirectiveTotals};
pub use hazards::{HazardFilter, HazardOrder, HazardPage, HazardRow};
