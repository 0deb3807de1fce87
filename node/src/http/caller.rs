//! 调用者 — who is calling, as the bearer token says.

use safemesh_store::TokenRole;

/// Who is calling: resolved from the bearer token by `auth` and put in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub token_id: String,
    /// The token's name: the person recorded in every change this request makes.
    pub name: String,
    pub role: TokenRole,
}
