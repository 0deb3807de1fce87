//! 写入权限 — the write-authority check (DESIGN §4), run on every hop before anything is stored.
//!
//! Incoming changes are applied to a scratch copy; then every operation of every new change is mapped to
//! the path it writes (through the object's parents, including values that lost a conflict) and checked
//! against the kind's table for the change's actor code. Checking operations rather than a visible diff
//! means a forbidden write cannot hide behind a conflict it loses. One violation rejects the batch.

use automerge::legacy::{Key, ObjectId, Op, OpId, OpType};
use automerge::{AutoCommit, Change, ChangeHash, ObjId, Prop, ReadDoc, ScalarValue};
use safemesh_model::AdminCode;
use safemesh_model::hazard::EventKind;

use crate::{Error, Header, Kind, actor, read};

/// Where a batch of changes comes from, which bounds whose changes it may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A child link: only actors inside the child's subtree (relays pass their subtree's changes up).
    Child(AdminCode),
    /// The parent link: any actor, each still held to the path rules.
    Parent(AdminCode),
    /// This node's own API.
    Local,
}

/// The outcome of a successful check: the document with the changes applied and the header it has.
pub struct Checked {
    pub doc: AutoCommit,
    pub header: Header,
    /// Changes that were new to the base document.
    pub applied: usize,
}

/// Applies `changes` to a copy of `base` (or to a new document) and checks every new change.
/// `base` is left untouched; on error nothing of the batch is kept. A panic inside Automerge on
/// hostile changes comes back as [`Error::Corrupt`] (see [`guarded`]).
pub fn check_and_apply(
    doc_id: &str,
    base: Option<&mut AutoCommit>,
    changes: Vec<Change>,
    origin: &Origin,
) -> Result<Checked, Error> {
    guarded(|| check_and_apply_unguarded(doc_id, base, changes, origin))
}

fn check_and_apply_unguarded(
    doc_id: &str,
    base: Option<&mut AutoCommit>,
    changes: Vec<Change>,
    origin: &Origin,
) -> Result<Checked, Error> {
    let (mut scratch, base_header) = match base {
        Some(b) => {
            let h = Header::read(b)?;
            (b.fork(), Some(h))
        }
        None => (AutoCommit::new(), None),
    };
    let mut seen = std::collections::HashSet::new();
    let fresh: Vec<Change> = changes
        .into_iter()
        .filter(|c| seen.insert(c.hash()) && scratch.get_change_by_hash(&c.hash()).is_none())
        .collect();
    if fresh.is_empty() {
        let header = match base_header {
            Some(h) => h,
            None => Header::read(&scratch)?,
        };
        return Ok(Checked {
            doc: scratch,
            header,
            applied: 0,
        });
    }
    scratch.apply_changes(fresh.clone())?;
    check_applied(doc_id, scratch, base_header, &fresh, true, origin)
}

/// Runs a check with Automerge's panics turned into [`Error::Corrupt`]. Automerge 0.12 panics on some
/// changes that decode but are inconsistent — when applying them (an op naming an actor index the
/// change does not have: one flipped byte does it) and when reading the document they were applied to
/// (object paths); found by `fuzz/fuzz_targets/authority_check.rs`. Whatever the check built is
/// discarded on error.
fn guarded<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Error::Corrupt(format!(
                "Automerge panicked on the changes: {what}"
            )))
        }
    }
}

/// Checks a whole document received as a snapshot (new to this node), without replaying it: every
/// change in its history is checked as if it had arrived one by one.
pub fn check_snapshot(
    doc_id: &str,
    mut doc: AutoCommit,
    origin: &Origin,
) -> Result<Checked, Error> {
    guarded(move || {
        // The changes come out of the document itself: no need to ask whether it took them.
        let all = doc.get_changes(&[]);
        check_applied(doc_id, doc, None, &all, false, origin)
    })
}

fn check_applied(
    doc_id: &str,
    scratch: AutoCommit,
    base_header: Option<Header>,
    fresh: &[Change],
    verify_taken: bool,
    origin: &Origin,
) -> Result<Checked, Error> {
    let is_new_doc = base_header.is_none();
    let missing = scratch.get_missing_deps(&[]);
    if !missing.is_empty() {
        return Err(Error::MissingDeps {
            missing: missing.len(),
        });
    }
    // Every change checked must be in the document now. Automerge 0.12 can drop a hostile change
    // silently (found by the fuzzer: one flipped byte); such a document would be stored as if it held
    // the change, and re-applying the change later panics.
    if let Some(c) = fresh
        .iter()
        .filter(|_| verify_taken)
        .find(|c| scratch.get_change_by_hash(&c.hash()).is_none())
    {
        return Err(Error::Corrupt(format!(
            "change {} was not taken into the document",
            c.hash()
        )));
    }
    // The owner is what the stored document says; a new document must name exactly one owner.
    let header = match base_header {
        Some(h) => h,
        None => {
            let h = Header::read(&scratch)?;
            let hobj = read::obj(&scratch, &automerge::ROOT, "header", "header")?;
            if scratch.get_all(&hobj, "owner")?.len() != 1
                || scratch.get_all(automerge::ROOT, "header")?.len() != 1
            {
                return Err(Error::forbidden(
                    doc_id,
                    "header.owner",
                    &h.owner,
                    "single_owner",
                ));
            }
            h
        }
    };
    let (targets, cascade) = responders(&scratch, &header)?;
    let general = is_general(&scratch, &header)?;
    let ctx = Ctx {
        doc_id,
        header: &header,
        targets: &targets,
        cascade,
        general,
        new_doc: is_new_doc,
        paths: Default::default(),
        tails: std::cell::RefCell::new(ListTails::new(is_new_doc)),
    };
    for change in fresh {
        ctx.check_change(&scratch, change, origin)?;
    }
    Ok(Checked {
        doc: scratch,
        header,
        applied: fresh.len(),
    })
}

/// Checks changes a local writer just made (defence in depth: the same table as for links).
pub fn check_local(doc_id: &str, doc: &mut AutoCommit, since: &[ChangeHash]) -> Result<(), Error> {
    let header = Header::read(doc)?;
    let (targets, cascade) = responders(doc, &header)?;
    let general = is_general(doc, &header)?;
    let ctx = Ctx {
        doc_id,
        header: &header,
        targets: &targets,
        cascade,
        general,
        new_doc: since.is_empty(),
        paths: Default::default(),
        tails: std::cell::RefCell::new(ListTails::new(since.is_empty())),
    };
    for change in doc.get_changes(since) {
        ctx.check_change(doc, &change, &Origin::Local)?;
    }
    Ok(())
}

/// Who may write a directive's `responses`: its targets, and for a cascade notice (紧急通知) every node
/// below the issuer. Both are fixed in the document's first change.
fn responders(doc: &AutoCommit, header: &Header) -> Result<(Vec<AdminCode>, bool), Error> {
    if header.kind != Kind::Directive {
        return Ok((Vec::new(), false));
    }
    let view = crate::directive::read(doc)?;
    Ok((view.core.targets, view.details.cascade))
}

/// A general hazard is written by its owner and its parent only; a major one by every ancestor.
fn is_general(doc: &AutoCommit, header: &Header) -> Result<bool, Error> {
    if header.kind != Kind::Hazard {
        return Ok(false);
    }
    let core = read::opt_obj(doc, &automerge::ROOT, "core")?;
    let grade = match core {
        Some(c) => read::opt_str(doc, &c, "grade")?,
        None => None,
    };
    Ok(grade.as_deref() != Some("major"))
}

/// The supervising level of a hazard as of `heads` (folded from the events then).
fn supervising_at(doc: &AutoCommit, heads: &[ChangeHash]) -> Result<Option<AdminCode>, Error> {
    let (grade, events) = crate::hazard::events_at(doc, Some(heads))?;
    Ok(safemesh_model::hazard::fold(grade, &events).supervising)
}

/// The kind of the event map `obj` as the document holds it now.
fn event_kind(doc: &AutoCommit, obj: &ObjectId) -> Result<Option<EventKind>, Error> {
    let id: ObjId = doc
        .import_obj(&obj.to_string())
        .map_err(|_| Error::Corrupt(format!("unknown object {obj}")))?;
    Ok(read::opt_str(doc, &id, "kind")?.and_then(|k| EventKind::parse(&k).ok()))
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

/// The fields of a directive's `core` fixed at issue.
const DIRECTIVE_FIXED: [&str; 4] = ["targets", "assignments", "cascade", "parent"];

struct Ctx<'a> {
    doc_id: &'a str,
    header: &'a Header,
    targets: &'a [AdminCode],
    /// A cascade notice: every node below the issuer may write its own response.
    cascade: bool,
    /// A general hazard (parent-only supervision).
    general: bool,
    /// The document is new to this node (its whole history is in the batch).
    new_doc: bool,
    /// Paths of objects already resolved (many operations share an object).
    paths: std::cell::RefCell<std::collections::HashMap<ObjectId, Vec<Seg>>>,
    /// The lists' last elements as the changes are checked, when that is known without asking
    /// Automerge about the past.
    tails: std::cell::RefCell<ListTails>,
}

/// The last element of each list (`None`: empty) as of the change being checked, for a document
/// checked from its first change along a chain of changes (each depending on exactly the one before:
/// how one office writes a record, and how most records look after a merge has been written over).
/// Then "the last element as of the change's dependencies" is the last element after the previous
/// change, and the append check needs none of Automerge's historical queries — the costly part of
/// checking a received snapshot. Anything else (a fork in the history, a list element deleted, an
/// insert not at the tail, a document checked from a base) makes that list, or all of them, unknown,
/// and the check asks Automerge as before.
struct ListTails {
    chain: bool,
    prev: Option<ChangeHash>,
    tails: std::collections::HashMap<ObjectId, Option<OpId>>,
}

impl ListTails {
    fn new(from_start: bool) -> ListTails {
        ListTails {
            chain: from_start,
            prev: None,
            tails: Default::default(),
        }
    }

    /// Whether the tails hold as of `change`'s dependencies.
    fn holds_for(&mut self, change: &Change) -> bool {
        if self.chain {
            let deps = change.deps();
            self.chain = match self.prev {
                None => deps.is_empty(),
                Some(p) => deps.len() == 1 && deps[0] == p,
            };
        }
        self.chain
    }

    /// The tail of `list`: `Some(None)` empty, `Some(Some(id))`, `None` unknown.
    fn tail(&self, list: &ObjectId) -> Option<Option<OpId>> {
        if !self.chain {
            return None;
        }
        self.tails.get(list).cloned()
    }

    /// Takes in a change that passed the check.
    fn advance(&mut self, change: &Change, ops: &[Op], start: u64, actor: &automerge::ActorId) {
        if !self.chain {
            return;
        }
        for (i, op) in ops.iter().enumerate() {
            let id = OpId(start + i as u64, actor.clone());
            let list = &op.obj;
            if op.insert {
                // The element the insert goes after (`Some(None)`: the head); a map key is no
                // position in a list, so it matches no tail.
                let after = match &op.key {
                    Key::Seq(automerge::legacy::ElementId::Head) => Some(None),
                    Key::Seq(automerge::legacy::ElementId::Id(e)) => Some(Some(e)),
                    Key::Map(_) => None,
                };
                match self.tails.get(list) {
                    Some(tail) if after == Some(tail.as_ref()) => {
                        self.tails.insert(list.clone(), Some(id.clone()));
                    }
                    _ => {
                        self.tails.remove(list);
                    }
                }
            } else if matches!(op.key, Key::Seq(_))
                || matches!(op.action, OpType::MarkBegin(_) | OpType::MarkEnd(_))
            {
                // An element overwritten or deleted, or a mark: what Automerge reports as the last
                // element may no longer be the inserted one, so ask it from now on.
                self.tails.remove(list);
            }
            if matches!(
                op.action,
                OpType::Make(automerge::ObjType::List) | OpType::Make(automerge::ObjType::Text)
            ) {
                self.tails.insert(ObjectId::Id(id), None);
            }
        }
        self.prev = Some(change.hash());
    }
}

/// One segment of a written path.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index,
}

fn render(path: &[Seg]) -> String {
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

impl Ctx<'_> {
    fn deny(&self, path: &[Seg], actor: &AdminCode, rule: &'static str) -> Error {
        Error::forbidden(self.doc_id, &render(path), actor, rule)
    }

    fn check_change(
        &self,
        doc: &AutoCommit,
        change: &Change,
        origin: &Origin,
    ) -> Result<(), Error> {
        let Some(code) = actor::code_of(change.actor_id()) else {
            return Err(Error::Forbidden {
                doc: self.doc_id.to_string(),
                path: "(change)".into(),
                actor: change.actor_id().to_hex_string(),
                rule: "actor_names_an_office",
            });
        };
        if let Origin::Child(child) = origin
            && !code.is_within(child)
        {
            return Err(self.deny(&[], &code, "relay_outside_subtree"));
        }
        let expanded = change.decode();
        let start = expanded.start_op.get();
        let end = start + expanded.operations.len() as u64;
        let created_here = |obj: &ObjectId| match obj {
            ObjectId::Root => false,
            ObjectId::Id(id) => id.1 == expanded.actor_id && id.0 >= start && id.0 < end,
        };
        let genesis = self.new_doc && change.deps().is_empty();
        let tails_hold = self.tails.borrow_mut().holds_for(change);
        for (i, op) in expanded.operations.iter().enumerate() {
            let mut path = self.path_of(doc, &op.obj)?;
            path.push(match &op.key {
                Key::Map(k) => Seg::Key(k.to_string()),
                Key::Seq(_) => Seg::Index,
            });
            // An object's place is fixed by the op that made it: remember it, so objects made in
            // these changes never need Automerge's (costly) parent walk.
            if matches!(op.action, OpType::Make(_)) {
                let made = ObjectId::Id(OpId(start + i as u64, expanded.actor_id.clone()));
                self.paths.borrow_mut().insert(made, path.clone());
            }
            // The skeleton (root keys, the header, a hazard's core — the facts of registration — and a
            // directive's targets, assignments, cascade flag and parent link: who holds it and who may
            // answer) is written once, by the owner, in the document's first change.
            let structural = path.len() == 1
                || matches!(path.first(), Some(Seg::Key(k)) if k == "header")
                || (self.header.kind == Kind::Hazard
                    && matches!(path.first(), Some(Seg::Key(k)) if k == "core"))
                || (self.header.kind == Kind::Directive
                    && matches!((path.first(), path.get(1)), (Some(Seg::Key(a)), Some(Seg::Key(b)))
                        if a == "core" && DIRECTIVE_FIXED.contains(&b.as_str())));
            if structural {
                if code != self.header.owner {
                    let rule = if self.header.kind == Kind::Directive {
                        "issuer_only"
                    } else {
                        "owner_only"
                    };
                    return Err(self.deny(&path, &code, rule));
                }
                if !genesis {
                    return Err(self.deny(&path, &code, "write_once"));
                }
                continue;
            }
            if op.insert {
                self.check_append_at_end(doc, change, op, &path, &code, &created_here)?;
            }
            match self.header.kind {
                Kind::Hazard => {
                    self.check_hazard_op(doc, change, &code, &path, op, created_here(&op.obj))?
                }
                Kind::Directive => self.check_directive_op(doc, change, &code, &path, op)?,
                Kind::Accident | Kind::Enterprise => {
                    self.check_record_op(&code, &path, op, created_here(&op.obj))?
                }
            }
        }
        if tails_hold {
            self.tails.borrow_mut().advance(
                change,
                &expanded.operations,
                start,
                &expanded.actor_id,
            );
        }
        Ok(())
    }

    /// Lists are logs: an insert must go after the element that was last when the change was made
    /// (or after an element the same change inserted), so nobody backdates history.
    fn check_append_at_end(
        &self,
        doc: &AutoCommit,
        change: &Change,
        op: &Op,
        path: &[Seg],
        actor: &AdminCode,
        created_here: &dyn Fn(&ObjectId) -> bool,
    ) -> Result<(), Error> {
        // Known along a chain of changes (see `ListTails`); otherwise asked of Automerge below.
        let known_tail = self.tails.borrow().tail(&op.obj);
        let Key::Seq(elem) = &op.key else {
            return Ok(());
        };
        if op.obj == ObjectId::Root {
            return Err(self.deny(path, actor, "append_only"));
        }
        let ok = match (elem, known_tail) {
            (automerge::legacy::ElementId::Head, Some(tail)) => tail.is_none(),
            (automerge::legacy::ElementId::Id(id), Some(tail)) => {
                tail.as_ref() == Some(id) || created_here(&ObjectId::Id(id.clone()))
            }
            (elem, None) => {
                let list: ObjId = doc
                    .import_obj(&op.obj.to_string())
                    .map_err(|_| Error::Corrupt(format!("unknown object {}", op.obj)))?;
                let deps = change.deps();
                let len = doc.length_at(&list, deps);
                match elem {
                    automerge::legacy::ElementId::Head => len == 0,
                    automerge::legacy::ElementId::Id(id) => {
                        let last = if len == 0 {
                            None
                        } else {
                            doc.get_at(&list, len - 1, deps)?
                                .map(|(_, id)| id.to_string())
                        };
                        last.as_deref() == Some(id.to_string().as_str())
                            || created_here(&ObjectId::Id(id.clone()))
                    }
                }
            }
        };
        if ok {
            Ok(())
        } else {
            Err(self.deny(path, actor, "append_only"))
        }
    }

    fn path_of(&self, doc: &AutoCommit, obj: &ObjectId) -> Result<Vec<Seg>, Error> {
        let ObjectId::Id(_) = obj else {
            return Ok(Vec::new());
        };
        if let Some(p) = self.paths.borrow().get(obj) {
            return Ok(p.clone());
        }
        let ex: ObjId = doc
            .import_obj(&obj.to_string())
            .map_err(|_| Error::Corrupt(format!("unknown object {obj}")))?;
        let mut out = Vec::new();
        for (_, prop) in doc.parents(&ex)?.path() {
            out.push(match prop {
                Prop::Map(k) => Seg::Key(k),
                Prop::Seq(_) => Seg::Index,
            });
        }
        self.paths.borrow_mut().insert(obj.clone(), out.clone());
        Ok(out)
    }

    /// 事故, 企业: the owner writes the record; the owner and every level above append to `events`:
    /// `review` (复核) only from above, `comment` from either.
    fn check_record_op(
        &self,
        actor: &AdminCode,
        path: &[Seg],
        op: &Op,
        in_new_object: bool,
    ) -> Result<(), Error> {
        let owner = &self.header.owner;
        let is_owner = actor == owner;
        let is_superior = actor.is_ancestor_of(owner);
        match path.first() {
            Some(Seg::Key(k)) if k == "events" && path.len() >= 2 => {
                if matches!(op.action, OpType::Delete) {
                    return Err(self.deny(path, actor, "events_append_only"));
                }
                if path.len() == 2 {
                    if !op.insert || !matches!(op.action, OpType::Make(automerge::ObjType::Map)) {
                        return Err(self.deny(path, actor, "events_append_only"));
                    }
                    return if is_owner || is_superior {
                        Ok(())
                    } else {
                        Err(self.deny(path, actor, "owner_or_superior"))
                    };
                }
                if path.len() != 3 || !in_new_object {
                    return Err(self.deny(path, actor, "events_append_only"));
                }
                let value = match &op.action {
                    OpType::Put(ScalarValue::Str(s)) => Some(s.to_string()),
                    _ => None,
                };
                match &path[2] {
                    Seg::Key(f) if f == "by" && value.as_deref() != Some(actor.as_str()) => {
                        Err(self.deny(path, actor, "event_by_is_actor"))
                    }
                    Seg::Key(f) if f == "kind" => match value.as_deref() {
                        Some("review") if is_superior => Ok(()),
                        Some("review") => Err(self.deny(path, actor, "superior_only")),
                        Some("comment") => Ok(()),
                        _ => Err(self.deny(path, actor, "known_event_kind")),
                    },
                    Seg::Key(_) => Ok(()),
                    Seg::Index => Err(self.deny(path, actor, "events_append_only")),
                }
            }
            _ => {
                if is_owner {
                    Ok(())
                } else {
                    Err(self.deny(path, actor, "owner_only"))
                }
            }
        }
    }

    fn check_hazard_op(
        &self,
        doc: &AutoCommit,
        change: &Change,
        actor: &AdminCode,
        path: &[Seg],
        op: &Op,
        in_new_object: bool,
    ) -> Result<(), Error> {
        let owner = &self.header.owner;
        let is_owner = actor == owner;
        let is_superior = if self.general {
            owner.parent().as_ref() == Some(actor)
        } else {
            actor.is_ancestor_of(owner)
        };
        match path.first() {
            Some(Seg::Key(k)) if k == "events" && path.len() >= 2 => {
                if matches!(op.action, OpType::Delete) {
                    return Err(self.deny(path, actor, "events_append_only"));
                }
                if path.len() == 2 {
                    // An element of the list itself: only inserting a new event map.
                    if !op.insert || !matches!(op.action, OpType::Make(automerge::ObjType::Map)) {
                        return Err(self.deny(path, actor, "events_append_only"));
                    }
                    if !(is_owner || is_superior) {
                        return Err(self.deny(path, actor, "owner_or_superior"));
                    }
                    return Ok(());
                }
                // A field inside an event, or inside an object of it (a plan, a recipient list):
                // only while creating that event, in this change.
                if !in_new_object {
                    return Err(self.deny(path, actor, "events_append_only"));
                }
                let field = match &path[2] {
                    Seg::Key(f) => f.as_str(),
                    Seg::Index => return Err(self.deny(path, actor, "events_append_only")),
                };
                // Values inside an event are scalars, but for the two objects events carry: a
                // plan's 五落实 (a map of scalars) and a notify's recipients (a list of strings).
                if let OpType::Make(t) = &op.action {
                    let known = path.len() == 3
                        && matches!(
                            (field, t),
                            ("plan", automerge::ObjType::Map)
                                | ("recipients", automerge::ObjType::List)
                        );
                    if !known {
                        return Err(self.deny(path, actor, "events_append_only"));
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
                        return Err(self.deny(path, actor, "event_by_is_actor"));
                    }
                    "level" if value.as_deref() != Some(actor.as_str()) => {
                        return Err(self.deny(path, actor, "supervising_level_is_actor"));
                    }
                    // 回复期限 is set by the level that escalates, in its escalate event: nobody
                    // else dates a reply obligation.
                    "reply_by" if event_kind(doc, &op.obj)? != Some(EventKind::Escalate) => {
                        return Err(self.deny(path, actor, "reply_by_on_escalate_only"));
                    }
                    "kind" => {
                        let kind = value.as_deref().and_then(|v| EventKind::parse(v).ok());
                        let Some(kind) = kind else {
                            return Err(self.deny(path, actor, "known_event_kind"));
                        };
                        let allowed = match kind {
                            EventKind::Supervise
                            | EventKind::Escalate
                            | EventKind::ExtendDecision => is_superior,
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
                            return Err(self.deny(path, actor, rule));
                        }
                        // 挂牌单位验收销号: acceptance of a listed hazard belongs to the supervising
                        // level, judged by the history the actor saw when it wrote the event; so does
                        // 延期审批 (else the owner's parent).
                        if matches!(
                            kind,
                            EventKind::Accept | EventKind::Close | EventKind::ExtendDecision
                        ) {
                            let supervising = supervising_at(doc, change.deps())?;
                            if let Err(rule) = safemesh_model::hazard::may_add_event(
                                kind,
                                owner,
                                actor,
                                supervising.as_ref(),
                            ) {
                                return Err(self.deny(path, actor, rule));
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
                    Err(self.deny(path, actor, "owner_only"))
                }
            }
        }
    }

    fn check_directive_op(
        &self,
        doc: &AutoCommit,
        change: &Change,
        actor: &AdminCode,
        path: &[Seg],
        op: &Op,
    ) -> Result<(), Error> {
        match (path.first(), path.get(1)) {
            (Some(Seg::Key(k)), Some(Seg::Key(target))) if k == "responses" => {
                // A response is judged by the targets the responder saw when it wrote it. A cascade
                // notice is answered by every node below the issuer, relayed up through its ancestors.
                let targeted = self.targets.contains(actor)
                    || (self.cascade && self.header.owner.is_ancestor_of(actor))
                    || targets_at(doc, change.deps())?.contains(actor);
                if actor.as_str() != target || !targeted {
                    return Err(self.deny(path, actor, "own_response_only"));
                }
                if matches!(op.action, OpType::Delete) {
                    return Err(self.deny(path, actor, "responses_append_only"));
                }
                Ok(())
            }
            _ => {
                if actor == &self.header.owner {
                    Ok(())
                } else {
                    Err(self.deny(path, actor, "issuer_only"))
                }
            }
        }
    }
}
