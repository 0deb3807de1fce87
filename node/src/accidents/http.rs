//! The accident endpoints under `/api/v1/accidents` (docs/API.md).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use super::{NewAccident, NewAccidentEvent};
use crate::api::{Body, Editor, Path, Query, Shared};
use crate::openapi::Errors;
use crate::records::{Page, PageQuery, RecordError};

/// `GET /accidents` — newest `occurred_at` first, then `id`; one page.
#[utoipa::path(get, path = "/api/v1/accidents", tag = "accidents", params(PageQuery),
    responses((status = 200, description = "一页事故 / one page of accidents", body = Page), Errors))]
pub async fn list(
    State(st): State<Shared>,
    Query(p): Query<PageQuery>,
) -> Result<Json<Page>, RecordError> {
    Ok(Json(super::page(&st.store, p.paging()?).await?))
}

/// `POST /accidents` — register.
#[utoipa::path(post, path = "/api/v1/accidents", tag = "accidents", request_body = NewAccident,
    responses((status = 201, description = "登记的事故 / the accident registered", body = Value), Errors))]
pub async fn create(
    State(st): State<Shared>,
    by: Editor,
    Body(input): Body<NewAccident>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let a = super::create_with(&st.store, &st.hazards.sectors, &by.actor(&st), input).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// `GET /accidents/{id}`.
#[utoipa::path(get, path = "/api/v1/accidents/{id}", tag = "accidents",
    params(("id" = String, Path, description = "a- + 32 hex")),
    responses((status = 200, description = "事故 / the accident", body = Value), Errors))]
pub async fn get(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(super::get(&st.store, &id).await?))
}

/// `POST /accidents/{id}/events` — a review or a comment.
#[utoipa::path(post, path = "/api/v1/accidents/{id}/events", tag = "accidents",
    params(("id" = String, Path, description = "a- + 32 hex")), request_body = NewAccidentEvent,
    responses((status = 201, description = "事故 / the accident", body = Value), Errors))]
pub async fn add_event(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewAccidentEvent>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let a = super::add_event(&st.store, &by.actor(&st), &id, input).await?;
    Ok((StatusCode::CREATED, Json(a)))
}
