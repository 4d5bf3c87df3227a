//! A stream's life after admission, as protocol-neutral events: keep-alives while no
//! attempt has committed, the serving attempt, its chunks, and one end. This is where a
//! stream's outcome is decided (finished, cut, timed out, shut down) and its meter finished;
//! front doors only render the events in their protocol.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

use super::{start_stream, Committed, ExecError, ExecRequest, Meter, Outcome};
use crate::providers::{Chunk, ProviderError};
use crate::routing::{Attempt, Plan};
use crate::types::Usage;

/// What a front door renders.
pub enum Event {
    /// Nothing to send yet: a keep-alive keeps proxies and clients from timing out.
    KeepAlive,
    /// The attempt that serves the stream, once, before its first chunk.
    Serving(Box<Attempt>),
    Chunk(Chunk),
    /// The last event. The meter is already finished.
    End(End),
}

/// How a stream ended.
pub enum End {
    /// The upstream finished normally; the usage billed (the upstream's, or an estimate when
    /// it reported none), for dialects that always tell it.
    Finished(Box<Usage>),
    /// Ended early; the client is told in-stream with this status and message.
    Failed(StreamFailure),
}

#[derive(Debug, Clone)]
pub struct StreamFailure {
    /// The HTTP status the failure would have had before the stream started.
    pub status: u16,
    pub message: String,
    /// No attempt committed: the failure came before any output.
    pub before_output: bool,
}

pub type Events = std::pin::Pin<Box<dyn Stream<Item = Event> + Send>>;

/// An execution still looking for its commit point, owned so a response body can poll it.
pub type Pending = std::pin::Pin<
    Box<dyn std::future::Future<Output = (Meter, Result<Committed, ExecError>)> + Send>,
>;

/// Starts the attempts as an owned future the response body can keep polling.
pub fn start(plan: Arc<Plan>, req: Arc<ExecRequest>, meter: Meter) -> Pending {
    Box::pin(start_stream(plan, req, meter))
}

/// Maps a failure before the commit point to what the client is told, given its status
/// (front doors map `ExecError` to statuses in their own dialect).
pub type StatusOf = fn(&ExecError) -> (u16, String);

/// Events for a stream that has committed.
pub fn committed(committed: Committed, mut meter: Meter, cut: CancellationToken) -> Events {
    Box::pin(async_stream::stream! {
        let Committed { attempt, buffered, mut rest, mut finished } = committed;
        let request_id = meter.request_id().to_owned();
        yield Event::Serving(Box::new(attempt.clone()));
        for chunk in buffered {
            meter.observe_chunk(&chunk);
            yield Event::Chunk(chunk);
        }
        let idle = attempt.stream_idle_timeout;
        let failure = loop {
            let next = tokio::select! {
                n = tokio::time::timeout(idle, rest.next()) => n,
                _ = cut.cancelled() => break Some(Early::Shutdown),
            };
            match next {
                Ok(Some(Ok(chunk))) => {
                    finished |= chunk.finished;
                    meter.observe_chunk(&chunk);
                    yield Event::Chunk(chunk);
                }
                Ok(Some(Err(e))) => break Some(Early::Upstream(e)),
                Ok(None) if finished => break None,
                Ok(None) => break Some(Early::Upstream(ProviderError::Cut(
                    "the upstream closed the stream before it finished".into(),
                ))),
                Err(_) => break Some(Early::Upstream(ProviderError::Timeout("between stream chunks"))),
            }
        };
        // Release the upstream connection before telling the client.
        drop(rest);
        let end = match failure {
            None => {
                let (usage, _) = meter.usage_or_estimate();
                meter.finish(Outcome::Success, 200, None);
                End::Finished(Box::new(usage))
            }
            Some(Early::Shutdown) => {
                let message = "The gateway is shutting down: this stream was ended after its grace period; retry the request".to_owned();
                meter.finish(Outcome::Cut, 200, Some(message.clone()));
                End::Failed(StreamFailure { status: 503, message, before_output: false })
            }
            Some(Early::Upstream(e)) => {
                tracing::warn!(request_id = %request_id, provider = %attempt.provider, model = %attempt.model, error = %e, "upstream failed mid-stream");
                let message = format!("Provider `{}` failed mid-stream for `{}`: {e}", attempt.provider, attempt.model);
                let status = match &e {
                    ProviderError::Timeout(_) => 504,
                    ProviderError::Status { status, .. } => *status,
                    _ => 502,
                };
                let outcome = if matches!(e, ProviderError::Timeout(_)) { Outcome::Timeout } else { Outcome::Cut };
                meter.finish(outcome, 200, Some(message.clone()));
                End::Failed(StreamFailure { status, message, before_output: false })
            }
        };
        yield Event::End(end);
    })
}

/// Events once keep-alives have started: keep-alives until the execution commits (or fails,
/// which can then only be reported in-stream), then the committed stream.
pub fn after_keepalive(
    mut pending: Pending,
    interval: Duration,
    cut: CancellationToken,
    status_of: StatusOf,
) -> Events {
    Box::pin(async_stream::stream! {
        yield Event::KeepAlive;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        let (meter, result) = loop {
            tokio::select! {
                r = &mut pending => break r,
                _ = tick.tick() => yield Event::KeepAlive,
                // Dropping the execution settles its meter as a cancelled request.
                _ = cut.cancelled() => {
                    drop(pending);
                    yield Event::End(End::Failed(StreamFailure {
                        status: 503,
                        message: "The gateway is shutting down: retry the request".into(),
                        before_output: true,
                    }));
                    return;
                }
            }
        };
        match result {
            Ok(c) => {
                let mut inner = committed(c, meter, cut);
                while let Some(e) = inner.next().await {
                    yield e;
                }
            }
            Err(e) => {
                let (status, message) = status_of(&e);
                meter.fail(status, message.clone());
                yield Event::End(End::Failed(StreamFailure { status, message, before_output: true }));
            }
        }
    })
}

/// Why a committed stream ended early.
enum Early {
    Upstream(ProviderError),
    Shutdown,
}

/// A stream that has started for the client, and what its serving attempt left out (known
/// only when an attempt committed before the keep-alive deadline).
pub struct Opened {
    pub events: Events,
    pub dropped: Vec<&'static str>,
    /// The serving provider, when an attempt committed before the headers went out.
    pub provider: Option<String>,
    /// That attempt was passed through natively (nothing was translated, so nothing dropped).
    pub native: bool,
}

/// How long to wait for a commit before answering 200 and sending keep-alives.
#[derive(Clone)]
pub struct Pacing {
    pub keepalive_after: Duration,
    pub keepalive_interval: Duration,
    /// Cancelled when the shutdown grace period is over: streams end now.
    pub cut: CancellationToken,
}

/// Runs a streamed request until it commits or `keepalive_after` passes. A failure before
/// then comes back with the meter, so the client gets a real HTTP error; after it, failures
/// are reported in-stream.
pub async fn open(
    plan: Plan,
    req: Arc<ExecRequest>,
    meter: Meter,
    pacing: Pacing,
    status_of: StatusOf,
) -> Result<Opened, (Meter, ExecError)> {
    let mut pending = start(Arc::new(plan), req.clone(), meter);
    match tokio::time::timeout(pacing.keepalive_after, &mut pending).await {
        Ok((m, Ok(c))) => {
            let dropped = req.dropped_params(&c.attempt);
            let provider = Some(c.attempt.provider.clone());
            let native = req.is_native(&c.attempt);
            Ok(Opened {
                events: committed(c, m, pacing.cut),
                dropped,
                provider,
                native,
            })
        }
        Ok((m, Err(e))) => Err((m, e)),
        // Slow first token: commit to 200 and keep the connection alive while waiting.
        // (Headers go out now, before any provider is chosen: no dropped-params header.)
        Err(_) => Ok(Opened {
            events: after_keepalive(pending, pacing.keepalive_interval, pacing.cut, status_of),
            dropped: Vec::new(),
            provider: None,
            native: false,
        }),
    }
}
