//! The body of a stream for a door whose protocol some upstreams speak natively (Messages,
//! Responses): native frames are forwarded as they came, canonical chunks go through the
//! door's renderer, keep-alives are SSE comments (valid before any event, which a protocol's
//! own ping may not be).

use std::convert::Infallible;

use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::exec::stream::{End, Event, Events};
use crate::routing::Attempt;
use crate::types::RawObject;

/// A door's stream renderer.
pub trait Render: Send + 'static {
    /// The opening events; idempotent.
    fn start(&mut self, out: &mut Vec<u8>);
    fn chunk(&mut self, chunk: &RawObject, out: &mut Vec<u8>);
    /// The closing events of a stream that finished.
    fn finish(&mut self, out: &mut Vec<u8>);
    /// The protocol's error events for a stream that failed after it started.
    fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>);
}

/// The SSE body: `make` builds the renderer once the serving attempt is known; `error_event`
/// reports a failure when nothing of ours was rendered (before any attempt served, or in a
/// native stream, whose own events the client already has).
pub fn body<R: Render>(
    mut events: Events,
    mut make: impl FnMut(&Attempt) -> R + Send + 'static,
    error_event: fn(u16, &str, &mut Vec<u8>),
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    async_stream::stream! {
        let mut renderer: Option<R> = None;
        // The upstream spoke the door's protocol: its frames are the stream.
        let mut native = false;
        let mut out = Vec::with_capacity(512);
        while let Some(event) = events.next().await {
            out.clear();
            match event {
                Event::KeepAlive => out.extend_from_slice(super::sse::KEEPALIVE),
                Event::Serving(a) => renderer = Some(make(&a)),
                Event::Chunk(c) => match c.native {
                    Some(frame) => {
                        native = true;
                        if !frame.is_empty() {
                            yield Ok(frame);
                        }
                        continue;
                    }
                    None => {
                        if let Some(r) = renderer.as_mut() {
                            r.chunk(&c.body, &mut out);
                        }
                    }
                },
                Event::End(End::Finished(_)) if native => {}
                Event::End(End::Finished(_)) => {
                    if let Some(r) = renderer.as_mut() {
                        r.start(&mut out);
                        r.finish(&mut out);
                    }
                }
                Event::End(End::Failed(f)) => match renderer.as_mut() {
                    Some(r) if !native => r.error(f.status, &f.message, &mut out),
                    _ => error_event(f.status, &f.message, &mut out),
                },
            }
            if !out.is_empty() {
                yield Ok(Bytes::copy_from_slice(&out));
            }
        }
    }
}
