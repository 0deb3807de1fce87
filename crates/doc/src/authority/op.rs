//! What a record kind's authority rules judge: one operation of one change, the path it writes and the
//! office that wrote it ([`OpCheck`]). The kinds' rules (`<kind>/authority.rs`) take it and answer
//! `Ok` or the rule it breaks ([`OpCheck::deny`]).

use automerge::legacy::Op;
use automerge::{AutoCommit, Change};
use safemesh_model::AdminCode;

use crate::{Error, Header};

/// One segment of a written path.
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(String),
    Index,
}

impl Seg {
    /// Whether this segment is the map key `k`.
    pub fn is(&self, k: &str) -> bool {
        matches!(self, Seg::Key(s) if s == k)
    }
}

pub(crate) fn render(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index => s.push_str("[]"),
        }
    }
    if s.is_empty() { "(root)".into() } else { s }
}

/// One operation under judgement. Root keys and the header are judged before a kind sees an
/// operation (write-once, by the owner), and so are list inserts (at the end only).
pub struct OpCheck<'a> {
    /// The document with the changes applied.
    pub doc: &'a AutoCommit,
    /// The change the operation belongs to (its dependencies are what its author saw).
    pub change: &'a Change,
    pub header: &'a Header,
    /// The office whose actor made the change.
    pub actor: &'a AdminCode,
    /// The path the operation writes, ending with its key (or `[]` for a list element).
    pub path: &'a [Seg],
    pub op: &'a Op,
    /// The object written was made in this same change.
    pub in_new_object: bool,
    pub(crate) doc_id: &'a str,
}

impl OpCheck<'_> {
    /// The refusal of this operation under `rule`.
    pub fn deny(&self, rule: &'static str) -> Error {
        Error::forbidden(self.doc_id, &render(self.path), self.actor, rule)
    }
}
