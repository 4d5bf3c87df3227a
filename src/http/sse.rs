//! Writing streams to the client: chunk rendering (public model, provider, usage visibility),
//! keep-alive comments, the mid-stream error chunk and `[DONE]`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};

use super::error::ApiError;
use crate::exec::{self, Committed, ExecError, Meter, Outcome};
use crate::providers::{Chunk, ProviderError};
use crate::routing::{Attempt, Plan};
use crate::types::json::write_json_string;
use crate::types::{now_ms, ChatRequest};

pub const KEEPALIVE: &[u8] = b": switchyard processing\n\n";
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// How chunks are presented to this client.
#[derive(Clone)]
pub struct Presentation {
    pub include_usage: bool,
    pub request_id: String,
    /// Cancelled when the shutdown grace period is over: the stream ends now.
    pub cut: tokio_util::sync::CancellationToken,
}

/// Why a committed stream ended early.
enum Early {
    Upstream(ProviderError),
    Shutdown,
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

type Body = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, Infallible>> + Send>>;

/// An execution still looking for its commit point, owned so a response body can poll it.
pub type Pending = std::pin::Pin<
    Box<dyn std::future::Future<Output = (Meter, Result<Committed, ExecError>)> + Send>,
>;

/// The body of a committed stream: buffered chunks, then the rest as it arrives.
pub fn committed_body(committed: Committed, mut meter: Meter, p: Presentation) -> Body {
    Box::pin(async_stream::stream! {
        let Committed { attempt, buffered, mut rest, mut finished } = committed;
        for chunk in buffered {
            meter.observe_chunk(&chunk);
            if let Some(b) = render(chunk, &attempt, &p) {
                yield Ok(b);
            }
        }
        let idle = attempt.stream_idle_timeout;
        let failure = loop {
            let next = tokio::select! {
                n = tokio::time::timeout(idle, rest.next()) => n,
                _ = p.cut.cancelled() => break Some(Early::Shutdown),
            };
            match next {
                Ok(Some(Ok(chunk))) => {
                    finished |= chunk.finished;
                    meter.observe_chunk(&chunk);
                    if let Some(b) = render(chunk, &attempt, &p) {
                        yield Ok(b);
                    }
                }
                Ok(Some(Err(e))) => break Some(Early::Upstream(e)),
                Ok(None) if finished => break None,
                Ok(None) => break Some(Early::Upstream(ProviderError::Cut("the upstream closed the stream before it finished".into()))),
                Err(_) => break Some(Early::Upstream(ProviderError::Timeout("between stream chunks"))),
            }
        };
        // Release the upstream connection before telling the client.
        drop(rest);
        match failure {
            None => {
                yield Ok(Bytes::from_static(DONE));
                meter.finish(Outcome::Success, 200, None);
            }
            Some(Early::Shutdown) => {
                let message = "The gateway is shutting down: this stream was ended after its grace period; retry the request".to_owned();
                yield Ok(error_chunk(&p.request_id, &attempt.model, Some(&attempt.provider), 503, &message));
                yield Ok(Bytes::from_static(DONE));
                meter.finish(Outcome::Cut, 200, Some(message));
            }
            Some(Early::Upstream(e)) => {
                tracing::warn!(request_id = %p.request_id, provider = %attempt.provider, model = %attempt.model, error = %e, "upstream failed mid-stream");
                let message = format!("Provider `{}` failed mid-stream for `{}`: {e}", attempt.provider, attempt.model);
                let status = match &e { ProviderError::Timeout(_) => 504, ProviderError::Status { status, .. } => *status, _ => 502 };
                yield Ok(error_chunk(&p.request_id, &attempt.model, Some(&attempt.provider), status, &message));
                yield Ok(Bytes::from_static(DONE));
                let outcome = if matches!(e, ProviderError::Timeout(_)) { Outcome::Timeout } else { Outcome::Cut };
                meter.finish(outcome, 200, Some(message));
            }
        }
    })
}

/// The body used once keep-alives have started: comments until the execution commits (or
/// fails, which can then only be reported in-stream), then the committed stream.
pub fn keepalive_body(
    mut pending: Pending,
    interval: Duration,
    requested: String,
    p: Presentation,
) -> Body {
    Box::pin(async_stream::stream! {
        yield Ok(Bytes::from_static(KEEPALIVE));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        let (meter, result) = loop {
            tokio::select! {
                r = &mut pending => break r,
                _ = tick.tick() => yield Ok(Bytes::from_static(KEEPALIVE)),
                // Dropping the execution settles its meter as a cancelled request.
                _ = p.cut.cancelled() => {
                    let message = "The gateway is shutting down: retry the request";
                    yield Ok(error_chunk(&p.request_id, &requested, None, 503, message));
                    yield Ok(Bytes::from_static(DONE));
                    return;
                }
            }
        };
        match result {
            Ok(committed) => {
                let mut inner = committed_body(committed, meter, p);
                while let Some(b) = inner.next().await {
                    yield b;
                }
            }
            Err(e) => {
                let err = ApiError::Exec(e);
                let status = err.status().as_u16();
                let message = err.body().message;
                yield Ok(error_chunk(&p.request_id, &requested, None, status, &message));
                yield Ok(Bytes::from_static(DONE));
                let outcome = if status == 504 { Outcome::Timeout } else { Outcome::Error };
                meter.finish(outcome, status, Some(message));
            }
        }
    })
}

/// Starts the execution as an owned future the response body can keep polling.
pub fn start(plan: Arc<Plan>, chat: Arc<ChatRequest>, meter: Meter) -> Pending {
    Box::pin(exec::start_stream(plan, chat, meter))
}
