//! OpenAI's other operations, passed through: embeddings and legacy completions for every
//! OpenAI-compatible upstream, and the Responses API for those that declare it
//! (`responses_api = true`). Bodies go upstream with only `model` replaced (and stream usage
//! asked for); answers come back as the upstream sent them, read only for what the record
//! needs.

use futures::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{forward_body, parse_chunk, OpenAiCompat};
use crate::providers::http::{self, SseData};
use crate::providers::{Chunk, ChunkStream, Completion, NativeRequest, Protocol, ProviderError};
use crate::types::usage::{CompletionTokensDetails, PromptTokensDetails};
use crate::types::{RawObject, Usage};

/// The upstream operation, by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Chat,
    Embeddings,
    Completions,
    Responses,
}

impl Op {
    pub fn path(self) -> &'static str {
        match self {
            Op::Chat => "chat/completions",
            Op::Embeddings => "embeddings",
            Op::Completions => "completions",
            Op::Responses => "responses",
        }
    }

    fn of(protocol: Protocol) -> Option<Op> {
        match protocol {
            Protocol::OpenAiEmbeddings => Some(Op::Embeddings),
            Protocol::OpenAiCompletions => Some(Op::Completions),
            Protocol::OpenAiResponses => Some(Op::Responses),
            Protocol::AnthropicMessages => None,
        }
    }
}

impl OpenAiCompat {
    fn native_op(&self, req: &NativeRequest<'_>) -> Result<Op, ProviderError> {
        Op::of(req.body.protocol)
            .filter(|op| *op != Op::Responses || self.responses_api)
            .ok_or_else(|| {
                ProviderError::Config(format!(
                    "{:?} sent to an OpenAI-compatible provider that does not speak it",
                    req.body.protocol
                ))
            })
    }

    async fn native_send(
        &self,
        req: &NativeRequest<'_>,
    ) -> Result<reqwest::Response, ProviderError> {
        let op = self.native_op(req)?;
        // Usage in streams is asked for as on chat (the Responses API always sends it).
        let want_usage = req.body.stream && op == Op::Completions && self.stream_usage;
        let body = forward_body(&req.body.body, req.upstream_model, want_usage, 0);
        self.send_op(req.upstream_model, op, body, req.trace).await
    }

    pub(super) async fn native_complete(
        &self,
        req: NativeRequest<'_>,
    ) -> Result<Completion, ProviderError> {
        let responses = self.native_op(&req)? == Op::Responses;
        let resp = self.native_send(&req).await?;
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
        if responses {
            let view: ResponseView = serde_json::from_slice(&bytes)
                .map_err(|e| ProviderError::Malformed(format!("response object: {e}")))?;
            return Ok(Completion {
                upstream_id: view.id.clone(),
                usage: view.usage.as_ref().map(ResponsesUsage::to_usage),
                body: view.summary(),
                native: Some(body),
            });
        }
        let usage = body
            .get("usage")
            .and_then(|u| serde_json::from_str::<Usage>(u.get()).ok());
        Ok(Completion {
            upstream_id: body.get_as::<String>("id").and_then(Result::ok),
            usage,
            body,
            native: None,
        })
    }

    pub(super) async fn native_stream(
        &self,
        req: NativeRequest<'_>,
    ) -> Result<ChunkStream, ProviderError> {
        let op = self.native_op(&req)?;
        let resp = self.native_send(&req).await?;
        let events = http::sse_data(resp.bytes_stream(), self.limits.max_event_bytes);
        if op != Op::Responses {
            // Legacy completions stream chunks in chat's framing: read them like chat's.
            let chunks = events
                .take_while(|ev| futures::future::ready(!matches!(ev, Ok(SseData::Done))))
                .filter_map(|ev| {
                    futures::future::ready(match ev {
                        Ok(SseData::Data(data)) => parse_chunk(data).transpose(),
                        Ok(SseData::Done) => None,
                        Err(e) => Some(Err(e)),
                    })
                });
            return Ok(Box::pin(chunks));
        }
        let chunks = events.filter_map(|ev| {
            futures::future::ready(match ev {
                Ok(SseData::Data(data)) => Some(responses_event(&data)),
                Ok(SseData::Done) => None,
                Err(e) => Some(Err(e)),
            })
        });
        Ok(Box::pin(chunks))
    }
}

impl OpenAiCompat {
    pub(super) fn speaks_native(&self, protocol: Protocol) -> bool {
        match Op::of(protocol) {
            Some(Op::Responses) => self.responses_api,
            Some(_) => true,
            None => false,
        }
    }
}

/// What the record needs of a Responses object.
#[derive(Deserialize)]
struct ResponseView {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    usage: Option<ResponsesUsage>,
    #[serde(default)]
    error: Option<Box<RawValue>>,
}

impl ResponseView {
    /// A chat-shaped summary for the record: the id and a finish reason.
    fn summary(&self) -> RawObject {
        let mut body = RawObject::new();
        if let Some(id) = &self.id {
            body.insert("id", id);
        }
        let finish = match self.status.as_deref() {
            Some("incomplete") => "length",
            Some("failed") => "error",
            _ => "stop",
        };
        body.insert(
            "choices",
            &serde_json::json!([{"index": 0, "finish_reason": finish}]),
        );
        body
    }
}

#[derive(Deserialize)]
struct ResponsesUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    input_tokens_details: Option<CachedDetails>,
    #[serde(default)]
    output_tokens_details: Option<ReasoningDetails>,
}

#[derive(Deserialize)]
struct CachedDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct ReasoningDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl ResponsesUsage {
    fn to_usage(&self) -> Usage {
        let mut u = Usage::new(self.input_tokens, self.output_tokens);
        let cached = self
            .input_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens);
        if cached.is_some() {
            u.prompt_tokens_details = Some(PromptTokensDetails {
                cached_tokens: cached,
                cache_write_tokens: None,
            });
        }
        let reasoning = self
            .output_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens);
        if reasoning.is_some() {
            u.completion_tokens_details = Some(CompletionTokensDetails {
                reasoning_tokens: reasoning,
            });
        }
        u
    }
}

#[derive(Deserialize)]
struct EventView<'a> {
    #[serde(borrow, rename = "type")]
    kind: &'a str,
    #[serde(borrow, default)]
    delta: Option<&'a RawValue>,
    #[serde(default)]
    response: Option<ResponseView>,
    #[serde(borrow, default)]
    message: Option<&'a str>,
    #[serde(borrow, default)]
    code: Option<&'a RawValue>,
}

/// One Responses stream event: forwarded as its frame, read for the commit point (the first
/// delta), the finish and usage (the terminal event), and failures.
pub(crate) fn responses_event(data: &str) -> Result<Chunk, ProviderError> {
    let ev: EventView<'_> = serde_json::from_str(data).map_err(|e| {
        ProviderError::Malformed(format!(
            "Responses event ({e}): {}",
            http::truncate(data, 200)
        ))
    })?;
    let mut chunk = Chunk {
        body: RawObject::new(),
        usage: None,
        has_output: false,
        finished: false,
        usage_only: false,
        output_bytes: 0,
        native: Some(http::sse_frame(data)),
    };
    match ev.kind {
        "error" => {
            return Err(ProviderError::Status {
                status: 502,
                message: ev
                    .message
                    .unwrap_or("the upstream reported an error")
                    .to_owned(),
                error_type: None,
                code: ev.code.map(|c| c.get().trim_matches('"').to_owned()),
                param: None,
                retry_after: None,
            })
        }
        "response.failed" => {
            let message = ev
                .response
                .as_ref()
                .and_then(|r| r.error.as_ref())
                .map(|e| e.get().to_owned())
                .unwrap_or_else(|| "the response failed".into());
            return Err(ProviderError::Status {
                status: 502,
                message,
                error_type: None,
                code: None,
                param: None,
                retry_after: None,
            });
        }
        "response.completed" | "response.incomplete" => {
            if let Some(r) = &ev.response {
                chunk.usage = r.usage.as_ref().map(ResponsesUsage::to_usage);
                chunk.body = r.summary();
            }
            chunk.finished = true;
        }
        "response.created" => {
            if let Some(id) = ev.response.as_ref().and_then(|r| r.id.as_ref()) {
                chunk.body.insert("id", id);
            }
        }
        k if k.ends_with(".delta") => {
            let n = ev.delta.map_or(0, |d| d.get().len().saturating_sub(2));
            chunk.has_output = n > 0;
            chunk.output_bytes = n;
        }
        _ => {}
    }
    Ok(chunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_events_mark_commit_finish_and_usage() {
        let created = responses_event(
            r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","output":[]}}"#,
        )
        .unwrap();
        assert!(!created.has_output && !created.finished);
        assert_eq!(
            created.body.get_as::<String>("id").unwrap().unwrap(),
            "resp_1"
        );
        let delta = responses_event(
            r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"m","output_index":0,"content_index":0,"delta":"Hi"}"#,
        )
        .unwrap();
        assert!(delta.has_output);
        let done = responses_event(
            r#"{"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","status":"completed","usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":3,"output_tokens_details":{"reasoning_tokens":1},"total_tokens":13}}}"#,
        )
        .unwrap();
        assert!(done.finished);
        let u = done.usage.unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.completion_tokens,
                u.cached_tokens(),
                u.reasoning_tokens()
            ),
            (10, 3, 4, 1)
        );
        assert!(done
            .native
            .unwrap()
            .starts_with(b"event: response.completed\n"));
        assert!(responses_event(r#"{"type":"response.failed","response":{"status":"failed","error":{"code":"server_error","message":"boom"}}}"#).is_err());
    }
}
