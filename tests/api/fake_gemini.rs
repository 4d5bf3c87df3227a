//! A fake Gemini API (`v1beta`): `POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent?alt=sse`, on a random port. It checks what Google checks (API key in
//! `x-goog-api-key` or `?key=`, `alt=sse` for streams, known request fields, `$ref`-free
//! schemas, named function responses) and answers like Google: JSON bodies, SSE events
//! separated by CRLF CRLF with no `[DONE]`, and `google.rpc.Status` error bodies. It also
//! serves images at `/images/...` for image-URL tests, and records every request.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::fake::fixture;

/// The API key the fake expects unless told otherwise.
pub const KEY: &str = "gm-test-key";

/// A 1×1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

/// What the fake does for one generate request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with this JSON body.
    Json(String),
    /// An error status with this body.
    Status(u16, String),
    /// 200 SSE: each string is one event's JSON data.
    Sse(Vec<String>),
    /// Like `Sse`, but the connection dies after `after` events.
    SseCut(Vec<String>, usize),
}

impl Reply {
    pub fn json_fixture(name: &str) -> Reply {
        Reply::Json(fixture(&format!("gemini/{name}")))
    }

    pub fn sse_fixture(name: &str) -> Reply {
        Reply::Sse(fixture_events(name))
    }

    /// Google's error body.
    pub fn error(code: u16, status: &str, message: &str) -> Reply {
        Reply::Status(code, error_body(code, status, message, None))
    }
}

/// The events of a recorded stream, as their JSON data.
pub fn fixture_events(name: &str) -> Vec<String> {
    fixture(&format!("gemini/{name}"))
        .split("\r\n\r\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| e.strip_prefix("data: ").expect("data event").to_owned())
        .collect()
}

fn error_body(code: u16, status: &str, message: &str, reason: Option<&str>) -> String {
    let mut e = json!({"error": {"code": code, "message": message, "status": status}});
    if let Some(r) = reason {
        e["error"]["details"] = json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": r, "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}]);
    }
    e.to_string()
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Received {
    /// `models/{model}:{method}`.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Value,
}

struct Inner {
    key: Option<String>,
    replies: VecDeque<Reply>,
    received: Vec<Received>,
    image_fetches: usize,
}

#[derive(Clone)]
pub struct FakeGemini {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeGemini {
    /// A fake that expects `KEY` and gives these replies in order, repeating the last one.
    pub async fn start(replies: Vec<Reply>) -> FakeGemini {
        Self::start_with_key(Some(KEY), replies).await
    }

    pub async fn start_with_key(key: Option<&str>, replies: Vec<Reply>) -> FakeGemini {
        let inner = Arc::new(Mutex::new(Inner {
            key: key.map(str::to_owned),
            replies: replies.into(),
            received: Vec::new(),
            image_fetches: 0,
        }));
        let app = Router::new()
            .route("/v1beta/models/{*rest}", post(generate))
            .route("/images/{name}", get(image))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeGemini { addr, inner }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1beta", self.addr)
    }

    pub fn image_url(&self, name: &str) -> String {
        format!("http://{}/images/{name}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    pub fn calls(&self) -> usize {
        self.inner.lock().unwrap().received.len()
    }

    /// Images served so far.
    pub fn image_fetches(&self) -> usize {
        self.inner.lock().unwrap().image_fetches
    }
}

fn google_error(code: u16, status: &str, message: &str, reason: Option<&str>) -> Response {
    let mut r = (
        StatusCode::from_u16(code).unwrap(),
        error_body(code, status, message, reason),
    )
        .into_response();
    r.headers_mut().insert(
        "content-type",
        "application/json; charset=UTF-8".parse().unwrap(),
    );
    r
}

fn invalid(message: &str) -> Response {
    google_error(400, "INVALID_ARGUMENT", message, None)
}

async fn image(State(inner): State<Arc<Mutex<Inner>>>, Path(name): Path<String>) -> Response {
    inner.lock().unwrap().image_fetches += 1;
    match name.as_str() {
        "cat.png" => ([("content-type", "image/png")], PNG).into_response(),
        // Served generically: the extension has to say what it is.
        "dog.webp" => ([("content-type", "application/octet-stream")], PNG).into_response(),
        "page.html" => ([("content-type", "text/html")], "<html></html>").into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn generate(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(rest): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let reply = {
        let mut g = inner.lock().unwrap();
        g.received.push(Received {
            path: format!("models/{rest}"),
            query: query.clone(),
            headers: headers.clone(),
            body: body.clone(),
        });
        // Authentication comes first, as with Google.
        let query_key = query.as_deref().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("key="))
                .map(str::to_owned)
        });
        let given = headers
            .get("x-goog-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or(query_key);
        if let Some(expected) = &g.key {
            match given {
                None => {
                    return google_error(
                        403,
                        "PERMISSION_DENIED",
                        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
                        None,
                    )
                }
                Some(k) if &k != expected => {
                    return google_error(
                        400,
                        "INVALID_ARGUMENT",
                        "API key not valid. Please pass a valid API key.",
                        Some("API_KEY_INVALID"),
                    )
                }
                Some(_) => {}
            }
        }
        if g.replies.len() > 1 {
            g.replies.pop_front().unwrap()
        } else {
            g.replies.front().cloned().expect("fake has no reply")
        }
    };
    let Some((model, method)) = rest.split_once(':') else {
        return google_error(404, "NOT_FOUND", "no method in the path", None);
    };
    if method == "batchEmbedContents" {
        let qualified = format!("models/{model}");
        let ok = body["requests"].as_array().is_some_and(|r| {
            !r.is_empty()
                && r.iter().all(|q| {
                    q["model"] == qualified.as_str() && q["content"]["parts"][0]["text"].is_string()
                })
        });
        if !ok {
            return invalid("batchEmbedContents: every request needs `model` (models/{model}) and content.parts[].text");
        }
        return respond(reply).await;
    }
    let streaming = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        other => return google_error(404, "NOT_FOUND", &format!("unknown method {other}"), None),
    };
    if streaming
        && !query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .any(|kv| kv == "alt=sse")
    {
        return invalid("this fake only streams with alt=sse");
    }
    if !headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
    {
        return invalid("content-type must be application/json");
    }
    if let Err(why) = check_request(&body) {
        return invalid(&why);
    }
    respond(reply).await
}

const TOP_LEVEL: &[&str] = &[
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "safetySettings",
    "generationConfig",
    "cachedContent",
];
const GENERATION_CONFIG: &[&str] = &[
    "temperature",
    "topP",
    "topK",
    "maxOutputTokens",
    "stopSequences",
    "candidateCount",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "presencePenalty",
    "frequencyPenalty",
    "seed",
    "responseLogprobs",
    "logprobs",
    "thinkingConfig",
];
const PART_DATA: &[&str] = &[
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
];

/// The request checks Google makes that a translator can get wrong.
fn check_request(body: &Value) -> Result<(), String> {
    let obj = body.as_object().ok_or("Invalid JSON payload received.")?;
    for k in obj.keys() {
        if !TOP_LEVEL.contains(&k.as_str()) {
            return Err(format!(
                "Invalid JSON payload received. Unknown name \"{k}\": Cannot find field."
            ));
        }
    }
    if let Some(gc) = obj.get("generationConfig").and_then(Value::as_object) {
        for k in gc.keys() {
            if !GENERATION_CONFIG.contains(&k.as_str()) {
                return Err(format!(
                    "Invalid JSON payload received. Unknown name \"{k}\" at 'generation_config': Cannot find field."
                ));
            }
        }
        if let Some(s) = gc.get("responseJsonSchema") {
            no_refs(s, "generation_config.response_json_schema")?;
        }
    }
    let contents = obj
        .get("contents")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or("* GenerateContentRequest.contents: contents is not specified")?;
    for (i, c) in contents.iter().enumerate() {
        let role = c["role"].as_str().unwrap_or("user");
        if role != "user" && role != "model" {
            return Err(format!(
                "Please use a valid role: user, model. (contents[{i}])"
            ));
        }
        let parts = c["parts"]
            .as_array()
            .filter(|p| !p.is_empty())
            .ok_or(format!(
                "* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty."
            ))?;
        for p in parts {
            let data = PART_DATA.iter().filter(|k| p.get(**k).is_some()).count();
            if data != 1 {
                return Err(format!(
                    "contents[{i}]: a part must hold exactly one data field: {p}"
                ));
            }
            if p["text"].as_str() == Some("") {
                return Err(
                    "Unable to submit request because it has an empty text parameter.".into(),
                );
            }
            if let Some(fr) = p.get("functionResponse") {
                if fr["name"].as_str().is_none_or(str::is_empty) {
                    return Err(format!("* GenerateContentRequest.contents[{i}].parts.function_response.name: Name cannot be empty."));
                }
            }
            if let Some(fc) = p.get("functionCall") {
                if !fc["args"].is_object() && !fc["args"].is_null() {
                    return Err("function_call.args must be an object".into());
                }
            }
        }
    }
    for t in obj
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for d in t["functionDeclarations"].as_array().into_iter().flatten() {
            if let Some(s) = d.get("parametersJsonSchema") {
                no_refs(s, "tools.function_declarations.parameters_json_schema")?;
            }
        }
    }
    Ok(())
}

fn no_refs(v: &Value, at: &str) -> Result<(), String> {
    match v {
        Value::Object(m) => {
            if m.contains_key("$ref") || m.contains_key("$defs") {
                return Err(format!(
                    "Invalid JSON schema at {at}: $ref and $defs are not supported"
                ));
            }
            m.values().try_for_each(|v| no_refs(v, at))
        }
        Value::Array(items) => items.iter().try_for_each(|v| no_refs(v, at)),
        _ => Ok(()),
    }
}

async fn respond(reply: Reply) -> Response {
    match reply {
        Reply::Json(body) => {
            ([("content-type", "application/json; charset=UTF-8")], body).into_response()
        }
        Reply::Status(status, body) => {
            let mut r = (StatusCode::from_u16(status).unwrap(), body).into_response();
            r.headers_mut().insert(
                "content-type",
                "application/json; charset=UTF-8".parse().unwrap(),
            );
            r
        }
        Reply::Sse(events) => sse(events, None),
        Reply::SseCut(events, after) => sse(events, Some(after)),
    }
}

fn sse(events: Vec<String>, cut_after: Option<usize>) -> Response {
    let stream = async_stream::stream! {
        for (i, ev) in events.into_iter().enumerate() {
            if cut_after == Some(i) {
                tokio::time::sleep(Duration::from_millis(50)).await;
                yield Err(std::io::Error::other("fake Gemini cut the connection"));
                return;
            }
            // Google separates events with CRLF CRLF and sends no end marker.
            yield Ok::<_, std::io::Error>(Bytes::from(format!("data: {ev}\r\n\r\n")));
        }
    };
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut()
        .insert("content-type", "text/event-stream".parse().unwrap());
    r
}
