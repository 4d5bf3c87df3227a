//! The admin API under `/admin`, guarded by the master key (`SWITCHYARD_MASTER_KEY`, as a
//! bearer, or a dashboard session with its CSRF token on writes): keys,
//! providers, models and their endpoints (create, list, update, disable), presets (with
//! their versions), the request log, and every endpoint's live figures (`GET /endpoints`).
//! Every change is written to the database and this replica's snapshot is reloaded at once;
//! other replicas pick it up on their next refresh.

use crate::http::extract::{ApiPath, ApiQuery};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub mod keys;
pub mod live;
pub mod presets;
pub mod usage;

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
            get(live::list_endpoints)
                .post(upsert_endpoint)
                .patch(patch_endpoint)
                .delete(delete_endpoint),
        )
        .route("/presets", get(presets::list_presets))
        .route(
            "/presets/{name}",
            get(presets::show_preset)
                .put(presets::put_preset)
                .delete(presets::delete_preset),
        )
        .route("/presets/{name}/versions", get(presets::list_versions))
        .route("/requests", get(list_requests))
        .route("/usage", get(usage::usage))
        .route("/requests/{id}", get(get_request))
        .route_layer(middleware::from_fn_with_state(state, guard))
}

async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let master = s.settings.master_key.as_ref().map(|k| k.expose());
    // A bearer decides when sent; without one, a dashboard session may stand in for it.
    let by_session = auth::bearer(req.headers())
        .is_none()
        .then(|| super::dashboard::admin_by_session(req.method(), req.headers(), master))
        .flatten();
    let peer = super::master::peer(req.extensions());
    let decided = by_session.unwrap_or_else(|| {
        super::master::guarded(&s, peer, || auth::authenticate_admin(req.headers(), master))
    });
    match decided {
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
            let mut v = provider_view(&p.decl);
            v["active"] = json!(p.adapter.is_some());
            v["inactive_reason"] = json!(p.inactive_reason);
            v
        })
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}

/// A provider as the admin API shows it: header values are write-only (they often carry
/// credentials), shown masked.
fn provider_view(decl: &ProviderDecl) -> Value {
    let mut v = serde_json::to_value(decl).unwrap_or(Value::Null);
    if let Some(h) = v.get_mut("headers").and_then(Value::as_object_mut) {
        for value in h.values_mut() {
            *value = json!(mask(value.as_str().unwrap_or_default()));
        }
    }
    v
}

fn mask(secret: &str) -> String {
    // The last four characters tell two values apart without revealing either.
    let n = secret.chars().count();
    if n >= 16 {
        let tail: String = secret.chars().skip(n - 4).collect();
        format!("***{tail}")
    } else {
        "***".into()
    }
}

/// Credentials a provider made through the admin API may read: variables with the
/// configured prefix, or ones the config file's providers already use. Anything else
/// (the database URL, the master key, cloud credentials) could otherwise be sent to a
/// `base_url` of the caller's choosing.
fn check_provider_env(s: &AppState, decl: &ProviderDecl) -> Result<(), ApiError> {
    let prefix = &s.settings.provider_env_prefix;
    let configured = |var: &str| {
        s.settings
            .providers
            .iter()
            .any(|p| p.env_vars().iter().any(|(_, v)| *v == var))
    };
    for (field, var) in decl.env_vars() {
        if !var.starts_with(prefix.as_str()) && !configured(var) {
            return Err(invalid(
                format!(
                    "`{var}` may not be read by a provider made through the admin API: name a variable starting with `{prefix}` (auth.provider_env_prefix), or one the config file's providers use"
                ),
                Some(field),
            ));
        }
    }
    if decl.credentials_file.is_some() {
        return Err(invalid(
            "`credentials_file` can be set only in the config file",
            Some("credentials_file"),
        ));
    }
    // Without named variables Bedrock falls back to the standard AWS ones, whose session
    // and bearer tokens travel in clear to `base_url`.
    if decl.kind == crate::types::registry::ProviderKind::Bedrock
        && decl.base_url.is_some()
        && decl.api_key_env.is_none()
        && decl.access_key_env.is_none()
    {
        return Err(invalid(
            "a Bedrock provider with a `base_url` made through the admin API must name its credentials' variables (`api_key_env`, or `access_key_env` and `secret_key_env`)",
            Some("base_url"),
        ));
    }
    Ok(())
}

async fn upsert_provider(State(s): State<AppState>, body: Body) -> Result<Json<Value>, ApiError> {
    let mut decl: ProviderDecl = json_body(body).await?;
    check_provider_env(&s, &decl)?;
    decl.validate().map_err(|e| invalid(e.to_string(), None))?;
    // A masked value sent back (a client round-tripping a listing) keeps the stored one.
    if let Some(stored) = s.registry.snapshot().providers.get(&decl.id) {
        for (name, value) in decl.headers.iter_mut() {
            if let Some(old) = stored.decl.headers.get(name) {
                if value.starts_with("***") && *value == mask(old) {
                    value.clone_from(old);
                }
            }
        }
    }
    s.store
        .apply_declarations(std::slice::from_ref(&decl), &[], Origin::Admin)
        .await?;
    s.registry.reload().await?;
    Ok(Json(provider_view(&decl)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnabledBody {
    enabled: bool,
}

async fn patch_provider(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
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
    // A name is one model's: an alias that is another model's slug or alias would take its
    // requests, and a slug that is another model's alias would be unreachable.
    let owner = |name: &str| -> Option<String> {
        if snap.models.contains_key(name) {
            return Some(name.to_owned());
        }
        snap.aliases.get(name).cloned()
    };
    for name in m.aliases.iter().chain(std::iter::once(&m.slug)) {
        if let Some(other) = owner(name).filter(|o| o != &m.slug) {
            return Err(ApiError::Conflict(format!(
                "`{name}` already names the model `{other}`"
            )));
        }
    }
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

/// `PATCH /admin/models/{slug}`: `enabled` and the catalog fields; a field left out is
/// kept, `null` clears it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelPatch {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    #[serde(default)]
    input_modalities: Option<Vec<String>>,
    #[serde(default)]
    output_modalities: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    tokenizer: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    instruct_type: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    max_completion_tokens: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    hugging_face_id: Option<Option<String>>,
}

/// A field that is present, possibly `null` (serde reads a missing one as `None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl ModelPatch {
    fn only_enabled(&self) -> bool {
        self.description.is_none()
            && self.input_modalities.is_none()
            && self.output_modalities.is_none()
            && self.tokenizer.is_none()
            && self.instruct_type.is_none()
            && self.max_completion_tokens.is_none()
            && self.hugging_face_id.is_none()
    }

    fn apply(&self, m: &mut ModelDecl) {
        fn set<T: Clone>(slot: &mut T, v: &Option<T>) {
            if let Some(v) = v {
                slot.clone_from(v);
            }
        }
        set(&mut m.enabled, &self.enabled);
        set(&mut m.description, &self.description);
        set(&mut m.input_modalities, &self.input_modalities);
        set(&mut m.output_modalities, &self.output_modalities);
        set(&mut m.tokenizer, &self.tokenizer);
        set(&mut m.instruct_type, &self.instruct_type);
        set(&mut m.max_completion_tokens, &self.max_completion_tokens);
        set(&mut m.hugging_face_id, &self.hugging_face_id);
    }
}

async fn patch_model(
    State(s): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let b: ModelPatch = json_body(body).await?;
    if b.only_enabled() {
        let enabled = b
            .enabled
            .ok_or_else(|| invalid("nothing to change", None))?;
        s.store.set_model_enabled(&slug, enabled).await?;
        s.registry.reload().await?;
        return Ok(Json(json!({ "slug": slug, "enabled": enabled })));
    }
    edit_model(&s, &slug, |m| {
        b.apply(m);
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointBody {
    model: String,
    #[serde(flatten)]
    endpoint: EndpointDecl,
}

/// Applies `change` to one model's current declaration and saves it, unless someone else
/// changed the model meanwhile; then it starts again from the newer declaration (after a
/// short random pause, up to 50 times), so concurrent edits of one model's endpoints never
/// lose each other.
async fn edit_model(
    s: &AppState,
    slug: &str,
    change: impl Fn(&mut ModelDecl) -> Result<(), ApiError>,
) -> Result<Json<Value>, ApiError> {
    for attempt in 0..50u64 {
        if attempt > 0 {
            let pause = rand::random::<u64>() % (2 + attempt.min(20));
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        }
        let rows = s.store.load_registry().await?;
        let revision = rows.revisions.get(slug).copied();
        let mut m = rows
            .models
            .into_iter()
            .map(|(m, _)| m)
            .find(|m| m.slug == slug)
            .ok_or_else(|| ApiError::NotFound(format!("no model `{slug}`")))?;
        change(&mut m)?;
        check_model(s, &m)?;
        let revision = revision.unwrap_or_default();
        match s
            .store
            .save_model_if_unchanged(&m, revision, Origin::Admin)
            .await
        {
            Ok(()) => {
                s.registry.reload().await?;
                return Ok(Json(json!(m)));
            }
            Err(crate::store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(format!(
        "model `{slug}` is being changed by others; try again"
    )))
}

/// Adds an endpoint to a model, or replaces the one with the same provider and upstream model.
async fn upsert_endpoint(State(s): State<AppState>, body: Body) -> Result<Json<Value>, ApiError> {
    let b: EndpointBody = json_body(body).await?;
    edit_model(&s, &b.model, |m| {
        let same = |e: &EndpointDecl| {
            e.provider == b.endpoint.provider && e.upstream_model == b.endpoint.upstream_model
        };
        match m.endpoints.iter_mut().find(|e| same(e)) {
            Some(slot) => *slot = b.endpoint.clone(),
            None => m.endpoints.push(b.endpoint.clone()),
        }
        Ok(())
    })
    .await
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

impl EndpointRef {
    fn missing(&self) -> ApiError {
        ApiError::NotFound(format!(
            "`{}` has no endpoint {} / {}",
            self.model, self.provider, self.upstream_model
        ))
    }

    fn matches(&self, e: &EndpointDecl) -> bool {
        e.provider == self.provider && e.upstream_model == self.upstream_model
    }
}

async fn patch_endpoint(State(s): State<AppState>, body: Body) -> Result<Json<Value>, ApiError> {
    let r: EndpointRef = json_body(body).await?;
    let enabled = r
        .enabled
        .ok_or_else(|| invalid("`enabled` is required", Some("enabled")))?;
    edit_model(&s, &r.model, |m| {
        let ep = m
            .endpoints
            .iter_mut()
            .find(|e| r.matches(e))
            .ok_or_else(|| r.missing())?;
        ep.enabled = enabled;
        Ok(())
    })
    .await
}

async fn delete_endpoint(State(s): State<AppState>, body: Body) -> Result<Json<Value>, ApiError> {
    let r: EndpointRef = json_body(body).await?;
    edit_model(&s, &r.model, |m| {
        let before = m.endpoints.len();
        m.endpoints.retain(|e| !r.matches(e));
        if m.endpoints.len() == before {
            return Err(r.missing());
        }
        Ok(())
    })
    .await
}

// ---- request log

#[derive(Deserialize)]
struct RequestsQuery {
    #[serde(default)]
    limit: Option<i64>,
    /// `key_id` is the older spelling of `key`.
    #[serde(default, alias = "key_id")]
    key: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    /// Unix seconds, inclusive.
    #[serde(default)]
    from: Option<i64>,
    /// Unix seconds, exclusive.
    #[serde(default)]
    to: Option<i64>,
    /// The id of the last request of the previous page (`next_before` of its answer).
    #[serde(default)]
    before: Option<String>,
}

/// `GET /admin/requests`: the request log, newest first, filtered and paged by keyset
/// (`before`), each filter answered from an index at any log size.
async fn list_requests(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<RequestsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let before = match q.before.filter(|b| !b.is_empty()) {
        Some(id) => match s.store.request_created_at(&id).await? {
            Some(at) => Some((at, id)),
            None => {
                return Err(invalid(
                    format!("no request `{id}` to page from"),
                    Some("before"),
                ))
            }
        },
        None => None,
    };
    let filter = crate::store::RequestFilter {
        key_id: q.key,
        model: q.model,
        provider: q.provider,
        outcome: q.outcome,
        from_ms: q.from.map(|s| s.saturating_mul(1000)),
        to_ms: q.to.map(|s| s.saturating_mul(1000)),
        before,
    };
    let rows = s.store.list_requests_page(limit, &filter).await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    Ok(Json(
        json!({ "object": "list", "data": rows, "next_before": next }),
    ))
}

async fn get_request(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    match s.store.get_request(&id).await? {
        Some(r) => {
            // Captured content is shown here only (never in listings or logs).
            let content = s.store.get_content(&id).await?;
            let mut v = json!(r);
            v["content"] = json!(content);
            Ok(Json(v))
        }
        None => Err(ApiError::NotFound(format!(
            "no request `{id}` (records are written within a second)"
        ))),
    }
}
