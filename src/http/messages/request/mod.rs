//! Anthropic Messages requests: parsing, and translation to the canonical chat request.
//!
//! `MessagesRequest::parse` validates what every path needs (model, messages, roles, the
//! output cap, streaming, the system prompt) and keeps the body otherwise untouched, so a
//! native Anthropic upstream gets it back with only `model` replaced. `to_chat` translates it
//! to an OpenAI Chat Completions request for every other provider, and names the Anthropic
//! parameters that have no meaning there.

use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::types::attribution::{attribution, Attribution, UserField};
use crate::types::chat::{
    parse_body, routing_fields, ChatRequest, InvalidRequest, ProviderPreferences, RoutingFields,
    GATEWAY_FIELDS,
};
use crate::types::json::RawObject;

/// Reported when a `cache_control` directive (top level, system, tools, messages or blocks)
/// is left out: chat providers cache on their own.
const CACHE_CONTROL: &str = "cache_control";
/// Reported for content blocks with no chat equivalent (unknown types, file-id sources,
/// server-tool blocks, documents by URL).
const CONTENT_BLOCK: &str = "content_block";
/// Reported for `thinking` / `redacted_thinking` blocks echoed in assistant turns.
const THINKING_BLOCKS: &str = "thinking_blocks";
/// Reported for Anthropic-run tools (`web_search_*`, `bash_*`, `text_editor_*`, …).
const SERVER_TOOLS: &str = "server_tools";
/// Reported when `citations` are asked of a document or search result.
const CITATIONS: &str = "citations";
/// Reported for `metadata` members other than `user_id`.
const METADATA: &str = "metadata";
/// Reported for `output_config` members other than `effort` and `format`.
const OUTPUT_CONFIG: &str = "output_config";

/// Top-level Anthropic fields with no chat equivalent: dropped and reported by name.
/// Every other unknown top-level field passes through to the chat body unchanged.
const ANTHROPIC_ONLY: &[&str] = &[
    "anthropic_beta",
    "anthropic_version",
    CACHE_CONTROL,
    "container",
    "context_management",
    "inference_geo",
    "mcp_servers",
    "service_tier",
];

/// Message roles the Messages API accepts (Claude Code sends `system` between user turns).
const ROLES: &[&str] = &["user", "assistant", "system"];

/// Tokens counted per image by `estimate_input_tokens`: Anthropic's cost for an image of
/// about 1.15 megapixels, the size it scales larger images down to.
const IMAGE_TOKENS: u64 = 1600;
/// Characters of non-image base64 (PDFs) per estimated token.
const BASE64_CHARS_PER_TOKEN: u64 = 16;

/// A validated `POST /v1/messages` (or `/v1/messages/count_tokens`) request.
#[derive(Debug, Clone)]
pub struct MessagesRequest {
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
    /// `max_tokens`, when given (the handler requires it except on count_tokens).
    pub max_tokens: Option<u64>,
    /// Byte length of `system` + `messages` + `tools`, for token estimates.
    pub prompt_bytes: usize,
    /// `metadata.user_id` and OpenRouter's `session_id`, for the record.
    pub attribution: Attribution,
}

impl MessagesRequest {
    /// Parses and validates a request body. `max_tokens` is optional here (count_tokens
    /// takes none); when given it must be a positive integer.
    pub fn parse(bytes: &[u8]) -> Result<MessagesRequest, InvalidRequest> {
        Self::from_body(parse_body(bytes)?)
    }

    /// As `parse`, for a body parsed one level deep.
    pub fn from_body(mut body: RawObject) -> Result<MessagesRequest, InvalidRequest> {
        let RoutingFields {
            model,
            models,
            provider,
        } = routing_fields(&body, "anthropic/claude-sonnet-4")?;
        let attribution = attribution(&body, UserField::MetadataUserId)?;

        let messages = body.get("messages").ok_or_else(|| {
            InvalidRequest::new(
                "`messages` is required and must be a non-empty array",
                Some("messages"),
                "missing_required_parameter",
            )
        })?;
        validate_messages(messages)?;
        if let Some(system) = body.get("system") {
            validate_system(system)?;
        }

        let max_tokens = match body.get("max_tokens") {
            None => None,
            Some(raw) => match serde_json::from_str::<Value>(raw.get()) {
                Ok(Value::Number(n)) => match n.as_u64() {
                    Some(n) if n > 0 => Some(n),
                    _ => {
                        return Err(InvalidRequest::new(
                            format!("`max_tokens` must be a positive integer, not {n}"),
                            Some("max_tokens"),
                            "invalid_value",
                        ))
                    }
                },
                _ => return Err(invalid_type("max_tokens", "a positive integer")),
            },
        };
        let stream = match body.get_as::<Option<bool>>("stream") {
            None => false,
            Some(Ok(v)) => v.unwrap_or(false),
            Some(Err(_)) => return Err(invalid_type("stream", "a boolean")),
        };

        let prompt_bytes = ["system", "messages", "tools"]
            .iter()
            .filter_map(|k| body.get(k))
            .map(|raw| raw.get().len())
            .sum();
        for field in GATEWAY_FIELDS.iter().filter(|f| **f != "model") {
            body.remove(field);
        }
        Ok(MessagesRequest {
            attribution,
            body,
            model,
            models,
            provider,
            stream,
            max_tokens,
            prompt_bytes,
        })
    }

    /// The canonical chat request for a provider that does not speak Messages, and the names
    /// of the Anthropic parameters that have no meaning there and were dropped (reported to
    /// clients in `x-switchyard-dropped-params`; sorted, deduplicated).
    ///
    /// Errors are request shapes that cannot be translated at all (a `tool_use` block with
    /// no `id`, an image with no data, an unknown `tool_choice` type, …).
    pub fn to_chat(&self) -> Result<(ChatRequest, Vec<&'static str>), InvalidRequest> {
        let mut dropped: Vec<&'static str> = Vec::new();

        let mut messages: Vec<Value> = Vec::new();
        if let Some(raw) = self.body.get("system") {
            if let Some(text) = system_prompt(&parse_raw(raw, "system")?, &mut dropped)? {
                messages.push(json!({"role": "system", "content": text}));
            }
        }
        let source = match self.body.get("messages") {
            Some(raw) => parse_raw(raw, "messages")?,
            None => Value::Null,
        };
        let Value::Array(source) = source else {
            return Err(invalid_type(
                "messages",
                "a non-empty array of message objects",
            ));
        };
        for (i, m) in source.iter().enumerate() {
            message(i, m, &mut messages, &mut dropped)?;
        }

        let tools = match self.body.get("tools") {
            Some(raw) => tools(&parse_raw(raw, "tools")?, &mut dropped)?,
            None => None,
        };
        let tool_choice = match self.body.get("tool_choice") {
            Some(raw) => tool_choice(&parse_raw(raw, "tool_choice")?)?,
            None => None,
        };
        let reasoning = reasoning(
            self.body.get("thinking"),
            self.body.get("output_config"),
            &mut dropped,
        )?;
        let response_format = match self.body.get("output_config") {
            Some(raw) => response_format(&parse_raw(raw, "output_config")?)?,
            None => None,
        };

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
            match key {
                "model" | "system" => {}
                "messages" => out.insert("messages", &messages),
                "max_tokens" | "temperature" | "top_p" | "top_k" => {
                    out.insert_raw(key, raw.to_raw_value());
                }
                "stream" => {
                    out.insert_raw(key, raw.to_raw_value());
                    if self.stream {
                        out.insert("stream_options", &json!({"include_usage": true}));
                    }
                }
                "stop_sequences" => {
                    let stop: Option<Vec<String>> = serde_json::from_str(raw.get())
                        .map_err(|_| invalid_type("stop_sequences", "an array of strings"))?;
                    if let Some(stop) = stop.filter(|s| !s.is_empty()) {
                        out.insert("stop", &stop);
                    }
                }
                "metadata" => {
                    if let Some(user) = metadata_user(&parse_raw(raw, "metadata")?, &mut dropped) {
                        out.insert("user", &user);
                    }
                }
                "tools" => {
                    if let Some(tools) = &tools {
                        out.insert("tools", tools);
                    }
                }
                "tool_choice" => {
                    // OpenAI refuses a tool_choice without tools (e.g. all were server tools).
                    if let (Some(_), Some((choice, parallel))) = (&tools, &tool_choice) {
                        out.insert("tool_choice", choice);
                        if let Some(p) = parallel {
                            out.insert("parallel_tool_calls", p);
                        }
                    }
                }
                "thinking" | "output_config" => {
                    if let Some(r) = &reasoning {
                        out.insert("reasoning", r);
                    }
                    if key == "output_config" {
                        if let Some(f) = &response_format {
                            out.insert("response_format", f);
                        }
                    }
                }
                _ => match ANTHROPIC_ONLY.iter().find(|k| **k == key) {
                    Some(name) => dropped.push(name),
                    None => out.insert_raw(key, raw.to_raw_value()),
                },
            }
        }
        // `messages` is validated by `parse`; a hand-built body may still lack it.
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

    /// A rough input-token estimate for count_tokens when no upstream can count.
    ///
    /// Method: the JSON text of `system`, `messages` and `tools` (`prompt_bytes`) at four
    /// bytes a token, as the gateway estimates chat prompts (`usage::estimate_tokens`) —
    /// except base64 payloads, which are not text: each base64 image counts a flat 1,600
    /// tokens (Anthropic's cost for an image of about 1.15 megapixels, the size it scales
    /// larger ones down to) and other base64 data (PDFs) one token per 16 characters. Role
    /// and tool-definition overheads are not modelled. Never less than 1.
    pub fn estimate_input_tokens(&self) -> u64 {
        let mut b64 = Base64Tally::default();
        for key in ["system", "messages", "tools"] {
            if let Some(Ok(v)) = self.body.get_as::<Value>(key) {
                b64.walk(&v);
            }
        }
        let text_bytes = self
            .prompt_bytes
            .saturating_sub(b64.image_chars + b64.other_chars);
        let text = crate::types::usage::estimate_tokens(text_bytes);
        let images = b64.images.saturating_mul(IMAGE_TOKENS);
        let other = (b64.other_chars as u64).div_ceil(BASE64_CHARS_PER_TOKEN);
        text.saturating_add(images).saturating_add(other).max(1)
    }
}

/// Base64 sources (`{"type":"base64","media_type":…,"data":…}`) found in a request.
#[derive(Default)]
struct Base64Tally {
    images: u64,
    image_chars: usize,
    other_chars: usize,
}

impl Base64Tally {
    fn walk(&mut self, v: &Value) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| self.walk(i)),
            Value::Object(map) => {
                let data = map.get("data").and_then(Value::as_str);
                if let (Some("base64"), Some(data)) =
                    (map.get("type").and_then(Value::as_str), data)
                {
                    let media_type = map.get("media_type").and_then(Value::as_str);
                    if media_type.is_some_and(|m| m.starts_with("image/")) {
                        self.images += 1;
                        self.image_chars += data.len();
                    } else {
                        self.other_chars += data.len();
                    }
                    return;
                }
                map.values().for_each(|v| self.walk(v));
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// Validation (parse)

fn validate_messages(raw: crate::types::RawRef<'_>) -> Result<(), InvalidRequest> {
    let items: Vec<Box<RawValue>> = serde_json::from_str(raw.get())
        .map_err(|_| invalid_type("messages", "a non-empty array of message objects"))?;
    if items.is_empty() {
        return Err(InvalidRequest::new(
            "`messages` must contain at least one message",
            Some("messages"),
            "invalid_value",
        ));
    }
    for (i, item) in items.iter().enumerate() {
        let msg = RawObject::parse(item.get().as_bytes())
            .map_err(|_| messages_error(format!("`messages[{i}]` must be an object")))?;
        match msg.get_as::<Value>("role") {
            None => return Err(messages_error(format!("`messages[{i}].role` is required"))),
            Some(Ok(Value::String(r))) if ROLES.contains(&r.as_str()) => {}
            Some(Ok(Value::String(r))) => {
                return Err(messages_error(format!(
                    "`messages[{i}].role` must be `user`, `assistant` or `system`, not `{r}`"
                )))
            }
            Some(_) => {
                return Err(messages_error(format!(
                    "`messages[{i}].role` must be a string"
                )))
            }
        }
        let content_ok = msg
            .get("content")
            .is_some_and(|c| matches!(c.get().trim_start().as_bytes().first(), Some(b'"' | b'[')));
        if !content_ok {
            return Err(messages_error(format!(
                "`messages[{i}].content` is required and must be a string or an array of \
                 content blocks"
            )));
        }
    }
    Ok(())
}

fn validate_system(raw: crate::types::RawRef<'_>) -> Result<(), InvalidRequest> {
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::Null | Value::String(_)) => Ok(()),
        Ok(Value::Array(blocks)) => {
            for (i, b) in blocks.iter().enumerate() {
                let ok = b.get("type").and_then(Value::as_str) == Some("text")
                    && b.get("text").is_some_and(Value::is_string);
                if !ok {
                    return Err(InvalidRequest::new(
                        format!(
                            "`system[{i}]` must be a text block: {{\"type\": \"text\", \"text\": \"…\"}}"
                        ),
                        Some("system"),
                        "invalid_value",
                    ));
                }
            }
            Ok(())
        }
        _ => Err(invalid_type(
            "system",
            "a string or an array of text blocks",
        )),
    }
}

mod translate;
use translate::*;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_translate;
