//! The HTTP handlers of `/api/v1/directives` (docs/API.md, "Directives"). Each validates nothing itself:
//! it hands the request to [`crate::directives`] (writes) or [`crate::board`] (reads).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::api::{ApiState, Body, Editor};
use crate::directives::{self, Here, NewDirective, NewEventDate, NewResponse};
use crate::records::{Actor, RecordError};

type Shared = Arc<ApiState>;

/// The identity a request writes as: this office, this node's actor id, the token's name.
fn actor(st: &ApiState, by: &Editor) -> Actor {
    Actor {
        user: by.0.name.clone(),
        ..st.actor.clone()
    }
}

fn here(st: &ApiState) -> Here<'_> {
    Here {
        extra_children: &st.extra_children,
        unit_groups: &st.unit_groups,
    }
}

pub async fn list(
    State(st): State<Shared>,
    Query(f): Query<crate::board::ListFilter>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(
        json!({"items": crate::board::list(&st.store, &f).await?}),
    ))
}

pub async fn vocabulary() -> Json<Value> {
    Json(crate::board::vocabulary())
}

pub async fn create(
    State(st): State<Shared>,
    by: Editor,
    Body(input): Body<NewDirective>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let d = directives::create(&st.store, &actor(&st, &by), here(&st), input).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

pub async fn get(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(crate::board::get(&st.store, &id).await?))
}

pub async fn board(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(crate::board::board(&st.store, &id).await?))
}

pub async fn respond(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewResponse>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let d = directives::respond(&st.store, &actor(&st, &by), &id, input).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

pub async fn forward(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewDirective>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let d = directives::forward(&st.store, &actor(&st, &by), here(&st), &id, input).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

pub async fn event(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewEventDate>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(
        directives::set_event_date(&st.store, &actor(&st, &by), &id, input).await?,
    ))
}
