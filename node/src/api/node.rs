//! This node's own endpoints under `/api/v1`: its identity (`/node`), the roll-up (`/rollup`) and the
//! status of its links (`/sync/status`).

use axum::Json;
use axum::extract::State;
use axum::http::Method as M;
use axum::routing::get;
use safemesh_model::AdminCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, OpenApi};

use crate::http::{ApiPart, ApiRoute, ApiState, Errors, Query, Shared, route};
use crate::records::RecordError;

/// 本节点 — this node's part of `/api/v1`.
pub const API: ApiPart = ApiPart {
    routes,
    openapi: Doc::openapi,
};

fn routes() -> Vec<ApiRoute> {
    vec![
        route(M::GET, "/node", get(node)),
        route(M::GET, "/rollup", get(rollup)),
        route(M::GET, "/sync/status", get(sync_status)),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(node, rollup, sync_status))]
struct Doc;

/// `GET /node` — this node's identity.
#[utoipa::path(get, path = "/api/v1/node", tag = "node",
    responses((status = 200, description = "{code, name, level, parent, parent_addr}", body = Value), Errors))]
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
    responses((status = 200, description = "汇总 / the roll-up", body = Value), Errors))]
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
    responses((status = 200, description = "同步状态 / link status", body = Value), Errors))]
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
