//! Gemini errors → `ProviderError::Status`. Google's error body is `google.rpc.Status` in JSON:
//! `{"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED","details":[...]}}`.
//! The upstream's message is kept as the message, its `status` as the error type, and the
//! most specific reason (`ErrorInfo.reason`, else `status`) as the code.
//!
//! Statuses are adjusted where Google's differ from what they mean for routing:
//! * an invalid or expired API key arrives as 400 `INVALID_ARGUMENT` with reason
//!   `API_KEY_INVALID` (or another `API_KEY_*` reason); it is the gateway's credential, not the client's request, so it
//!   becomes 401 (falls back, reported as a provider-key problem);
//! * 400 `FAILED_PRECONDITION` (billing not enabled, region not served) is the provider
//!   account's state, not the request's: 502, which falls back.

use std::time::Duration;

use super::wire::{ErrorBody, ErrorEnvelope};
use crate::providers::{http, ProviderError};

/// An error response (non-2xx status).
pub fn from_response(status: u16, body: &[u8], retry_after: Option<Duration>) -> ProviderError {
    match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(env) => from_body(status, env.error, retry_after),
        // Not Google's JSON (a proxy's HTML page, say): the shared parser keeps the text.
        Err(_) => http::status_error(status, body, retry_after),
    }
}

/// An error object found inside a 200 body or a stream event; its own `code` is the status.
pub fn in_band(error: ErrorBody) -> ProviderError {
    let status = error
        .code
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..=599).contains(c))
        .unwrap_or(502);
    from_body(status, error, None)
}

fn from_body(http_status: u16, e: ErrorBody, retry_after: Option<Duration>) -> ProviderError {
    let reason = e.details.iter().find_map(|d| d.reason.clone());
    let key_problem = reason.as_deref().is_some_and(|r| r.starts_with("API_KEY_"));
    let status = match e.status.as_deref() {
        // `API_KEY_INVALID`, `API_KEY_EXPIRED`, ... sent as 400 (403s stay 403).
        _ if key_problem && http_status == 400 => 401,
        Some("UNAUTHENTICATED") => 401,
        Some("FAILED_PRECONDITION") => 502,
        _ => http_status,
    };
    let retry_after = retry_after.or_else(|| {
        e.details
            .iter()
            .find_map(|d| d.retry_delay.as_deref().and_then(parse_duration))
    });
    ProviderError::Status {
        status,
        message: e.message.unwrap_or_else(|| "no message".into()),
        code: reason.or_else(|| e.status.clone()),
        error_type: e.status,
        param: None,
        retry_after,
    }
}

/// A protobuf JSON Duration: decimal seconds with an `s` suffix.
fn parse_duration(s: &str) -> Option<Duration> {
    let secs: f64 = s.strip_suffix('s')?.parse().ok()?;
    // Bounded: a `retryDelay` of "1e30s" must not panic the gateway.
    if secs.is_finite() && secs >= 0.0 {
        crate::types::bounded_secs(secs)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_retry_delays_never_panic() {
        assert_eq!(parse_duration("1e30s"), Some(crate::types::MAX_DELAY));
        assert_eq!(parse_duration("infs"), None);
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("2.5s"), Some(Duration::from_millis(2500)));
    }

    fn parts(
        e: ProviderError,
    ) -> (
        u16,
        String,
        Option<String>,
        Option<String>,
        Option<Duration>,
    ) {
        match e {
            ProviderError::Status {
                status,
                message,
                error_type,
                code,
                retry_after,
                ..
            } => (status, message, error_type, code, retry_after),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_key_is_a_provider_auth_failure() {
        let body = br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}]}}"#;
        let (status, message, error_type, code, _) = parts(from_response(400, body, None));
        assert_eq!(status, 401);
        assert_eq!(message, "API key not valid. Please pass a valid API key.");
        assert_eq!(error_type.as_deref(), Some("INVALID_ARGUMENT"));
        assert_eq!(code.as_deref(), Some("API_KEY_INVALID"));
    }

    #[test]
    fn rate_limits_carry_the_retry_delay() {
        let body = br#"{"error":{"code":429,"message":"You exceeded your current quota.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"m"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17s"}]}}"#;
        let (status, _, error_type, code, retry) = parts(from_response(429, body, None));
        assert_eq!((status, retry), (429, Some(Duration::from_secs(17))));
        assert_eq!(error_type.as_deref(), Some("RESOURCE_EXHAUSTED"));
        assert_eq!(code.as_deref(), Some("RESOURCE_EXHAUSTED"));
        // A Retry-After header wins.
        let (_, _, _, _, retry) = parts(from_response(429, body, Some(Duration::from_secs(2))));
        assert_eq!(retry, Some(Duration::from_secs(2)));
    }

    #[test]
    fn statuses_keep_their_meaning() {
        for (http_status, status, expect) in [
            (400, "INVALID_ARGUMENT", 400),
            (400, "FAILED_PRECONDITION", 502),
            (403, "PERMISSION_DENIED", 403),
            (404, "NOT_FOUND", 404),
            (500, "INTERNAL", 500),
            (503, "UNAVAILABLE", 503),
            (504, "DEADLINE_EXCEEDED", 504),
        ] {
            let body = format!(
                r#"{{"error":{{"code":{http_status},"message":"m","status":"{status}"}}}}"#
            );
            assert_eq!(
                parts(from_response(http_status, body.as_bytes(), None)).0,
                expect,
                "{status}"
            );
        }
        let (status, message, ..) = parts(from_response(502, b"<html>bad gateway</html>", None));
        assert_eq!(
            (status, message.as_str()),
            (502, "<html>bad gateway</html>")
        );
    }

    #[test]
    fn in_band_errors_use_their_code() {
        let e = ErrorBody {
            code: Some(503),
            message: Some("The model is overloaded. Please try again later.".into()),
            status: Some("UNAVAILABLE".into()),
            details: vec![],
        };
        assert_eq!(parts(in_band(e)).0, 503);
        assert_eq!(parts(in_band(ErrorBody::default())).0, 502);
    }
}
