//! Serde mirror of the TOML file. Unknown fields are errors so typos never pass silently.

use serde::Deserialize;

use crate::types::preset::PresetDecl;
use crate::types::registry::{ModelDecl, ProviderDecl};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub database: RawDatabase,
    #[serde(default)]
    pub auth: RawAuth,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub routing: RawRouting,
    #[serde(default)]
    pub accounting: RawAccounting,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub traces: RawTraces,
    #[serde(default)]
    pub providers: Vec<ProviderDecl>,
    #[serde(default)]
    pub models: Vec<ModelDecl>,
    #[serde(default)]
    pub presets: Vec<PresetDecl>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub body_limit_bytes: Option<usize>,
    pub body_read_timeout_secs: Option<f64>,
    pub shutdown_grace_secs: Option<f64>,
    pub max_model_name_bytes: Option<usize>,
    pub max_models: Option<usize>,
    pub header_read_timeout_secs: Option<f64>,
    pub max_header_bytes: Option<usize>,
    pub max_connections: Option<usize>,
    pub shutdown_delay_secs: Option<f64>,
    pub max_concurrent_requests: Option<usize>,
    pub request_timeout_secs: Option<f64>,
    pub cors_origins: Option<RawOrigins>,
}

/// `"*"` or a list of origins.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawOrigins {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub url: Option<String>,
    pub max_connections: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub require_keys: Option<bool>,
    pub provider_env_prefix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: Option<String>,
    pub filter: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    pub connect_timeout_secs: Option<f64>,
    pub request_timeout_secs: Option<f64>,
    pub first_token_timeout_secs: Option<f64>,
    pub stream_idle_timeout_secs: Option<f64>,
    pub keepalive_after_secs: Option<f64>,
    pub keepalive_interval_secs: Option<f64>,
    pub registry_refresh_secs: Option<f64>,
    pub max_upstream_response_bytes: Option<usize>,
    pub max_sse_event_bytes: Option<usize>,
    pub max_precommit_chunks: Option<usize>,
    pub max_images_per_request: Option<usize>,
    pub max_image_bytes_per_request: Option<usize>,
    pub image_fetch_concurrency: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccounting {
    pub batch_size: Option<usize>,
    pub flush_interval_ms: Option<u64>,
    pub queue_capacity: Option<usize>,
    pub retention_days: Option<u32>,
    pub retention_interval_secs: Option<f64>,
    pub capture_content: Option<String>,
    pub capture_max_bytes: Option<usize>,
    pub capture_retention_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub redis_url: Option<String>,
    pub on_redis_failure: Option<String>,
    pub share_through_database: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub enabled: Option<bool>,
    /// Key ids that get their own series (`switchyard_key_*`).
    #[serde(default)]
    pub key_labels: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraces {
    pub endpoint: Option<String>,
    pub capture_content: Option<bool>,
    pub content_max_bytes: Option<usize>,
}
