//! 跨站请求防护 — every request that changes something must come from one of this node's own pages.
//!
//! Two checks, before any handler runs: the browser's `Origin` (or, without it, `Referer`) must name
//! this node's own host, and the request must carry the session's CSRF token — the hidden `_csrf` field
//! every form has, or the `X-CSRF-Token` header htmx adds (`hx-headers` on `<body>`). The session cookie
//! is `SameSite=Strict` as well, so a forged post fails three ways. The token is compared in constant
//! time. A `multipart/form-data` post (the ledger import's upload) is not read here — it may be tens of
//! megabytes — so its form carries the token in its action's query string (`?_csrf=…`), accepted for
//! multipart posts only; the `Origin` check applies to it like to any other.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN, REFERER};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;

use super::page;
use super::user::UiUser;

/// The form field that carries the token.
pub const FIELD: &str = "_csrf";
/// The header htmx sends it in.
pub const HEADER: &str = "x-csrf-token";
/// The largest form body the UI reads.
pub const MAX_FORM_BYTES: usize = 1 << 20;

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The host (`name:port`) a URL names.
fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// Whether the request says it comes from a page of this node (a browser always sends `Origin` on a
/// post; a missing one with a matching `Referer` is accepted too).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let from = headers
        .get(ORIGIN)
        .or_else(|| headers.get(REFERER))
        .and_then(|v| v.to_str().ok());
    match from {
        Some(url) => host_of(url) == Some(host),
        // Neither header: not a browser form post; the token decides alone.
        None => true,
    }
}

/// The `_csrf` value of an urlencoded form body.
fn form_token(body: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v.into_owned())
}

/// Refuses a changing request that is not from this node's own page with this session's token.
pub async fn verify(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let Some(user) = req.extensions().get::<UiUser>().cloned() else {
        return page::error_page(403, "未登录，请先登录");
    };
    if !same_origin(req.headers()) {
        return page::error_page(403, "请求来源不是本系统页面，已拒绝（跨站请求）");
    }
    let header_token = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let is_multipart = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("multipart/form-data"));
    let query_token = if is_multipart {
        req.uri().query().and_then(|q| form_token(q.as_bytes()))
    } else {
        None
    };
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let (parts, body) = req.into_parts();
    let (token, body) = match header_token {
        Some(t) => (Some(t), body),
        None if is_form => {
            let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
                return page::error_page(413, "表单内容过大");
            };
            (form_token(&bytes), Body::from(bytes))
        }
        None if is_multipart => (query_token, body),
        None => (None, body),
    };
    match token {
        Some(t) if same_bytes(t.as_bytes(), user.csrf.as_bytes()) => {
            next.run(Request::from_parts(parts, body)).await
        }
        _ => page::error_page(
            403,
            "页面已过期或请求不是从本系统页面提交的（跨站请求防护），请刷新页面后重试",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_this_hosts_origin_passes() {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_static("127.0.0.1:8400"));
        h.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:8400"));
        assert!(same_origin(&h));
        h.insert(ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(!same_origin(&h));
        h.insert(
            ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8400.evil.example"),
        );
        assert!(!same_origin(&h));
    }

    #[test]
    fn the_token_is_read_from_the_form() {
        assert_eq!(
            form_token(b"kind=comment&_csrf=abc%20d&note=x").as_deref(),
            Some("abc d")
        );
        assert_eq!(form_token(b"kind=comment"), None);
        assert!(same_bytes(b"abc", b"abc"));
        assert!(!same_bytes(b"abc", b"abd"));
        assert!(!same_bytes(b"abc", b"ab"));
    }
}
