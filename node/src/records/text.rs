//! 文本输入 — the two checks every kind's input makes of a text field: present, and not too long.

use super::RecordError;

/// The trimmed text of a required field; 400 naming the field if it is absent or blank.
pub(crate) fn required(field: &str, v: Option<String>) -> Result<String, RecordError> {
    match v.map(|s| s.trim().to_string()) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(RecordError::bad(
            field,
            format!("{field} 必填 / {field} is required"),
        )),
    }
}

/// 400 naming the field if `s` is longer than `max_chars` characters.
pub(crate) fn bounded(field: &str, s: &str, max_chars: usize) -> Result<(), RecordError> {
    if s.chars().count() > max_chars {
        return Err(RecordError::bad(
            field,
            format!(
                "{field} 不能超过 {max_chars} 字 / {field} is longer than {max_chars} characters"
            ),
        ));
    }
    Ok(())
}
