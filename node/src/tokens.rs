//! API tokens over HTTP: the token endpoints under `/api/v1/tokens` (admin only). The tokens
//! themselves are the store's; the cache the API's `auth` middleware resolves them through is
//! [`crate::http::TokenCache`].

use axum::Json;
use axum::extract::State;
use axum::http::{Method as M, StatusCode};
use axum::routing::{delete, get, post};
use safemesh_store::{TokenRole, TokenRow, token_name};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::OpenApi;

pub use crate::http::TOKEN_CACHE_TTL;
use crate::http::{Admin, ApiPart, ApiRoute, Body, Errors, Path, Query, Shared, route};
use crate::records::{Page, PageQuery, RecordError};

/// 令牌 — the tokens' part of `/api/v1` (admin only).
pub const API: ApiPart = ApiPart {
    routes,
    openapi: Doc::openapi,
};

fn routes() -> Vec<ApiRoute> {
    vec![
        route(M::GET, "/tokens", get(list)),
        route(M::POST, "/tokens", post(create)),
        route(M::DELETE, "/tokens/{id}", delete(revoke)),
    ]
}

#[derive(OpenApi)]
#[openapi(
    paths(list, create, revoke),
    tags((name = "tokens", description = "令牌（管理员） / tokens (admin)"))
)]
struct Doc;

/// A token as the API shows it: never its secret or hash.
pub fn token_json(t: &TokenRow) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "role": t.role.as_str(),
        "created": t.created,
        "revoked": t.revoked,
    })
}

/// `GET /tokens` — oldest first (`created`, then `id`), revoked ones included; one page.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(PageQuery),
    responses((status = 200, description = "一页令牌 / one page of tokens", body = Page), Errors))]
pub async fn list(
    State(st): State<Shared>,
    _: Admin,
    Query(p): Query<PageQuery>,
) -> Result<Json<Page>, RecordError> {
    let paging = p.paging()?;
    let (rows, total) = st.store.tokens_page(paging.limit, paging.offset).await?;
    Ok(Json(
        paging.page(rows.iter().map(token_json).collect(), total),
    ))
}

/// Input of `POST /api/v1/tokens`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    pub name: Option<String>,
    pub role: Option<String>,
}

/// `POST /tokens` — the secret is in this response only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, description = "令牌及其密钥（仅此一次） / the token with its secret, shown once", body = Value), Errors))]
pub async fn create(
    State(st): State<Shared>,
    Admin(by): Admin,
    Body(input): Body<NewToken>,
) -> Result<(StatusCode, Json<Value>), RecordError> {
    let name = token_name(input.name.as_deref().unwrap_or(""))?;
    let role = match input.role.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(RecordError::bad("role", "角色必填 / role is required"));
        }
        Some(r) => TokenRole::parse(r).ok_or_else(|| {
            RecordError::bad(
                "role",
                format!("角色应为 只读、编辑、管理员 或 监控 / role must be viewer, editor, admin or metrics, got {r:?}"),
            )
        })?,
    };
    let (row, secret) = st.store.create_token(&name, role).await?;
    tracing::info!(id = %row.id, name = %row.name, role = %row.role, by = %by.name, "token created");
    let mut v = token_json(&row);
    v["secret"] = secret.into();
    Ok((StatusCode::CREATED, Json(v)))
}

/// `DELETE /tokens/{id}`.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "t- + 12 hex")),
    responses((status = 200, description = "已吊销的令牌 / the revoked token", body = Value), Errors))]
pub async fn revoke(
    State(st): State<Shared>,
    Admin(by): Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>, RecordError> {
    let row = st.store.revoke_token(&id).await?;
    // Whatever happened, nothing resolved before this point is trusted again.
    st.tokens.forget();
    let row = row.ok_or_else(|| RecordError::not_found(&format!("token {id}")))?;
    tracing::info!(id = %row.id, name = %row.name, by = %by.name, "token revoked");
    Ok(Json(token_json(&row)))
}
