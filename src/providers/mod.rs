//! Upstream providers: one `Provider` trait, one adapter per wire format, one factory.
//!
//! Adapters speak canonical OpenAI-shaped values (`ChatRequest` in, `Completion`/`Chunk` out)
//! and translate to and from their upstream's wire format. They never touch the database,
//! auth or accounting, and they do not decide fallbacks: they classify failures as
//! `ProviderError` and `routing::policy` decides. Timeouts are applied by `exec`.

pub mod anthropic;
pub mod bedrock;
pub mod gemini;
pub mod http;
pub mod mock;
pub mod openai_compat;
pub mod redact;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::telemetry::propagate::Upstream;
use crate::types::registry::{ProviderDecl, ProviderKind};
use crate::types::{ChatRequest, RawObject, Usage};

/// One attempt's input: the client's request and the upstream model to ask for.
#[derive(Debug, Clone, Copy)]
pub struct AttemptRequest<'a> {
    pub chat: &'a ChatRequest,
    pub upstream_model: &'a str,
    /// The attempt's W3C trace context, for `http::send`.
    pub trace: Option<&'a Upstream<'a>>,
}

/// Inbound protocols an adapter may speak natively (besides the canonical chat request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Anthropic's Messages API (`POST /v1/messages`).
    AnthropicMessages,
    /// OpenAI's Responses API (`POST /v1/responses`).
    OpenAiResponses,
    /// OpenAI's embeddings (`POST /v1/embeddings`): no canonical form, served only natively.
    OpenAiEmbeddings,
    /// OpenAI's legacy text completions (`POST /v1/completions`).
    OpenAiCompletions,
}

/// A request as the client sent it, for adapters that speak its protocol: passed through
/// with only `model` replaced, so nothing the gateway does not know is lost.
#[derive(Debug, Clone)]
pub struct NativeBody {
    pub protocol: Protocol,
    /// The client's body without the gateway's own fields.
    pub body: RawObject,
    /// Protocol headers the client sent that the upstream must see (`anthropic-beta`,
    /// `anthropic-version`), already checked to be valid header values.
    pub headers: Vec<(&'static str, String)>,
    pub stream: bool,
}

/// One native attempt's input.
#[derive(Debug, Clone, Copy)]
pub struct NativeRequest<'a> {
    pub body: &'a NativeBody,
    pub upstream_model: &'a str,
    /// The attempt's W3C trace context, for `http::send`.
    pub trace: Option<&'a Upstream<'a>>,
}

impl NativeRequest<'_> {
    /// The body to send: the client's, with the upstream model in place of the public one.
    pub fn body_bytes(&self) -> Vec<u8> {
        let mut body = self.body.body.clone();
        body.insert("model", self.upstream_model);
        body.to_vec()
    }
}

/// A whole (non-streamed) completion in OpenAI's `chat.completion` shape.
#[derive(Debug, Clone)]
pub struct Completion {
    pub body: RawObject,
    pub usage: Option<Usage>,
    /// The provider's own id for the response.
    pub upstream_id: Option<String>,
    /// The answer in the upstream's own protocol, for a native request: the front door
    /// sends this (with the public model name) and `body` only informs the record.
    pub native: Option<RawObject>,
}

/// One `chat.completion.chunk`, with what the executor needs to know about it.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub body: RawObject,
    /// Usage carried by this chunk, if any.
    pub usage: Option<Usage>,
    /// The chunk carries generated output (content, tool-call, reasoning or refusal delta):
    /// the first such chunk is a stream's commit point.
    pub has_output: bool,
    /// The chunk carries a finish_reason.
    pub finished: bool,
    /// Only usage (`choices: []`), as sent for `stream_options.include_usage`.
    pub usage_only: bool,
    /// Length of the generated text in bytes, for estimating tokens when usage never comes.
    pub output_bytes: usize,
    /// The event as the upstream sent it, for a native request (a whole SSE frame): the
    /// front door forwards it and `body` only informs the record.
    pub native: Option<bytes::Bytes>,
}

pub type ChunkStream = BoxStream<'static, Result<Chunk, ProviderError>>;

/// A failed attempt, classified so routing can decide what to do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("could not connect: {0}")]
    Connect(String),
    /// The provider's configuration cannot work; the detail is in the log, not the message
    /// (it may name internal hosts). Another endpoint may still serve.
    #[error("the provider is misconfigured (the gateway's log has the details)")]
    Config(String),
    #[error("timed out {0}")]
    Timeout(&'static str),
    /// The upstream answered with an error status, an error body, or an in-stream error.
    #[error("HTTP {status}: {message}")]
    Status {
        status: u16,
        message: String,
        /// The upstream's own error `type`/`code` strings, when it gave them.
        error_type: Option<String>,
        code: Option<String>,
        param: Option<String>,
        retry_after: Option<Duration>,
    },
    #[error("malformed response: {0}")]
    Malformed(String),
    #[error("the stream ended before it finished: {0}")]
    Cut(String),
    /// The request asks for something this provider's wire format cannot express. Another
    /// endpoint may still serve it; when none can, the client gets a 400.
    #[error("{0}")]
    Unsupported(crate::types::InvalidRequest),
}

impl ProviderError {
    /// A short label for records and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::Connect(_) => "connect",
            ProviderError::Config(_) => "config",
            ProviderError::Timeout(_) => "timeout",
            ProviderError::Status { .. } => "status",
            ProviderError::Malformed(_) => "malformed",
            ProviderError::Cut(_) => "cut",
            ProviderError::Unsupported(_) => "unsupported",
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ProviderError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// An upstream API. `complete` and `stream` are the only two call shapes.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    async fn complete(&self, req: AttemptRequest<'_>) -> Result<Completion, ProviderError>;
    async fn stream(&self, req: AttemptRequest<'_>) -> Result<ChunkStream, ProviderError>;

    /// Request parameters this provider cannot honour and leaves out rather than refusing;
    /// the response names them in `x-switchyard-dropped-params`. Parameters it can neither
    /// translate nor drop make `complete`/`stream` fail with `ProviderError::Unsupported`.
    /// The answer may depend on the upstream model (Bedrock serves model families with
    /// different parameters).
    fn dropped_params(&self, _req: AttemptRequest<'_>) -> Vec<&'static str> {
        Vec::new()
    }

    /// Whether this adapter passes requests of `protocol` through natively for this
    /// upstream model (`complete_native`/`stream_native`); the others get the canonical
    /// request. Bedrock, say, speaks Messages for Claude models only.
    fn speaks(&self, _protocol: Protocol, _upstream_model: &str) -> bool {
        false
    }

    async fn complete_native(&self, _req: NativeRequest<'_>) -> Result<Completion, ProviderError> {
        Err(ProviderError::Config(
            "complete_native called on an adapter that does not speak the protocol".into(),
        ))
    }

    async fn stream_native(&self, _req: NativeRequest<'_>) -> Result<ChunkStream, ProviderError> {
        Err(ProviderError::Config(
            "stream_native called on an adapter that does not speak the protocol".into(),
        ))
    }

    /// Anthropic's `count_tokens` for a native request, as the upstream's JSON answer;
    /// `None` when this adapter cannot count (the front door estimates).
    async fn count_tokens(
        &self,
        _req: NativeRequest<'_>,
    ) -> Result<Option<RawObject>, ProviderError> {
        Ok(None)
    }
}

/// Refuses what a provider that answers with one choice and no log probabilities cannot do:
/// `n` > 1, `logprobs`, `top_logprobs`. `who` names the provider in the message.
pub fn refuse_choices_and_logprobs(
    p: &crate::types::openai::ChatParams,
    who: &str,
) -> Result<(), crate::types::InvalidRequest> {
    let refuse = |param: &'static str, why: String| {
        Err(crate::types::InvalidRequest::new(
            why,
            Some(param),
            "unsupported_parameter",
        ))
    };
    if p.n.is_some_and(|n| n > 1) {
        return refuse(
            "n",
            format!("{who} returns one choice per request (`n` > 1)"),
        );
    }
    if p.logprobs == Some(true) {
        return refuse(
            "logprobs",
            format!("{who} does not return log probabilities"),
        );
    }
    if p.top_logprobs.is_some_and(|n| n > 0) {
        return refuse(
            "top_logprobs",
            format!("{who} does not return log probabilities"),
        );
    }
    Ok(())
}

/// Shared state adapters are built with.
#[derive(Clone)]
pub struct BuildContext {
    pub client: reqwest::Client,
    pub limits: http::UpstreamLimits,
}

/// The one place that matches on provider kinds. `Err` explains why a provider is inactive
/// (its key's environment variable is missing, say).
pub fn build(decl: &ProviderDecl, ctx: &BuildContext) -> Result<Arc<dyn Provider>, String> {
    let api_key = match &decl.api_key_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some(v),
            _ => return Err(format!("environment variable {var} is not set")),
        },
    };
    let secrets = secrets_of(decl, api_key.as_deref());
    build_kind(decl, api_key, ctx).map(|p| redact::Redacting::wrap(p, secrets))
}

/// Every credential a provider sends upstream: its key, its declared header values, and
/// for Bedrock the AWS secrets it signs with.
fn secrets_of(decl: &ProviderDecl, api_key: Option<&str>) -> redact::Secrets {
    let mut values: Vec<String> = api_key.into_iter().map(str::to_owned).collect();
    values.extend(decl.headers.values().cloned());
    if decl.kind == ProviderKind::Bedrock {
        let vars = [
            decl.secret_key_env
                .as_deref()
                .unwrap_or("AWS_SECRET_ACCESS_KEY"),
            decl.session_token_env
                .as_deref()
                .unwrap_or("AWS_SESSION_TOKEN"),
            bedrock::BEARER_TOKEN_ENV,
        ];
        values.extend(vars.iter().filter_map(|v| std::env::var(v).ok()));
    }
    redact::Secrets::new(values)
}

fn build_kind(
    decl: &ProviderDecl,
    api_key: Option<String>,
    ctx: &BuildContext,
) -> Result<Arc<dyn Provider>, String> {
    match decl.kind {
        ProviderKind::Mock => Ok(Arc::new(mock::MockProvider::new(
            decl.mock.clone().unwrap_or_default(),
        ))),
        ProviderKind::Openai | ProviderKind::Azure => {
            openai_compat::OpenAiCompat::new(decl, api_key, ctx.client.clone())
                .map(|p| Arc::new(p.with_limits(ctx.limits)) as Arc<dyn Provider>)
        }
        ProviderKind::Gemini => gemini::Gemini::new(decl, api_key, ctx.client.clone())
            .map(|p| Arc::new(p.with_limits(ctx.limits)) as Arc<dyn Provider>),
        ProviderKind::Anthropic => anthropic::Anthropic::new(decl, api_key, ctx.client.clone())
            .map(|p| Arc::new(p.with_limits(ctx.limits)) as Arc<dyn Provider>),
        ProviderKind::Bedrock => bedrock::Bedrock::new(decl, api_key, ctx.client.clone())
            .map(|p| Arc::new(p.with_limits(ctx.limits)) as Arc<dyn Provider>),
    }
}

#[derive(Deserialize)]
struct ChoiceView<'a> {
    #[serde(borrow, default)]
    delta: Option<DeltaView<'a>>,
    #[serde(borrow, default)]
    message: Option<DeltaView<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<&'a RawValue>,
    /// Legacy completions put their output here.
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct DeltaView<'a> {
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_calls: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning_content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    refusal: Option<&'a RawValue>,
    #[serde(borrow, default)]
    function_call: Option<&'a RawValue>,
}

fn meaningful(v: Option<&RawValue>) -> usize {
    match v.map(|r| r.get()) {
        None | Some("null" | "\"\"" | "[]" | "{}") => 0,
        Some(s) => s.len(),
    }
}

impl Chunk {
    /// Inspects an OpenAI-shaped chunk. Chunks are small; only `choices` is looked into.
    pub fn inspect(body: RawObject) -> Result<Chunk, ProviderError> {
        let usage = match body.get("usage") {
            Some(raw) if raw.get() != "null" => serde_json::from_str::<Usage>(raw.get()).ok(),
            _ => None,
        };
        let mut has_output = false;
        let mut finished = false;
        let mut output_bytes = 0;
        let mut n_choices = 0;
        if let Some(raw) = body.get("choices") {
            let choices: Vec<ChoiceView<'_>> = serde_json::from_str(raw.get())
                .map_err(|e| ProviderError::Malformed(format!("chunk `choices`: {e}")))?;
            n_choices = choices.len();
            for c in &choices {
                let text = meaningful(c.text);
                if text > 0 {
                    has_output = true;
                    output_bytes += text;
                }
                if let Some(d) = c.delta.as_ref().or(c.message.as_ref()) {
                    let text = meaningful(d.content)
                        + meaningful(d.reasoning)
                        + meaningful(d.reasoning_content)
                        + meaningful(d.refusal);
                    let tools = meaningful(d.tool_calls) + meaningful(d.function_call);
                    if text + tools > 0 {
                        has_output = true;
                    }
                    output_bytes += text + tools;
                }
                if c.finish_reason.is_some_and(|f| f.get() != "null") {
                    finished = true;
                }
            }
        }
        Ok(Chunk {
            native: None,
            usage_only: n_choices == 0 && usage.is_some(),
            body,
            usage,
            has_output,
            finished,
            output_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(s: &str) -> Chunk {
        Chunk::inspect(RawObject::parse(s.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn role_chunk_is_not_output() {
        let c = chunk(
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}],"usage":null}"#,
        );
        assert!(!c.has_output && !c.finished && c.usage.is_none() && !c.usage_only);
    }

    #[test]
    fn content_tool_and_finish() {
        assert!(chunk(r#"{"choices":[{"delta":{"content":"Hi"}}]}"#).has_output);
        assert!(chunk(r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":""}}]}}]}"#).has_output);
        assert!(chunk(r#"{"choices":[{"delta":{"reasoning":"hmm"}}]}"#).has_output);
        let fin = chunk(r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#);
        assert!(fin.finished && !fin.has_output);
        let u = chunk(
            r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
        );
        assert!(u.usage_only);
        assert_eq!(u.usage.unwrap().completion_tokens, 2);
    }
}
