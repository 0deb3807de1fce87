//! 接口指标 — every HTTP request the node answers, counted as it happens:
//! `safemesh_http_requests_total{route,method,status}` and the latency histogram
//! `safemesh_http_request_duration_seconds{route,method}`. `route` is the matched route template
//! (`/api/v1/hazards/{id}`), never the raw path, so ids do not multiply the series; a request no
//! route matched is `unmatched`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::http::Shared;

/// Upper bounds (seconds) of the latency buckets: a read is a few milliseconds, a ledger export or
/// an import of a workbook seconds.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

/// The request metrics, registered in the node's registry.
#[derive(Debug, Clone)]
pub(crate) struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl HttpMetrics {
    pub(crate) fn register(registry: &mut Registry) -> HttpMetrics {
        let m = HttpMetrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS)),
        };
        registry.register(
            "safemesh_http_requests",
            "HTTP requests answered, by route template, method and status",
            m.requests.clone(),
        );
        registry.register(
            "safemesh_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            m.duration.clone(),
        );
        m
    }

    fn record(&self, route: &str, method: &Method, status: u16, seconds: f64) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method: method.to_string(),
                status,
            })
            .inc();
        self.duration
            .get_or_create(&RouteLabels {
                route: route.to_string(),
                method: method.to_string(),
            })
            .observe(seconds);
    }
}

/// The method as a label: the standard ones by name, anything else `other` (a client choosing
/// methods must not choose series).
fn method_label(m: &Method) -> &'static str {
    const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    METHODS
        .into_iter()
        .find(|k| *k == m.as_str())
        .unwrap_or("other")
}

/// The route template a request matched; `unmatched` for a fallback (no route, 404).
fn route_label(req: &Request) -> String {
    match req.extensions().get::<MatchedPath>() {
        // A fallback's matched path is axum's catch-all, not a route of ours.
        Some(p) if !p.as_str().contains("__private__") => p.as_str().to_string(),
        _ => "unmatched".to_string(),
    }
}

/// The middleware: counts and times every request of the router it wraps (added with
/// `Router::layer`, it runs after routing, so the matched route is known).
pub(crate) async fn track(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let route = route_label(&req);
    let method = req.method().clone();
    let started = Instant::now();
    let resp = next.run(req).await;
    st.metrics.http.record(
        &route,
        &method,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_ones_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }

    #[test]
    fn requests_are_counted_by_route_template_and_status() {
        let mut reg = Registry::default();
        let m = HttpMetrics::register(&mut reg);
        m.record("/api/v1/hazards/{id}", &Method::GET, 200, 0.003);
        m.record("/api/v1/hazards/{id}", &Method::GET, 200, 0.004);
        m.record("/api/v1/hazards/{id}", &Method::GET, 404, 0.001);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &reg).unwrap();
        assert!(
            text.contains(
                "safemesh_http_requests_total{route=\"/api/v1/hazards/{id}\",method=\"GET\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("safemesh_http_request_duration_seconds_count{route=\"/api/v1/hazards/{id}\",method=\"GET\"} 3"),
            "{text}"
        );
    }
}
