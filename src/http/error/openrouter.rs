//! OpenRouter's error shape, for requests under `/api/v1`:
//! `{"error":{"code":<HTTP status>,"message":...,"metadata":{...}}}`.
//!
//! Its SDKs parse `code` as an integer and raise a typed error per status. `metadata`
//! carries `error_type` (OpenRouter's canonical, format-independent error type), for
//! provider errors the serving provider (`provider_name`) and the upstream's own message
//! (`raw`), and whatever structured detail the OpenAI shape carries (`attempts`,
//! `available_models`, budget figures), plus the gateway's own string code
//! (`switchyard_code`) so nothing the `/v1` dialect tells is lost here.

use serde_json::{json, Map, Value};

use super::ApiError;
use crate::auth::AuthError;
use crate::exec::{ExecError, Failure};
use crate::ledger::Refusal;
use crate::providers::ProviderError;
use crate::routing::PlanError;

/// The JSON error document.
pub fn body(e: &ApiError, status: u16) -> Vec<u8> {
    let openai = e.body();
    let mut metadata = match openai.metadata {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    metadata.insert("error_type".into(), error_type(e, status).into());
    if let Some(code) = openai.code {
        metadata.insert("switchyard_code".into(), code.into());
    }
    if let Some(param) = openai.param {
        metadata.insert("param".into(), param.into());
    }
    if let Some(f) = provider_failure(e) {
        metadata.insert("provider_name".into(), f.provider.clone().into());
        let raw = match &f.error {
            ProviderError::Status { message, .. } => message.clone(),
            other => other.to_string(),
        };
        metadata.insert("raw".into(), raw.into());
    }
    let doc = json!({
        "error": {
            "code": status,
            "message": openai.message,
            "metadata": metadata,
        }
    });
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// The failure that speaks for a provider error: the one rejection, or the last attempt.
fn provider_failure(e: &ApiError) -> Option<&Failure> {
    match e {
        ApiError::Exec(ExecError::Rejected(f)) => Some(f),
        ApiError::Exec(ExecError::AllFailed(fs, _)) => fs.last(),
        _ => None,
    }
}

/// OpenRouter's `ApiErrorType` for an error answered with `status`.
pub fn error_type(e: &ApiError, status: u16) -> &'static str {
    match e {
        ApiError::Invalid(_) | ApiError::MethodNotAllowed(_) | ApiError::Conflict(_) => {
            "invalid_request"
        }
        ApiError::Auth(
            AuthError::AdminDisabled | AuthError::MetricsDisabled | AuthError::CrossSite(_),
        ) => "permission_denied",
        ApiError::Auth(AuthError::Throttled(_)) => "rate_limit_exceeded",
        ApiError::Auth(_) => "authentication",
        ApiError::Refused(r) => match r {
            Refusal::Budget { .. } => "payment_required",
            Refusal::TooLarge { .. } => "token_limit_exceeded",
            Refusal::ModelNotAllowed { .. } => "permission_denied",
            Refusal::Unavailable | Refusal::LimitsUnavailable => "server",
            Refusal::RateLimited { .. } | Refusal::Concurrency { .. } => "rate_limit_exceeded",
        },
        ApiError::Plan(PlanError::WrongKind { .. } | PlanError::Variant { .. }) => {
            "invalid_request"
        }
        ApiError::Plan(PlanError::UnknownModel { .. } | PlanError::UnknownPreset { .. }) => {
            "not_found"
        }
        ApiError::Plan(PlanError::NoEndpoint { by_request, .. }) => {
            if *by_request {
                "not_found"
            } else {
                "provider_unavailable"
            }
        }
        ApiError::Exec(_) if e.upstreams_overloaded() => "provider_overloaded",
        ApiError::Exec(ExecError::AllFailed(fs, _))
            if !fs.is_empty() && fs.iter().all(|f| f.error.status().is_none()) =>
        {
            // Nothing answered with a status: connections, timeouts, cut streams.
            if fs
                .iter()
                .all(|f| matches!(f.error, ProviderError::Timeout(_)))
            {
                "timeout"
            } else if fs
                .iter()
                .all(|f| matches!(f.error, ProviderError::Unsupported(_)))
            {
                "invalid_request"
            } else {
                "provider_unavailable"
            }
        }
        ApiError::Exec(_) => by_status(status),
        ApiError::TooLarge(_) => "payload_too_large",
        ApiError::BodyTimeout(_) | ApiError::RequestTimeout(_) => "timeout",
        ApiError::NotFound(_) => "not_found",
        ApiError::LogFull(_)
        | ApiError::Overloaded(_)
        | ApiError::Unavailable(_)
        | ApiError::Internal(_) => "server",
    }
}

/// The error type of a failure known only by its status (mid-stream failures, upstream
/// answers).
pub fn stream_error_type(status: u16) -> &'static str {
    by_status(status)
}

fn by_status(status: u16) -> &'static str {
    match status {
        400 => "invalid_request",
        401 => "authentication",
        402 => "payment_required",
        403 => "permission_denied",
        404 => "not_found",
        408 | 504 => "timeout",
        412 => "precondition_failed",
        413 => "payload_too_large",
        422 => "unprocessable",
        429 => "rate_limit_exceeded",
        529 => "provider_overloaded",
        502 | 503 => "provider_unavailable",
        500..=599 => "server",
        _ => "unmapped",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(e: &ApiError) -> Value {
        serde_json::from_slice(&body(e, e.status().as_u16())).unwrap()
    }

    fn failure(status: u16, message: &str) -> Failure {
        Failure {
            model: "openai/gpt-4o".into(),
            provider: "openai".into(),
            error: ProviderError::Status {
                status,
                message: message.into(),
                error_type: None,
                code: Some("upstream_code".into()),
                param: None,
                retry_after: None,
            },
        }
    }

    #[test]
    fn code_is_the_http_status_and_details_move_to_metadata() {
        let e = ApiError::Plan(PlanError::UnknownModel {
            name: "nope/x".into(),
            suggestions: vec!["mock/echo".into()],
        });
        let v = doc(&e);
        assert_eq!(v["error"]["code"], 404);
        assert!(v["error"]["message"].as_str().unwrap().contains("nope/x"));
        assert_eq!(v["error"]["metadata"]["error_type"], "not_found");
        assert_eq!(v["error"]["metadata"]["switchyard_code"], "model_not_found");
        assert_eq!(v["error"]["metadata"]["available_models"][0], "mock/echo");
        assert!(v["error"].get("type").is_none());
    }

    #[test]
    fn provider_errors_name_the_provider_and_keep_its_message() {
        let e = ApiError::Exec(ExecError::Rejected(Box::new(failure(
            400,
            "max_tokens is too large",
        ))));
        let v = doc(&e);
        assert_eq!(v["error"]["code"], 400);
        assert_eq!(v["error"]["metadata"]["provider_name"], "openai");
        assert_eq!(v["error"]["metadata"]["raw"], "max_tokens is too large");
        assert_eq!(v["error"]["metadata"]["error_type"], "invalid_request");
        let all = ApiError::Exec(ExecError::AllFailed(
            vec![failure(529, "Overloaded"), failure(529, "Overloaded")],
            Vec::new(),
        ));
        let v = doc(&all);
        assert_eq!(v["error"]["code"], 502);
        assert_eq!(v["error"]["metadata"]["error_type"], "provider_overloaded");
        assert_eq!(
            v["error"]["metadata"]["attempts"].as_array().unwrap().len(),
            2
        );
    }

    #[test]
    fn every_status_maps_to_a_known_type() {
        for s in 400..=599 {
            assert!(!by_status(s).is_empty());
        }
        assert_eq!(by_status(418), "unmapped");
    }
}
