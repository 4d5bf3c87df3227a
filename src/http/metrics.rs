//! `GET /metrics`: Prometheus text. On the main listener it needs the master key or
//! `SWITCHYARD_METRICS_TOKEN` as a bearer token (metrics name models and providers, which an
//! anonymous caller should not enumerate); `SWITCHYARD_METRICS_LISTEN` serves it alone on a
//! second address without auth, for a scraper inside the cluster.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::error::ApiError;
use super::AppState;
use crate::auth::{self, AuthError};
use crate::metrics::{load, set};

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub async fn scrape(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let master = s.settings.master_key.as_ref().map(|k| k.expose());
    let token = s.settings.metrics_token.as_ref().map(|k| k.expose());
    if master.is_none() && token.is_none() {
        return ApiError::from(AuthError::MetricsDisabled).into_response();
    }
    let headers = req.headers();
    let peer = super::master::peer(req.extensions());
    let checked = super::master::guarded(&s, peer, || {
        let allowed = [master, token]
            .into_iter()
            .flatten()
            .any(|secret| auth::authenticate_admin(headers, Some(secret)).is_ok());
        match auth::bearer(headers) {
            _ if allowed => Ok(()),
            None => Err(AuthError::Missing),
            Some(_) => Err(AuthError::InvalidMaster),
        }
    });
    if let Err(e) = checked {
        return ApiError::from(e).into_response();
    }
    render(&s)
}

/// The router of the separate metrics listener: `/metrics` and nothing else, no auth.
pub fn open_router(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(s): State<AppState>| async move { render(&s) }),
        )
        .with_state(state)
}

fn render(s: &AppState) -> Response {
    let m = &s.metrics;
    let health = &s.recorder.health;
    set(&m.log_queue, s.recorder.queue_used() as u64);
    set(&m.log_written, load(&health.written));
    set(&m.log_dead_lettered, load(&health.dead_lettered));
    set(&m.log_lost, load(&health.lost));
    m.log_failing
        .set(i64::from(health.failing_since().is_some()));
    let fresh = s.registry.freshness();
    m.registry_version.set(fresh.version);
    set(&m.registry_age_seconds, fresh.age.as_secs());
    let mut resp = m.render().into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    resp
}
