//! `GET /v1/health`: the truth about serving. `ok` (200); `degraded` (200: requests are
//! served, but records wait in the queue because the database cannot take them, or the
//! registry has not been refreshed for a while); `unavailable` (503: the request log is
//! full, so new requests are refused); `draining` (503: shutting down, send no new work).
//! Unauthenticated, so it names states, never errors.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

use super::AppState;
use crate::store::StoreError;

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (db_ok, db_detail) = match state.store.ping().await {
        Ok(()) => (true, "ok"),
        Err(StoreError::Timeout(_)) => (false, "timed out"),
        Err(_) => (false, "unreachable"),
    };
    let log = &state.recorder.health;
    // Finished records not yet in the database (queued or in the writer's hands).
    let backlog = state.recorder.pending.len();
    let capacity = state.recorder.capacity();
    let failing_since = log.failing_since();
    let log_full = state.recorder.queue_used() >= capacity;
    let log_ok = failing_since.is_none() && !log_full;

    let fresh = state.registry.freshness();
    let stale_after = (state.settings.routing.registry_refresh * 5).max(Duration::from_secs(10));
    let registry_ok = fresh.age <= stale_after;
    let snap = state.registry.snapshot();
    let active = snap
        .providers
        .values()
        .filter(|p| p.adapter.is_some())
        .count();

    let status = if state.lifecycle.draining.is_cancelled() {
        "draining"
    } else if log_full {
        "unavailable"
    } else if db_ok && log_ok && registry_ok {
        "ok"
    } else {
        "degraded"
    };
    let code = if matches!(status, "unavailable" | "draining") {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        code,
        Json(json!({
            "status": status,
            "database": { "ok": db_ok, "backend": state.store.backend(), "detail": db_detail },
            "request_log": {
                "ok": log_ok,
                "backlog": backlog,
                "queue_used": state.recorder.queue_used(),
                "capacity": capacity,
                "failing_since": failing_since.map(crate::types::time::format_rfc3339),
                "written": log.written.load(Ordering::Relaxed),
                "dead_lettered": log.dead_lettered.load(Ordering::Relaxed),
                "lost": log.lost.load(Ordering::Relaxed),
                "refused_requests": log.refused.load(Ordering::Relaxed),
            },
            "registry": {
                "ok": registry_ok,
                "version": fresh.version,
                "models": snap.slugs.len(),
                "active_providers": active,
                "age_secs": fresh.age.as_secs(),
                "last_refresh_error": fresh.last_error,
            },
        })),
    )
}
