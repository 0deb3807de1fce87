//! The accident endpoints under `/api/v1/accidents` (docs/API.md).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{NewAccident, NewAccidentEvent};
use crate::api::{Body, Editor, Shared};
use crate::records::RecordError;

/// `GET /accidents`.
pub async fn list(State(st): State<Shared>) -> Result<Json<Value>, RecordError> {
    Ok(Json(json!({"items": super::list(&st.store).await?})))
}

/// `POST /accidents` — register.
pub async fn create(
    State(st): State<Shared>,
    by: Editor,
    Body(input): Body<NewAccident>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let a = super::create_with(&st.store, &st.hazards.sectors, &by.actor(&st), input).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// `GET /accidents/{id}`.
pub async fn get(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(super::get(&st.store, &id).await?))
}

/// `POST /accidents/{id}/events` — a review or a comment.
pub async fn add_event(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewAccidentEvent>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let a = super::add_event(&st.store, &by.actor(&st), &id, input).await?;
    Ok((StatusCode::CREATED, Json(a)))
}
