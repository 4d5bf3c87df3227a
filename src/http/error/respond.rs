//! Choosing the error shape by the door a request came through, and the response around it:
//! status, `Retry-After`, rate headers, `WWW-Authenticate`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::auth::AuthError;
use crate::ledger::Refusal;

/// The shapes a client understands, by the door it came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Under `/v1`: `{"error":{"message","type","param","code"}}` with a string `code`.
    OpenAi,
    /// Under `/api/v1`: `{"error":{"code":<HTTP status>,"message","metadata"}}`.
    OpenRouter,
    /// The Messages door: `{"type":"error","error":{"type","message"}}`.
    Anthropic,
}

tokio::task_local! {
    /// The dialect of the request being handled, set once by the outermost middleware.
    static CURRENT: Dialect;
}

impl Dialect {
    /// The dialect of a request path.
    pub fn of_path(path: &str) -> Dialect {
        if path.ends_with("/messages") || path.ends_with("/messages/count_tokens") {
            Dialect::Anthropic
        } else if path == "/api/v1" || path.starts_with("/api/v1/") {
            Dialect::OpenRouter
        } else {
            Dialect::OpenAi
        }
    }

    /// Runs a request's handling with its dialect known to every error raised inside it.
    /// Errors reach the response through `?` and `IntoResponse` in dozens of places;
    /// a task-local spares each of them from carrying the dialect.
    pub async fn scope<F: std::future::Future>(self, f: F) -> F::Output {
        CURRENT.scope(self, f).await
    }

    /// The dialect of the request this task is handling (OpenAI's outside any request).
    pub fn current() -> Dialect {
        CURRENT.try_with(|d| *d).unwrap_or(Dialect::OpenAi)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.respond(Dialect::current())
    }
}

impl ApiError {
    /// The response in `dialect`'s error shape; status and headers are the same in all.
    pub fn respond(self, dialect: Dialect) -> Response {
        let status = match dialect {
            // Anthropic's clients know 529 as "overloaded, retry": keep it when every
            // upstream said so.
            Dialect::Anthropic if self.upstreams_overloaded() => {
                StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            }
            _ => self.status(),
        };
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %self.message(), "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), error = %self.message(), "request rejected");
        }
        let body = match dialect {
            Dialect::OpenAi => self.to_json(),
            Dialect::OpenRouter => super::openrouter::body(&self, status.as_u16()),
            Dialect::Anthropic => {
                crate::http::messages::render::error_body(status.as_u16(), &self.message(), None)
            }
        };
        let mut resp = (status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(after) = self.retry_after() {
            // Whole seconds, rounded up: a client that waits this long is let through.
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        if let ApiError::Refused(r) = &self {
            if let Some(h) = r.headers() {
                crate::http::add_rate_headers(headers, h);
            }
            if matches!(r, Refusal::TooLarge { .. }) {
                // Waiting cannot help: tell the SDKs not to retry.
                headers.insert("x-should-retry", HeaderValue::from_static("false"));
            }
        }
        if let ApiError::Auth(AuthError::Missing | AuthError::Invalid | AuthError::InvalidMaster) =
            self
        {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{ExecError, Failure};
    use crate::providers::ProviderError;

    #[test]
    fn dialect_by_path() {
        for p in [
            "/v1/messages",
            "/api/v1/messages",
            "/v1/messages/count_tokens",
        ] {
            assert_eq!(Dialect::of_path(p), Dialect::Anthropic, "{p}");
        }
        for p in [
            "/v1/chat/completions",
            "/v1/responses",
            "/v1/messagesx",
            "/admin/keys",
        ] {
            assert_eq!(Dialect::of_path(p), Dialect::OpenAi, "{p}");
        }
    }

    #[test]
    fn overloaded_upstreams_are_529_for_anthropic_clients_only() {
        let failure = |status| Failure {
            model: "m".into(),
            provider: "p".into(),
            error: ProviderError::Status {
                status,
                message: "Overloaded".into(),
                error_type: None,
                code: None,
                param: None,
                retry_after: None,
            },
        };
        let all = || {
            ApiError::Exec(ExecError::AllFailed(
                vec![failure(529), failure(529)],
                Vec::new(),
            ))
        };
        assert_eq!(all().respond(Dialect::Anthropic).status(), 529);
        assert_eq!(all().respond(Dialect::OpenAi).status(), 502);
        let mixed = ApiError::Exec(ExecError::AllFailed(
            vec![failure(529), failure(500)],
            Vec::new(),
        ));
        assert_eq!(mixed.respond(Dialect::Anthropic).status(), 502);
    }
}
