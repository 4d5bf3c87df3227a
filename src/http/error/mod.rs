//! `ApiError`: every error the HTTP layer returns, mapped in one place to a status and, per
//! dialect, to OpenAI's error shape `{"error":{"message","type","param","code"}}` (plus
//! `metadata` where there is structured detail; here), OpenRouter's (`openrouter`) or
//! Anthropic's (`messages::render`). Clients show only `message`, so it names what went
//! wrong, where, and — for upstream failures — the provider, its status and its own reason.

mod openrouter;
mod respond;

pub use openrouter::stream_error_type;
pub use respond::Dialect;

use std::time::Duration;

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;

use crate::accounting::QueueFull;
use crate::auth::AuthError;
use crate::exec::{ExecError, Failure};
use crate::ledger::Refusal;
use crate::providers::ProviderError;
use crate::routing::policy::is_provider_auth_failure;
use crate::routing::preset::PresetError;
use crate::routing::PlanError;
use crate::store::StoreError;
use crate::types::InvalidRequest;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Invalid(#[from] InvalidRequest),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    LogFull(#[from] QueueFull),
    #[error("Request body is larger than the limit of {0} bytes")]
    TooLarge(usize),
    #[error("The request body did not arrive within {0} seconds")]
    BodyTimeout(u64),
    #[error("The gateway is handling its limit of {0} requests at once; retry shortly")]
    Overloaded(usize),
    #[error("No response within the gateway's request timeout of {0} seconds")]
    RequestTimeout(u64),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl From<PresetError> for ApiError {
    fn from(e: PresetError) -> Self {
        match e {
            PresetError::Invalid(i) => ApiError::Invalid(i),
            PresetError::Unknown {
                name,
                param,
                available,
            } => ApiError::Plan(PlanError::UnknownPreset {
                name,
                param,
                available,
            }),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::NotFound(m),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            other => {
                tracing::error!(error = %other, "database error");
                ApiError::Unavailable(
                    "The gateway's database is unavailable; try again shortly".into(),
                )
            }
        }
    }
}

/// The error object inside `{"error": ...}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub message: String,
    #[serde(rename = "type")]
    pub error_type: &'static str,
    pub param: Option<String>,
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

impl ApiError {
    /// Why a request was refused before any upstream was called, as a bounded metrics label.
    pub fn refusal_reason(&self) -> &'static str {
        match self {
            ApiError::Invalid(_) | ApiError::TooLarge(_) | ApiError::BodyTimeout(_) => "invalid",
            ApiError::Auth(_) => "auth",
            ApiError::Plan(PlanError::UnknownModel { .. } | PlanError::UnknownPreset { .. }) => {
                "unknown_model"
            }
            ApiError::Plan(_) => "no_route",
            ApiError::Refused(Refusal::Budget { .. }) => "budget",
            ApiError::Refused(Refusal::RateLimited { .. }) => "rate_limit",
            ApiError::Refused(Refusal::TooLarge { .. }) => "token_limit",
            ApiError::Refused(Refusal::Concurrency { .. }) => "concurrency",
            ApiError::Refused(Refusal::ModelNotAllowed { .. }) => "model_not_allowed",
            ApiError::Refused(_) => "limits_unavailable",
            ApiError::LogFull(_) => "request_log_full",
            _ => "other",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Auth(
                AuthError::AdminDisabled | AuthError::MetricsDisabled | AuthError::CrossSite(_),
            ) => StatusCode::FORBIDDEN,
            ApiError::Auth(AuthError::Throttled(_)) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Auth(_) => StatusCode::UNAUTHORIZED,
            ApiError::Refused(Refusal::Budget { .. }) => StatusCode::PAYMENT_REQUIRED,
            ApiError::Refused(Refusal::ModelNotAllowed { .. }) => StatusCode::FORBIDDEN,
            ApiError::Refused(Refusal::Unavailable | Refusal::LimitsUnavailable) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Refused(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::LogFull(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Plan(PlanError::UnknownModel { .. } | PlanError::UnknownPreset { .. }) => {
                StatusCode::NOT_FOUND
            }
            ApiError::Plan(PlanError::WrongKind { .. } | PlanError::Variant { .. }) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Plan(PlanError::NoEndpoint {
                by_request: true, ..
            }) => StatusCode::NOT_FOUND,
            ApiError::Plan(PlanError::NoEndpoint { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Exec(ExecError::Rejected(f)) => {
                StatusCode::from_u16(f.error.status().unwrap_or(400))
                    .unwrap_or(StatusCode::BAD_REQUEST)
            }
            ApiError::Exec(ExecError::AllFailed(fs, _)) => all_failed_status(fs),
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RequestTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn body(&self) -> ErrorBody {
        let status = self.status();
        let (error_type, param, code, metadata): (&'static str, Option<String>, Option<String>, _) =
            match self {
                ApiError::Invalid(e) => (
                    "invalid_request_error",
                    e.param.map(str::to_owned),
                    Some(e.code.to_owned()),
                    None,
                ),
                ApiError::Auth(AuthError::AdminDisabled) => (
                    "permission_error",
                    None,
                    Some("admin_disabled".into()),
                    None,
                ),
                ApiError::Auth(AuthError::MetricsDisabled) => (
                    "permission_error",
                    None,
                    Some("metrics_disabled".into()),
                    None,
                ),
                ApiError::Auth(AuthError::CrossSite(_)) => {
                    ("permission_error", None, Some("csrf_rejected".into()), None)
                }
                ApiError::Auth(AuthError::Throttled(_)) => (
                    "rate_limit_error",
                    None,
                    Some("too_many_auth_failures".into()),
                    None,
                ),
                ApiError::Auth(e) => (
                    "authentication_error",
                    None,
                    Some(
                        match e {
                            AuthError::Expired(..) => "key_expired",
                            AuthError::Disabled(_) => "key_disabled",
                            _ => "invalid_api_key",
                        }
                        .into(),
                    ),
                    None,
                ),
                ApiError::Refused(r) => {
                    let (t, code) = match r {
                        Refusal::Budget { .. } => ("insufficient_quota", "budget_exceeded"),
                        Refusal::RateLimited { .. } => ("rate_limit_error", "rate_limit_exceeded"),
                        Refusal::TooLarge { .. } => ("rate_limit_error", "tokens_exceeded"),
                        Refusal::Concurrency { .. } => {
                            ("rate_limit_error", "concurrency_limit_exceeded")
                        }
                        Refusal::ModelNotAllowed { .. } => {
                            ("permission_error", "model_not_allowed")
                        }
                        Refusal::Unavailable | Refusal::LimitsUnavailable => {
                            ("service_unavailable_error", "unavailable")
                        }
                    };
                    let metadata = match r {
                        Refusal::Budget {
                            spent_nanos,
                            budget_nanos,
                            reset,
                            resets_at,
                            ..
                        } => Some(json!({
                            "limit": crate::types::usage::nanos_to_usd(*budget_nanos),
                            "usage": crate::types::usage::nanos_to_usd(*spent_nanos),
                            "limit_reset": reset.as_str(),
                            "resets_at": resets_at.map(crate::types::time::format_rfc3339),
                        })),
                        _ => None,
                    };
                    (
                        t,
                        matches!(r, Refusal::ModelNotAllowed { .. }).then(|| "model".to_owned()),
                        Some(code.into()),
                        metadata,
                    )
                }
                ApiError::LogFull(_) => (
                    "service_unavailable_error",
                    None,
                    Some("request_log_full".into()),
                    None,
                ),
                ApiError::BodyTimeout(_) => (
                    "invalid_request_error",
                    None,
                    Some("body_timeout".into()),
                    None,
                ),
                ApiError::Plan(PlanError::UnknownModel { suggestions, .. }) => (
                    "invalid_request_error",
                    Some("model".into()),
                    Some("model_not_found".into()),
                    Some(json!({ "available_models": suggestions })),
                ),
                ApiError::Plan(PlanError::UnknownPreset {
                    param, available, ..
                }) => (
                    "invalid_request_error",
                    Some((*param).into()),
                    Some("preset_not_found".into()),
                    Some(json!({ "available_presets": available })),
                ),
                ApiError::Plan(PlanError::WrongKind { .. }) => (
                    "invalid_request_error",
                    Some("model".into()),
                    Some("wrong_model_kind".into()),
                    None,
                ),
                ApiError::Plan(PlanError::Variant { variant, .. }) => (
                    "invalid_request_error",
                    Some("model".into()),
                    Some("unsupported_variant".into()),
                    Some(json!({ "variant": variant })),
                ),
                ApiError::Plan(PlanError::NoEndpoint {
                    reasons,
                    by_request,
                    ..
                }) => (
                    if *by_request {
                        "invalid_request_error"
                    } else {
                        "service_unavailable_error"
                    },
                    None,
                    Some(
                        if *by_request {
                            "no_endpoints_match"
                        } else {
                            "no_available_provider"
                        }
                        .into(),
                    ),
                    Some(json!({ "reasons": reasons })),
                ),
                ApiError::Exec(ExecError::Rejected(f)) => {
                    let (_, c, p) = match &f.error {
                        ProviderError::Status {
                            error_type,
                            code,
                            param,
                            ..
                        } => (error_type.clone(), code.clone(), param.clone()),
                        _ => (None, None, None),
                    };
                    (
                        "invalid_request_error",
                        p,
                        c.or(Some("upstream_rejected".into())),
                        Some(json!({ "attempts": attempts_json(std::slice::from_ref(&**f)) })),
                    )
                }
                ApiError::Exec(ExecError::AllFailed(fs, _)) => {
                    let (t, code) = match status {
                        StatusCode::TOO_MANY_REQUESTS => {
                            ("rate_limit_error", "rate_limit_exceeded")
                        }
                        StatusCode::GATEWAY_TIMEOUT => ("timeout_error", "upstream_timeout"),
                        StatusCode::BAD_REQUEST => {
                            ("invalid_request_error", "unsupported_parameter")
                        }
                        StatusCode::NOT_FOUND => ("invalid_request_error", "model_not_found"),
                        _ => ("upstream_error", "upstream_error"),
                    };
                    // Every upstream said 404: keep the first one's own code (Azure's
                    // `DeploymentNotFound`, OpenAI's `model_not_found`).
                    let upstream_code = (status == StatusCode::NOT_FOUND)
                        .then(|| {
                            fs.iter().find_map(|f| match &f.error {
                                ProviderError::Status { code, .. } => code.clone(),
                                _ => None,
                            })
                        })
                        .flatten();
                    // Every endpoint refused to translate the request: name the parameter.
                    let param = fs.iter().find_map(|f| match &f.error {
                        ProviderError::Unsupported(e) => e.param.map(str::to_owned),
                        _ => None,
                    });
                    (
                        t,
                        param,
                        Some(upstream_code.unwrap_or_else(|| code.into())),
                        Some(json!({ "attempts": attempts_json(fs) })),
                    )
                }
                ApiError::TooLarge(_) => (
                    "invalid_request_error",
                    None,
                    Some("request_too_large".into()),
                    None,
                ),
                ApiError::Overloaded(_) => (
                    "service_unavailable_error",
                    None,
                    Some("overloaded".into()),
                    None,
                ),
                ApiError::RequestTimeout(_) => {
                    ("timeout_error", None, Some("request_timeout".into()), None)
                }
                ApiError::NotFound(_) => (
                    "invalid_request_error",
                    None,
                    Some("not_found".into()),
                    None,
                ),
                ApiError::MethodNotAllowed(_) => (
                    "invalid_request_error",
                    None,
                    Some("method_not_allowed".into()),
                    None,
                ),
                ApiError::Conflict(_) => {
                    ("invalid_request_error", None, Some("conflict".into()), None)
                }
                ApiError::Unavailable(_) => (
                    "service_unavailable_error",
                    None,
                    Some("unavailable".into()),
                    None,
                ),
                ApiError::Internal(_) => {
                    ("server_error", None, Some("internal_error".into()), None)
                }
            };
        ErrorBody {
            message: self.message(),
            error_type,
            param,
            code,
            metadata,
        }
    }

    pub(crate) fn message(&self) -> String {
        match self {
            ApiError::Exec(ExecError::Rejected(f)) => match &f.error {
                ProviderError::Status {
                    status, message, ..
                } => format!(
                    "Provider `{}` rejected the request for `{}` (HTTP {status}): {message}",
                    f.provider, f.model
                ),
                other => format!("Provider `{}` failed: {other}", f.provider),
            },
            ApiError::Exec(ExecError::AllFailed(fs, skipped)) => {
                if fs.is_empty() {
                    return "No upstream could be tried".into();
                }
                let mut parts: Vec<String> = fs.iter().map(describe_failure).collect();
                parts.extend(skipped.iter().cloned());
                let head = if fs.len() == 1 {
                    "The upstream failed".to_owned()
                } else {
                    format!("All {} upstream attempts failed", fs.len())
                };
                format!("{head}: {}", parts.join("; "))
            }
            other => other.to_string(),
        }
    }

    /// Seconds for `Retry-After`, when every attempt was rate-limited.
    pub(super) fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Refused(r) => r.retry_after(),
            ApiError::Overloaded(_) => Some(Duration::from_secs(1)),
            ApiError::Auth(AuthError::Throttled(secs)) => Some(Duration::from_secs(*secs)),
            ApiError::Exec(ExecError::AllFailed(fs, _))
                if self.status() == StatusCode::TOO_MANY_REQUESTS =>
            {
                fs.iter()
                    .filter_map(|f| match &f.error {
                        ProviderError::Status { retry_after, .. } => *retry_after,
                        _ => None,
                    })
                    .min()
            }
            _ => None,
        }
    }

    /// Every attempt failed because its upstream was overloaded (529).
    pub(super) fn upstreams_overloaded(&self) -> bool {
        match self {
            ApiError::Exec(ExecError::AllFailed(fs, _)) => {
                !fs.is_empty() && fs.iter().all(|f| f.error.status() == Some(529))
            }
            ApiError::Exec(ExecError::Rejected(f)) => f.error.status() == Some(529),
            _ => false,
        }
    }

    /// The JSON error document in OpenAI's shape.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&json!({ "error": self.body() })).unwrap_or_default()
    }
}

fn describe_failure(f: &Failure) -> String {
    let what = match &f.error {
        e if is_provider_auth_failure(e) => format!(
            "{e} — the provider rejected Switchyard's API key for `{}`; check its key",
            f.provider
        ),
        e => e.to_string(),
    };
    format!("{} via {}: {what}", f.model, f.provider)
}

fn attempts_json(fs: &[Failure]) -> serde_json::Value {
    fs.iter()
        .map(|f| {
            json!({
                "model": f.model,
                "provider": f.provider,
                "kind": f.error.kind(),
                "status": f.error.status(),
                "message": f.error.to_string(),
            })
        })
        .collect()
}

fn all_failed_status(fs: &[Failure]) -> StatusCode {
    if fs.is_empty() {
        return StatusCode::BAD_GATEWAY;
    }
    if fs
        .iter()
        .all(|f| matches!(f.error, ProviderError::Unsupported(_)))
    {
        StatusCode::BAD_REQUEST
    } else if fs.iter().all(|f| f.error.status() == Some(429)) {
        StatusCode::TOO_MANY_REQUESTS
    } else if fs.iter().all(|f| f.error.status() == Some(404)) {
        StatusCode::NOT_FOUND
    } else if fs
        .iter()
        .all(|f| matches!(f.error, ProviderError::Timeout(_)))
    {
        StatusCode::GATEWAY_TIMEOUT
    } else {
        StatusCode::BAD_GATEWAY
    }
}
