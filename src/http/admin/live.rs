//! `GET /admin/endpoints`: every endpoint's live figures on this replica, for dashboards.
//! Every endpoint the registry declares (enabled or not) is listed, plus any other that had
//! traffic in the last day (one since removed from the registry), sorted by provider then
//! model. The figures are the catalog's (`routing::window`), without its anonymous-caller
//! restriction: the master key sees everything.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::http::{ApiError, AppState};
use crate::routing::window::Figures;

pub async fn list_endpoints(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let now = crate::types::now_ms();
    let mut rows: BTreeMap<(String, String), Figures> =
        s.stats.windows.all(now).into_iter().collect();
    let snap = s.registry.snapshot();
    for m in snap.models.values() {
        for e in &m.decl.endpoints {
            rows.entry((e.provider.clone(), m.decl.slug.clone()))
                .or_default();
        }
    }
    let data: Vec<Value> = rows
        .into_iter()
        .map(|((provider, model), f)| {
            json!({
                "provider": provider,
                "model": model,
                "status": f.status,
                "latency_last_30m": f.latency_last_30m,
                "throughput_last_30m": f.throughput_last_30m,
                "uptime_last_5m": f.uptime_last_5m,
                "uptime_last_30m": f.uptime_last_30m,
                "uptime_last_1d": f.uptime_last_1d,
                "requests_last_30m": f.requests_last_30m,
            })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}
