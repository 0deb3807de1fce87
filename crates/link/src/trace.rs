//! 链路追踪 — how a change's trace crosses a hop. The W3C trace context (`traceparent`) of a
//! document's latest change is noted in the store (`Store::traces`) by whoever wrote it (the node's
//! API, or [`crate::apply`] for a received batch); a batch sent on carries the context of its send
//! span, which continues the first document's trace and links to the others; the receiver's apply
//! span continues the batch's. So a hazard registered at a township and committed at the province is
//! one trace across four nodes (docs/PROTOCOL.md, "Trace context").
//!
//! With no OpenTelemetry layer installed, spans have no valid context: nothing is noted and nothing
//! is sent.

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use safemesh_sync::frame::{MAX_BATCH_TRACES, is_traceparent};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `traceparent` of `span`, if it is exported (an OpenTelemetry layer gave it a valid context).
pub fn traceparent(span: &Span) -> Option<String> {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}

/// The span context a `traceparent` names, as a remote parent.
pub fn parse(traceparent: &str) -> Option<SpanContext> {
    if !is_traceparent(traceparent) {
        return None;
    }
    let mut parts = traceparent.split('-').skip(1);
    let trace_id = TraceId::from_hex(parts.next()?).ok()?;
    let span_id = SpanId::from_hex(parts.next()?).ok()?;
    let flags = u8::from_str_radix(parts.next()?, 16).ok()?;
    Some(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags),
        true,
        TraceState::default(),
    ))
}

/// Makes `span` (not yet entered) continue the first of `traces` and link to the rest. Contexts that
/// do not parse are ignored; with no OpenTelemetry layer this does nothing.
pub fn continue_from(span: &Span, traces: &[String]) {
    let mut contexts = traces.iter().filter_map(|t| parse(t));
    if let Some(first) = contexts.next() {
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(first));
    }
    for other in contexts.take(MAX_BATCH_TRACES) {
        span.add_link(other);
    }
}

/// The distinct contexts noted for `doc_ids` in the store, at most [`MAX_BATCH_TRACES`].
pub fn noted(
    store: &safemesh_store::Store,
    doc_ids: impl IntoIterator<Item = impl AsRef<str>>,
) -> Vec<String> {
    let notes = store.traces();
    if notes.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for id in doc_ids {
        if let Some(t) = notes.get(id.as_ref())
            && !out.contains(&t)
        {
            out.push(t);
            if out.len() == MAX_BATCH_TRACES {
                break;
            }
        }
    }
    out
}

/// Notes `span`'s context as the latest change of each of `doc_ids` (when it is exported).
pub fn note(
    store: &safemesh_store::Store,
    span: &Span,
    doc_ids: impl IntoIterator<Item = impl AsRef<str>>,
) {
    if let Some(tp) = traceparent(span) {
        for id in doc_ids {
            store.traces().note(id.as_ref(), &tp);
        }
    }
}
