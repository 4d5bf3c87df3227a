//! Adapter for Anthropic's Messages API (`POST {base_url}/messages`). Requests are translated
//! from the typed OpenAI view (`convert`), responses and streams back into OpenAI's shape
//! (`convert`, `stream`); parameters without an Anthropic slot are dropped and reported or
//! refused (`capabilities`); failures keep Anthropic's status and reason (`errors`).

// `capabilities` and `convert` are shared with the Bedrock adapter, which serves Claude too
// (thinking budgets, sampling limits, echoed thinking, the JSON tool).
pub(crate) mod capabilities;
pub(crate) mod convert;
mod errors;
pub(crate) mod native;
mod stream;
mod wire;

use async_trait::async_trait;
use futures::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};

use super::http::{self, SseData};
use super::{
    AttemptRequest, Chunk, ChunkStream, Completion, NativeRequest, Protocol, Provider,
    ProviderError,
};
use crate::telemetry::propagate::Upstream;
use crate::types::openai::{ChatParams, ChunkOut};
use crate::types::registry::ProviderDecl;
use crate::types::{now_ms, RawObject};
use capabilities::Extras;
use convert::{Options, ResponseMode};
use stream::Translator;
use wire::MessageResponse;

/// The public API, used when the declaration has no `base_url`.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com/v1";
/// The only API version the official SDKs send.
const API_VERSION: &str = "2023-06-01";

pub struct Anthropic {
    client: reqwest::Client,
    limits: http::UpstreamLimits,
    url: String,
    headers: HeaderMap,
    default_max_tokens: u64,
}

impl Anthropic {
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
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/');
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert("anthropic-version", HeaderValue::from_static(API_VERSION));
        if let Some(key) = api_key {
            let mut v = HeaderValue::from_str(key.trim())
                .map_err(|_| "the API key contains characters not allowed in a header")?;
            v.set_sensitive(true);
            headers.insert("x-api-key", v);
        }
        // Declared headers come last: `anthropic-beta` flags, or a different version.
        http::declared_headers(decl, &mut headers)?;
        Ok(Anthropic {
            client,
            limits: http::UpstreamLimits::default(),
            url: format!("{base}/messages"),
            headers,
            default_max_tokens: decl
                .default_max_tokens
                .unwrap_or(convert::DEFAULT_MAX_TOKENS),
        })
    }

    /// The upstream body and how to read the answer. A request this adapter cannot express
    /// is `Unsupported`, so another endpoint may still serve it.
    fn body(
        &self,
        req: &AttemptRequest<'_>,
        stream: bool,
    ) -> Result<(Vec<u8>, ResponseMode), ProviderError> {
        let params = ChatParams::from_body(&req.chat.body).map_err(ProviderError::Unsupported)?;
        let extras = Extras::from_body(&req.chat.body).map_err(ProviderError::Unsupported)?;
        let t = convert::request(
            &params,
            &extras,
            Options {
                model: req.upstream_model,
                stream,
                default_max_tokens: self.default_max_tokens,
            },
        )
        .map_err(ProviderError::Unsupported)?;
        let bytes = serde_json::to_vec(&t.body)
            .map_err(|e| ProviderError::Malformed(format!("could not encode the request: {e}")))?;
        Ok((bytes, t.mode))
    }

    async fn send(
        &self,
        body: Vec<u8>,
        trace: Option<&Upstream<'_>>,
    ) -> Result<reqwest::Response, ProviderError> {
        let resp = http::send(
            self.client
                .post(&self.url)
                .headers(self.headers.clone())
                .body(body),
            trace,
        )
        .await
        .map_err(http::transport_error)?;
        if !resp.status().is_success() {
            return Err(errors::from_response(resp).await);
        }
        Ok(resp)
    }
}

#[async_trait]
impl Provider for Anthropic {
    async fn complete(&self, req: AttemptRequest<'_>) -> Result<Completion, ProviderError> {
        let (body, mode) = self.body(&req, false)?;
        let resp = self.send(body, req.trace).await?;
        let bytes = http::read_capped(resp, self.limits.max_response_bytes).await?;
        let message: MessageResponse = serde_json::from_slice(&bytes).map_err(|e| {
            // A 200 can still carry an error document.
            if let Ok(err) = serde_json::from_slice::<wire::ErrorBody>(&bytes) {
                return errors::from_event(err.error);
            }
            ProviderError::Malformed(format!(
                "response is not an Anthropic message ({e}): {}",
                http::truncate(&String::from_utf8_lossy(&bytes), 200)
            ))
        })?;
        let out = convert::response(message, mode, now_ms() / 1000);
        let usage = out.usage.clone();
        let upstream_id = Some(out.id.clone());
        let body = RawObject::from_serialize(&out).map_err(|e| {
            ProviderError::Malformed(format!("could not encode the completion: {e}"))
        })?;
        Ok(Completion {
            body,
            usage,
            upstream_id,
            native: None,
        })
    }

    async fn stream(&self, req: AttemptRequest<'_>) -> Result<ChunkStream, ProviderError> {
        let (body, mode) = self.body(&req, true)?;
        let resp = self.send(body, req.trace).await?;
        let mut events = Box::pin(http::sse_data(
            resp.bytes_stream(),
            self.limits.max_event_bytes,
        ));
        let mut translator = Translator::new(mode, now_ms() / 1000);
        let chunks = async_stream::stream! {
            loop {
                let (result, last) = match events.next().await {
                    Some(Ok(SseData::Data(data))) => (translator.step_data(&data), false),
                    // Anthropic sends no `[DONE]`; tolerate one from a proxy.
                    Some(Ok(SseData::Done)) => (Ok(Vec::new()), false),
                    // A broken body is only an error if the answer was not finished.
                    Some(Err(e)) => (translator.end().map_err(|_| e), true),
                    None => (translator.end(), true),
                };
                match result {
                    Ok(out) => {
                        for c in out {
                            yield to_chunk(&c);
                        }
                    }
                    Err(e) => {
                        yield Err(e);
                        break;
                    }
                }
                if last || translator.is_done() {
                    break;
                }
            }
        };
        Ok(Box::pin(chunks))
    }

    fn speaks(&self, protocol: Protocol, _upstream_model: &str) -> bool {
        protocol == Protocol::AnthropicMessages
    }

    async fn complete_native(&self, req: NativeRequest<'_>) -> Result<Completion, ProviderError> {
        self.native_complete(req).await
    }

    async fn stream_native(&self, req: NativeRequest<'_>) -> Result<ChunkStream, ProviderError> {
        self.native_stream(req).await
    }

    async fn count_tokens(
        &self,
        req: NativeRequest<'_>,
    ) -> Result<Option<RawObject>, ProviderError> {
        self.native_count_tokens(req).await
    }

    fn dropped_params(&self, req: AttemptRequest<'_>) -> Vec<&'static str> {
        let chat = req.chat;
        match (
            ChatParams::from_body(&chat.body),
            Extras::from_body(&chat.body),
        ) {
            (Ok(p), Ok(extras)) => capabilities::dropped(&chat.body, &p, &extras),
            _ => Vec::new(),
        }
    }
}

fn to_chunk(c: &ChunkOut) -> Result<Chunk, ProviderError> {
    let body = RawObject::from_serialize(c)
        .map_err(|e| ProviderError::Malformed(format!("could not encode a chunk: {e}")))?;
    Chunk::inspect(body)
}

/// Fuzzing entry point: an SSE body's data lines through the stream translator, which must
/// never panic (see `crate::fuzzing`).
#[doc(hidden)]
pub fn fuzz_stream(text: &str, json_tool: bool) {
    let mode = convert::ResponseMode {
        json_tool,
        exclude_reasoning: !json_tool,
    };
    let mut t = stream::Translator::new(mode, 0);
    for line in text.lines() {
        let data = line
            .strip_prefix("data:")
            .map(str::trim_start)
            .unwrap_or(line);
        if t.step_data(data).is_err() {
            return;
        }
    }
    let _ = t.end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::registry::ProviderKind;
    use crate::types::ChatRequest;

    fn decl(base_url: Option<&str>) -> ProviderDecl {
        ProviderDecl {
            base_url: base_url.map(str::to_owned),
            headers: [("anthropic-beta".to_owned(), "x-2025".to_owned())].into(),
            default_max_tokens: Some(1000),
            ..ProviderDecl::new("anthropic", ProviderKind::Anthropic)
        }
    }

    #[test]
    fn url_headers_and_defaults() {
        let a = Anthropic::new(&decl(None), Some("sk-ant".into()), reqwest::Client::new()).unwrap();
        assert_eq!(a.url, "https://api.anthropic.com/v1/messages");
        assert_eq!(a.headers["x-api-key"], "sk-ant");
        assert!(a.headers["x-api-key"].is_sensitive());
        assert_eq!(a.headers["anthropic-version"], "2023-06-01");
        assert_eq!(a.headers["anthropic-beta"], "x-2025");
        assert_eq!(a.default_max_tokens, 1000);
        let a = Anthropic::new(
            &decl(Some("http://127.0.0.1:9/v1/")),
            None,
            reqwest::Client::new(),
        )
        .unwrap();
        assert_eq!(a.url, "http://127.0.0.1:9/v1/messages");
        assert!(!a.headers.contains_key("x-api-key"));
    }

    #[test]
    fn requests_anthropic_cannot_express_are_unsupported() {
        let a = Anthropic::new(&decl(None), None, reqwest::Client::new()).unwrap();
        let chat = ChatRequest::parse(
            br#"{"model":"m","n":3,"seed":4,"messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap();
        let req = AttemptRequest {
            chat: &chat,
            upstream_model: "claude",
            trace: None,
        };
        match a.body(&req, false) {
            Err(ProviderError::Unsupported(e)) => assert_eq!(e.param, Some("n")),
            other => panic!("{other:?}"),
        }
        assert_eq!(a.dropped_params(req), vec!["seed"]);
    }
}
