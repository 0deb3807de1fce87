//! The lists' last elements as a chain of changes is checked, so the append-only check need not ask
//! Automerge about the past (the costly part of checking a received snapshot).

use automerge::Change;
use automerge::ChangeHash;
use automerge::legacy::{Key, ObjectId, Op, OpId, OpType};

/// The last element of each list (`None`: empty) as of the change being checked, for a document
/// checked from its first change along a chain of changes (each depending on exactly the one before:
/// how one office writes a record, and how most records look after a merge has been written over).
/// Then "the last element as of the change's dependencies" is the last element after the previous
/// change, and the append check needs none of Automerge's historical queries — the costly part of
/// checking a received snapshot. Anything else (a fork in the history, a list element deleted, an
/// insert not at the tail, a document checked from a base) makes that list, or all of them, unknown,
/// and the check asks Automerge as before.
pub(super) struct ListTails {
    chain: bool,
    prev: Option<ChangeHash>,
    tails: std::collections::HashMap<ObjectId, Option<OpId>>,
}

impl ListTails {
    pub(super) fn new(from_start: bool) -> ListTails {
        ListTails {
            chain: from_start,
            prev: None,
            tails: Default::default(),
        }
    }

    /// Whether the tails hold as of `change`'s dependencies.
    pub(super) fn holds_for(&mut self, change: &Change) -> bool {
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
    pub(super) fn tail(&self, list: &ObjectId) -> Option<Option<OpId>> {
        if !self.chain {
            return None;
        }
        self.tails.get(list).cloned()
    }

    /// Takes in a change that passed the check.
    pub(super) fn advance(
        &mut self,
        change: &Change,
        ops: &[Op],
        start: u64,
        actor: &automerge::ActorId,
    ) {
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
