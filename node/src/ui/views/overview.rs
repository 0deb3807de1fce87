//! 总览 `/` — the roll-up of this office or of any descendant (`/?scope=CODE`): headline figures,
//! charts by sector, grade, status and channel, accidents with 双下降, directives, and the direct
//! children with their figures and 未上报 flags. Read from the same summaries the API's
//! `/api/v1/rollup` reads (`crate::rollup::view`).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use safemesh_model::AdminCode;
use safemesh_model::summary::{AccidentCounts, DirectiveCounts, HazardCounts};
use serde::Deserialize;
use serde_json::Value;

use super::{User, chart_rows};
use crate::format::{self, china_time, ratio};
use crate::http::ApiState;
use crate::ui::page::{Chrome, error_page, render};

/// A summary older than this marks its office 未上报 (a node republishes at least every few hours).
pub const STALE_AFTER: time::Duration = time::Duration::hours(24);

#[derive(Debug, Deserialize)]
pub struct OverviewQuery {
    scope: Option<String>,
}

/// One step of the breadcrumb 省 › 市 › 县 › 乡.
pub struct Crumb {
    pub code: String,
    pub name: String,
}

/// One direct child's row.
pub struct ChildRow {
    pub code: String,
    pub name: String,
    pub reported: bool,
    pub total: u64,
    pub major: u64,
    pub overdue: u64,
    pub supervised: u64,
    pub rate: String,
    pub as_of: String,
    /// Empty when the child is fine; otherwise why it is flagged (未上报 / 链路中断 / 汇总过期).
    pub flag: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewView {
    pub chrome: Chrome,
    pub scope_code: String,
    pub scope_name: String,
    pub scope_level: String,
    pub is_self: bool,
    pub crumbs: Vec<Crumb>,
    pub as_of: String,
    pub reporting: u64,
    pub h: HazardCounts,
    pub rate: String,
    pub sector_rows: String,
    pub grade_rows: String,
    pub status_rows: String,
    pub channel_rows: String,
    pub acc: AccidentCounts,
    pub double_decline: bool,
    pub d: DirectiveCounts,
    pub received_rate: String,
    pub completed_rate: String,
    pub children: Vec<ChildRow>,
    pub not_reported: usize,
}

fn counts<T: serde::de::DeserializeOwned + Default>(v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

fn is_stale(as_of: &str, now: time::OffsetDateTime) -> bool {
    match time::OffsetDateTime::parse(as_of, &time::format_description::well_known::Rfc3339) {
        Ok(t) => now - t > STALE_AFTER,
        Err(_) => true,
    }
}

/// The breadcrumb from this office down to `scope`.
fn crumbs(me: &AdminCode, my_name: &str, scope: &AdminCode) -> Vec<Crumb> {
    let mut chain = Vec::new();
    let mut cur = Some(scope.clone());
    while let Some(c) = cur {
        if &c == me {
            break;
        }
        chain.push(Crumb {
            code: c.to_string(),
            name: format::office_name(c.as_str()),
        });
        cur = c.parent();
    }
    chain.push(Crumb {
        code: me.to_string(),
        name: my_name.to_string(),
    });
    chain.reverse();
    chain
}

pub async fn page(
    State(st): State<Arc<ApiState>>,
    user: User,
    Query(q): Query<OverviewQuery>,
) -> Response {
    let scope = match q.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => match AdminCode::parse(s) {
            Ok(c) if c.is_within(&st.code) || st.extra_children.contains(&c) => c,
            Ok(c) => {
                return error_page(400, &format!("{c} 不在本级辖区内，不能查看其汇总"));
            }
            Err(e) => return error_page(400, &format!("单位代码有误：{e}")),
        },
        None => st.code.clone(),
    };
    let view = match crate::rollup::view(
        &st.store,
        &st.code,
        &st.name,
        &scope,
        &st.extra_children,
        st.hazards.due_soon_days,
    )
    .await
    {
        Ok(Some(v)) => v,
        Ok(None) => {
            return error_page(
                404,
                &format!(
                    "尚未收到 {} 的汇总（未上报）",
                    format::office(scope.as_str())
                ),
            );
        }
        Err(e) => return error_page(500, &format!("读取汇总失败：{e}")),
    };
    let h: HazardCounts = counts(&view["hazards"]);
    let acc: AccidentCounts = counts(&view["accidents"]);
    let d: DirectiveCounts = counts(&view["directives"]);
    let now = time::OffsetDateTime::now_utc();
    // Links of this node's own children: a child whose link is down is flagged even if its last
    // summary is recent.
    let live: Vec<(String, String)> = st
        .registry
        .all()
        .into_iter()
        .map(|s| (s.peer.clone(), s.state.clone()))
        .collect();
    let mut children = Vec::new();
    for c in view["children"].as_array().into_iter().flatten() {
        let code = c["code"].as_str().unwrap_or_default().to_string();
        let hc: HazardCounts = counts(&c["hazards"]);
        let reported = c["reported"].as_bool().unwrap_or(false);
        let as_of = c["as_of"].as_str().unwrap_or_default();
        let link_down = scope == st.code
            && !live
                .iter()
                .any(|(p, s)| p == &code && (s == "in_sync" || s == "catching_up"));
        let flag = if !reported {
            "未上报"
        } else if is_stale(as_of, now) {
            "汇总过期（未上报）"
        } else if link_down {
            "链路中断"
        } else {
            ""
        };
        children.push(ChildRow {
            name: c["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| code.clone()),
            code,
            reported,
            total: hc.total,
            major: hc.major,
            overdue: hc.overdue,
            supervised: hc.supervised,
            rate: ratio(hc.closed, hc.total),
            as_of: if as_of.is_empty() {
                "—".into()
            } else {
                china_time(as_of)
            },
            flag: flag.to_string(),
        });
    }
    let not_reported = children.iter().filter(|c| !c.flag.is_empty()).count();
    let v = OverviewView {
        chrome: Chrome::new(&st, &user, "overview"),
        scope_name: view["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(scope.as_str())
            .to_string(),
        scope_level: format::level_label(&scope).to_string(),
        is_self: scope == st.code,
        crumbs: crumbs(&st.code, &st.name, &scope),
        scope_code: scope.to_string(),
        as_of: china_time(view["as_of"].as_str().unwrap_or_default()),
        reporting: view["reporting_descendants"].as_u64().unwrap_or(0),
        rate: format::pct(h.rectification_rate()),
        sector_rows: chart_rows(h.by_sector.iter().map(|(k, v)| (k.as_str(), *v))),
        grade_rows: chart_rows(h.by_grade.iter().map(|(k, v)| (format::grade_label(k), *v))),
        status_rows: chart_rows(
            h.by_status
                .iter()
                .map(|(k, v)| (format::status_label(k), *v)),
        ),
        channel_rows: chart_rows(
            h.by_channel
                .iter()
                .map(|(k, v)| (format::channel_label(k), *v)),
        ),
        double_decline: acc.double_decline(),
        received_rate: ratio(d.received, d.assignments),
        completed_rate: ratio(d.completed, d.assignments),
        h,
        acc,
        d,
        children,
        not_reported,
    };
    render(StatusCode::OK, &v)
}
