//! 记录种类 — what a record kind is, in one place (in the spirit of garage's `TableSchema`): its
//! header tag, how its document reads, who holds it, and who may write what in it. The engine (the
//! authority check, the header) and the layers above (the store's projection, the API) are generic
//! over it; [`crate::registry`] is the one list of kinds they dispatch through.
//!
//! A kind is a unit type in its module (`hazard::Hazards`, `directive::Directives`, …) implementing
//! [`RecordKind`]; its authority rules live beside it (`hazard/authority.rs`).

use automerge::AutoCommit;

use crate::authority::op::{OpCheck, Seg};
use crate::{Audience, Error, Header, Kind};

/// A record kind: one Automerge document per record, with the header every document has.
pub trait RecordKind: 'static {
    /// Its value in [`Kind`].
    const KIND: Kind;
    /// `header.kind` as stored and sent: never renamed.
    const NAME: &'static str;
    /// The rule a write to the record's fixed skeleton (root keys, the header, [`Self::fixed`])
    /// by anyone but its owner breaks.
    const OWNER_RULE: &'static str = "owner_only";

    /// The record as read from its document.
    type View;
    /// What the authority check needs to know of the document, read once per check (a hazard's
    /// grade, a directive's responders).
    type Facts;

    /// Reads the record (fails on a document of another kind or a malformed one).
    fn read(doc: &AutoCommit) -> Result<Self::View, Error>;

    /// 受众 — the offices that hold the record: the document is sent over a link iff the peer is in it.
    fn audience(header: &Header, view: &Self::View) -> Audience;

    /// What [`Self::check_op`] needs of the document as it is after the changes.
    fn facts(doc: &AutoCommit, header: &Header) -> Result<Self::Facts, Error>;

    /// Whether `path` (below a root key) is part of the skeleton written once, by the owner, in the
    /// document's first change, beyond the root keys and the header (which always are).
    fn fixed(path: &[Seg]) -> bool {
        let _ = path;
        false
    }

    /// 写入权限 — judges one operation of a change (DESIGN §4). Root keys, the header and
    /// [`Self::fixed`] paths are judged before, and so is where a list insert goes.
    fn check_op(facts: &Self::Facts, op: &OpCheck<'_>) -> Result<(), Error>;
}

/// Something done with a kind's type, chosen by a [`Kind`] value: see [`Kind::dispatch`].
pub trait KindVisitor {
    type Output;
    fn visit<K: RecordKind>(self) -> Self::Output;
}
