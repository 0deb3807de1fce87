//! The HTTP JSON API under `/api/v1` (docs/API.md). Errors name the field and the reason, in Chinese
//! and English.
//!
//! The API is built from parts ([`parts::PARTS`]: this node's endpoints, each record kind's, the
//! workbooks', the reports', the tokens'), each with its routes and its part of the OpenAPI
//! document; [`table`] is what the router is built from. What the handlers share — the state, the
//! token check and the [`Editor`](crate::http::Editor) / [`Admin`](crate::http::Admin) extractors,
//! the error body — is [`crate::http`]. Beside `/api/v1`: `/healthz`, `/readyz` and `/metrics`
//! ([`crate::metrics`]); every request is counted in the metrics under the route it matched. A
//! request of the API or the UI takes a turn and reads a bounded body ([`crate::http::limits`]).

pub mod node;
pub mod parts;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::Method;
use axum::middleware;
use axum::routing::get;

use crate::http::{Admission, ApiRoute, Shared, admit, auth, no_route, route, wrong_method};

/// Every route of `/api/v1`: the OpenAPI document (served without a token), then each part's. The
/// router is built from this and nothing else, and the OpenAPI document must list exactly these
/// (tests/tests/openapi.rs), so a route cannot be added undocumented.
fn table() -> Vec<ApiRoute> {
    let mut table = vec![ApiRoute {
        public: true,
        ..route(Method::GET, "/openapi.json", get(crate::openapi::document))
    }];
    for part in parts::PARTS {
        table.extend((part.routes)());
    }
    table
}

/// Every route the API serves, as (method, full path), e.g. `(GET, "/api/v1/hazards/{id}")`: what
/// the router is built from.
pub fn routes() -> Vec<(Method, String)> {
    table()
        .into_iter()
        .map(|r| (r.method, format!("/api/v1{}", r.path)))
        .collect()
}

pub fn router(state: Shared) -> Router {
    let (public, private): (Vec<_>, Vec<_>) = table().into_iter().partition(|r| r.public);
    let mut api = Router::new();
    for r in private {
        api = api.route(r.path, r.handler);
    }
    // The 405 answer is set on the routes there are, before the token check wraps them; a wrong
    // method is checked after the token (a caller without one learns nothing but 401).
    api = api
        .method_not_allowed_fallback(wrong_method)
        .route_layer(middleware::from_fn_with_state(state.clone(), auth));
    for r in public {
        api = api.route(r.path, r.handler.fallback(wrong_method));
    }
    let api = api.fallback(no_route).with_state(state.clone());
    let limits = &state.limits;
    Router::new()
        .nest("/api/v1", api)
        // `nest` leaves the bare prefix with a slash to the outer router.
        .route("/api/v1/", axum::routing::any(no_route))
        .merge(crate::ui::router(state.clone()))
        // Every request of the API and the UI takes a turn, and reads at most `max_body_bytes`
        // (a route may set its own bound, as the workbook import does); the health checks and the
        // metrics below do not, so a busy node still answers them.
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            Admission::new(limits),
            admit,
        ))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz).with_state(state.clone()))
        .route(
            "/metrics",
            get(crate::metrics::scrape).with_state(state.clone()),
        )
        // Last, so they wrap every route: each request counted under the route it matched, and
        // run in its `http.request` span.
        .layer(middleware::from_fn_with_state(state, crate::metrics::track))
        .layer(middleware::from_fn(crate::http::trace::span))
}

/// `GET /readyz` — 就绪: the store answers with this build's format (its migrations are done). No
/// token, like `/healthz`; `503` with the reason (text) when not ready, for a load balancer or
/// systemd's health check.
async fn readyz(State(st): State<Shared>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match st.store.ready().await {
        Ok(format) => format!("ready (format {format})").into_response(),
        Err(e) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("未就绪 / not ready: {e}"),
        )
            .into_response(),
    }
}
