//! OpenTelemetry traces of requests: a SERVER span per admitted request and a CLIENT span per
//! upstream attempt, with the attributes of the OpenTelemetry semantic conventions for
//! generative AI, version 1.37.0 (`SEMCONV_SCHEMA`).
//!
//! Spans are built once, when the request's record is final (`Meter::send`), from the record
//! and the ids and times noted on the way: nothing is exported, allocated or sampled for a
//! request when traces are off, and a request never waits on the exporter (its spans are
//! encoded as OTLP protobuf straight into the exporter's queue, which a task posts in
//! batches: `otlp`). Ids are chosen up front so that the `traceparent` an upstream receives
//! names the attempt's span.
//!
//! Prompts and completions are exported only when an operator opts in (`content`).

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::otlp::{self, Attrs, Exporter, Kind, SpanHead};
use super::propagate::{Address, Incoming, Traceparent, Upstream};
use crate::routing::Attempt;
use crate::store::RequestRecord;
use crate::types::registry::ProviderKind;

/// The semantic conventions the attributes follow.
pub const SEMCONV_SCHEMA: &str = "https://opentelemetry.io/schemas/1.37.0";

/// Where spans go, and which requests are sampled.
pub struct Traces {
    exporter: Arc<Exporter>,
    sampler: Box<dyn ShouldSample>,
    sampling: Sampling,
    /// With content capture on, the most bytes each side's content may take in a span.
    content: Option<usize>,
}

/// How requests are sampled: the two samplers that decide on the parent's flag alone are
/// decided here (the SDK's path builds a `Context` and a result for every request); any other
/// goes to the SDK's sampler.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Sampling {
    AlwaysOn,
    ParentBasedAlwaysOn,
    Sdk,
}

impl Sampling {
    /// As the SDK reads `OTEL_TRACES_SAMPLER` (unset: `parentbased_always_on`).
    pub(super) fn of(var: Option<&str>) -> Sampling {
        match var {
            None | Some("parentbased_always_on") => Sampling::ParentBasedAlwaysOn,
            Some("always_on") => Sampling::AlwaysOn,
            Some(_) => Sampling::Sdk,
        }
    }
}

impl Traces {
    pub(super) fn new(
        exporter: Arc<Exporter>,
        sampler: Box<dyn ShouldSample>,
        sampling: Sampling,
        content: Option<usize>,
    ) -> Traces {
        Traces {
            exporter,
            sampler,
            sampling,
            content,
        }
    }

    /// With content capture on, the most bytes each side's content may take in a span.
    pub fn content_max(&self) -> Option<usize> {
        self.content
    }

    /// Exports what is queued and stops the exporter (blocking: run it off the runtime's
    /// workers). Bounded by the exporter's timeout.
    pub fn shutdown(&self) {
        self.exporter.shutdown();
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
    /// The client's `tracestate` (validated), as exported.
    trace_state: String,
    start: SystemTime,
    attempts: Attempts,
    /// The opted-in content attributes (see `content`).
    content: Vec<KeyValue>,
}

/// The attempts' spans: the first inline (nearly every request makes one attempt, and a Vec
/// would be an allocation and a free per traced request), any others after it.
#[derive(Default)]
struct Attempts {
    first: Option<AttemptSpan>,
    rest: Vec<AttemptSpan>,
}

impl Attempts {
    fn push(&mut self, a: AttemptSpan) {
        if self.first.is_none() {
            self.first = Some(a);
        } else {
            self.rest.push(a);
        }
    }

    fn last_mut(&mut self) -> Option<&mut AttemptSpan> {
        self.rest.last_mut().or(self.first.as_mut())
    }

    fn last(&self) -> Option<&AttemptSpan> {
        self.rest.last().or(self.first.as_ref())
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    fn iter(&self) -> impl Iterator<Item = &AttemptSpan> {
        self.first.iter().chain(&self.rest)
    }

    fn get(&self, i: usize) -> Option<&AttemptSpan> {
        match i {
            0 => self.first.as_ref(),
            _ => self.rest.get(i - 1),
        }
    }
}

struct AttemptSpan {
    span_id: SpanId,
    kind: ProviderKind,
    start: SystemTime,
    end: Option<SystemTime>,
    address: Address,
}

impl RequestTrace {
    /// The trace of a request that arrived at `started` with the client's context `incoming`.
    #[inline(never)] // bench/instructions.sh attributes its cost
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
        let sampled = match sink.sampling {
            Sampling::AlwaysOn => true,
            // ParentBased(AlwaysOn): a root is sampled, a child as its remote parent was.
            Sampling::ParentBasedAlwaysOn => parent.is_none_or(|p| p.flags & 1 == 1),
            Sampling::Sdk => {
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
                decision == SamplingDecision::RecordAndSample
            }
        };
        let recording = sampled.then(|| {
            Box::new(Recording {
                sink: sink.clone(),
                trace_id,
                span_id: SpanId::from(nonzero_u64()),
                parent: parent.map(|p| SpanId::from(p.span_id)),
                trace_state: trace_state.header(),
                start: SystemTime::now() - started.elapsed(),
                attempts: Attempts::default(),
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
    #[inline(never)] // bench/instructions.sh attributes its cost
    pub fn attempt_started(&mut self, a: &Attempt) -> Option<Upstream<'_>> {
        let incoming = self.incoming.as_ref();
        let tracestate = incoming.and_then(|i| i.tracestate.as_ref());
        let Some(r) = self.recording.as_mut() else {
            return incoming.map(|i| Upstream {
                traceparent: Traceparent::Forward(&i.traceparent),
                tracestate,
                address: None,
            });
        };
        let span_id = SpanId::from(nonzero_u64());
        r.attempts.push(AttemptSpan {
            span_id,
            kind: a.kind,
            start: SystemTime::now(),
            end: None,
            address: Address::new(),
        });
        let trace_id = u128::from_be_bytes(r.trace_id.to_bytes());
        Some(Upstream {
            traceparent: Traceparent::Span {
                trace_id,
                span_id: u64::from_be_bytes(span_id.to_bytes()),
            },
            tracestate,
            address: r.attempts.last().map(|s| &s.address),
        })
    }

    #[inline(never)] // bench/instructions.sh attributes its cost
    pub fn attempt_ended(&mut self) {
        if let Some(a) = self.recording.as_mut().and_then(|r| r.attempts.last_mut()) {
            a.end = Some(SystemTime::now());
        }
    }

    /// The request's captured content, for the request span when the operator opted in
    /// to content in traces (otherwise nothing is kept).
    #[inline(never)] // bench/instructions.sh attributes its cost
    pub fn content(&mut self, door: &str, captured: &crate::store::CapturedContent) {
        if let Some(r) = self.recording.as_mut() {
            if let Some(max) = r.sink.content {
                r.content = super::content::attributes(door, captured, max);
            }
        }
    }

    /// The request has ended with this record: its spans go to the exporter's queue.
    #[inline(never)] // bench/instructions.sh attributes its cost
    pub fn finish(&mut self, door: &'static str, record: &RequestRecord) {
        let Some(r) = self.recording.take() else {
            return;
        };
        let end = SystemTime::now();
        let op = operation(door);
        let served = served_attempt(record);
        let trace_id = u128::from_be_bytes(r.trace_id.to_bytes());
        let server_id = u64::from_be_bytes(r.span_id.to_bytes());
        let attempts = r.attempts.len().min(record.attempts.len());
        r.sink.exporter.push(1 + attempts, |out| {
            for (i, (span, a)) in r.attempts.iter().zip(&record.attempts).enumerate() {
                let is_served = served == Some(i);
                // The serving attempt of a stream lasts as long as the stream.
                let attempt_end = if is_served && record.streamed {
                    end
                } else {
                    span.end.unwrap_or(end)
                };
                let head = SpanHead {
                    trace_id,
                    span_id: u64::from_be_bytes(span.span_id.to_bytes()),
                    parent: Some((server_id, false)),
                    trace_state: &r.trace_state,
                    name: (op, &a.upstream_model),
                    kind: Kind::Client,
                    start: span.start,
                    end: attempt_end,
                };
                let error = (a.outcome != "ok").then_some(a.outcome.as_str());
                otlp::span(out, &head, error, |attrs| {
                    attrs.str("gen_ai.operation.name", op);
                    attrs.str("gen_ai.provider.name", provider_name(span.kind));
                    attrs.str("gen_ai.request.model", &a.upstream_model);
                    attrs.str("switchyard.provider", &a.provider);
                    attrs.str("switchyard.model", &a.model);
                    if let Some((host, port)) = span.address.get() {
                        attrs.str("server.address", host);
                        if let Some(p) = port {
                            attrs.int("server.port", i64::from(*p));
                        }
                    }
                    if let Some(s) = a.status {
                        attrs.int("http.response.status_code", s);
                    }
                    if a.outcome == "ok" {
                        if is_served {
                            attrs.str("gen_ai.response.model", &a.upstream_model);
                            usage_and_finish(attrs, record);
                        }
                    } else {
                        attrs.str("error.type", &a.outcome);
                    }
                });
            }

            let requested = record.requested_model.as_deref().unwrap_or("unknown");
            let error = (record.outcome != "success").then(|| error_type(record));
            let head = SpanHead {
                trace_id,
                span_id: server_id,
                parent: r.parent.map(|p| (u64::from_be_bytes(p.to_bytes()), true)),
                trace_state: &r.trace_state,
                name: (op, requested),
                kind: Kind::Server,
                start: r.start,
                end,
            };
            otlp::span(out, &head, error, |attrs| {
                attrs.str("gen_ai.operation.name", op);
                attrs.str("gen_ai.request.model", requested);
                attrs.int("http.response.status_code", record.status);
                attrs.str("switchyard.request_id", &record.id);
                attrs.str("switchyard.outcome", &record.outcome);
                attrs.int("switchyard.attempts", record.attempts.len() as i64);
                if let Some(i) = served {
                    if let Some(span) = r.attempts.get(i) {
                        attrs.str("gen_ai.provider.name", provider_name(span.kind));
                    }
                }
                if let Some(m) = &record.served_model {
                    attrs.str("gen_ai.response.model", m);
                }
                if let Some(p) = &record.provider {
                    attrs.str("switchyard.provider", p);
                }
                if served.is_some() {
                    usage_and_finish(attrs, record);
                }
                if let Some(kind) = error {
                    attrs.str("error.type", kind);
                }
                for kv in &r.content {
                    attrs.value(kv.key.as_str(), &kv.value);
                }
            });
        });
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
        let head = SpanHead {
            trace_id: u128::from_be_bytes(r.trace_id.to_bytes()),
            span_id: u64::from_be_bytes(r.span_id.to_bytes()),
            parent: r.parent.map(|p| (u64::from_be_bytes(p.to_bytes()), true)),
            trace_state: &r.trace_state,
            name: (op, ""),
            kind: Kind::Server,
            start: r.start,
            end: SystemTime::now(),
        };
        r.sink.exporter.push(1, |out| {
            otlp::span(out, &head, Some(&code), |attrs| {
                attrs.str("gen_ai.operation.name", op);
                attrs.int("http.response.status_code", i64::from(status));
                attrs.str("error.type", &code);
                attrs.str("switchyard.request_id", request_id);
                attrs.str("switchyard.outcome", "refused");
            });
        });
    }
}

/// Usage, finish reason and response id of the answer.
fn usage_and_finish(attrs: &mut Attrs, record: &RequestRecord) {
    attrs.int("gen_ai.usage.input_tokens", record.prompt_tokens);
    attrs.int("gen_ai.usage.output_tokens", record.completion_tokens);
    if let Some(f) = &record.finish_reason {
        attrs.str_array("gen_ai.response.finish_reasons", f);
    }
    if let Some(id) = &record.upstream_id {
        attrs.str("gen_ai.response.id", id);
    }
}

/// The attempt that served: the last one, when it succeeded.
fn served_attempt(record: &RequestRecord) -> Option<usize> {
    let last = record.attempts.len().checked_sub(1)?;
    (record.provider.is_some() && record.attempts[last].outcome == "ok").then_some(last)
}

/// `error.type` of a request that did not succeed: the last attempt's failure when every
/// attempt failed, otherwise how the request ended (`timeout`, `cut`, `cancelled`).
fn error_type(record: &RequestRecord) -> &str {
    match record.attempts.last() {
        Some(a) if record.outcome == "error" && a.outcome != "ok" => &a.outcome,
        _ => &record.outcome,
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

thread_local! {
    // Ids need to be unique, not unpredictable: a small generator per thread, seeded from the
    // thread's cryptographic one (as the OpenTelemetry SDK's id generator does), costs a
    // fraction of drawing every id from the latter.
    static IDS: RefCell<SmallRng> = RefCell::new(SmallRng::from_rng(&mut rand::rng()));
}

fn nonzero_u128() -> u128 {
    IDS.with_borrow_mut(|r| r.random::<u128>()).max(1)
}

fn nonzero_u64() -> u64 {
    IDS.with_borrow_mut(|r| r.random::<u64>()).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_samplers_are_decided_here_and_others_by_the_sdk() {
        assert_eq!(Sampling::of(None), Sampling::ParentBasedAlwaysOn);
        assert_eq!(
            Sampling::of(Some("parentbased_always_on")),
            Sampling::ParentBasedAlwaysOn
        );
        assert_eq!(Sampling::of(Some("always_on")), Sampling::AlwaysOn);
        for other in [
            "",
            "always_off",
            "traceidratio",
            "parentbased_traceidratio",
            "ALWAYS_ON",
        ] {
            assert_eq!(Sampling::of(Some(other)), Sampling::Sdk, "{other}");
        }
    }

    #[test]
    fn attempt_spans_keep_their_order() {
        let span = |id| AttemptSpan {
            span_id: SpanId::from(id),
            kind: ProviderKind::Openai,
            start: SystemTime::UNIX_EPOCH,
            end: None,
            address: Address::new(),
        };
        let mut a = Attempts::default();
        assert!(a.last_mut().is_none());
        for id in 1..=3u64 {
            a.push(span(id));
            assert_eq!(a.len(), id as usize);
            assert_eq!(a.last_mut().unwrap().span_id, SpanId::from(id));
        }
        let ids: Vec<SpanId> = a.iter().map(|s| s.span_id).collect();
        assert_eq!(ids, [1u64, 2, 3].map(SpanId::from));
        assert_eq!(a.get(2).unwrap().span_id, SpanId::from(3u64));
        assert!(a.get(3).is_none());
    }

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
