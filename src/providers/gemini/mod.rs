//! Adapter for Google's Gemini API (Generative Language API `v1beta`): OpenAI chat requests
//! are translated to `models/{model}:generateContent` (JSON) and
//! `models/{model}:streamGenerateContent?alt=sse` (streams), and the answers back.
//!
//! Layout: `convert` (pure request/response translation), `schema` ($ref inlining),
//! `stream` (the event-by-event translator), `errors` (error bodies → `ProviderError`),
//! `capabilities` (fields dropped or refused), `fetch` (images given by URL, which Gemini
//! cannot fetch itself), `wire` (Gemini's serde types).

mod capabilities;
mod convert;
mod embed;
mod errors;
// Shared with the Bedrock adapter, which cannot take image URLs either.
pub(crate) mod fetch;
mod schema;
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
use crate::types::{ChatRequest, RawObject};

/// Used when the provider declares no `base_url`.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com/v1beta";

pub struct Gemini {
    client: reqwest::Client,
    limits: http::UpstreamLimits,
    base: String,
    headers: HeaderMap,
    fetch_policy: fetch::FetchPolicy,
}

impl Gemini {
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
            .trim_end_matches('/')
            .to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(key) = api_key {
            let mut v = HeaderValue::from_str(key.trim())
                .map_err(|_| "the API key contains characters not allowed in a header")?;
            v.set_sensitive(true);
            headers.insert("x-goog-api-key", v);
        }
        http::declared_headers(decl, &mut headers)?;
        Ok(Gemini {
            client,
            limits: http::UpstreamLimits::default(),
            base,
            headers,
            fetch_policy: fetch::FetchPolicy {
                allow_private: decl.allow_private_image_urls,
            },
        })
    }

    fn url(&self, model: &str, stream: bool) -> String {
        // Registries may spell the model as Google lists it (`models/gemini-2.5-flash`).
        let model = model.strip_prefix("models/").unwrap_or(model);
        if stream {
            format!("{}/models/{model}:streamGenerateContent?alt=sse", self.base)
        } else {
            format!("{}/models/{model}:generateContent", self.base)
        }
    }

    /// The translated request body. Everything that cannot be translated is `Unsupported`,
    /// so another endpoint may still serve the request.
    async fn body(&self, chat: &ChatRequest) -> Result<Vec<u8>, ProviderError> {
        capabilities::refuse(chat).map_err(ProviderError::Unsupported)?;
        let params = ChatParams::from_body(&chat.body).map_err(ProviderError::Unsupported)?;
        let urls = fetch::image_urls(&params).map_err(ProviderError::Unsupported)?;
        let fetched = if urls.is_empty() {
            convert::Fetched::new()
        } else {
            fetch::fetch_all(urls, self.fetch_policy, &chat.images, self.limits)
                .await
                .map_err(ProviderError::Unsupported)?
        };
        let request = convert::request(&params, &fetched).map_err(ProviderError::Unsupported)?;
        serde_json::to_vec(&request)
            .map_err(|e| ProviderError::Malformed(format!("could not encode the request: {e}")))
    }

    async fn send(
        &self,
        url: String,
        body: Vec<u8>,
        trace: Option<&Upstream<'_>>,
    ) -> Result<reqwest::Response, ProviderError> {
        let resp = http::send(
            self.client
                .post(url)
                .headers(self.headers.clone())
                .body(body),
            trace,
        )
        .await
        .map_err(http::transport_error)?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let retry = http::retry_after(resp.headers());
        let body = http::error_body(resp).await;
        Err(errors::from_response(status, &body, retry))
    }
}

fn to_chunk(out: &ChunkOut) -> Result<Chunk, ProviderError> {
    let body = RawObject::from_serialize(out)
        .map_err(|e| ProviderError::Malformed(format!("could not encode a chunk: {e}")))?;
    Chunk::inspect(body)
}

#[async_trait]
impl Provider for Gemini {
    fn speaks(&self, protocol: Protocol, _upstream_model: &str) -> bool {
        protocol == Protocol::OpenAiEmbeddings
    }

    async fn complete_native(&self, req: NativeRequest<'_>) -> Result<Completion, ProviderError> {
        match req.body.protocol {
            Protocol::OpenAiEmbeddings => self.embed(req).await,
            other => Err(ProviderError::Config(format!(
                "Gemini does not speak {other:?}"
            ))),
        }
    }

    async fn complete(&self, req: AttemptRequest<'_>) -> Result<Completion, ProviderError> {
        let body = self.body(req.chat).await?;
        let resp = self
            .send(self.url(req.upstream_model, false), body, req.trace)
            .await?;
        let bytes = http::read_capped(resp, self.limits.max_response_bytes).await?;
        let parsed: wire::Response = serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::Malformed(format!(
                "response is not a GenerateContentResponse ({e}): {}",
                http::truncate(&String::from_utf8_lossy(&bytes), 200)
            ))
        })?;
        if let Some(error) = parsed.error {
            return Err(errors::in_band(error));
        }
        let out = convert::completion(parsed, req.upstream_model)?;
        let body = RawObject::from_serialize(&out).map_err(|e| {
            ProviderError::Malformed(format!("could not encode the completion: {e}"))
        })?;
        Ok(Completion {
            body,
            usage: out.usage,
            upstream_id: Some(out.id),
            native: None,
        })
    }

    async fn stream(&self, req: AttemptRequest<'_>) -> Result<ChunkStream, ProviderError> {
        let body = self.body(req.chat).await?;
        let resp = self
            .send(self.url(req.upstream_model, true), body, req.trace)
            .await?;
        let mut events = Box::pin(http::sse_data(
            resp.bytes_stream(),
            self.limits.max_event_bytes,
        ));
        let mut translator = stream::Translator::new(req.upstream_model);
        let chunks = async_stream::stream! {
            while let Some(ev) = events.next().await {
                let outs = match ev {
                    Ok(SseData::Data(data)) => translator.step(&data),
                    // Gemini sends no `[DONE]`; tolerate one from a proxy.
                    Ok(SseData::Done) => continue,
                    Err(e) => Err(e),
                };
                match outs {
                    Ok(outs) => {
                        for out in &outs {
                            yield to_chunk(out);
                        }
                    }
                    Err(e) => {
                        yield Err(e);
                        return;
                    }
                }
            }
            match translator.finish() {
                Ok(outs) => {
                    for out in &outs {
                        yield to_chunk(out);
                    }
                }
                Err(e) => yield Err(e),
            }
        };
        Ok(Box::pin(chunks))
    }

    fn dropped_params(&self, req: AttemptRequest<'_>) -> Vec<&'static str> {
        capabilities::dropped(req.chat)
    }
}

/// Fuzzing entry point: an SSE body's data lines through the stream translator, which must
/// never panic (see `crate::fuzzing`).
#[doc(hidden)]
pub fn fuzz_stream(text: &str) {
    let mut t = stream::Translator::new("gemini-fuzz");
    for line in text.lines() {
        let data = line
            .strip_prefix("data:")
            .map(str::trim_start)
            .unwrap_or(line);
        if t.step(data).is_err() {
            return;
        }
    }
    let _ = t.finish();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::registry::ProviderKind;

    fn decl(base_url: Option<&str>) -> ProviderDecl {
        ProviderDecl {
            base_url: base_url.map(str::to_owned),
            api_key_env: Some("GEMINI_API_KEY".into()),
            ..ProviderDecl::new("google", ProviderKind::Gemini)
        }
    }

    #[test]
    fn base_url_defaults_to_google() {
        let d = decl(None);
        assert!(d.validate().is_ok());
        let g = Gemini::new(&d, Some("k".into()), reqwest::Client::new()).unwrap();
        assert_eq!(
            g.url("gemini-2.5-flash", false),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            g.url("models/gemini-2.5-flash", true),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(g.headers["x-goog-api-key"], "k");
        assert!(g.headers.get("authorization").is_none());
        let g = Gemini::new(
            &decl(Some("http://127.0.0.1:9/v1beta/")),
            None,
            reqwest::Client::new(),
        )
        .unwrap();
        assert_eq!(
            g.url("m", false),
            "http://127.0.0.1:9/v1beta/models/m:generateContent"
        );
        assert!(decl(Some("ftp://x")).validate().is_err());
    }
}
