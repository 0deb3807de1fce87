//! 登录会话 — `/login` takes a token (the same tokens and roles as the API; a `metrics` token is
//! refused: it reads `/metrics` only) and sets a session cookie.
//!
//! The cookie holds a random session id only (`HttpOnly`, `SameSite=Strict`, path `/`); the session
//! keeps the SHA-256 of the token, never the token. Every request resolves that hash again through the
//! API's token cache, so a token revoked through the API ends its sessions at the next request, and
//! one revoked from the CLI within [`crate::http::TOKEN_CACHE_TTL`]. Sessions live in memory: a restart
//! asks everyone to log in again, which is what an office expects of a restarted server. Idle sessions
//! end after [`IDLE`]; at most [`MAX_SESSIONS`] are kept (the oldest idle one goes first).

use std::sync::Arc;

use axum::extract::{Form, Query, Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use safemesh_store::hash_secret;
use serde::Deserialize;

use super::page::{self, LoginView};
pub use super::sessions::{IDLE, MAX_SESSIONS};
pub use super::user::UiUser;
use crate::http::ApiState;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "safemesh_session";
/// The session id the request's cookie names, if any.
pub fn cookie_session(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn set_cookie(value: &str, max_age: Option<u64>) -> HeaderValue {
    let age = max_age
        .map(|a| format!("; Max-Age={a}"))
        .unwrap_or_default();
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Strict{age}"
    ))
    .expect("cookie is ASCII")
}

/// Where a login goes back to: only a path on this node.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

/// Lets a request with a live session through, with its [`UiUser`]; sends everyone else to `/login`.
pub async fn require(State(st): State<Arc<ApiState>>, mut req: Request, next: Next) -> Response {
    let back = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let to_login = || {
        let target = format!("/login?next={}", urlencode(&back));
        Redirect::to(&target).into_response()
    };
    let Some(id) = cookie_session(req.headers()) else {
        return to_login();
    };
    let Some((hash, csrf)) = st.sessions.touch(&id) else {
        return to_login();
    };
    match st.tokens.resolve(&st.store, &hash).await {
        Ok(Some(caller)) if caller.role.may_read_records() => {
            req.extensions_mut().insert(UiUser {
                caller,
                session: id,
                csrf,
            });
            next.run(req).await
        }
        Ok(_) => {
            // Revoked (or deleted), or a token that may not use the UI: every session of it ends.
            st.sessions.end_token(&hash);
            to_login()
        }
        Err(e) => page::error_page(500, &format!("令牌查询失败：{e}")),
    }
}

/// Percent-encodes a path for a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /login` — the token form.
pub async fn login_form(State(st): State<Arc<ApiState>>, Query(q): Query<LoginQuery>) -> Response {
    page::render(
        StatusCode::OK,
        &LoginView {
            office: st.name.clone(),
            code: st.code.to_string(),
            next: safe_next(q.next.as_deref()),
            error: String::new(),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    next: Option<String>,
}

/// `POST /login` — checks the token and starts a session.
pub async fn login(State(st): State<Arc<ApiState>>, Form(f): Form<LoginForm>) -> Response {
    let next = safe_next(f.next.as_deref());
    let secret = f.token.trim();
    let refuse = |msg: &str| {
        page::render(
            StatusCode::UNAUTHORIZED,
            &LoginView {
                office: st.name.clone(),
                code: st.code.to_string(),
                next: next.clone(),
                error: msg.to_string(),
            },
        )
    };
    if secret.is_empty() {
        return refuse("请输入令牌");
    }
    let hash = hash_secret(secret);
    match st.tokens.resolve(&st.store, &hash).await {
        Ok(Some(caller)) if !caller.role.may_read_records() => {
            refuse("监控令牌只能读取 /metrics，不能登录工作台")
        }
        Ok(Some(caller)) => {
            let id = st.sessions.create(hash);
            tracing::info!(token = %caller.token_id, name = %caller.name, "ui login");
            let mut resp = Redirect::to(&next).into_response();
            resp.headers_mut()
                .insert(SET_COOKIE, set_cookie(&id, Some(IDLE.as_secs())));
            resp
        }
        Ok(None) => refuse("令牌无效或已吊销，请向本级管理员索取有效令牌"),
        Err(e) => page::error_page(500, &format!("令牌查询失败：{e}")),
    }
}

/// `POST /logout` — ends the session and clears the cookie.
pub async fn logout(
    State(st): State<Arc<ApiState>>,
    axum::Extension(user): axum::Extension<UiUser>,
) -> Response {
    st.sessions.end(&user.session);
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut()
        .insert(SET_COOKIE, set_cookie("", Some(0)));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_read_only_when_well_formed_and_next_stays_on_this_node() {
        let id = "a".repeat(64);
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_str(&format!("x=1; {COOKIE_NAME}={id}")).unwrap(),
        );
        assert_eq!(cookie_session(&h), Some(id));
        h.insert(
            COOKIE,
            HeaderValue::from_static("safemesh_session=../../etc"),
        );
        assert_eq!(cookie_session(&h), None);
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(
            safe_next(Some("/hazards?grade=major")),
            "/hazards?grade=major"
        );
    }
}
