//! `GET /api/v1/activity`, OpenRouter's shape: usage per UTC day, model and endpoint over the
//! last 30 completed days (or one of them, `date=YYYY-MM-DD`), read from the hourly rollups.
//! A key sees its own activity; the master key sees every key's, or one key's with
//! `api_key_hash` (OpenRouter's filter: the SHA-256 hex of the key) or `key_id` (Switchyard's
//! key id, as the admin API lists it). Requests no provider served are left out (they have no
//! endpoint); `/admin/usage` counts them.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::account::{caller, Caller};
use super::extract::ApiQuery;
use super::{ApiError, AppState};
use crate::types::time::{civil_from_days, parse_rfc3339};
use crate::types::usage::nanos_to_usd;
use crate::types::InvalidRequest;

const DAY_S: i64 = 86_400;
const DAYS: i64 = 30;

#[derive(Deserialize)]
pub struct ActivityQuery {
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    api_key_hash: Option<String>,
    #[serde(default)]
    key_id: Option<String>,
}

fn bad(msg: &str, param: &'static str) -> ApiError {
    ApiError::Invalid(InvalidRequest::new(msg, Some(param), "invalid_value"))
}

/// The UTC day starting at `day_s` (unix seconds) as `YYYY-MM-DD`.
fn date_of(day_s: i64) -> String {
    let (y, m, d) = civil_from_days(day_s.div_euclid(DAY_S));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `[from, to)` in unix seconds: the last 30 completed UTC days, or the one `date` names
/// (which must be one of them).
fn range(date: Option<&str>, now_s: i64) -> Result<(i64, i64), ApiError> {
    let today = now_s.div_euclid(DAY_S) * DAY_S;
    let first = today - DAYS * DAY_S;
    let Some(date) = date.filter(|d| !d.is_empty()) else {
        return Ok((first, today));
    };
    let day = (date.len() == 10)
        .then(|| parse_rfc3339(&format!("{date}T00:00:00Z")))
        .flatten()
        .map(|ms| ms / 1000)
        .ok_or_else(|| bad("`date` is a UTC date, YYYY-MM-DD", "date"))?;
    if day < first || day >= today {
        return Err(bad(
            "`date` must be one of the last 30 completed UTC days",
            "date",
        ));
    }
    Ok((day, day + DAY_S))
}

pub async fn activity(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ActivityQuery>,
) -> Result<Json<Value>, ApiError> {
    let who = caller(&state, &headers).await?;
    let (from, to) = range(q.date.as_deref(), crate::types::now_ms() / 1000)?;
    let snap = state.registry.snapshot();
    let by_hash = match q.api_key_hash.as_deref().filter(|h| !h.is_empty()) {
        Some(h) => Some(
            snap.keys
                .get(&h.to_ascii_lowercase())
                .map(|k| k.id.clone())
                .ok_or_else(|| ApiError::NotFound("No key with this `api_key_hash`".into()))?,
        ),
        None => None,
    };
    let asked = by_hash.or(q.key_id.filter(|k| !k.is_empty()));
    let key = match (&who, asked) {
        (Caller::Master, asked) => asked,
        (Caller::Key(k), None) => Some(k.id.clone()),
        (Caller::Key(k), Some(a)) if a == k.id => Some(a),
        // Another key's activity is not this key's to see, nor whether that key exists.
        (Caller::Key(_), Some(_)) => {
            return Err(ApiError::NotFound("No key with this `api_key_hash`".into()))
        }
    };
    let rows = state.store.activity(from, to, key.as_deref()).await?;
    let data: Vec<Value> = rows
        .iter()
        .filter(|r| !r.provider.is_empty())
        .map(|r| {
            json!({
                "date": date_of(r.day),
                "model": r.model,
                "model_permaslug": r.model,
                // Switchyard's endpoints have no UUIDs: the provider and model name one.
                "endpoint_id": format!("{}/{}", r.provider, r.model),
                "provider_name": r.provider,
                "usage": nanos_to_usd(r.cost_nanos),
                "byok_usage_inference": 0.0,
                "requests": r.requests,
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "reasoning_tokens": r.reasoning_tokens,
            })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_the_last_thirty_completed_days_or_one_of_them() {
        // 2025-08-24T12:00:00Z
        let now = 1_756_036_800;
        let today = 1_755_993_600;
        assert_eq!(date_of(today), "2025-08-24");
        assert_eq!(range(None, now).unwrap(), (today - 30 * DAY_S, today));
        assert_eq!(
            range(Some("2025-08-23"), now).unwrap(),
            (today - DAY_S, today)
        );
        assert!(range(Some("2025-07-25"), now).is_ok());
        for bad in ["2025-08-24", "2025-07-24", "2025-8-1", "yesterday", "2025-02-30"] {
            assert!(range(Some(bad), now).is_err(), "{bad}");
        }
    }
}
