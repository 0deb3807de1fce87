//! 任务的写入权限 — who may write what in a directive (DESIGN §4): the issuer writes the directive; each
//! target only its own `responses[code]` entry; a cascade notice (紧急通知) is answered by every office
//! below the issuer. Its targets, assignments, cascade flag and parent link are fixed at issue.

use automerge::legacy::{ObjectId, OpType};
use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue};
use safemesh_model::AdminCode;

use crate::Error;
use crate::authority::op::{OpCheck, Seg};

/// The fields of a directive's `core` fixed at issue.
pub(crate) const FIXED: [&str; 5] = ["targets", "assignments", "cascade", "parent", "review"];

/// The issuer's logs in `core`: 审核 (`reviews`) and 催办 (`reminders`).
const ISSUER_LOGS: [&str; 2] = ["reviews", "reminders"];

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

/// A response (`responses[code]`, `unit_responses[name]`) is a log, like a hazard's events: its
/// updates are appended and never rewritten, when it was received and when it was completed are
/// written once, and what the response shows now (`percent`, `note`, `updated_at`) is the only thing
/// overwritten. Checked for every operation under a response (`path` = `[responses, key, …]`).
fn response_log(cx: &OpCheck<'_>) -> Result<(), Error> {
    let (path, op) = (cx.path, cx.op);
    let deny = || Err(cx.deny("responses_append_only"));
    if matches!(op.action, OpType::Delete) {
        return deny();
    }
    match &path[2..] {
        // The response itself: made once (a second one would replace its history).
        [] => {
            if !matches!(op.action, OpType::Make(ObjType::Map)) || had_value(cx)? {
                return deny();
            }
            Ok(())
        }
        [Seg::Key(field)] => match field.as_str() {
            // What the response shows now.
            "percent" | "note" | "updated_at" if matches!(op.action, OpType::Put(_)) => Ok(()),
            // When it was received and completed: once.
            "received_at" | "completed_at"
                if matches!(op.action, OpType::Put(_)) && !had_value(cx)? =>
            {
                Ok(())
            }
            // The logs: made once, then only appended to.
            "updates" | "milestones_met" | "forwarded"
                if matches!(op.action, OpType::Make(ObjType::List)) && !had_value(cx)? =>
            {
                Ok(())
            }
            _ => deny(),
        },
        // An element of a log: a new one (`check_append_at_end` puts it at the end); an update is a
        // map, a milestone or a forwarded directive a string.
        [Seg::Key(log), Seg::Index] => {
            let ok = op.insert
                && match log.as_str() {
                    "updates" => matches!(op.action, OpType::Make(ObjType::Map)),
                    "milestones_met" | "forwarded" => {
                        matches!(op.action, OpType::Put(ScalarValue::Str(_)))
                    }
                    _ => false,
                };
            if ok { Ok(()) } else { deny() }
        }
        // Inside an update: only while making it, in this change — its scalars, and its 报送材料
        // (an `attachments` list of attachment maps, `crate::evidence`).
        [Seg::Key(log), Seg::Index, Seg::Key(field)] if log == "updates" => {
            let ok = match &op.action {
                OpType::Put(_) => true,
                OpType::Make(ObjType::List) => field == "attachments",
                _ => false,
            };
            if cx.in_new_object && ok {
                Ok(())
            } else {
                deny()
            }
        }
        [Seg::Key(log), Seg::Index, Seg::Key(field), rest @ ..]
            if log == "updates" && field == "attachments" =>
        {
            let ok = match (rest, &op.action) {
                ([Seg::Index], OpType::Make(t)) => {
                    op.insert && crate::evidence::is_attachment_item(path, t)
                }
                ([Seg::Index, Seg::Key(_)], OpType::Put(_)) => true,
                _ => false,
            };
            if cx.in_new_object && ok {
                Ok(())
            } else {
                deny()
            }
        }
        _ => deny(),
    }
}

/// The issuer's logs (`core.reviews`, `core.reminders`): written by the issuer only, made once, then only
/// appended to; an entry is written whole in the change that makes it; nothing is rewritten or deleted.
/// Checked for every operation under one of them (`path` = `[core, log, …]`).
fn issuer_log(cx: &OpCheck<'_>) -> Result<(), Error> {
    let (path, op) = (cx.path, cx.op);
    if cx.actor != &cx.header.owner {
        return Err(cx.deny("issuer_only"));
    }
    let deny = || Err(cx.deny("reviews_append_only"));
    if matches!(op.action, OpType::Delete) {
        return deny();
    }
    let ok = match &path[2..] {
        // The log itself: made once (a second one would replace its history).
        [] => matches!(op.action, OpType::Make(ObjType::List)) && !had_value(cx)?,
        // A new entry, at the end (`check_append_at_end`).
        [Seg::Index] => op.insert && matches!(op.action, OpType::Make(ObjType::Map)),
        // Inside an entry (its fields, a reminder's list of units): only while making it.
        [Seg::Index, ..] => cx.in_new_object && !matches!(op.action, OpType::Delete),
        _ => false,
    };
    if ok { Ok(()) } else { deny() }
}

/// Whether the key this operation writes held a value when its author wrote it (as of the change's
/// dependencies). An object made in this change held nothing.
fn had_value(cx: &OpCheck<'_>) -> Result<bool, Error> {
    if cx.in_new_object {
        return Ok(false);
    }
    let Some(Seg::Key(key)) = cx.path.last() else {
        return Ok(true);
    };
    let obj: ObjId = match &cx.op.obj {
        ObjectId::Root => automerge::ROOT,
        other => cx
            .doc
            .import_obj(&other.to_string())
            .map_err(|_| Error::Corrupt(format!("unknown object {other}")))?,
    };
    Ok(cx
        .doc
        .get_at(&obj, key.as_str(), cx.change.deps())?
        .is_some())
}

/// One operation on a directive.
pub(crate) fn check_op(responders: &Responders, cx: &OpCheck<'_>) -> Result<(), Error> {
    let OpCheck {
        doc,
        change,
        actor,
        path,
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
            response_log(cx)
        }
        // The issuer's record of its departments' responses: the issuer's, and a log all the same.
        (Some(Seg::Key(k)), Some(Seg::Key(_))) if k == "unit_responses" => {
            if actor != &cx.header.owner {
                return Err(cx.deny("issuer_only"));
            }
            response_log(cx)
        }
        (Some(Seg::Key(k)), Some(Seg::Key(log)))
            if k == "core" && ISSUER_LOGS.contains(&log.as_str()) =>
        {
            issuer_log(cx)
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
