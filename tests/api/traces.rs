//! OpenTelemetry traces: the gateway exports to an OTLP/HTTP receiver that decodes what it
//! gets (protobuf `ExportTraceServiceRequest`), and upstreams receive the attempt's
//! `traceparent`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;

use crate::fake::{Fake, Reply};
use crate::helpers::*;

/// A tiny OTLP/HTTP traces receiver: keeps every body posted to `/v1/traces`.
struct Receiver {
    addr: std::net::SocketAddr,
    bodies: Arc<Mutex<Vec<Bytes>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route(
                "/v1/traces",
                post(
                    |State(b): State<Arc<Mutex<Vec<Bytes>>>>, body: Bytes| async move {
                        b.lock().unwrap().push(body);
                        // An empty ExportTraceServiceResponse: everything accepted.
                        (
                            [("content-type", "application/x-protobuf")],
                            Vec::<u8>::new(),
                        )
                    },
                ),
            )
            .with_state(bodies.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, bodies }
    }

    fn config(&self) -> String {
        format!("[traces]\nendpoint = \"http://{}/v1/traces\"\n", self.addr)
    }

    /// A gateway serving `reg` that exports its spans here.
    async fn spawn_app(&self, reg: &str) -> TestApp {
        TestApp::spawn_with(
            reg,
            Opts {
                extra: self.config(),
                ..Default::default()
            },
        )
        .await
    }

    /// Every span received, decoded.
    fn spans(&self) -> Vec<Span> {
        let mut out = Vec::new();
        for body in self.bodies.lock().unwrap().iter() {
            let req = ExportTraceServiceRequest::decode(body.as_ref()).expect("OTLP protobuf");
            for rs in req.resource_spans {
                let service = rs
                    .resource
                    .iter()
                    .flat_map(|r| &r.attributes)
                    .find(|kv| kv.key == "service.name")
                    .and_then(|kv| kv.value.clone()?.value);
                assert_eq!(service, Some(Any::StringValue("switchyard".into())));
                for ss in rs.scope_spans {
                    let scope = ss.scope.unwrap();
                    assert_eq!(scope.name, "switchyard");
                    assert_eq!(ss.schema_url, "https://opentelemetry.io/schemas/1.37.0");
                    out.extend(ss.spans);
                }
            }
        }
        out
    }

    fn raw(&self) -> Vec<u8> {
        self.bodies.lock().unwrap().concat()
    }
}

const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const STATUS_ERROR: i32 = 2;

fn attr(span: &Span, key: &str) -> Option<Any> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.clone()?.value)
}

fn s(v: &str) -> Option<Any> {
    Some(Any::StringValue(v.into()))
}

fn int(v: i64) -> Option<Any> {
    Some(Any::IntValue(v))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The trace's spans: its one server span and its client spans, in start order.
fn trace_of(spans: &[Span], trace_id: &str) -> (Span, Vec<Span>) {
    let mine: Vec<&Span> = spans
        .iter()
        .filter(|sp| hex(&sp.trace_id) == trace_id)
        .collect();
    let servers: Vec<&&Span> = mine.iter().filter(|sp| sp.kind == SERVER).collect();
    assert_eq!(servers.len(), 1, "one server span in {trace_id}: {mine:#?}");
    let server = (*servers[0]).clone();
    let mut clients: Vec<Span> = mine
        .iter()
        .filter(|sp| sp.kind == CLIENT)
        .map(|sp| (*sp).clone())
        .collect();
    clients.sort_by_key(|s| s.start_time_unix_nano);
    for c in &clients {
        assert_eq!(
            c.parent_span_id, server.span_id,
            "attempt under the request"
        );
        assert!(c.start_time_unix_nano >= server.start_time_unix_nano);
        assert!(c.end_time_unix_nano <= server.end_time_unix_nano);
    }
    assert_eq!(mine.len(), 1 + clients.len(), "{mine:#?}");
    (server, clients)
}

fn traceparent(trace: &str, span: &str) -> String {
    format!("00-{trace}-{span}-01")
}

/// The `traceparent` an upstream received: (trace id, parent span id).
fn received_parent(fake: &Fake, call: usize) -> (String, String) {
    let got = fake.received()[call].headers["traceparent"]
        .to_str()
        .unwrap()
        .to_owned();
    let parts: Vec<&str> = got.split('-').collect();
    assert_eq!(parts.len(), 4, "{got}");
    assert_eq!(parts[0], "00");
    assert_eq!(parts[3], "01", "sampled: {got}");
    (parts[1].to_owned(), parts[2].to_owned())
}

const PROMPT: &str = "PROMPT-TEXT-THAT-MUST-NOT-BE-EXPORTED";

#[tokio::test]
async fn requests_and_attempts_are_exported_with_genai_attributes() {
    let receiver = Receiver::start().await;
    let json_up = Fake::start(vec![Reply::simple()]).await;
    let stream_up = Fake::start(vec![Reply::simple_stream()]).await;
    let bad = Fake::start(vec![Reply::error(500, "boom")]).await;
    let good = Fake::start(vec![Reply::simple()]).await;
    let reg = provider("pj", &json_up.base_url())
        + &provider("ps", &stream_up.base_url())
        + &provider("bad", &bad.base_url())
        + &provider("good", &good.base_url())
        + &model("t/json", &[("pj", "up-json")], &[])
        + &model("t/stream", &[("ps", "up-stream")], &[])
        + &model("t/fallback", &[("bad", "up-bad"), ("good", "up-good")], &[])
        + &model("t/broken", &[("bad", "up-bad")], &[]);
    let app = receiver.spawn_app(&reg).await;

    let (t_json, t_stream, t_error, t_messages) = (
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "5bf92f3577b34da6a3ce929d0e0e4737",
        "6bf92f3577b34da6a3ce929d0e0e4738",
        "7bf92f3577b34da6a3ce929d0e0e4739",
    );
    let client_span = "00f067aa0ba902b7";
    let post = |path: &str, trace: Option<&str>, body: serde_json::Value| {
        let mut rb = app.client.post(app.url(path)).json(&body);
        if let Some(t) = trace {
            rb = rb
                .header("traceparent", traceparent(t, client_span))
                .header("tracestate", "vendor=opaque");
        }
        rb.send()
    };

    // JSON chat with the client's context.
    let resp = post(
        "/v1/chat/completions",
        Some(t_json),
        json!({"model": "t/json", "messages": user(PROMPT)}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap();
    // Streamed chat.
    let resp = post(
        "/v1/chat/completions",
        Some(t_stream),
        json!({"model": "t/stream", "messages": user(PROMPT), "stream": true}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap();
    // A fallback (two attempts), without a client context: a new trace.
    let resp = post(
        "/v1/chat/completions",
        None,
        json!({"model": "t/fallback", "messages": user(PROMPT)}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap();
    // Nothing serves.
    let resp = post(
        "/v1/chat/completions",
        Some(t_error),
        json!({"model": "t/broken", "messages": user(PROMPT)}),
    )
    .await
    .unwrap();
    let error_status = resp.status().as_u16();
    assert!(error_status >= 500, "{error_status}");
    resp.text().await.unwrap();
    // Anthropic Messages, translated for the OpenAI-format upstream.
    let resp = post(
        "/v1/messages",
        Some(t_messages),
        json!({"model": "t/json", "max_tokens": 64, "messages": user(PROMPT)}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap();

    // Shutting down exports what is queued: no sleeping for the batch timer.
    app.stop().await;
    let spans = receiver.spans();

    // JSON chat: a child of the client's span, one attempt.
    let (server, clients) = trace_of(&spans, t_json);
    assert_eq!(hex(&server.parent_span_id), client_span);
    assert_eq!(server.trace_state, "vendor=opaque");
    assert_eq!(server.name, "chat t/json");
    for (k, v) in [
        ("gen_ai.operation.name", s("chat")),
        ("gen_ai.provider.name", s("openai")),
        ("gen_ai.request.model", s("t/json")),
        ("gen_ai.response.model", s("t/json")),
        ("gen_ai.usage.input_tokens", int(20)),
        ("gen_ai.usage.output_tokens", int(2)),
        (
            "gen_ai.response.id",
            s("chatcmpl-DuLdOKeSvJ2ah93ut8DRAVP44PlmE"),
        ),
        ("http.response.status_code", int(200)),
        ("switchyard.provider", s("pj")),
    ] {
        assert_eq!(attr(&server, k), v, "server span {k}");
    }
    let Some(Any::ArrayValue(reasons)) = attr(&server, "gen_ai.response.finish_reasons") else {
        panic!("finish reasons: {server:#?}");
    };
    assert_eq!(reasons.values[0].value, s("stop"));
    assert_eq!(attr(&server, "error.type"), None);
    assert_eq!(clients.len(), 1);
    let attempt = &clients[0];
    assert_eq!(attempt.name, "chat up-json");
    for (k, v) in [
        ("gen_ai.operation.name", s("chat")),
        ("gen_ai.provider.name", s("openai")),
        ("gen_ai.request.model", s("up-json")),
        ("gen_ai.usage.output_tokens", int(2)),
        ("server.address", s("127.0.0.1")),
        ("server.port", int(i64::from(json_up.addr.port()))),
        ("http.response.status_code", int(200)),
    ] {
        assert_eq!(attr(attempt, k), v, "attempt span {k}");
    }
    // The upstream saw the attempt's span as its parent, and the client's tracestate.
    assert_eq!(
        received_parent(&json_up, 0),
        (t_json.to_owned(), hex(&attempt.span_id))
    );
    assert_eq!(json_up.received()[0].headers["tracestate"], "vendor=opaque");

    // Streamed chat: usage and finish reason from the stream; the attempt lasts the stream.
    let (server, clients) = trace_of(&spans, t_stream);
    assert_eq!(hex(&server.parent_span_id), client_span);
    assert_eq!(attr(&server, "gen_ai.usage.input_tokens"), int(20));
    assert_eq!(attr(&server, "gen_ai.usage.output_tokens"), int(2));
    assert!(attr(&server, "gen_ai.response.finish_reasons").is_some());
    assert_eq!(clients.len(), 1);
    assert_eq!(
        received_parent(&stream_up, 0),
        (t_stream.to_owned(), hex(&clients[0].span_id))
    );

    // Fallback: a root span (new trace) with two attempts, the first failed.
    let server = spans
        .iter()
        .find(|sp| sp.kind == SERVER && attr(sp, "gen_ai.request.model") == s("t/fallback"))
        .expect("fallback server span");
    assert!(server.parent_span_id.is_empty(), "a root span");
    let (server, clients) = trace_of(&spans, &hex(&server.trace_id));
    assert_eq!(attr(&server, "switchyard.attempts"), int(2));
    assert_eq!(clients.len(), 2);
    assert_eq!(attr(&clients[0], "error.type"), s("status"));
    assert_eq!(attr(&clients[0], "http.response.status_code"), int(500));
    assert_eq!(clients[0].status.as_ref().unwrap().code, STATUS_ERROR);
    assert_eq!(attr(&clients[1], "error.type"), None);
    assert_eq!(attr(&clients[1], "gen_ai.request.model"), s("up-good"));
    let trace = hex(&server.trace_id);
    assert_eq!(
        received_parent(&bad, 0),
        (trace.clone(), hex(&clients[0].span_id))
    );
    assert_eq!(received_parent(&good, 0), (trace, hex(&clients[1].span_id)));
    assert!(!bad.received()[0].headers.contains_key("tracestate"));

    // Nothing served: the request and its attempt are errors.
    let (server, clients) = trace_of(&spans, t_error);
    assert_eq!(server.status.as_ref().unwrap().code, STATUS_ERROR);
    assert_eq!(attr(&server, "error.type"), s("status"));
    assert_eq!(
        attr(&server, "http.response.status_code"),
        int(i64::from(error_status))
    );
    assert_eq!(attr(&server, "gen_ai.usage.input_tokens"), None);
    assert_eq!(clients.len(), 1);
    assert_eq!(attr(&clients[0], "error.type"), s("status"));

    // Messages is chat too.
    let (server, clients) = trace_of(&spans, t_messages);
    assert_eq!(attr(&server, "gen_ai.operation.name"), s("chat"));
    assert_eq!(server.name, "chat t/json");
    assert_eq!(clients.len(), 1);

    // Neither the prompt nor the completion is exported.
    let raw = String::from_utf8_lossy(&receiver.raw()).into_owned();
    assert!(!raw.contains(PROMPT));
    assert!(!raw.contains("Olá"));
}

#[tokio::test]
async fn without_traces_the_clients_context_is_forwarded_unchanged() {
    let up = Fake::start(vec![Reply::simple()]).await;
    // The provider's own declared headers still go with the client's context (a declared
    // trace context is refused: tests/api/admin_input.rs, providers::http's unit tests).
    let declared = "headers = { X-Org = \"acme\" }\n\n";
    let reg = provider("p", &up.base_url()).trim_end().to_owned()
        + "\n"
        + declared
        + &model("t/m", &[("p", "m")], &[]);
    let app = TestApp::spawn(&reg).await;
    let tp = traceparent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    for (traceparent, tracestate) in [(Some(tp.as_str()), Some("a=b")), (None, None)] {
        let mut rb = app
            .client
            .post(app.url("/v1/chat/completions"))
            .json(&json!({"model": "t/m", "messages": user("hi")}));
        if let Some(t) = traceparent {
            rb = rb.header("traceparent", t);
        }
        if let Some(t) = tracestate {
            rb = rb.header("tracestate", t);
        }
        assert_eq!(rb.send().await.unwrap().status(), 200);
    }
    let got = up.received();
    assert_eq!(got[0].headers["traceparent"], tp.as_str());
    assert_eq!(got[0].headers["tracestate"], "a=b");
    assert!(!got[1].headers.contains_key("traceparent"));
    assert!(!got[1].headers.contains_key("tracestate"));
    assert_eq!(got[1].headers["x-org"], "acme");
    app.stop().await;
}

/// The default sampler (`parentbased_always_on`) follows the client's sampled flag: a
/// request whose parent was not sampled is not exported, and its upstream gets the client's
/// context unchanged; a sampled parent's request is exported under the client's trace.
#[tokio::test]
async fn an_unsampled_parent_is_followed() {
    let receiver = Receiver::start().await;
    let up = Fake::start(vec![Reply::simple(), Reply::simple()]).await;
    let reg = provider("p", &up.base_url()) + &model("t/m", &[("p", "m")], &[]);
    let app = receiver.spawn_app(&reg).await;
    let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    let sampled_trace = "5bf92f3577b34da6a3ce929d0e0e4737";
    for tp in [
        unsampled.to_owned(),
        traceparent(sampled_trace, "00f067aa0ba902b8"),
    ] {
        let resp = app
            .client
            .post(app.url("/v1/chat/completions"))
            .header("traceparent", tp)
            .json(&json!({"model": "t/m", "messages": user("hi")}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    app.stop().await;
    assert_eq!(up.received()[0].headers["traceparent"], unsampled);
    let spans = receiver.spans();
    assert!(
        spans
            .iter()
            .all(|sp| hex(&sp.trace_id) != "4bf92f3577b34da6a3ce929d0e0e4736"),
        "{spans:#?}"
    );
    let (_, attempts) = trace_of(&spans, sampled_trace);
    assert_eq!(attempts.len(), 1);
    assert_eq!(received_parent(&up, 1).0, sampled_trace);
}

#[tokio::test]
async fn a_dead_collector_neither_fails_nor_slows_requests() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let up = Fake::start(vec![Reply::simple()]).await;
    let reg = provider("p", &up.base_url()) + &model("t/m", &[("p", "m")], &[]);
    let app = TestApp::spawn_with(
        &reg,
        Opts {
            extra: format!("[traces]\nendpoint = \"http://{closed}/v1/traces\"\n"),
            ..Default::default()
        },
    )
    .await;
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let t0 = Instant::now();
        let resp = app
            .chat(json!({"model": "t/m", "messages": user("hi")}))
            .await;
        assert_eq!(resp.status(), 200);
        slowest = slowest.max(t0.elapsed());
    }
    assert!(slowest < Duration::from_secs(2), "{slowest:?}");
    // The final export fails within its own bounds.
    let t0 = Instant::now();
    app.stop().await;
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
}

/// Requests refused before admission (authentication, their body, an unknown model, their
/// key's budget) are traced too: a server span of their own, with the status and why.
#[tokio::test]
async fn refused_requests_get_a_server_span() {
    let receiver = Receiver::start().await;
    let up = Fake::start(vec![]).await;
    let reg = provider("p", &up.base_url()) + &model("t/m", &[("p", "m")], &[]);
    let app = TestApp::spawn_with(
        &reg,
        Opts {
            require_keys: true,
            extra: receiver.config(),
            ..Default::default()
        },
    )
    .await;
    let (_, key) = create_key(&app, json!({"name": "spent", "budget_usd": 0.0})).await;
    let (_, ok_key) = create_key(&app, json!({"name": "fine"})).await;
    let client_span = "00f067aa0ba902b7";
    let cases = [
        (
            "/v1/chat/completions",
            "sy-wrong".to_owned(),
            r#"{"model":"t/m","messages":[]}"#,
            401,
        ),
        ("/v1/chat/completions", ok_key.clone(), "{not json", 400),
        (
            "/v1/messages",
            ok_key.clone(),
            r#"{"model":"nope/x","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#,
            404,
        ),
        (
            "/api/v1/chat/completions",
            key,
            r#"{"model":"t/m","messages":[{"role":"user","content":"hi"}]}"#,
            402,
        ),
    ];
    let mut traces = Vec::new();
    for (i, (path, key, body, want)) in cases.iter().enumerate() {
        let trace = format!("{:032x}", 0xabc0 + i);
        let resp = app
            .client
            .post(app.url(path))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .header("traceparent", traceparent(&trace, client_span))
            .body(*body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), *want, "{path} {body}");
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
        traces.push((trace, id, *want));
    }
    assert!(up.received().is_empty(), "nothing reached the upstream");
    app.stop().await;
    let spans = receiver.spans();
    for (trace, id, status) in traces {
        let (server, clients) = trace_of(&spans, &trace);
        assert!(clients.is_empty());
        assert_eq!(hex(&server.parent_span_id), client_span);
        assert_eq!(server.name, "chat");
        assert_eq!(server.status.as_ref().unwrap().code, STATUS_ERROR);
        for (k, v) in [
            ("gen_ai.operation.name", s("chat")),
            ("http.response.status_code", int(i64::from(status))),
            ("error.type", s(&status.to_string())),
            ("switchyard.outcome", s("refused")),
            ("switchyard.request_id", s(&id)),
        ] {
            assert_eq!(attr(&server, k), v, "{trace} {k}");
        }
    }
    // Admin calls and the key creations above are not model requests: no spans.
    assert_eq!(spans.len(), 4, "{spans:#?}");
}

/// With content capture opted in, the request span carries the prompt and the answer as the
/// GenAI conventions' message JSON — and the request log still keeps no content.
#[tokio::test]
async fn opted_in_content_goes_in_the_request_span_only() {
    let receiver = Receiver::start().await;
    let json_up = Fake::start(vec![Reply::simple(), Reply::simple()]).await;
    let stream_up = Fake::start(vec![Reply::simple_stream()]).await;
    let reg = provider("pj", &json_up.base_url())
        + &provider("ps", &stream_up.base_url())
        + &model("t/json", &[("pj", "up-json")], &[])
        + &model("t/stream", &[("ps", "up-stream")], &[]);
    let app = TestApp::spawn_with(
        &reg,
        Opts {
            extra: receiver.config() + "capture_content = true\n",
            ..Default::default()
        },
    )
    .await;
    let mut ids = Vec::new();
    for (path, body) in [
        (
            "/v1/chat/completions",
            json!({"model": "t/json", "messages": [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": PROMPT}]}),
        ),
        (
            "/v1/chat/completions",
            json!({"model": "t/stream", "messages": user(PROMPT), "stream": true}),
        ),
        (
            "/v1/messages",
            json!({"model": "t/json", "max_tokens": 64, "system": "Be brief.",
                "messages": user(PROMPT)}),
        ),
    ] {
        let resp = app
            .client
            .post(app.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        ids.push(request_id(&resp));
        resp.text().await.unwrap();
    }
    app.records(3).await;
    for id in &ids {
        assert_eq!(app.store.get_content(id).await.unwrap(), None, "not stored");
    }
    app.stop().await;
    let spans = receiver.spans();
    let json_attr = |span: &Span, key: &str| match attr(span, key) {
        Some(Any::StringValue(s)) => serde_json::from_str::<serde_json::Value>(&s).unwrap(),
        other => panic!("{key}: {other:?}"),
    };
    for (i, id) in ids.iter().enumerate() {
        let server = spans
            .iter()
            .find(|sp| sp.kind == SERVER && attr(sp, "switchyard.request_id") == s(id))
            .expect("request span");
        let input = json_attr(server, "gen_ai.input.messages");
        let user_turn = input.as_array().unwrap().last().unwrap();
        assert_eq!(user_turn["role"], "user");
        assert_eq!(
            user_turn["parts"][0],
            json!({"type": "text", "content": PROMPT})
        );
        let output = json_attr(server, "gen_ai.output.messages");
        assert_eq!(output[0]["role"], "assistant");
        assert_eq!(output[0]["parts"][0]["content"], "Olá!", "{output}");
        assert!(output[0]["finish_reason"].is_string());
        if i == 2 {
            assert_eq!(
                json_attr(server, "gen_ai.system_instructions"),
                json!([{"type": "text", "content": "Be brief."}])
            );
        }
        // Attempt spans carry no content.
        let (_, clients) = trace_of(&spans, &hex(&server.trace_id));
        assert!(attr(&clients[0], "gen_ai.input.messages").is_none());
    }
}
