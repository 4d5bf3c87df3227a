//! `GET /v1/models` and `GET /v1/models/{slug}`: OpenAI's list shape, each entry also carrying
//! what OpenRouter's list carries (name, context_length, pricing, supported_parameters).

use crate::http::extract::ApiPath;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::{ApiError, AppState};
use crate::registry::{Model, Snapshot};

/// USD per token as a decimal string, as OpenRouter prints prices.
fn per_token(per_million: f64) -> String {
    let v = per_million / 1_000_000.0;
    if v == 0.0 {
        "0".into()
    } else {
        // Rust's f64 Display never uses exponents; trim float noise past 12 decimals.
        let s = format!("{v:.12}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

fn entry(snap: &Snapshot, m: &Model) -> Value {
    let d = &m.decl;
    let owned_by = d
        .slug
        .split_once('/')
        .map(|(a, _)| a)
        .unwrap_or("switchyard");
    let live: Vec<_> = d
        .endpoints
        .iter()
        .filter(|e| e.enabled)
        .filter(|e| {
            snap.providers
                .get(&e.provider)
                .is_some_and(|p| p.adapter.is_some())
        })
        .collect();
    let pricing = live.first().map(|e| {
        json!({
            "prompt": per_token(e.input_price),
            "completion": per_token(e.output_price),
            "request": format!("{}", e.request_price),
            "input_cache_read": per_token(e.cache_read_price.unwrap_or(e.input_price)),
            "input_cache_write": per_token(e.cache_write_price.unwrap_or(e.input_price)),
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
        "providers": live.iter().map(|e| e.provider.as_str()).collect::<Vec<_>>(),
        "fallbacks": d.fallbacks,
    })
}

/// The list; a request made with a key that may use only some models sees only those.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
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
        .map(|m| entry(&snap, m))
        .collect();
    Json(json!({ "object": "list", "data": data }))
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

#[cfg(test)]
mod tests {
    #[test]
    fn prices_per_token() {
        assert_eq!(super::per_token(2.0), "0.000002");
        assert_eq!(super::per_token(0.15), "0.00000015");
        assert_eq!(super::per_token(0.0), "0");
    }
}
