//! The inbound chat-completions request: parsed one level deep, validated, and split into
//! what the gateway consumes (routing fields) and what it forwards untouched.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::attribution::{attribution, Attribution, UserField};
use super::json::RawObject;

/// Fields that belong to the gateway (OpenRouter's extensions) and never reach an upstream.
pub const GATEWAY_FIELDS: &[&str] = &[
    "model",
    "models",
    "provider",
    "route",
    "transforms",
    "usage",
    "plugins",
    "session_id",
    "trace",
];

/// Request parameters a registry entry may declare support for (OpenRouter's vocabulary).
/// `require_parameters` routing compares the request's keys against these.
pub const ROUTABLE_PARAMETERS: &[&str] = &[
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "top_a",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "response_format",
    "structured_outputs",
    "reasoning",
    "reasoning_effort",
    "include_reasoning",
    "n",
    "web_search_options",
    "verbosity",
];

/// A client error in the request itself (always a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidRequest {
    pub message: String,
    pub param: Option<&'static str>,
    pub code: &'static str,
}

impl InvalidRequest {
    pub fn new(
        message: impl Into<String>,
        param: Option<&'static str>,
        code: &'static str,
    ) -> Self {
        InvalidRequest {
            message: message.into(),
            param,
            code,
        }
    }
}

/// OpenRouter's `provider` routing preferences.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderPreferences {
    #[serde(default)]
    pub order: Option<Vec<String>>,
    #[serde(default)]
    pub only: Option<Vec<String>>,
    #[serde(default)]
    pub ignore: Option<Vec<String>>,
    #[serde(default)]
    pub allow_fallbacks: Option<bool>,
    #[serde(default)]
    pub require_parameters: Option<bool>,
    #[serde(default)]
    pub data_collection: Option<DataCollection>,
    #[serde(default)]
    pub zdr: Option<bool>,
    #[serde(default)]
    pub sort: Option<SortPreference>,
    #[serde(default)]
    pub max_price: Option<MaxPrice>,
    // Accepted for OpenRouter compatibility; the registry has no data to act on them yet.
    #[serde(default)]
    pub quantizations: Option<Vec<String>>,
    #[serde(default)]
    pub enforce_distillable_text: Option<bool>,
    #[serde(default)]
    pub preferred_min_throughput: Option<Box<RawValue>>,
    #[serde(default)]
    pub preferred_max_latency: Option<Box<RawValue>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataCollection {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SortPreference {
    By(SortBy),
    Object {
        by: SortBy,
        #[serde(default)]
        partition: Option<String>,
    },
}

impl SortPreference {
    pub fn by(&self) -> SortBy {
        match self {
            SortPreference::By(b) | SortPreference::Object { by: b, .. } => *b,
        }
    }

    /// `partition: "none"`: rank every model's endpoints together rather than within each
    /// model (OpenRouter's default, `"model"`, keeps the models' order).
    pub fn across_models(&self) -> bool {
        matches!(self, SortPreference::Object { partition: Some(p), .. } if p == "none")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortBy {
    Price,
    Throughput,
    Latency,
    Exacto,
}

/// Price ceilings in USD per million tokens; OpenRouter documents numbers and types strings.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MaxPrice {
    #[serde(default, deserialize_with = "number_or_string")]
    pub prompt: Option<f64>,
    #[serde(default, deserialize_with = "number_or_string")]
    pub completion: Option<f64>,
    #[serde(default, deserialize_with = "number_or_string")]
    pub request: Option<f64>,
    #[serde(default, deserialize_with = "number_or_string")]
    pub image: Option<f64>,
    #[serde(default, deserialize_with = "number_or_string")]
    pub audio: Option<f64>,
}

fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Num(f64),
        Str(String),
    }
    match Option::<N>::deserialize(d)? {
        None => Ok(None),
        Some(N::Num(n)) => Ok(Some(n)),
        Some(N::Str(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("`{s}` is not a number"))),
    }
}

/// A validated chat-completions request.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// Everything the client sent except the gateway's own fields, in the client's order.
    pub body: RawObject,
    /// The requested model (may be absent when `models` is given).
    pub model: Option<String>,
    /// OpenRouter's ordered fallback list.
    pub models: Vec<String>,
    pub stream: bool,
    /// The client asked for the final usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
    pub provider: ProviderPreferences,
    /// Byte length of `messages`, for estimating prompt tokens when an upstream gives none.
    pub messages_len: usize,
    /// The output cap the client set (`max_completion_tokens`, else `max_tokens`), when it
    /// is a whole number: budgets and token limits reserve it at admission.
    pub max_output_tokens: Option<u64>,
    /// Images fetched by URL for this request, shared by its attempts so a fallback does
    /// not download them again.
    pub images: ImageCache,
    /// The end user and session the client named, for the record.
    pub attribution: Attribution,
}

/// Images a request's attempts fetched, by URL: the media type and the raw bytes.
#[derive(Clone, Default)]
pub struct ImageCache(
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, (String, bytes::Bytes)>>>,
);

impl ImageCache {
    pub fn get(&self, url: &str) -> Option<(String, bytes::Bytes)> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(url).cloned()
    }

    pub fn put(&self, url: &str, mime_type: String, data: bytes::Bytes) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(url.to_owned(), (mime_type, data));
    }
}

impl std::fmt::Debug for ImageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map(|m| m.len()).unwrap_or(0);
        write!(f, "ImageCache({n} images)")
    }
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

#[derive(Deserialize)]
struct MessageHead {
    role: Option<Box<RawValue>>,
}

/// What one request may ask of the planner: model names are looked up, compared for
/// suggestions and logged, and each entry of `models` is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestBounds {
    pub max_model_name_bytes: usize,
    pub max_models: usize,
}

impl Default for RequestBounds {
    fn default() -> Self {
        RequestBounds {
            max_model_name_bytes: 256,
            max_models: 16,
        }
    }
}

impl ChatRequest {
    /// Refuses model names and `models` lists past `bounds`, before anything is planned.
    pub fn check_bounds(&self, bounds: RequestBounds) -> Result<(), InvalidRequest> {
        check_model_bounds(self.model.as_deref(), &self.models, bounds)
    }

    /// Parses and validates a request body.
    pub fn parse(bytes: &[u8]) -> Result<Self, InvalidRequest> {
        Self::from_body(parse_body(bytes)?)
    }

    /// Validates a request body parsed one level deep.
    pub fn from_body(mut body: RawObject) -> Result<Self, InvalidRequest> {
        let RoutingFields {
            model,
            models,
            provider,
        } = routing_fields(&body, "mock/echo")?;
        let attribution = attribution(&body, UserField::User)?;

        let messages = body.get("messages").ok_or_else(|| {
            InvalidRequest::new(
                "`messages` is required and must be a non-empty array",
                Some("messages"),
                "missing_required_parameter",
            )
        })?;
        let messages_len = messages.get().len();
        let heads: Vec<MessageHead> = serde_json::from_str(messages.get())
            .map_err(|_| invalid_type("messages", "a non-empty array of message objects"))?;
        if heads.is_empty() {
            return Err(InvalidRequest::new(
                "`messages` must contain at least one message",
                Some("messages"),
                "invalid_value",
            ));
        }
        for (i, head) in heads.iter().enumerate() {
            let ok = head
                .role
                .as_ref()
                .is_some_and(|r| serde_json::from_str::<&str>(r.get()).is_ok());
            if !ok {
                return Err(InvalidRequest::new(
                    format!("`messages[{i}].role` is required and must be a string"),
                    Some("messages"),
                    "invalid_value",
                ));
            }
        }

        let stream = match body.get_as::<Option<bool>>("stream") {
            None => false,
            Some(Ok(v)) => v.unwrap_or(false),
            Some(Err(_)) => return Err(invalid_type("stream", "a boolean")),
        };
        let include_usage = match body.get_as::<Option<StreamOptions>>("stream_options") {
            None => false,
            Some(Ok(v)) => v.and_then(|o| o.include_usage).unwrap_or(false),
            Some(Err(_)) => return Err(invalid_type("stream_options", "an object")),
        };

        let cap = |f: &str| body.get_as::<u64>(f).and_then(Result::ok);
        let max_output_tokens = cap("max_completion_tokens").or_else(|| cap("max_tokens"));
        for field in GATEWAY_FIELDS {
            body.remove(field);
        }
        Ok(ChatRequest {
            max_output_tokens,
            body,
            model,
            models,
            stream,
            include_usage,
            provider,
            messages_len,
            images: ImageCache::default(),
            attribution,
        })
    }

    /// The routable parameters this request sets (for `require_parameters`).
    pub fn used_parameters(&self) -> impl Iterator<Item = &'static str> + '_ {
        ROUTABLE_PARAMETERS
            .iter()
            .copied()
            .filter(|p| self.body.get(p).is_some_and(|v| v.get() != "null"))
    }
}

/// Refuses model names and `models` lists past `bounds`, whatever protocol they came in.
pub fn check_model_bounds(
    model: Option<&str>,
    models: &[String],
    bounds: RequestBounds,
) -> Result<(), InvalidRequest> {
    let long = |param: &'static str| {
        InvalidRequest::new(
            format!(
                "`{param}` names a model longer than {} bytes",
                bounds.max_model_name_bytes
            ),
            Some(param),
            "string_above_max_length",
        )
    };
    if model.is_some_and(|m| m.len() > bounds.max_model_name_bytes) {
        return Err(long("model"));
    }
    if models.len() > bounds.max_models {
        return Err(InvalidRequest::new(
            format!(
                "`models` lists {} models; at most {} are allowed",
                models.len(),
                bounds.max_models
            ),
            Some("models"),
            "array_above_max_length",
        ));
    }
    if models.iter().any(|m| m.len() > bounds.max_model_name_bytes) {
        return Err(long("models"));
    }
    Ok(())
}

/// A request body as a JSON object; a parse error says where.
pub fn parse_body(bytes: &[u8]) -> Result<RawObject, InvalidRequest> {
    RawObject::parse(bytes).map_err(|e| {
        let what = if e.classify() == serde_json::error::Category::Data {
            "The request body must be a JSON object".to_owned()
        } else {
            format!(
                "Invalid JSON in request body at line {} column {}: {}",
                e.line(),
                e.column(),
                strip_position(&e.to_string())
            )
        };
        InvalidRequest::new(what, None, "invalid_json")
    })
}

/// OpenRouter's routing fields, read the same way by every front door.
pub struct RoutingFields {
    pub model: Option<String>,
    pub models: Vec<String>,
    pub provider: ProviderPreferences,
}

/// `model`, `models` and `provider`; a missing model's message names `example`.
pub fn routing_fields(body: &RawObject, example: &str) -> Result<RoutingFields, InvalidRequest> {
    let model = match body.get("model") {
        None => None,
        Some(raw) if raw.get() == "null" => None,
        Some(raw) => Some(
            serde_json::from_str::<String>(raw.get())
                .map_err(|_| invalid_type("model", "a string"))?,
        ),
    };
    let models: Vec<String> = match body.get_as::<Option<Vec<String>>>("models") {
        None => Vec::new(),
        Some(Ok(v)) => v.unwrap_or_default(),
        Some(Err(_)) => return Err(invalid_type("models", "an array of strings")),
    };
    match &model {
        Some(m) if m.trim().is_empty() => {
            return Err(InvalidRequest::new(
                "`model` must not be empty",
                Some("model"),
                "invalid_value",
            ))
        }
        None if models.is_empty() => {
            return Err(InvalidRequest::new(
                format!(
                "`model` is required: name a model such as `{example}` (GET /v1/models lists them)"
            ),
                Some("model"),
                "missing_required_parameter",
            ))
        }
        _ => {}
    }
    let provider = match body.get_as::<Option<ProviderPreferences>>("provider") {
        None => ProviderPreferences::default(),
        Some(Ok(v)) => v.unwrap_or_default(),
        Some(Err(e)) => {
            return Err(InvalidRequest::new(
                format!(
                    "Invalid `provider` preferences: {}",
                    strip_position(&e.to_string())
                ),
                Some("provider"),
                "invalid_value",
            ))
        }
    };
    Ok(RoutingFields {
        model,
        models,
        provider,
    })
}

fn invalid_type(param: &'static str, expected: &str) -> InvalidRequest {
    InvalidRequest::new(
        format!("`{param}` must be {expected}"),
        Some(param),
        "invalid_type",
    )
}

/// serde_json appends " at line X column Y"; we report the position ourselves.
fn strip_position(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ChatRequest, InvalidRequest> {
        ChatRequest::parse(s.as_bytes())
    }

    #[test]
    fn consumes_gateway_fields_and_keeps_the_rest() {
        let r = parse(
            r#"{"model":"a/b","models":["a/b","c/d"],"messages":[{"role":"user","content":"hi"}],"provider":{"order":["x"]},"x_custom":{"k":1},"usage":{"include":true}}"#,
        )
        .unwrap();
        assert_eq!(r.model.as_deref(), Some("a/b"));
        assert_eq!(r.models, vec!["a/b", "c/d"]);
        let keys: Vec<_> = r.body.keys().collect();
        assert_eq!(keys, vec!["messages", "x_custom"]);
        assert_eq!(r.provider.order.as_deref(), Some(&["x".to_owned()][..]));
    }

    #[test]
    fn malformed_json_says_where() {
        let e = parse("{\"model\": \"a\",\n \"messages\": [}").unwrap_err();
        assert!(e.message.contains("line 2 column"), "{}", e.message);
    }

    #[test]
    fn bad_inputs_are_rejected_with_the_param() {
        let cases = [
            (r#"{"model":"a"}"#, "messages"),
            (r#"{"model":"a","messages":[]}"#, "messages"),
            (r#"{"model":"a","messages":"hi"}"#, "messages"),
            (r#"{"model":"a","messages":[{"content":"x"}]}"#, "messages"),
            (r#"{"messages":[{"role":"user"}]}"#, "model"),
            (r#"{"model":5,"messages":[{"role":"user"}]}"#, "model"),
            (
                r#"{"model":"a","stream":"yes","messages":[{"role":"user"}]}"#,
                "stream",
            ),
            (
                r#"{"model":"a","provider":{"nope":1},"messages":[{"role":"user"}]}"#,
                "provider",
            ),
        ];
        for (body, param) in cases {
            let e = parse(body).expect_err(body);
            assert_eq!(e.param, Some(param), "{body}: {}", e.message);
        }
        assert_eq!(parse("[1]").unwrap_err().code, "invalid_json");
    }

    #[test]
    fn stream_options_and_used_parameters() {
        let r = parse(
            r#"{"model":"a","stream":true,"stream_options":{"include_usage":true},"tools":[],"temperature":null,"messages":[{"role":"user"}]}"#,
        )
        .unwrap();
        assert!(r.stream && r.include_usage);
        assert_eq!(r.used_parameters().collect::<Vec<_>>(), vec!["tools"]);
    }

    #[test]
    fn max_price_accepts_strings_and_numbers() {
        let r = parse(
            r#"{"model":"a","provider":{"max_price":{"prompt":"1.5","completion":2}},"messages":[{"role":"user"}]}"#,
        )
        .unwrap();
        let mp = r.provider.max_price.unwrap();
        assert_eq!(mp.prompt, Some(1.5));
        assert_eq!(mp.completion, Some(2.0));
    }
}
