//! 记录操作错误 — what a record operation reports when it refuses or fails: the HTTP status, the field
//! or rule it is about, and a message in Chinese and English.

/// An error of a record operation, as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub status: u16,
    /// The input field the error is about, as a path (`enterprise.credit_code`, `targets[1]`).
    pub field: Option<String>,
    /// For 403: the authority rule that refused it.
    pub rule: Option<String>,
    pub message: String,
}

impl RecordError {
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        RecordError {
            status: 400,
            field: Some(field.into()),
            rule: None,
            message: message.into(),
        }
    }
    pub fn forbidden(rule: &str, message: impl Into<String>) -> Self {
        RecordError {
            status: 403,
            field: None,
            rule: Some(rule.to_string()),
            message: message.into(),
        }
    }
    pub fn not_found(what: &str) -> Self {
        RecordError {
            status: 404,
            field: None,
            rule: None,
            message: format!("未找到 / not found: {what}"),
        }
    }
    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        RecordError {
            status: 409,
            field: Some(field.into()),
            rule: None,
            message: message.into(),
        }
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        RecordError {
            status: 500,
            field: None,
            rule: None,
            message: format!("内部错误 / internal error: {e}"),
        }
    }
}

impl From<safemesh_model::Error> for RecordError {
    /// The field goes to `field`; the message is the reason alone, Chinese first.
    fn from(e: safemesh_model::Error) -> Self {
        match e {
            safemesh_model::Error::Invalid { field, reason } => RecordError::bad(field, reason),
            other => RecordError::bad(other.field().to_string(), other.to_string()),
        }
    }
}

impl From<safemesh_store::Error> for RecordError {
    fn from(e: safemesh_store::Error) -> Self {
        match e {
            safemesh_store::Error::Invalid { field, reason } => RecordError::bad(field, reason),
            other => RecordError::internal(other),
        }
    }
}

impl From<safemesh_doc::Error> for RecordError {
    fn from(e: safemesh_doc::Error) -> Self {
        match e {
            safemesh_doc::Error::Forbidden { rule, path, .. } => RecordError::forbidden(
                rule,
                format!("本级无权修改该记录的这一部分 / write to {path} refused by rule {rule}"),
            ),
            other => RecordError::internal(other),
        }
    }
}
