//! Executing a plan: attempts in order, under their deadlines, until one serves.
//!
//! Streams have a commit point: chunks are held back until the first one carrying output (or
//! a finish). Before it, any failure is invisible to the client and the next attempt runs;
//! after it, the stream belongs to the client and failures are reported inside it.

pub mod capture;
pub mod metered;
pub mod stream;

use std::sync::Arc;

use futures::StreamExt;

pub use metered::{Meter, Outcome, RequestInfo};

use crate::providers::{
    AttemptRequest, Chunk, ChunkStream, Completion, NativeBody, NativeRequest, ProviderError,
};
use crate::routing::policy::{self, Verdict};
use crate::routing::{Attempt, Plan};
use crate::telemetry::propagate::Upstream;
use crate::types::{ChatRequest, InvalidRequest};

/// What the executor runs: the request in canonical form for adapters that translate, and
/// for a front door whose protocol some adapters speak natively, the request as the client
/// sent it.
pub struct ExecRequest {
    /// `Err` when the inbound request has no canonical form: only adapters that speak its
    /// protocol natively can serve it, and the others fail with this reason.
    pub chat: Result<ChatRequest, InvalidRequest>,
    pub native: Option<NativeBody>,
}

impl ExecRequest {
    pub fn chat(chat: ChatRequest) -> ExecRequest {
        ExecRequest {
            chat: Ok(chat),
            native: None,
        }
    }

    /// The native form when this attempt's adapter speaks it.
    fn native_for<'a>(
        &'a self,
        attempt: &'a Attempt,
        trace: Option<&'a Upstream<'a>>,
    ) -> Option<NativeRequest<'a>> {
        let n = self.native.as_ref()?;
        attempt
            .adapter
            .speaks(n.protocol, &attempt.upstream_model)
            .then_some(NativeRequest {
                body: n,
                upstream_model: &attempt.upstream_model,
                trace,
            })
    }

    fn canonical<'a>(
        &'a self,
        attempt: &'a Attempt,
        trace: Option<&'a Upstream<'a>>,
    ) -> Result<AttemptRequest<'a>, ProviderError> {
        match &self.chat {
            Ok(chat) => Ok(AttemptRequest {
                chat,
                upstream_model: &attempt.upstream_model,
                trace,
            }),
            Err(e) => Err(ProviderError::Unsupported(e.clone())),
        }
    }

    /// This attempt's adapter takes the request natively.
    pub fn is_native(&self, attempt: &Attempt) -> bool {
        self.native_for(attempt, None).is_some()
    }

    /// What the serving attempt left out of the request (none when it was passed through).
    pub fn dropped_params(&self, attempt: &Attempt) -> Vec<&'static str> {
        if self.native_for(attempt, None).is_some() {
            return Vec::new();
        }
        match self.canonical(attempt, None) {
            Ok(req) => attempt.adapter.dropped_params(req),
            Err(_) => Vec::new(),
        }
    }

    /// One upstream call for a whole answer, carrying the attempt's trace context.
    async fn complete(
        &self,
        attempt: &Attempt,
        trace: Option<&Upstream<'_>>,
    ) -> Result<Completion, ProviderError> {
        match self.native_for(attempt, trace) {
            Some(n) => attempt.adapter.complete_native(n).await,
            None => {
                attempt
                    .adapter
                    .complete(self.canonical(attempt, trace)?)
                    .await
            }
        }
    }

    async fn stream(
        &self,
        attempt: &Attempt,
        trace: Option<&Upstream<'_>>,
    ) -> Result<ChunkStream, ProviderError> {
        match self.native_for(attempt, trace) {
            Some(n) => attempt.adapter.stream_native(n).await,
            None => {
                attempt
                    .adapter
                    .stream(self.canonical(attempt, trace)?)
                    .await
            }
        }
    }
}

/// One failed attempt, for error messages.
#[derive(Debug, Clone)]
pub struct Failure {
    pub model: String,
    pub provider: String,
    pub error: ProviderError,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ExecError {
    /// The upstream rejected the request itself; retrying elsewhere would not help.
    #[error("{} rejected the request: {}", .0.provider, .0.error)]
    Rejected(Box<Failure>),
    /// Every attempt failed; with the names the plan skipped (unknown models in a `models`
    /// list), which the error reports since nothing else served.
    #[error("all {} attempts failed", .0.len())]
    AllFailed(Vec<Failure>, Vec<String>),
}

/// Runs a non-streamed request. The meter learns what served; the front door finishes it
/// once the answer is rendered (`Meter::finish`) or failed (`Meter::fail`).
pub async fn complete(
    plan: &Plan,
    req: &ExecRequest,
    meter: &mut Meter,
) -> Result<(Completion, Attempt), ExecError> {
    let mut failures = Vec::new();
    for attempt in &plan.attempts {
        let (mark, trace) = meter.attempt_started(attempt);
        let call = req.complete(attempt, trace.as_ref());
        let result = match tokio::time::timeout(attempt.request_timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::Timeout("waiting for the completion")),
        };
        meter.attempt_ended(mark, result.as_ref().map(|_| ()));
        match result {
            Ok(c) => {
                meter.served(attempt, c.upstream_id.clone());
                meter.observe_usage(c.usage.as_ref());
                meter.observe_finish(metered::finish_reason_of(&c.body));
                meter.observe_completion(&c);
                return Ok((c, attempt.clone()));
            }
            Err(error) => failures.push(failed(meter, attempt, error)?),
        }
    }
    Err(ExecError::AllFailed(failures, plan.skipped.clone()))
}

/// A stream past its commit point.
pub struct Committed {
    pub attempt: Attempt,
    /// Chunks read up to and including the commit point, in order.
    pub buffered: Vec<Chunk>,
    pub rest: ChunkStream,
    /// A finish_reason was already seen.
    pub finished: bool,
}

/// Runs attempts until one stream commits. Owns its inputs so the caller can keep polling it
/// from inside a response body (after keep-alives have started).
async fn start_stream(
    plan: Arc<Plan>,
    req: Arc<ExecRequest>,
    mut meter: Meter,
) -> (Meter, Result<Committed, ExecError>) {
    let mut failures = Vec::new();
    for attempt in &plan.attempts {
        let (mark, trace) = meter.attempt_started(attempt);
        let deadline = tokio::time::Instant::now() + attempt.first_token_timeout;
        let call = open_until_commit(attempt, &req, trace.as_ref());
        let result = match tokio::time::timeout_at(deadline, call).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::Timeout("waiting for the first token")),
        };
        meter.attempt_ended(mark, result.as_ref().map(|_| ()));
        match result {
            Ok(committed) => {
                meter.served(attempt, None);
                meter.first_token();
                return (meter, Ok(committed));
            }
            Err(error) => match failed(&meter, attempt, error) {
                Ok(f) => failures.push(f),
                Err(rejected) => return (meter, Err(rejected)),
            },
        }
    }
    (
        meter,
        Err(ExecError::AllFailed(failures, plan.skipped.clone())),
    )
}

async fn open_until_commit(
    attempt: &Attempt,
    req: &ExecRequest,
    trace: Option<&Upstream<'_>>,
) -> Result<Committed, ProviderError> {
    let mut stream = req.stream(attempt, trace).await?;
    let mut buffered = Vec::new();
    loop {
        match stream.next().await {
            Some(Ok(chunk)) => {
                let commit = chunk.has_output || chunk.finished;
                let finished = chunk.finished;
                if !commit && buffered.len() >= attempt.max_precommit_chunks {
                    // Held until the commit point: an upstream that never commits must not
                    // grow this without bound before its first-token deadline.
                    return Err(ProviderError::Malformed(format!(
                        "the upstream sent more than {} chunks without output before its first token",
                        attempt.max_precommit_chunks
                    )));
                }
                buffered.push(chunk);
                if commit {
                    return Ok(Committed {
                        attempt: attempt.clone(),
                        buffered,
                        rest: stream,
                        finished,
                    });
                }
            }
            Some(Err(e)) => return Err(e),
            None => {
                return Err(ProviderError::Cut(if buffered.is_empty() {
                    "the stream was empty".into()
                } else {
                    "the stream ended before any output".into()
                }))
            }
        }
    }
}

/// Logs a failed attempt and applies the policy: `Ok` to try the next attempt, `Err` when the
/// request itself was rejected and must be returned as is.
fn failed(meter: &Meter, attempt: &Attempt, error: ProviderError) -> Result<Failure, ExecError> {
    log_failure(meter.request_id(), attempt, &error);
    let failure = Failure {
        model: attempt.model.clone(),
        provider: attempt.provider.clone(),
        error,
    };
    match policy::on_error(&failure.error) {
        Verdict::Reject => Err(ExecError::Rejected(Box::new(failure))),
        Verdict::Fallback => Ok(failure),
    }
}

fn log_failure(request_id: &str, attempt: &Attempt, error: &ProviderError) {
    // The request id is repeated as a field: streams keep running after the request's span.
    tracing::warn!(
        request_id,
        model = %attempt.model,
        provider = %attempt.provider,
        upstream_model = %attempt.upstream_model,
        kind = error.kind(),
        error = %error,
        "upstream attempt failed"
    );
}
