//! Validated settings: the TOML file (`config/switchyard.toml` by default) plus `SWITCHYARD_*`
//! environment overrides for what changes per deployment. Secrets never live in the file.

mod accounting;
mod cors;
mod paths;
mod raw;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::types::registry::{ModelDecl, ProviderDecl};

pub use accounting::{AccountingSettings, CaptureMode};
pub use cors::CorsOrigins;

pub const DEFAULT_CONFIG_PATH: &str = "config/switchyard.toml";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/switchyard.db";

/// A configuration problem, naming the file and the field.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {field}: {problem}")]
pub struct ConfigError {
    pub file: String,
    pub field: String,
    pub problem: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A database URL: used as a string, shown (in `Debug`, so in any dump of the settings)
/// with its password and secret parameters masked.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl std::ops::Deref for DatabaseUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", crate::store::redact_url(&self.0))
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// The file these settings came from (for messages).
    pub source: String,
    pub listen: SocketAddr,
    pub body_limit_bytes: usize,
    /// A request body must arrive within this (408 otherwise).
    pub body_read_timeout: Duration,
    /// Bounds on what one request may ask of the planner.
    pub request_bounds: crate::types::RequestBounds,
    pub shutdown_grace: Duration,
    /// What one connection may hold, and how shutdown runs.
    pub connections: crate::server::ConnLimits,
    /// Requests handled at once; past it a fast 503 (never a queue).
    pub max_concurrent_requests: usize,
    /// Until a response's headers (a stream's body then runs on its own deadlines).
    pub request_timeout: Duration,
    /// Browser origins allowed to call /v1 and /api/v1 (CORS); none by default.
    pub cors_origins: CorsOrigins,
    pub database_url: DatabaseUrl,
    pub database_max_connections: u32,
    pub require_keys: bool,
    pub master_key: Option<Secret>,
    /// Reads `/metrics` on the main listener (as does the master key).
    pub metrics_token: Option<Secret>,
    /// Serves `/metrics` alone, without auth, for a cluster-internal scraper.
    pub metrics_listen: Option<SocketAddr>,
    /// Count requests for `/metrics` (`[metrics] enabled`, `SWITCHYARD_METRICS_ENABLED`).
    pub metrics_enabled: bool,
    /// `[metrics] key_labels`: the keys with per-key series.
    pub metrics_key_labels: Vec<String>,
    /// OpenTelemetry traces: exported only when an endpoint is set.
    pub traces: TracesSettings,
    /// Providers created through the admin API may read credentials only from variables
    /// with this prefix, or from variables the config file's providers name.
    pub provider_env_prefix: String,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub routing: RoutingSettings,
    pub accounting: AccountingSettings,
    pub limits: LimitsSettings,
    pub providers: Vec<ProviderDecl>,
    pub models: Vec<ModelDecl>,
    pub presets: Vec<crate::types::preset::PresetDecl>,
}

#[derive(Debug, Clone)]
pub struct RoutingSettings {
    pub connect_timeout: Duration,
    /// Whole-request limit for a non-streamed attempt.
    pub request_timeout: Duration,
    /// Time allowed before a stream's first content; past it the next fallback is tried.
    pub first_token_timeout: Duration,
    /// Longest silence allowed inside a committed stream.
    pub stream_idle_timeout: Duration,
    /// SSE keep-alive comments start only after this long without content.
    pub keepalive_after: Duration,
    pub keepalive_interval: Duration,
    /// How often each replica checks the database for registry changes.
    pub registry_refresh: Duration,
    /// What one upstream answer may hold in memory.
    pub upstream: crate::providers::http::UpstreamLimits,
    /// Chunks without output a stream may send before its first token (they are held until
    /// the commit point).
    pub max_precommit_chunks: usize,
}

/// Where spans go: the OTLP/HTTP traces URL (`[traces] endpoint`, or the standard
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`).
/// `None`: traces are off.
#[derive(Debug, Clone, Default)]
pub struct TracesSettings {
    pub endpoint: Option<String>,
    /// Prompts and completions in spans (`gen_ai.input.messages`, ...): off unless the
    /// operator opts in (`[traces] capture_content`, or the GenAI instrumentations' variable
    /// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`).
    pub capture_content: bool,
    /// Each side's content is cut to this many bytes (`[traces] content_max_bytes`).
    pub content_max_bytes: usize,
}

/// What a span may carry of one side of a request's content, by default.
pub const DEFAULT_TRACE_CONTENT_MAX_BYTES: usize = 16 * 1024;

/// Where rate limits live: shared through Redis, through PostgreSQL, or in each replica.
#[derive(Debug, Clone)]
pub struct LimitsSettings {
    /// `redis://...`; a secret-bearing URL, never printed.
    pub redis_url: Option<Secret>,
    /// What to do when the store limits are shared through (Redis, or the database when
    /// they are shared through it) cannot be reached.
    pub on_redis_failure: crate::ledger::redis::OnRedisFailure,
    /// Without Redis on PostgreSQL, share limits through the database (leases).
    pub share_through_database: bool,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        LimitsSettings {
            redis_url: None,
            on_redis_failure: Default::default(),
            share_through_database: true,
        }
    }
}

/// Environment overrides, read once so tests can pass their own.
#[derive(Debug, Clone, Default)]
pub struct EnvOverrides {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub master_key: Option<String>,
    pub log_format: Option<String>,
    pub log_filter: Option<String>,
    pub require_keys: Option<String>,
    pub redis_url: Option<String>,
    /// Comma-separated origins, or `*`.
    pub cors_origins: Option<String>,
    /// A token that may read `/metrics` besides the master key.
    pub metrics_token: Option<String>,
    /// A second address serving only `/metrics`, without auth.
    pub metrics_listen: Option<String>,
    /// `[accounting] retention_days`.
    pub retention_days: Option<String>,
    /// `[accounting] capture_content`.
    pub capture_content: Option<String>,
    /// `SWITCHYARD_METRICS_ENABLED`.
    pub metrics_enabled: Option<String>,
    /// The OTLP traces URL from the standard OpenTelemetry variables; `Some("")` when
    /// `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn traces off.
    pub otlp_traces_endpoint: Option<String>,
    /// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`.
    pub otel_capture_content: Option<String>,
}

impl EnvOverrides {
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        EnvOverrides {
            listen: var("SWITCHYARD_LISTEN"),
            database_url: var("SWITCHYARD_DATABASE_URL"),
            master_key: var("SWITCHYARD_MASTER_KEY"),
            log_format: var("SWITCHYARD_LOG_FORMAT"),
            log_filter: var("SWITCHYARD_LOG"),
            require_keys: var("SWITCHYARD_REQUIRE_KEYS"),
            redis_url: var("SWITCHYARD_REDIS_URL"),
            cors_origins: var("SWITCHYARD_CORS_ORIGINS"),
            metrics_token: var("SWITCHYARD_METRICS_TOKEN"),
            metrics_listen: var("SWITCHYARD_METRICS_LISTEN"),
            retention_days: var("SWITCHYARD_RETENTION_DAYS"),
            capture_content: var("SWITCHYARD_CAPTURE_CONTENT"),
            metrics_enabled: var("SWITCHYARD_METRICS_ENABLED"),
            otlp_traces_endpoint: otlp_traces_endpoint(var),
            otel_capture_content: var("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"),
        }
    }
}

/// The standard OpenTelemetry variables, read the way the OTLP/HTTP exporters read them: the
/// per-signal URL as is, else the base URL with `/v1/traces` appended.
fn otlp_traces_endpoint(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let off =
        |name: &str, value: &str| var(name).is_some_and(|v| v.trim().eq_ignore_ascii_case(value));
    if off("OTEL_SDK_DISABLED", "true") || off("OTEL_TRACES_EXPORTER", "none") {
        return Some(String::new());
    }
    var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| {
        var("OTEL_EXPORTER_OTLP_ENDPOINT")
            .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
    })
}

/// Reads and validates the config file at `path`, then applies `env`. Relative paths in the
/// file are relative to its folder.
pub fn load(path: &Path, env: &EnvOverrides) -> Result<Settings, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        field: "(file)".into(),
        problem: format!("cannot read: {e}"),
    })?;
    // Absolute, so messages name the real place; not canonical, so `..` after a symlinked
    // folder means what the operating system makes of it.
    let dir = path.parent().unwrap_or(Path::new(""));
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::new()
    } else {
        std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
    };
    parse_in(&text, &file, env, &dir)
}

/// Validates config text; `file` names it in messages. Relative paths in it stay relative to
/// the working directory (see `load`).
pub fn parse(text: &str, file: &str, env: &EnvOverrides) -> Result<Settings, ConfigError> {
    parse_in(text, file, env, Path::new(""))
}

/// `parse`, with relative paths in the text resolved against `config_dir`.
fn parse_in(
    text: &str,
    file: &str,
    env: &EnvOverrides,
    config_dir: &Path,
) -> Result<Settings, ConfigError> {
    let err = |field: &str, problem: String| ConfigError {
        file: file.to_owned(),
        field: field.to_owned(),
        problem,
    };
    let raw: raw::RawConfig = toml::from_str(text).map_err(|e| {
        let field = e
            .span()
            .map(|span| field_at(text, span.start))
            .unwrap_or_else(|| "(syntax)".into());
        err(&field, e.message().to_owned())
    })?;

    let listen_text = env
        .listen
        .clone()
        .or(raw.server.listen)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen_field = if env.listen.is_some() {
        "SWITCHYARD_LISTEN"
    } else {
        "server.listen"
    };
    let listen: SocketAddr = listen_text.parse().map_err(|_| {
        err(
            listen_field,
            format!("`{listen_text}` is not an address like 127.0.0.1:8080"),
        )
    })?;
    let metrics_listen = match &env.metrics_listen {
        None => None,
        Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| {
            err(
                "SWITCHYARD_METRICS_LISTEN",
                format!("`{text}` is not an address like 0.0.0.0:9090"),
            )
        })?),
    };

    let secs = |field: &str, v: Option<f64>, default: f64| -> Result<Duration, ConfigError> {
        let v = v.unwrap_or(default);
        let max = crate::types::MAX_DELAY.as_secs_f64();
        match crate::types::bounded_secs(v) {
            Some(d) if v >= 0.0 && v <= max => Ok(d),
            _ => Err(err(
                field,
                format!("{v} is not a number of seconds from 0 to {max}"),
            )),
        }
    };

    let log_format = match env
        .log_format
        .as_deref()
        .or(raw.log.format.as_deref())
        .unwrap_or("text")
    {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(err(
                "log.format",
                format!("`{other}` is not one of \"text\", \"json\""),
            ))
        }
    };
    let require_keys = match env.require_keys.as_deref() {
        None => raw.auth.require_keys.unwrap_or(true),
        Some("true" | "1" | "yes") => true,
        Some("false" | "0" | "no") => false,
        Some(other) => {
            return Err(err(
                "SWITCHYARD_REQUIRE_KEYS",
                format!("`{other}` is not true or false"),
            ))
        }
    };

    let metrics_enabled = match env.metrics_enabled.as_deref() {
        None => raw.metrics.enabled.unwrap_or(true),
        Some("true" | "1" | "yes") => true,
        Some("false" | "0" | "no") => false,
        Some(other) => {
            return Err(err(
                "SWITCHYARD_METRICS_ENABLED",
                format!("`{other}` is not true or false"),
            ))
        }
    };
    let traces_endpoint = match &env.otlp_traces_endpoint {
        Some(url) => Some(url.clone()).filter(|u| !u.is_empty()),
        None => raw.traces.endpoint.filter(|u| !u.trim().is_empty()),
    };
    let capture_content = match env.otel_capture_content.as_deref().map(str::trim) {
        None => raw.traces.capture_content.unwrap_or(false),
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(other) => {
            return Err(err(
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
                format!("`{other}` is not true or false"),
            ))
        }
    };
    let content_max_bytes = raw
        .traces
        .content_max_bytes
        .unwrap_or(DEFAULT_TRACE_CONTENT_MAX_BYTES);
    if content_max_bytes == 0 {
        return Err(err("traces.content_max_bytes", "must be at least 1".into()));
    }
    if let Some(url) = &traces_endpoint {
        let field = if env.otlp_traces_endpoint.is_some() {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        } else {
            "traces.endpoint"
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(err(
                field,
                format!("`{url}` is not an http:// or https:// URL (OTLP over HTTP)"),
            ));
        }
    }

    let r = raw.routing;
    let routing = RoutingSettings {
        connect_timeout: secs("routing.connect_timeout_secs", r.connect_timeout_secs, 10.0)?,
        request_timeout: secs(
            "routing.request_timeout_secs",
            r.request_timeout_secs,
            600.0,
        )?,
        first_token_timeout: secs(
            "routing.first_token_timeout_secs",
            r.first_token_timeout_secs,
            120.0,
        )?,
        stream_idle_timeout: secs(
            "routing.stream_idle_timeout_secs",
            r.stream_idle_timeout_secs,
            300.0,
        )?,
        keepalive_after: secs("routing.keepalive_after_secs", r.keepalive_after_secs, 5.0)?,
        keepalive_interval: secs(
            "routing.keepalive_interval_secs",
            r.keepalive_interval_secs,
            10.0,
        )?,
        registry_refresh: secs(
            "routing.registry_refresh_secs",
            r.registry_refresh_secs,
            1.0,
        )?,
        upstream: {
            let d = crate::providers::http::UpstreamLimits::default();
            crate::providers::http::UpstreamLimits {
                max_response_bytes: r
                    .max_upstream_response_bytes
                    .unwrap_or(d.max_response_bytes)
                    .max(1024),
                max_event_bytes: r.max_sse_event_bytes.unwrap_or(d.max_event_bytes).max(1024),
                max_images: r.max_images_per_request.unwrap_or(d.max_images),
                max_image_bytes: r
                    .max_image_bytes_per_request
                    .unwrap_or(d.max_image_bytes)
                    .max(1024),
                image_concurrency: r
                    .image_fetch_concurrency
                    .unwrap_or(d.image_concurrency)
                    .max(1),
            }
        },
        max_precommit_chunks: r.max_precommit_chunks.unwrap_or(1024).max(1),
    };
    if routing.keepalive_interval.is_zero() {
        return Err(err(
            "routing.keepalive_interval_secs",
            "must be above 0".into(),
        ));
    }
    if routing.registry_refresh.is_zero() {
        return Err(err(
            "routing.registry_refresh_secs",
            "must be above 0".into(),
        ));
    }

    let accounting = accounting::settings(raw.accounting, env)
        .map_err(|(field, problem)| err(field, problem))?;

    let on_redis_failure = match raw.limits.on_redis_failure.as_deref().unwrap_or("local") {
        "local" => crate::ledger::redis::OnRedisFailure::Local,
        "refuse" => crate::ledger::redis::OnRedisFailure::Refuse,
        other => {
            return Err(err(
                "limits.on_redis_failure",
                format!("`{other}` is not one of \"local\", \"refuse\""),
            ))
        }
    };
    let redis_url = env.redis_url.clone().or(raw.limits.redis_url);
    if let Some(u) = &redis_url {
        if !(u.starts_with("redis://") || u.starts_with("rediss://") || u.starts_with("unix://")) {
            return Err(err(
                "limits.redis_url",
                "must start with redis://, rediss:// or unix://".into(),
            ));
        }
    }
    let limits = LimitsSettings {
        redis_url: redis_url.map(Secret::new),
        on_redis_failure,
        share_through_database: raw.limits.share_through_database.unwrap_or(true),
    };

    let mut seen = std::collections::HashSet::new();
    for (i, p) in raw.providers.iter().enumerate() {
        p.validate()
            .map_err(|e| err(&format!("providers[{i}].{}", e.field), e.problem))?;
        if !seen.insert(p.id.as_str()) {
            return Err(err(
                &format!("providers[{i}].id"),
                format!("`{}` is defined twice", p.id),
            ));
        }
    }
    let mut slugs = std::collections::HashSet::new();
    for (i, m) in raw.models.iter().enumerate() {
        m.validate()
            .map_err(|e| err(&format!("models[{i}].{}", e.field), e.problem))?;
        if !slugs.insert(m.slug.as_str()) {
            return Err(err(
                &format!("models[{i}].slug"),
                format!("`{}` is defined twice", m.slug),
            ));
        }
        for (j, ep) in m.endpoints.iter().enumerate() {
            if !seen.contains(ep.provider.as_str()) {
                return Err(err(
                    &format!("models[{i}].endpoints[{j}].provider"),
                    format!("no provider with id `{}` is defined", ep.provider),
                ));
            }
        }
    }
    for (i, m) in raw.models.iter().enumerate() {
        for (j, f) in m.fallbacks.iter().enumerate() {
            let known = raw
                .models
                .iter()
                .any(|o| &o.slug == f || o.aliases.contains(f));
            if !known {
                return Err(err(
                    &format!("models[{i}].fallbacks[{j}]"),
                    format!("no model `{f}` is defined"),
                ));
            }
        }
    }

    let mut names = std::collections::HashSet::new();
    for (i, p) in raw.presets.iter().enumerate() {
        p.validate()
            .map_err(|e| err(&format!("presets[{i}].{}", e.field), e.problem))?;
        if !names.insert(p.name.as_str()) {
            return Err(err(
                &format!("presets[{i}].name"),
                format!("`{}` is defined twice", p.name),
            ));
        }
    }

    let cors_origins = match (&env.cors_origins, raw.server.cors_origins) {
        (Some(list), _) => {
            CorsOrigins::parse(list.split(',')).map_err(|e| err("SWITCHYARD_CORS_ORIGINS", e))?
        }
        (None, Some(raw::RawOrigins::One(o))) => {
            CorsOrigins::parse([o.as_str()]).map_err(|e| err("server.cors_origins", e))?
        }
        (None, Some(raw::RawOrigins::Many(list))) => {
            CorsOrigins::parse(list.iter().map(String::as_str))
                .map_err(|e| err("server.cors_origins", e))?
        }
        (None, None) => CorsOrigins::None,
    };

    let shutdown_grace = secs(
        "server.shutdown_grace_secs",
        raw.server.shutdown_grace_secs,
        30.0,
    )?;
    Ok(Settings {
        source: file.to_owned(),
        listen,
        body_limit_bytes: raw.server.body_limit_bytes.unwrap_or(8 * 1024 * 1024),
        body_read_timeout: secs(
            "server.body_read_timeout_secs",
            raw.server.body_read_timeout_secs,
            30.0,
        )?,
        connections: crate::server::ConnLimits {
            header_read_timeout: secs(
                "server.header_read_timeout_secs",
                raw.server.header_read_timeout_secs,
                30.0,
            )?,
            max_header_bytes: raw.server.max_header_bytes.unwrap_or(64 * 1024).max(8192),
            max_connections: raw
                .server
                .max_connections
                .unwrap_or_else(default_max_connections)
                .max(1),
            shutdown_delay: secs(
                "server.shutdown_delay_secs",
                raw.server.shutdown_delay_secs,
                0.0,
            )?,
            shutdown_grace,
        },
        max_concurrent_requests: raw.server.max_concurrent_requests.unwrap_or(4096).max(1),
        request_timeout: secs(
            "server.request_timeout_secs",
            raw.server.request_timeout_secs,
            600.0,
        )?,
        cors_origins,
        request_bounds: crate::types::RequestBounds {
            max_model_name_bytes: raw.server.max_model_name_bytes.unwrap_or(256).max(1),
            max_models: raw.server.max_models.unwrap_or(16).max(1),
        },
        shutdown_grace,
        // A path from the environment is relative to the working directory, as any is.
        database_url: DatabaseUrl(match env.database_url.clone() {
            Some(url) => url,
            None => paths::database_url_in(
                raw.database.url.as_deref().unwrap_or(DEFAULT_DATABASE_URL),
                config_dir,
            ),
        }),
        database_max_connections: raw.database.max_connections.unwrap_or(8).max(1),
        require_keys,
        master_key: env.master_key.clone().map(Secret::new),
        metrics_token: env.metrics_token.clone().map(Secret::new),
        metrics_listen,
        metrics_enabled,
        metrics_key_labels: raw.metrics.key_labels.clone(),
        traces: TracesSettings {
            endpoint: traces_endpoint,
            capture_content,
            content_max_bytes,
        },
        provider_env_prefix: raw
            .auth
            .provider_env_prefix
            .unwrap_or_else(|| "SWITCHYARD_PROVIDER_".into()),
        log_format,
        log_filter: env
            .log_filter
            .clone()
            .or(raw.log.filter)
            .unwrap_or_else(|| "info".into()),
        routing,
        accounting,
        limits,
        providers: raw.providers,
        models: raw.models,
        presets: raw.presets,
    })
}

/// Names the field at a byte offset of the TOML text: `table.key (line N)`.
fn field_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_no = text[..offset].matches('\n').count() + 1;
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    match (table, key) {
        (Some(t), Some(k)) => format!("{t}.{k} (line {line_no})"),
        (None, Some(k)) => format!("{k} (line {line_no})"),
        (Some(t), None) => format!("{t} (line {line_no})"),
        (None, None) => format!("line {line_no}"),
    }
}

/// The config path: `--config`, else `SWITCHYARD_CONFIG`, else the shipped default.
pub fn resolve_path(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("SWITCHYARD_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
}

/// Open connections by default: what the descriptor limit leaves after room for upstream
/// connections, the database and files, at most 10,000.
fn default_max_connections() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
        })
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1024);
    (soft / 2).clamp(16, 10_000)
}

#[cfg(test)]
mod tests;
