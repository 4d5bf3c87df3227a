//! OpenRouter's accounting endpoints for the calling key, in its shapes: `GET /key`,
//! `GET /credits` and `GET /generation?id=`. The master key may call them too: `/credits`
//! then sums every key, and `/generation` finds any key's request.

use std::collections::HashMap;

use crate::http::extract::ApiQuery;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin::keys::period_spend;
use super::{admit, ApiError, AppState};
use crate::accounting::spend;
use crate::auth::{self, AuthError};
use crate::registry::KeyInfo;
use crate::store::{RequestRecord, SpendTotals};
use crate::types::keys::BudgetReset;
use crate::types::now_ms;
use crate::types::time::format_rfc3339;
use crate::types::usage::nanos_to_usd;

/// Who asks: a gateway key, or the master key (`None`).
pub(super) enum Caller {
    Key(KeyInfo),
    Master,
}

pub(super) async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let master = state.settings.master_key.as_ref().map(|k| k.expose());
    if master.is_some() && auth::authenticate_admin(headers, master).is_ok() {
        return Ok(Caller::Master);
    }
    match admit::authenticate(state, headers).await?.key {
        Some(k) => Ok(Caller::Key(k)),
        // Keys are off and none was sent: there is no key to describe.
        None => Err(ApiError::Auth(AuthError::Missing)),
    }
}

/// `GET /key`.
pub async fn key(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let now = now_ms();
    let data = match caller(&state, &headers).await? {
        Caller::Master => {
            let spend = spend::totals(&state.store, &state.recorder.pending, None, now).await?;
            key_data(
                "master",
                None,
                BudgetReset::Never,
                &spend,
                0,
                None,
                None,
                true,
                0,
            )
        }
        Caller::Key(k) => {
            let spend =
                spend::totals(&state.store, &state.recorder.pending, Some(&k.id), now).await?;
            let p = &k.policy;
            let remaining = p
                .budget_nanos
                .map(|b| (b - period_spend(p, &spend) - state.ledger.reserved_nanos(&k.id)).max(0));
            key_data(
                &k.name,
                p.budget_nanos,
                p.budget_reset,
                &spend,
                remaining.unwrap_or(0),
                p.rpm,
                p.expires_at,
                false,
                period_spend(p, &spend),
            )
        }
    };
    Ok(Json(json!({ "data": data })))
}

#[allow(clippy::too_many_arguments)]
fn key_data(
    label: &str,
    budget: Option<i64>,
    reset: BudgetReset,
    spend: &SpendTotals,
    remaining: i64,
    rpm: Option<u64>,
    expires_at: Option<i64>,
    management: bool,
    period_spent: i64,
) -> Value {
    let layer = budget_layer(budget, reset, period_spent, remaining);
    json!({
        "label": label,
        "limit": budget.map(nanos_to_usd),
        "limit_remaining": budget.map(|_| nanos_to_usd(remaining)),
        "limit_reset": (reset != BudgetReset::Never).then(|| reset.as_str()),
        "usage": nanos_to_usd(spend.total),
        "usage_daily": nanos_to_usd(spend.daily),
        "usage_weekly": nanos_to_usd(spend.weekly),
        "usage_monthly": nanos_to_usd(spend.monthly),
        "byok_usage": 0.0,
        "byok_usage_daily": 0.0,
        "byok_usage_weekly": 0.0,
        "byok_usage_monthly": 0.0,
        "include_byok_in_limit": false,
        "is_free_tier": false,
        "is_management_key": management,
        "is_provisioning_key": false,
        "creator_user_id": null,
        "expires_at": expires_at.map(format_rfc3339),
        "rate_limit": {
            "requests": rpm.map_or(-1, |r| r as i64),
            "interval": "1m",
            "note": "requests per minute for this key; -1 when it has no limit",
        },
        // Fields OpenRouter's current SDKs require. Switchyard has no organisations,
        // workspaces, data regions or free-model quota: the values say so (-1: no quota).
        "allowed_data_regions": ["global"],
        "organization_id": null,
        "workspace_id": null,
        "budgets": layer.iter().collect::<Vec<_>>(),
        "effective_budget": layer,
        "free_model_daily_requests": { "limit": -1, "remaining": -1, "used": 0 },
    })
}

/// The key's own budget as OpenRouter's budget layer (`scope: "key_limit"`).
fn budget_layer(
    budget: Option<i64>,
    reset: BudgetReset,
    spent: i64,
    remaining: i64,
) -> Option<Value> {
    let limit = budget?;
    let now = now_ms();
    Some(json!({
        "scope": "key_limit",
        "budget_id": null,
        "guardrail_id": null,
        "include_byok": false,
        "limit_usd": nanos_to_usd(limit),
        "spend_usd": nanos_to_usd(spent),
        "remaining_usd": nanos_to_usd(remaining),
        "reset_interval": (reset != BudgetReset::Never).then(|| reset.as_str()),
        "resets_at": reset.next_reset(now).map(format_rfc3339),
    }))
}

/// `GET /credits`: the key's budget for the current period and its spend in it; with the
/// master key, the sums over every live key. A key without a budget has 0 credits.
pub async fn credits(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let now = now_ms();
    let (credits, usage) = match caller(&state, &headers).await? {
        Caller::Key(k) => {
            let spend =
                spend::totals(&state.store, &state.recorder.pending, Some(&k.id), now).await?;
            (
                k.policy.budget_nanos.unwrap_or(0),
                period_spend(&k.policy, &spend),
            )
        }
        Caller::Master => {
            let spend: HashMap<String, SpendTotals> =
                spend::by_key(&state.store, &state.recorder.pending, now).await?;
            let snap = state.registry.snapshot();
            let mut credits = 0i64;
            let mut usage = 0i64;
            for k in snap.keys.values() {
                let s = spend.get(&k.id).copied().unwrap_or_default();
                credits = credits.saturating_add(k.policy.budget_nanos.unwrap_or(0));
                usage = usage.saturating_add(period_spend(&k.policy, &s));
            }
            (credits, usage)
        }
    };
    Ok(Json(json!({ "data": {
        "total_credits": nanos_to_usd(credits),
        "total_usage": nanos_to_usd(usage),
    }})))
}

#[derive(Deserialize)]
pub struct GenerationQuery {
    #[serde(default)]
    id: Option<String>,
}

/// `GET /generation?id=gen-...`: as soon as the response has ended (records still waiting
/// for the batched writer are found too); another key's generation is a 404.
pub async fn generation(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<GenerationQuery>,
) -> Result<Json<Value>, ApiError> {
    let who = caller(&state, &headers).await?;
    let id = q.id.filter(|i| !i.is_empty()).ok_or_else(|| {
        ApiError::Invalid(crate::types::InvalidRequest::new(
            "`id` is required: the generation id every response carries (`id`, `X-Generation-Id`)",
            Some("id"),
            "missing_required_parameter",
        ))
    })?;
    let record = match state.recorder.pending.get(&id) {
        Some(r) => Some((*r).clone()),
        None => state.store.get_request(&id).await?,
    };
    let visible = match (&record, &who) {
        (Some(_), Caller::Master) => true,
        (Some(r), Caller::Key(k)) => r.key_id.as_deref() == Some(k.id.as_str()),
        (None, _) => false,
    };
    match record {
        Some(r) if visible => Ok(Json(json!({ "data": generation_data(&r) }))),
        _ => Err(ApiError::NotFound(format!("Generation `{id}` not found"))),
    }
}

fn generation_data(r: &RequestRecord) -> Value {
    let generation_ms = r.ttft_ms.map(|t| (r.latency_ms - t).max(0));
    json!({
        "id": r.id,
        "upstream_id": r.upstream_id,
        "total_cost": nanos_to_usd(r.cost_nanos),
        "cache_discount": null,
        "upstream_inference_cost": null,
        "created_at": format_rfc3339(r.created_at),
        "model": r.served_model.as_deref().or(r.requested_model.as_deref()).unwrap_or_default(),
        "app_id": null,
        "streamed": r.streamed,
        "cancelled": r.cancelled,
        "provider_name": r.provider,
        "latency": r.latency_ms,
        "moderation_latency": null,
        "generation_time": generation_ms,
        "finish_reason": r.finish_reason,
        "native_finish_reason": r.finish_reason,
        "tokens_prompt": r.prompt_tokens,
        "tokens_completion": r.completion_tokens,
        "native_tokens_prompt": r.prompt_tokens,
        "native_tokens_completion": r.completion_tokens,
        "native_tokens_completion_images": null,
        "native_tokens_reasoning": r.reasoning_tokens,
        "native_tokens_cached": r.cached_tokens,
        "num_media_prompt": null,
        "num_input_audio_prompt": null,
        "num_media_completion": null,
        "num_search_results": null,
        "num_fetches": null,
        "origin": r.app_referer.clone().unwrap_or_default(),
        "usage": nanos_to_usd(r.cost_nanos),
        "is_byok": false,
        "service_tier": null,
        "web_search_engine": null,
        "external_user": r.external_user,
        // OpenRouter's is the preset version's id; ours is `NAME@vN`.
        "preset_id": r.preset,
        "router": null,
        "user_agent": null,
        "http_referer": r.app_referer,
        "workspace_id": null,
        "data_region": "global",
        "api_type": "completions",
        "provider_responses": null,
        "session_id": r.session_id,
        "request_id": r.id,
        // Switchyard's own, beside OpenRouter's fields.
        "outcome": r.outcome,
        "status": r.status,
        "usage_estimated": r.usage_estimated,
        "app_title": r.app_title,
    })
}
