//! 复核类记录的写入权限 — the rules of a record its office registers and the levels above review
//! (事故 accidents, 企业 enterprises): the owner writes the record; the owner and every level above
//! append to `events`: `review` (复核) only from above, `comment` from either, and the kind's owner
//! correction (`supplement` 补报 of an accident, `update` 变更 of an enterprise) only from the owner,
//! which writes the corrected `core` fields in the same change.

use automerge::ScalarValue;
use automerge::legacy::OpType;

use super::op::{OpCheck, Seg};
use crate::Error;

/// One operation on a reviewed record whose owner correction is the event kind `correction`.
pub(crate) fn check_op(cx: &OpCheck<'_>, correction: &str) -> Result<(), Error> {
    let OpCheck {
        actor,
        path,
        op,
        in_new_object,
        ..
    } = *cx;
    let chain = cx.header.chain();
    let is_owner = *actor == chain.code;
    // Every level above along the owner's chain (a zone's configured parent and its ancestors).
    let is_superior = chain.has_superior(actor);
    match path.first() {
        Some(Seg::Key(k)) if k == "events" && path.len() >= 2 => {
            if matches!(op.action, OpType::Delete) {
                return Err(cx.deny("events_append_only"));
            }
            if path.len() == 2 {
                if !op.insert || !matches!(op.action, OpType::Make(automerge::ObjType::Map)) {
                    return Err(cx.deny("events_append_only"));
                }
                return if is_owner || is_superior {
                    Ok(())
                } else {
                    Err(cx.deny("owner_or_superior"))
                };
            }
            if !in_new_object {
                return Err(cx.deny("events_append_only"));
            }
            // An event's fields are scalars, but for its 佐证材料 (an `attachments` list of
            // attachment maps, `crate::evidence`), written with it.
            match (&path[2..], &op.action) {
                ([Seg::Key(f)], OpType::Make(t)) => {
                    return if f == "attachments" && matches!(t, automerge::ObjType::List) {
                        Ok(())
                    } else {
                        Err(cx.deny("events_append_only"))
                    };
                }
                ([Seg::Key(f), Seg::Index], OpType::Make(t)) if f == "attachments" => {
                    return if op.insert && crate::evidence::is_attachment_item(path, t) {
                        Ok(())
                    } else {
                        Err(cx.deny("events_append_only"))
                    };
                }
                ([Seg::Key(f), Seg::Index, Seg::Key(_)], OpType::Put(_)) if f == "attachments" => {
                    return Ok(());
                }
                ([_], _) => {}
                _ => return Err(cx.deny("events_append_only")),
            }
            let value = match &op.action {
                OpType::Put(ScalarValue::Str(s)) => Some(s.to_string()),
                _ => None,
            };
            match &path[2] {
                Seg::Key(f) if f == "by" && value.as_deref() != Some(actor.as_str()) => {
                    Err(cx.deny("event_by_is_actor"))
                }
                Seg::Key(f) if f == "kind" => match value.as_deref() {
                    Some("review") if is_superior => Ok(()),
                    Some("review") => Err(cx.deny("superior_only")),
                    Some("comment") => Ok(()),
                    Some(k) if k == correction && is_owner => Ok(()),
                    Some(k) if k == correction => Err(cx.deny("owner_only")),
                    _ => Err(cx.deny("known_event_kind")),
                },
                Seg::Key(_) => Ok(()),
                Seg::Index => Err(cx.deny("events_append_only")),
            }
        }
        _ => {
            if is_owner {
                Ok(())
            } else {
                Err(cx.deny("owner_only"))
            }
        }
    }
}
