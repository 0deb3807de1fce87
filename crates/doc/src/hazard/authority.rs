//! 隐患的写入权限 — who may write what in a hazard (DESIGN §4): the owner registers and rectifies; the
//! levels above supervise, escalate and decide extensions — the parent only for a general hazard, every
//! ancestor for a major one; the owner may list (挂牌督办) its own major hazard; acceptance and closing
//! of a listed hazard belong to its supervising level, lifting a listing (摘牌) to the listing office.

use automerge::legacy::{ObjectId, OpType};
use automerge::{AutoCommit, ChangeHash, ObjId, ScalarValue};
use safemesh_model::hazard::EventKind;

use crate::authority::op::{OpCheck, Seg};
use crate::{Error, read};

/// A general hazard is written by its owner and its parent only; a major one by every ancestor.
pub(crate) fn is_general(doc: &AutoCommit) -> Result<bool, Error> {
    let core = read::opt_obj(doc, &automerge::ROOT, "core")?;
    let grade = match core {
        Some(c) => read::opt_str(doc, &c, "grade")?,
        None => None,
    };
    Ok(grade.as_deref() != Some("major"))
}

/// A hazard's state as of `heads` (folded from the events then): who supervises it, whose listings
/// stand.
fn derived_at(
    doc: &AutoCommit,
    heads: &[ChangeHash],
) -> Result<safemesh_model::hazard::Derived, Error> {
    let (grade, events) = super::events_at(doc, Some(heads))?;
    Ok(safemesh_model::hazard::fold(grade, &events))
}

/// The kind of the event map `obj` as the document holds it now.
fn event_kind(doc: &AutoCommit, obj: &ObjectId) -> Result<Option<EventKind>, Error> {
    let id: ObjId = doc
        .import_obj(&obj.to_string())
        .map_err(|_| Error::Corrupt(format!("unknown object {obj}")))?;
    Ok(read::opt_str(doc, &id, "kind")?.and_then(|k| EventKind::parse(&k).ok()))
}

/// One operation on a hazard (`general`: see [`is_general`]).
pub(crate) fn check_op(general: bool, cx: &OpCheck<'_>) -> Result<(), Error> {
    let OpCheck {
        doc,
        change,
        actor,
        path,
        op,
        in_new_object,
        ..
    } = *cx;
    // Superiors along the owner's chain (a zone's configured parent and its ancestors).
    let chain = cx.header.chain();
    let owner = &chain;
    let is_owner = *actor == chain.code;
    let is_superior = if general {
        chain.is_parent(actor)
    } else {
        chain.has_superior(actor)
    };
    match path.first() {
        Some(Seg::Key(k)) if k == "events" && path.len() >= 2 => {
            if matches!(op.action, OpType::Delete) {
                return Err(cx.deny("events_append_only"));
            }
            if path.len() == 2 {
                // An element of the list itself: only inserting a new event map.
                if !op.insert || !matches!(op.action, OpType::Make(automerge::ObjType::Map)) {
                    return Err(cx.deny("events_append_only"));
                }
                if !(is_owner || is_superior) {
                    return Err(cx.deny("owner_or_superior"));
                }
                return Ok(());
            }
            // A field inside an event, or inside an object of it (a plan, a recipient list):
            // only while creating that event, in this change.
            if !in_new_object {
                return Err(cx.deny("events_append_only"));
            }
            let field = match &path[2] {
                Seg::Key(f) => f.as_str(),
                Seg::Index => return Err(cx.deny("events_append_only")),
            };
            // Values inside an event are scalars, but for the objects events carry: a plan's
            // 五落实 (a map of scalars), a notify's recipients (a list of strings) and the
            // event's 佐证材料 (a list of attachment maps, `crate::evidence`).
            if let OpType::Make(t) = &op.action {
                let known = (path.len() == 3
                    && matches!(
                        (field, t),
                        ("plan", automerge::ObjType::Map)
                            | ("recipients", automerge::ObjType::List)
                            | ("attachments", automerge::ObjType::List)
                    ))
                    || crate::evidence::is_attachment_item(path, t);
                if !known {
                    return Err(cx.deny("events_append_only"));
                }
            }
            if path.len() > 3 {
                return Ok(());
            }
            let value = match &op.action {
                OpType::Put(ScalarValue::Str(s)) => Some(s.to_string()),
                _ => None,
            };
            match field {
                "by" if value.as_deref() != Some(actor.as_str()) => {
                    return Err(cx.deny("event_by_is_actor"));
                }
                "level" if value.as_deref() != Some(actor.as_str()) => {
                    return Err(cx.deny("supervising_level_is_actor"));
                }
                // 回复期限 is set by the level that escalates, in its escalate event: nobody
                // else dates a reply obligation.
                "reply_by" if event_kind(doc, &op.obj)? != Some(EventKind::Escalate) => {
                    return Err(cx.deny("reply_by_on_escalate_only"));
                }
                // 督办编号, 督办要求, 督办期限 are the listing office's, in its listing: nobody dates
                // or numbers a 督办 in another event.
                "number" | "requirements" | "due"
                    if event_kind(doc, &op.obj)? != Some(EventKind::Supervise) =>
                {
                    return Err(cx.deny("listing_fields_on_supervise_only"));
                }
                "kind" => {
                    let kind = value.as_deref().and_then(|v| EventKind::parse(v).ok());
                    let Some(kind) = kind else {
                        return Err(cx.deny("known_event_kind"));
                    };
                    let allowed = match kind {
                        // An office lists its own major hazard too (a county its own finding).
                        EventKind::Supervise => is_superior || (is_owner && !general),
                        EventKind::Escalate | EventKind::ExtendDecision => is_superior,
                        EventKind::Lift => is_owner || is_superior,
                        EventKind::Accept
                        | EventKind::Close
                        | EventKind::Return
                        | EventKind::Comment => is_owner || is_superior,
                        _ => is_owner,
                    };
                    if !allowed {
                        let rule = if kind.is_superior_only() {
                            "superior_only"
                        } else {
                            "owner_only"
                        };
                        return Err(cx.deny(rule));
                    }
                    // 挂牌单位验收销号: acceptance of a listed hazard belongs to the supervising
                    // level, judged by the history the actor saw when it wrote the event; so does
                    // 延期审批 (else the owner's parent); 摘牌 to an office whose listing stands.
                    if matches!(
                        kind,
                        EventKind::Accept
                            | EventKind::Close
                            | EventKind::ExtendDecision
                            | EventKind::Lift
                    ) {
                        let derived = derived_at(doc, change.deps())?;
                        if let Err(rule) =
                            safemesh_model::hazard::may_add_event(kind, owner, actor, &derived)
                        {
                            return Err(cx.deny(rule));
                        }
                    }
                }
                _ => {}
            }
            Ok(())
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
