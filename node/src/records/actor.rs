//! 操作人 — who writes a change: the office (this node's code and Automerge actor) and the person.

use safemesh_model::AdminCode;

/// Who is acting: the office (this node) and the person.
#[derive(Debug, Clone)]
pub struct Actor {
    pub code: AdminCode,
    pub actor_id: automerge::ActorId,
    /// The person (token name), recorded in every change message.
    pub user: String,
    /// 功能区的上级 — this office's configured parent (`parent_code`) when it is not the code's prefix
    /// parent: written into the header of every record this office creates, so the record's audience
    /// and superiors follow the zone's chain ([`safemesh_model::Chain`]). `None` for an ordinary office.
    pub owner_parent: Option<AdminCode>,
}

impl Actor {
    /// This office's chain (its code and configured parent).
    pub fn chain(&self) -> safemesh_model::Chain {
        safemesh_model::Chain {
            code: self.code.clone(),
            parent: self.owner_parent.clone(),
        }
    }
}
