/// Errors of domain validation. Each names the field it is about, with the reason in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("无效的行政区划代码 {input:?}: {reason}")]
    InvalidCode { input: String, reason: &'static str },
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
}

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The reason alone, without the field (for a message shown next to the field it is about).
    pub fn reason(&self) -> String {
        match self {
            Error::Invalid { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }

    /// The field path the error is about.
    pub fn field(&self) -> &str {
        match self {
            Error::InvalidCode { .. } => "code",
            Error::Invalid { field, .. } => field,
        }
    }
}
