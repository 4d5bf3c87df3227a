//! A fake Bedrock runtime: `POST /model/{modelId}/converse` and `/converse-stream` on a random
//! port. It checks what AWS checks before a model runs: a SigV4 `Authorization` header that is
//! well-formed and whose signature it recomputes from the request it received (with the
//! gateway's own signer and the test credentials), or a Bedrock API key as a bearer token; and
//! a Converse body that Bedrock would accept (alternating roles starting with the user, no
//! blank text, one member per content block, `toolConfig` when tool blocks are present,
//! inference limits, Claude's thinking budget below `maxTokens`). It answers like Bedrock:
//! JSON with an `x-amzn-requestid` header and no id in the body, binary event-stream frames
//! with correct CRCs (padded payloads, frames split across writes), `metadata` after
//! `messageStop`, exception frames, cut streams, and errors as `{"message"}` with
//! `x-amzn-errortype`. It serves images at `/images/...` and records every request.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use switchyard::providers::bedrock::{eventstream, sign};

use crate::fake_gemini::PNG;

/// The credentials the fake accepts, and the variables the registry reads them from.
pub const ACCESS_KEY: &str = "AKIDSWITCHYARDTEST";
pub const SECRET_KEY: &str = "switchyard/test+secret/KEY";
pub const SESSION_TOKEN: &str = "session-token-for-tests";
pub const ACCESS_KEY_ENV: &str = "SWITCHYARD_TEST_BEDROCK_ACCESS_KEY";
pub const SECRET_KEY_ENV: &str = "SWITCHYARD_TEST_BEDROCK_SECRET_KEY";
pub const SESSION_TOKEN_ENV: &str = "SWITCHYARD_TEST_BEDROCK_SESSION_TOKEN";
/// A Bedrock API key, for fakes started with `Auth::Bearer`.
pub const API_KEY: &str = "ABSKQmVkcm9ja0FQSUtleS10ZXN0";
pub const API_KEY_ENV: &str = "SWITCHYARD_TEST_BEDROCK_API_KEY";
pub const REGION: &str = "us-test-1";

/// One ConverseStream message the fake sends.
#[derive(Clone, Debug)]
pub enum Frame {
    /// `:message-type: event` with this `:event-type` and JSON payload.
    Event(&'static str, Value),
    /// `:message-type: exception` with this `:exception-type` and message.
    Exception(&'static str, String),
    /// An event whose message CRC is wrong.
    Corrupt(&'static str, Value),
}

/// What the fake does for one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with this Converse response body.
    Json(Value),
    /// 200 event stream.
    Stream(Vec<Frame>),
    /// Like `Stream`, but the connection dies after `after` frames.
    StreamCut(Vec<Frame>, usize),
    /// An error: status, error class (`ThrottlingException`), message, extra headers.
    Error(u16, &'static str, String, Vec<(&'static str, String)>),
}

impl Reply {
    pub fn error(status: u16, class: &'static str, message: &str) -> Reply {
        Reply::Error(status, class, message.into(), vec![])
    }

    /// A Converse response with these content blocks.
    pub fn message(content: Value, stop_reason: &str) -> Reply {
        Reply::Json(json!({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop_reason,
            "usage": {"inputTokens": 12, "outputTokens": 7, "totalTokens": 19},
            "metrics": {"latencyMs": 321}
        }))
    }
}

/// `messageStart`, text deltas, `contentBlockStop`, `messageStop`, `metadata`.
pub fn text_frames(pieces: &[&str], stop_reason: &str) -> Vec<Frame> {
    let mut out = vec![Frame::Event("messageStart", json!({"role": "assistant"}))];
    for p in pieces {
        out.push(Frame::Event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": p}}),
        ));
    }
    out.push(Frame::Event(
        "contentBlockStop",
        json!({"contentBlockIndex": 0}),
    ));
    out.extend(end_frames(stop_reason, 12, pieces.len() as u64));
    out
}

/// `messageStop` then `metadata` with usage.
pub fn end_frames(stop_reason: &str, input: u64, output: u64) -> Vec<Frame> {
    vec![
        Frame::Event("messageStop", json!({"stopReason": stop_reason})),
        Frame::Event(
            "metadata",
            json!({"usage": {"inputTokens": input, "outputTokens": output, "totalTokens": input + output},
                   "metrics": {"latencyMs": 420}}),
        ),
    ]
}

/// How the fake expects requests to be authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    SigV4,
    Bearer,
}

/// A request the fake received.
#[derive(Clone, Debug)]
pub struct Received {
    /// The raw (percent-encoded) path.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

struct Inner {
    auth: Auth,
    replies: VecDeque<Reply>,
    received: Vec<Received>,
    served: u64,
}

#[derive(Clone)]
pub struct FakeBedrock {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeBedrock {
    /// A fake that expects SigV4 with the test credentials and gives these replies in order,
    /// repeating the last one.
    pub async fn start(replies: Vec<Reply>) -> FakeBedrock {
        Self::start_with(Auth::SigV4, replies).await
    }

    pub async fn start_with(auth: Auth, replies: Vec<Reply>) -> FakeBedrock {
        // Unique names only the Bedrock tests read, so nothing races on AWS_* variables.
        std::env::set_var(ACCESS_KEY_ENV, ACCESS_KEY);
        std::env::set_var(SECRET_KEY_ENV, SECRET_KEY);
        std::env::set_var(SESSION_TOKEN_ENV, SESSION_TOKEN);
        std::env::set_var(API_KEY_ENV, API_KEY);
        let inner = Arc::new(Mutex::new(Inner {
            auth,
            replies: replies.into(),
            received: Vec::new(),
            served: 0,
        }));
        let app = Router::new()
            .route("/model/{model}/{op}", post(handle))
            .route("/images/{name}", get(image))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeBedrock { addr, inner }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn image_url(&self, name: &str) -> String {
        format!("http://{}/images/{name}", self.addr)
    }

    /// A `[[providers]]` block for this fake, signing with the test credentials. Image URLs
    /// may point here (a loopback address).
    pub fn provider(&self, id: &str) -> String {
        format!(
            "[[providers]]\nid = \"{id}\"\nkind = \"bedrock\"\nbase_url = \"{}\"\nregion = \"{REGION}\"\n\
             allow_private_image_urls = true\n\
             access_key_env = \"{ACCESS_KEY_ENV}\"\nsecret_key_env = \"{SECRET_KEY_ENV}\"\nsession_token_env = \"{SESSION_TOKEN_ENV}\"\n\n",
            self.base_url()
        )
    }

    /// A `[[providers]]` block that sends the Bedrock API key instead of signing.
    pub fn bearer_provider(&self, id: &str) -> String {
        format!(
            "[[providers]]\nid = \"{id}\"\nkind = \"bedrock\"\nbase_url = \"{}\"\nregion = \"{REGION}\"\napi_key_env = \"{API_KEY_ENV}\"\n\n",
            self.base_url()
        )
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    pub fn last_body(&self) -> Value {
        self.received().last().expect("a request").body.clone()
    }

    pub fn calls(&self) -> usize {
        self.inner.lock().unwrap().received.len()
    }
}

async fn image(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "cat.png" => ([("content-type", "image/png")], PNG).into_response(),
        "photo.tiff" => ([("content-type", "image/tiff")], PNG).into_response(),
        // Over Converse's 3.75 MB image limit.
        "huge.png" => ([("content-type", "image/png")], vec![0u8; 4 * 1024 * 1024]).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn error_response(
    status: u16,
    class: &str,
    message: &str,
    request_id: &str,
    extra: Vec<(&'static str, String)>,
) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap(),
        json!({"message": message}).to_string(),
    )
        .into_response();
    let h = r.headers_mut();
    h.insert("content-type", "application/json".parse().unwrap());
    h.insert("x-amzn-requestid", request_id.parse().unwrap());
    h.insert(
        "x-amzn-errortype",
        format!("{class}:http://internal.amazon.com/coral/com.amazon.bedrock/")
            .parse()
            .unwrap(),
    );
    for (k, v) in extra {
        h.insert(k, v.parse().unwrap());
    }
    r
}

type Rejection = (u16, &'static str, String);

/// Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` and recomputes the
/// signature from what arrived.
fn check_sigv4(path: &str, headers: &HeaderMap, raw: &[u8]) -> Result<(), Rejection> {
    let denied = |m: &str| (403, "InvalidSignatureException", m.to_owned());
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let amz_date = header("x-amz-date").ok_or_else(|| denied("Missing X-Amz-Date"))?;
    if amz_date.len() != 16
        || amz_date.as_bytes()[8] != b'T'
        || !amz_date.ends_with('Z')
        || !amz_date[..8].bytes().all(|b| b.is_ascii_digit())
    {
        return Err(denied("X-Amz-Date must be YYYYMMDD'T'HHMMSS'Z'"));
    }
    let auth = header("authorization").ok_or_else(|| {
        (
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token".to_owned(),
        )
    })?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 Credential=")
        .ok_or_else(|| denied("Authorization must use AWS4-HMAC-SHA256"))?;
    let (credential, rest) = rest
        .split_once(", SignedHeaders=")
        .ok_or_else(|| denied("Authorization header is missing SignedHeaders"))?;
    let (signed, signature) = rest
        .split_once(", Signature=")
        .ok_or_else(|| denied("Authorization header is missing Signature"))?;
    if signature.len() != 64
        || !signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(denied("Signature must be 64 lower-case hex digits"));
    }
    let parts: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, terminator] = parts[..] else {
        return Err(denied(
            "Credential must be key/date/region/service/aws4_request",
        ));
    };
    if key != ACCESS_KEY {
        return Err((
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.".into(),
        ));
    }
    if date != &amz_date[..8]
        || region != REGION
        || service != "bedrock"
        || terminator != "aws4_request"
    {
        return Err(denied(&format!(
            "Credential should be scoped to {}/{REGION}/bedrock/aws4_request",
            &amz_date[..8]
        )));
    }
    let names: Vec<&str> = signed.split(';').collect();
    for required in ["host", "x-amz-date"] {
        if !names.contains(&required) {
            return Err(denied(&format!("SignedHeaders must include {required}")));
        }
    }
    if header("x-amz-security-token") != Some(SESSION_TOKEN)
        || !names.contains(&"x-amz-security-token")
    {
        return Err(denied("The session token must be sent and signed"));
    }
    let mut values = Vec::new();
    for n in &names {
        let v = header(n).ok_or_else(|| denied(&format!("signed header {n} is missing")))?;
        values.push((*n, v));
    }
    let expected = sign::authorization(
        &sign::Credentials {
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
            session_token: None,
        },
        &sign::Scope {
            amz_date,
            region: REGION,
            service: "bedrock",
        },
        &sign::Request {
            method: "POST",
            path,
            query: "",
            headers: &values,
            body: raw,
        },
    );
    if expected != auth {
        return Err(denied("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."));
    }
    Ok(())
}

/// The Converse checks Bedrock makes before a model runs.
fn validate(body: &Value) -> Result<(), Rejection> {
    let invalid = |m: String| (400, "ValidationException", m);
    let messages = body["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("The messages field is required".into()))?;
    let mut tool_blocks = false;
    for (i, m) in messages.iter().enumerate() {
        let want = if i % 2 == 0 { "user" } else { "assistant" };
        if m["role"] != want {
            return Err(invalid(format!(
                "A conversation must start with a user message and alternate between user and assistant roles (messages.{i})"
            )));
        }
        for (j, block) in m["content"].as_array().into_iter().flatten().enumerate() {
            let keys = block.as_object().map(|o| o.len()).unwrap_or(0);
            if keys != 1 {
                return Err(invalid(format!(
                    "messages.{i}.content.{j}: a content block must have exactly one member"
                )));
            }
            if block["text"].as_str().is_some_and(|t| t.trim().is_empty()) {
                return Err(invalid(format!(
                    "The text field in the ContentBlock object at messages.{i}.content.{j} is blank. Add text to the text field, and try again."
                )));
            }
            tool_blocks |= block.get("toolUse").is_some() || block.get("toolResult").is_some();
        }
    }
    if tool_blocks && body.get("toolConfig").is_none() {
        return Err(invalid(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks.".into(),
        ));
    }
    let cfg = &body["inferenceConfig"];
    if let Some(t) = cfg["temperature"].as_f64() {
        if !(0.0..=1.0).contains(&t) {
            return Err(invalid(
                "inferenceConfig.temperature must be between 0 and 1".into(),
            ));
        }
    }
    if cfg["maxTokens"].as_u64() == Some(0) {
        return Err(invalid(
            "inferenceConfig.maxTokens must be at least 1".into(),
        ));
    }
    if let Some(budget) = body["additionalModelRequestFields"]["thinking"]["budget_tokens"].as_u64()
    {
        if budget < 1024 || cfg["maxTokens"].as_u64().is_none_or(|m| m <= budget) {
            return Err(invalid(
                "The model returned the following errors: `max_tokens` must be greater than `thinking.budget_tokens`".into(),
            ));
        }
    }
    Ok(())
}

/// InvokeModel with a Claude model takes Anthropic's body with Bedrock's version, and
/// neither `model` nor `stream` (the path says both).
fn validate_invoke(body: &Value) -> Result<(), (u16, &'static str, String)> {
    let invalid = |m: &str| (400, "ValidationException", m.to_owned());
    if body["anthropic_version"] != "bedrock-2023-05-31" {
        return Err(invalid("anthropic_version: must be bedrock-2023-05-31"));
    }
    for extra in ["model", "stream"] {
        if body.get(extra).is_some() {
            return Err(invalid(&format!(
                "#: extraneous key [{extra}] is not permitted"
            )));
        }
    }
    if !body["max_tokens"].is_u64() || body["messages"].as_array().is_none_or(|m| m.is_empty()) {
        return Err(invalid(
            "#: required key [max_tokens] or [messages] not found",
        ));
    }
    Ok(())
}

/// An InvokeModelWithResponseStream body: each Anthropic event in a `chunk` message.
pub fn invoke_chunks(events: &[Value]) -> Vec<Frame> {
    use base64::Engine;
    events
        .iter()
        .map(|e| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(e.to_string());
            Frame::Event("chunk", json!({ "bytes": b64 }))
        })
        .collect()
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((_model, op)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let (reply, request_id, auth) = {
        let mut g = inner.lock().unwrap();
        g.served += 1;
        g.received.push(Received {
            path: uri.path().to_owned(),
            headers: headers.clone(),
            body: body.clone(),
        });
        let reply = if g.replies.len() > 1 {
            g.replies.pop_front().unwrap()
        } else {
            g.replies.front().cloned().expect("fake has no reply")
        };
        (reply, format!("fake-req-{:04}", g.served), g.auth)
    };
    let checked = match auth {
        Auth::SigV4 => check_sigv4(uri.path(), &headers, &raw),
        Auth::Bearer => {
            if headers.get("authorization").and_then(|v| v.to_str().ok())
                == Some(&format!("Bearer {API_KEY}"))
            {
                Ok(())
            } else {
                Err((
                    403,
                    "AccessDeniedException",
                    "Invalid API Key format: Must start with pre-defined prefix".into(),
                ))
            }
        }
    }
    .and_then(|_| {
        if body.is_null() {
            Err((400, "SerializationException", "body is not JSON".into()))
        } else if op.starts_with("invoke") {
            validate_invoke(&body)
        } else {
            validate(&body)
        }
    });
    if let Err((status, class, message)) = checked {
        return error_response(status, class, &message, &request_id, vec![]);
    }
    let stream = match op.as_str() {
        "converse" | "invoke" => false,
        "converse-stream" | "invoke-with-response-stream" => true,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let mismatch = |what: &str| {
        error_response(
            400,
            "ValidationException",
            &format!("fake: scripted {what} but the request went to /{op}"),
            &request_id,
            vec![],
        )
    };
    match reply {
        Reply::Json(_) if stream => mismatch("a JSON reply"),
        Reply::Stream(_) | Reply::StreamCut(..) if !stream => mismatch("a stream"),
        Reply::Json(v) => {
            let mut r = ([("content-type", "application/json")], v.to_string()).into_response();
            r.headers_mut()
                .insert("x-amzn-requestid", request_id.parse().unwrap());
            r
        }
        Reply::Error(status, class, message, extra) => {
            error_response(status, class, &message, &request_id, extra)
        }
        Reply::Stream(frames) => event_stream(frames, None, &request_id),
        Reply::StreamCut(frames, after) => event_stream(frames, Some(after), &request_id),
    }
}

/// Bedrock pads payloads with a `p` field of varying length (seen in captures).
fn padded(mut v: Value, i: usize) -> Vec<u8> {
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "p".into(),
            json!(&"abcdefghijklmnopqrstuvwxyz"[..(i * 7) % 26]),
        );
    }
    v.to_string().into_bytes()
}

pub fn encode(frame: Frame, i: usize) -> Vec<u8> {
    match frame {
        Frame::Event(kind, payload) => eventstream::encode(
            &[
                (":event-type", kind),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            &padded(payload, i),
        ),
        Frame::Exception(kind, message) => eventstream::encode(
            &[
                (":exception-type", kind),
                (":content-type", "application/json"),
                (":message-type", "exception"),
            ],
            json!({"message": message}).to_string().as_bytes(),
        ),
        Frame::Corrupt(kind, payload) => {
            let mut bytes = encode(Frame::Event(kind, payload), i);
            let last = bytes.len() - 1;
            bytes[last] ^= 0xFF;
            bytes
        }
    }
}

fn event_stream(frames: Vec<Frame>, cut_after: Option<usize>, request_id: &str) -> Response {
    let stream = async_stream::stream! {
        for (i, frame) in frames.into_iter().enumerate() {
            if cut_after == Some(i) {
                tokio::time::sleep(Duration::from_millis(50)).await;
                yield Err(std::io::Error::other("fake upstream cut the connection"));
                return;
            }
            // Each frame in two writes, split off-boundary: the client must reassemble.
            let bytes = encode(frame, i);
            let at = (bytes.len() / 3).max(1);
            yield Ok::<_, std::io::Error>(Bytes::copy_from_slice(&bytes[..at]));
            tokio::time::sleep(Duration::from_millis(1)).await;
            yield Ok(Bytes::copy_from_slice(&bytes[at..]));
        }
    };
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    h.insert(
        "content-type",
        "application/vnd.amazon.eventstream".parse().unwrap(),
    );
    h.insert("x-amzn-requestid", request_id.parse().unwrap());
    r
}

/// The ConverseStream frames Bedrock sends for a recorded answer: the Anthropic-native events
/// of an InvokeModelWithResponseStream capture (`tests/fixtures/bedrock/*.bin`) re-expressed
/// as Converse events, with the recording's fragments, ids and usage.
pub fn recorded_frames(name: &str) -> Vec<Frame> {
    use base64::Engine;
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bedrock")
        .join(name);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut d = eventstream::Decoder::new();
    d.push(&bytes);
    let mut out = Vec::new();
    while let Some(m) = d.next_message().unwrap() {
        let outer: Value = serde_json::from_slice(&m.payload).unwrap();
        let inner = base64::engine::general_purpose::STANDARD
            .decode(outer["bytes"].as_str().unwrap())
            .unwrap();
        let e: Value = serde_json::from_slice(&inner).unwrap();
        let index = e["index"].clone();
        match e["type"].as_str().unwrap() {
            "message_start" => out.push(Frame::Event("messageStart", json!({"role": "assistant"}))),
            "content_block_start" if e["content_block"]["type"] == "tool_use" => {
                let b = &e["content_block"];
                out.push(Frame::Event(
                    "contentBlockStart",
                    json!({"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": b["id"], "name": b["name"]}}}),
                ))
            }
            "content_block_start" => {}
            "content_block_delta" => {
                let delta = match e["delta"]["type"].as_str().unwrap() {
                    "text_delta" => json!({"text": e["delta"]["text"]}),
                    _ => json!({"toolUse": {"input": e["delta"]["partial_json"]}}),
                };
                out.push(Frame::Event(
                    "contentBlockDelta",
                    json!({"contentBlockIndex": index, "delta": delta}),
                ))
            }
            "content_block_stop" => out.push(Frame::Event(
                "contentBlockStop",
                json!({"contentBlockIndex": index}),
            )),
            "message_delta" => out.push(Frame::Event(
                "messageStop",
                json!({"stopReason": e["delta"]["stop_reason"]}),
            )),
            "message_stop" => {
                let m = &e["amazon-bedrock-invocationMetrics"];
                let (i, o) = (
                    m["inputTokenCount"].as_u64().unwrap(),
                    m["outputTokenCount"].as_u64().unwrap(),
                );
                out.extend(end_frames("", i, o).into_iter().skip(1));
            }
            other => panic!("unexpected recorded event {other}"),
        }
    }
    out
}
