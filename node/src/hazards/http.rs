//! The hazard endpoints under `/api/v1/hazards` (docs/API.md).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{Method as M, StatusCode};
use axum::routing;
use serde::Serialize;
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use super::{HazardQuery, NewEvent, NewHazard};
use crate::clock::today;
use crate::http::{ApiPart, ApiRoute, ApiState, Body, Editor, Errors, Path, Query, route};
use crate::records::{Page, PageQuery, RecordError};

/// 隐患 — the hazards' part of `/api/v1`.
pub const API: ApiPart = ApiPart {
    routes,
    openapi: Doc::openapi,
};

fn routes() -> Vec<ApiRoute> {
    vec![
        route(M::GET, "/hazards", routing::get(list)),
        route(M::POST, "/hazards", routing::post(create)),
        route(
            M::GET,
            "/hazards/escalation-candidates",
            routing::get(escalation_candidates),
        ),
        route(M::GET, "/hazards/replies-due", routing::get(replies_due)),
        route(
            M::GET,
            "/hazards/acceptance-due",
            routing::get(acceptance_due),
        ),
        route(M::GET, "/hazards/{id}", routing::get(get)),
        route(M::POST, "/hazards/{id}/events", routing::post(add_event)),
    ]
}

#[derive(OpenApi)]
#[openapi(
    paths(list, create, escalation_candidates, replies_due, acceptance_due, get, add_event),
    components(schemas(EscalationCandidates, RepliesDue, AcceptanceDue)),
    tags((name = "hazards", description = "隐患 / hazards"))
)]
struct Doc;

type Shared = Arc<ApiState>;

/// `GET /hazards` — the ledger, filtered, one page.
#[utoipa::path(get, path = "/api/v1/hazards", tag = "hazards", params(HazardQuery),
    responses((status = 200, description = "一页隐患台账 / one page of the ledger", body = Page), Errors))]
pub async fn list(
    State(st): State<Shared>,
    Query(q): Query<HazardQuery>,
) -> Result<Json<Page>, RecordError> {
    let page = super::ledger(&st.store, &st.hazards, today(), q).await?;
    Ok(Json(Page {
        items: page.items,
        total: page.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// `POST /hazards` — register.
#[utoipa::path(post, path = "/api/v1/hazards", tag = "hazards", request_body = NewHazard,
    responses((status = 201, description = "登记的隐患 / the hazard registered", body = Value), Errors))]
pub async fn create(
    State(st): State<Shared>,
    by: Editor,
    Body(input): Body<NewHazard>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let h = super::create(&st.store, &st.hazards, &by.actor(&st), input).await?;
    Ok((StatusCode::CREATED, Json(h)))
}

/// `GET /hazards/{id}`.
#[utoipa::path(get, path = "/api/v1/hazards/{id}", tag = "hazards",
    params(("id" = String, Path, description = "h- + 32 hex")),
    responses((status = 200, description = "隐患 / the hazard", body = Value), Errors))]
pub async fn get(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RecordError> {
    Ok(Json(super::get(&st.store, &st.hazards, &id).await?))
}

/// `POST /hazards/{id}/events`.
#[utoipa::path(post, path = "/api/v1/hazards/{id}/events", tag = "hazards",
    params(("id" = String, Path, description = "h- + 32 hex")), request_body = NewEvent,
    responses((status = 201, description = "加了事件的隐患 / the hazard with the event", body = Value), Errors))]
pub async fn add_event(
    State(st): State<Shared>,
    by: Editor,
    Path(id): Path<String>,
    Body(input): Body<NewEvent>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let h = super::add_event(&st.store, &st.hazards, &by.actor(&st), &id, input).await?;
    Ok((StatusCode::CREATED, Json(h)))
}

/// 升级督办候选 — one page of them, and the office they are candidates for.
#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationCandidates {
    /// This office.
    pub office: String,
    #[serde(flatten)]
    pub page: Page,
}

/// `GET /hazards/escalation-candidates` — what this office should consider escalating, most overdue
/// first (then by id), one page.
#[utoipa::path(get, path = "/api/v1/hazards/escalation-candidates", tag = "hazards", params(PageQuery),
    responses((status = 200, description = "升级督办候选 / escalation candidates", body = EscalationCandidates), Errors))]
pub async fn escalation_candidates(
    State(st): State<Shared>,
    Query(p): Query<PageQuery>,
) -> Result<Json<EscalationCandidates>, RecordError> {
    let paging = p.paging()?;
    let items = super::escalation_candidates(&st.store, &st.code).await?;
    Ok(Json(EscalationCandidates {
        office: st.code.as_str().to_string(),
        page: paging.slice(items),
    }))
}

/// 书面回复待收 — one page of them, and the escalating office they are owed to.
#[derive(Debug, Serialize, ToSchema)]
pub struct RepliesDue {
    /// This office.
    pub office: String,
    #[serde(flatten)]
    pub page: Page,
}

/// `GET /hazards/replies-due` — this office's escalations whose written reply is late or not yet
/// recorded, most late first, one page.
#[utoipa::path(get, path = "/api/v1/hazards/replies-due", tag = "hazards", params(PageQuery),
    responses((status = 200, description = "书面回复待收 / written replies owed to this office", body = RepliesDue), Errors))]
pub async fn replies_due(
    State(st): State<Shared>,
    Query(p): Query<PageQuery>,
) -> Result<Json<RepliesDue>, RecordError> {
    let paging = p.paging()?;
    let items = super::replies_due(&st.store, &st.code).await?;
    Ok(Json(RepliesDue {
        office: st.code.as_str().to_string(),
        page: paging.slice(items),
    }))
}

/// 待本级验收 — one page of them, and the accepting office.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptanceDue {
    /// This office.
    pub office: String,
    #[serde(flatten)]
    pub page: Page,
}

/// `GET /hazards/acceptance-due` — the hazards awaiting this office's acceptance (it supervises them,
/// or owns them unlisted), those past the acceptance period first: the acceptor's delay, which is
/// not the owner's 逾期. One page.
#[utoipa::path(get, path = "/api/v1/hazards/acceptance-due", tag = "hazards", params(PageQuery),
    responses((status = 200, description = "待本级验收 / hazards awaiting this office's acceptance", body = AcceptanceDue), Errors))]
pub async fn acceptance_due(
    State(st): State<Shared>,
    Query(p): Query<PageQuery>,
) -> Result<Json<AcceptanceDue>, RecordError> {
    let paging = p.paging()?;
    let items = super::acceptance_due(&st.store, &st.hazards, &st.code).await?;
    Ok(Json(AcceptanceDue {
        office: st.code.as_str().to_string(),
        page: paging.slice(items),
    }))
}
