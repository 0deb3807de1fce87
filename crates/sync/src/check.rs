//! The document check: decoding a received item's Automerge bytes and checking them against the
//! stored document ([`decode_and_check`]), with any panic inside Automerge caught; the error frame
//! that refuses a document for what the check found ([`refusal`]); and the heads implied by a delta
//! ([`tips_of`], [`implied_heads`]); and what becomes of a checked document ([`verdict`]). Pure: the
//! runner calls these on its CPU pool and carries out the verdicts against its store.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;

use safemesh_doc::authority::{Checked, Origin, check_and_apply, check_snapshot};
use safemesh_doc::{AutoCommit, Change, heads_to_hex};

use crate::frame::{ErrorCode, ErrorFrame};
use crate::inflate;

/// The message of a caught panic, if it has one.
pub fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// The error frame refusing document `id` for what the checks found in it: forbidden changes, or
/// content that does not decode or read.
pub fn refusal(id: &str, e: safemesh_doc::Error) -> ErrorFrame {
    match e {
        safemesh_doc::Error::Forbidden {
            doc,
            path,
            actor,
            rule,
        } => ErrorFrame {
            code: ErrorCode::Forbidden,
            message: format!("document {doc}: actor {actor} may not write {path} (rule {rule})"),
            doc_id: Some(doc),
            path: Some(path),
            rule: Some(rule.to_string()),
        },
        e => undecodable(id, &e.to_string()),
    }
}

/// The error frame refusing document `id` because its bytes do not decode (or read) as `what` says.
pub fn undecodable(id: &str, what: &str) -> ErrorFrame {
    ErrorFrame {
        code: ErrorCode::Malformed,
        doc_id: Some(id.to_string()),
        path: None,
        rule: Some("automerge_decodes".into()),
        message: format!("document {id}: {what}"),
    }
}

/// The hashes (hex) of the changes in `changes` that no other of them depends on: the heads a peer
/// holding their dependencies has after applying them.
pub fn tips_of(changes: &[Change]) -> Vec<String> {
    let deps: BTreeSet<automerge::ChangeHash> = changes
        .iter()
        .flat_map(|c| c.deps().iter().copied())
        .collect();
    let tips: Vec<automerge::ChangeHash> = changes
        .iter()
        .map(|c| c.hash())
        .filter(|h| !deps.contains(h))
        .collect();
    heads_to_hex(&tips)
}

/// What [`decode_and_check`] found: the check's verdict, and a received snapshot's bytes when the
/// document is new here (stored as they are).
pub type Decoded = (Result<Checked, safemesh_doc::Error>, Option<Vec<u8>>);

/// The error frame refusing document `id` because its Automerge bytes inflate past a bound (or cannot
/// be walked at all) ([`inflate::scan`]): `Malformed`, naming the document and the rule.
/// `what` is the kind of bytes (`snapshot`, `change`).
pub fn inflate_refused(id: &str, what: &str, r: &inflate::Refusal) -> ErrorFrame {
    let message = match r {
        inflate::Refusal::Undecodable(m) => format!("bad {what}: {m}"),
        bound => format!("{what}: {bound}"),
    };
    ErrorFrame {
        rule: Some(r.rule().into()),
        ..undecodable(id, &message)
    }
}

/// Decodes one item's Automerge bytes (a snapshot or raw changes) and checks them against the stored
/// document, if any. First, what they inflate to is bounded ([`inflate::scan`], against `budget`),
/// before Automerge parses anything. Bytes that do not decode, and any panic inside Automerge or the
/// check, come back as a `Malformed` error frame naming the document. `base` is a copy loaded for
/// this batch and is dropped if this fails.
pub fn decode_and_check(
    id: &str,
    snapshot: Option<Vec<u8>>,
    changes: Vec<Vec<u8>>,
    base: Option<&mut AutoCommit>,
    origin: &Origin,
    budget: &inflate::Budget,
) -> Result<Decoded, ErrorFrame> {
    let parts = snapshot.iter().chain(&changes).map(Vec::as_slice);
    let what = if snapshot.is_some() {
        "snapshot"
    } else {
        "change"
    };
    inflate::scan(budget, parts).map_err(|r| inflate_refused(id, what, &r))?;
    let run = AssertUnwindSafe(move || -> Result<Decoded, String> {
        Ok(match (snapshot, base) {
            // New to this node: the snapshot is the document; check its history in place.
            (Some(bytes), None) => {
                let d = AutoCommit::load(&bytes).map_err(|e| format!("bad snapshot: {e}"))?;
                (check_snapshot(id, d, origin), Some(bytes))
            }
            (Some(bytes), Some(b)) => {
                let mut d = AutoCommit::load(&bytes).map_err(|e| format!("bad snapshot: {e}"))?;
                (
                    check_and_apply(id, Some(b), d.get_changes(&[]), origin),
                    None,
                )
            }
            (None, b) => {
                let incoming: Vec<Change> = changes
                    .into_iter()
                    .map(Change::from_bytes)
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("bad change: {e}"))?;
                (check_and_apply(id, b, incoming, origin), None)
            }
        })
    });
    std::panic::catch_unwind(run)
        .unwrap_or_else(|p| Err(format!("Automerge panicked on it: {}", panic_text(&p))))
        .map_err(|e| undecodable(id, &e))
}

/// The heads of a delta whose sender left them out (the usual case, see
/// [`crate::batch::doc_item`]): the newest of its changes. Bytes that do not decode — or make
/// Automerge panic, caught — are the document's fault: a `Malformed` frame naming it.
pub fn implied_heads(
    id: &str,
    changes: &[Vec<u8>],
    budget: &inflate::Budget,
) -> Result<Vec<String>, ErrorFrame> {
    inflate::scan(budget, changes.iter().map(Vec::as_slice))
        .map_err(|r| inflate_refused(id, "change", &r))?;
    let decoded = std::panic::catch_unwind(|| {
        changes
            .iter()
            .map(|c| Change::from_bytes(c.clone()).map_err(|e| e.to_string()))
            .collect::<Result<Vec<Change>, String>>()
            .map(|d| tips_of(&d))
    })
    .unwrap_or_else(|p| Err(format!("Automerge panicked on it: {}", panic_text(&p))));
    decoded.map_err(|e| undecodable(id, &format!("bad change: {e}")))
}

/// 功能区的上级 — a document whose header names its owner's configured parent (a functional zone,
/// `header.owner_parent`) is taken from a child only along that chain
/// ([`safemesh_model::Chain::link_allows`]): from the zone itself by the office it names (which
/// accepted the zone as a child: `extra_children`), or relayed from below that office. Anything else
/// would let a node pull a record into another office's scope. From the parent, and for an ordinary
/// owner (the authority check holds its changes to the child's subtree), nothing to check.
pub fn zone_chain(
    id: &str,
    header: &safemesh_doc::Header,
    origin: &Origin,
    me: &safemesh_model::AdminCode,
) -> Result<(), ErrorFrame> {
    let Origin::Child(child) = origin else {
        return Ok(());
    };
    if header.owner_parent.is_none() || header.chain().link_allows(child, me) {
        return Ok(());
    }
    let parent = header
        .owner_parent
        .as_ref()
        .map(|p| p.to_string())
        .unwrap_or_default();
    Err(ErrorFrame {
        code: ErrorCode::Forbidden,
        doc_id: Some(id.to_string()),
        path: Some("header.owner_parent".into()),
        rule: Some("zone_parent".into()),
        message: format!(
            "document {id}: owner {} names parent {parent}, which {me} may not take from {child}",
            header.owner
        ),
    })
}

/// What becomes of one received document after its check.
pub enum Verdict {
    /// Store it: the check applied new changes (the document, with them).
    Store(Box<Checked>),
    /// Nothing new: this side already held every change. The peer holds the item's heads all the same.
    Held,
    /// A delta whose history this side lacks: not stored; asked for again — in a sync exchange if this
    /// side holds the document and the peer is in its audience, whole otherwise (DESIGN §5.6).
    Missing,
    /// The whole batch is refused with this frame.
    Refuse(ErrorFrame),
}

/// The verdict on a document from its check's result (`snapshot`: it came whole).
pub fn verdict(id: &str, snapshot: bool, checked: Result<Checked, safemesh_doc::Error>) -> Verdict {
    match checked {
        Ok(c) if c.applied > 0 => Verdict::Store(Box::new(c)),
        Ok(_) => Verdict::Held,
        // A snapshot that lacks history would be asked for again and again.
        Err(safemesh_doc::Error::MissingDeps { missing }) if snapshot => {
            Verdict::Refuse(undecodable(
                id,
                &format!("snapshot depends on {missing} change(s) it does not hold"),
            ))
        }
        Err(safemesh_doc::Error::MissingDeps { .. }) => Verdict::Missing,
        Err(e) => Verdict::Refuse(refusal(id, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safemesh_doc::{Header, Kind};
    use safemesh_model::AdminCode;

    fn code(s: &str) -> AdminCode {
        AdminCode::parse(s).unwrap()
    }

    fn header(owner: &str, parent: Option<&str>) -> Header {
        Header {
            kind: Kind::Hazard,
            schema: 1,
            owner: code(owner),
            created: "2026-12-01T00:00:00Z".into(),
            owner_parent: parent.map(code),
        }
    }

    /// 功能区: a zone's record (530171, run by the county 530181) is taken from the zone only by the
    /// county it names, and relayed up from the county; from the parent, anything goes on to the
    /// authority check.
    #[test]
    fn a_zones_claimed_parent_is_taken_only_along_its_chain() {
        let zone = header("530171", Some("530181"));
        let from = |child: &str| Origin::Child(code(child));
        assert!(zone_chain("h", &zone, &from("530171"), &code("530181")).is_ok());
        assert!(zone_chain("h", &zone, &from("530181"), &code("5301")).is_ok());
        let e = zone_chain("h", &zone, &from("530171"), &code("5301")).unwrap_err();
        assert_eq!(e.rule.as_deref(), Some("zone_parent"));
        // A township claiming another county as its parent, sent up by its own county.
        let forged = header("530181006", Some("530102"));
        let e = zone_chain("h", &forged, &from("530181"), &code("5301")).unwrap_err();
        assert_eq!(
            (e.code, e.path.as_deref()),
            (ErrorCode::Forbidden, Some("header.owner_parent"))
        );
        assert!(zone_chain("h", &forged, &Origin::Parent(code("5301")), &code("530181")).is_ok());
        assert!(
            zone_chain(
                "h",
                &header("530181006", None),
                &from("530181"),
                &code("5301")
            )
            .is_ok()
        );
    }
}
