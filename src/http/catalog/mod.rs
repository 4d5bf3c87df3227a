//! OpenRouter's catalog under `/api/v1`: `GET /models` (with OpenRouter's filters),
//! `/models/count`, `/models/{author}/{slug}/endpoints`, `/model/{author}/{slug}` and
//! `/providers`, in the shapes its SDKs validate. `/v1/models` keeps OpenAI's list shape
//! (`http/models.rs`).
//!
//! A model is listed when an active provider can serve it (`?all=true`: every enabled
//! model), when the calling key may use it, and when it matches the filters. Like
//! OpenRouter, the list shows text-output models unless `output_modalities` says otherwise,
//! so embedding models appear with `output_modalities=embeddings` (or `all`).
//!
//! A model's endpoints carry this replica's live figures (`routing::window`): uptime and
//! status for anyone, latency and throughput for authenticated callers, as OpenRouter does.

pub(crate) mod filter;
pub(crate) mod price;
pub(crate) mod render;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::extract::{ApiPath, ApiQuery};
use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::registry::{Model, Snapshot};
use crate::types::catalog as wire;
use filter::Filter;

/// The calling key, when it sent one; the catalog is readable without one, as `/models` is.
async fn principal(state: &AppState, headers: &HeaderMap) -> Principal {
    crate::auth::authenticate(headers, &state.registry, false)
        .await
        .unwrap_or_default()
}

fn allowed(p: &Principal, slug: &str) -> bool {
    p.key.as_ref().is_none_or(|k| k.policy.allows(slug))
}

/// The enabled models the key may use that match `f`, in the order it asks for.
fn matching<'a>(snap: &'a Snapshot, p: &Principal, f: &Filter) -> Vec<&'a Arc<Model>> {
    let mut models: Vec<&Arc<Model>> = snap
        .slugs
        .iter()
        .filter(|s| allowed(p, s))
        .filter_map(|s| snap.models.get(s))
        .filter(|m| f.admits(snap, m))
        .collect();
    f.sort(snap, &mut models);
    models
}

type Query = ApiQuery<HashMap<String, String>>;

/// `GET /api/v1/models`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): Query,
) -> Result<Json<wire::ModelList>, ApiError> {
    let f = Filter::parse(&q)?;
    let p = principal(&state, &headers).await;
    let snap = state.registry.snapshot();
    let models = matching(&snap, &p, &f);
    let total_count = models.len();
    let (page, next) = f.page(models.len());
    let data = models[page]
        .iter()
        .map(|m| render::model(&snap, m))
        .collect();
    Ok(Json(wire::ModelList {
        data,
        total_count,
        links: wire::ListLinks {
            next: next.map(|(offset, limit)| f.next_link(&q, offset, limit)),
        },
    }))
}

/// `GET /api/v1/models/count`: how many models `/models` lists with the same filters.
pub async fn count(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): Query,
) -> Result<Json<wire::ModelCount>, ApiError> {
    let f = Filter::parse(&q)?;
    let p = principal(&state, &headers).await;
    let snap = state.registry.snapshot();
    let count = matching(&snap, &p, &f).len();
    Ok(Json(wire::ModelCount {
        data: wire::Count { count },
    }))
}

/// The model a path names, if the key may see it; OpenRouter's 404 otherwise.
fn find(snap: &Snapshot, p: &Principal, slug: &str) -> Result<Arc<Model>, ApiError> {
    match snap.resolve(slug) {
        Some(m) if allowed(p, &m.decl.slug) => Ok(m.clone()),
        _ => Err(ApiError::Plan(crate::routing::PlanError::UnknownModel {
            suggestions: snap
                .closest(slug, 8)
                .into_iter()
                .filter(|s| allowed(p, s))
                .map(str::to_owned)
                .collect(),
            name: slug.to_owned(),
        })),
    }
}

/// `GET /api/v1/models/{slug}`: `.../endpoints` is OpenRouter's endpoint list; any other
/// path is the one model, as `/v1/models/{slug}` shows it. (Slugs contain `/`, so one
/// catch-all route serves both.)
pub async fn model_path(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(path): ApiPath<String>,
) -> Result<Response, ApiError> {
    let Some(slug) = path.strip_suffix("/endpoints") else {
        return super::models::get_one(State(state), ApiPath(path))
            .await
            .map(IntoResponse::into_response);
    };
    let p = principal(&state, &headers).await;
    let snap = state.registry.snapshot();
    let m = find(&snap, &p, slug)?;
    // OpenRouter shows speed figures to authenticated callers only; a gateway that does not
    // require keys has no one to authenticate.
    let show_speed = p.key.is_some() || !state.settings.require_keys;
    let doc = render::endpoints(
        &snap,
        &m,
        &state.stats.windows,
        crate::types::now_ms(),
        show_speed,
    );
    Ok(Json(doc).into_response())
}

/// `GET /api/v1/model/{author}/{slug}`: one model as the list shows it, in `data`.
pub async fn model(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = principal(&state, &headers).await;
    let snap = state.registry.snapshot();
    let m = find(&snap, &p, &slug)?;
    Ok(Json(
        serde_json::json!({ "data": render::model(&snap, &m) }),
    ))
}

/// `GET /api/v1/providers`: the providers that can serve (`?all=true`: every enabled one).
pub async fn providers(
    State(state): State<AppState>,
    ApiQuery(q): Query,
) -> Result<Json<wire::ProviderList>, ApiError> {
    let all = filter::flag(&q, "all")?;
    let snap = state.registry.snapshot();
    let mut entries: Vec<_> = snap
        .providers
        .values()
        .filter(|p| p.decl.enabled && (all || p.adapter.is_some()))
        .collect();
    entries.sort_by(|a, b| a.decl.id.cmp(&b.decl.id));
    Ok(Json(wire::ProviderList {
        data: entries.into_iter().map(|p| render::provider(p)).collect(),
    }))
}
