//! OTLP/HTTP protobuf, written directly: each request's spans are encoded once, when the
//! request ends, straight from its record into the exporter's queue (no `SpanData`, no owned
//! strings per attribute, no conversion to the generated protobuf types and no second
//! encoding pass), and a task on the gateway's runtime posts the queue as one
//! `ExportTraceServiceRequest` every `OTEL_BSP_SCHEDULE_DELAY` or when it holds
//! `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` spans. Measured (bench/instructions.sh, `INSTR_OBS=1`): the
//! SDK's batch processor and OTLP exporter cost more per request than the 3% that all of
//! observability may add; see README, "Traces".
//!
//! The messages and field numbers are those of opentelemetry-proto (`trace/v1/trace.proto`,
//! `common/v1/common.proto`, `resource/v1/resource.proto`); the test suite decodes what this
//! writes with the generated types.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::{Array, Value};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

// ------------------------------------------------------------------ protobuf writer

const VARINT: u32 = 0;
const I64: u32 = 1;
const LEN: u32 = 2;
const I32: u32 = 5;

#[inline]
fn varint(buf: &mut Vec<u8>, mut v: u64) {
    if v < 0x80 {
        buf.push(v as u8);
        return;
    }
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn key(buf: &mut Vec<u8>, field: u32, wire: u32) {
    varint(buf, u64::from(field << 3 | wire));
}

fn len_prefix(buf: &mut Vec<u8>, field: u32, len: usize) {
    key(buf, field, LEN);
    varint(buf, len as u64);
}

fn bytes(buf: &mut Vec<u8>, field: u32, b: &[u8]) {
    len_prefix(buf, field, b.len());
    buf.extend_from_slice(b);
}

fn uint(buf: &mut Vec<u8>, field: u32, v: u64) {
    key(buf, field, VARINT);
    varint(buf, v);
}

fn fixed64(buf: &mut Vec<u8>, field: u32, v: u64) {
    key(buf, field, I64);
    buf.extend_from_slice(&v.to_le_bytes());
}

/// A length-delimited field whose contents `f` writes: one byte is kept for the length and
/// the contents move when they need more (rare: attributes are short).
fn message(buf: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
    message_sized(buf, field, 1, f)
}

/// The same with `width` bytes kept for the length (a span, at 128 bytes to 16 KiB, takes
/// two), so that the usual length is written in place and the contents never move.
fn message_sized(buf: &mut Vec<u8>, field: u32, width: usize, f: impl FnOnce(&mut Vec<u8>)) {
    key(buf, field, LEN);
    let at = buf.len();
    buf.resize(at + width, 0);
    f(buf);
    let end = buf.len();
    let len = end - at - width;
    let n = varint_len(len as u64);
    if n != width {
        if n > width {
            buf.resize(end + n - width, 0);
        }
        buf.copy_within(at + width..end, at + n);
        buf.truncate(at + n + len);
    }
    // The varint written in place (no allocation: this runs for every span).
    let mut v = len as u64;
    for byte in &mut buf[at..at + n] {
        *byte = v as u8 & 0x7f | if v >= 0x80 { 0x80 } else { 0 };
        v >>= 7;
    }
}

/// `AnyValue` of an SDK value (the resource's attributes).
fn any_value(buf: &mut Vec<u8>, field: u32, v: &Value) {
    message(buf, field, |b| match v {
        Value::Bool(x) => uint(b, 2, u64::from(*x)),
        Value::I64(x) => uint(b, 3, *x as u64),
        Value::F64(x) => {
            key(b, 4, I64);
            b.extend_from_slice(&x.to_le_bytes());
        }
        Value::String(s) => bytes(b, 1, s.as_str().as_bytes()),
        Value::Array(a) => message(b, 5, |arr| match a {
            Array::Bool(xs) => xs.iter().for_each(|x| any_value(arr, 1, &Value::Bool(*x))),
            Array::I64(xs) => xs.iter().for_each(|x| any_value(arr, 1, &Value::I64(*x))),
            Array::F64(xs) => xs.iter().for_each(|x| any_value(arr, 1, &Value::F64(*x))),
            Array::String(xs) => xs
                .iter()
                .for_each(|x| message(arr, 1, |s| bytes(s, 1, x.as_str().as_bytes()))),
            _ => {}
        }),
        _ => {}
    });
}

/// A span's attributes (`KeyValue`s, field 9 of `Span`), written as they are added.
pub struct Attrs<'a>(&'a mut Vec<u8>);

/// Field 9 (`Span.attributes`), length-delimited.
const ATTRIBUTE: u8 = 9 << 3 | LEN as u8;
/// Fields 1 and 2 of `KeyValue` (key, value) and 1, 3 and 5 of `AnyValue` (string, int,
/// array), and 1 of `ArrayValue` (values).
const KV_KEY: u8 = 1 << 3 | LEN as u8;
const KV_VALUE: u8 = 2 << 3 | LEN as u8;
const ANY_STRING: u8 = 1 << 3 | LEN as u8;
const ANY_INT: u8 = 3 << 3 | VARINT as u8;
const ANY_ARRAY: u8 = 5 << 3 | LEN as u8;
const ARRAY_VALUES: u8 = 1 << 3 | LEN as u8;

/// The length of a length-delimited field holding `len` bytes, without its tag.
fn delimited(len: usize) -> usize {
    varint_len(len as u64) + len
}

// The common attributes (a string or an integer) are written with their lengths computed
// first, in one pass and one reservation: no length is fixed up after the fact.
impl Attrs<'_> {
    /// `KeyValue` head: the attribute's tag and length, and the key.
    fn head(&mut self, key: &str, value_len: usize) {
        let kv = 1 + delimited(key.len()) + 1 + delimited(value_len);
        let b = &mut *self.0;
        b.reserve(1 + delimited(kv));
        b.push(ATTRIBUTE);
        varint(b, kv as u64);
        b.push(KV_KEY);
        varint(b, key.len() as u64);
        b.extend_from_slice(key.as_bytes());
        b.push(KV_VALUE);
        varint(b, value_len as u64);
    }

    // Inlined: the key is a literal at nearly every call, so its length and copy fold into
    // the caller (about half of an attribute's cost, measured).
    #[inline(always)]
    pub fn str(&mut self, key: &str, value: &str) {
        // Nearly every attribute: each length fits in one byte, so the fields around the key
        // and the value are four bytes each, written whole.
        let (k, v) = (key.len(), value.len());
        if k + v < 120 {
            let b = &mut *self.0;
            let any = 2 + v;
            b.reserve(8 + k + v);
            b.extend_from_slice(&[ATTRIBUTE, (2 + k + 2 + any) as u8, KV_KEY, k as u8]);
            b.extend_from_slice(key.as_bytes());
            b.extend_from_slice(&[KV_VALUE, any as u8, ANY_STRING, v as u8]);
            b.extend_from_slice(value.as_bytes());
            return;
        }
        self.head(key, 1 + delimited(value.len()));
        self.0.push(ANY_STRING);
        varint(self.0, value.len() as u64);
        self.0.extend_from_slice(value.as_bytes());
    }

    #[inline(always)]
    pub fn int(&mut self, key: &str, value: i64) {
        let any = 1 + varint_len(value as u64);
        if key.len() < 100 {
            let (b, k) = (&mut *self.0, key.len());
            b.reserve(7 + k + any);
            b.extend_from_slice(&[ATTRIBUTE, (2 + k + 2 + any) as u8, KV_KEY, k as u8]);
            b.extend_from_slice(key.as_bytes());
            b.extend_from_slice(&[KV_VALUE, any as u8, ANY_INT]);
            varint(b, value as u64);
            return;
        }
        self.head(key, any);
        self.0.push(ANY_INT);
        varint(self.0, value as u64);
    }

    /// Any attribute value (strings, booleans, integers, doubles, arrays).
    pub fn value(&mut self, key: &str, value: &Value) {
        message(self.0, 9, |kv| {
            bytes(kv, 1, key.as_bytes());
            any_value(kv, 2, value);
        });
    }

    /// An array of one string.
    #[inline(always)]
    pub fn str_array(&mut self, key: &str, value: &str) {
        let (k, v) = (key.len(), value.len());
        if k + v < 100 {
            let b = &mut *self.0;
            let (string, element) = (2 + v, 4 + v);
            let any = 2 + element;
            b.reserve(12 + k + v);
            b.extend_from_slice(&[ATTRIBUTE, (4 + k + any) as u8, KV_KEY, k as u8]);
            b.extend_from_slice(key.as_bytes());
            b.extend_from_slice(&[KV_VALUE, any as u8, ANY_ARRAY, element as u8]);
            b.extend_from_slice(&[ARRAY_VALUES, string as u8, ANY_STRING, v as u8]);
            b.extend_from_slice(value.as_bytes());
            return;
        }
        let string = 1 + delimited(value.len());
        let element = 1 + delimited(string);
        self.head(key, 1 + delimited(element));
        let b = &mut *self.0;
        b.push(ANY_ARRAY);
        varint(b, element as u64);
        b.push(ARRAY_VALUES);
        varint(b, string as u64);
        b.push(ANY_STRING);
        varint(b, value.len() as u64);
        b.extend_from_slice(value.as_bytes());
    }
}

#[derive(Clone, Copy)]
pub enum Kind {
    Server = 2,
    Client = 3,
}

/// What a span is, apart from its attributes.
pub struct SpanHead<'a> {
    pub trace_id: u128,
    pub span_id: u64,
    /// The parent span, and whether it is remote (the client's).
    pub parent: Option<(u64, bool)>,
    pub trace_state: &'a str,
    /// The name, `{operation} {model}`.
    pub name: (&'a str, &'a str),
    pub kind: Kind,
    pub start: SystemTime,
    pub end: SystemTime,
}

/// Span flags: sampled, and whether the parent is remote is known (and its answer).
const SAMPLED: u32 = 0x01;
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

/// Appends one span (`ScopeSpans.spans`) to `out`: its head, the attributes `attrs` writes and
/// its status (ERROR with this description, or UNSET).
pub fn span(
    out: &mut Vec<u8>,
    head: &SpanHead,
    error: Option<&str>,
    attrs: impl FnOnce(&mut Attrs),
) {
    message_sized(out, 2, 2, |s| {
        bytes(s, 1, &head.trace_id.to_be_bytes());
        bytes(s, 2, &head.span_id.to_be_bytes());
        if !head.trace_state.is_empty() {
            bytes(s, 3, head.trace_state.as_bytes());
        }
        let mut flags = SAMPLED | HAS_IS_REMOTE;
        if let Some((parent, remote)) = head.parent {
            bytes(s, 4, &parent.to_be_bytes());
            if remote {
                flags |= IS_REMOTE;
            }
        }
        // `{operation} {model}`, or the operation alone when no model is known.
        let (op, model) = head.name;
        let space = usize::from(!model.is_empty());
        len_prefix(s, 5, op.len() + space + model.len());
        s.extend_from_slice(op.as_bytes());
        if space == 1 {
            s.push(b' ');
            s.extend_from_slice(model.as_bytes());
        }
        uint(s, 6, head.kind as u64);
        fixed64(s, 7, nanos(head.start));
        fixed64(s, 8, nanos(head.end));
        attrs(&mut Attrs(s));
        message(s, 15, |st| {
            if let Some(description) = error {
                bytes(st, 2, description.as_bytes());
                uint(st, 3, 2);
            }
        });
        key(s, 16, I32);
        s.extend_from_slice(&flags.to_le_bytes());
    });
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

// ------------------------------------------------------------------ the exporter

/// Batching (the `OTEL_BSP_*` variables, with the SDK's defaults) and where to post.
pub struct Settings {
    pub endpoint: String,
    pub headers: HeaderMap,
    pub timeout: Duration,
    pub delay: Duration,
    pub max_queue: usize,
    pub max_batch: usize,
}

impl Settings {
    /// The standard variables: headers (`OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`), timeout
    /// (`OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT`, 10 s) and the batch processor's (`OTEL_BSP_*`:
    /// schedule delay 5 s, queue 2048 spans, batch 512).
    pub fn from_env(endpoint: String) -> Settings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let num = |name: &str| var(name).and_then(|v| v.trim().parse::<u64>().ok());
        let headers = var("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
            .or_else(|| var("OTEL_EXPORTER_OTLP_HEADERS"))
            .map(|v| parse_headers(&v))
            .unwrap_or_default();
        let timeout = num("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
            .or_else(|| num("OTEL_EXPORTER_OTLP_TIMEOUT"))
            .unwrap_or(10_000);
        let max_queue = num("OTEL_BSP_MAX_QUEUE_SIZE").unwrap_or(2048).max(1) as usize;
        let max_batch = num("OTEL_BSP_MAX_EXPORT_BATCH_SIZE").unwrap_or(512).max(1) as usize;
        Settings {
            endpoint,
            headers,
            timeout: Duration::from_millis(timeout),
            delay: Duration::from_millis(num("OTEL_BSP_SCHEDULE_DELAY").unwrap_or(5000).max(1)),
            max_queue,
            max_batch: max_batch.min(max_queue),
        }
    }
}

/// `key1=value1,key2=value2`, values URL-encoded (the OTLP exporter specification); a pair
/// that is not a valid header is skipped.
fn parse_headers(s: &str) -> HeaderMap {
    let mut out = HeaderMap::new();
    for pair in s.split(',') {
        let Some((k, v)) = pair.split_once('=') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.trim().as_bytes()),
            HeaderValue::from_bytes(&percent_decode(v.trim())),
        ) else {
            continue;
        };
        out.insert(name, value);
    }
    out
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(c)) => {
                out.push(c);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Encoded spans waiting for the next export. `buf` starts with `prefix` bytes kept for the
/// export's head (`Exporter::take`), so that the spans are posted where they were written,
/// and the buffer of the last post comes back as `spare` (a queue that starts empty would
/// grow by reallocation and copying through every batch, and each batch's large buffer,
/// freed, churns the allocator under the requests' own allocations).
struct Queue {
    buf: Vec<u8>,
    spans: usize,
    spare: Option<bytes::Bytes>,
}

/// The queue and the task that empties it.
pub struct Exporter {
    queue: Mutex<Queue>,
    wake: Notify,
    max_queue: usize,
    max_batch: usize,
    dropped: AtomicU64,
    /// The `Resource` and `InstrumentationScope` (with their schema URLs) every export
    /// starts with, encoded once.
    resource: Vec<u8>,
    scope: Vec<u8>,
    /// The bytes kept at the start of each batch for its head: the two tags, two lengths
    /// of at most five bytes (a batch is under 32 GiB), the resource and the scope.
    prefix: usize,
    stop: CancellationToken,
    stopped: Mutex<Option<mpsc::Receiver<()>>>,
    timeout: Duration,
}

impl Exporter {
    /// Starts the export task on the current runtime.
    pub fn start(
        settings: Settings,
        resource: &opentelemetry_sdk::Resource,
        scope: (&str, &str, &str),
        client: reqwest::Client,
    ) -> std::sync::Arc<Exporter> {
        let (tx, rx) = mpsc::channel();
        let exporter = std::sync::Arc::new(Exporter::new(&settings, resource, scope, rx));
        tokio::spawn(run(exporter.clone(), settings, client, tx));
        exporter
    }

    fn new(
        settings: &Settings,
        resource: &opentelemetry_sdk::Resource,
        scope: (&str, &str, &str),
        stopped: mpsc::Receiver<()>,
    ) -> Exporter {
        let mut res = Vec::new();
        message(&mut res, 1, |r| {
            for (k, v) in resource.iter() {
                message(r, 1, |kv| {
                    bytes(kv, 1, k.as_str().as_bytes());
                    any_value(kv, 2, v);
                });
            }
        });
        if let Some(url) = resource.schema_url().filter(|u| !u.is_empty()) {
            bytes(&mut res, 3, url.as_bytes());
        }
        let (name, version, schema_url) = scope;
        let mut sc = Vec::new();
        message(&mut sc, 1, |s| {
            bytes(s, 1, name.as_bytes());
            bytes(s, 2, version.as_bytes());
        });
        bytes(&mut sc, 3, schema_url.as_bytes());
        let prefix = 1 + 5 + res.len() + 1 + 5 + sc.len();
        Exporter {
            queue: Mutex::new(Queue {
                buf: vec![0; prefix],
                spans: 0,
                spare: None,
            }),
            prefix,
            wake: Notify::new(),
            max_queue: settings.max_queue,
            max_batch: settings.max_batch,
            dropped: AtomicU64::new(0),
            resource: res,
            scope: sc,
            stop: CancellationToken::new(),
            stopped: Mutex::new(Some(stopped)),
            timeout: settings.timeout,
        }
    }

    /// Queues `spans` spans that `write` appends (with `span`); a full queue (a collector
    /// that is down or slow) drops them, never waits.
    pub fn push(&self, spans: usize, write: impl FnOnce(&mut Vec<u8>)) {
        let Ok(mut q) = self.queue.lock() else {
            return;
        };
        if q.spans + spans > self.max_queue {
            drop(q);
            if self.dropped.fetch_add(spans as u64, Ordering::Relaxed) == 0 {
                tracing::warn!(
                    "traces: the export queue is full, spans are dropped (OTEL_BSP_MAX_QUEUE_SIZE)"
                );
            }
            return;
        }
        write(&mut q.buf);
        q.spans += spans;
        let full = q.spans >= self.max_batch && q.spans - spans < self.max_batch;
        drop(q);
        if full {
            self.wake.notify_one();
        }
    }

    /// Exports what is queued and stops (blocking: run it off the runtime's workers).
    /// Bounded by the export timeout.
    pub fn shutdown(&self) {
        self.stop.cancel();
        let rx = self.stopped.lock().ok().and_then(|mut r| r.take());
        if let Some(rx) = rx {
            if rx
                .recv_timeout(self.timeout + Duration::from_secs(1))
                .is_err()
            {
                tracing::warn!("traces: the last export did not finish in time");
            }
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "traces: spans dropped because the export queue was full"
            );
        }
    }

    /// Takes what is queued: one `ExportTraceServiceRequest` (the whole buffer, and where
    /// the message starts in it), or `None` when nothing is.
    fn take(&self) -> Option<(Vec<u8>, usize)> {
        let mut buf = {
            let mut q = self.queue.lock().ok()?;
            if q.spans == 0 {
                return None;
            }
            q.spans = 0;
            // The spare is taken back only now, a batch after its post: by then the HTTP
            // client has surely let go of it. Without one, a buffer of this batch's size.
            let mut next = q
                .spare
                .take()
                .and_then(|b| b.try_into_mut().ok())
                .map(|mut b| {
                    b.clear(); // (and so nothing is copied into the Vec)
                    Vec::from(b)
                })
                .unwrap_or_else(|| Vec::with_capacity(q.buf.len()));
            next.resize(self.prefix, 0);
            std::mem::replace(&mut q.buf, next)
        };
        // The head, written so that it ends where the spans start.
        let scope_spans = self.scope.len() + buf.len() - self.prefix;
        let resource_spans = self.resource.len() + 1 + varint_len(scope_spans as u64) + scope_spans;
        let mut head = Vec::with_capacity(self.prefix);
        len_prefix(&mut head, 1, resource_spans);
        head.extend_from_slice(&self.resource);
        len_prefix(&mut head, 2, scope_spans);
        head.extend_from_slice(&self.scope);
        let start = self.prefix - head.len();
        buf[start..self.prefix].copy_from_slice(&head);
        Some((buf, start))
    }

    /// The buffer of a finished post, for a later batch.
    fn recycle(&self, body: bytes::Bytes) {
        if let Ok(mut q) = self.queue.lock() {
            q.spare = Some(body);
        }
    }
}

/// Exports every `delay`, when a batch is full, and once more when stopped.
async fn run(
    exporter: std::sync::Arc<Exporter>,
    settings: Settings,
    client: reqwest::Client,
    stopped: mpsc::Sender<()>,
) {
    let mut failing = false;
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(settings.delay) => false,
            _ = exporter.wake.notified() => false,
            _ = exporter.stop.cancelled() => true,
        };
        if let Some((buf, start)) = exporter.take() {
            let whole = bytes::Bytes::from(buf);
            let error = post(&client, &settings, whole.slice(start..)).await;
            exporter.recycle(whole);
            match error {
                // One warning per outage, not one per batch.
                Some(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "traces: an export failed; its spans are lost");
                }
                Some(_) => {}
                None => failing = false,
            }
        }
        if stopping {
            break;
        }
    }
    let _ = stopped.send(());
}

/// Posts one export, retrying what the OTLP specification calls retryable (no answer, 429,
/// 502, 503, 504) up to three times with a growing pause, all within the export timeout.
/// The error of the last try, if none succeeded.
async fn post(client: &reqwest::Client, settings: &Settings, body: bytes::Bytes) -> Option<String> {
    let deadline = tokio::time::Instant::now() + settings.timeout;
    let mut pause = Duration::from_millis(100);
    let mut tries = 0;
    loop {
        tries += 1;
        let sent = client
            .post(&settings.endpoint)
            .headers(settings.headers.clone())
            .header(CONTENT_TYPE, "application/x-protobuf")
            .timeout(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .body(body.clone())
            .send()
            .await;
        // A collector's answer (an ExportTraceServiceResponse) is not read.
        let (error, retryable) = match sent {
            Ok(r) if r.status().is_success() => return None,
            Ok(r) => (
                format!("status {}", r.status()),
                matches!(r.status().as_u16(), 429 | 502 | 503 | 504),
            ),
            Err(e) => (e.to_string(), !e.is_timeout()),
        };
        if !retryable || tries > 3 || tokio::time::Instant::now() + pause >= deadline {
            return Some(error);
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_headers() {
        for v in [0u64, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            let mut b = Vec::new();
            varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v), "{v}");
        }
        // A field longer than 127 bytes moves its contents up for a two-byte length.
        let mut b = Vec::new();
        message(&mut b, 1, |m| m.extend_from_slice(&[7; 300]));
        assert_eq!(&b[..3], &[0x0a, 0xac, 0x02]);
        assert_eq!(b.len(), 303);
        // And a three-byte one.
        let mut b = Vec::new();
        message(&mut b, 1, |m| m.extend_from_slice(&[7; 20_000]));
        assert_eq!(&b[..4], &[0x0a, 0xa0, 0x9c, 0x01]);
        assert_eq!(b.len(), 20_004);
        // Kept two bytes: a short field moves down, a long one up.
        for len in [5, 300, 20_000] {
            let mut b = Vec::new();
            message_sized(&mut b, 1, 2, |m| m.extend_from_slice(&vec![7; len]));
            let mut want = Vec::new();
            bytes(&mut want, 1, &vec![7; len]);
            assert_eq!(b, want, "{len}");
        }
        let h = parse_headers("api-key=a%20b, x-team = blue,bad");
        assert_eq!(h["api-key"], "a b");
        assert_eq!(h["x-team"], "blue");
        assert_eq!(h.len(), 2);
    }

    /// Each batch is one `ExportTraceServiceRequest` holding its spans; a post's buffer comes
    /// back for the batch after next (the next one is already filling when it is taken).
    #[test]
    fn batches_decode_and_reuse_the_last_posts_buffer() {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use prost::Message;
        let settings = Settings::from_env("http://127.0.0.1:9".into());
        let resource = opentelemetry_sdk::Resource::builder_empty()
            .with_attribute(opentelemetry::KeyValue::new(
                "service.name",
                "s".repeat(300),
            ))
            .build();
        let (_tx, rx) = mpsc::channel();
        let exporter = Exporter::new(&settings, &resource, ("switchyard", "1", "u"), rx);
        assert!(exporter.take().is_none());
        let head = |id| SpanHead {
            trace_id: 1,
            span_id: id,
            parent: None,
            trace_state: "",
            name: ("chat", "m"),
            kind: Kind::Server,
            start: UNIX_EPOCH,
            end: UNIX_EPOCH,
        };
        let mut posted = Vec::new();
        for (batch, spans) in [1usize, 40, 3].into_iter().enumerate() {
            for i in 0..spans {
                exporter.push(1, |out| {
                    span(out, &head(i as u64 + 1), None, |a| {
                        a.str("k", &"v".repeat(i * 10))
                    })
                });
            }
            let (buf, start) = exporter.take().unwrap();
            if batch == 2 {
                assert_eq!(buf.as_ptr(), posted[0], "batch 2 reuses batch 0's buffer");
            }
            let req = ExportTraceServiceRequest::decode(&buf[start..]).unwrap();
            let rs = &req.resource_spans[0];
            assert_eq!(
                rs.resource.as_ref().unwrap().attributes[0].key,
                "service.name"
            );
            assert_eq!(rs.scope_spans[0].scope.as_ref().unwrap().name, "switchyard");
            let got = &rs.scope_spans[0].spans;
            assert_eq!(got.len(), spans);
            assert_eq!(got[spans - 1].attributes[0].key, "k");
            let whole = bytes::Bytes::from(buf);
            posted.push(whole.as_ptr());
            exporter.recycle(whole);
        }
    }

    /// The attributes written with lengths computed first are the bytes the general,
    /// fixed-up path writes.
    #[test]
    fn attributes_match_the_general_encoding() {
        for (len, key) in [0, 1, 50, 93, 94, 100, 127, 128, 200, 16_383, 16_384, 70_000]
            .into_iter()
            .flat_map(|len| {
                ["", "gen_ai.request.model", &"k".repeat(len % 300)].map(|k| (len, k.to_owned()))
            })
        {
            let s = "x".repeat(len);
            let fast = |f: &dyn Fn(&mut Attrs)| {
                let mut b = Vec::new();
                f(&mut Attrs(&mut b));
                b
            };
            assert_eq!(
                fast(&|a| a.str(&key, &s)),
                fast(&|a| a.value(&key, &Value::from(s.clone()))),
                "str {len}"
            );
            assert_eq!(
                fast(&|a| a.str_array(&key, &s)),
                fast(&|a| a.value(&key, &Value::Array(Array::String(vec![s.clone().into()])))),
                "array {len}"
            );
        }
        for v in [0, 1, 127, 128, 200, i64::MAX, -1, i64::MIN] {
            for key in [
                "http.response.status_code",
                &"k".repeat(99),
                &"k".repeat(200),
            ] {
                let mut fast = Vec::new();
                Attrs(&mut fast).int(key, v);
                let mut general = Vec::new();
                Attrs(&mut general).value(key, &Value::I64(v));
                assert_eq!(fast, general, "int {v}");
            }
        }
    }
}
