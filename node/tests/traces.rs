//! One change, one trace: four real `safemesh` processes export their spans over OTLP to a collector
//! this test runs (a tonic server of the OTLP trace service). A major hazard registered at the
//! township is one trace from the township's API request to the province's store commit, with each
//! hop's spans in it — the trace context crosses every link.

mod common;
use common::chain::{self, CHAIN};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;

/// One exported span, flattened: which node's process sent it, its name, ids and parent.
#[derive(Debug, Clone)]
struct Span {
    node: String,
    service: String,
    name: String,
    trace: String,
    id: String,
    parent: String,
    /// The span's string attributes (e.g. `method`, `path` of `http.request`).
    attrs: BTreeMap<String, String>,
}

/// The in-process collector: keeps every span it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut out = self.spans.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            let attr = |key: &str| {
                rs.resource
                    .as_ref()
                    .and_then(|r| r.attributes.iter().find(|a| a.key == key))
                    .and_then(|a| a.value.as_ref()?.value.clone())
                    .map(|v| match v {
                        AnyValue::StringValue(s) => s,
                        other => format!("{other:?}"),
                    })
                    .unwrap_or_default()
            };
            let (node, service) = (attr("safemesh.node.code"), attr("service.name"));
            for ss in rs.scope_spans {
                for s in ss.spans {
                    out.push(Span {
                        node: node.clone(),
                        service: service.clone(),
                        name: s.name,
                        trace: hex::encode(&s.trace_id),
                        id: hex::encode(&s.span_id),
                        parent: hex::encode(&s.parent_span_id),
                        attrs: s
                            .attributes
                            .iter()
                            .filter_map(|a| match a.value.as_ref()?.value.as_ref()? {
                                AnyValue::StringValue(v) => Some((a.key.clone(), v.clone())),
                                _ => None,
                            })
                            .collect(),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hazard_registered_at_the_township_is_one_trace_to_the_province() {
    // The collector, on a loopback port.
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp = listener.local_addr().unwrap();
    let svc = TraceServiceServer::new(collector.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });

    // Four nodes, each told where to export (`[telemetry]` in its config), exporting every 200 ms.
    let dir = tempfile::tempdir().unwrap();
    let mut procs = chain::set_up(dir.path(), &[None, None, None, None]);
    for p in procs.iter_mut() {
        let file = p.data_dir.join("safemesh.toml");
        let mut cfg = std::fs::read_to_string(&file).unwrap();
        cfg.push_str(&format!(
            "\n[telemetry]\notlp_endpoint = \"http://{otlp}\"\n"
        ));
        std::fs::write(&file, cfg).unwrap();
        p.env.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "200".into()));
    }
    let client = reqwest::Client::new();
    chain::start(dir.path(), &mut procs, &client).await;
    let (prov, town) = (0, 3);

    // A major hazard registered at the township reaches the province.
    let body = chain::major_hazard("尾矿库排洪设施堵塞");
    let id = chain::register(&client, &procs[town], &body).await;
    chain::wait_json(
        &client,
        &procs[prov],
        &format!("/api/v1/hazards/{id}"),
        "hazard at province",
        |v| v["title"] == "尾矿库排洪设施堵塞",
    )
    .await;

    // Every hop is in it: the township's request, record write, commit and send; each middle node's
    // apply, commit and send on; the province's apply and commit.
    let want: [(&str, &[&str]); 4] = [
        (
            CHAIN[3],
            &["http.request", "record.write", "store.commit", "link.send"],
        ),
        (CHAIN[2], &["link.apply", "store.commit", "link.send"]),
        (CHAIN[1], &["link.apply", "store.commit", "link.send"]),
        (CHAIN[0], &["link.apply", "store.commit"]),
    ];
    // The township's request span for POST /api/v1/hazards starts the trace; wait until the province's
    // commit of the hazard (a store.commit under its link.apply) is in the same trace, and every hop's
    // spans have come in (each node exports its spans in its own batches, so the province's may arrive
    // before a middle node's), or the deadline passes and the checks below say what is missing.
    let complete = |mine: &[Span]| {
        want.iter().all(|(node, names)| {
            names
                .iter()
                .all(|n| mine.iter().any(|s| s.node == *node && s.name == *n))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let (trace, spans) = loop {
        let spans = collector.spans.lock().unwrap().clone();
        let root = spans.iter().find(|s| {
            s.node == CHAIN[town]
                && s.name == "http.request"
                && s.parent.is_empty()
                && s.attrs.get("method").is_some_and(|m| m == "POST")
                && s.attrs.get("path").is_some_and(|p| p == "/api/v1/hazards")
        });
        if let Some(root) = root {
            let mine: Vec<Span> = spans
                .iter()
                .filter(|s| s.trace == root.trace)
                .cloned()
                .collect();
            let committed_at_province = mine
                .iter()
                .any(|s| s.node == CHAIN[prov] && s.name == "store.commit");
            if committed_at_province && (complete(&mine) || Instant::now() >= deadline) {
                break (root.trace.clone(), mine);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no trace from the township's request to the province's commit; spans:\n{}",
            spans
                .iter()
                .map(|s| format!(
                    "{} {} trace {} parent {}",
                    s.node,
                    s.name,
                    &s.trace[..8],
                    s.parent
                ))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let by_node: BTreeMap<&str, BTreeSet<&str>> = spans.iter().fold(BTreeMap::new(), |mut m, s| {
        m.entry(s.node.as_str())
            .or_default()
            .insert(s.name.as_str());
        m
    });
    for (node, names) in want {
        let have = by_node.get(node).cloned().unwrap_or_default();
        for n in names {
            assert!(
                have.contains(n),
                "trace {trace}: {node} has no {n} span ({have:?})"
            );
        }
    }
    // Each span's parent is a span of the same trace (the root's is none): the hops are chained, not
    // merely tagged with one id.
    let ids: BTreeSet<&str> = spans.iter().map(|s| s.id.as_str()).collect();
    for s in &spans {
        assert!(
            s.parent == "0000000000000000"
                || s.parent.is_empty()
                || ids.contains(s.parent.as_str()),
            "{} {} has a parent outside the trace",
            s.node,
            s.name
        );
    }
    // The province's apply continues the city's send: its parent is the city's link.send span.
    let city_sends: BTreeSet<&str> = spans
        .iter()
        .filter(|s| s.node == CHAIN[1] && s.name == "link.send")
        .map(|s| s.id.as_str())
        .collect();
    assert!(
        spans.iter().any(|s| s.node == CHAIN[0]
            && s.name == "link.apply"
            && city_sends.contains(s.parent.as_str())),
        "the province's apply does not continue the city's send"
    );
    assert!(spans.iter().all(|s| s.service == "safemesh"));
    for p in procs.iter_mut() {
        p.stop().await;
    }
}
