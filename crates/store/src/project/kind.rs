//! What a record kind projects to in the store: the statements that write its query rows, computed
//! from its view (its audience is the kind's own, [`RecordKind::audience`]). One module per kind
//! (`hazard.rs`, `directive.rs`, …) implements [`ProjectKind`]; `compute` is the list of them.

use safemesh_doc::RecordKind;

use super::bind::Bind;

/// Statements and their values, in the order they run.
pub(super) type Rows = Vec<(&'static str, Vec<Bind>)>;

/// A record kind's query rows.
pub(super) trait ProjectKind: RecordKind {
    /// The statements that write document `id`'s rows from its view: each an `INSERT … VALUES ($1,
    /// …, $n) ON CONFLICT …` (batched across documents by `write`) or a statement run as it is (a
    /// `DELETE` of rows the document replaces). A kind's statements always come in the same order.
    fn rows(id: &str, view: &Self::View, rows: &mut Rows);
}
