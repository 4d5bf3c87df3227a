//! OpenTelemetry traces of requests: a SERVER span per admitted request and a CLIENT span per
//! upstream attempt, with the attributes of the OpenTelemetry semantic conventions for
//! generative AI, version 1.37.0 (`SEMCONV_SCHEMA`).
//!
//! Spans are built once, when the request's record is final (`Meter::send`), from the record
//! and the ids and times noted on the way: nothing is exported, allocated or sampled for a
//! request when traces are off, and a request never waits on the exporter (spans go to the
//! SDK's batch processor, which exports from its own thread). Ids are chosen up front so that
//! the `traceparent` an upstream receives names the attempt's span.
//!
//! Prompts and completions are exported only when an operator opts in (`content`).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::http::HeaderMap;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, Context, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SamplingDecision, ShouldSample, SpanData, SpanEvents, SpanLinks,
    SpanProcessor,
};

use super::propagate::{format_traceparent, Address, Incoming, Upstream};
use crate::routing::Attempt;
use crate::store::RequestRecord;
use crate::types::registry::ProviderKind;

/// The semantic conventions the attributes follow.
pub const SEMCONV_SCHEMA: &str = "https://opentelemetry.io/schemas/1.37.0";

/// Where spans go, and which requests are sampled.
pub struct Traces {
    processor: BatchSpanProcessor,
    sampler: Box<dyn ShouldSample>,
    scope: InstrumentationScope,
    /// With content capture on, the most bytes each side's content may take in a span.
    content: Option<usize>,
}

impl Traces {
    pub(super) fn new(
        processor: BatchSpanProcessor,
        sampler: Box<dyn ShouldSample>,
        content: Option<usize>,
    ) -> Traces {
        Traces {
            processor,
            sampler,
            content,
            scope: InstrumentationScope::builder("switchyard")
                .with_version(env!("CARGO_PKG_VERSION"))
                .with_schema_url(SEMCONV_SCHEMA)
                .build(),
        }
    }

    /// With content capture on, the most bytes each side's content may take in a span.
    pub fn content_max(&self) -> Option<usize> {
        self.content
    }

    /// Exports what is queued and stops the exporter (blocking: run it off the runtime's
    /// workers). Bounded by the exporter's timeout.
    pub fn shutdown(&self) {
        if let Err(e) = self.processor.shutdown() {
            tracing::warn!(error = %e, "traces: the exporter did not shut down cleanly");
        }
    }
}

/// One request's trace context: the client's (forwarded unchanged when this request is not
/// exported) and, when it is, the spans' ids and times.
#[derive(Default)]
pub struct RequestTrace {
    incoming: Option<Incoming>,
    recording: Option<Box<Recording>>,
}

struct Recording {
    sink: Arc<Traces>,
    trace_id: TraceId,
    span_id: SpanId,
    /// The client's span, the server span's (remote) parent.
    parent: Option<SpanId>,
    trace_state: TraceState,
    start: SystemTime,
    attempts: Vec<AttemptSpan>,
    /// The opted-in content attributes (see `content`).
    content: Vec<KeyValue>,
}

struct AttemptSpan {
    span_id: SpanId,
    kind: ProviderKind,
    start: SystemTime,
    end: Option<SystemTime>,
    address: Arc<Address>,
}

impl RequestTrace {
    /// The trace of a request that arrived at `started` with these headers.
    pub fn begin(traces: Option<&Arc<Traces>>, headers: &HeaderMap, started: Instant) -> Self {
        Self::begin_with(traces, Incoming::from_headers(headers), started)
    }

    /// The trace of a request that arrived at `started` with the client's context `incoming`.
    pub fn begin_with(
        traces: Option<&Arc<Traces>>,
        incoming: Option<Incoming>,
        started: Instant,
    ) -> Self {
        let Some(sink) = traces else {
            return RequestTrace {
                incoming,
                recording: None,
            };
        };
        let trace_state = incoming
            .as_ref()
            .and_then(|i| i.tracestate.as_ref())
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse::<TraceState>().ok())
            .unwrap_or_default();
        let (trace_id, parent) = match &incoming {
            Some(i) => (TraceId::from(i.parent.trace_id), Some(i.parent)),
            None => (TraceId::from(nonzero_u128()), None),
        };
        let parent_cx = match parent {
            Some(p) => Context::new().with_remote_span_context(SpanContext::new(
                trace_id,
                SpanId::from(p.span_id),
                TraceFlags::new(p.flags),
                true,
                trace_state.clone(),
            )),
            None => Context::new(),
        };
        let decision = sink
            .sampler
            .should_sample(
                Some(&parent_cx),
                trace_id,
                "request",
                &SpanKind::Server,
                &[],
                &[],
            )
            .decision;
        let recording = (decision == SamplingDecision::RecordAndSample).then(|| {
            Box::new(Recording {
                sink: sink.clone(),
                trace_id,
                span_id: SpanId::from(nonzero_u64()),
                parent: parent.map(|p| SpanId::from(p.span_id)),
                trace_state,
                start: SystemTime::now() - started.elapsed(),
                attempts: Vec::new(),
                content: Vec::new(),
            })
        });
        RequestTrace {
            incoming,
            recording,
        }
    }

    /// An attempt starts: its span id, and the context its upstream requests carry (the
    /// attempt's span when exported; otherwise the client's context, unchanged).
    pub fn attempt_started(&mut self, a: &Attempt) -> Option<Upstream> {
        let Some(r) = self.recording.as_mut() else {
            return self.incoming.as_ref().map(|i| Upstream {
                traceparent: i.traceparent.clone(),
                tracestate: i.tracestate.clone(),
                address: None,
            });
        };
        let span = AttemptSpan {
            span_id: SpanId::from(nonzero_u64()),
            kind: a.kind,
            start: SystemTime::now(),
            end: None,
            address: Arc::default(),
        };
        let ctx = Upstream {
            traceparent: format_traceparent(
                u128::from_be_bytes(r.trace_id.to_bytes()),
                u64::from_be_bytes(span.span_id.to_bytes()),
                TraceFlags::SAMPLED.to_u8(),
            ),
            tracestate: self.incoming.as_ref().and_then(|i| i.tracestate.clone()),
            address: Some(span.address.clone()),
        };
        r.attempts.push(span);
        Some(ctx)
    }

    pub fn attempt_ended(&mut self) {
        if let Some(a) = self.recording.as_mut().and_then(|r| r.attempts.last_mut()) {
            a.end = Some(SystemTime::now());
        }
    }

    /// The request's captured content, for the request span when the operator opted in
    /// to content in traces (otherwise nothing is kept).
    pub fn content(&mut self, door: &str, captured: &crate::store::CapturedContent) {
        if let Some(r) = self.recording.as_mut() {
            if let Some(max) = r.sink.content {
                r.content = super::content::attributes(door, captured, max);
            }
        }
    }

    /// The request has ended with this record: its spans go to the exporter's queue.
    pub fn finish(&mut self, door: &'static str, record: &RequestRecord) {
        let Some(r) = self.recording.take() else {
            return;
        };
        let end = SystemTime::now();
        let op = operation(door);
        let mut spans = Vec::with_capacity(1 + r.attempts.len());
        let served = served_attempt(record);
        let server_cx = SpanContext::new(
            r.trace_id,
            r.span_id,
            TraceFlags::SAMPLED,
            false,
            r.trace_state.clone(),
        );
        for (i, (span, a)) in r.attempts.iter().zip(&record.attempts).enumerate() {
            let is_served = served == Some(i);
            let mut attrs = vec![
                KeyValue::new("gen_ai.operation.name", op),
                KeyValue::new("gen_ai.provider.name", provider_name(span.kind)),
                KeyValue::new("gen_ai.request.model", a.upstream_model.clone()),
                KeyValue::new("switchyard.provider", a.provider.clone()),
                KeyValue::new("switchyard.model", a.model.clone()),
            ];
            if let Some((host, port)) = span.address.get() {
                attrs.push(KeyValue::new("server.address", host.clone()));
                if let Some(p) = port {
                    attrs.push(KeyValue::new("server.port", i64::from(*p)));
                }
            }
            if let Some(s) = a.status {
                attrs.push(KeyValue::new("http.response.status_code", s));
            }
            let status = if a.outcome == "ok" {
                if is_served {
                    attrs.push(KeyValue::new(
                        "gen_ai.response.model",
                        a.upstream_model.clone(),
                    ));
                    usage_and_finish(&mut attrs, record);
                }
                Status::Unset
            } else {
                attrs.push(KeyValue::new("error.type", a.outcome.clone()));
                Status::error(a.outcome.clone())
            };
            // The serving attempt of a stream lasts as long as the stream.
            let attempt_end = if is_served && record.streamed {
                end
            } else {
                span.end.unwrap_or(end)
            };
            spans.push(SpanData {
                span_context: SpanContext::new(
                    r.trace_id,
                    span.span_id,
                    TraceFlags::SAMPLED,
                    false,
                    r.trace_state.clone(),
                ),
                parent_span_id: r.span_id,
                parent_span_is_remote: false,
                span_kind: SpanKind::Client,
                name: Cow::Owned(format!("{op} {}", a.upstream_model)),
                start_time: span.start,
                end_time: attempt_end,
                attributes: attrs,
                dropped_attributes_count: 0,
                events: SpanEvents::default(),
                links: SpanLinks::default(),
                status,
                instrumentation_scope: r.sink.scope.clone(),
            });
        }

        let requested = record.requested_model.as_deref().unwrap_or("unknown");
        let mut attrs = vec![
            KeyValue::new("gen_ai.operation.name", op),
            KeyValue::new("gen_ai.request.model", requested.to_owned()),
            KeyValue::new("http.response.status_code", record.status),
            KeyValue::new("switchyard.request_id", record.id.clone()),
            KeyValue::new("switchyard.outcome", record.outcome.clone()),
            KeyValue::new("switchyard.attempts", record.attempts.len() as i64),
        ];
        if let Some(i) = served {
            if let Some(span) = r.attempts.get(i) {
                attrs.push(KeyValue::new(
                    "gen_ai.provider.name",
                    provider_name(span.kind),
                ));
            }
        }
        if let Some(m) = &record.served_model {
            attrs.push(KeyValue::new("gen_ai.response.model", m.clone()));
        }
        if let Some(p) = &record.provider {
            attrs.push(KeyValue::new("switchyard.provider", p.clone()));
        }
        if served.is_some() {
            usage_and_finish(&mut attrs, record);
        }
        attrs.extend(r.content);
        let status = if record.outcome == "success" {
            Status::Unset
        } else {
            let kind = error_type(record);
            attrs.push(KeyValue::new("error.type", kind.clone()));
            Status::error(kind)
        };
        spans.push(SpanData {
            span_context: server_cx,
            parent_span_id: r.parent.unwrap_or(SpanId::INVALID),
            parent_span_is_remote: r.parent.is_some(),
            span_kind: SpanKind::Server,
            name: Cow::Owned(format!("{op} {requested}")),
            start_time: r.start,
            end_time: end,
            attributes: attrs,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: r.sink.scope.clone(),
        });
        for s in spans {
            // A bounded queue: a full one (a dead collector) drops the span, never waits.
            r.sink.processor.on_end(s);
        }
    }

    /// The request was refused before admission (authentication, its body, its plan, its
    /// key's limits): one server span, named for the operation alone (its model may never
    /// have been read), with `error.type` the status code as HTTP's conventions have it.
    pub fn refused(&mut self, door: &'static str, status: u16, request_id: &str) {
        let Some(r) = self.recording.take() else {
            return;
        };
        let op = operation(door);
        let code = status.to_string();
        let attributes = vec![
            KeyValue::new("gen_ai.operation.name", op),
            KeyValue::new("http.response.status_code", i64::from(status)),
            KeyValue::new("error.type", code.clone()),
            KeyValue::new("switchyard.request_id", request_id.to_owned()),
            KeyValue::new("switchyard.outcome", "refused"),
        ];
        r.sink.processor.on_end(SpanData {
            span_context: SpanContext::new(
                r.trace_id,
                r.span_id,
                TraceFlags::SAMPLED,
                false,
                r.trace_state.clone(),
            ),
            parent_span_id: r.parent.unwrap_or(SpanId::INVALID),
            parent_span_is_remote: r.parent.is_some(),
            span_kind: SpanKind::Server,
            name: Cow::Borrowed(op),
            start_time: r.start,
            end_time: SystemTime::now(),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::error(code),
            instrumentation_scope: r.sink.scope.clone(),
        });
    }
}

/// Usage, finish reason and response id of the answer.
fn usage_and_finish(attrs: &mut Vec<KeyValue>, record: &RequestRecord) {
    attrs.push(KeyValue::new(
        "gen_ai.usage.input_tokens",
        record.prompt_tokens,
    ));
    attrs.push(KeyValue::new(
        "gen_ai.usage.output_tokens",
        record.completion_tokens,
    ));
    if let Some(f) = &record.finish_reason {
        attrs.push(KeyValue::new(
            "gen_ai.response.finish_reasons",
            Value::Array(Array::String(vec![StringValue::from(f.clone())])),
        ));
    }
    if let Some(id) = &record.upstream_id {
        attrs.push(KeyValue::new("gen_ai.response.id", id.clone()));
    }
}

/// The attempt that served: the last one, when it succeeded.
fn served_attempt(record: &RequestRecord) -> Option<usize> {
    let last = record.attempts.len().checked_sub(1)?;
    (record.provider.is_some() && record.attempts[last].outcome == "ok").then_some(last)
}

/// `error.type` of a request that did not succeed: the last attempt's failure when every
/// attempt failed, otherwise how the request ended (`timeout`, `cut`, `cancelled`).
fn error_type(record: &RequestRecord) -> String {
    match record.attempts.last() {
        Some(a) if record.outcome == "error" && a.outcome != "ok" => a.outcome.clone(),
        _ => record.outcome.clone(),
    }
}

/// `gen_ai.operation.name` of a front door.
pub fn operation(door: &str) -> &'static str {
    match door {
        "embeddings" => "embeddings",
        "completions" => "text_completion",
        // Chat Completions, Messages and Responses are all chat.
        _ => "chat",
    }
}

/// `gen_ai.provider.name`: the well-known values where the wire format names the vendor.
fn provider_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Openai => "openai",
        ProviderKind::Azure => "azure.ai.openai",
        ProviderKind::Gemini => "gcp.gemini",
        ProviderKind::Anthropic => "anthropic",
        ProviderKind::Bedrock => "aws.bedrock",
        ProviderKind::Mock => "switchyard.mock",
    }
}

fn nonzero_u128() -> u128 {
    rand::random::<u128>().max(1)
}

fn nonzero_u64() -> u64 {
    rand::random::<u64>().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doors_map_to_genai_operations() {
        assert_eq!(operation("chat"), "chat");
        assert_eq!(operation("messages"), "chat");
        assert_eq!(operation("responses"), "chat");
        assert_eq!(operation("embeddings"), "embeddings");
        assert_eq!(operation("completions"), "text_completion");
    }

    #[test]
    fn a_failed_request_names_its_last_failure() {
        let attempt = |outcome: &str| crate::store::AttemptRecord {
            provider: "p".into(),
            model: "m".into(),
            upstream_model: "u".into(),
            outcome: outcome.into(),
            status: None,
            error: None,
            latency_ms: 1,
        };
        let mut r = RequestRecord {
            outcome: "error".into(),
            attempts: vec![attempt("connect"), attempt("status")],
            ..RequestRecord::default()
        };
        assert_eq!(error_type(&r), "status");
        assert_eq!(served_attempt(&r), None);
        r.outcome = "cut".into();
        r.provider = Some("p".into());
        r.attempts[1].outcome = "ok".into();
        assert_eq!(error_type(&r), "cut");
        assert_eq!(served_attempt(&r), Some(1));
    }
}
