//! OpenRouter's catalog shapes (`/api/v1/models`, `/models/count`,
//! `/models/{author}/{slug}/endpoints`, `/providers`), field for field as its OpenAPI document
//! and SDKs require them. Fields the gateway has no figures for are present and `null`
//! (the SDKs require them to be present).

use std::collections::BTreeMap;

use serde::Serialize;

/// `GET /api/v1/models`.
#[derive(Debug, Serialize)]
pub struct ModelList {
    pub data: Vec<Model>,
    pub total_count: usize,
    pub links: ListLinks,
}

#[derive(Debug, Serialize)]
pub struct ListLinks {
    /// The next page, when the request asked for one (`offset`/`limit`) and there is one.
    pub next: Option<String>,
}

/// `GET /api/v1/models/count`.
#[derive(Debug, Serialize)]
pub struct ModelCount {
    pub data: Count,
}

#[derive(Debug, Serialize)]
pub struct Count {
    pub count: usize,
}

/// One model in the list (and in `GET /api/v1/model/{author}/{slug}` as `data`).
#[derive(Debug, Serialize)]
pub struct Model {
    pub id: String,
    pub canonical_slug: String,
    pub hugging_face_id: Option<String>,
    pub name: String,
    /// Unix seconds.
    pub created: i64,
    pub description: String,
    pub context_length: Option<u64>,
    pub architecture: Architecture,
    pub pricing: Pricing,
    pub top_provider: TopProvider,
    /// The gateway sets no per-request limits beyond the key's own.
    pub per_request_limits: Option<()>,
    pub supported_parameters: Vec<String>,
    pub default_parameters: Option<()>,
    pub supported_voices: Option<Vec<String>>,
    pub expiration_date: Option<String>,
    pub knowledge_cutoff: Option<String>,
    pub links: ModelLinks,
}

#[derive(Debug, Clone, Serialize)]
pub struct Architecture {
    /// `text+image->text`.
    pub modality: String,
    pub input_modalities: Vec<String>,
    pub output_modalities: Vec<String>,
    /// OpenRouter's tokenizer family; `Other` when the registry does not say.
    pub tokenizer: String,
    pub instruct_type: Option<String>,
}

/// USD per token (per request for `request`), as decimal strings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pricing {
    pub prompt: String,
    pub completion: String,
    pub request: String,
    pub image: String,
    pub web_search: String,
    pub internal_reasoning: String,
    pub input_cache_read: String,
    pub input_cache_write: String,
}

#[derive(Debug, Serialize)]
pub struct TopProvider {
    pub context_length: Option<u64>,
    pub max_completion_tokens: Option<u64>,
    pub is_moderated: bool,
}

#[derive(Debug, Serialize)]
pub struct ModelLinks {
    /// This model's endpoints, `/api/v1/models/{slug}/endpoints`.
    pub details: String,
}

/// `GET /api/v1/models/{author}/{slug}/endpoints`.
#[derive(Debug, Serialize)]
pub struct EndpointList {
    pub data: ModelEndpoints,
}

#[derive(Debug, Serialize)]
pub struct ModelEndpoints {
    pub id: String,
    pub name: String,
    pub created: i64,
    pub description: String,
    pub architecture: Architecture,
    pub endpoints: Vec<Endpoint>,
}

/// OpenRouter's `PercentileStats`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p99: f64,
}

/// One provider's offer of a model.
#[derive(Debug, Serialize)]
pub struct Endpoint {
    /// `Provider: Model name`.
    pub name: String,
    pub model_id: String,
    pub model_name: String,
    pub context_length: u64,
    pub pricing: Pricing,
    /// The provider's display name.
    pub provider_name: String,
    /// The provider's id: what `provider.order` / `only` / `ignore` take.
    pub tag: String,
    pub quantization: Option<String>,
    pub max_completion_tokens: Option<u64>,
    pub max_prompt_tokens: Option<u64>,
    pub supported_parameters: Vec<String>,
    /// 0: serving normally; negative: recent upstream failures (`routing::window::status`).
    pub status: i32,
    pub uptime_last_30m: Option<f64>,
    pub uptime_last_5m: Option<f64>,
    pub uptime_last_1d: Option<f64>,
    pub supports_implicit_caching: bool,
    /// Time to first token, milliseconds (streamed answers served by this replica).
    pub latency_last_30m: Option<Percentiles>,
    /// Output tokens per second after the first token.
    pub throughput_last_30m: Option<Percentiles>,
    pub native_tools: BTreeMap<String, ()>,
    pub service_tier: Option<String>,
    pub supports_diarization: bool,
    pub supports_tool_choice: ToolChoiceSupport,
}

/// Which `tool_choice` values the endpoint takes.
#[derive(Debug, Serialize)]
pub struct ToolChoiceSupport {
    pub auto: bool,
    pub function: bool,
    pub none: bool,
    pub required: bool,
}

/// `GET /api/v1/providers`.
#[derive(Debug, Serialize)]
pub struct ProviderList {
    pub data: Vec<Provider>,
}

#[derive(Debug, Serialize)]
pub struct Provider {
    pub name: String,
    pub slug: String,
    pub privacy_policy_url: Option<String>,
    pub terms_of_service_url: Option<String>,
    pub status_page_url: Option<String>,
}
