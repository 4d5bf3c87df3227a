//! Anthropic failures as `ProviderError`s: HTTP error bodies and in-stream `error` events keep
//! the upstream's status, `error.type` and message (plus its request id, for support tickets);
//! `routing::policy` decides what falls back.

use std::time::Duration;

use super::wire::{ErrorBody, ErrorDetail};
use crate::providers::http;
use crate::providers::ProviderError;

/// The HTTP status Anthropic uses for each error type, for errors that arrive inside a stream
/// (where the HTTP status was already 200).
pub fn status_for_type(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "api_error" => 500,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 502,
    }
}

fn status(
    status: u16,
    detail: ErrorDetail,
    request_id: Option<&str>,
    retry_after: Option<Duration>,
) -> ProviderError {
    let mut message = if detail.message.trim().is_empty() {
        format!("{} (no message)", detail.kind)
    } else {
        detail.message
    };
    if let Some(id) = request_id {
        message.push_str(&format!(" (request id {id})"));
    }
    ProviderError::Status {
        status,
        message,
        error_type: (!detail.kind.is_empty()).then_some(detail.kind),
        code: None,
        param: None,
        retry_after,
    }
}

/// An error status with its body. Bodies that are not Anthropic-shaped (a proxy's HTML page,
/// say) go through the shared parser, which keeps a bounded excerpt as the message.
pub fn from_body(
    code: u16,
    body: &[u8],
    request_id: Option<&str>,
    retry_after: Option<Duration>,
) -> ProviderError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => {
            let id = b.request_id.as_deref().or(request_id);
            status(code, b.error, id, retry_after)
        }
        Err(_) => http::status_error(code, body, retry_after),
    }
}

/// An `error` event inside a stream: the status is the one the error type has over HTTP.
pub fn from_event(detail: ErrorDetail) -> ProviderError {
    status(status_for_type(&detail.kind), detail, None, None)
}

/// Turns a non-success response into a `Status` error, reading at most 64 KiB of its body.
pub async fn from_response(resp: reqwest::Response) -> ProviderError {
    let code = resp.status().as_u16();
    let retry = http::retry_after(resp.headers());
    let request_id = resp
        .headers()
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = http::error_body(resp).await;
    from_body(code, &body, request_id.as_deref(), retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_bodies_keep_type_message_and_request_id() {
        let e = from_body(
            400,
            br#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"},"request_id":"req_1"}"#,
            None,
            None,
        );
        match e {
            ProviderError::Status {
                status,
                message,
                error_type,
                ..
            } => {
                assert_eq!(status, 400);
                assert_eq!(message, "max_tokens: Field required (request id req_1)");
                assert_eq!(error_type.as_deref(), Some("invalid_request_error"));
            }
            e => panic!("{e:?}"),
        }
        let e = from_body(
            529,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            Some("req_h"),
            Some(Duration::from_secs(3)),
        );
        match e {
            ProviderError::Status {
                status,
                message,
                retry_after,
                ..
            } => {
                assert_eq!(
                    (status, message.as_str()),
                    (529, "Overloaded (request id req_h)")
                );
                assert_eq!(retry_after, Some(Duration::from_secs(3)));
            }
            e => panic!("{e:?}"),
        }
        assert!(matches!(
            from_body(413, b"<html>too big</html>", None, None),
            ProviderError::Status { status: 413, ref message, .. } if message == "<html>too big</html>"
        ));
    }

    #[test]
    fn stream_errors_take_the_status_of_their_type() {
        let e = from_event(ErrorDetail {
            kind: "overloaded_error".into(),
            message: "Overloaded".into(),
        });
        assert_eq!(e.status(), Some(529));
        assert_eq!(status_for_type("rate_limit_error"), 429);
        assert_eq!(status_for_type("api_error"), 500);
        assert_eq!(status_for_type("something_new"), 502);
    }
}
