//! The OpenAPI 3 document of `/api/v1`, generated from the handlers' `#[utoipa::path]` attributes and
//! the input types' `ToSchema` derives, served at `GET /api/v1/openapi.json` without a token.
//! tests/tests/openapi.rs checks that it lists exactly the routes the router serves
//! ([`crate::api::routes`]) and that each of them answers.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{self, ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi};

use crate::api::{self, ErrorBody, ErrorDetail};
use crate::records::Page;
use crate::{accidents, directives, enterprises, excel, hazards, tokens};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "safemesh HTTP API",
        description = "每个安委办节点的 JSON 接口 / the JSON API of each 安委办 node. See docs/API.md.",
    ),
    paths(
        document,
        api::node,
        hazards::http::list,
        hazards::http::create,
        hazards::http::escalation_candidates,
        hazards::http::replies_due,
        hazards::http::get,
        hazards::http::add_event,
        excel::http::export_hazards,
        excel::http::import_template,
        excel::http::import,
        excel::http::export_directives,
        directives::http::list,
        directives::http::create,
        directives::http::vocabulary,
        directives::http::get,
        directives::http::respond,
        directives::http::forward,
        directives::http::event,
        directives::http::board,
        enterprises::http::list,
        enterprises::http::create,
        enterprises::http::get,
        accidents::http::list,
        accidents::http::create,
        accidents::http::get,
        accidents::http::add_event,
        api::rollup,
        crate::reports::monthly_http,
        crate::reports::bulletin_http,
        api::sync_status,
        tokens::list,
        tokens::create,
        tokens::revoke,
    ),
    components(schemas(Page, ErrorBody, ErrorDetail, hazards::http::EscalationCandidates,
        hazards::http::RepliesDue)),
    modifiers(&BearerScheme),
    security(("bearer" = [])),
    tags(
        (name = "hazards", description = "隐患 / hazards"),
        (name = "directives", description = "任务 / directives"),
        (name = "enterprises", description = "企业 / enterprises"),
        (name = "accidents", description = "事故 / accidents"),
        (name = "reports", description = "报表 / reports"),
        (name = "tokens", description = "令牌（管理员） / tokens (admin)"),
        (name = "node", description = "本节点、汇总、同步状态 / this node, roll-up, sync status"),
    )
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
                        "本节点签发的令牌 / a token issued by this node (viewer, editor or admin)",
                    ))
                    .build(),
            ),
        );
    }
}

/// The errors every authenticated route may answer, in the shape of [`ErrorBody`].
pub(crate) struct Errors;

impl IntoResponses for Errors {
    fn responses() -> BTreeMap<String, RefOr<openapi::response::Response>> {
        [
            (
                "400",
                "输入无效（field 指明参数） / invalid input, `field` names it",
            ),
            ("401", "缺少或无效的令牌 / missing, wrong or revoked token"),
            (
                "403",
                "角色或职权不足（rule 指明规则） / role or authority refused, `rule` names why",
            ),
            (
                "404",
                "记录不在本节点 / not held here; or no such route (`field: \"path\"`)",
            ),
            ("405", "方法不对 / wrong method (`field: \"method\"`)"),
            ("500", "内部错误 / store or document error"),
        ]
        .into_iter()
        .map(|(status, description)| {
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(openapi::Ref::from_schema_name(
                            "ErrorBody",
                        ))))
                        .build(),
                )
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
    }
}

static DOCUMENT: LazyLock<serde_json::Value> = LazyLock::new(|| {
    serde_json::to_value(ApiDoc::openapi())
        .unwrap_or_else(|e| serde_json::json!({"error": e.to_string()}))
});

/// The OpenAPI document.
pub fn openapi() -> openapi::OpenApi {
    ApiDoc::openapi()
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
