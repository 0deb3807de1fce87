//! `telemetry_overhead_pct`: what exporting traces costs a node. The bootstrap (SQLite) and the live
//! push over 3 hops, each in a child process with tracing + OTLP export on (to a collector in the same
//! process, so its decoding is counted against the nodes too: an upper bound) and off, alternating, in
//! one run. The overhead is the larger of the two slowdowns, from the medians of the rounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use serde_json::{Value, json};

/// An OTLP trace collector that counts the spans it is sent.
#[derive(Clone, Default)]
struct Sink {
    spans: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let n: usize = request
            .into_inner()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.spans.fetch_add(n as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// The child's side: bootstrap `boot_n` documents and push `edits` live edits, exporting traces or not.
pub async fn child(export: bool, boot_n: usize, edits: usize) -> anyhow::Result<Value> {
    let sink = Sink::default();
    let telemetry = if export {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let svc = TraceServiceServer::new(sink.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        let e = safemesh_node::telemetry::Export {
            endpoint: format!("http://{addr}"),
            service_name: "safemesh-bench".into(),
            node: crate::code("53"),
        };
        safemesh_node::telemetry::init("warn", Some(&e)).map_err(anyhow::Error::msg)?
    } else {
        safemesh_node::telemetry::init("warn", None).map_err(anyhow::Error::msg)?
    };
    anyhow::ensure!(
        telemetry.exporting() == export,
        "the exporter is not as asked"
    );
    let boot = crate::bootstrap(boot_n, None).await?;
    let (p50, _, _) = crate::live::run(edits).await?;
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await?;
    Ok(json!({
        "boot_docs_per_s": boot,
        "live_p50_ms": p50,
        "spans": sink.spans.load(Ordering::Relaxed),
    }))
}

/// The parent's side: `rounds` of (off, on) children; the medians and the overhead.
pub fn run(
    rounds: usize,
    mut one: impl FnMut(bool) -> anyhow::Result<serde_json::Map<String, Value>>,
) -> anyhow::Result<serde_json::Map<String, Value>> {
    let (mut boot, mut live, mut spans) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()], 0);
    for _ in 0..rounds {
        for on in [false, true] {
            let m = one(on)?;
            let f = |k: &str| m.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
            boot[on as usize].push(f("boot_docs_per_s"));
            live[on as usize].push(f("live_p50_ms"));
            if on {
                spans += m.get("spans").and_then(Value::as_u64).unwrap_or(0);
            }
        }
    }
    anyhow::ensure!(
        spans > 0,
        "traces were on, but the collector received no span"
    );
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (boot_off, boot_on) = (median(&mut boot[0]), median(&mut boot[1]));
    let (live_off, live_on) = (median(&mut live[0]), median(&mut live[1]));
    let pct = |x: f64| (x * 1000.0).round() / 10.0;
    let boot_pct = pct(boot_off / boot_on - 1.0);
    let live_pct = pct(live_on / live_off - 1.0);
    let mut out = serde_json::Map::new();
    out.insert("telemetry_rounds".into(), json!(rounds));
    out.insert("telemetry_spans_exported".into(), json!(spans));
    out.insert(
        "telemetry_bootstrap_off_docs_per_s".into(),
        json!(boot_off.round()),
    );
    out.insert(
        "telemetry_bootstrap_on_docs_per_s".into(),
        json!(boot_on.round()),
    );
    out.insert(
        "telemetry_live_p50_off_ms".into(),
        json!((live_off * 10.0).round() / 10.0),
    );
    out.insert(
        "telemetry_live_p50_on_ms".into(),
        json!((live_on * 10.0).round() / 10.0),
    );
    out.insert("telemetry_bootstrap_overhead_pct".into(), json!(boot_pct));
    out.insert("telemetry_live_overhead_pct".into(), json!(live_pct));
    out.insert(
        "telemetry_overhead_pct".into(),
        json!(boot_pct.max(live_pct)),
    );
    Ok(out)
}
