//! HTTP plumbing shared by adapters: the client, error classification of upstream responses,
//! and SSE decoding.

use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::ProviderError;
use crate::telemetry::propagate::Upstream;

/// The shared upstream client: one connection pool for every provider.
pub fn client(connect_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends an upstream request, with the W3C trace context of the attempt it belongs to.
pub async fn send(
    rb: reqwest::RequestBuilder,
    trace: Option<&Upstream<'_>>,
) -> Result<reqwest::Response, reqwest::Error> {
    let (client, req) = rb.build_split();
    let mut req = req?;
    if let Some(ctx) = trace {
        crate::telemetry::propagate::inject(&mut req, ctx);
    }
    client.execute(req).await
}

/// Classifies a transport error. The upstream URL (which may be internal) goes to the
/// operators' log only; the error that reaches clients and records names no address.
pub fn transport_error(e: reqwest::Error) -> ProviderError {
    if let Some(url) = e.url() {
        tracing::warn!(url = %url, error = %source_chain(&e), "upstream transport error");
    }
    let kind = (
        e.is_timeout(),
        e.is_builder(),
        e.is_connect(),
        e.is_decode(),
        e.is_body(),
    );
    let text = source_chain(&e.without_url());
    match kind {
        (true, ..) => ProviderError::Timeout("waiting for the upstream"),
        // The request could not even be built: a configuration mistake, not an outage.
        (_, true, ..) => ProviderError::Config(text),
        (_, _, true, ..) => ProviderError::Connect(text),
        // The body arrived but is not what it should be.
        (_, _, _, true, _) => ProviderError::Malformed(text),
        (_, _, _, _, true) => ProviderError::Cut(text),
        _ => ProviderError::Connect(text),
    }
}

/// A provider's configuration cannot work (a URL that does not parse, a header value that
/// is not allowed). The detail, which may name internal hosts or values, is logged for
/// operators; the error says only that the provider is misconfigured.
pub fn config_error(detail: String) -> ProviderError {
    tracing::error!(error = %detail, "provider misconfigured");
    ProviderError::Config(detail)
}

pub(crate) fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}

#[derive(Deserialize)]
struct ErrorEnvelope<'a> {
    #[serde(borrow)]
    error: ErrorBodyView<'a>,
}

/// The error object of OpenAI (`type`, string `code`), OpenRouter (numeric `code`) and most clones.
#[derive(Deserialize)]
struct ErrorBodyView<'a> {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    error_type: Option<String>,
    #[serde(borrow, default)]
    code: Option<&'a RawValue>,
    #[serde(default)]
    param: Option<String>,
    #[serde(borrow, default)]
    metadata: Option<&'a RawValue>,
}

/// Builds a `Status` error from an upstream error body (JSON or not).
pub fn status_error(status: u16, body: &[u8], retry_after: Option<Duration>) -> ProviderError {
    let parsed = serde_json::from_slice::<ErrorEnvelope>(body).ok();
    let (message, error_type, code, param) = match parsed {
        Some(env) => {
            let e = env.error;
            let code = e.code.map(|c| c.get().trim_matches('"').to_owned());
            let mut message = e.message.unwrap_or_else(|| "no message".into());
            // OpenRouter puts the underlying provider's reason in metadata.raw.
            if let Some(raw) = e.metadata.and_then(metadata_raw) {
                if !message.contains(&raw) {
                    message = format!("{message} ({raw})");
                }
            }
            (message, e.error_type, code, e.param)
        }
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let message = if text.is_empty() {
                "empty response body".to_owned()
            } else {
                truncate(text, 300).to_owned()
            };
            (message, None, None, None)
        }
    };
    ProviderError::Status {
        status,
        message,
        error_type,
        code,
        param,
        retry_after,
    }
}

fn metadata_raw(meta: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct Meta {
        raw: Option<serde_json::Value>,
    }
    let m: Meta = serde_json::from_str(meta.get()).ok()?;
    match m.raw? {
        serde_json::Value::String(s) => Some(truncate(&s, 300).to_owned()),
        serde_json::Value::Null => None,
        other => Some(truncate(&other.to_string(), 300).to_owned()),
    }
}

/// An in-band error (a 200 whose body or chunk has a top-level `error`): its status is the
/// numeric `code` when it has one (OpenRouter), else 502.
pub fn in_band_error(error: crate::types::RawRef<'_>) -> ProviderError {
    let body = format!("{{\"error\":{}}}", error.get());
    let status = serde_json::from_str::<ErrorEnvelope>(&body)
        .ok()
        .and_then(|e| e.error.code.and_then(|c| c.get().parse::<u16>().ok()))
        .filter(|s| (400..=599).contains(s))
        .unwrap_or(502);
    status_error(status, body.as_bytes(), None)
}

pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The longest `Retry-After` taken from an upstream.
pub const MAX_RETRY_AFTER: Duration = crate::types::MAX_DELAY;

/// `retry-after-ms` or `retry-after` (seconds; HTTP dates are ignored).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Bounded: an upstream's `inf` or `1e30` must not panic the gateway.
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return crate::types::bounded_secs(ms / 1000.0);
    }
    get("retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(crate::types::bounded_secs)
}

/// Turns a non-success response into a `Status` error, reading (a bounded part of) its body.
pub async fn error_from_response(resp: reqwest::Response) -> ProviderError {
    let status = resp.status().as_u16();
    let retry = retry_after(resp.headers());
    let body = error_body(resp).await;
    status_error(status, &body, retry)
}

/// Reads an error response's body, at most about 64 KiB of it: enough for any error message,
/// bounded against an upstream that streams garbage.
pub async fn error_body(resp: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(Ok(part)) = stream.next().await {
        body.extend_from_slice(&part);
        if body.len() > 64 * 1024 {
            break;
        }
    }
    body
}

/// Adds the provider's declared extra headers (`headers = {...}` in its config).
pub fn declared_headers(
    decl: &crate::types::registry::ProviderDecl,
    headers: &mut reqwest::header::HeaderMap,
) -> Result<(), String> {
    use reqwest::header::{HeaderName, HeaderValue};
    for (name, value) in &decl.headers {
        // Refused by `ProviderDecl::validate`; one stored before that rule is dropped here, so
        // the send path only ever adds the attempt's context, never replaces one.
        if crate::types::registry::is_trace_context(name) {
            tracing::warn!(provider = %decl.id, header = %name, "a declared trace-context header is ignored");
            continue;
        }
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a valid header name"))?;
        let v = HeaderValue::from_str(value)
            .map_err(|_| format!("the value of header `{name}` is not valid"))?;
        headers.insert(n, v);
    }
    Ok(())
}

/// What one upstream answer may hold in the gateway's memory, and what fetching a request's
/// images by URL may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamLimits {
    /// A whole JSON (non-streamed) response.
    pub max_response_bytes: usize,
    /// One SSE event (the parser buffers an event until its end).
    pub max_event_bytes: usize,
    /// Images by URL in one request.
    pub max_images: usize,
    /// Their bytes together.
    pub max_image_bytes: usize,
    /// Downloads at once for one request.
    pub image_concurrency: usize,
}

impl Default for UpstreamLimits {
    fn default() -> Self {
        UpstreamLimits {
            max_response_bytes: 32 * 1024 * 1024,
            max_event_bytes: 8 * 1024 * 1024,
            max_images: 16,
            max_image_bytes: 32 * 1024 * 1024,
            image_concurrency: 4,
        }
    }
}

fn too_large(what: &str, limit: usize) -> ProviderError {
    ProviderError::Malformed(format!(
        "the upstream sent {what} larger than the gateway's limit of {limit} bytes"
    ))
}

/// Reads a whole response body, refusing one larger than `limit` (by its declared length
/// before reading, else as soon as it grows past it).
pub async fn read_capped(resp: reqwest::Response, limit: usize) -> Result<Bytes, ProviderError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large("a response", limit));
    }
    let mut out = bytes::BytesMut::new();
    let mut body = resp.bytes_stream();
    while let Some(part) = body.next().await {
        let part = part.map_err(transport_error)?;
        if out.len() + part.len() > limit {
            return Err(too_large("a response", limit));
        }
        out.extend_from_slice(&part);
    }
    Ok(out.freeze())
}

/// One SSE event's data, or the end marker.
pub enum SseData {
    Data(String),
    Done,
}

/// Why an SSE body stopped.
#[derive(Debug, thiserror::Error)]
enum SseBodyError {
    #[error("{}", source_chain(.0))]
    Transport(reqwest::Error),
    #[error("an event larger than {0} bytes")]
    EventTooLarge(usize),
}

/// Counts the bytes of the event being received (since the last blank line) and fails the
/// body once one event passes `limit`: the parser would otherwise buffer it whole, however
/// large, and rescan it as it grows.
fn cap_events(
    body: impl Stream<Item = Result<Bytes, reqwest::Error>> + Send + 'static,
    limit: usize,
) -> impl Stream<Item = Result<Bytes, SseBodyError>> + Send + 'static {
    let mut in_event = 0usize;
    let mut newline = false;
    let mut failed = false;
    body.map(move |part| {
        let part = part.map_err(SseBodyError::Transport)?;
        for &b in part.iter() {
            match b {
                b'\n' if newline => {
                    in_event = 0;
                    newline = false;
                }
                b'\n' => newline = true,
                b'\r' => {}
                _ => newline = false,
            }
            in_event += 1;
        }
        if in_event > limit || failed {
            failed = true;
            return Err(SseBodyError::EventTooLarge(limit));
        }
        Ok(part)
    })
}

/// Decodes an SSE body into event data. Comments and keep-alives are dropped by the parser.
pub fn sse_data(
    body: impl Stream<Item = Result<Bytes, reqwest::Error>> + Send + 'static,
    max_event_bytes: usize,
) -> impl Stream<Item = Result<SseData, ProviderError>> + Send + 'static {
    cap_events(body, max_event_bytes)
        .eventsource()
        .filter_map(|ev| async move {
            match ev {
                Ok(ev) if ev.data == "[DONE]" => Some(Ok(SseData::Done)),
                Ok(ev) if ev.data.is_empty() => None,
                Ok(ev) => Some(Ok(SseData::Data(ev.data))),
                Err(eventsource_stream::EventStreamError::Transport(SseBodyError::Transport(
                    e,
                ))) => Some(Err(ProviderError::Cut(source_chain(&e.without_url())))),
                Err(eventsource_stream::EventStreamError::Transport(e)) => Some(Err(too_large(
                    "an SSE event",
                    match e {
                        SseBodyError::EventTooLarge(n) => n,
                        _ => 0,
                    },
                ))),
                Err(e) => Some(Err(ProviderError::Malformed(e.to_string()))),
            }
        })
}

/// The SSE frame for one event's data. Anthropic and the Responses API name every event
/// after its `type`, so the frame is rebuilt byte for byte from the data alone.
pub fn sse_frame(data: &str) -> Bytes {
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        #[serde(borrow, rename = "type")]
        kind: Option<&'a str>,
    }
    let kind = serde_json::from_str::<Head<'_>>(data)
        .ok()
        .and_then(|h| h.kind)
        .filter(|k| {
            k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        });
    let mut out = Vec::with_capacity(data.len() + 32);
    if let Some(k) = kind {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(k.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

#[cfg(test)]
mod frame_tests {
    #[test]
    fn frames_are_rebuilt_from_their_type() {
        let f = super::sse_frame(r#"{"type":"ping"}"#);
        assert_eq!(&f[..], b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
        let f = super::sse_frame(r#"{"type":"response.output_text.delta"}"#);
        assert!(f.starts_with(b"event: response.output_text.delta\n"));
        // A type that could break the frame is not used as an event name.
        let f = super::sse_frame(r#"{"type":"a\nb"}"#);
        assert!(f.starts_with(b"data: "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A declaration stored before trace-context headers were refused still sends none.
    #[test]
    fn declared_trace_context_headers_are_dropped() {
        use crate::types::registry::{ProviderDecl, ProviderKind};
        let mut decl = ProviderDecl::new("p", ProviderKind::Openai);
        decl.base_url = Some("http://127.0.0.1:9/v1".into());
        for (n, v) in [
            ("TraceParent", "00-1-2-01"),
            ("tracestate", "a=b"),
            ("x-org", "acme"),
        ] {
            decl.headers.insert(n.into(), v.into());
        }
        assert_eq!(decl.validate().unwrap_err().field, "headers");
        let mut headers = reqwest::header::HeaderMap::new();
        declared_headers(&decl, &mut headers).unwrap();
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["x-org"], "acme");
    }

    #[tokio::test]
    async fn the_event_cap_counts_one_event_at_a_time() {
        let parts = |v: Vec<&'static str>| {
            futures::stream::iter(
                v.into_iter()
                    .map(|s| Ok::<_, reqwest::Error>(Bytes::from(s))),
            )
        };
        // Many small events, in pieces and with CRLF, far more than the cap in total.
        let small: Vec<&'static str> =
            std::iter::repeat_n("data: 0123456789\r\n\r\n", 100).collect();
        let got: Vec<_> = sse_data(parts(small), 64).collect().await;
        assert_eq!(got.len(), 100);
        assert!(got.iter().all(|e| matches!(e, Ok(SseData::Data(_)))));
        // One event past the cap, split across parts, fails.
        let big = vec![
            "data: ",
            "0123456789012345678901234567890123456789",
            "0123456789012345678901234567890123456789",
            "\n\n",
        ];
        let got: Vec<_> = sse_data(parts(big), 64).collect().await;
        assert!(
            matches!(got.last(), Some(Err(ProviderError::Malformed(m))) if m.contains("limit of 64 bytes")),
            "{:?}",
            got.iter()
                .map(|e| e.as_ref().map(|_| ()).map_err(|e| e.to_string()))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_request_that_cannot_be_built_is_a_config_error_naming_no_url() {
        let e = reqwest::Client::new()
            .get("http://internal.example:8080/v1")
            .header("x-bad", "line\nbreak")
            .build()
            .unwrap_err();
        let classified = transport_error(e);
        assert_eq!(classified.kind(), "config");
        assert!(!classified.to_string().contains("internal.example"));
    }

    #[test]
    fn hostile_retry_after_values_never_panic() {
        for (name, value, want) in [
            ("retry-after", "inf", Some(MAX_RETRY_AFTER)),
            ("retry-after", "1e30", Some(MAX_RETRY_AFTER)),
            ("retry-after", "1e20", Some(MAX_RETRY_AFTER)),
            ("retry-after", "NaN", None),
            ("retry-after", "-5", Some(Duration::ZERO)),
            ("retry-after", "7", Some(Duration::from_secs(7))),
            ("retry-after-ms", "inf", Some(MAX_RETRY_AFTER)),
            ("retry-after-ms", "1500", Some(Duration::from_millis(1500))),
        ] {
            let mut h = reqwest::header::HeaderMap::new();
            h.insert(name, value.parse().unwrap());
            assert_eq!(retry_after(&h), want, "{name}: {value}");
        }
    }

    #[test]
    fn parses_openai_and_openrouter_errors() {
        match status_error(429, br#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded","param":null}}"#, None) {
            ProviderError::Status { status, message, code, error_type, .. } => {
                assert_eq!((status, message.as_str()), (429, "slow down"));
                assert_eq!(code.as_deref(), Some("rate_limit_exceeded"));
                assert_eq!(error_type.as_deref(), Some("requests"));
            }
            e => panic!("{e:?}"),
        }
        match in_band_error(
            RawValue::from_string(
                r#"{"code":503,"message":"down","metadata":{"raw":"upstream busy"}}"#.into(),
            )
            .unwrap()
            .as_ref()
            .into(),
        ) {
            ProviderError::Status {
                status, message, ..
            } => {
                assert_eq!(status, 503);
                assert_eq!(message, "down (upstream busy)");
            }
            e => panic!("{e:?}"),
        }
        match status_error(500, b"<html>oops</html>", None) {
            ProviderError::Status { message, .. } => assert_eq!(message, "<html>oops</html>"),
            e => panic!("{e:?}"),
        }
    }
}
