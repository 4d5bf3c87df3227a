//! The request guard: a bound on requests handled at once (a fast 503 past it, never a
//! queue) and on the time until a response's headers. A streamed body keeps its slot until
//! it ends; its own deadlines (first token, idle, shutdown) bound it from there.
//! `/health` is never shed, so a busy replica still answers its probes.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::{ApiError, Dialect};

#[derive(Clone)]
pub struct Guard {
    slots: Arc<Semaphore>,
    max: usize,
    timeout: Duration,
}

impl Guard {
    pub fn new(max_concurrent: usize, timeout: Duration) -> Guard {
        Guard {
            slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
            max: max_concurrent.max(1),
            timeout,
        }
    }
}

pub async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    if req.uri().path().ends_with("/health") {
        return next.run(req).await;
    }
    let dialect = Dialect::of_path(req.uri().path());
    let Ok(permit) = g.slots.clone().try_acquire_owned() else {
        return ApiError::Overloaded(g.max).respond(dialect);
    };
    match tokio::time::timeout(g.timeout, next.run(req)).await {
        // A body already in memory (JSON, errors) is done with its slot; only a stream,
        // whose length is unknown, keeps it until it ends (and pays for the wrapper).
        Ok(resp) if http_body::Body::size_hint(resp.body()).exact().is_some() => resp,
        Ok(resp) => resp.map(|body| {
            Body::new(Held {
                body,
                _permit: permit,
            })
        }),
        // Dropping the handler settles its request (as cancelled) and frees its upstream.
        Err(_) => ApiError::RequestTimeout(g.timeout.as_secs()).respond(dialect),
    }
}

/// A response body that holds its request's slot until it is done or dropped.
struct Held {
    body: Body,
    _permit: OwnedSemaphorePermit,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
