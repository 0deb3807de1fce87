//! 隐患指标 — hazards not closed, overdue and 临期 (due soon), as the roll-up counts them:
//! `scope="jurisdiction"` is `/api/v1/rollup`'s `hazards` (this office's own records plus its
//! direct children's summaries), `scope="own"` its `own_hazards` (registered by this office).

use safemesh_model::summary::HazardCounts;

use super::family::Family;

pub(crate) fn families(jurisdiction: &HazardCounts, own: &HazardCounts) -> Vec<Family> {
    let mut unclosed = Family::gauge(
        "safemesh_hazards_unclosed",
        "Hazards not closed, 未销号 (scope jurisdiction: with the subordinate offices' summaries; own: registered here).",
    );
    let mut overdue = Family::gauge(
        "safemesh_hazards_overdue",
        "Hazards not closed past their deadline (China time).",
    );
    let mut due_soon = Family::gauge(
        "safemesh_hazards_due_soon",
        "Hazards not closed and due within hazards.due_soon_days (临期).",
    );
    for (scope, c) in [("jurisdiction", jurisdiction), ("own", own)] {
        let l = || vec![("scope", scope.to_string())];
        unclosed.push(l(), c.unclosed as f64);
        overdue.push(l(), c.overdue as f64);
        due_soon.push(l(), c.due_soon as f64);
    }
    vec![unclosed, overdue, due_soon]
}
