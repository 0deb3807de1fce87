//! API tokens over HTTP: the cache the API's `auth` middleware resolves bearer tokens through, and the
//! token endpoints under `/api/v1/tokens` (admin only). The tokens themselves are the store's.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use safemesh_store::{Store, TokenRole, TokenRow, token_name};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{Admin, Body, Caller, Path, Query, Shared};
use crate::openapi::Errors;
use crate::records::{Page, PageQuery, RecordError};

/// How long the API trusts a token it has looked up before asking the store again. A token revoked
/// through this node's API (`DELETE /api/v1/tokens/{id}`) is refused from the next request on; one
/// revoked from outside (`safemesh token revoke`, another process on the same store) within this time.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(2);

/// Resolved tokens by hash, each trusted for [`TOKEN_CACHE_TTL`]. Only valid tokens are kept, so the
/// cache holds at most one entry per token the store knows.
#[derive(Default)]
pub struct TokenCache {
    inner: std::sync::Mutex<TokenCacheInner>,
}

#[derive(Default)]
struct TokenCacheInner {
    /// Bumped on every revocation through this node, so a lookup that raced with one is not cached.
    generation: u64,
    entries: HashMap<String, (Caller, Instant)>,
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, TokenCacheInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The caller whose token hashes to `hash`, if the token exists and is not revoked.
    pub async fn resolve(
        &self,
        store: &Store,
        hash: &str,
    ) -> Result<Option<Caller>, safemesh_store::Error> {
        let generation = {
            let c = self.lock();
            if let Some((caller, at)) = c.entries.get(hash)
                && at.elapsed() < TOKEN_CACHE_TTL
            {
                return Ok(Some(caller.clone()));
            }
            c.generation
        };
        let caller = store.token_by_hash(hash).await?.map(|t| Caller {
            token_id: t.id,
            name: t.name,
            role: t.role,
        });
        let mut c = self.lock();
        match &caller {
            Some(found) if c.generation == generation => {
                if c.entries.len() >= 1024 {
                    c.entries
                        .retain(|_, (_, at)| at.elapsed() < TOKEN_CACHE_TTL);
                }
                c.entries
                    .insert(hash.to_string(), (found.clone(), Instant::now()));
            }
            _ => {
                c.entries.remove(hash);
            }
        }
        Ok(caller)
    }

    /// Forgets everything (after a revocation), so the next request of every token asks the store.
    pub fn forget(&self) {
        let mut c = self.lock();
        c.generation += 1;
        c.entries.clear();
    }
}

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
                format!("角色应为 只读、编辑 或 管理员 / role must be viewer, editor or admin, got {r:?}"),
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
