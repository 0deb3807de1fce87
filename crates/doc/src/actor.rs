//! Actor ids: the node's code ‖ `.` ‖ a random install nonce. The code part is what authority checks
//! read; the nonce keeps a restored or reinstalled node from ever reusing an actor.

use automerge::ActorId;
use safemesh_model::AdminCode;

/// Builds the actor id of a node install.
pub fn actor_id(code: &AdminCode, nonce: &[u8]) -> ActorId {
    let mut bytes = Vec::with_capacity(code.as_str().len() + 1 + nonce.len());
    bytes.extend_from_slice(code.as_str().as_bytes());
    bytes.push(b'.');
    bytes.extend_from_slice(nonce);
    ActorId::from(bytes)
}

/// The office code an actor id names, if it is one of ours.
pub fn code_of(actor: &ActorId) -> Option<AdminCode> {
    let bytes = actor.to_bytes();
    let dot = bytes.iter().position(|b| *b == b'.')?;
    let code = std::str::from_utf8(&bytes[..dot]).ok()?;
    let parsed = AdminCode::parse(code).ok()?;
    // Only the canonical prefix form names an office; `530000` style would alias `53`.
    (parsed.as_str() == code).then_some(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_round_trips_and_rejects_foreign_actors() {
        let c = AdminCode::parse("530181006").unwrap();
        let a = actor_id(&c, &[0x2e, 1, 2, 3]);
        assert_eq!(code_of(&a), Some(c));
        assert_eq!(code_of(&ActorId::random()), None);
        assert_eq!(code_of(&ActorId::from(b"530000.xy".to_vec())), None);
    }
}
