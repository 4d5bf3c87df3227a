//! Keeps a provider's own secrets out of its errors. Some upstreams echo the credential they
//! were sent ("Incorrect API key provided: sk-..."); without this the key would reach the
//! client's error, the log and the request record. Every adapter is wrapped once, at build.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;

use super::{
    AttemptRequest, ChunkStream, Completion, NativeRequest, Protocol, Provider, ProviderError,
};

/// What replaces a secret in an error.
const MASK: &str = "[redacted]";

/// Secrets shorter than this are not searched for (they would match ordinary words).
const MIN_SECRET_LEN: usize = 8;

/// The secrets of one provider, ready to be searched for in error text.
#[derive(Clone, Default)]
pub struct Secrets(Arc<Vec<String>>);

impl Secrets {
    pub fn new(values: impl IntoIterator<Item = String>) -> Secrets {
        let mut v: Vec<String> = values
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        // Longest first, so a secret containing another is masked whole.
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        v.dedup();
        Secrets(Arc::new(v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with every secret masked.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in self.0.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }

    pub fn error(&self, e: ProviderError) -> ProviderError {
        match e {
            ProviderError::Connect(m) => ProviderError::Connect(self.scrub(&m)),
            ProviderError::Config(m) => ProviderError::Config(self.scrub(&m)),
            ProviderError::Malformed(m) => ProviderError::Malformed(self.scrub(&m)),
            ProviderError::Cut(m) => ProviderError::Cut(self.scrub(&m)),
            ProviderError::Status {
                status,
                message,
                error_type,
                code,
                param,
                retry_after,
            } => ProviderError::Status {
                status,
                message: self.scrub(&message),
                error_type,
                code,
                param: param.map(|p| self.scrub(&p)),
                retry_after,
            },
            other @ (ProviderError::Timeout(_) | ProviderError::Unsupported(_)) => other,
        }
    }
}

/// A provider whose errors, before and during a stream, never carry its secrets.
pub struct Redacting {
    inner: Arc<dyn Provider>,
    secrets: Secrets,
}

impl Redacting {
    pub fn wrap(inner: Arc<dyn Provider>, secrets: Secrets) -> Arc<dyn Provider> {
        if secrets.is_empty() {
            return inner;
        }
        Arc::new(Redacting { inner, secrets })
    }
}

#[async_trait]
impl Provider for Redacting {
    async fn complete(&self, req: AttemptRequest<'_>) -> Result<Completion, ProviderError> {
        self.inner
            .complete(req)
            .await
            .map_err(|e| self.secrets.error(e))
    }

    async fn stream(&self, req: AttemptRequest<'_>) -> Result<ChunkStream, ProviderError> {
        let secrets = self.secrets.clone();
        let stream = self.inner.stream(req).await.map_err(|e| secrets.error(e))?;
        Ok(stream
            .map(move |item| item.map_err(|e| secrets.error(e)))
            .boxed())
    }

    fn dropped_params(&self, req: AttemptRequest<'_>) -> Vec<&'static str> {
        self.inner.dropped_params(req)
    }

    fn speaks(&self, protocol: Protocol, upstream_model: &str) -> bool {
        self.inner.speaks(protocol, upstream_model)
    }

    async fn complete_native(&self, req: NativeRequest<'_>) -> Result<Completion, ProviderError> {
        self.inner
            .complete_native(req)
            .await
            .map_err(|e| self.secrets.error(e))
    }

    async fn stream_native(&self, req: NativeRequest<'_>) -> Result<ChunkStream, ProviderError> {
        let secrets = self.secrets.clone();
        let stream = self
            .inner
            .stream_native(req)
            .await
            .map_err(|e| secrets.error(e))?;
        Ok(stream
            .map(move |item| item.map_err(|e| secrets.error(e)))
            .boxed())
    }

    async fn count_tokens(
        &self,
        req: NativeRequest<'_>,
    ) -> Result<Option<crate::types::RawObject>, ProviderError> {
        self.inner
            .count_tokens(req)
            .await
            .map_err(|e| self.secrets.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_secret_longest_first() {
        let s = Secrets::new([
            "sk-abcdefgh".to_owned(),
            "sk-abcdefgh-long".to_owned(),
            "short".to_owned(),
        ]);
        assert_eq!(
            s.scrub("key sk-abcdefgh-long and sk-abcdefgh, not short"),
            "key [redacted] and [redacted], not short"
        );
        let e = s.error(ProviderError::Status {
            status: 401,
            message: "Incorrect API key provided: sk-abcdefgh".into(),
            error_type: None,
            code: None,
            param: None,
            retry_after: None,
        });
        assert_eq!(
            e.to_string(),
            "HTTP 401: Incorrect API key provided: [redacted]"
        );
    }
}
