//! `GET /v1/health`: 200 when the database answers and the registry is loaded, else 503,
//! with a small JSON body saying which.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::AppState;

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let db = tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await;
    let (db_ok, db_detail) = match db {
        Ok(Ok(())) => (true, "ok".to_owned()),
        Ok(Err(e)) => (false, e.to_string()),
        Err(_) => (false, "timed out after 2s".to_owned()),
    };
    let snap = state.registry.snapshot();
    let active = snap
        .providers
        .values()
        .filter(|p| p.adapter.is_some())
        .count();
    let ok = db_ok;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ok { "ok" } else { "unavailable" },
            "database": { "ok": db_ok, "backend": state.store.backend(), "detail": db_detail },
            "registry": {
                "ok": true,
                "version": snap.version,
                "models": snap.slugs.len(),
                "active_providers": active,
                "age_secs": snap.loaded_at.elapsed().as_secs(),
            },
        })),
    )
}
