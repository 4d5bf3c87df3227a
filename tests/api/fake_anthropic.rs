//! A fake Anthropic Messages API: an axum server on a random port that checks requests the
//! way the real API does (the `x-api-key` and `anthropic-version` headers, a JSON body with
//! `model`, `max_tokens` and `messages`, thinking budgets, the temperature range) and answers
//! with scripted replies: recorded message bodies, SSE streams with named events (`event:`
//! lines, pings, no `[DONE]`), Anthropic error bodies with their statuses, in-stream `error`
//! events and cut connections. It records what it received.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use crate::fake::{fixture, split_events};

/// The key the fake accepts, and the variable the registry reads it from.
pub const KEY: &str = "sk-ant-fake-key";
pub const KEY_ENV: &str = "SWITCHYARD_TEST_ANTHROPIC_KEY";

/// What the fake does for one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with this message body (the request must not ask for a stream).
    Json(String),
    /// An SSE body of these events (`event: …\ndata: …`), each followed by a blank line
    /// (the request must ask for a stream).
    Sse(Vec<String>),
    /// Like `Sse`, but the connection dies after `after` events.
    SseCut(Vec<String>, usize),
    /// An Anthropic error body with this status and `error.type`, plus extra headers.
    Error(u16, &'static str, String, Vec<(&'static str, String)>),
}

impl Reply {
    /// A recorded message body from `tests/fixtures/anthropic/`.
    pub fn recorded(name: &str) -> Reply {
        Reply::Json(fixture(&format!("anthropic/{name}")))
    }
    /// A recorded stream from `tests/fixtures/anthropic/`.
    pub fn recorded_stream(name: &str) -> Reply {
        Reply::Sse(split_events(&fixture(&format!("anthropic/{name}"))))
    }
    pub fn error(status: u16, kind: &'static str, message: &str) -> Reply {
        Reply::Error(status, kind, message.into(), vec![])
    }
    /// A message body with these content blocks.
    pub fn message(content: Value, stop_reason: &str) -> Reply {
        Reply::Json(
            json!({"id": "msg_fake", "type": "message", "role": "assistant", "model": "claude-fake",
                "content": content, "stop_reason": stop_reason, "stop_sequence": null,
                "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 7}})
            .to_string(),
        )
    }
}

/// One SSE event as Anthropic writes it: the event name repeated from `data.type`.
pub fn event(data: Value) -> String {
    format!(
        "event: {}\ndata: {data}",
        data["type"].as_str().expect("event data has a type")
    )
}

/// The events of a stream that writes `text` in `pieces` and ends with `stop_reason`.
pub fn text_events(pieces: &[&str], stop_reason: &str) -> Vec<String> {
    let mut out = vec![
        event(
            json!({"type": "message_start", "message": {"id": "msg_stream", "type": "message", "role": "assistant",
            "model": "claude-fake", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1}}}),
        ),
        event(
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        event(json!({"type": "ping"})),
    ];
    for p in pieces {
        out.push(event(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}})));
    }
    out.push(event(json!({"type": "content_block_stop", "index": 0})));
    out.push(event(json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
        "usage": {"output_tokens": pieces.len()}})));
    out.push(event(json!({"type": "message_stop"})));
    out
}

/// A request the fake received.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Value,
    /// The body's bytes as they arrived.
    pub raw: Bytes,
    /// The path and query the request went to.
    pub uri: String,
}

#[derive(Default)]
struct Inner {
    replies: VecDeque<Reply>,
    received: Vec<Received>,
    served: u64,
}

#[derive(Clone)]
pub struct FakeAnthropic {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeAnthropic {
    /// Starts a fake that gives these replies in order, repeating the last one.
    pub async fn start(replies: Vec<Reply>) -> FakeAnthropic {
        std::env::set_var(KEY_ENV, KEY);
        let inner = Arc::new(Mutex::new(Inner {
            replies: replies.into(),
            ..Default::default()
        }));
        let app = Router::new()
            .route("/v1/messages", post(handle))
            .route("/v1/messages/count_tokens", post(count_tokens))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeAnthropic { addr, inner }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// A `[[providers]]` block for this fake.
    pub fn provider(&self, id: &str) -> String {
        format!(
            "[[providers]]\nid = \"{id}\"\nkind = \"anthropic\"\nbase_url = \"{}\"\napi_key_env = \"{KEY_ENV}\"\n\n",
            self.base_url()
        )
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The last request body.
    pub fn last_body(&self) -> Value {
        self.received().last().expect("a request").body.clone()
    }

    pub fn calls(&self) -> usize {
        self.inner.lock().unwrap().received.len()
    }
}

fn error_response(
    status: u16,
    kind: &str,
    message: &str,
    request_id: &str,
    headers: Vec<(&'static str, String)>,
) -> Response {
    let body = json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id});
    let mut r = (StatusCode::from_u16(status).unwrap(), body.to_string()).into_response();
    let h = r.headers_mut();
    h.insert("content-type", "application/json".parse().unwrap());
    h.insert("request-id", request_id.parse().unwrap());
    for (k, v) in headers {
        h.insert(k, v.parse().unwrap());
    }
    r
}

/// The checks the real API makes before it generates anything.
fn validate(headers: &HeaderMap, raw: &[u8]) -> Result<Value, (u16, &'static str, String)> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if header("x-api-key") != Some(KEY) {
        return Err((401, "authentication_error", "invalid x-api-key".into()));
    }
    // The first version, and the one the newest SDKs send.
    if !matches!(
        header("anthropic-version"),
        Some("2023-06-01" | "2026-10-21")
    ) {
        return Err((
            400,
            "invalid_request_error",
            "anthropic-version: header is required".into(),
        ));
    }
    if !header("content-type").is_some_and(|c| c.starts_with("application/json")) {
        return Err((
            400,
            "invalid_request_error",
            "content-type must be application/json".into(),
        ));
    }
    let invalid = |m: &str| (400, "invalid_request_error", m.to_owned());
    let body: Value = serde_json::from_slice(raw).map_err(|_| invalid("Invalid JSON body"))?;
    if !body["model"].is_string() {
        return Err(invalid("model: Field required"));
    }
    let Some(max_tokens) = body["max_tokens"].as_u64() else {
        return Err(invalid("max_tokens: Field required"));
    };
    if body["messages"].as_array().is_none_or(|m| m.is_empty()) {
        return Err(invalid("messages: at least one message is required"));
    }
    // Role `system` between turns comes with Claude Code's per-turn-control beta.
    let per_turn = header("anthropic-beta").is_some_and(|b| b.contains("per-turn-control"));
    for (i, m) in body["messages"].as_array().unwrap().iter().enumerate() {
        let role = m["role"].as_str();
        if !(matches!(role, Some("user" | "assistant")) || per_turn && role == Some("system")) {
            return Err(invalid(&format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'"
            )));
        }
    }
    if let Some(t) = body["temperature"].as_f64() {
        if !(0.0..=1.0).contains(&t) {
            return Err(invalid(
                "temperature: Input should be less than or equal to 1",
            ));
        }
    }
    if body["thinking"]["type"] == "enabled" {
        let budget = body["thinking"]["budget_tokens"].as_u64().unwrap_or(0);
        if budget < 1024 {
            return Err(invalid(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
            ));
        }
        if budget >= max_tokens {
            return Err(invalid(
                "`max_tokens` must be greater than `thinking.budget_tokens`",
            ));
        }
        if body["temperature"].as_f64().is_some_and(|t| t != 1.0) || body.get("top_k").is_some() {
            return Err(invalid(
                "temperature and top_k may not be changed when thinking is enabled",
            ));
        }
    }
    Ok(body)
}

/// Counts one token per four bytes of what it was sent, as a recognisable figure.
async fn count_tokens(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    inner.lock().unwrap().received.push(Received {
        headers: headers.clone(),
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw: raw.clone(),
        uri: uri.to_string(),
    });
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    for refused in ["max_tokens", "stream", "temperature"] {
        if body.get(refused).is_some() {
            return error_response(
                400,
                "invalid_request_error",
                &format!("{refused}: Extra inputs are not permitted"),
                "req_count",
                vec![],
            );
        }
    }
    let n = raw.len() / 4;
    (
        [("content-type", "application/json")],
        format!("{{\"input_tokens\":{n}}}"),
    )
        .into_response()
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let (reply, request_id) = {
        let mut g = inner.lock().unwrap();
        g.served += 1;
        let request_id = format!("req_fake_{}", g.served);
        g.received.push(Received {
            headers: headers.clone(),
            body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
            raw: raw.clone(),
            uri: uri.to_string(),
        });
        let reply = if g.replies.len() > 1 {
            g.replies.pop_front().unwrap()
        } else {
            g.replies.front().cloned().expect("fake has no reply")
        };
        (reply, request_id)
    };
    let body = match validate(&headers, &raw) {
        Ok(b) => b,
        Err((status, kind, message)) => {
            return error_response(status, kind, &message, &request_id, vec![])
        }
    };
    let stream = body["stream"].as_bool().unwrap_or(false);
    let mismatch = |what: &str| {
        error_response(
            400,
            "invalid_request_error",
            &format!("fake: scripted {what} but the request has stream={stream}"),
            &request_id,
            vec![],
        )
    };
    match reply {
        Reply::Json(_) if stream => mismatch("a JSON reply"),
        Reply::Sse(_) | Reply::SseCut(..) if !stream => mismatch("a stream"),
        Reply::Json(text) => {
            let mut r = ([("content-type", "application/json")], text).into_response();
            r.headers_mut()
                .insert("request-id", request_id.parse().unwrap());
            r
        }
        Reply::Error(status, kind, message, extra) => {
            error_response(status, kind, &message, &request_id, extra)
        }
        Reply::Sse(events) => sse(events, None, &request_id),
        Reply::SseCut(events, after) => sse(events, Some(after), &request_id),
    }
}

fn sse(events: Vec<String>, cut_after: Option<usize>, request_id: &str) -> Response {
    let stream = async_stream::stream! {
        for (i, ev) in events.into_iter().enumerate() {
            if cut_after == Some(i) {
                tokio::time::sleep(Duration::from_millis(50)).await;
                yield Err(std::io::Error::other("fake upstream cut the connection"));
                return;
            }
            yield Ok::<_, std::io::Error>(Bytes::from(format!("{ev}\n\n")));
        }
    };
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    h.insert(
        "content-type",
        "text/event-stream; charset=utf-8".parse().unwrap(),
    );
    h.insert("request-id", request_id.parse().unwrap());
    r
}
