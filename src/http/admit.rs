//! Admission, in the order that keeps a gateway cheap to attack and exact with money:
//! authenticate → read the body under a deadline → parse (applying a preset) → plan → admit (allowed models,
//! concurrency, rate limits, budget) → reserve the record's place → execute. Requests
//! refused before the last step are counted, not written one row each.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::http::HeaderMap;

use super::error::ApiError;
use super::{read_body, AppState, RequestContext};
use crate::auth::{self, Principal};
use crate::exec::{Meter, RequestInfo};
use crate::ledger::{Admission, Estimate, KeyRef, RateHeaders, Refusal};
use crate::routing::preset::{self, Applied, Door};
use crate::routing::Plan;
use crate::telemetry::trace::RequestTrace;
use crate::types::chat::parse_body;
use crate::types::RawObject;

/// The caller, once authenticated; refusals are counted.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    auth::authenticate(headers, &state.registry, state.settings.require_keys)
        .await
        .map_err(|e| refused(state, e.into()))
}

/// The body, read within `server.body_read_timeout_secs` and `server.body_limit_bytes`.
pub async fn body(state: &AppState, body: Body) -> Result<bytes::Bytes, ApiError> {
    let deadline = state.settings.body_read_timeout;
    match tokio::time::timeout(deadline, read_body(body, state.settings.body_limit_bytes)).await {
        Ok(r) => r.map_err(|e| refused(state, e)),
        Err(_) => Err(refused(state, ApiError::BodyTimeout(deadline.as_secs()))),
    }
}

/// A capture of the request's content when `[accounting] capture_content` covers it (all
/// requests, or this key's) or traces carry content; `None` otherwise, at no cost.
/// Embeddings keep the input only. When both want it, the request log's cap applies to both.
pub fn capture(
    state: &AppState,
    principal: &Principal,
    body: &[u8],
    input_only: bool,
) -> Option<crate::exec::capture::Capture> {
    let a = &state.settings.accounting;
    let flagged = principal
        .key
        .as_ref()
        .is_some_and(|k| k.policy.capture_content);
    let store = a.capture.captures(flagged);
    // Traces cut content to their own cap after reading it whole (see telemetry::content).
    let traced = state
        .traces
        .as_ref()
        .and_then(|t| t.content_max())
        .is_some();
    let max = if store {
        a.capture_max_bytes
    } else if traced {
        state.settings.body_limit_bytes
    } else {
        return None;
    };
    Some(crate::exec::capture::Capture::new(
        body, max, input_only, store,
    ))
}

/// The body as a JSON object, with the preset it names (if any) applied; see
/// `routing::preset`. The snapshot holds the presets: no database call.
pub fn parse(
    state: &AppState,
    bytes: &[u8],
    door: Door,
) -> Result<(RawObject, Option<Applied>), ApiError> {
    let mut body = parse_body(bytes).map_err(|e| refused(state, e.into()))?;
    let snap = state.registry.snapshot();
    let applied =
        preset::expand(&mut body, door, &snap.presets).map_err(|e| refused(state, e.into()))?;
    if let Some(a) = &applied {
        tracing::debug!(preset = %a.label(), "preset applied");
    }
    Ok((body, applied))
}

/// Notes the preset a request used in its record and in `x-switchyard-preset`.
pub fn note_preset(meter: &mut Meter, applied: Option<&Applied>) {
    if let Some(a) = applied {
        meter.set_preset(a.label());
    }
}

/// Names the preset a request used in `x-switchyard-preset` (`NAME@vN`).
pub fn add_preset_header(resp: &mut axum::response::Response, applied: Option<&Applied>) {
    if let Some(v) = applied.and_then(|a| axum::http::HeaderValue::from_str(&a.label()).ok()) {
        resp.headers_mut().insert("x-switchyard-preset", v);
    }
}

/// Counts a request refused before admission and passes its error on.
pub fn refused(state: &AppState, e: ApiError) -> ApiError {
    state
        .recorder
        .health
        .refused
        .fetch_add(1, Ordering::Relaxed);
    state.metrics.refused(e.refusal_reason());
    e
}

/// What a request may use: its output cap, else the dearest model default in its plan.
pub fn estimate(plan: &Plan, prompt_bytes: usize, max_output: Option<u64>) -> Estimate {
    // About three bytes a token is an upper estimate for most text and JSON.
    let prompt = (prompt_bytes as u64).div_ceil(3);
    let mut out = Estimate::default();
    for a in &plan.attempts {
        let completion = max_output.unwrap_or(a.output_estimate);
        out.cost_nanos = out.cost_nanos.max(a.price.upper_bound(prompt, completion));
        out.tokens = out.tokens.max(prompt.saturating_add(completion));
    }
    out
}

/// Restricts the plan to the models the key may use: a refused requested model is a 403;
/// fallbacks it may not use are left out.
pub fn restrict(principal: &Principal, plan: &mut Plan) -> Result<(), Refusal> {
    let Some(key) = &principal.key else {
        return Ok(());
    };
    if key.policy.allowed_models.is_none() {
        return Ok(());
    }
    let refusal = || Refusal::ModelNotAllowed {
        key_name: key.name.clone(),
        model: plan.requested.clone(),
    };
    if !key.policy.allows(&plan.requested) {
        return Err(refusal());
    }
    plan.attempts.retain(|a| key.policy.allows(&a.model));
    if plan.attempts.is_empty() {
        return Err(refusal());
    }
    Ok(())
}

/// Admits a planned request and opens its record: the ledger's reservation and the log's
/// slot, both released or settled exactly once by the returned `Meter`.
pub async fn admit(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    principal: &Principal,
    plan: &mut Plan,
    estimate_of: impl FnOnce(&Plan) -> Estimate,
) -> Result<(Meter, RateHeaders), ApiError> {
    restrict(principal, plan).map_err(|r| refused(state, r.into()))?;
    let admission = match &principal.key {
        Some(k) => {
            let key = KeyRef {
                id: k.id.clone(),
                name: k.name.clone(),
                policy: k.policy.clone(),
            };
            state
                .ledger
                .admit(&key, estimate_of(plan))
                .await
                .map_err(|r| refused(state, r.into()))?
        }
        None => Admission::open(),
    };
    let rate = *admission.headers();
    let slot = match state.recorder.try_slot() {
        Ok(s) => s,
        Err(full) => {
            admission.refund();
            return Err(refused(state, full.into()));
        }
    };
    let mut meter = Meter::new(
        slot,
        admission,
        RequestInfo {
            id: ctx.id.clone(),
            app_referer: header_text(headers, "http-referer")
                .or_else(|| header_text(headers, "referer")),
            app_title: header_text(headers, "x-openrouter-title")
                .or_else(|| header_text(headers, "x-title")),
            session_id: header_text(headers, "x-session-id").map(|s| {
                s.chars()
                    .take(crate::types::attribution::MAX_SESSION_ID)
                    .collect()
            }),
            metrics: (state.metrics.clone(), ctx.door),
            trace: RequestTrace::begin_with(
                state.traces.as_ref(),
                ctx.incoming(headers),
                ctx.started,
            ),
        },
        ctx.started,
    );
    meter.set_key(principal.key_id());
    ctx.mark_admitted();
    Ok((meter, rate))
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().chars().take(512).collect::<String>())
        .filter(|s| !s.is_empty())
}

/// How long a client may take to send its body, by default.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
