//! Who is calling: [`auth`] resolves the bearer token (by the SHA-256 of the secret, through a
//! short-lived cache, [`super::TokenCache`]) to a [`Caller`]: the token's id, the person's name and a
//! role. Reading needs any valid token; a write handler takes an [`Editor`] (editor or admin) and gets
//! the [`Actor`] it writes as from it, so every change names the person; token management takes an
//! [`Admin`]. Unknown or revoked token: 401. Role too weak: 403 with rule `role_<the caller's role>`.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use safemesh_store::{TokenRole, hash_secret};

use super::caller::Caller;
use super::state::{ApiState, Shared};
use crate::records::{Actor, RecordError};

fn unauthorized() -> RecordError {
    RecordError {
        status: 401,
        field: Some("Authorization".into()),
        rule: None,
        message: "缺少、错误或已吊销的令牌 / missing, wrong or revoked bearer token".into(),
    }
}

/// The caller, if its role is at least `need`; otherwise 403 with rule `role_<its role>`.
fn require(parts: &Parts, need: TokenRole) -> Result<Caller, RecordError> {
    let caller = parts
        .extensions
        .get::<Caller>()
        .cloned()
        .ok_or_else(unauthorized)?;
    check_role(caller, need)
}

pub(crate) fn check_role(caller: Caller, need: TokenRole) -> Result<Caller, RecordError> {
    if caller.role >= need {
        return Ok(caller);
    }
    let (name, role, label) = (&caller.name, caller.role.as_str(), caller.role.label());
    let message = match need {
        TokenRole::Admin => format!(
            "管理令牌需要管理员令牌，当前令牌“{name}”为{label}角色 / managing tokens needs an admin token; token {name:?} is {role}"
        ),
        _ => format!(
            "只读令牌“{name}”不能修改记录，需要编辑或管理员令牌 / token {name:?} is a viewer token (read only); writing needs an editor or admin token"
        ),
    };
    Err(RecordError::forbidden(&format!("role_{role}"), message))
}

/// A caller who may write records (role editor or admin).
pub struct Editor(pub Caller);

/// A caller who may manage tokens (role admin).
pub struct Admin(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Editor {
    type Rejection = RecordError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        require(parts, TokenRole::Editor).map(Editor)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = RecordError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        require(parts, TokenRole::Admin).map(Admin)
    }
}

impl Editor {
    /// The identity this caller writes as: this office, this node's actor id, the token's name.
    pub(crate) fn actor(&self, st: &ApiState) -> Actor {
        Actor {
            user: self.0.name.clone(),
            ..st.actor.clone()
        }
    }
}

/// Resolves the bearer token to a [`Caller`] (401 if there is none, or it is unknown or revoked).
pub(crate) async fn auth(State(st): State<Shared>, mut req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(secret) = presented else {
        return unauthorized().into_response();
    };
    // Tokens are found by the SHA-256 of the secret: the secret is never compared or stored, and the
    // time a lookup takes says nothing about it.
    match st.tokens.resolve(&st.store, &hash_secret(secret)).await {
        Ok(Some(caller)) => {
            // Every method but GET and HEAD changes something: editor at least, whatever the handler
            // asks for (a handler that writes also takes an `Editor` or `Admin`).
            let reads = matches!(*req.method(), Method::GET | Method::HEAD);
            let caller = match check_role(
                caller,
                if reads {
                    TokenRole::Viewer
                } else {
                    TokenRole::Editor
                },
            ) {
                Ok(c) => c,
                Err(e) => return e.into_response(),
            };
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Ok(None) => unauthorized().into_response(),
        Err(e) => RecordError::from(e).into_response(),
    }
}
