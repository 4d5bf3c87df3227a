//! Starting the OTLP/HTTP (protobuf) span export (`otlp`).
//!
//! The export requests go through the gateway's reqwest (no HTTP client or TLS stack of its
//! own), from a task on the gateway's runtime. The standard variables apply:
//! `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` (read by the SDK's resource detectors),
//! `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`, `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT`,
//! `OTEL_TRACES_SAMPLER(_ARG)` (the SDK's samplers) and `OTEL_BSP_SCHEDULE_DELAY`,
//! `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`.

use std::sync::Arc;

use opentelemetry_sdk::trace::Config;
use opentelemetry_sdk::Resource;

use super::otlp::{Exporter, Settings};
use super::trace::{Sampling, Traces, SEMCONV_SCHEMA};
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
    let export = Settings::from_env(endpoint.clone());
    let client = reqwest::Client::builder()
        .timeout(export.timeout)
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
        .build()?;
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
    let exporter = Exporter::start(
        export,
        &resource,
        ("switchyard", env!("CARGO_PKG_VERSION"), SEMCONV_SCHEMA),
        client,
    );
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
    let sampling = Sampling::of(std::env::var("OTEL_TRACES_SAMPLER").ok().as_deref());
    Ok(Some(Arc::new(Traces::new(
        exporter,
        config.sampler,
        sampling,
        content,
    ))))
}
