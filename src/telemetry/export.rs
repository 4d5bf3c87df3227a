//! The OTLP/HTTP (protobuf) span exporter behind the SDK's batch span processor.
//!
//! The processor exports from its own thread; the HTTP request itself runs as a task on the
//! gateway's runtime through the gateway's reqwest (the exporter brings no HTTP client or TLS
//! stack of its own). The standard variables the SDK reads still apply: `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`,
//! `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT`, `OTEL_TRACES_SAMPLER(_ARG)` and `OTEL_BSP_*`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{BatchSpanProcessor, Config, SpanProcessor};
use opentelemetry_sdk::Resource;

use super::trace::Traces;
use crate::config::TracesSettings;

/// Starts the exporter when an endpoint is configured (`None`: traces are off). Must run
/// inside the runtime that will carry the export requests.
pub fn start(settings: &TracesSettings) -> anyhow::Result<Option<Arc<Traces>>> {
    let Some(endpoint) = &settings.endpoint else {
        if settings.capture_content {
            tracing::warn!("traces are off: the content capture asked for (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT or [traces] capture_content) exports nothing");
        }
        return Ok(None);
    };
    let timeout = env_millis("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
        .or_else(|| env_millis("OTEL_EXPORTER_OTLP_TIMEOUT"))
        .unwrap_or(Duration::from_secs(10));
    let client = OnRuntime {
        client: reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
            .build()?,
        runtime: tokio::runtime::Handle::current(),
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint.clone())
        .with_timeout(timeout)
        .build()?;
    let mut processor = BatchSpanProcessor::builder(exporter).build();
    // The SDK's defaults read OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, and
    // OTEL_TRACES_SAMPLER(_ARG); the service is `switchyard` unless they name it.
    let config = Config::default();
    let named = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| v.contains("service.name="));
    let resource = if named {
        config.resource.into_owned()
    } else {
        Resource::builder().with_service_name("switchyard").build()
    };
    processor.set_resource(&resource);
    tracing::info!(endpoint = %endpoint, "traces: exporting spans over OTLP/HTTP");
    if settings.capture_content {
        tracing::warn!(
            max_bytes = settings.content_max_bytes,
            "traces: prompts and completions are exported in spans (content capture is on)"
        );
    }
    let content = settings
        .capture_content
        .then_some(settings.content_max_bytes);
    Ok(Some(Arc::new(Traces::new(
        processor,
        config.sampler,
        content,
    ))))
}

fn env_millis(name: &str) -> Option<Duration> {
    let ms: u64 = std::env::var(name).ok()?.trim().parse().ok()?;
    Some(Duration::from_millis(ms))
}

/// Posts on the gateway's runtime: the batch processor's thread only waits for the answer.
#[derive(Debug)]
struct OnRuntime {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

/// A collector's answer is small; more is not read.
const MAX_REPLY_BYTES: usize = 64 * 1024;

#[async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let (parts, body) = request.into_parts();
        let task = self.runtime.spawn(async move {
            let mut resp = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let status = resp.status();
            let headers = std::mem::take(resp.headers_mut());
            let mut reply = Vec::new();
            while let Some(chunk) = resp.chunk().await? {
                if reply.len() + chunk.len() > MAX_REPLY_BYTES {
                    break;
                }
                reply.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>((status, headers, Bytes::from(reply)))
        });
        let (status, headers, body) = task.await??;
        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        *resp.headers_mut() = headers;
        Ok(resp)
    }
}
