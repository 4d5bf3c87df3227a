//! The admin API under `/admin`, guarded by the master key (`SWITCHYARD_MASTER_KEY`): keys,
//! providers, models and their endpoints (create, list, update, disable), and the request log.
//! Every change is written to the database and this replica's snapshot is reloaded at once;
//! other replicas pick it up on their next refresh.

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub mod keys;

use super::{parse_json, read_body, ApiError, AppState};
use crate::auth;
use crate::store::Origin;
use crate::types::registry::{EndpointDecl, ModelDecl, ProviderDecl};

const ADMIN_BODY_LIMIT: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/keys", get(keys::list_keys).post(keys::create_key))
        .route(
            "/keys/{id}",
            get(keys::show_key)
                .delete(keys::revoke_key)
                .patch(keys::update_key),
        )
        .route("/providers", get(list_providers).post(upsert_provider))
        .route("/providers/{id}", patch(patch_provider))
        .route("/models", get(list_models).post(upsert_model))
        .route("/models/{*slug}", patch(patch_model))
        .route(
            "/endpoints",
            axum::routing::post(upsert_endpoint)
                .patch(patch_endpoint)
                .delete(delete_endpoint),
        )
        .route("/requests", get(list_requests))
        .route("/requests/{id}", get(get_request))
        .route_layer(middleware::from_fn_with_state(state, guard))
}

async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let master = s.settings.master_key.as_ref().map(|k| k.expose());
    match auth::authenticate_admin(req.headers(), master) {
        Ok(()) => next.run(req).await,
        Err(e) => ApiError::from(e).into_response(),
    }
}

pub(super) async fn json_body<T: serde::de::DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let bytes = read_body(body, ADMIN_BODY_LIMIT).await?;
    parse_json(&bytes)
}

pub(super) fn invalid(msg: impl Into<String>, param: Option<&'static str>) -> ApiError {
    ApiError::Invalid(crate::types::InvalidRequest::new(
        msg,
        param,
        "invalid_value",
    ))
}

// ---- providers

async fn list_providers(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let snap = s.registry.snapshot();
    let mut ids: Vec<&String> = snap.providers.keys().collect();
    ids.sort();
    let data: Vec<Value> = ids
        .into_iter()
        .map(|id| {
            let p = &snap.providers[id];
            let mut v = serde_json::to_value(&p.decl).unwrap_or(Value::Null);
            v["active"] = json!(p.adapter.is_some());
            v["inactive_reason"] = json!(p.inactive_reason);
            v
        })
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}

async fn upsert_provider(State(s): State<AppState>, body: Body) -> Result<Json<Value>, ApiError> {
    let decl: ProviderDecl = json_body(body).await?;
    decl.validate().map_err(|e| invalid(e.to_string(), None))?;
    s.store
        .apply_declarations(std::slice::from_ref(&decl), &[], Origin::Admin)
        .await?;
    s.registry.reload().await?;
    Ok(Json(json!(decl)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnabledBody {
    enabled: bool,
}

async fn patch_provider(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let b: EnabledBody = json_body(body).await?;
    s.store.set_provider_enabled(&id, b.enabled).await?;
    s.registry.reload().await?;
    Ok(Json(json!({ "id": id, "enabled": b.enabled })))
}

// ---- models and endpoints

async fn list_models(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let rows = s.store.load_registry().await?;
    let data: Vec<Value> = rows.models.into_iter().map(|(m, _)| json!(m)).collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}

fn check_model(s: &AppState, m: &ModelDecl) -> Result<(), ApiError> {
    m.validate().map_err(|e| invalid(e.to_string(), None))?;
    let snap = s.registry.snapshot();
    for e in &m.endpoints {
        if !snap.providers.contains_key(&e.provider) {
            return Err(invalid(
                format!("endpoints: no provider `{}`", e.provider),
                None,
            ));
        }
    }
    for f in &m.fallbacks {
        if snap.resolve(f).is_none() && !snap.models.contains_key(f) {
            return Err(invalid(format!("fallbacks: no model `{f}`"), None));
        }
    }
    Ok(())
}

async fn upsert_model(State(s): State<AppState>, body: Body) -> Result<Json<Value>, ApiError> {
    let decl: ModelDecl = json_body(body).await?;
    check_model(&s, &decl)?;
    s.store
        .apply_declarations(&[], std::slice::from_ref(&decl), Origin::Admin)
        .await?;
    s.registry.reload().await?;
    Ok(Json(json!(decl)))
}

async fn patch_model(
    State(s): State<AppState>,
    Path(slug): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let b: EnabledBody = json_body(body).await?;
    s.store.set_model_enabled(&slug, b.enabled).await?;
    s.registry.reload().await?;
    Ok(Json(json!({ "slug": slug, "enabled": b.enabled })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointBody {
    model: String,
    #[serde(flatten)]
    endpoint: EndpointDecl,
}

/// Loads one model's current declaration from the database.
async fn load_model(s: &AppState, slug: &str) -> Result<ModelDecl, ApiError> {
    let rows = s.store.load_registry().await?;
    rows.models
        .into_iter()
        .map(|(m, _)| m)
        .find(|m| m.slug == slug)
        .ok_or_else(|| ApiError::NotFound(format!("no model `{slug}`")))
}

async fn save_model(s: &AppState, m: ModelDecl) -> Result<Json<Value>, ApiError> {
    check_model(s, &m)?;
    s.store
        .apply_declarations(&[], std::slice::from_ref(&m), Origin::Admin)
        .await?;
    s.registry.reload().await?;
    Ok(Json(json!(m)))
}

/// Adds an endpoint to a model, or replaces the one with the same provider and upstream model.
async fn upsert_endpoint(State(s): State<AppState>, body: Body) -> Result<Json<Value>, ApiError> {
    let b: EndpointBody = json_body(body).await?;
    let mut m = load_model(&s, &b.model).await?;
    let same = |e: &EndpointDecl| {
        e.provider == b.endpoint.provider && e.upstream_model == b.endpoint.upstream_model
    };
    match m.endpoints.iter_mut().find(|e| same(e)) {
        Some(slot) => *slot = b.endpoint,
        None => m.endpoints.push(b.endpoint),
    }
    save_model(&s, m).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointRef {
    model: String,
    provider: String,
    upstream_model: String,
    #[serde(default)]
    enabled: Option<bool>,
}

async fn patch_endpoint(State(s): State<AppState>, body: Body) -> Result<Json<Value>, ApiError> {
    let r: EndpointRef = json_body(body).await?;
    let enabled = r
        .enabled
        .ok_or_else(|| invalid("`enabled` is required", Some("enabled")))?;
    let mut m = load_model(&s, &r.model).await?;
    let ep = m
        .endpoints
        .iter_mut()
        .find(|e| e.provider == r.provider && e.upstream_model == r.upstream_model)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "`{}` has no endpoint {} / {}",
                r.model, r.provider, r.upstream_model
            ))
        })?;
    ep.enabled = enabled;
    save_model(&s, m).await
}

async fn delete_endpoint(State(s): State<AppState>, body: Body) -> Result<Json<Value>, ApiError> {
    let r: EndpointRef = json_body(body).await?;
    let mut m = load_model(&s, &r.model).await?;
    let before = m.endpoints.len();
    m.endpoints
        .retain(|e| !(e.provider == r.provider && e.upstream_model == r.upstream_model));
    if m.endpoints.len() == before {
        return Err(ApiError::NotFound(format!(
            "`{}` has no endpoint {} / {}",
            r.model, r.provider, r.upstream_model
        )));
    }
    save_model(&s, m).await
}

// ---- request log

#[derive(Deserialize)]
struct RequestsQuery {
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    key_id: Option<String>,
}

async fn list_requests(
    State(s): State<AppState>,
    Query(q): Query<RequestsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let rows = s.store.list_requests(limit, q.key_id.as_deref()).await?;
    Ok(Json(json!({ "object": "list", "data": rows })))
}

async fn get_request(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match s.store.get_request(&id).await? {
        Some(r) => Ok(Json(json!(r))),
        None => Err(ApiError::NotFound(format!(
            "no request `{id}` (records are written within a second)"
        ))),
    }
}
