//! Fake OpenAI-compatible upstreams: real axum servers on random ports that answer with
//! recorded fixtures or scripted misbehaviour (errors, slowness, dropped and malformed streams).

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
use serde_json::Value;

pub fn fixture(path: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

/// What the fake does for one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with this JSON body (sent as is).
    Json(String),
    /// This status, body and extra headers.
    Status(u16, String, Vec<(&'static str, String)>),
    /// An SSE body: these raw events (each already `data: ...` or `: comment`), separated by
    /// blank lines, with `first` before the first and `between` between the rest.
    Sse {
        events: Vec<String>,
        first: Duration,
        between: Duration,
    },
    /// Like `Sse`, but the connection is cut after `after` events (no terminator).
    SseDropped {
        events: Vec<String>,
        after: usize,
        between: Duration,
    },
    /// Wait this long, then reply.
    Delayed(Duration, Box<Reply>),
    /// Never answer.
    Hang,
}

impl Reply {
    pub fn simple() -> Reply {
        Reply::Json(fixture("openai/simple.json"))
    }
    pub fn simple_stream() -> Reply {
        Reply::sse_fixture("openai/simple_streaming.sse")
    }
    pub fn sse_fixture(path: &str) -> Reply {
        Reply::Sse {
            events: split_events(&fixture(path)),
            first: Duration::ZERO,
            between: Duration::ZERO,
        }
    }
    pub fn error(status: u16, message: &str) -> Reply {
        let body = serde_json::json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}});
        Reply::Status(status, body.to_string(), vec![])
    }
}

/// Splits an SSE body into its events (without the blank-line separators).
pub fn split_events(body: &str) -> Vec<String> {
    body.split("\n\n")
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A request the fake received.
#[derive(Clone, Debug)]
pub struct Received {
    /// Path and query, e.g. `/openai/v1/chat/completions`.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Bytes,
}

#[derive(Default)]
struct Inner {
    replies: VecDeque<Reply>,
    received: Vec<Received>,
    /// Number of requests whose response body was dropped before it finished.
    open_streams: usize,
}

#[derive(Clone)]
pub struct Fake {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl Fake {
    /// Starts a fake that gives these replies in order, repeating the last one.
    pub async fn start(replies: Vec<Reply>) -> Fake {
        let inner = Arc::new(Mutex::new(Inner {
            replies: replies.into(),
            ..Default::default()
        }));
        // Any POST path: OpenAI-style `/v1/chat/completions` and Azure's deployment URLs alike.
        let app = Router::new()
            .route("/{*path}", post(handle))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Fake { addr, inner }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    pub fn calls(&self) -> usize {
        self.inner.lock().unwrap().received.len()
    }

    /// Streams whose body is still being produced (the gateway has not let go of them).
    pub fn open_streams(&self) -> usize {
        self.inner.lock().unwrap().open_streams
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let reply = {
        let mut g = inner.lock().unwrap();
        g.received.push(Received {
            path: uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            headers,
            body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
            raw,
        });
        if g.replies.len() > 1 {
            g.replies.pop_front().unwrap()
        } else {
            g.replies.front().cloned().expect("fake has no reply")
        }
    };
    respond(reply, inner).await
}

/// Decrements the open-stream count when the response body is dropped.
struct OpenGuard(Arc<Mutex<Inner>>);
impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.lock().unwrap().open_streams -= 1;
    }
}

fn respond(
    reply: Reply,
    inner: Arc<Mutex<Inner>>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>> {
    Box::pin(async move {
        match reply {
            Reply::Json(body) => ([("content-type", "application/json")], body).into_response(),
            Reply::Status(status, body, headers) => {
                let mut r = (StatusCode::from_u16(status).unwrap(), body).into_response();
                r.headers_mut()
                    .insert("content-type", "application/json".parse().unwrap());
                for (k, v) in headers {
                    r.headers_mut().insert(k, v.parse().unwrap());
                }
                r
            }
            Reply::Delayed(d, inner_reply) => {
                tokio::time::sleep(d).await;
                respond(*inner_reply, inner).await
            }
            Reply::Hang => {
                std::future::pending::<()>().await;
                unreachable!()
            }
            Reply::Sse {
                events,
                first,
                between,
            } => sse(events, first, between, None, inner),
            Reply::SseDropped {
                events,
                after,
                between,
            } => sse(events, Duration::ZERO, between, Some(after), inner),
        }
    })
}

fn sse(
    events: Vec<String>,
    first: Duration,
    between: Duration,
    cut_after: Option<usize>,
    inner: Arc<Mutex<Inner>>,
) -> Response {
    inner.lock().unwrap().open_streams += 1;
    let guard = OpenGuard(inner);
    let stream = async_stream::stream! {
        let _guard = guard;
        for (i, ev) in events.into_iter().enumerate() {
            if cut_after == Some(i) {
                // Let what was sent reach the wire before the connection dies.
                tokio::time::sleep(Duration::from_millis(50)).await;
                yield Err(std::io::Error::other("fake upstream cut the connection"));
                return;
            }
            // A scripted pause inside the stream.
            if let Some(ms) = ev.strip_prefix("#sleep:") {
                tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
                continue;
            }
            let d = if i == 0 { first } else { between };
            if !d.is_zero() {
                tokio::time::sleep(d).await;
            }
            yield Ok::<_, std::io::Error>(Bytes::from(format!("{ev}\n\n")));
        }
    };
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        "content-type",
        "text/event-stream; charset=utf-8".parse().unwrap(),
    );
    r
}

/// A text-stream SSE script in OpenAI's shape: role chunk, `pieces`, finish, usage, [DONE].
pub fn text_stream(pieces: &[&str]) -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}",
            serde_json::json!({"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1,"model":"up-model",
                "choices":[{"index":0,"delta":delta,"logprobs":null,"finish_reason":finish}],"usage":null})
        )
    };
    let mut out = vec![chunk(
        serde_json::json!({"role":"assistant","content":""}),
        Value::Null,
    )];
    for p in pieces {
        out.push(chunk(serde_json::json!({"content": p}), Value::Null));
    }
    out.push(chunk(serde_json::json!({}), Value::from("stop")));
    out.push(format!(
        "data: {}",
        serde_json::json!({"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1,"model":"up-model","choices":[],
            "usage":{"prompt_tokens":11,"completion_tokens":pieces.len(),"total_tokens":11 + pieces.len()}})
    ));
    out.push("data: [DONE]".into());
    out
}
