//! `GET /v1/models` and `GET /v1/models/{slug}`: OpenAI's list shape, each entry also carrying
//! what OpenRouter's list carries (name, context_length, pricing, supported_parameters).

use std::collections::HashMap;

use crate::http::extract::ApiPath;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::catalog::{self, price, render};
use super::{ApiError, AppState};
use crate::registry::{Model, Snapshot};

fn entry(snap: &Snapshot, m: &Model) -> Value {
    let d = &m.decl;
    let owned_by = d
        .slug
        .split_once('/')
        .map(|(a, _)| a)
        .unwrap_or("switchyard");
    let live = render::live(snap, m);
    // The cheapest endpoint that can serve, as OpenRouter prices a model; exact decimals.
    let pricing = render::cheapest(snap, m)
        .filter(|_| !live.is_empty())
        .map(|e| {
            let p = price::pricing(e);
            json!({
                "prompt": p.prompt,
                "completion": p.completion,
                "request": p.request,
                "input_cache_read": p.input_cache_read,
                "input_cache_write": p.input_cache_write,
            })
        });
    json!({
        "id": d.slug,
        "object": "model",
        "created": m.created_ms / 1000,
        "owned_by": owned_by,
        "name": d.name.as_deref().unwrap_or(&d.slug),
        "aliases": d.aliases,
        "context_length": d.context_length,
        "pricing": pricing,
        "supported_parameters": d.supported_parameters,
        "providers": live.iter().map(|e| e.decl.provider.as_str()).collect::<Vec<_>>(),
        "fallbacks": d.fallbacks,
    })
}

/// The models an active provider can serve (`?all=true`: every enabled model); a request
/// made with a key that may use only some models sees only those.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let all = catalog::filter::flag(&q, "all")?;
    let principal = crate::auth::authenticate(&headers, &state.registry, false)
        .await
        .unwrap_or_default();
    let snap = state.registry.snapshot();
    let allowed = |slug: &str| principal.key.as_ref().is_none_or(|k| k.policy.allows(slug));
    let data: Vec<Value> = snap
        .slugs
        .iter()
        .filter(|s| allowed(s))
        .filter_map(|s| snap.models.get(s))
        .filter(|m| all || !render::live(&snap, m).is_empty())
        .map(|m| entry(&snap, m))
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}

pub async fn get_one(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let snap = state.registry.snapshot();
    match snap.resolve(&slug) {
        Some(m) => Ok(Json(entry(&snap, m))),
        None => Err(ApiError::Plan(crate::routing::PlanError::UnknownModel {
            suggestions: snap
                .closest(&slug, 8)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            name: slug,
        })),
    }
}
