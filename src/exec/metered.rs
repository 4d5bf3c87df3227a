//! `Meter`: the record of one request as it happens. It tracks attempts, what the served
//! upstream generated and its usage, and — exactly once, when the request ends or when it is
//! dropped (the client went away), whichever comes first — settles the request's ledger
//! admission to its actual cost and sends its `RequestRecord`.
//!
//! Cost: from upstream usage at the serving endpoint's prices; without usage, estimated (and
//! marked so). A request cancelled while an attempt was in flight is billed at that
//! attempt's prices too: the upstream had received the prompt.

use std::time::{Duration, Instant};

use crate::accounting::Slot;
use crate::ledger::Admission;
use crate::metrics::Metrics;
use crate::providers::{Chunk, ProviderError};
use crate::routing::Attempt;
use crate::store::{AttemptRecord, RequestRecord};
use crate::telemetry::propagate::Upstream;
use crate::telemetry::trace::RequestTrace;
use crate::types::usage::estimate_tokens;
use crate::types::{now_ms, Price, Usage};

/// How a request ended, for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Error,
    /// The upstream failed after the stream was committed.
    Cut,
    Timeout,
    Cancelled,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Error => "error",
            Outcome::Cut => "cut",
            Outcome::Timeout => "timeout",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// Identity and attribution known when the request arrives.
pub struct RequestInfo {
    pub id: String,
    pub app_referer: Option<String>,
    pub app_title: Option<String>,
    /// OpenRouter's `x-session-id` header (a `session_id` in the body wins).
    pub session_id: Option<String>,
    /// Where the request's end is counted, with its front door.
    pub metrics: (std::sync::Arc<Metrics>, &'static str),
    /// Its trace context, and its spans when they are exported.
    pub trace: RequestTrace,
}

pub struct Meter {
    slot: Option<Slot>,
    admission: Option<Admission>,
    record: RequestRecord,
    started: Instant,
    messages_len: usize,
    /// The serving attempt's prices.
    price: Option<Price>,
    /// The prices of the attempt in flight (billed if the client leaves during it).
    in_flight: Option<Price>,
    usage: Option<Usage>,
    output_bytes: usize,
    ttft: Option<Duration>,
    /// A stream counted in `in_flight_streams`, to uncount when it ends.
    stream_open: bool,
    sent: bool,
    metrics: (std::sync::Arc<Metrics>, &'static str),
    /// The request's content, when capture is on for it (`None`: nothing is captured).
    capture: Option<Box<super::capture::Capture>>,
    trace: RequestTrace,
}

impl Meter {
    pub fn new(slot: Slot, admission: Admission, info: RequestInfo, started: Instant) -> Meter {
        info.metrics.0.admitted();
        Meter {
            metrics: info.metrics,
            trace: info.trace,
            slot: Some(slot),
            admission: Some(admission),
            record: RequestRecord {
                id: info.id,
                created_at: now_ms() - started.elapsed().as_millis() as i64,
                app_referer: info.app_referer,
                app_title: info.app_title,
                session_id: info.session_id,
                outcome: Outcome::Cancelled.as_str().into(),
                ..RequestRecord::default()
            },
            started,
            messages_len: 0,
            price: None,
            in_flight: None,
            usage: None,
            output_bytes: 0,
            ttft: None,
            stream_open: false,
            sent: false,
            capture: None,
        }
    }

    /// Captures this request's content (see `exec::capture`).
    pub fn capture(&mut self, capture: Option<super::capture::Capture>) {
        self.capture = capture.map(Box::new);
    }

    /// A non-streamed answer, for the capture (when there is one).
    pub fn observe_completion(&mut self, c: &crate::providers::Completion) {
        if let Some(cap) = &mut self.capture {
            cap.completion(c);
        }
    }

    pub fn request_id(&self) -> &str {
        &self.record.id
    }

    pub fn set_key(&mut self, key_id: Option<String>) {
        self.record.key_id = key_id;
    }

    /// What the request asked for, once its body is parsed.
    pub fn set_request(&mut self, model: Option<String>, streamed: bool, messages_len: usize) {
        self.record.requested_model = model;
        self.record.streamed = streamed;
        self.messages_len = messages_len;
    }

    /// The end user and session the body named.
    pub fn attribute(&mut self, a: &crate::types::attribution::Attribution) {
        self.record.external_user.clone_from(&a.user);
        if a.session_id.is_some() {
            self.record.session_id.clone_from(&a.session_id);
        }
    }

    /// The preset the request used (`NAME@vN`).
    pub fn set_preset(&mut self, label: String) {
        self.record.preset = Some(label);
    }

    /// Notes an attempt before it starts, so a drop mid-attempt still records it. With the
    /// trace context its upstream requests carry.
    pub fn attempt_started(&mut self, a: &Attempt) -> ((usize, Instant), Option<Upstream<'_>>) {
        self.in_flight = Some(a.price);
        self.record.attempts.push(AttemptRecord {
            provider: a.provider.clone(),
            model: a.model.clone(),
            upstream_model: a.upstream_model.clone(),
            outcome: "cancelled".into(),
            status: None,
            error: None,
            latency_ms: 0,
        });
        let mark = (self.record.attempts.len() - 1, Instant::now());
        (mark, self.trace.attempt_started(a))
    }

    pub fn attempt_ended(
        &mut self,
        (idx, t0): (usize, Instant),
        result: Result<(), &ProviderError>,
    ) {
        self.trace.attempt_ended();
        if result.is_err() {
            // A failed attempt is not billed (providers do not charge for errors).
            self.in_flight = None;
        }
        if let Some(a) = self.record.attempts.get_mut(idx) {
            a.latency_ms = t0.elapsed().as_millis() as i64;
            match result {
                Ok(()) => {
                    a.outcome = "ok".into();
                    a.status = Some(200);
                }
                Err(e) => {
                    a.outcome = e.kind().into();
                    a.status = e.status().map(i64::from);
                    a.error = Some(e.to_string());
                }
            }
        }
    }

    /// The attempt that serves the response.
    pub fn served(&mut self, a: &Attempt, upstream_id: Option<String>) {
        self.record.served_model = Some(a.model.clone());
        self.record.provider = Some(a.provider.clone());
        self.record.upstream_id = upstream_id;
        self.price = Some(a.price);
    }

    pub fn first_token(&mut self) {
        if self.ttft.is_none() {
            self.ttft = Some(self.started.elapsed());
            if self.record.streamed {
                self.metrics.0.stream_started();
                self.stream_open = true;
            }
        }
    }

    pub fn observe_usage(&mut self, usage: Option<&Usage>) {
        if let Some(u) = usage {
            self.usage = Some(u.clone());
        }
    }

    /// The usage this request will be billed for so far: the upstream's when it came,
    /// otherwise an estimate of what was sent and generated (`true`).
    pub fn usage_or_estimate(&self) -> (Usage, bool) {
        match &self.usage {
            Some(u) => (u.clone(), false),
            None => (
                Usage::new(
                    estimate_tokens(self.messages_len),
                    estimate_tokens(self.output_bytes),
                ),
                true,
            ),
        }
    }

    pub fn observe_chunk(&mut self, c: &Chunk) {
        self.output_bytes += c.output_bytes;
        self.observe_usage(c.usage.as_ref());
        if let Some(cap) = &mut self.capture {
            cap.chunk(c);
        }
        if self.record.upstream_id.is_none() {
            self.record.upstream_id = c.body.get_as::<String>("id").and_then(Result::ok);
        }
        if c.finished {
            self.observe_finish(finish_reason_of(&c.body));
        }
    }

    pub fn observe_finish(&mut self, reason: Option<String>) {
        if reason.is_some() {
            self.record.finish_reason = reason;
        }
    }

    /// Moves the live record into a new meter, leaving this one spent (it will not record).
    pub fn take(&mut self) -> Meter {
        let m = Meter {
            slot: self.slot.take(),
            admission: self.admission.take(),
            record: std::mem::take(&mut self.record),
            started: self.started,
            messages_len: self.messages_len,
            price: self.price.take(),
            in_flight: self.in_flight.take(),
            usage: self.usage.take(),
            output_bytes: self.output_bytes,
            ttft: self.ttft,
            stream_open: std::mem::take(&mut self.stream_open),
            sent: self.sent,
            metrics: self.metrics.clone(),
            capture: self.capture.take(),
            trace: std::mem::take(&mut self.trace),
        };
        self.sent = true;
        m
    }

    /// Marks this meter as spent without recording (its record lives on elsewhere).
    pub fn disarm(&mut self) {
        self.sent = true;
    }

    /// Ends a request that failed with this status before its answer started: a 504 is a
    /// timeout, anything else an error.
    pub fn fail(self, status: u16, message: String) {
        let outcome = if status == 504 {
            Outcome::Timeout
        } else {
            Outcome::Error
        };
        self.finish(outcome, status, Some(message));
    }

    /// Ends the request and sends its record.
    pub fn finish(mut self, outcome: Outcome, status: u16, error: Option<String>) {
        self.send(outcome, status, error);
    }

    fn send(&mut self, outcome: Outcome, status: u16, error: Option<String>) {
        if self.sent {
            return;
        }
        self.sent = true;
        let (usage, estimated) = self.usage_or_estimate();
        let r = &mut self.record;
        r.outcome = outcome.as_str().into();
        r.cancelled = outcome == Outcome::Cancelled;
        r.status = i64::from(status);
        r.error = error;
        r.latency_ms = self.started.elapsed().as_millis() as i64;
        r.ttft_ms = self.ttft.map(|t| t.as_millis() as i64);
        let mut tokens = 0;
        if let Some(price) = self.price.or(self.in_flight) {
            // Usage from the upstream when it came; otherwise an estimate of what was sent and
            // generated.
            r.usage_estimated = estimated;
            r.prompt_tokens = usage.prompt_tokens as i64;
            r.completion_tokens = usage.completion_tokens as i64;
            r.cached_tokens = usage.cached_tokens() as i64;
            r.cache_write_tokens = usage.cache_write_tokens() as i64;
            r.reasoning_tokens = usage.reasoning_tokens() as i64;
            r.cost_nanos = price.cost(&usage).total();
            tokens = usage.prompt_tokens + usage.completion_tokens;
        }
        // The one place a request's money moves: the reservation becomes the actual cost.
        if let Some(a) = self.admission.take() {
            a.settle(r.cost_nanos, tokens);
        }
        let outcome_str = r.outcome.clone();
        tracing::info!(
            request_id = %r.id,
            model = r.served_model.as_deref().unwrap_or("-"),
            provider = r.provider.as_deref().unwrap_or("-"),
            outcome = %outcome_str,
            status = r.status,
            attempts = r.attempts.len(),
            prompt_tokens = r.prompt_tokens,
            completion_tokens = r.completion_tokens,
            latency_ms = r.latency_ms,
            "request finished"
        );
        if std::mem::take(&mut self.stream_open) {
            self.metrics.0.stream_ended();
        }
        self.metrics.0.ended(self.metrics.1, r);
        if let Some(cap) = self.capture.take() {
            let store = cap.store;
            let content = cap.finish(r.finish_reason.as_deref());
            self.trace.content(self.metrics.1, &content);
            if store {
                r.content = Some(Box::new(content));
            }
        }
        self.trace.finish(self.metrics.1, r);
        if let Some(slot) = self.slot.take() {
            slot.record(std::mem::take(&mut self.record));
        }
    }
}

/// The first choice's `finish_reason` of a chunk or completion body.
pub fn finish_reason_of(body: &crate::types::RawObject) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Choice {
        finish_reason: Option<String>,
    }
    let choices: Vec<Choice> = body.get_as("choices")?.ok()?;
    choices.into_iter().find_map(|c| c.finish_reason)
}

impl Drop for Meter {
    fn drop(&mut self) {
        if !self.sent {
            // Dropped before an explicit end: the client disconnected (the upstream call,
            // owned by the same future or stream, is being dropped and so cancelled too).
            // 499 follows the common "client closed request" convention.
            self.send(Outcome::Cancelled, 499, Some("client disconnected".into()));
        }
    }
}
