//! The route table's entries: one [`ApiRoute`] per method and path of `/api/v1`, grouped in
//! [`ApiPart`]s (a record kind's, the tokens', the reports', …), each with its part of the OpenAPI
//! document. `api::parts` lists the parts; the router and the OpenAPI document are both built from
//! that list, and tests/tests/openapi.rs checks they agree, so a route cannot be added undocumented.

use axum::http::Method;
use axum::routing::MethodRouter;

use super::state::Shared;

/// One route of `/api/v1`.
pub struct ApiRoute {
    pub method: Method,
    /// Below `/api/v1`.
    pub path: &'static str,
    /// Served without a token (documentation only).
    pub public: bool,
    pub handler: MethodRouter<Shared>,
}

/// A route that takes a token.
pub fn route(method: Method, path: &'static str, handler: MethodRouter<Shared>) -> ApiRoute {
    ApiRoute {
        method,
        path,
        public: false,
        handler,
    }
}

/// A part of `/api/v1`: its routes, and the OpenAPI document of their handlers (the `openapi` of
/// its `#[derive(utoipa::OpenApi)]`, naming the same handlers and its tag).
#[derive(Clone, Copy)]
pub struct ApiPart {
    pub routes: fn() -> Vec<ApiRoute>,
    pub openapi: fn() -> utoipa::openapi::OpenApi,
}
