//! Extractors whose rejections are [`RecordError`]s naming the input at fault (400), like every other
//! error of `/api/v1`.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::records::RecordError;

/// A query string whose rejection is reported as a 400 naming the parameter.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = RecordError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let field = match e.path().to_string() {
                    p if p == "." || p.is_empty() => "query".to_string(),
                    p => p,
                };
                let reason = e.into_inner();
                RecordError::bad(
                    field.clone(),
                    format!("查询参数 {field} 无效 / invalid query parameter {field}: {reason}"),
                )
            })
    }
}

/// Path parameters whose rejection is reported as a 400 naming the parameter.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = RecordError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let field = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key }
                    | ErrorKind::DeserializeError { key, .. } => key.clone(),
                    _ => "path".to_string(),
                };
                Err(RecordError::bad(
                    field.clone(),
                    format!(
                        "路径参数 {field} 无效 / invalid path parameter {field}: {}",
                        e.body_text()
                    ),
                ))
            }
            Err(other) => Err(RecordError::internal(other.body_text())),
        }
    }
}

/// A JSON body whose rejection is reported as a 400 naming the field (413 naming `body` when it is
/// larger than the node's bound).
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = RecordError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(rej) if rej.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(RecordError {
                    status: 413,
                    field: Some("body".into()),
                    rule: None,
                    message: "请求体超过上限（见配置 http_limits.max_body_bytes） / request body too large (the node's http_limits.max_body_bytes)".into(),
                })
            }
            Err(rej) => {
                let text = rej.body_text();
                // axum reports "...: <path>: <reason>" for data errors.
                let field = match &rej {
                    JsonRejection::JsonDataError(_) => text
                        .split(": ")
                        .nth(1)
                        .filter(|p| !p.contains(' '))
                        .unwrap_or("body")
                        .to_string(),
                    _ => "body".to_string(),
                };
                Err(RecordError::bad(
                    field,
                    format!("请求体无效 / invalid JSON body: {text}"),
                ))
            }
        }
    }
}
