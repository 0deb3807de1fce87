//! 请求追踪 — each HTTP request (API and web UI) runs in an `http.request` span: method, path and
//! status, continuing the caller's trace when the request carries a W3C `traceparent` header. The
//! record operations, store commits and link hops below it are its children, so one change is one
//! trace across the mesh (`safemesh_link::trace`).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The middleware (`Router::layer(middleware::from_fn(trace::span))`).
pub async fn span(req: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "http.request",
        method = %req.method(),
        path = %req.uri().path(),
        status = tracing::field::Empty,
    );
    if let Some(tp) = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
    {
        safemesh_link::trace::continue_from(&span, &[tp.to_string()]);
    }
    let resp = next.run(req).instrument(span.clone()).await;
    span.record("status", resp.status().as_u16());
    resp
}
