//! The enterprise endpoints under `/api/v1/enterprises` (docs/API.md).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::NewEnterprise;
use crate::api::{Body, Editor, Shared};
use crate::records::RecordError;

/// `GET /enterprises`.
pub async fn list(State(st): State<Shared>) -> Result<Json<Value>, RecordError> {
    Ok(Json(json!({"items": super::list(&st.store).await?})))
}

/// `POST /enterprises` — register.
pub async fn create(
    State(st): State<Shared>,
    by: Editor,
    Body(input): Body<NewEnterprise>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let e = super::create_with(&st.store, &st.hazards.sectors, &by.actor(&st), input).await?;
    Ok((StatusCode::CREATED, Json(e)))
}

/// `GET /enterprises/{credit_code}`.
pub async fn get(
    State(st): State<Shared>,
    Path(credit_code): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(super::get(&st.store, &credit_code).await?))
}
