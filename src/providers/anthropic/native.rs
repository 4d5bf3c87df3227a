//! Native passthrough for Anthropic Messages requests: the client's body goes upstream with
//! only `model` replaced, its `anthropic-beta`/`anthropic-version` headers with it, and the
//! answer comes back as Anthropic sent it. The stream translator still reads every event so
//! the executor sees commit points, usage and the finish as for any other stream.

use bytes::Bytes;
use futures::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue};

use super::convert::{self, ResponseMode};
use super::stream::Translator;
use super::wire::MessageResponse;
use super::{errors, wire, Anthropic};
use crate::providers::http::{self, SseData};
use crate::providers::{Chunk, ChunkStream, Completion, NativeRequest, ProviderError};
use crate::types::{now_ms, RawObject};

/// Reasoning is the client's business in passthrough: nothing is hidden.
const MODE: ResponseMode = ResponseMode {
    json_tool: false,
    exclude_reasoning: false,
};

/// Fields `count_tokens` accepts; Anthropic refuses the others (`max_tokens`, `stream`...).
const COUNT_FIELDS: &[&str] = &[
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "mcp_servers",
    "context_management",
];

impl Anthropic {
    /// The adapter's headers with the client's protocol headers: the client's version wins;
    /// beta flags are the union, so the operator's and the client's both apply.
    fn native_headers(&self, req: &NativeRequest<'_>) -> HeaderMap {
        let mut headers = self.headers.clone();
        for (name, value) in &req.body.headers {
            let merged = match (*name, headers.get(*name).and_then(|v| v.to_str().ok())) {
                ("anthropic-beta", Some(ours)) => merge_flags(ours, value),
                _ => value.clone(),
            };
            if let Ok(v) = HeaderValue::from_str(&merged) {
                headers.insert(*name, v);
            }
        }
        headers
    }

    async fn send_native(
        &self,
        url: &str,
        req: &NativeRequest<'_>,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, ProviderError> {
        let resp = http::send(
            self.client
                .post(url)
                .headers(self.native_headers(req))
                .body(body),
            req.trace,
        )
        .await
        .map_err(http::transport_error)?;
        if !resp.status().is_success() {
            return Err(errors::from_response(resp).await);
        }
        Ok(resp)
    }

    pub(super) async fn native_complete(
        &self,
        req: NativeRequest<'_>,
    ) -> Result<Completion, ProviderError> {
        let resp = self.send_native(&self.url, &req, req.body_bytes()).await?;
        let bytes = http::read_capped(resp, self.limits.max_response_bytes).await?;
        completion(&bytes)
    }

    pub(super) async fn native_stream(
        &self,
        req: NativeRequest<'_>,
    ) -> Result<ChunkStream, ProviderError> {
        let resp = self.send_native(&self.url, &req, req.body_bytes()).await?;
        let mut events = Box::pin(http::sse_data(
            resp.bytes_stream(),
            self.limits.max_event_bytes,
        ));
        let mut reader = EventReader::new();
        let chunks = async_stream::stream! {
            loop {
                let (result, last) = match events.next().await {
                    Some(Ok(SseData::Data(data))) => (reader.event(&data), false),
                    Some(Ok(SseData::Done)) => (Ok(None), false),
                    Some(Err(e)) => (reader.end().map_err(|_| e), true),
                    None => (reader.end(), true),
                };
                match result {
                    Ok(Some(chunk)) => yield Ok(chunk),
                    Ok(None) => {}
                    Err(e) => {
                        yield Err(e);
                        break;
                    }
                }
                if last || reader.is_done() {
                    break;
                }
            }
        };
        Ok(Box::pin(chunks))
    }

    pub(super) async fn native_count_tokens(
        &self,
        req: NativeRequest<'_>,
    ) -> Result<Option<RawObject>, ProviderError> {
        let mut body = RawObject::new();
        for key in COUNT_FIELDS {
            if let Some(v) = req.body.body.get(key) {
                body.insert_raw(key, v.to_raw_value());
            }
        }
        body.insert("model", req.upstream_model);
        let url = format!("{}/count_tokens", self.url);
        let resp = self.send_native(&url, &req, body.to_vec()).await?;
        let bytes = http::read_capped(resp, self.limits.max_response_bytes).await?;
        RawObject::parse(&bytes).map(Some).map_err(|e| {
            ProviderError::Malformed(format!("count_tokens answer is not an object: {e}"))
        })
    }
}

/// A native Messages answer (Anthropic's, or Bedrock's InvokeModel for Claude): forwarded as
/// it came, read through the translator for the record.
pub(crate) fn completion(bytes: &[u8]) -> Result<Completion, ProviderError> {
    let message = parse_message(bytes)?;
    let out = convert::response(message, MODE, now_ms() / 1000);
    let body = RawObject::from_serialize(&out)
        .map_err(|e| ProviderError::Malformed(format!("could not encode the completion: {e}")))?;
    let native = RawObject::parse(bytes)
        .map_err(|e| ProviderError::Malformed(format!("the message is not an object: {e}")))?;
    Ok(Completion {
        usage: out.usage.clone(),
        upstream_id: Some(out.id),
        body,
        native: Some(native),
    })
}

/// Reads a native Messages event stream one event's data at a time: each event becomes a
/// chunk carrying its frame (to forward) and what its translation tells the executor.
pub(crate) struct EventReader {
    translator: Translator,
}

impl EventReader {
    pub(crate) fn new() -> EventReader {
        EventReader {
            translator: Translator::new(MODE, now_ms() / 1000),
        }
    }

    pub(crate) fn event(&mut self, data: &str) -> Result<Option<Chunk>, ProviderError> {
        let out = self.translator.step_data(data)?;
        merged(Some(http::sse_frame(data)), &out).map(Some)
    }

    /// The body ended: what the translator still holds (no frame of its own), or the cut.
    pub(crate) fn end(&mut self) -> Result<Option<Chunk>, ProviderError> {
        let out = self.translator.end()?;
        if out.is_empty() {
            return Ok(None);
        }
        merged(None, &out).map(Some)
    }

    pub(crate) fn is_done(&self) -> bool {
        self.translator.is_done()
    }
}

fn parse_message(bytes: &[u8]) -> Result<MessageResponse, ProviderError> {
    serde_json::from_slice(bytes).map_err(|e| {
        // A 200 can still carry an error document.
        if let Ok(err) = serde_json::from_slice::<wire::ErrorBody>(bytes) {
            return errors::from_event(err.error);
        }
        ProviderError::Malformed(format!(
            "response is not an Anthropic message ({e}): {}",
            http::truncate(&String::from_utf8_lossy(bytes), 200)
        ))
    })
}

/// One native frame with what its translation tells the executor: output, finish, usage.
fn merged(
    frame: Option<Bytes>,
    translated: &[crate::types::openai::ChunkOut],
) -> Result<Chunk, ProviderError> {
    let mut chunk = Chunk {
        body: RawObject::new(),
        usage: None,
        has_output: false,
        finished: false,
        usage_only: false,
        output_bytes: 0,
        native: None,
    };
    // Read straight off the translator's output: the frame is what the client gets, so the
    // chunk body only needs what the meter reads (the id, and the finish reason at the end).
    let mut finish = None;
    for c in translated {
        if chunk.body.get("id").is_none() && !c.id.is_empty() {
            chunk.body.insert("id", &c.id);
        }
        for choice in &c.choices {
            let d = &choice.delta;
            let text = d.content.as_ref().map_or(0, String::len)
                + d.reasoning.as_ref().map_or(0, String::len);
            let tools: usize = d
                .tool_calls
                .iter()
                .flatten()
                .map(|t| {
                    t.function.arguments.len() + t.function.name.as_ref().map_or(0, String::len) + 1
                })
                .sum();
            chunk.has_output |= text + tools > 0;
            chunk.output_bytes += text + tools;
            if choice.finish_reason.is_some() {
                chunk.finished = true;
                finish = choice.finish_reason;
            }
        }
        if c.usage.is_some() {
            chunk.usage = c.usage.clone();
        }
    }
    if let Some(f) = finish {
        chunk.body.insert(
            "choices",
            &[serde_json::json!({"index": 0, "finish_reason": f})],
        );
    }
    // A chunk made only at the end of the body has no frame of its own: it sends nothing.
    chunk.native = Some(frame.unwrap_or_default());
    Ok(chunk)
}

/// Comma-separated flags, ours first, each once.
fn merge_flags(ours: &str, theirs: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for f in ours.split(',').chain(theirs.split(',')) {
        let f = f.trim();
        if !f.is_empty() && !out.contains(&f) {
            out.push(f);
        }
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_flags_merge_once() {
        assert_eq!(merge_flags("a, b", "b,c"), "a,b,c");
    }
}
