//! 写入权限 — the write-authority check (DESIGN §4), run on every hop before anything is stored.
//!
//! Incoming changes are applied to a scratch copy; then every operation of every new change is mapped to
//! the path it writes (through the object's parents, including values that lost a conflict) and checked
//! against the kind's rules for the change's actor code. Checking operations rather than a visible diff
//! means a forbidden write cannot hide behind a conflict it loses. One violation rejects the batch.
//!
//! What is the same for every kind is here: the actor names an office inside the link's subtree (or
//! the functional zone whose record the link relays from below the zone's configured parent), the
//! skeleton (root keys, the header, the kind's [`RecordKind::fixed`] paths) is written once by the
//! owner, lists are appended at their end only ([`tails`] keeps that cheap). The rest is each kind's
//! [`RecordKind::check_op`] (`hazard/authority.rs`, `directive/authority.rs`, [`reviewed`]), reached
//! through the registry ([`Kind::dispatch`]).

pub mod op;
pub(crate) mod reviewed;
mod tails;

use automerge::legacy::{Key, ObjectId, Op, OpId, OpType};
use automerge::{AutoCommit, Change, ChangeHash, ObjId, Prop, ReadDoc};
use safemesh_model::AdminCode;

use self::op::{OpCheck, Seg, render};
use self::tails::ListTails;
use crate::kind::{KindVisitor, RecordKind};
use crate::{Error, Header, actor, read};

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
    header.kind.dispatch(Run {
        doc_id,
        doc: &scratch,
        header: &header,
        changes: fresh,
        new_doc: is_new_doc,
        origin,
    })?;
    Ok(Checked {
        doc: scratch,
        header,
        applied: fresh.len(),
    })
}

/// Checks changes a local writer just made (defence in depth: the same table as for links).
pub fn check_local(doc_id: &str, doc: &mut AutoCommit, since: &[ChangeHash]) -> Result<(), Error> {
    let header = Header::read(doc)?;
    let changes = doc.get_changes(since);
    header.kind.dispatch(Run {
        doc_id,
        doc,
        header: &header,
        changes: &changes,
        new_doc: since.is_empty(),
        origin: &Origin::Local,
    })
}

/// Checks `changes` (all in `doc` already) with the rules of the kind it is dispatched to.
struct Run<'a> {
    doc_id: &'a str,
    doc: &'a AutoCommit,
    header: &'a Header,
    changes: &'a [Change],
    new_doc: bool,
    origin: &'a Origin,
}

impl KindVisitor for Run<'_> {
    type Output = Result<(), Error>;

    fn visit<K: RecordKind>(self) -> Result<(), Error> {
        let ctx = Ctx::<K> {
            doc_id: self.doc_id,
            header: self.header,
            facts: K::facts(self.doc, self.header)?,
            new_doc: self.new_doc,
            paths: Default::default(),
            tails: std::cell::RefCell::new(ListTails::new(self.new_doc)),
        };
        for change in self.changes {
            ctx.check_change(self.doc, change, self.origin)?;
        }
        Ok(())
    }
}

struct Ctx<'a, K: RecordKind> {
    doc_id: &'a str,
    header: &'a Header,
    /// What the kind's rules need to know of the document.
    facts: K::Facts,
    /// The document is new to this node (its whole history is in the batch).
    new_doc: bool,
    /// Paths of objects already resolved (many operations share an object).
    paths: std::cell::RefCell<std::collections::HashMap<ObjectId, Vec<Seg>>>,
    /// The lists' last elements as the changes are checked, when that is known without asking
    /// Automerge about the past.
    tails: std::cell::RefCell<ListTails>,
}

impl<K: RecordKind> Ctx<'_, K> {
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
        // From a child: its subtree's changes; and, for a functional zone's record relayed from
        // below the office the zone names as parent (`header.owner_parent` within the child), the
        // zone's own changes too (see [`safemesh_model::Chain::link_allows`]).
        if let Origin::Child(child) = origin
            && !code.is_within(child)
            && !(self
                .header
                .owner_parent
                .as_ref()
                .is_some_and(|p| p.is_within(child))
                && code.is_within(&self.header.owner))
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
            // The skeleton (root keys, the header, and what the kind fixes: a hazard's core — the
            // facts of registration — or a directive's targets, assignments, cascade flag and parent
            // link: who holds it and who may answer) is written once, by the owner, in the
            // document's first change.
            let structural = path.len() == 1
                || matches!(path.first(), Some(Seg::Key(k)) if k == "header")
                || K::fixed(&path);
            if structural {
                if code != self.header.owner {
                    return Err(self.deny(&path, &code, K::OWNER_RULE));
                }
                if !genesis {
                    return Err(self.deny(&path, &code, "write_once"));
                }
                continue;
            }
            if op.insert {
                self.check_append_at_end(doc, change, op, &path, &code, &created_here)?;
            }
            K::check_op(
                &self.facts,
                &OpCheck {
                    doc,
                    change,
                    header: self.header,
                    actor: &code,
                    path: &path,
                    op,
                    in_new_object: created_here(&op.obj),
                    doc_id: self.doc_id,
                },
            )?;
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
}
