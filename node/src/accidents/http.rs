//! The accident endpoints under `/api/v1/accidents` (docs/API.md).

use axum::Json;
use axum::extract::State;
use axum::http::{Method as M, StatusCode};
use axum::routing;
use serde_json::Value;
use utoipa::OpenApi;

use super::{NewAccident, NewAccidentEvent, NewSupplement};
use crate::http::{ApiPart, ApiRoute, Body, Editor, Errors, Path, Query, Shared, route};
use crate::records::{Page, PageQuery, RecordError};

/// 事故 — the accidents' part of `/api/v1`.
pub const API: ApiPart = ApiPart {
    routes,
    openapi: Doc::openapi,
};

fn routes() -> Vec<ApiRoute> {
    vec![
        route(M::GET, "/accidents", routing::get(list)),
        route(M::POST, "/accidents", routing::post(create)),
        route(M::GET, "/accidents/{id}", routing::get(get)),
        route(M::POST, "/accidents/{id}/events", routing::post(add_event)),
        route(
            M::POST,
            "/accidents/{id}/supplements",
            routing::post(supplement),
        ),
    ]
}

#[derive(OpenApi)]
#[openapi(
    paths(list, create, get, add_event, supplement),
    tags((name = "accidents", description = "事故 / accidents"))
)]
struct Doc;

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

/// `POST /accidents/{id}/supplements` — 补报: the registering office corrects the casualty figures
/// within 30 days of the accident (7 for fire and road traffic); the grade follows, the history keeps
/// each correction.
#[utoipa::path(post, path = "/api/v1/accidents/{id}/supplements", tag = "accidents",
    params(("id" = String, Path, description = "a- + 32 hex")), request_body = NewSupplement,
    responses((status = 201, description = "补报后的事故 / the accident after the correction", body = Value), Errors))]
pub async fn supplement(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewSupplement>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let a = super::supplement(&st.store, &by.actor(&st), &id, input).await?;
    Ok((StatusCode::CREATED, Json(a)))
}
