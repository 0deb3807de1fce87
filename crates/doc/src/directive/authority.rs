//! 任务的写入权限 — who may write what in a directive (DESIGN §4): the issuer writes the directive; each
//! target only its own `responses[code]` entry; a cascade notice (紧急通知) is answered by every office
//! below the issuer. Its targets, assignments, cascade flag and parent link are fixed at issue.

use automerge::legacy::OpType;
use automerge::{AutoCommit, ChangeHash, ReadDoc};
use safemesh_model::AdminCode;

use crate::Error;
use crate::authority::op::{OpCheck, Seg};

/// The fields of a directive's `core` fixed at issue.
pub(crate) const FIXED: [&str; 4] = ["targets", "assignments", "cascade", "parent"];

/// Who may write a directive's `responses`: its targets, and for a cascade notice (紧急通知) every node
/// below the issuer. Both are fixed in the document's first change.
pub struct Responders {
    targets: Vec<AdminCode>,
    cascade: bool,
}

pub(crate) fn responders(doc: &AutoCommit) -> Result<Responders, Error> {
    let view = super::read(doc)?;
    Ok(Responders {
        targets: view.core.targets,
        cascade: view.details.cascade,
    })
}

/// A directive's targets as of `heads`.
fn targets_at(doc: &AutoCommit, heads: &[ChangeHash]) -> Result<Vec<AdminCode>, Error> {
    let Some((_, core)) = doc.get_at(automerge::ROOT, "core", heads)? else {
        return Ok(Vec::new());
    };
    let Some((_, list)) = doc.get_at(&core, "targets", heads)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for i in 0..doc.length_at(&list, heads) {
        if let Some((v, _)) = doc.get_at(&list, i, heads)?
            && let Some(code) = v.as_str().and_then(|s| AdminCode::parse(s).ok())
        {
            out.push(code);
        }
    }
    Ok(out)
}

/// One operation on a directive.
pub(crate) fn check_op(responders: &Responders, cx: &OpCheck<'_>) -> Result<(), Error> {
    let OpCheck {
        doc,
        change,
        actor,
        path,
        op,
        ..
    } = *cx;
    match (path.first(), path.get(1)) {
        (Some(Seg::Key(k)), Some(Seg::Key(target))) if k == "responses" => {
            // A response is judged by the targets the responder saw when it wrote it. A cascade
            // notice is answered by every node below the issuer, relayed up through its ancestors.
            let targeted = responders.targets.contains(actor)
                || (responders.cascade && cx.header.owner.is_ancestor_of(actor))
                || targets_at(doc, change.deps())?.contains(actor);
            if actor.as_str() != target || !targeted {
                return Err(cx.deny("own_response_only"));
            }
            if matches!(op.action, OpType::Delete) {
                return Err(cx.deny("responses_append_only"));
            }
            Ok(())
        }
        _ => {
            if actor == &cx.header.owner {
                Ok(())
            } else {
                Err(cx.deny("issuer_only"))
            }
        }
    }
}
