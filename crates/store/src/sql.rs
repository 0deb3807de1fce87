//! SQL text helpers shared by the store's files: `$N` placeholder lists and multi-row `VALUES`
//! tuples (both backends take `$N`), the bound on binds per statement, the de-duplication a
//! multi-row upsert needs, and the encodings of stored values (heads as JSON, times as RFC 3339).
//! Pure functions; no file of the crate is imported here.

/// Most binds one multi-row statement carries. SQLite finds each `$N` parameter's name by a linear
/// scan (`sqlite3_bind_parameter_name`, which sqlx calls for every parameter), so a statement's bind
/// cost grows with the square of its binds: a few hundred per statement is the sweet spot.
pub(crate) const MAX_BINDS: usize = 256;

/// `$1, $2, …, $n` for an `IN (…)` list.
pub(crate) fn placeholders(n: usize) -> String {
    placeholders_after(0, n)
}

/// `$(after+1), …, $(after+n)`.
pub(crate) fn placeholders_after(after: usize, n: usize) -> String {
    (after + 1..=after + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, …, $width), ($(width+1), …), …` for `rows` tuples of a multi-row `VALUES`.
pub(crate) fn tuples(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders_after(r * width, width)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each id's last row of `rows`, in their order: a multi-row upsert may not name a key twice.
pub(crate) fn last_per_id<T>(rows: &[(String, T)]) -> Vec<&(String, T)> {
    let last: std::collections::HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    rows.iter()
        .enumerate()
        .filter(|(i, (id, _))| last.get(id.as_str()) == Some(i))
        .map(|(_, r)| r)
        .collect()
}

/// A document's heads as stored (a JSON list of hex hashes); empty if unreadable.
pub(crate) fn parse_heads(s: String) -> Vec<String> {
    serde_json::from_str(&s).unwrap_or_default()
}

/// Now as RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
