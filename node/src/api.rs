//! The HTTP JSON API under `/api/v1` (docs/API.md). Bearer token from the data dir; errors name the
//! field and the reason, in Chinese and English.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use safemesh_model::AdminCode;
use safemesh_store::{HazardFilter, Store};
use safemesh_sync::Registry;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::records::{self, Actor, RecordError};

/// What the handlers share.
pub struct ApiState {
    pub store: Store,
    pub registry: Registry,
    pub code: AdminCode,
    pub name: String,
    pub parent: Option<String>,
    pub actor: Actor,
    pub extra_children: Vec<AdminCode>,
    /// SHA-256 of the admin token.
    pub token_hash: [u8; 32],
}

type Shared = Arc<ApiState>;

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
        .route("/hazards", get(list_hazards).post(create_hazard))
        .route("/hazards/{id}", get(get_hazard))
        .route("/hazards/{id}/events", post(add_event))
        .route("/directives", get(list_directives).post(create_directive))
        .route("/directives/{id}", get(get_directive))
        .route("/directives/{id}/responses", post(respond))
        .route("/rollup", get(rollup))
        .route("/sync/status", get(sync_status))
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state);
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(|| async { "ok" }))
}

async fn auth(State(st): State<Shared>, headers: HeaderMap, req: Request, next: Next) -> Response {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| Sha256::digest(t.trim().as_bytes()));
    // Compare digests, so the time taken says nothing about the token.
    match presented {
        Some(d) if d[..] == st.token_hash[..] => next.run(req).await,
        _ => RecordError {
            status: 401,
            field: Some("Authorization".into()),
            rule: None,
            message: "缺少或错误的令牌 / missing or wrong bearer token".into(),
        }
        .into_response(),
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

#[derive(Deserialize)]
struct HazardQuery {
    grade: Option<String>,
    status: Option<String>,
    owner: Option<String>,
}

async fn list_hazards(
    State(st): State<Shared>,
    Query(q): Query<HazardQuery>,
) -> Result<Json<Value>, RecordError> {
    let nonempty = |s: Option<String>| s.filter(|v| !v.is_empty());
    // Filters accept what the inputs accept (e.g. 重大) and compare canonical values.
    let grade = match nonempty(q.grade) {
        Some(g) => Some(
            safemesh_model::hazard::Grade::parse(&g)?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    let status = match nonempty(q.status) {
        Some(s) => Some(
            safemesh_model::hazard::Status::parse(&s)?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    let owner = match nonempty(q.owner) {
        Some(o) => Some(
            AdminCode::parse(&o)
                .map_err(|e| RecordError::bad("owner", e.to_string()))?
                .to_string(),
        ),
        None => None,
    };
    let items = records::list_hazards(
        &st.store,
        &HazardFilter {
            grade,
            status,
            owner,
            within: None,
        },
    )
    .await?;
    Ok(Json(json!({"items": items})))
}

async fn create_hazard(
    State(st): State<Shared>,
    Body(input): Body<records::NewHazard>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let h = records::create_hazard(&st.store, &st.actor, input).await?;
    Ok((StatusCode::CREATED, Json(h)))
}

async fn get_hazard(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(records::get_hazard(&st.store, &id).await?))
}

async fn add_event(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Body(input): Body<records::NewEvent>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let h = records::add_event(&st.store, &st.actor, &id, input).await?;
    Ok((StatusCode::CREATED, Json(h)))
}

async fn list_directives(State(st): State<Shared>) -> Result<Json<Value>, RecordError> {
    Ok(Json(
        json!({"items": records::list_directives(&st.store).await?}),
    ))
}

async fn create_directive(
    State(st): State<Shared>,
    Body(input): Body<records::NewDirective>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let d = records::create_directive(&st.store, &st.actor, &st.extra_children, input).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

async fn get_directive(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(records::get_directive(&st.store, &id).await?))
}

async fn respond(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Body(input): Body<records::NewResponse>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let d = records::respond(&st.store, &st.actor, &id, input).await?;
    Ok((StatusCode::CREATED, Json(d)))
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
        let pending_out = st
            .store
            .pending_for(&peer, row.acked_cursor, is_parent)
            .await?;
        let pending_in = (s.peer_seq - s.recv_cursor).max(0);
        seen.push(s.peer.clone());
        links.push(json!({
            "peer": s.peer,
            "name": safemesh_model::division::name_of(&peer),
            "role": s.role,
            "state": s.state,
            "last_sync_at": s.last_sync_at.or(row.last_sync_at),
            "pending_out": pending_out,
            "pending_in": pending_in,
            "bytes_in": s.bytes_in,
            "bytes_out": s.bytes_out,
            "inflight": s.inflight,
            "last_error": s.last_error,
            "quarantined": s.quarantined,
        }));
    }
    // Children known from earlier runs that have not connected since this start.
    for row in stored.iter().filter(|r| !seen.contains(&r.peer)) {
        let Ok(peer) = AdminCode::parse(&row.peer) else {
            continue;
        };
        let role = if peer.is_direct_child_of(&st.code) {
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
    Ok(Json(
        json!({"code": st.code.as_str(), "seq": st.store.current_seq(), "links": links}),
    ))
}
