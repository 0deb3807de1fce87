//! The HTTP JSON API under `/api/v1` (docs/API.md). Errors name the field and the reason, in Chinese
//! and English.
//!
//! Every request carries a bearer token. [`auth`] resolves it (by the SHA-256 of the secret, through a
//! short-lived cache, [`TokenCache`]) to a [`Caller`]: the token's id, the person's name and a role.
//! Reading needs any valid token; a write handler takes an [`Editor`] (editor or admin) and gets the
//! [`Actor`] it writes as from it, so every change names the person; token management takes an
//! [`Admin`]. Unknown or revoked token: 401. Role too weak: 403 with rule `role_<the caller's role>`.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use axum::{Json, Router};
use safemesh_link::Registry;
use safemesh_model::AdminCode;
use safemesh_store::{Store, TokenRole, hash_secret};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::records::{Actor, RecordError};
use crate::tokens::TokenCache;
use crate::{accidents, directives, enterprises, excel, hazards, tokens};

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
    pub hazards: Arc<hazards::HazardSettings>,
    /// Tokens resolved recently.
    pub tokens: TokenCache,
    /// The web UI's logged-in sessions.
    pub sessions: crate::ui::Sessions,
}

/// The state every handler takes.
pub type Shared = Arc<ApiState>;

/// Who is calling: resolved from the bearer token by [`auth`] and put in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub token_id: String,
    /// The token's name: the person recorded in every change this request makes.
    pub name: String,
    pub role: TokenRole,
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

/// The body of every error under `/api/v1`: `{"error": {status, field, rule, message}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, for a program (`status`, `field`, `rule`) and for a person (`message`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// The HTTP status, repeated.
    pub status: u16,
    /// The input at fault, as a path (`enterprise.credit_code`, `targets[1]`, `limit`, `id`, `body`,
    /// `Authorization`); `path` for an unknown route, `method` for a wrong method; null when no input
    /// is at fault.
    pub field: Option<String>,
    /// For 403: the authority rule that refused the write, or `role_<role>`; otherwise null.
    pub rule: Option<String>,
    /// Chinese, then ` / `, then English.
    pub message: String,
}

impl IntoResponse for RecordError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail {
                status: self.status,
                field: self.field,
                rule: self.rule,
                message: self.message,
            },
        };
        (status, Json(body)).into_response()
    }
}

/// A query string whose rejection is reported as a 400 naming the parameter.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = RecordError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let field = match e.path().to_string() {
                    p if p == "." || p.is_empty() => "query".to_string(),
                    p => p,
                };
                let reason = e.into_inner();
                RecordError::bad(
                    field.clone(),
                    format!("查询参数 {field} 无效 / invalid query parameter {field}: {reason}"),
                )
            })
    }
}

/// Path parameters whose rejection is reported as a 400 naming the parameter.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = RecordError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let field = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key }
                    | ErrorKind::DeserializeError { key, .. } => key.clone(),
                    _ => "path".to_string(),
                };
                Err(RecordError::bad(
                    field.clone(),
                    format!(
                        "路径参数 {field} 无效 / invalid path parameter {field}: {}",
                        e.body_text()
                    ),
                ))
            }
            Err(other) => Err(RecordError::internal(other.body_text())),
        }
    }
}

/// The answer to a path no route of `/api/v1` matches: 404, `field: "path"`.
async fn no_route(uri: Uri) -> RecordError {
    let path = uri.path();
    RecordError {
        status: 404,
        field: Some("path".into()),
        rule: None,
        message: format!("没有这个接口：{path} / no such route: {path} (see /api/v1/openapi.json)"),
    }
}

/// The answer to a method a route of `/api/v1` does not take: 405, `field: "method"` (the `Allow`
/// header lists those it takes).
async fn wrong_method(method: Method, uri: Uri) -> RecordError {
    let path = uri.path();
    RecordError {
        status: 405,
        field: Some("method".into()),
        rule: None,
        message: format!(
            "该接口不支持 {method} 请求 / {method} is not allowed on {path} (the Allow header lists the methods it takes)"
        ),
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

/// One route of `/api/v1`. The router is built from [`table`] and nothing else, and the OpenAPI
/// document must list exactly these (tests/tests/openapi.rs), so a route cannot be added undocumented.
struct ApiRoute {
    method: Method,
    /// Below `/api/v1`.
    path: &'static str,
    /// Served without a token (documentation only).
    public: bool,
    handler: MethodRouter<Shared>,
}

fn table() -> Vec<ApiRoute> {
    fn r(method: Method, path: &'static str, handler: MethodRouter<Shared>) -> ApiRoute {
        ApiRoute {
            method,
            path,
            public: false,
            handler,
        }
    }
    use Method as M;
    vec![
        ApiRoute {
            public: true,
            ..r(M::GET, "/openapi.json", get(crate::openapi::document))
        },
        r(M::GET, "/node", get(node)),
        r(M::GET, "/hazards", get(hazards::http::list)),
        r(M::POST, "/hazards", post(hazards::http::create)),
        r(
            M::GET,
            "/hazards/escalation-candidates",
            get(hazards::http::escalation_candidates),
        ),
        r(
            M::GET,
            "/hazards/export.xlsx",
            get(excel::http::export_hazards),
        ),
        r(
            M::GET,
            "/hazards/import-template.xlsx",
            get(excel::http::import_template),
        ),
        r(
            M::POST,
            "/hazards/import",
            post(excel::http::import).layer(DefaultBodyLimit::max(excel::http::MAX_UPLOAD_BYTES)),
        ),
        r(
            M::GET,
            "/hazards/replies-due",
            get(hazards::http::replies_due),
        ),
        r(M::GET, "/hazards/{id}", get(hazards::http::get)),
        r(
            M::POST,
            "/hazards/{id}/events",
            post(hazards::http::add_event),
        ),
        r(M::GET, "/directives", get(directives::http::list)),
        r(M::POST, "/directives", post(directives::http::create)),
        r(
            M::GET,
            "/directives/vocabulary",
            get(directives::http::vocabulary),
        ),
        r(
            M::GET,
            "/directives/export.xlsx",
            get(excel::http::export_directives),
        ),
        r(M::GET, "/directives/{id}", get(directives::http::get)),
        r(
            M::POST,
            "/directives/{id}/responses",
            post(directives::http::respond),
        ),
        r(
            M::POST,
            "/directives/{id}/forward",
            post(directives::http::forward),
        ),
        r(
            M::POST,
            "/directives/{id}/event",
            post(directives::http::event),
        ),
        r(
            M::GET,
            "/directives/{id}/board",
            get(directives::http::board),
        ),
        r(M::GET, "/enterprises", get(enterprises::http::list)),
        r(M::POST, "/enterprises", post(enterprises::http::create)),
        r(
            M::GET,
            "/enterprises/{credit_code}",
            get(enterprises::http::get),
        ),
        r(M::GET, "/accidents", get(accidents::http::list)),
        r(M::POST, "/accidents", post(accidents::http::create)),
        r(M::GET, "/accidents/{id}", get(accidents::http::get)),
        r(
            M::POST,
            "/accidents/{id}/events",
            post(accidents::http::add_event),
        ),
        r(M::GET, "/rollup", get(rollup)),
        r(
            M::GET,
            "/reports/monthly",
            get(crate::reports::monthly_http),
        ),
        r(
            M::GET,
            "/reports/bulletin",
            get(crate::reports::bulletin_http),
        ),
        r(M::GET, "/sync/status", get(sync_status)),
        r(M::GET, "/tokens", get(tokens::list)),
        r(M::POST, "/tokens", post(tokens::create)),
        r(M::DELETE, "/tokens/{id}", delete(tokens::revoke)),
    ]
}

/// Every route the API serves, as (method, full path), e.g. `(GET, "/api/v1/hazards/{id}")`: what
/// the router is built from.
pub fn routes() -> Vec<(Method, String)> {
    table()
        .into_iter()
        .map(|r| (r.method, format!("/api/v1{}", r.path)))
        .collect()
}

pub fn router(state: Shared) -> Router {
    let (public, private): (Vec<_>, Vec<_>) = table().into_iter().partition(|r| r.public);
    let mut api = Router::new();
    for r in private {
        api = api.route(r.path, r.handler);
    }
    // The 405 answer is set on the routes there are, before the token check wraps them; a wrong
    // method is checked after the token (a caller without one learns nothing but 401).
    api = api
        .method_not_allowed_fallback(wrong_method)
        .route_layer(middleware::from_fn_with_state(state.clone(), auth));
    for r in public {
        api = api.route(r.path, r.handler.fallback(wrong_method));
    }
    let api = api.fallback(no_route).with_state(state.clone());
    Router::new()
        .nest("/api/v1", api)
        // `nest` leaves the bare prefix with a slash to the outer router.
        .route("/api/v1/", axum::routing::any(no_route))
        .route("/healthz", get(|| async { "ok" }))
        .merge(crate::ui::router(state))
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

/// `GET /node` — this node's identity.
#[utoipa::path(get, path = "/api/v1/node", tag = "node",
    responses((status = 200, description = "{code, name, level, parent, parent_addr}", body = Value), crate::openapi::Errors))]
pub(crate) async fn node(State(st): State<Shared>) -> Json<Value> {
    Json(json!({
        "code": st.code.as_str(),
        "name": st.name,
        "level": st.code.level().as_str(),
        "parent": st.code.parent().map(|p| p.to_string()),
        "parent_addr": st.parent,
    }))
}

/// The query of `GET /rollup`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RollupQuery {
    /// A code: this node (default) or a descendant whose summary has arrived.
    scope: Option<String>,
}

/// `GET /rollup` — 汇总 over this node or a descendant.
#[utoipa::path(get, path = "/api/v1/rollup", tag = "node", params(RollupQuery),
    responses((status = 200, description = "汇总 / the roll-up", body = Value), crate::openapi::Errors))]
pub(crate) async fn rollup(
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
    let v = crate::rollup::view(
        &st.store,
        &st.code,
        &st.name,
        &scope,
        st.hazards.due_soon_days,
    )
    .await?
    .ok_or_else(|| RecordError {
        status: 404,
        field: None,
        rule: None,
        message: format!(
            "{scope} 尚未上报汇总 / no summary of {scope} has arrived yet (not reported)"
        ),
    })?;
    Ok(Json(v))
}

/// `GET /sync/status` — 同步状态 of this node's links.
#[utoipa::path(get, path = "/api/v1/sync/status", tag = "node",
    responses((status = 200, description = "同步状态 / link status", body = Value), crate::openapi::Errors))]
pub(crate) async fn sync_status(State(st): State<Shared>) -> Result<Json<Value>, RecordError> {
    Ok(Json(sync_status_value(&st).await?))
}

/// What `GET /api/v1/sync/status` answers (the UI's 同步状态 page shows the same).
pub(crate) async fn sync_status_value(st: &ApiState) -> Result<Value, RecordError> {
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
    Ok(json!({
        "code": st.code.as_str(),
        "seq": st.store.current_seq(),
        "links": links,
        "rejected_handshakes": st.registry.rejected_handshakes(),
    }))
}
