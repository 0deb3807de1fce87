//! This node's own endpoints under `/api/v1`: its identity (`/node`), the roll-up (`/rollup`) and the
//! status of its links (`/sync/status`).

use axum::Json;
use axum::extract::State;
use axum::http::Method as M;
use axum::routing::get;
use safemesh_link::LinkStatus;
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
    // This office's jurisdiction, and the functional zones it runs (`extra_children`).
    if !scope.is_within(&st.code) && !st.extra_children.contains(&scope) {
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
        &st.extra_children,
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

/// One link as operators see it: what its runner reports (if it ran since this start) and what the
/// store says is still to send. `GET /sync/status`, the UI's 同步状态 page and `/metrics` all read
/// these, so they cannot disagree.
pub(crate) struct LinkReport {
    pub peer: AdminCode,
    /// `parent` or `child`.
    pub role: String,
    /// One of [`safemesh_link::LINK_STATES`].
    pub state: String,
    pub last_sync_at: Option<String>,
    pub last_error: Option<String>,
    /// Documents and summaries in the peer's scope written after its acknowledged cursor, and their
    /// stored bytes.
    pub to_send_docs: i64,
    pub to_send_bytes: i64,
    /// The runner's status; `None` for a child known from earlier runs that has not connected since
    /// this start (`state` is then `disconnected`).
    pub live: Option<LinkStatus>,
}

impl LinkReport {
    /// Lag in the peer's sequence numbers: what it announced and this node has not durably received.
    pub fn lag_seq(&self) -> Option<i64> {
        self.live
            .as_ref()
            .map(|s| (s.peer_seq - s.recv_cursor).max(0))
    }

    /// Documents and bytes the peer said it still has to send (nothing once in sync).
    pub fn to_receive(&self) -> (u64, u64) {
        match &self.live {
            Some(s) if self.state != "in_sync" => (s.to_receive_docs, s.to_receive_bytes),
            _ => (0, 0),
        }
    }

    /// Share of this stream's work done, in percent with one decimal.
    pub fn completion_pct(&self) -> f64 {
        let Some(s) = &self.live else {
            return 100.0;
        };
        let done = s.received_docs + s.sent_docs;
        let left = self.to_receive().0 + self.to_send_docs.max(0) as u64;
        if done + left == 0 {
            100.0
        } else {
            (done as f64 * 1000.0 / (done + left) as f64).floor() / 10.0
        }
    }
}

/// Every link of this node: those in the registry, then children known from earlier runs that have
/// not connected since this start.
pub(crate) async fn link_reports(st: &ApiState) -> Result<Vec<LinkReport>, RecordError> {
    let mut out = Vec::new();
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
        let (to_send_docs, to_send_bytes) = st
            .store
            .pending_size_for(&peer, row.acked_cursor, s.role == "parent")
            .await?;
        out.push(LinkReport {
            peer,
            role: s.role.clone(),
            state: s.state.clone(),
            last_sync_at: s.last_sync_at.clone().or(row.last_sync_at),
            last_error: s.last_error.clone(),
            to_send_docs,
            to_send_bytes,
            live: Some(s),
        });
    }
    for row in stored {
        let Ok(peer) = AdminCode::parse(&row.peer) else {
            continue;
        };
        if out.iter().any(|r| r.peer == peer) {
            continue;
        }
        let role = if peer.is_direct_child_of(&st.code) || st.extra_children.contains(&peer) {
            "child"
        } else {
            "parent"
        };
        let (to_send_docs, to_send_bytes) = st
            .store
            .pending_size_for(&peer, row.acked_cursor, role == "parent")
            .await?;
        out.push(LinkReport {
            peer,
            role: role.to_string(),
            state: "disconnected".to_string(),
            last_sync_at: row.last_sync_at,
            last_error: row.last_error,
            to_send_docs,
            to_send_bytes,
            live: None,
        });
    }
    Ok(out)
}

/// What `GET /api/v1/sync/status` answers (the UI's 同步状态 page shows the same).
pub(crate) async fn sync_status_value(st: &ApiState) -> Result<Value, RecordError> {
    let links: Vec<Value> = link_reports(st)
        .await?
        .into_iter()
        .map(|r| {
            let name = safemesh_model::division::name_of(&r.peer);
            let Some(s) = &r.live else {
                return json!({
                    "peer": r.peer.as_str(),
                    "name": name,
                    "role": r.role,
                    "state": r.state,
                    "last_sync_at": r.last_sync_at,
                    "pending_out": r.to_send_docs,
                    "pending_in": Value::Null,
                    "bytes_in": 0,
                    "bytes_out": 0,
                    "inflight": 0,
                    "last_error": r.last_error,
                    "quarantined": [],
                });
            };
            let (to_receive_docs, to_receive_bytes) = r.to_receive();
            json!({
                "peer": r.peer.as_str(),
                "name": name,
                "role": r.role,
                "state": r.state,
                "last_sync_at": r.last_sync_at,
                "pending_out": r.to_send_docs,
                "pending_in": r.lag_seq(),
                "completion_pct": r.completion_pct(),
                "to_send": {"docs": r.to_send_docs, "bytes": r.to_send_bytes},
                "to_receive": {"docs": to_receive_docs, "bytes": to_receive_bytes},
                "sent_docs": s.sent_docs,
                "received_docs": s.received_docs,
                "bytes_in": s.bytes_in,
                "bytes_out": s.bytes_out,
                "inflight": s.inflight,
                "last_error": r.last_error,
                "quarantined": s.quarantined,
                "doc_syncs": s.doc_syncs,
                "rejected_batches": s.rejected_batches,
                "last_rejection": s.last_rejection,
                "refused": s.refused,
                "peer_serial": s.peer_serial,
                "peer_not_after": s.peer_not_after,
            })
        })
        .collect();
    Ok(json!({
        "code": st.code.as_str(),
        "seq": st.store.current_seq(),
        "links": links,
        "rejected_handshakes": st.registry.rejected_handshakes(),
    }))
}
