//! OpenAI's stream rendering of the executor's events: chunks with the public model,
//! provider and usage visibility, keep-alive comments, the mid-stream error chunk and
//! `[DONE]`.

use std::convert::Infallible;

use bytes::Bytes;
use futures::{Stream, StreamExt};

use super::error::{stream_error_type, Dialect};
use super::openrouter;
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
    /// OpenAI's (`/v1`) or OpenRouter's (`/api/v1`) chunk shapes.
    pub dialect: Dialect,
    /// Usage reaches the client: asked for with `stream_options.include_usage`, or always
    /// (OpenRouter's dialect).
    pub include_usage: bool,
    pub request_id: String,
    /// The model the client asked for first, named in errors before any attempt served.
    pub requested: String,
    /// The chunks' `object` (`chat.completion.chunk`, or `text_completion` for legacy
    /// completions), for the chunks the gateway writes itself.
    pub object: &'static str,
}

/// Renders one upstream chunk for the client; `None` hides it (a usage-only chunk the client
/// did not ask for).
fn render(mut chunk: Chunk, attempt: &Attempt, p: &Presentation) -> Option<Bytes> {
    if p.dialect == Dialect::OpenRouter {
        openrouter::chunk(&mut chunk.body, attempt, &p.request_id, chunk.finished);
        return Some(frame(&chunk.body));
    }
    if !p.include_usage {
        if chunk.usage_only {
            return None;
        }
        chunk.body.remove("usage");
    } else if let Some(u) = &chunk.usage {
        super::cost::annotate(&mut chunk.body, u, &attempt.price);
    }
    chunk.body.insert_str("model", &attempt.model);
    chunk.body.insert_str("provider", &attempt.provider);
    Some(frame(&chunk.body))
}

fn frame(body: &crate::types::RawObject) -> Bytes {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"data: ");
    body.write_to(&mut out);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
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
    out.extend_from_slice(
        format!(
            ",\"code\":{status},\"metadata\":{{\"error_type\":\"{}\"}}}}",
            stream_error_type(status)
        )
        .as_bytes(),
    );
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
        let mut usage_sent = false;
        while let Some(event) = events.next().await {
            match event {
                Event::KeepAlive => yield Ok(Bytes::from_static(KEEPALIVE)),
                Event::Serving(a) => serving = Some(a),
                Event::Chunk(c) => {
                    usage_sent |= c.usage.is_some();
                    if let Some(b) = serving.as_ref().and_then(|a| render(c, a, &p)) {
                        yield Ok(b);
                    }
                }
                Event::End(End::Finished(billed)) => {
                    // OpenRouter's clients read tokens and cost from the last chunk: tell
                    // them even when the upstream did not.
                    if let (Dialect::OpenRouter, false, Some(a)) = (p.dialect, usage_sent, &serving) {
                        yield Ok(frame(&openrouter::usage_chunk(a, &p.request_id, p.object, &billed)));
                    }
                    yield Ok(Bytes::from_static(DONE));
                }
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
