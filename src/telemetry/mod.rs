//! Logging: text or JSON lines, filtered by `log.filter` / `SWITCHYARD_LOG`. Request spans carry
//! the request id; prompts, responses and secrets are never logged.
//!
//! Traces (OpenTelemetry, exported over OTLP/HTTP when an endpoint is configured) are in
//! `trace`; the W3C trace context sent to upstreams in `propagate`.

pub mod content;
mod export;
mod otlp;
pub mod propagate;
pub mod trace;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}

pub use export::start as start_traces;
