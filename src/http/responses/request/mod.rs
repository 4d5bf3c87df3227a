//! Responses API requests: parsing, and translation to the canonical chat request.
//!
//! `ResponsesRequest::parse` validates what every path needs (model, input, the output cap,
//! streaming, instructions) and refuses what a stateless gateway cannot do (`store: true`,
//! `previous_response_id`, `conversation`, `background`, stored `prompt` templates,
//! `item_reference` items). It keeps the body otherwise untouched, so a native OpenAI
//! upstream gets it back with only `model` replaced. `to_chat` translates it to an OpenAI
//! Chat Completions request for every other provider, and names the Responses parameters
//! that have no meaning there.
//!
//! Client-run tools that are not plain functions survive translation as function tools, so
//! that a conversation's history keeps its calls: `local_shell` becomes a function named
//! `local_shell` (its `local_shell_call` items become tool calls whose arguments are the
//! call's `action` as JSON text), and a `custom` (freeform) tool becomes a function taking
//! one string, `{"input": …}` (its `custom_tool_call` items become tool calls with arguments
//! `{"input": <the call's input>}`). Rendering the model's calls back as Responses items is
//! the renderer's business.

use serde_json::{json, Value};

use crate::types::attribution::{attribution, Attribution, UserField};
use crate::types::chat::{
    parse_body, routing_fields, ChatRequest, InvalidRequest, ProviderPreferences, RoutingFields,
    GATEWAY_FIELDS,
};
use crate::types::json::RawObject;

/// Reported for `reasoning` items in `input` (their encrypted content means nothing to
/// another provider).
const REASONING_ITEMS: &str = "reasoning_items";
/// Reported for hosted tools (`web_search*`, `file_search`, `code_interpreter`,
/// `computer_use*`, `image_generation`, `mcp`, …) and any other tool type with no chat
/// equivalent.
const SERVER_TOOLS: &str = "server_tools";
/// Reported for `input` items with no chat equivalent: hosted-tool calls and their outputs
/// (`web_search_call`, `mcp_call`, …) and unknown item types.
const INPUT_ITEMS: &str = "input_items";
/// Reported for content parts with no chat equivalent: uploaded-file ids, file URLs,
/// non-text parts in system or assistant messages, unknown part types.
const CONTENT_PARTS: &str = "content_parts";
/// Reported for a `tool_choice` naming a hosted tool, an MCP tool or an allowed-tools set.
const TOOL_CHOICE: &str = "tool_choice";
/// Reported when `safety_identifier` is dropped because `user` is also set.
const SAFETY_IDENTIFIER: &str = "safety_identifier";
/// Reported for `truncation: "auto"` (chat providers fail on an over-long input instead).
const TRUNCATION: &str = "truncation";

/// Top-level Responses fields with no chat equivalent: dropped, and reported by name when
/// set (not null, not an empty array). Every other unknown top-level field passes through.
const RESPONSES_ONLY: &[&str] = &[
    "context_management",
    "include",
    "max_tool_calls",
    "metadata",
    "moderation",
    "prompt_cache_key",
    "prompt_cache_retention",
    "service_tier",
];

/// Top-level fields dropped without a report: what they ask for is what the gateway does
/// anyway (`store: false`, no `background`, no stored state), or the translation sets its
/// own (`stream_options`). `parse` refuses the values it cannot honour.
const SILENT: &[&str] = &[
    "background",
    "conversation",
    "previous_response_id",
    "store",
    "stream_options",
];

/// Message roles an input message may have.
const ROLES: &[&str] = &["user", "assistant", "system", "developer"];

/// A validated `POST /v1/responses` request.
#[derive(Debug, Clone)]
pub struct ResponsesRequest {
    /// The client's body minus the gateway's own fields (`models`, `provider`, and
    /// OpenRouter's others in `GATEWAY_FIELDS` except `model`), in the client's order,
    /// otherwise untouched: native passthrough sends this with only `model` replaced.
    pub body: RawObject,
    /// `model` (may be absent when `models` is given, as in `ChatRequest`).
    pub model: Option<String>,
    /// OpenRouter's `models` extension.
    pub models: Vec<String>,
    /// OpenRouter's `provider` extension.
    pub provider: ProviderPreferences,
    pub stream: bool,
    /// `max_output_tokens`, when given.
    pub max_output_tokens: Option<u64>,
    /// Byte length of `instructions` + `input` + `tools`, for token estimates.
    pub prompt_bytes: usize,
    /// `user` and OpenRouter's `session_id`, for the record.
    pub attribution: Attribution,
}

impl ResponsesRequest {
    /// Parses and validates a request body.
    pub fn parse(bytes: &[u8]) -> Result<ResponsesRequest, InvalidRequest> {
        Self::from_body(parse_body(bytes)?)
    }

    /// As `parse`, for a body parsed one level deep.
    pub fn from_body(mut body: RawObject) -> Result<ResponsesRequest, InvalidRequest> {
        let RoutingFields {
            model,
            models,
            provider,
        } = routing_fields(&body, "openai/gpt-5")?;
        let attribution = attribution(&body, UserField::User)?;

        refuse_state(&body)?;
        let input = body.get("input").ok_or_else(|| {
            InvalidRequest::new(
                "`input` is required: a string or a non-empty array of input items",
                Some("input"),
                "missing_required_parameter",
            )
        })?;
        validate_input(&parse_raw(input, "input")?)?;
        match body.get_as::<Value>("instructions") {
            None | Some(Ok(Value::Null | Value::String(_))) => {}
            Some(_) => return Err(invalid_type("instructions", "a string")),
        }

        let max_output_tokens = match body.get("max_output_tokens") {
            None => None,
            Some(raw) => match serde_json::from_str::<Value>(raw.get()) {
                Ok(Value::Null) => None,
                Ok(Value::Number(n)) => match n.as_u64() {
                    Some(n) if n > 0 => Some(n),
                    _ => {
                        return Err(InvalidRequest::new(
                            format!("`max_output_tokens` must be a positive integer, not {n}"),
                            Some("max_output_tokens"),
                            "invalid_value",
                        ))
                    }
                },
                _ => return Err(invalid_type("max_output_tokens", "a positive integer")),
            },
        };
        let stream = match body.get_as::<Option<bool>>("stream") {
            None => false,
            Some(Ok(v)) => v.unwrap_or(false),
            Some(Err(_)) => return Err(invalid_type("stream", "a boolean")),
        };

        let prompt_bytes = ["instructions", "input", "tools"]
            .iter()
            .filter_map(|k| body.get(k))
            .map(|raw| raw.get().len())
            .sum();
        for field in GATEWAY_FIELDS.iter().filter(|f| **f != "model") {
            body.remove(field);
        }
        Ok(ResponsesRequest {
            attribution,
            body,
            model,
            models,
            provider,
            stream,
            max_output_tokens,
            prompt_bytes,
        })
    }

    /// The canonical chat request for a provider that does not speak Responses, and the
    /// names of the Responses parameters that have no meaning there and were dropped
    /// (reported to clients in `x-switchyard-dropped-params`; sorted, deduplicated).
    ///
    /// Errors are request shapes that cannot be translated at all (a `function_call` with
    /// no `call_id`, a tool with no name, an unknown `text.format` type, …).
    pub fn to_chat(&self) -> Result<(ChatRequest, Vec<&'static str>), InvalidRequest> {
        let mut dropped: Vec<&'static str> = Vec::new();
        let value = |key: &'static str| -> Result<Value, InvalidRequest> {
            match self.body.get(key) {
                Some(raw) => parse_raw(raw, key),
                None => Ok(Value::Null),
            }
        };
        refuse_state(&self.body)?;

        let mut conv = Conversation::default();
        match value("instructions")? {
            Value::Null => {}
            Value::String(s) if s.is_empty() => {}
            Value::String(s) => conv.push(json!({"role": "system", "content": s})),
            _ => return Err(invalid_type("instructions", "a string")),
        }
        conv.input(&value("input")?, &mut dropped)?;
        let messages = conv.finish();

        let tools = tools(&value("tools")?, &mut dropped)?;
        let tool_choice = tool_choice(&value("tool_choice")?, &mut dropped)?;
        let reasoning = reasoning(&value("reasoning")?)?;
        let (response_format, verbosity) = text_options(&value("text")?)?;
        let has_user = !matches!(value("user")?, Value::Null);

        let mut out = RawObject::new();
        if let Some(m) = &self.model {
            out.insert("model", m);
        }
        if !self.models.is_empty() {
            // `ChatRequest::parse` needs `model` or `models`; it takes `models` out again.
            out.insert("models", &self.models);
        }
        for key in self.body.keys() {
            let Some(raw) = self.body.get(key) else {
                continue;
            };
            let null = raw.get() == "null";
            match key {
                "model" | "instructions" => {}
                "input" => out.insert("messages", &messages),
                _ if null && !is_unknown(key) => {}
                "max_output_tokens" => out.insert_raw("max_tokens", raw.to_raw_value()),
                "temperature" | "top_p" | "user" => out.insert_raw(key, raw.to_raw_value()),
                "top_logprobs" => {
                    out.insert_raw(key, raw.to_raw_value());
                    if raw.get() != "0" {
                        out.insert("logprobs", &true);
                    }
                }
                "safety_identifier" if has_user => dropped.push(SAFETY_IDENTIFIER),
                "safety_identifier" => out.insert_raw("user", raw.to_raw_value()),
                "stream" => {
                    out.insert_raw(key, raw.to_raw_value());
                    if self.stream {
                        out.insert("stream_options", &json!({"include_usage": true}));
                    }
                }
                "tools" => {
                    if let Some(tools) = &tools {
                        out.insert("tools", tools);
                    }
                }
                // OpenAI refuses both without tools (e.g. when all were hosted tools).
                "tool_choice" => {
                    if let (Some(_), Some(choice)) = (&tools, &tool_choice) {
                        out.insert("tool_choice", choice);
                    }
                }
                "parallel_tool_calls" => {
                    if tools.is_some() {
                        out.insert_raw(key, raw.to_raw_value());
                    }
                }
                "reasoning" => {
                    if let Some(r) = &reasoning {
                        out.insert("reasoning", r);
                    }
                }
                "text" => {
                    if let Some(f) = &response_format {
                        out.insert("response_format", f);
                    }
                    if let Some(v) = &verbosity {
                        out.insert("verbosity", v);
                    }
                }
                "truncation" => {
                    if raw.get() != "\"disabled\"" {
                        dropped.push(TRUNCATION);
                    }
                }
                _ if SILENT.contains(&key) => {}
                _ => match RESPONSES_ONLY.iter().find(|k| **k == key) {
                    Some(name) => {
                        if raw.get().trim() != "[]" {
                            dropped.push(name);
                        }
                    }
                    None => out.insert_raw(key, raw.to_raw_value()),
                },
            }
        }
        // `input` is validated by `parse`; a hand-built body may still lack it.
        if !out.contains("messages") {
            out.insert("messages", &messages);
        }

        let mut chat = ChatRequest::parse(&out.to_vec())?;
        chat.models = self.models.clone();
        chat.provider = self.provider.clone();
        dropped.sort_unstable();
        dropped.dedup();
        Ok((chat, dropped))
    }
}

/// Whether a top-level key is one the translation does not know (passed through as is,
/// null included).
fn is_unknown(key: &str) -> bool {
    const KNOWN: &[&str] = &[
        "max_output_tokens",
        "temperature",
        "top_p",
        "user",
        "top_logprobs",
        "safety_identifier",
        "stream",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning",
        "text",
        "truncation",
        "prompt",
    ];
    !KNOWN.contains(&key) && !SILENT.contains(&key) && !RESPONSES_ONLY.contains(&key)
}

// ---------------------------------------------------------------------------------------
// Validation (parse)

/// Refuses what needs server-side state or work past the response: stored responses and
/// conversations, background runs and stored prompt templates.
fn refuse_state(body: &RawObject) -> Result<(), InvalidRequest> {
    let field = |key: &str| body.get_as::<Value>(key).and_then(Result::ok);
    match field("store") {
        None | Some(Value::Null | Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            return Err(unsupported(
                "store",
                "`store: true` is not supported: this gateway is stateless and keeps no \
                 responses. Send `store: false` (or omit it) and the whole conversation in \
                 `input`",
            ))
        }
        Some(_) => return Err(invalid_type("store", "a boolean")),
    }
    for key in ["previous_response_id", "conversation"] {
        if field(key).is_some_and(|v| !v.is_null()) {
            let param = if key == "conversation" {
                "conversation"
            } else {
                "previous_response_id"
            };
            return Err(unsupported(
                param,
                &format!(
                    "`{param}` is not supported: this gateway is stateless. Send the whole \
                     conversation in `input`"
                ),
            ));
        }
    }
    match field("background") {
        None | Some(Value::Null | Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            return Err(unsupported(
                "background",
                "`background: true` is not supported: this gateway is stateless and cannot \
                 run a response in the background. Use `stream: true` for long responses",
            ))
        }
        Some(_) => return Err(invalid_type("background", "a boolean")),
    }
    if field("prompt").is_some_and(|v| !v.is_null()) {
        return Err(unsupported(
            "prompt",
            "`prompt` (stored prompt templates) is not supported: send the prompt's text in \
             `instructions` and `input`",
        ));
    }
    Ok(())
}

fn validate_input(v: &Value) -> Result<(), InvalidRequest> {
    let items = match v {
        Value::String(_) => return Ok(()),
        Value::Array(items) if items.is_empty() => {
            return Err(InvalidRequest::new(
                "`input` must contain at least one item",
                Some("input"),
                "invalid_value",
            ))
        }
        Value::Array(items) => items,
        _ => {
            return Err(invalid_type(
                "input",
                "a string or a non-empty array of input items",
            ))
        }
    };
    for (i, item) in items.iter().enumerate() {
        if !item.is_object() {
            return Err(input_error(format!("`input[{i}]` must be an object")));
        }
        let ty = match item.get("type") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.as_str()),
            Some(_) => return Err(input_error(format!("`input[{i}].type` must be a string"))),
        };
        match ty {
            Some("item_reference") => {
                return Err(InvalidRequest::new(
                    format!(
                        "`input[{i}]`: `item_reference` items are not supported: this gateway \
                         is stateless and stores no items. Send the item itself"
                    ),
                    Some("input"),
                    "unsupported_value",
                ))
            }
            None | Some("message") => {
                match item.get("role") {
                    Some(Value::String(r)) if ROLES.contains(&r.as_str()) => {}
                    Some(Value::String(r)) => {
                        return Err(input_error(format!(
                            "`input[{i}].role` must be `user`, `assistant`, `system` or \
                             `developer`, not `{r}`"
                        )))
                    }
                    _ => {
                        return Err(input_error(format!(
                            "`input[{i}].role` is required and must be a string"
                        )))
                    }
                }
                if !matches!(
                    item.get("content"),
                    Some(Value::String(_) | Value::Array(_))
                ) {
                    return Err(input_error(format!(
                        "`input[{i}].content` is required and must be a string or an array \
                         of content parts"
                    )));
                }
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn unsupported(param: &'static str, message: &str) -> InvalidRequest {
    InvalidRequest::new(message, Some(param), "unsupported_parameter")
}

mod translate;
use translate::*;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_translate;
