//! Registry declarations: providers, models, endpoints and fallbacks as the config file, the
//! admin API and the database describe them. Pure data; validation lives with each type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Wire formats the gateway can speak to an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI's Chat Completions API and every server that speaks it.
    Openai,
    /// Azure OpenAI: OpenAI's wire format behind deployment URLs and an `api-key` header.
    Azure,
    /// The built-in, offline, deterministic provider.
    Mock,
    /// Google's Gemini API (`generateContent`), translated from and to OpenAI's format.
    Gemini,
    /// Anthropic's Messages API (translated from and to OpenAI's shape).
    Anthropic,
    /// AWS Bedrock's Converse / ConverseStream API (translated from and to OpenAI's shape).
    Bedrock,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Azure => "azure",
            ProviderKind::Mock => "mock",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Bedrock => "bedrock",
        }
    }
}

/// One upstream provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderDecl {
    /// Short id used in endpoints, routing preferences and responses (`openai`, `groq`).
    pub id: String,
    pub kind: ProviderKind,
    /// Display name; defaults to the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Base URL of the API, up to and including the version segment (`https://api.openai.com/v1`).
    /// Required for `openai`; `gemini` defaults to Google's public `v1beta` URL, `anthropic` to
    /// `https://api.anthropic.com/v1`, `bedrock` to `https://bedrock-runtime.{region}.amazonaws.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Name of the environment variable holding the API key. When set and the variable is
    /// missing, the provider stays inactive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Extra headers sent with every upstream request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Azure: the dated `api-version` of the classic deployments URL
    /// (`{base_url}/openai/deployments/{deployment}/chat/completions?api-version=...`).
    /// Without it the newer v1 API is used (`{base_url}/openai/v1/chat/completions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Ask OpenAI-compatible upstreams for usage in streams (`stream_options.include_usage`).
    #[serde(default = "yes")]
    pub stream_usage: bool,
    /// An `openai`-kind upstream that also serves OpenAI's Responses API (`/responses`):
    /// Responses requests pass through to it instead of being translated to chat.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub responses_api: bool,
    /// The provider does not retain prompts (zero data retention).
    #[serde(default)]
    pub zdr: bool,
    /// The provider may store or train on prompts.
    #[serde(default)]
    pub collects_data: bool,
    /// Per-provider overrides of the routing timeouts, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token_timeout_secs: Option<f64>,
    /// The longest a committed stream may go without a chunk from this provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_idle_timeout_secs: Option<f64>,
    /// Scenario for `kind = "mock"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock: Option<MockScenario>,
    /// Providers that need images inline (`gemini`, `bedrock`): let image URLs point at
    /// private, loopback and link-local addresses. Off by default, so clients cannot make the
    /// gateway fetch from its own network.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_private_image_urls: bool,
    /// `kind = "anthropic"` or `"bedrock"`: the output-token cap sent when the client gives none
    /// (the Messages API requires one). Defaults to 4096, which every Claude model accepts;
    /// Bedrock sends it for Claude models only unless it is set here (other Bedrock models have
    /// smaller maxima and their own defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_max_tokens: Option<u64>,
    /// `kind = "bedrock"`: the AWS region (`us-east-1`), for the default URL and for signing.
    /// Falls back to the `AWS_REGION`, then `AWS_DEFAULT_REGION` environment variables; with
    /// none of them the provider stays inactive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `kind = "bedrock"`: names of the environment variables holding the access key id and
    /// secret access key to sign requests with (SigV4), instead of the standard
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`. Both or neither; when named and unset,
    /// the provider stays inactive. Credentials are read when the registry is (re)loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_env: Option<String>,
    /// `kind = "bedrock"`: the variable holding a session token for temporary credentials,
    /// instead of `AWS_SESSION_TOKEN`. Optional even when named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token_env: Option<String>,
    /// Bedrock: an AWS shared credentials file, read again whenever it changes (for
    /// temporary credentials something else refreshes). Config file only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
    /// The profile in `credentials_file` (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_profile: Option<String>,
    /// Catalog (`/api/v1/providers`): the provider's published policies and status page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_policy_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_of_service_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_page_url: Option<String>,
}

fn yes() -> bool {
    true
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// What the mock provider does: typed, so tests and demos say what they mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockScenario {
    /// The reply; `{last_user}` is replaced by the last user message's text.
    #[serde(default = "default_reply")]
    pub reply: String,
    /// How many content chunks a stream is split into.
    #[serde(default = "default_chunks")]
    pub chunks: u32,
    /// Delay before the first chunk and between chunks, in milliseconds.
    #[serde(default)]
    pub first_chunk_delay_ms: u64,
    #[serde(default)]
    pub chunk_delay_ms: u64,
    /// Answer every request with this HTTP status and an OpenAI-shaped error instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_status: Option<u16>,
}

fn default_reply() -> String {
    "Hello from Switchyard's mock provider. You said: {last_user}".to_owned()
}
fn default_chunks() -> u32 {
    8
}

impl Default for MockScenario {
    fn default() -> Self {
        MockScenario {
            reply: default_reply(),
            chunks: default_chunks(),
            first_chunk_delay_ms: 0,
            chunk_delay_ms: 0,
            fail_status: None,
        }
    }
}

/// A model served by one provider under an upstream name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointDecl {
    pub provider: String,
    /// The model name the provider knows (`gpt-4.1-2025-04-14`).
    pub upstream_model: String,
    /// USD per million input (prompt) tokens.
    #[serde(default)]
    pub input_price: f64,
    /// USD per million output (completion) tokens.
    #[serde(default)]
    pub output_price: f64,
    /// USD per million prompt tokens read from the provider's cache (OpenAI's
    /// `cached_tokens`, Anthropic's `cache_read_input_tokens`); defaults to `input_price`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_price: Option<f64>,
    /// USD per million prompt tokens written to the cache (Anthropic's
    /// `cache_creation_input_tokens`); defaults to `input_price`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_price: Option<f64>,
    /// USD per request, on top of the token prices.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub request_price: f64,
    /// Parameters this endpoint honours; defaults to the model's list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_parameters: Option<Vec<String>>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Catalog: the weights' precision at this provider (`fp8`, `bf16`, ...; OpenRouter's names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<String>,
    /// Catalog: this provider's context window, when smaller than the model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_length: Option<u64>,
    /// Catalog: the most output tokens this provider produces per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
}

/// A public model with its endpoints, tried in order, and its fallback chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDecl {
    /// Public slug, `author/model`.
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_length: Option<u64>,
    #[serde(default)]
    pub supported_parameters: Vec<String>,
    /// Models tried, in order, after every endpoint of this one failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Output tokens to reserve for a request that sets no `max_tokens` (budgets and token
    /// limits reserve an upper estimate at admission). Defaults to 4096.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_output_tokens: Option<u64>,
    /// What the model does: chat (the default) or embeddings. Each front door serves only
    /// its own kind.
    #[serde(default, skip_serializing_if = "ModelKind::is_chat")]
    pub kind: ModelKind,
    /// Catalog (`/api/v1/models`): what the model is and does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Catalog: what the model reads (`text`, `image`, `file`, `audio`, `video`); `["text"]`
    /// when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_modalities: Vec<String>,
    /// Catalog: what the model writes (`text`, `image`, `audio`, `embeddings`, ...); when empty,
    /// `["text"]` for chat models and `["embeddings"]` for embedding models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_modalities: Vec<String>,
    /// Catalog: OpenRouter's tokenizer family (`GPT`, `Claude`, `Gemini`, `Llama3`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<String>,
    /// Catalog: the prompt format of open-weights models (`chatml`, `llama3`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruct_type: Option<String>,
    /// Catalog: the most output tokens the model produces per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    /// Catalog: the weights' Hugging Face id, for open-weights models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hugging_face_id: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<EndpointDecl>,
}

/// OpenRouter's modality names: what `input_modalities` and `output_modalities` may hold.
pub const INPUT_MODALITIES: &[&str] = &["text", "image", "file", "audio", "video"];
pub const OUTPUT_MODALITIES: &[&str] = &[
    "text",
    "image",
    "embeddings",
    "audio",
    "video",
    "rerank",
    "speech",
    "transcription",
];
/// OpenRouter's quantization names.
pub const QUANTIZATIONS: &[&str] = &[
    "int4", "int8", "fp4", "mxfp4", "nvfp4", "fp6", "fp8", "mxfp8", "fp16", "bf16", "fp32",
    "unknown",
];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    #[default]
    Chat,
    Embedding,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Chat => "chat",
            ModelKind::Embedding => "embedding",
        }
    }

    pub fn parse(s: &str) -> Option<ModelKind> {
        match s {
            "chat" => Some(ModelKind::Chat),
            "embedding" => Some(ModelKind::Embedding),
            _ => None,
        }
    }

    fn is_chat(&self) -> bool {
        *self == ModelKind::Chat
    }
}

/// Why a declaration is unusable; `field` is a dotted path inside the declaration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct DeclError {
    pub field: String,
    pub problem: String,
}

/// `traceparent` / `tracestate`, which no declaration may set (see `ProviderDecl::validate`).
pub fn is_trace_context(header: &str) -> bool {
    header.eq_ignore_ascii_case("traceparent") || header.eq_ignore_ascii_case("tracestate")
}

fn bad(field: impl Into<String>, problem: impl Into<String>) -> DeclError {
    DeclError {
        field: field.into(),
        problem: problem.into(),
    }
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'))
}

impl ProviderDecl {
    /// A declaration with every optional field at its default (as an empty config table has).
    pub fn new(id: impl Into<String>, kind: ProviderKind) -> ProviderDecl {
        ProviderDecl {
            id: id.into(),
            kind,
            name: None,
            base_url: None,
            api_key_env: None,
            headers: BTreeMap::new(),
            api_version: None,
            enabled: true,
            stream_usage: true,
            responses_api: false,
            zdr: false,
            collects_data: false,
            request_timeout_secs: None,
            first_token_timeout_secs: None,
            stream_idle_timeout_secs: None,
            mock: None,
            allow_private_image_urls: false,
            default_max_tokens: None,
            region: None,
            access_key_env: None,
            secret_key_env: None,
            session_token_env: None,
            credentials_file: None,
            credentials_profile: None,
            privacy_policy_url: None,
            terms_of_service_url: None,
            status_page_url: None,
        }
    }

    pub fn validate(&self) -> Result<(), DeclError> {
        if !valid_id(&self.id) || self.id.contains('/') {
            return Err(bad(
                "id",
                format!(
                    "`{}` is not a valid provider id (letters, digits, - _ . :)",
                    self.id
                ),
            ));
        }
        match (self.kind, &self.base_url) {
            (ProviderKind::Openai | ProviderKind::Azure, None) => {
                return Err(bad(
                    "base_url",
                    format!("required for kind \"{}\"", self.kind.as_str()),
                ))
            }
            (_, Some(url)) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                return Err(bad(
                    "base_url",
                    format!("`{url}` must start with http:// or https://"),
                ))
            }
            _ => {}
        }
        if self.api_version.is_some() && self.kind != ProviderKind::Azure {
            return Err(bad("api_version", "only allowed for kind \"azure\""));
        }
        if self.mock.is_some() && self.kind != ProviderKind::Mock {
            return Err(bad("mock", "only allowed for kind \"mock\""));
        }
        match (self.kind, self.default_max_tokens) {
            (_, None) => {}
            (ProviderKind::Anthropic | ProviderKind::Bedrock, Some(0)) => {
                return Err(bad(
                    "default_max_tokens",
                    "must be a positive number of tokens",
                ))
            }
            (ProviderKind::Anthropic | ProviderKind::Bedrock, Some(_)) => {}
            (_, Some(_)) => {
                return Err(bad(
                    "default_max_tokens",
                    "only allowed for kinds \"anthropic\" and \"bedrock\"",
                ))
            }
        }
        self.validate_aws()?;
        if let Some(name) = self.headers.keys().find(|n| is_trace_context(n)) {
            return Err(bad(
                "headers",
                format!(
                    "`{name}` cannot be declared: each upstream request carries its own trace \
                     context (the attempt's span, or the client's)"
                ),
            ));
        }
        for (name, url) in [
            ("privacy_policy_url", &self.privacy_policy_url),
            ("terms_of_service_url", &self.terms_of_service_url),
            ("status_page_url", &self.status_page_url),
        ] {
            if let Some(url) = url.as_deref() {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(bad(
                        name,
                        format!("`{url}` must start with http:// or https://"),
                    ));
                }
            }
        }
        for (name, t) in [
            ("request_timeout_secs", self.request_timeout_secs),
            ("first_token_timeout_secs", self.first_token_timeout_secs),
            ("stream_idle_timeout_secs", self.stream_idle_timeout_secs),
        ] {
            if let Some(t) = t {
                let max = crate::types::MAX_DELAY.as_secs_f64();
                if !(t.is_finite() && t > 0.0 && t <= max) {
                    return Err(bad(
                        name,
                        format!("must be a positive number of seconds, at most {max}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every environment variable this provider reads a credential from, by field.
    pub fn env_vars(&self) -> Vec<(&'static str, &str)> {
        [
            ("api_key_env", &self.api_key_env),
            ("access_key_env", &self.access_key_env),
            ("secret_key_env", &self.secret_key_env),
            ("session_token_env", &self.session_token_env),
        ]
        .into_iter()
        .filter_map(|(f, v)| v.as_deref().map(|v| (f, v)))
        .collect()
    }

    /// The Bedrock-only fields.
    fn validate_aws(&self) -> Result<(), DeclError> {
        let fields = [
            ("region", &self.region),
            ("access_key_env", &self.access_key_env),
            ("secret_key_env", &self.secret_key_env),
            ("session_token_env", &self.session_token_env),
            ("credentials_file", &self.credentials_file),
            ("credentials_profile", &self.credentials_profile),
        ];
        for (name, value) in fields {
            match value {
                Some(_) if self.kind != ProviderKind::Bedrock => {
                    return Err(bad(name, "only allowed for kind \"bedrock\""))
                }
                Some(v) if v.trim().is_empty() => return Err(bad(name, "must not be empty")),
                _ => {}
            }
        }
        if let Some(region) = &self.region {
            // It becomes part of a host name and of the signing scope.
            if !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(bad(
                    "region",
                    format!("`{region}` is not an AWS region name (like us-east-1)"),
                ));
            }
        }
        if self.access_key_env.is_some() != self.secret_key_env.is_some() {
            return Err(bad(
                if self.access_key_env.is_some() {
                    "secret_key_env"
                } else {
                    "access_key_env"
                },
                "access_key_env and secret_key_env go together",
            ));
        }
        Ok(())
    }

    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

impl ModelDecl {
    pub fn validate(&self) -> Result<(), DeclError> {
        if !valid_id(&self.slug) {
            return Err(bad(
                "slug",
                format!(
                    "`{}` is not a valid model slug (like `openai/gpt-4.1`)",
                    self.slug
                ),
            ));
        }
        for (i, alias) in self.aliases.iter().enumerate() {
            if !valid_id(alias) {
                return Err(bad(
                    format!("aliases[{i}]"),
                    format!("`{alias}` is not valid"),
                ));
            }
        }
        for (i, ep) in self.endpoints.iter().enumerate() {
            if ep.upstream_model.trim().is_empty() {
                return Err(bad(
                    format!("endpoints[{i}].upstream_model"),
                    "must not be empty",
                ));
            }
            for (name, p) in [
                ("input_price", ep.input_price),
                ("output_price", ep.output_price),
                ("cache_read_price", ep.cache_read_price.unwrap_or(0.0)),
                ("cache_write_price", ep.cache_write_price.unwrap_or(0.0)),
                ("request_price", ep.request_price),
            ] {
                if !(p.is_finite() && p >= 0.0) {
                    return Err(bad(
                        format!("endpoints[{i}].{name}"),
                        if name == "request_price" {
                            "must be a non-negative number (USD per request)"
                        } else {
                            "must be a non-negative number (USD per million tokens)"
                        },
                    ));
                }
            }
        }
        if self.fallbacks.iter().any(|f| f == &self.slug) {
            return Err(bad("fallbacks", "a model cannot fall back to itself"));
        }
        self.validate_catalog()
    }

    /// The catalog fields take OpenRouter's names only, so its SDKs can read the catalog.
    fn validate_catalog(&self) -> Result<(), DeclError> {
        for (field, list, known) in [
            ("input_modalities", &self.input_modalities, INPUT_MODALITIES),
            (
                "output_modalities",
                &self.output_modalities,
                OUTPUT_MODALITIES,
            ),
        ] {
            if let Some(m) = list.iter().find(|m| !known.contains(&m.as_str())) {
                return Err(bad(
                    field,
                    format!("`{m}` is not one of {}", known.join(", ")),
                ));
            }
        }
        for (i, ep) in self.endpoints.iter().enumerate() {
            if let Some(q) = ep
                .quantization
                .as_deref()
                .filter(|q| !QUANTIZATIONS.contains(q))
            {
                return Err(bad(
                    format!("endpoints[{i}].quantization"),
                    format!("`{q}` is not one of {}", QUANTIZATIONS.join(", ")),
                ));
            }
        }
        Ok(())
    }
}

impl EndpointDecl {
    /// The endpoint's prices as integers.
    pub fn price(&self) -> crate::types::Price {
        crate::types::Price::from_usd(
            self.input_price,
            self.output_price,
            self.cache_read_price.unwrap_or(self.input_price),
            self.cache_write_price.unwrap_or(self.input_price),
            self.request_price,
        )
    }
}

/// Output tokens reserved when a request names no maximum and its model declares no default.
pub const DEFAULT_OUTPUT_TOKENS: u64 = 4096;
