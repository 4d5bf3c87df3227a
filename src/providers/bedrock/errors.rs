//! Bedrock failures as `ProviderError`s. HTTP errors carry `{"message": …}` with the error
//! class in the `x-amzn-errortype` header (`ThrottlingException:http://internal.amazon.com/…`);
//! stream exceptions carry it in `:exception-type` (`throttlingException`). Both keep the
//! upstream's message, class and request id; the status is the class's own, except where the
//! gateway's routing needs another meaning (below). `routing::policy` decides what falls back.

use std::time::Duration;

use super::wire::ErrorBody;
use crate::providers::http;
use crate::providers::ProviderError;

/// The status for an error class (capitalised or not), given the HTTP status it came with
/// (200 for stream exceptions).
///
/// Deviations from Bedrock's own statuses: `ModelErrorException` (424, the model failed) is
/// 502 and `ModelStreamErrorException` 500, transient upstream failures;
/// `ServiceQuotaExceededException` (400) is 429, a limit of the gateway's AWS account rather
/// than a fault of the request.
pub fn status_for(kind: &str, http_status: u16) -> u16 {
    let class = kind.split(':').next().unwrap_or(kind).trim();
    let mut lower = class.to_owned();
    if let Some(first) = lower.get_mut(..1) {
        first.make_ascii_lowercase();
    }
    match lower.as_str() {
        "validationException" => 400,
        "accessDeniedException" | "unrecognizedClientException" | "expiredTokenException" => 403,
        "resourceNotFoundException" => 404,
        "modelTimeoutException" => 408,
        "throttlingException" | "modelNotReadyException" | "serviceQuotaExceededException" => 429,
        "internalServerException" | "modelStreamErrorException" => 500,
        "modelErrorException" => 502,
        "serviceUnavailableException" => 503,
        _ if (400..=599).contains(&http_status) && http_status != 424 => http_status,
        _ => 502,
    }
}

/// The error class without the header's namespace suffix.
fn class(kind: &str) -> &str {
    kind.split(':').next().unwrap_or(kind).trim()
}

fn status_error(
    status: u16,
    kind: Option<&str>,
    message: Option<String>,
    request_id: Option<&str>,
    retry_after: Option<Duration>,
) -> ProviderError {
    let kind = kind.map(class).filter(|k| !k.is_empty());
    let mut message = match message.filter(|m| !m.trim().is_empty()) {
        Some(m) => m,
        None => format!("{} (no message)", kind.unwrap_or("error")),
    };
    match (kind, request_id) {
        (Some(k), Some(id)) => message.push_str(&format!(" ({k}, request id {id})")),
        (Some(k), None) => message.push_str(&format!(" ({k})")),
        (None, Some(id)) => message.push_str(&format!(" (request id {id})")),
        (None, None) => {}
    }
    ProviderError::Status {
        status,
        message,
        error_type: kind.map(str::to_owned),
        code: None,
        param: None,
        retry_after,
    }
}

/// An error response: status, `x-amzn-errortype`, body, `x-amzn-requestid`.
pub fn from_parts(
    http_status: u16,
    error_type: Option<&str>,
    body: &[u8],
    request_id: Option<&str>,
    retry_after: Option<Duration>,
) -> ProviderError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    match (parsed, error_type) {
        (Some(b), _) if b.message.is_some() || error_type.is_some() => {
            let status = match error_type {
                Some(k) => status_for(k, http_status),
                None => status_for("", http_status),
            };
            status_error(status, error_type, b.message, request_id, retry_after)
        }
        // Not a Bedrock body (a proxy's page, say): keep a bounded excerpt.
        _ => {
            let status = status_for(error_type.unwrap_or(""), http_status);
            match http::status_error(status, body, retry_after) {
                ProviderError::Status {
                    status, message, ..
                } => status_error(status, error_type, Some(message), request_id, retry_after),
                other => other,
            }
        }
    }
}

/// An exception message inside a stream.
pub fn from_exception(kind: &str, message: &str) -> ProviderError {
    status_error(
        status_for(kind, 200),
        Some(kind),
        Some(message.to_owned()),
        None,
        None,
    )
}

/// Turns a non-success response into a `Status` error, reading at most 64 KiB of its body.
pub async fn from_response(resp: reqwest::Response) -> ProviderError {
    let status = resp.status().as_u16();
    let retry = http::retry_after(resp.headers());
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let error_type = header("x-amzn-errortype");
    let request_id = header("x-amzn-requestid");
    let body = http::error_body(resp).await;
    from_parts(
        status,
        error_type.as_deref(),
        &body,
        request_id.as_deref(),
        retry,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(e: ProviderError) -> (u16, String, Option<String>) {
        match e {
            ProviderError::Status {
                status,
                message,
                error_type,
                ..
            } => (status, message, error_type),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn http_errors_keep_class_message_and_request_id() {
        let (status, message, kind) = parts(from_parts(
            400,
            Some("ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
            br#"{"message":"The model returned the following errors: max_tokens: 1 is too small"}"#,
            Some("rid-1"),
            None,
        ));
        assert_eq!(status, 400);
        assert_eq!(
            message,
            "The model returned the following errors: max_tokens: 1 is too small (ValidationException, request id rid-1)"
        );
        assert_eq!(kind.as_deref(), Some("ValidationException"));
        let (status, message, _) = parts(from_parts(
            403,
            Some("UnrecognizedClientException"),
            br#"{"Message":"The security token included in the request is invalid."}"#,
            None,
            None,
        ));
        assert_eq!(status, 403);
        assert!(message.starts_with("The security token"), "{message}");
    }

    #[test]
    fn statuses_follow_the_error_class() {
        for (kind, http_status, want) in [
            ("ThrottlingException", 429, 429),
            ("ModelNotReadyException", 429, 429),
            ("ServiceQuotaExceededException", 400, 429),
            ("ServiceUnavailableException", 503, 503),
            ("AccessDeniedException", 403, 403),
            ("ResourceNotFoundException", 404, 404),
            ("ModelTimeoutException", 408, 408),
            ("ModelErrorException", 424, 502),
            ("InternalServerException", 500, 500),
            ("SomethingNewException", 418, 418),
            ("SomethingNewException", 424, 502),
        ] {
            assert_eq!(status_for(kind, http_status), want, "{kind}");
        }
        let e = from_parts(
            429,
            Some("ThrottlingException"),
            br#"{"message":"Too many requests, please wait before trying again."}"#,
            None,
            Some(Duration::from_secs(2)),
        );
        assert!(matches!(
            e,
            ProviderError::Status { status: 429, retry_after: Some(d), .. } if d == Duration::from_secs(2)
        ));
    }

    #[test]
    fn stream_exceptions_take_the_status_of_their_class() {
        for (kind, want) in [
            ("throttlingException", 429),
            ("serviceUnavailableException", 503),
            ("modelStreamErrorException", 500),
            ("internalServerException", 500),
            ("validationException", 400),
            ("modelTimeoutException", 408),
            ("unknownException", 502),
        ] {
            assert_eq!(from_exception(kind, "x").status(), Some(want), "{kind}");
        }
        let (_, message, kind) = parts(from_exception("throttlingException", "slow down"));
        assert_eq!(message, "slow down (throttlingException)");
        assert_eq!(kind.as_deref(), Some("throttlingException"));
    }

    #[test]
    fn foreign_bodies_keep_an_excerpt() {
        let (status, message, kind) = parts(from_parts(
            502,
            None,
            b"<html>bad gateway</html>",
            None,
            None,
        ));
        assert_eq!(
            (status, message.as_str(), kind),
            (502, "<html>bad gateway</html>", None)
        );
    }
}
