//! 监控指标 — the node's Prometheus metrics, `GET /metrics` (docs/OPERATIONS.md §12, docs/API.md).
//!
//! One [`Metrics`] per node ([`registry`]) — several nodes share a process in the demo and the tests,
//! so there is no global recorder. Its `prometheus_client` registry holds what is recorded as it
//! happens (the HTTP requests, [`api`]) and a collector for what mirrors state: each scrape first
//! reads the links ([`link`], from the same reports as `GET /api/v1/sync/status`), the certificates
//! ([`certs`]), when each descendant last reported ([`rollup`]), the hazards as the roll-up counts
//! them ([`hazards`]) and the store ([`store`]), then encodes — so no gauge is ever stale.
//!
//! Served on the HTTP address to a token of role `metrics` or `admin` ([`scrape`]), and, when
//! `[metrics] listen` is set, without a token on that address ([`serve`]), which must be reachable
//! by the Prometheus server only.

mod api;
mod certs;
mod family;
mod hazards;
mod link;
pub mod registry;
mod rollup;
mod store;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::prometheus_text;
use tokio::sync::watch;

pub(crate) use api::track;
use family::Family;
pub use registry::Metrics;

use crate::http::{ApiState, Shared};
use crate::records::RecordError;

/// The `Content-Type` of `/metrics`: the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The node's metrics, read now, in the Prometheus text format.
pub async fn render(st: &ApiState) -> Result<String, RecordError> {
    let families = gather(st).await?;
    st.metrics
        .encode(families)
        .map_err(|_| RecordError::internal("指标编码失败 / encoding the metrics failed"))
}

/// Reads the state the scrape-time families mirror.
async fn gather(st: &ApiState) -> Result<Vec<Family>, RecordError> {
    let now = time::OffsetDateTime::now_utc();
    let reports = crate::api::node::link_reports(st).await?;
    let mut node = Family::gauge(
        "safemesh_node_info",
        "This node: its code, name and level (always 1).",
    );
    node.push(
        vec![
            ("code", st.code.to_string()),
            ("name", st.name.clone()),
            ("level", st.code.level().as_str().to_string()),
        ],
        1.0,
    );
    let mut families = vec![
        node,
        certs::family(st.metrics.identity.current_not_after(), &reports),
    ];
    families.extend(link::families(&reports, &st.registry.rejected_handshakes()));
    let reported = st.store.child_summaries(&st.code).await?;
    let children =
        crate::rollup::direct_children(&st.store, &st.code, &reported, &st.extra_children).await?;
    families.extend(rollup::families(
        &st.code,
        &children,
        &st.store.summary_times().await?,
        now,
    ));
    let (jurisdiction, own) =
        crate::rollup::hazard_counts(&st.store, &st.code, st.hazards.due_soon_days).await?;
    families.extend(hazards::families(&jurisdiction, &own));
    families.extend(store::families(
        st.store.size_bytes().await?,
        st.store.current_seq(),
        &st.store.commit_stats(),
    ));
    Ok(families)
}

async fn answer(st: &ApiState) -> Response {
    match render(st).await {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /metrics` on the HTTP address: for a token of role `metrics` or `admin` (401 without a valid
/// token; 403 with another role, rule `role_<role>`).
pub(crate) async fn scrape(State(st): State<Shared>, headers: HeaderMap) -> Response {
    let caller = match crate::http::caller(&st, &headers).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if !caller.role.may_read_metrics() {
        let (name, role) = (&caller.name, caller.role.as_str());
        return RecordError::forbidden(
            &format!("role_{role}"),
            format!(
                "读取监控指标需要监控或管理员令牌，当前令牌“{name}”为{}角色 / reading /metrics needs a metrics or admin token; token {name:?} is {role}",
                caller.role.label()
            ),
        )
        .into_response();
    }
    answer(&st).await
}

/// `GET /metrics` on `[metrics] listen`: no token.
async fn scrape_open(State(st): State<Shared>) -> Response {
    answer(&st).await
}

/// The router of `[metrics] listen`: `/metrics` and nothing else.
pub fn open_router(state: Shared) -> Router {
    Router::new()
        .route("/metrics", get(scrape_open))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "此地址只提供 /metrics / this address serves /metrics only\n",
            )
        })
        .with_state(state)
}

/// Serves [`open_router`] on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = axum::serve(listener, open_router(state))
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|s| *s).await;
        })
        .await;
}
