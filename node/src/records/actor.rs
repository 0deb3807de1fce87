//! 操作人 — who writes a change: the office (this node's code and Automerge actor) and the person.

use safemesh_model::AdminCode;

/// Who is acting: the office (this node) and the person.
#[derive(Debug, Clone)]
pub struct Actor {
    pub code: AdminCode,
    pub actor_id: automerge::ActorId,
    /// The person (token name), recorded in every change message.
    pub user: String,
}
