//! A registration form as typed and as refused: the values kept when it comes back, and the refusal
//! shown next to the input it is about (the API's field path mapped to the form's input) and, whole,
//! at the top of the form. Shared by the forms that register a record (隐患, 事故).

use std::collections::HashMap;

use axum::http::StatusCode;

use crate::format::{self, chinese};
use crate::records::RecordError;

/// The value typed for `k`, trimmed; `None` when blank.
pub fn opt(values: &HashMap<String, String>, k: &str) -> Option<String> {
    values
        .get(k)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The sector names a form offers: this node's dictionary (the seed names plus its config).
pub fn sectors(st: &crate::http::ApiState) -> Vec<String> {
    st.hazards
        .sectors
        .names()
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// A refusal as a form shows it.
pub struct Refusal {
    /// The input it is about (empty: none in particular).
    pub field: String,
    /// The reason, under that input.
    pub text: String,
    /// `label：reason`, at the top of the form.
    pub whole: String,
    pub status: StatusCode,
}

/// The refusal `e` on a form whose inputs `input_of` maps API field paths to and `label` names.
pub fn refusal(
    e: &RecordError,
    input_of: impl Fn(&str) -> String,
    label: impl Fn(&str) -> &'static str,
) -> Refusal {
    let text = match &e.rule {
        Some(rule) => format::rule_words(rule).to_string(),
        None => chinese(&e.message).to_string(),
    };
    let field = e.field.as_deref().map(input_of).unwrap_or_default();
    let whole = match label(&field) {
        "" => text.clone(),
        l => format!("{l}：{text}"),
    };
    Refusal {
        field,
        text,
        whole,
        status: StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
    }
}
