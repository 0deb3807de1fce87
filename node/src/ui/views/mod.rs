//! One module per page. Each builds a typed view (an askama template struct) from the same record
//! operations the JSON API calls, and renders it; forms post back to the page's own routes.

pub mod accident_new;
pub mod accidents;
pub mod directives;
pub mod enterprises;
pub mod excel;
pub mod files;
pub mod hazard;
pub mod ledger;
pub mod overview;
pub mod register;
pub mod reports;
pub mod sync;

use axum::Extension;

use super::user::UiUser;

/// The logged-in person, as handlers take it.
pub type User = Extension<UiUser>;

/// Turns `(name, count)` pairs into the JSON rows a chart's `data-rows` carries.
pub fn chart_rows<'a>(rows: impl IntoIterator<Item = (&'a str, u64)>) -> String {
    let v: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|(k, n)| serde_json::json!([k, n]))
        .collect();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
}
