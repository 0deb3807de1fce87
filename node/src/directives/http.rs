//! The directive endpoints under `/api/v1/directives` (docs/API.md, "Directives"). Each validates nothing
//! itself: it hands the request to the operations of [`crate::directives`].

use axum::Json;
use axum::extract::State;
use axum::http::{Method as M, StatusCode};
use axum::routing;
use serde_json::Value;
use utoipa::OpenApi;

use super::{Here, ListFilter, NewDirective, NewEventDate, NewReminder, NewResponse, NewReview};
use crate::http::{ApiPart, ApiRoute, ApiState, Body, Editor, Errors, Path, Query, Shared, route};
use crate::records::{Page, PageQuery, RecordError};

/// 任务 — the directives' part of `/api/v1`.
pub const API: ApiPart = ApiPart {
    routes,
    openapi: Doc::openapi,
};

fn routes() -> Vec<ApiRoute> {
    vec![
        route(M::GET, "/directives", routing::get(list)),
        route(M::POST, "/directives", routing::post(create)),
        route(M::GET, "/directives/vocabulary", routing::get(vocabulary)),
        route(M::GET, "/directives/{id}", routing::get(get)),
        route(
            M::POST,
            "/directives/{id}/responses",
            routing::post(respond),
        ),
        route(M::POST, "/directives/{id}/reviews", routing::post(review)),
        route(M::POST, "/directives/{id}/reminders", routing::post(remind)),
        route(M::POST, "/directives/{id}/forward", routing::post(forward)),
        route(M::POST, "/directives/{id}/event", routing::post(event)),
        route(M::GET, "/directives/{id}/board", routing::get(board)),
    ]
}

#[derive(OpenApi)]
#[openapi(
    paths(list, create, vocabulary, get, respond, review, remind, forward, event, board),
    tags((name = "directives", description = "任务 / directives"))
)]
struct Doc;

/// What group references resolve to at this node.
fn here(st: &ApiState) -> Here<'_> {
    Here {
        extra_children: &st.extra_children,
        unit_groups: &st.unit_groups,
    }
}

/// `GET /directives` — the directives held, with their totals, newest first (`created` descending,
/// then `id`), one page: filtered first, then paged.
#[utoipa::path(get, path = "/api/v1/directives", tag = "directives", params(ListFilter, PageQuery),
    responses((status = 200, description = "一页任务 / one page of directives", body = Page), Errors))]
pub async fn list(
    State(st): State<Shared>,
    Query(f): Query<ListFilter>,
    Query(p): Query<PageQuery>,
) -> Result<Json<Page>, RecordError> {
    let paging = p.paging()?;
    Ok(Json(paging.slice(
        super::list(&st.store, &f, st.hazards.due_soon_days).await?,
    )))
}

/// `GET /directives/vocabulary` — the names the inputs accept.
#[utoipa::path(get, path = "/api/v1/directives/vocabulary", tag = "directives",
    responses((status = 200, description = "可选名称 / the names the inputs accept", body = Value), Errors))]
pub async fn vocabulary() -> Json<Value> {
    Json(super::vocabulary())
}

/// `POST /directives` — issue.
#[utoipa::path(post, path = "/api/v1/directives", tag = "directives", request_body = NewDirective,
    responses((status = 201, description = "下发的任务 / the directive issued", body = Value), Errors))]
pub async fn create(
    State(st): State<Shared>,
    by: Editor,
    Body(input): Body<NewDirective>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let d = super::create(
        &st.store,
        &by.actor(&st),
        here(&st),
        input,
        st.hazards.due_soon_days,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// `GET /directives/{id}`.
#[utoipa::path(get, path = "/api/v1/directives/{id}", tag = "directives", params(("id" = String, Path, description = "d- + 32 hex")),
    responses((status = 200, description = "任务 / the directive", body = Value), Errors))]
pub async fn get(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(
        super::get(&st.store, &id, st.hazards.due_soon_days).await?,
    ))
}

/// `GET /directives/{id}/board` — the battle map.
#[utoipa::path(get, path = "/api/v1/directives/{id}/board", tag = "directives", params(("id" = String, Path, description = "d- + 32 hex")),
    responses((status = 200, description = "挂图作战 / the battle map", body = Value), Errors))]
pub async fn board(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(
        super::board(&st.store, &id, st.hazards.due_soon_days).await?,
    ))
}

/// `POST /directives/{id}/responses`.
#[utoipa::path(post, path = "/api/v1/directives/{id}/responses", tag = "directives", params(("id" = String, Path, description = "d- + 32 hex")),
    request_body = NewResponse,
    responses((status = 201, description = "任务 / the directive", body = Value), Errors))]
pub async fn respond(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewResponse>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let d = super::respond(
        &st.store,
        &by.actor(&st),
        &id,
        input,
        st.hazards.due_soon_days,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// `POST /directives/{id}/reviews` — 审核: the issuer approves (审核通过) or returns (退回, with a
/// reason) a unit's completion awaiting review.
#[utoipa::path(post, path = "/api/v1/directives/{id}/reviews", tag = "directives", params(("id" = String, Path, description = "d- + 32 hex")),
    request_body = NewReview,
    responses((status = 201, description = "任务 / the directive", body = Value), Errors))]
pub async fn review(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewReview>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let d = super::review(
        &st.store,
        &by.actor(&st),
        &id,
        input,
        st.hazards.due_soon_days,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// `POST /directives/{id}/reminders` — 催办: the issuer reminds the units named.
#[utoipa::path(post, path = "/api/v1/directives/{id}/reminders", tag = "directives", params(("id" = String, Path, description = "d- + 32 hex")),
    request_body = NewReminder,
    responses((status = 201, description = "任务 / the directive", body = Value), Errors))]
pub async fn remind(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewReminder>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let d = super::remind(
        &st.store,
        &by.actor(&st),
        &id,
        input,
        st.hazards.due_soon_days,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// `POST /directives/{id}/forward` — forward or break down to this node's children.
#[utoipa::path(post, path = "/api/v1/directives/{id}/forward", tag = "directives", params(("id" = String, Path, description = "d- + 32 hex")),
    request_body = NewDirective,
    responses((status = 201, description = "转发的任务 / the forwarded directive", body = Value), Errors))]
pub async fn forward(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewDirective>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let d = super::forward(
        &st.store,
        &by.actor(&st),
        here(&st),
        &id,
        input,
        st.hazards.due_soon_days,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// `POST /directives/{id}/event` — the date an after-event deadline counts from.
#[utoipa::path(post, path = "/api/v1/directives/{id}/event", tag = "directives", params(("id" = String, Path, description = "d- + 32 hex")),
    request_body = NewEventDate,
    responses((status = 200, description = "任务 / the directive", body = Value), Errors))]
pub async fn event(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewEventDate>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(
        super::set_event_date(
            &st.store,
            &by.actor(&st),
            &id,
            input,
            st.hazards.due_soon_days,
        )
        .await?,
    ))
}
