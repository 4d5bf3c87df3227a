//! `/admin/keys`: create (idempotent with `Idempotency-Key`), list, show with spend, update
//! and revoke gateway keys. Every change reaches this replica's snapshot at once and the
//! others through the registry version (and, on PostgreSQL, a notification).

use crate::http::extract::ApiPath;
use crate::types::keys::check_key_name;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};

use super::{invalid, json_body};
use crate::auth;
use crate::http::{ApiError, AppState};
use crate::store::{KeyRow, NewKeyRow, SpendTotals};
use crate::types::keys::{BudgetReset, KeyChange, KeyPolicy};
use crate::types::now_ms;
use crate::types::time::format_rfc3339;
use crate::types::usage::nanos_to_usd;

/// A key as the admin API shows it (never the key itself), with its spend when known.
pub fn key_view(k: &KeyRow, spend: Option<&SpendTotals>, reserved_nanos: i64) -> Value {
    let p = &k.policy;
    let mut v = json!({
        "id": k.id,
        "name": k.name,
        "prefix": k.key_prefix,
        "created_at": k.created_at,
        "updated_at": k.updated_at,
        "revoked_at": k.revoked_at,
        "disabled": p.disabled,
        "budget_usd": p.budget_nanos.map(nanos_to_usd),
        "budget_reset": p.budget_reset.as_str(),
        "rpm": p.rpm,
        "tpm": p.tpm,
        "max_concurrency": p.max_concurrency,
        "allowed_models": p.allowed_models,
        "expires_at": p.expires_at.map(format_rfc3339),
        "metadata": p.metadata,
        "capture_content": p.capture_content,
    });
    if let Some(s) = spend {
        let period = period_spend(p, s);
        v["spend"] = json!({
            "total_usd": nanos_to_usd(s.total),
            "daily_usd": nanos_to_usd(s.daily),
            "weekly_usd": nanos_to_usd(s.weekly),
            "monthly_usd": nanos_to_usd(s.monthly),
            "period_usd": nanos_to_usd(period),
            "requests": s.requests,
        });
        v["reserved_usd"] = json!(nanos_to_usd(reserved_nanos));
        v["remaining_usd"] = json!(p
            .budget_nanos
            .map(|b| nanos_to_usd((b - period - reserved_nanos).max(0))));
    }
    v
}

/// What the key spent in its current budget period.
pub fn period_spend(p: &KeyPolicy, s: &SpendTotals) -> i64 {
    match p.budget_reset {
        BudgetReset::Never => s.total,
        BudgetReset::Daily => s.daily,
        BudgetReset::Weekly => s.weekly,
        BudgetReset::Monthly => s.monthly,
    }
}

fn bad_change((field, problem): (&'static str, String)) -> ApiError {
    invalid(format!("`{field}` {problem}"), Some(field))
}

/// `POST /admin/keys`. With an `Idempotency-Key` header, a retried request returns the key
/// the first one created (200 instead of 201) rather than making another.
pub async fn create_key(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let change: KeyChange = json_body(body).await?;
    let name = change.name.as_deref().map(str::trim).unwrap_or_default();
    check_key_name(name).map_err(|e| invalid(e, Some("name")))?;
    let mut policy = KeyPolicy::default();
    change.apply(&mut policy).map_err(bad_change)?;
    let token = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 255);
    let new = match (token, &s.settings.master_key) {
        (Some(t), Some(master)) => auth::derive_key(master.expose(), t),
        _ => auth::generate_key(),
    };
    let (row, created) = s
        .store
        .create_key(&NewKeyRow {
            id: &new.id,
            name,
            key_hash: &new.hash,
            key_prefix: &new.prefix,
            policy: &policy,
            idempotency_key: token,
        })
        .await?;
    // The key is in the database: from here on a failure must not look like "not created".
    if let Err(e) = s.registry.reload().await {
        tracing::warn!(error = %e, "registry reload after creating a key failed; it is looked up on first use");
    }
    let mut v = key_view(&row, None, 0);
    if row.key_hash == new.hash {
        v["key"] = json!(new.key);
        v["note"] = json!("Store this key now: it is shown only once.");
    } else {
        // Created before under this Idempotency-Key with another master key.
        v["key"] = Value::Null;
        v["note"] = json!(
            "This Idempotency-Key created this key earlier; the key itself cannot be shown again."
        );
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(v)))
}

pub async fn list_keys(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let keys = s.store.list_keys().await?;
    let spend = crate::accounting::spend::by_key(&s.store, &s.recorder.pending, now_ms()).await?;
    let zero = SpendTotals::default();
    let data: Vec<Value> = keys
        .iter()
        .map(|k| {
            key_view(
                k,
                Some(spend.get(&k.id).unwrap_or(&zero)),
                s.ledger.reserved_nanos(&k.id),
            )
        })
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}

pub async fn show_key(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let k = s
        .store
        .get_key(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no key `{id}`")))?;
    let spend =
        crate::accounting::spend::totals(&s.store, &s.recorder.pending, Some(&id), now_ms())
            .await?;
    Ok(Json(key_view(
        &k,
        Some(&spend),
        s.ledger.reserved_nanos(&id),
    )))
}

/// `PATCH /admin/keys/{id}`: absent fields stay, `null` clears a limit.
pub async fn update_key(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let change: KeyChange = json_body(body).await?;
    let k = s
        .store
        .get_key(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no key `{id}`")))?;
    let name = match change.name.as_deref().map(str::trim) {
        Some(n) => {
            check_key_name(n).map_err(|e| invalid(e, Some("name")))?;
            n.to_owned()
        }
        None => k.name.clone(),
    };
    let mut policy = k.policy.clone();
    change.apply(&mut policy).map_err(bad_change)?;
    let row = s.store.update_key(&id, &name, &policy).await?;
    if let Err(e) = s.registry.reload().await {
        tracing::warn!(error = %e, "registry reload after a key change failed; it arrives with the next refresh");
    }
    Ok(Json(key_view(&row, None, 0)))
}

pub async fn revoke_key(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let row = s.store.revoke_key(&id).await?;
    s.registry.reload().await?;
    Ok(Json(key_view(&row, None, 0)))
}
