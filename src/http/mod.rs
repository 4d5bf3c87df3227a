//! The HTTP surface; the only module that imports axum. Routes are served under `/v1` and,
//! for OpenRouter users who change only the host, under `/api/v1`; the admin API under
//! `/admin` and its dashboard under `/dashboard`.

pub mod account;
pub mod activity;
pub mod admin;
pub mod admit;
pub mod canonical;
pub mod catalog;
pub mod chat;
pub mod cors;
pub mod cost;
pub mod dashboard;
pub mod error;
pub mod extract;
pub mod guard;
pub mod health;
pub mod master;
pub mod messages;
pub mod metrics;
pub mod models;
pub mod openrouter;
pub mod ops;
pub mod rendered;
pub mod responses;
pub mod sse;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

pub use error::ApiError;

use crate::accounting::Recorder;
use crate::config::Settings;
use crate::ledger::{Ledger, RateHeaders};
use crate::registry::Registry;
use crate::store::Store;
use crate::telemetry::propagate::Incoming;
use crate::telemetry::trace::{RequestTrace, Traces};

/// Shared state handed to handlers.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub registry: Arc<Registry>,
    pub store: Store,
    pub recorder: Recorder,
    pub ledger: Arc<Ledger>,
    /// Live per-endpoint figures (throughput, latency) for sorted routing.
    pub stats: Arc<crate::routing::LiveStats>,
    /// Prometheus metrics (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// OpenTelemetry span export, when configured.
    pub traces: Option<Arc<crate::telemetry::trace::Traces>>,
    /// Draining (health says so) and cut (open streams end) at shutdown.
    pub lifecycle: crate::server::Lifecycle,
    /// Wrong master keys by address (see `master`).
    pub master_throttle: Arc<crate::auth::throttle::Throttle>,
}

/// OpenAI's `x-ratelimit-*` headers for a key with limits.
pub fn add_rate_headers(headers: &mut axum::http::HeaderMap, rate: &RateHeaders) {
    for (name, value) in rate.pairs() {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
}

/// Per-request identity, set by the outermost middleware.
#[derive(Clone)]
pub struct RequestContext {
    pub id: String,
    pub started: Instant,
    /// The shapes the client speaks, by the prefix it came through.
    pub dialect: error::Dialect,
    /// The front door, for metrics (`chat`, `messages`, ...).
    pub door: &'static str,
    /// With traces on (and a model request), what `request_context` noted for them.
    pub traced: Option<Traced>,
}

/// A traced request's context: whether it was admitted (one refused before then has no meter
/// to trace it, so `request_context` does; see `admit`), and the client's trace context as
/// read once from its headers.
#[derive(Clone)]
pub struct Traced {
    admitted: Arc<AtomicBool>,
    incoming: Option<Incoming>,
}

impl RequestContext {
    pub fn mark_admitted(&self) {
        if let Some(t) = &self.traced {
            t.admitted.store(true, Ordering::Relaxed);
        }
    }

    /// The client's trace context (`traceparent`, `tracestate`): as read by
    /// `request_context` when traced, otherwise from these headers.
    pub fn incoming(&self, headers: &axum::http::HeaderMap) -> Option<Incoming> {
        match &self.traced {
            Some(t) => t.incoming.clone(),
            None => Incoming::from_headers(headers),
        }
    }
}

/// The front door a path names, as a bounded metrics label.
fn door_of(path: &str) -> &'static str {
    let tail = path
        .strip_prefix("/api/v1")
        .or_else(|| path.strip_prefix("/v1"))
        .unwrap_or(path);
    match tail {
        "/chat/completions" => "chat",
        "/messages" => "messages",
        "/messages/count_tokens" => "count_tokens",
        "/responses" => "responses",
        "/embeddings" => "embeddings",
        "/completions" => "completions",
        _ => "other",
    }
}

/// The routes under one prefix. `/api/v1` serves OpenRouter's catalog where `/v1` serves
/// OpenAI's model list.
fn api(openrouter: bool) -> Router<AppState> {
    let routes = Router::new()
        .route("/chat/completions", post(chat::chat_completions))
        .route("/completions", post(ops::completions))
        .route("/embeddings", post(ops::embeddings))
        .route("/messages", post(messages::messages))
        .route("/responses", post(responses::responses))
        .route("/messages/count_tokens", post(messages::count_tokens))
        .route("/health", get(health::health))
        .route("/key", get(account::key))
        .route("/credits", get(account::credits))
        .route("/generation", get(account::generation));
    if openrouter {
        routes
            .route("/models", get(catalog::list))
            .route("/models/count", get(catalog::count))
            .route("/models/{*slug}", get(catalog::model_path))
            .route("/model/{*slug}", get(catalog::model))
            .route("/providers", get(catalog::providers))
            .route("/activity", get(activity::activity))
    } else {
        routes
            .route("/models", get(models::list))
            .route("/models/{*slug}", get(models::get_one))
    }
}

pub fn router(state: AppState) -> Router {
    let cors = cors::Cors::new(&state.settings.cors_origins);
    let traces = state.traces.clone();
    let router = Router::new()
        .nest("/v1", api(false))
        .nest("/api/v1", api(true))
        .nest("/admin", admin::router(state.clone()))
        // The dashboard (never under /v1 or /api/v1): pages for people, over the admin API.
        .merge(dashboard::router())
        .route("/metrics", get(metrics::scrape))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            guard::Guard::new(
                state.settings.max_concurrent_requests,
                state.settings.request_timeout,
            ),
            guard::guard,
        ))
        .with_state(state)
        // Outermost first: ids and spans wrap everything, panics become OpenAI-shaped 500s.
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(traces, request_context));
    // Outermost of all, so every answer of the public API carries CORS headers, errors and
    // timeouts included; no layer at all when no origin is allowed.
    match cors {
        Some(c) => router.layer(middleware::from_fn_with_state(c, cors::cors)),
        None => router,
    }
}

/// Assigns the request id, opens the request's span and stamps the id on the response
/// (`x-request-id`, and OpenRouter's `X-Generation-Id`). With traces on, a model request
/// refused before admission is traced here (an admitted one is traced by its meter).
async fn request_context(
    State(traces): State<Option<Arc<Traces>>>,
    mut req: Request,
    next: Next,
) -> Response {
    let id = new_request_id();
    let dialect = error::Dialect::of_path(req.uri().path());
    let door = door_of(req.uri().path());
    let traced = traces.filter(|_| door != "other");
    let noted = traced.as_ref().map(|_| Traced {
        admitted: Arc::new(AtomicBool::new(false)),
        incoming: Incoming::from_headers(req.headers()),
    });
    let ctx = RequestContext {
        id: id.clone(),
        started: Instant::now(),
        dialect,
        door,
        traced: noted.clone(),
    };
    let started = ctx.started;
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    req.extensions_mut().insert(ctx);
    let mut resp = dialect.scope(next.run(req).instrument(span)).await;
    if let (Some(t), Some(n)) = (&traced, noted) {
        if !n.admitted.load(Ordering::Relaxed) && !resp.status().is_success() {
            RequestTrace::begin_with(Some(t), n.incoming, started).refused(
                door,
                resp.status().as_u16(),
                &id,
            );
        }
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v.clone());
        resp.headers_mut().insert("x-generation-id", v);
    }
    resp
}

fn new_request_id() -> String {
    format!(
        "gen-{}-{:016x}",
        crate::types::now_ms() / 1000,
        rand::random::<u64>()
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::Internal("Internal error in the gateway".into()).into_response()
}

async fn not_found(req: Request) -> ApiError {
    ApiError::NotFound(format!(
        "No route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

async fn method_not_allowed(req: Request) -> Response {
    ApiError::MethodNotAllowed(format!(
        "Method {} is not allowed on {}",
        req.method(),
        req.uri().path()
    ))
    .respond(error::Dialect::of_path(req.uri().path()))
}

/// Reads a body up to `limit` bytes; larger ones are a 413 before they are buffered (and a
/// declared `Content-Length` over the limit before anything is read).
pub async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    if http_body::Body::size_hint(&body).lower() > limit as u64 {
        return Err(ApiError::TooLarge(limit));
    }
    let limited = http_body_util::Limited::new(body, limit);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::TooLarge(limit)),
        Err(e) => Err(ApiError::Invalid(crate::types::InvalidRequest {
            message: format!("Could not read the request body: {e}"),
            param: None,
            code: "invalid_body",
        })),
    }
}

/// Parses a JSON body for the admin API.
/// Errors name the field at fault (`budget_reset: unknown variant ...`).
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = if path == "." {
            format!("Invalid request body: {}", e.inner())
        } else {
            format!("Invalid request body: {path}: {}", e.inner())
        };
        ApiError::Invalid(crate::types::InvalidRequest {
            message,
            param: None,
            code: "invalid_body",
        })
    })
}
