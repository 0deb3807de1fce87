//! The OpenAPI 3 document of `/api/v1`, generated from the handlers' `#[utoipa::path]` attributes and
//! the input types' `ToSchema` derives, served at `GET /api/v1/openapi.json` without a token.
//! tests/tests/openapi.rs checks that it lists exactly the routes the router serves
//! ([`crate::api::routes`]) and that each of them answers. It is built from the same parts as the
//! router ([`PARTS`]): each part's `#[derive(OpenApi)]` names its handlers.

use std::sync::LazyLock;

use axum::Json;
use utoipa::openapi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::parts::PARTS;
use crate::http::{ErrorBody, ErrorDetail};
use crate::records::Page;

/// The document's frame: its info, this document's own path, the schemas every part shares, the
/// bearer scheme. Each part of the API ([`PARTS`]) adds its paths and tags.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "safemesh HTTP API",
        description = "每个安委办节点的 JSON 接口 / the JSON API of each 安委办 node. See docs/API.md.",
    ),
    paths(document),
    components(schemas(Page, ErrorBody, ErrorDetail)),
    modifiers(&BearerScheme),
    security(("bearer" = [])),
    tags((name = "node", description = "本节点、汇总、同步状态 / this node, roll-up, sync status")),
)]
struct ApiDoc;

/// Adds the bearer-token security scheme every route but this document needs.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "本节点签发的令牌 / a token issued by this node (viewer, editor or admin; a metrics token reads /metrics only)",
                    ))
                    .build(),
            ),
        );
    }
}

static DOCUMENT: LazyLock<serde_json::Value> = LazyLock::new(|| {
    serde_json::to_value(openapi()).unwrap_or_else(|e| serde_json::json!({"error": e.to_string()}))
});

/// The OpenAPI document: the frame, then each part's paths, in the order of [`PARTS`].
pub fn openapi() -> openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for part in PARTS {
        doc.merge((part.openapi)());
    }
    doc
}

/// `GET /api/v1/openapi.json` — this document (no token needed).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "node",
    security(()),
    responses((status = 200, description = "OpenAPI 3 文档 / the OpenAPI 3 document", content_type = "application/json"))
)]
pub async fn document() -> Json<serde_json::Value> {
    Json(DOCUMENT.clone())
}
