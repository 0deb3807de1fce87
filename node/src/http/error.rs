//! The errors of `/api/v1`: every one answered as `{"error": {status, field, rule, message}}`
//! ([`ErrorBody`]), documented for every route as [`Errors`]; the answers to an unknown route and a
//! wrong method.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::openapi::{self, ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{IntoResponses, ToSchema};

use crate::records::RecordError;

/// The body of every error under `/api/v1`: `{"error": {status, field, rule, message}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, for a program (`status`, `field`, `rule`) and for a person (`message`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// The HTTP status, repeated.
    pub status: u16,
    /// The input at fault, as a path (`enterprise.credit_code`, `targets[1]`, `limit`, `id`, `body`,
    /// `Authorization`); `path` for an unknown route, `method` for a wrong method; null when no input
    /// is at fault.
    pub field: Option<String>,
    /// For 403: the authority rule that refused the write, or `role_<role>`; otherwise null.
    pub rule: Option<String>,
    /// Chinese, then ` / `, then English.
    pub message: String,
}

impl IntoResponse for RecordError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail {
                status: self.status,
                field: self.field,
                rule: self.rule,
                message: self.message,
            },
        };
        (status, Json(body)).into_response()
    }
}

/// The answer to a path no route of `/api/v1` matches: 404, `field: "path"`.
pub(crate) async fn no_route(uri: Uri) -> RecordError {
    let path = uri.path();
    RecordError {
        status: 404,
        field: Some("path".into()),
        rule: None,
        message: format!("没有这个接口：{path} / no such route: {path} (see /api/v1/openapi.json)"),
    }
}

/// The answer to a method a route of `/api/v1` does not take: 405, `field: "method"` (the `Allow`
/// header lists those it takes).
pub(crate) async fn wrong_method(method: Method, uri: Uri) -> RecordError {
    let path = uri.path();
    RecordError {
        status: 405,
        field: Some("method".into()),
        rule: None,
        message: format!(
            "该接口不支持 {method} 请求 / {method} is not allowed on {path} (the Allow header lists the methods it takes)"
        ),
    }
}

/// The errors every authenticated route may answer, in the shape of [`ErrorBody`].
pub struct Errors;

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
