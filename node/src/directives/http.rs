//! The directive endpoints under `/api/v1/directives` (docs/API.md, "Directives"). Each validates nothing
//! itself: it hands the request to the operations of [`crate::directives`].

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Here, ListFilter, NewDirective, NewEventDate, NewResponse};
use crate::api::{ApiState, Body, Editor, Shared};
use crate::records::RecordError;

/// What group references resolve to at this node.
fn here(st: &ApiState) -> Here<'_> {
    Here {
        extra_children: &st.extra_children,
        unit_groups: &st.unit_groups,
    }
}

/// `GET /directives` — every directive held, with its totals.
pub async fn list(
    State(st): State<Shared>,
    Query(f): Query<ListFilter>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(json!({"items": super::list(&st.store, &f).await?})))
}

/// `GET /directives/vocabulary` — the names the inputs accept.
pub async fn vocabulary() -> Json<Value> {
    Json(super::vocabulary())
}

/// `POST /directives` — issue.
pub async fn create(
    State(st): State<Shared>,
    by: Editor,
    Body(input): Body<NewDirective>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let d = super::create(&st.store, &by.actor(&st), here(&st), input).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// `GET /directives/{id}`.
pub async fn get(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(super::get(&st.store, &id).await?))
}

/// `GET /directives/{id}/board` — the battle map.
pub async fn board(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(super::board(&st.store, &id).await?))
}

/// `POST /directives/{id}/responses`.
pub async fn respond(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewResponse>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let d = super::respond(&st.store, &by.actor(&st), &id, input).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// `POST /directives/{id}/forward` — forward or break down to this node's children.
pub async fn forward(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewDirective>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let d = super::forward(&st.store, &by.actor(&st), here(&st), &id, input).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// `POST /directives/{id}/event` — the date an after-event deadline counts from.
pub async fn event(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewEventDate>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(
        super::set_event_date(&st.store, &by.actor(&st), &id, input).await?,
    ))
}
