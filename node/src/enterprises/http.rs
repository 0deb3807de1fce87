//! The enterprise endpoints under `/api/v1/enterprises` (docs/API.md).

use axum::Json;
use axum::extract::State;
use axum::http::{Method as M, StatusCode};
use axum::routing;
use serde_json::Value;
use utoipa::OpenApi;

use super::{EnterpriseUpdate, NewEnterprise};
use crate::http::{ApiPart, ApiRoute, Body, Editor, Errors, Path, Query, Shared, route};
use crate::records::{Page, PageQuery, RecordError};

/// 企业 — the enterprises' part of `/api/v1`.
pub const API: ApiPart = ApiPart {
    routes,
    openapi: Doc::openapi,
};

fn routes() -> Vec<ApiRoute> {
    vec![
        route(M::GET, "/enterprises", routing::get(list)),
        route(M::POST, "/enterprises", routing::post(create)),
        route(M::GET, "/enterprises/{credit_code}", routing::get(get)),
        route(
            M::PATCH,
            "/enterprises/{credit_code}",
            routing::patch(update),
        ),
    ]
}

#[derive(OpenApi)]
#[openapi(
    paths(list, create, get, update),
    tags((name = "enterprises", description = "企业 / enterprises"))
)]
struct Doc;

/// `GET /enterprises` — by name, then document id; one page.
#[utoipa::path(get, path = "/api/v1/enterprises", tag = "enterprises", params(PageQuery),
    responses((status = 200, description = "一页企业 / one page of enterprises", body = Page), Errors))]
pub async fn list(
    State(st): State<Shared>,
    Query(p): Query<PageQuery>,
) -> Result<Json<Page>, RecordError> {
    Ok(Json(super::page(&st.store, p.paging()?).await?))
}

/// `POST /enterprises` — register.
#[utoipa::path(post, path = "/api/v1/enterprises", tag = "enterprises", request_body = NewEnterprise,
    responses((status = 201, description = "登记的企业 / the enterprise registered", body = Value), Errors))]
pub async fn create(
    State(st): State<Shared>,
    by: Editor,
    Body(input): Body<NewEnterprise>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let e = super::create_with(&st.store, &st.hazards.sectors, &by.actor(&st), input).await?;
    Ok((StatusCode::CREATED, Json(e)))
}

/// `GET /enterprises/{credit_code}`.
#[utoipa::path(get, path = "/api/v1/enterprises/{credit_code}", tag = "enterprises",
    params(("credit_code" = String, Path, description = "统一社会信用代码 / unified social credit code")),
    responses((status = 200, description = "企业及其隐患、事故 / the enterprise with its hazards and accidents", body = Value), Errors))]
pub async fn get(
    State(st): State<Shared>,
    Path(credit_code): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(super::get(&st.store, &st.code, &credit_code).await?))
}

/// `PATCH /enterprises/{credit_code}` — 变更 by the registering office; the history keeps each change.
#[utoipa::path(patch, path = "/api/v1/enterprises/{credit_code}", tag = "enterprises",
    params(("credit_code" = String, Path, description = "统一社会信用代码 / unified social credit code")),
    request_body = EnterpriseUpdate,
    responses((status = 200, description = "变更后的企业 / the enterprise after the update", body = Value), Errors))]
pub async fn update(
    State(st): State<Shared>,
    by: Editor,
    Path(credit_code): Path<String>,
    Body(input): Body<EnterpriseUpdate>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(
        super::update(
            &st.store,
            &st.hazards.sectors,
            &by.actor(&st),
            &credit_code,
            input,
        )
        .await?,
    ))
}
