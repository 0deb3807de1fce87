//! The hazard endpoints under `/api/v1/hazards` (docs/API.md).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{HazardQuery, NewEvent, NewHazard};
use crate::api::{ApiState, Body, Editor};
use crate::clock::today;
use crate::records::RecordError;

type Shared = Arc<ApiState>;

/// `GET /hazards` — the ledger, filtered.
pub async fn list(
    State(st): State<Shared>,
    Query(q): Query<HazardQuery>,
) -> Result<Json<Value>, RecordError> {
    let page = super::ledger(&st.store, &st.hazards, today(), q).await?;
    Ok(Json(json!({
        "items": page.items,
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
    })))
}

/// `POST /hazards` — register.
pub async fn create(
    State(st): State<Shared>,
    by: Editor,
    Body(input): Body<NewHazard>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let h = super::create(&st.store, &st.hazards, &by.actor(&st), input).await?;
    Ok((StatusCode::CREATED, Json(h)))
}

/// `GET /hazards/{id}`.
pub async fn get(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(super::get(&st.store, &id).await?))
}

/// `POST /hazards/{id}/events`.
pub async fn add_event(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewEvent>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let h = super::add_event(&st.store, &by.actor(&st), &id, input).await?;
    Ok((StatusCode::CREATED, Json(h)))
}

/// `GET /hazards/escalation-candidates` — what this office should consider escalating.
pub async fn escalation_candidates(State(st): State<Shared>) -> Result<Json<Value>, RecordError> {
    let items = super::escalation_candidates(&st.store, &st.code).await?;
    Ok(Json(json!({"office": st.code.as_str(), "items": items})))
}
