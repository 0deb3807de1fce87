//! The HTTP JSON API under `/api/v1` (docs/API.md). Errors name the field and the reason, in Chinese
//! and English.
//!
//! Every request carries a bearer token. [`auth`] resolves it (by the SHA-256 of the secret, through a
//! short-lived cache, [`TokenCache`]) to a [`Caller`]: the token's id, the person's name and a role.
//! Reading needs any valid token; a write handler takes an [`Editor`] (editor or admin) and gets the
//! [`Actor`] it writes as from it, so every change names the person; token management takes an
//! [`Admin`]. Unknown or revoked token: 401. Role too weak: 403 with rule `role_<the caller's role>`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use safemesh_link::Registry;
use safemesh_model::AdminCode;
use safemesh_store::{Role, Store, TokenRow, hash_secret, token_name};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::directive_api;
use crate::hazards::http as hazards;
use crate::records::{Actor, RecordError};

/// What the handlers share.
pub struct ApiState {
    pub store: Store,
    pub registry: Registry,
    pub code: AdminCode,
    pub name: String,
    pub parent: Option<String>,
    /// The node's writer identity; each request writes as a copy of it carrying the caller's name.
    pub actor: Actor,
    pub extra_children: Vec<AdminCode>,
    /// What the department groups of directives stand for here (config `unit_groups`).
    pub unit_groups: std::collections::BTreeMap<String, Vec<String>>,
    /// Sector dictionary and 存量/增量 cut-off (from the config).
    pub hazards: crate::hazards::Settings,
    /// Tokens resolved recently.
    pub tokens: TokenCache,
}

type Shared = Arc<ApiState>;

/// Who is calling: resolved from the bearer token by [`auth`] and put in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub token_id: String,
    /// The token's name: the person recorded in every change this request makes.
    pub name: String,
    pub role: Role,
}

/// How long the API trusts a token it has looked up before asking the store again. A token revoked
/// through this node's API (`DELETE /api/v1/tokens/{id}`) is refused from the next request on; one
/// revoked from outside (`safemesh token revoke`, another process on the same store) within this time.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(2);

/// Resolved tokens by hash, each trusted for [`TOKEN_CACHE_TTL`]. Only valid tokens are kept, so the
/// cache holds at most one entry per token the store knows.
#[derive(Default)]
pub struct TokenCache {
    inner: std::sync::Mutex<TokenCacheInner>,
}

#[derive(Default)]
struct TokenCacheInner {
    /// Bumped on every revocation through this node, so a lookup that raced with one is not cached.
    generation: u64,
    entries: HashMap<String, (Caller, Instant)>,
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, TokenCacheInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The caller whose token hashes to `hash`, if the token exists and is not revoked.
    pub async fn resolve(
        &self,
        store: &Store,
        hash: &str,
    ) -> Result<Option<Caller>, safemesh_store::Error> {
        let generation = {
            let c = self.lock();
            if let Some((caller, at)) = c.entries.get(hash)
                && at.elapsed() < TOKEN_CACHE_TTL
            {
                return Ok(Some(caller.clone()));
            }
            c.generation
        };
        let caller = store.token_by_hash(hash).await?.map(|t| Caller {
            token_id: t.id,
            name: t.name,
            role: t.role,
        });
        let mut c = self.lock();
        match &caller {
            Some(found) if c.generation == generation => {
                if c.entries.len() >= 1024 {
                    c.entries
                        .retain(|_, (_, at)| at.elapsed() < TOKEN_CACHE_TTL);
                }
                c.entries
                    .insert(hash.to_string(), (found.clone(), Instant::now()));
            }
            _ => {
                c.entries.remove(hash);
            }
        }
        Ok(caller)
    }

    /// Forgets everything (after a revocation), so the next request of every token asks the store.
    pub fn forget(&self) {
        let mut c = self.lock();
        c.generation += 1;
        c.entries.clear();
    }
}

fn unauthorized() -> RecordError {
    RecordError {
        status: 401,
        field: Some("Authorization".into()),
        rule: None,
        message: "缺少、错误或已吊销的令牌 / missing, wrong or revoked bearer token".into(),
    }
}

/// The caller, if its role is at least `need`; otherwise 403 with rule `role_<its role>`.
fn require(parts: &Parts, need: Role) -> Result<Caller, RecordError> {
    let caller = parts
        .extensions
        .get::<Caller>()
        .cloned()
        .ok_or_else(unauthorized)?;
    check_role(caller, need)
}

fn check_role(caller: Caller, need: Role) -> Result<Caller, RecordError> {
    if caller.role >= need {
        return Ok(caller);
    }
    let (name, role, label) = (&caller.name, caller.role.as_str(), caller.role.label());
    let message = match need {
        Role::Admin => format!(
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
        require(parts, Role::Editor).map(Editor)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = RecordError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        require(parts, Role::Admin).map(Admin)
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

impl IntoResponse for RecordError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({"error": {"status": self.status, "field": self.field, "rule": self.rule, "message": self.message}});
        (status, Json(body)).into_response()
    }
}

/// A JSON body whose rejection is reported as a 400 naming the field.
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = RecordError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(rej) => {
                let text = rej.body_text();
                // axum reports "...: <path>: <reason>" for data errors.
                let field = match &rej {
                    JsonRejection::JsonDataError(_) => text
                        .split(": ")
                        .nth(1)
                        .filter(|p| !p.contains(' '))
                        .unwrap_or("body")
                        .to_string(),
                    _ => "body".to_string(),
                };
                Err(RecordError::bad(
                    field,
                    format!("请求体无效 / invalid JSON body: {text}"),
                ))
            }
        }
    }
}

pub fn router(state: Shared) -> Router {
    let api = Router::new()
        .route("/node", get(node))
        .route("/hazards", get(hazards::list).post(hazards::create))
        .route(
            "/hazards/escalation-candidates",
            get(hazards::escalation_candidates),
        )
        .route("/hazards/{id}", get(hazards::get))
        .route("/hazards/{id}/events", post(hazards::add_event))
        .route(
            "/directives",
            get(directive_api::list).post(directive_api::create),
        )
        .route("/directives/vocabulary", get(directive_api::vocabulary))
        .route("/directives/{id}", get(directive_api::get))
        .route("/directives/{id}/responses", post(directive_api::respond))
        .route("/directives/{id}/forward", post(directive_api::forward))
        .route("/directives/{id}/event", post(directive_api::event))
        .route("/directives/{id}/board", get(directive_api::board))
        .route(
            "/enterprises",
            get(list_enterprises).post(create_enterprise),
        )
        .route("/enterprises/{credit_code}", get(get_enterprise))
        .route("/accidents", get(list_accidents).post(create_accident))
        .route("/accidents/{id}", get(get_accident))
        .route("/accidents/{id}/events", post(add_accident_event))
        .route("/rollup", get(rollup))
        .route("/sync/status", get(sync_status))
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{id}", delete(revoke_token))
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state);
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(|| async { "ok" }))
}

/// Resolves the bearer token to a [`Caller`] (401 if there is none, or it is unknown or revoked).
async fn auth(State(st): State<Shared>, mut req: Request, next: Next) -> Response {
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
            let caller = match check_role(caller, if reads { Role::Viewer } else { Role::Editor }) {
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

async fn node(State(st): State<Shared>) -> Json<Value> {
    Json(json!({
        "code": st.code.as_str(),
        "name": st.name,
        "level": st.code.level().as_str(),
        "parent": st.code.parent().map(|p| p.to_string()),
        "parent_addr": st.parent,
    }))
}

async fn list_enterprises(State(st): State<Shared>) -> Result<Json<Value>, RecordError> {
    Ok(Json(
        json!({"items": crate::enterprises::list(&st.store).await?}),
    ))
}

async fn create_enterprise(
    State(st): State<Shared>,
    by: Editor,
    Body(input): Body<crate::enterprises::NewEnterprise>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let e = crate::enterprises::create_with(&st.store, &st.hazards.sectors, &by.actor(&st), input)
        .await?;
    Ok((StatusCode::CREATED, Json(e)))
}

async fn get_enterprise(
    State(st): State<Shared>,
    Path(credit_code): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(
        crate::enterprises::get(&st.store, &credit_code).await?,
    ))
}

async fn list_accidents(State(st): State<Shared>) -> Result<Json<Value>, RecordError> {
    Ok(Json(
        json!({"items": crate::accidents::list(&st.store).await?}),
    ))
}

async fn create_accident(
    State(st): State<Shared>,
    by: Editor,
    Body(input): Body<crate::accidents::NewAccident>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let a = crate::accidents::create_with(&st.store, &st.hazards.sectors, &by.actor(&st), input)
        .await?;
    Ok((StatusCode::CREATED, Json(a)))
}

async fn get_accident(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(crate::accidents::get(&st.store, &id).await?))
}

async fn add_accident_event(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<crate::accidents::NewAccidentEvent>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let a = crate::accidents::add_event(&st.store, &by.actor(&st), &id, input).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

#[derive(Deserialize)]
struct RollupQuery {
    scope: Option<String>,
}

async fn rollup(
    State(st): State<Shared>,
    Query(q): Query<RollupQuery>,
) -> Result<Json<Value>, RecordError> {
    let scope = match q.scope.filter(|s| !s.is_empty()) {
        Some(s) => AdminCode::parse(&s).map_err(|e| RecordError::bad("scope", e.to_string()))?,
        None => st.code.clone(),
    };
    if !scope.is_within(&st.code) {
        return Err(RecordError::bad(
            "scope",
            format!("{scope} 不在本级辖区内 / {scope} is outside this node's jurisdiction"),
        ));
    }
    let v = crate::rollup::view(&st.store, &st.code, &st.name, &scope)
        .await?
        .ok_or_else(|| {
            RecordError::not_found(&format!("summary of {scope} (尚未上报 / not reported yet)"))
        })?;
    Ok(Json(v))
}

async fn sync_status(State(st): State<Shared>) -> Result<Json<Value>, RecordError> {
    let mut links = Vec::new();
    let mut seen = Vec::new();
    let stored = st.store.links().await?;
    for s in st.registry.all() {
        let Ok(peer) = AdminCode::parse(&s.peer) else {
            continue;
        };
        let row = stored
            .iter()
            .find(|r| r.peer == s.peer)
            .cloned()
            .unwrap_or_default();
        let is_parent = s.role == "parent";
        let (pending_out, pending_out_bytes) = st
            .store
            .pending_size_for(&peer, row.acked_cursor, is_parent)
            .await?;
        let pending_in = (s.peer_seq - s.recv_cursor).max(0);
        let to_receive = if s.state == "in_sync" {
            0
        } else {
            s.to_receive_docs
        };
        let done = s.received_docs + s.sent_docs;
        let left = to_receive + pending_out.max(0) as u64;
        let completion = if done + left == 0 {
            100.0
        } else {
            (done as f64 * 1000.0 / (done + left) as f64).floor() / 10.0
        };
        seen.push(s.peer.clone());
        links.push(json!({
            "peer": s.peer,
            "name": safemesh_model::division::name_of(&peer),
            "role": s.role,
            "state": s.state,
            "last_sync_at": s.last_sync_at.or(row.last_sync_at),
            "pending_out": pending_out,
            "pending_in": pending_in,
            "completion_pct": completion,
            "to_send": {"docs": pending_out, "bytes": pending_out_bytes},
            "to_receive": {
                "docs": to_receive,
                "bytes": if s.state == "in_sync" { 0 } else { s.to_receive_bytes },
            },
            "sent_docs": s.sent_docs,
            "received_docs": s.received_docs,
            "bytes_in": s.bytes_in,
            "bytes_out": s.bytes_out,
            "inflight": s.inflight,
            "last_error": s.last_error,
            "quarantined": s.quarantined,
            "doc_syncs": s.doc_syncs,
            "rejected_batches": s.rejected_batches,
            "last_rejection": s.last_rejection,
            "refused": s.refused,
            "peer_serial": s.peer_serial,
            "peer_not_after": s.peer_not_after,
        }));
    }
    // Children known from earlier runs that have not connected since this start.
    for row in stored.iter().filter(|r| !seen.contains(&r.peer)) {
        let Ok(peer) = AdminCode::parse(&row.peer) else {
            continue;
        };
        let role = if peer.is_direct_child_of(&st.code) || st.extra_children.contains(&peer) {
            "child"
        } else {
            "parent"
        };
        links.push(json!({
            "peer": row.peer,
            "name": safemesh_model::division::name_of(&peer),
            "role": role,
            "state": "disconnected",
            "last_sync_at": row.last_sync_at,
            "pending_out": st.store.pending_for(&peer, row.acked_cursor, role == "parent").await?,
            "pending_in": Value::Null,
            "bytes_in": 0,
            "bytes_out": 0,
            "inflight": 0,
            "last_error": row.last_error,
            "quarantined": [],
        }));
    }
    Ok(Json(json!({
        "code": st.code.as_str(),
        "seq": st.store.current_seq(),
        "links": links,
        "rejected_handshakes": st.registry.rejected_handshakes(),
    })))
}

/// A token as the API shows it: never its secret or hash.
pub fn token_json(t: &TokenRow) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "role": t.role.as_str(),
        "created": t.created,
        "revoked": t.revoked,
    })
}

async fn list_tokens(State(st): State<Shared>, _: Admin) -> Result<Json<Value>, RecordError> {
    let items: Vec<Value> = st
        .store
        .list_tokens()
        .await?
        .iter()
        .map(token_json)
        .collect();
    Ok(Json(json!({"items": items})))
}

/// Input of `POST /api/v1/tokens`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewToken {
    pub name: Option<String>,
    pub role: Option<String>,
}

async fn create_token(
    State(st): State<Shared>,
    Admin(by): Admin,
    Body(input): Body<NewToken>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let name = token_name(input.name.as_deref().unwrap_or(""))?;
    let role = match input.role.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(RecordError::bad("role", "role 必填 / role is required"));
        }
        Some(r) => Role::parse(r).ok_or_else(|| {
            RecordError::bad(
                "role",
                format!("role 应为 viewer、editor 或 admin / role must be viewer, editor or admin, got {r:?}"),
            )
        })?,
    };
    let (row, secret) = st.store.create_token(&name, role).await?;
    tracing::info!(id = %row.id, name = %row.name, role = %row.role, by = %by.name, "token created");
    let mut v = token_json(&row);
    v["secret"] = secret.into();
    Ok((StatusCode::CREATED, Json(v)))
}

async fn revoke_token(
    State(st): State<Shared>,
    Admin(by): Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>, RecordError> {
    let row = st.store.revoke_token(&id).await?;
    // Whatever happened, nothing resolved before this point is trusted again.
    st.tokens.forget();
    let row = row.ok_or_else(|| RecordError::not_found(&format!("token {id}")))?;
    tracing::info!(id = %row.id, name = %row.name, by = %by.name, "token revoked");
    Ok(Json(token_json(&row)))
}
