//! Who is calling: [`auth`] resolves the bearer token (by the SHA-256 of the secret, through a
//! short-lived cache, [`super::TokenCache`]) to a [`Caller`]: the token's id, the person's name and a
//! role. Reading needs a viewer token at least; a write handler takes an [`Editor`] (editor or
//! admin) and gets the [`Actor`] it writes as from it, so every change names the person; token
//! management takes an [`Admin`]. Unknown or revoked token: 401. Role too weak: 403 with rule `role_<the caller's role>`
//! (a `metrics` token reads `/metrics` only, so it gets 403 everywhere under `/api/v1`).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
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
        _ if caller.role == TokenRole::Metrics => format!(
            "监控令牌“{name}”只能读取 /metrics / token {name:?} is a metrics token: it may read /metrics only"
        ),
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

/// The caller the request's bearer token names (401 if there is none, or it is unknown or revoked).
pub(crate) async fn caller(st: &ApiState, headers: &HeaderMap) -> Result<Caller, RecordError> {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(secret) = presented else {
        return Err(unauthorized());
    };
    // Tokens are found by the SHA-256 of the secret: the secret is never compared or stored, and the
    // time a lookup takes says nothing about it.
    st.tokens
        .resolve(&st.store, &hash_secret(secret))
        .await?
        .ok_or_else(unauthorized)
}

/// Resolves the bearer token to a [`Caller`] (401 if there is none, or it is unknown or revoked).
pub(crate) async fn auth(State(st): State<Shared>, mut req: Request, next: Next) -> Response {
    let caller = match caller(&st, req.headers()).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    // Every method but GET and HEAD changes something: editor at least, whatever the handler asks
    // for (a handler that writes also takes an `Editor` or `Admin`).
    let reads = matches!(*req.method(), Method::GET | Method::HEAD);
    let need = if reads {
        TokenRole::Viewer
    } else {
        TokenRole::Editor
    };
    match check_role(caller, need) {
        Ok(c) => {
            req.extensions_mut().insert(c);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}
