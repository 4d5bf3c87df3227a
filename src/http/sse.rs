//! OpenAI's stream rendering of the executor's events: chunks with the public model,
//! provider and usage visibility, keep-alive comments, the mid-stream error chunk and
//! `[DONE]`.

use std::convert::Infallible;

use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::exec::stream::{End, Event, Events};
use crate::providers::Chunk;
use crate::routing::Attempt;
use crate::types::json::write_json_string;
use crate::types::now_ms;

pub const KEEPALIVE: &[u8] = b": switchyard processing\n\n";
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// How chunks are presented to this client.
#[derive(Clone)]
pub struct Presentation {
    pub include_usage: bool,
    pub request_id: String,
    /// The model the client asked for first, named in errors before any attempt served.
    pub requested: String,
}

/// Renders one upstream chunk for the client; `None` hides it (a usage-only chunk the client
/// did not ask for).
fn render(mut chunk: Chunk, attempt: &Attempt, p: &Presentation) -> Option<Bytes> {
    let (model, provider) = (attempt.model.as_str(), attempt.provider.as_str());
    if !p.include_usage {
        if chunk.usage_only {
            return None;
        }
        chunk.body.remove("usage");
    } else if let Some(u) = &chunk.usage {
        super::cost::annotate(&mut chunk.body, u, &attempt.price);
    }
    chunk.body.insert("model", model);
    chunk.body.insert("provider", provider);
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"data: ");
    chunk.body.write_to(&mut out);
    out.extend_from_slice(b"\n\n");
    Some(Bytes::from(out))
}

/// OpenRouter's mid-stream error: a chunk with a top-level `error` and `finish_reason: "error"`.
/// The official SDKs raise on any chunk with a top-level `error`.
pub fn error_chunk(
    request_id: &str,
    model: &str,
    provider: Option<&str>,
    status: u16,
    message: &str,
) -> Bytes {
    let mut out = Vec::with_capacity(256 + message.len());
    out.extend_from_slice(b"data: {\"id\":");
    write_json_string(&mut out, request_id);
    out.extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
    out.extend_from_slice((now_ms() / 1000).to_string().as_bytes());
    out.extend_from_slice(b",\"model\":");
    write_json_string(&mut out, model);
    if let Some(p) = provider {
        out.extend_from_slice(b",\"provider\":");
        write_json_string(&mut out, p);
    }
    out.extend_from_slice(b",\"error\":{\"message\":");
    write_json_string(&mut out, message);
    out.extend_from_slice(format!(",\"code\":{status}}}").as_bytes());
    out.extend_from_slice(
        b",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"error\"}]}\n\n",
    );
    Bytes::from(out)
}

/// The SSE body for a chat-completions stream.
pub fn body(
    mut events: Events,
    p: Presentation,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    async_stream::stream! {
        let mut serving: Option<Box<Attempt>> = None;
        while let Some(event) = events.next().await {
            match event {
                Event::KeepAlive => yield Ok(Bytes::from_static(KEEPALIVE)),
                Event::Serving(a) => serving = Some(a),
                Event::Chunk(c) => {
                    if let Some(b) = serving.as_ref().and_then(|a| render(c, a, &p)) {
                        yield Ok(b);
                    }
                }
                Event::End(End::Finished) => yield Ok(Bytes::from_static(DONE)),
                Event::End(End::Failed(f)) => {
                    let (model, provider) = match &serving {
                        Some(a) => (a.model.as_str(), Some(a.provider.as_str())),
                        None => (p.requested.as_str(), None),
                    };
                    yield Ok(error_chunk(&p.request_id, model, provider, f.status, &f.message));
                    yield Ok(Bytes::from_static(DONE));
                }
            }
        }
    }
}
