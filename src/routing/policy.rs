//! What an upstream failure means for the request: try the next attempt, or stop and tell the
//! client. Only failures the request itself caused stop; everything that another provider or
//! model might not suffer from falls back.

use crate::providers::ProviderError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try the next attempt.
    Fallback,
    /// The request is at fault; return this error to the client.
    Reject,
}

pub fn on_error(e: &ProviderError) -> Verdict {
    match e {
        ProviderError::Status { status, .. } => match status {
            s if request_at_fault(*s) => Verdict::Reject,
            // 404: this provider does not know the endpoint's upstream model (a stale
            // `upstream_model`, a deleted deployment): the model was resolved by the
            // registry, so another endpoint may well serve it.
            // 401/403: our provider key is wrong — not the client's fault, try elsewhere.
            // 408, 429, 5xx, 529 and anything unexpected: transient or provider-specific.
            _ => Verdict::Fallback,
        },
        ProviderError::Connect(_)
        | ProviderError::Config(_)
        | ProviderError::Timeout(_)
        | ProviderError::Malformed(_)
        | ProviderError::Cut(_)
        | ProviderError::Unsupported(_) => Verdict::Fallback,
    }
}

/// The request itself is wrong (bad parameters, too large): another endpoint would most
/// likely say the same, and the endpoint is not to blame (uptime does not count it).
pub fn request_at_fault(status: u16) -> bool {
    matches!(status, 400 | 413 | 422)
}

/// The upstream rejected the gateway's own credentials.
pub fn is_provider_auth_failure(e: &ProviderError) -> bool {
    matches!(e.status(), Some(401 | 403))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: u16) -> ProviderError {
        ProviderError::Status {
            status: s,
            message: String::new(),
            error_type: None,
            code: None,
            param: None,
            retry_after: None,
        }
    }

    #[test]
    fn table() {
        for s in [404, 408, 429, 500, 502, 503, 504, 529, 401, 403, 402] {
            assert_eq!(on_error(&status(s)), Verdict::Fallback, "{s}");
        }
        for s in [400, 413, 422] {
            assert_eq!(on_error(&status(s)), Verdict::Reject, "{s}");
        }
        assert_eq!(on_error(&ProviderError::Timeout("x")), Verdict::Fallback);
        assert_eq!(on_error(&ProviderError::Cut("x".into())), Verdict::Fallback);
    }
}
