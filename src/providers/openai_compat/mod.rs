//! Adapter for OpenAI's Chat Completions API and every server that speaks it (Groq, Together,
//! DeepSeek, Mistral, vLLM, Ollama, OpenRouter, ...), and for Azure OpenAI, which speaks the
//! same format behind other URLs and an `api-key` header. Requests are forwarded field for
//! field; only `model` is set and, for streams, usage is requested so the gateway can account
//! for it.

use async_trait::async_trait;
use futures::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};

mod native;

use super::http::{self, SseData};
use super::{
    AttemptRequest, Chunk, ChunkStream, Completion, NativeRequest, Protocol, Provider,
    ProviderError,
};
use crate::telemetry::propagate::Upstream;
use crate::types::json::write_json_string;
use crate::types::registry::{ProviderDecl, ProviderKind};
use crate::types::{RawObject, Usage};
use native::Op;

pub struct OpenAiCompat {
    client: reqwest::Client,
    limits: http::UpstreamLimits,
    target: Target,
    headers: HeaderMap,
    stream_usage: bool,
    /// The upstream serves `/responses` too: Responses requests pass through.
    responses_api: bool,
}

/// Where requests go.
enum Target {
    /// One base for every model (OpenAI, its clones, Azure's v1 API), with the chat URL parsed
    /// once for the hot path.
    Fixed { chat: reqwest::Url, base: String },
    /// Azure's classic URL: the deployment (the endpoint's upstream model) is in the path.
    AzureDeployment { base: String, api_version: String },
}

impl Target {
    fn url(&self, upstream_model: &str, op: Op) -> Result<reqwest::Url, ProviderError> {
        let url = match (self, op) {
            (Target::Fixed { chat, .. }, Op::Chat) => return Ok(chat.clone()),
            (Target::Fixed { base, .. }, op) => format!("{base}/{}", op.path()),
            (Target::AzureDeployment { base, api_version }, op) => format!(
                "{base}/openai/deployments/{upstream_model}/{}?api-version={api_version}",
                op.path()
            ),
        };
        reqwest::Url::parse(&url)
            .map_err(|e| http::config_error(format!("invalid upstream URL {url}: {e}")))
    }
}

impl OpenAiCompat {
    /// Caps what one upstream answer may hold in memory.
    pub fn with_limits(mut self, limits: http::UpstreamLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn new(
        decl: &ProviderDecl,
        api_key: Option<String>,
        client: reqwest::Client,
    ) -> Result<Self, String> {
        let base = decl
            .base_url
            .as_deref()
            .ok_or("base_url is required")?
            .trim_end_matches('/');
        let azure = decl.kind == ProviderKind::Azure;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(key) = api_key {
            // Azure takes its resource key in `api-key`; everyone else takes a bearer token.
            let (name, value) = if azure {
                (HeaderName::from_static("api-key"), key.trim().to_owned())
            } else {
                (AUTHORIZATION, format!("Bearer {}", key.trim()))
            };
            let mut v = HeaderValue::from_str(&value)
                .map_err(|_| "the API key contains characters not allowed in a header")?;
            v.set_sensitive(true);
            headers.insert(name, v);
        }
        http::declared_headers(decl, &mut headers)?;
        let fixed = |base: String| {
            let url = format!("{base}/chat/completions");
            reqwest::Url::parse(&url)
                .map(|chat| Target::Fixed { chat, base })
                .map_err(|e| format!("`{url}` is not a valid URL: {e}"))
        };
        let target = match (azure, &decl.api_version) {
            (true, Some(v)) => Target::AzureDeployment {
                base: base.to_owned(),
                api_version: v.clone(),
            },
            (true, None) if base.ends_with("/openai/v1") => fixed(base.to_owned())?,
            (true, None) => fixed(format!("{base}/openai/v1"))?,
            (false, _) => fixed(base.to_owned())?,
        };
        Ok(OpenAiCompat {
            client,
            limits: http::UpstreamLimits::default(),
            target,
            headers,
            stream_usage: decl.stream_usage,
            responses_api: decl.responses_api,
        })
    }

    /// The upstream body: the client's fields with `model` set (and stream usage asked for).
    fn body(&self, req: &AttemptRequest<'_>, stream: bool) -> Vec<u8> {
        let chat = req.chat;
        let want_usage = stream && self.stream_usage && !chat.include_usage;
        forward_body(
            &chat.body,
            req.upstream_model,
            want_usage,
            chat.messages_len,
        )
    }

    async fn send(
        &self,
        req: &AttemptRequest<'_>,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, ProviderError> {
        self.send_op(req.upstream_model, Op::Chat, body, req.trace)
            .await
    }

    async fn send_op(
        &self,
        upstream_model: &str,
        op: Op,
        body: Vec<u8>,
        trace: Option<&Upstream<'_>>,
    ) -> Result<reqwest::Response, ProviderError> {
        let resp = http::send(
            self.client
                .post(self.target.url(upstream_model, op)?)
                .headers(self.headers.clone())
                .body(body),
            trace,
        )
        .await
        .map_err(http::transport_error)?;
        if !resp.status().is_success() {
            return Err(http::error_from_response(resp).await);
        }
        Ok(resp)
    }
}

/// The client's fields with `model` first and set to the upstream's, and — when
/// `want_usage` — `stream_options.include_usage` added, other options kept. Values are
/// copied as raw JSON, never re-serialised.
fn forward_body(body: &RawObject, upstream_model: &str, want_usage: bool, hint: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + hint * 2);
    out.extend_from_slice(b"{\"model\":");
    write_json_string(&mut out, upstream_model);
    for key in body.keys() {
        if key == "model" || want_usage && key == "stream_options" {
            continue;
        }
        if let Some(v) = body.get(key) {
            out.push(b',');
            write_json_string(&mut out, key);
            out.push(b':');
            out.extend_from_slice(v.get().as_bytes());
        }
    }
    if want_usage {
        out.extend_from_slice(b",\"stream_options\":");
        out.extend_from_slice(stream_options_with_usage(body.get("stream_options")).as_bytes());
    }
    out.push(b'}');
    out
}

/// The client's `stream_options` with `include_usage: true` added, other options kept.
fn stream_options_with_usage(existing: Option<crate::types::RawRef<'_>>) -> String {
    let mut opts = existing
        .and_then(|r| {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(r.get()).ok()
        })
        .unwrap_or_default();
    opts.insert("include_usage".into(), serde_json::Value::Bool(true));
    serde_json::Value::Object(opts).to_string()
}

#[async_trait]
impl Provider for OpenAiCompat {
    async fn complete(&self, req: AttemptRequest<'_>) -> Result<Completion, ProviderError> {
        let resp = self.send(&req, self.body(&req, false)).await?;
        let bytes = http::read_capped(resp, self.limits.max_response_bytes).await?;
        let body = RawObject::parse(&bytes).map_err(|e| {
            ProviderError::Malformed(format!(
                "response is not a JSON object ({e}): {}",
                http::truncate(&String::from_utf8_lossy(&bytes), 200)
            ))
        })?;
        if let Some(err) = body.get("error").filter(|e| e.get() != "null") {
            return Err(http::in_band_error(err));
        }
        if !body.contains("choices") {
            return Err(ProviderError::Malformed("response has no `choices`".into()));
        }
        let usage = body
            .get("usage")
            .and_then(|u| serde_json::from_str::<Usage>(u.get()).ok());
        let upstream_id = body.get_as::<String>("id").and_then(Result::ok);
        Ok(Completion {
            body,
            usage,
            upstream_id,
            native: None,
        })
    }

    async fn stream(&self, req: AttemptRequest<'_>) -> Result<ChunkStream, ProviderError> {
        let resp = self.send(&req, self.body(&req, true)).await?;
        let events = http::sse_data(resp.bytes_stream(), self.limits.max_event_bytes);
        // `[DONE]` ends the stream; anything after it is ignored.
        let chunks = events
            .take_while(|ev| futures::future::ready(!matches!(ev, Ok(SseData::Done))))
            .filter_map(|ev| {
                futures::future::ready(match ev {
                    Ok(SseData::Data(data)) => parse_chunk(data).transpose(),
                    Ok(SseData::Done) => None,
                    Err(e) => Some(Err(e)),
                })
            });
        Ok(Box::pin(chunks))
    }

    fn speaks(&self, protocol: Protocol, _upstream_model: &str) -> bool {
        self.speaks_native(protocol)
    }

    async fn complete_native(&self, req: NativeRequest<'_>) -> Result<Completion, ProviderError> {
        self.native_complete(req).await
    }

    async fn stream_native(&self, req: NativeRequest<'_>) -> Result<ChunkStream, ProviderError> {
        self.native_stream(req).await
    }
}

/// Parses one stream event; `None` for chunks that carry nothing for the client (Azure opens
/// its streams with a content-filter report: no choices, no usage).
fn parse_chunk(data: String) -> Result<Option<Chunk>, ProviderError> {
    // Take the event's text as the chunk's: members are spans of it, not copies.
    let body = RawObject::parse_string(data).map_err(|(e, data)| {
        ProviderError::Malformed(format!(
            "stream event is not a JSON object ({e}): {}",
            http::truncate(&data, 200)
        ))
    })?;
    if let Some(err) = body.get("error").filter(|e| e.get() != "null") {
        return Err(http::in_band_error(err));
    }
    let chunk = Chunk::inspect(body)?;
    let empty = chunk.body.get("choices").is_some_and(|c| c.get() == "[]") && chunk.usage.is_none();
    Ok((!empty).then_some(chunk))
}

/// Fuzzing entry point: an SSE body's data lines read as OpenAI chunks, which must never
/// panic (see `crate::fuzzing`).
#[doc(hidden)]
pub fn fuzz_stream(text: &str) {
    for line in text.lines() {
        let data = line
            .strip_prefix("data:")
            .map(str::trim_start)
            .unwrap_or(line);
        let _ = parse_chunk(data.to_owned());
    }
}

/// Fuzzing entry point: an SSE body's data lines read as Responses events.
#[doc(hidden)]
pub fn fuzz_responses_stream(text: &str) {
    for line in text.lines() {
        let data = line.strip_prefix("data:").map_or(line, str::trim_start);
        let _ = native::responses_event(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::registry::ProviderKind;
    use crate::types::ChatRequest;

    fn adapter(stream_usage: bool) -> OpenAiCompat {
        let decl = ProviderDecl {
            base_url: Some("http://localhost:1/v1/".into()),
            stream_usage,
            ..ProviderDecl::new("x", ProviderKind::Openai)
        };
        OpenAiCompat::new(&decl, Some("k".into()), reqwest::Client::new()).unwrap()
    }

    #[test]
    fn forwards_unknown_fields_and_sets_model() {
        let chat = ChatRequest::parse(
            br#"{"model":"pub/slug","messages":[{"role":"user","content":"hi"}],"x_vendor":{"a":1},"provider":{"sort":"price"},"stream":true,"stream_options":{"include_obfuscation":false}}"#,
        )
        .unwrap();
        let a = adapter(true);
        assert_eq!(
            a.target.url("m", Op::Chat).unwrap().as_str(),
            "http://localhost:1/v1/chat/completions"
        );
        let req = AttemptRequest {
            chat: &chat,
            upstream_model: "gpt-x",
            trace: None,
        };
        let body = String::from_utf8(a.body(&req, true)).unwrap();
        assert_eq!(
            body,
            r#"{"model":"gpt-x","messages":[{"role":"user","content":"hi"}],"x_vendor":{"a":1},"stream":true,"stream_options":{"include_obfuscation":false,"include_usage":true}}"#
        );
        let body = String::from_utf8(adapter(false).body(&req, true)).unwrap();
        assert!(
            body.ends_with(r#""stream_options":{"include_obfuscation":false}}"#),
            "{body}"
        );
    }

    #[test]
    fn every_operation_has_its_url_on_openai_and_azure() {
        let azure = |api_version: Option<&str>| {
            let decl = ProviderDecl {
                base_url: Some("https://res.openai.azure.com".into()),
                api_version: api_version.map(str::to_owned),
                ..ProviderDecl::new("az", ProviderKind::Azure)
            };
            OpenAiCompat::new(&decl, Some("k".into()), reqwest::Client::new()).unwrap()
        };
        let url = |a: &OpenAiCompat, op| a.target.url("dep-1", op).unwrap().to_string();
        let classic = azure(Some("2024-10-21"));
        assert_eq!(
            url(&classic, Op::Embeddings),
            "https://res.openai.azure.com/openai/deployments/dep-1/embeddings?api-version=2024-10-21"
        );
        assert_eq!(
            url(&classic, Op::Completions),
            "https://res.openai.azure.com/openai/deployments/dep-1/completions?api-version=2024-10-21"
        );
        assert_eq!(
            url(&azure(None), Op::Embeddings),
            "https://res.openai.azure.com/openai/v1/embeddings"
        );
        let a = adapter(true);
        assert_eq!(url(&a, Op::Responses), "http://localhost:1/v1/responses");
        assert_eq!(url(&a, Op::Embeddings), "http://localhost:1/v1/embeddings");
        assert!(a.speaks_native(Protocol::OpenAiEmbeddings));
        assert!(
            !a.speaks_native(Protocol::OpenAiResponses),
            "only with responses_api"
        );
    }
}
