//! 日志与追踪 — the process's `tracing` subscriber: logs to stderr (text, or one JSON object a line
//! with `SAFEMESH_LOG_FORMAT=json`; `SAFEMESH_LOG` filters them), and, when `[telemetry]
//! otlp_endpoint` is set, the node's spans exported with OpenTelemetry over OTLP/gRPC (a batch
//! exporter on its own thread; service name and node code as resource attributes). Without an
//! endpoint no exporter exists and spans carry no trace context, so nothing is noted for links and
//! nothing is sent (`safemesh_link::trace`).

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use safemesh_model::AdminCode;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Which spans are exported (`SAFEMESH_TRACE` overrides): the node's own, at INFO.
pub const TRACE_FILTER: &str =
    "warn,safemesh_node=info,safemesh_link=info,safemesh_store=info,safemesh_gateway=info";

/// Where a node's traces go.
#[derive(Debug, Clone)]
pub struct Export {
    /// The OTLP/gRPC collector, `http://HOST:4317`.
    pub endpoint: String,
    pub service_name: String,
    pub node: AdminCode,
}

impl Export {
    /// Where the node of `cfg` exports its traces, if it does (`[telemetry] otlp_endpoint`).
    pub fn of(cfg: &crate::config::Config) -> Option<Export> {
        let endpoint = cfg.telemetry.endpoint().ok()??;
        Some(Export {
            endpoint: endpoint.to_string(),
            service_name: cfg
                .telemetry
                .service_name
                .clone()
                .unwrap_or_else(|| "safemesh".into()),
            node: cfg.code.clone(),
        })
    }
}

/// The installed subscriber's exporter; [`Telemetry::shutdown`] sends what is still buffered.
#[must_use = "shut it down at exit, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes and stops the exporter (waits for the collector at most its timeout). Call it from
    /// outside the runtime's tasks (after `block_on`), with the runtime still alive.
    pub fn shutdown(self) {
        if let Some(p) = self.provider
            && let Err(e) = p.shutdown()
        {
            eprintln!("追踪导出未能完成 / trace export did not finish: {e}");
        }
    }
}

/// The OpenTelemetry tracer provider of `export`. Must run inside a Tokio runtime (the gRPC client).
pub fn provider(export: &Export) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(export.endpoint.clone())
        .build()
        .map_err(|e| format!("OTLP 导出器 / OTLP exporter {}: {e}", export.endpoint))?;
    let resource = Resource::builder()
        .with_service_name(export.service_name.clone())
        .with_attribute(KeyValue::new("safemesh.node.code", export.node.to_string()))
        .with_attribute(KeyValue::new(
            "service.instance.id",
            export.node.to_string(),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Installs the process's subscriber (once; later calls leave the first in place). With `export`,
/// must run inside a Tokio runtime.
pub fn init(default_filter: &str, export: Option<&Export>) -> Result<Telemetry, String> {
    let filter =
        EnvFilter::try_from_env("SAFEMESH_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("SAFEMESH_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if json {
        fmt.json().flatten_event(true).boxed()
    } else {
        fmt.boxed()
    };
    let provider = export.map(provider).transpose()?;
    let otel = provider.as_ref().map(|p| {
        let spans = EnvFilter::try_from_env("SAFEMESH_TRACE")
            .unwrap_or_else(|_| EnvFilter::new(TRACE_FILTER));
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("safemesh"))
            .with_filter(spans)
    });
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init();
    Ok(Telemetry { provider })
}
