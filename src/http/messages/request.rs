//! Anthropic Messages requests: parsing, and translation to the canonical chat request.
//!
//! `MessagesRequest::parse` validates what every path needs (model, messages, roles, the
//! output cap, streaming, the system prompt) and keeps the body otherwise untouched, so a
//! native Anthropic upstream gets it back with only `model` replaced. `to_chat` translates it
//! to an OpenAI Chat Completions request for every other provider, and names the Anthropic
//! parameters that have no meaning there.

use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::types::chat::{ChatRequest, InvalidRequest, ProviderPreferences, GATEWAY_FIELDS};
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
}

impl MessagesRequest {
    /// Parses and validates a request body. `max_tokens` is optional here (count_tokens
    /// takes none); when given it must be a positive integer.
    pub fn parse(bytes: &[u8]) -> Result<MessagesRequest, InvalidRequest> {
        let mut body = RawObject::parse(bytes).map_err(|e| {
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
        })?;

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
                    "`model` is required: name a model such as `anthropic/claude-sonnet-4` \
                     (GET /v1/models lists them)",
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
                    out.insert_raw(key, raw.to_owned());
                }
                "stream" => {
                    out.insert_raw(key, raw.to_owned());
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
                    None => out.insert_raw(key, raw.to_owned()),
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

fn validate_messages(raw: &RawValue) -> Result<(), InvalidRequest> {
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

fn validate_system(raw: &RawValue) -> Result<(), InvalidRequest> {
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

// ---------------------------------------------------------------------------------------
// Translation (to_chat)

fn parse_raw(raw: &RawValue, param: &'static str) -> Result<Value, InvalidRequest> {
    serde_json::from_str(raw.get())
        .map_err(|e| InvalidRequest::new(format!("`{param}`: {e}"), Some(param), "invalid_value"))
}

/// The system prompt's text: a string, or text blocks joined by blank lines.
fn system_prompt(
    v: &Value,
    dropped: &mut Vec<&'static str>,
) -> Result<Option<String>, InvalidRequest> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Array(blocks) => {
            let text = block_texts(blocks, "system", dropped)?;
            Ok((!text.is_empty()).then_some(text))
        }
        _ => Err(invalid_type(
            "system",
            "a string or an array of text blocks",
        )),
    }
}

/// Text blocks joined by blank lines (system prompts); other blocks are dropped.
fn block_texts(
    blocks: &[Value],
    at: &str,
    dropped: &mut Vec<&'static str>,
) -> Result<String, InvalidRequest> {
    let mut texts = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        note_cache_control(b, dropped);
        match block_type(b) {
            Some("text") => texts.push(text_of(b, &format!("{at}[{j}]"))?),
            Some(_) => dropped.push(CONTENT_BLOCK),
            None => return Err(not_a_block(&format!("{at}[{j}]"))),
        }
    }
    Ok(texts.join("\n\n"))
}

fn message(
    i: usize,
    m: &Value,
    out: &mut Vec<Value>,
    dropped: &mut Vec<&'static str>,
) -> Result<(), InvalidRequest> {
    let role = m
        .get("role")
        .and_then(Value::as_str)
        .ok_or_else(|| messages_error(format!("`messages[{i}].role` must be a string")))?;
    note_cache_control(m, dropped);
    let content = m.get("content").unwrap_or(&Value::Null);
    let at = format!("messages[{i}].content");
    match (role, content) {
        (_, Value::String(s)) if ROLES.contains(&role) => {
            out.push(json!({"role": role, "content": s}));
        }
        ("system", Value::Array(blocks)) => {
            let text = block_texts(blocks, &at, dropped)?;
            out.push(json!({"role": "system", "content": text}));
        }
        ("user", Value::Array(blocks)) => user_message(blocks, &at, out, dropped)?,
        ("assistant", Value::Array(blocks)) => {
            out.push(assistant_message(blocks, &at, dropped)?);
        }
        (r, _) if !ROLES.contains(&r) => {
            return Err(messages_error(format!(
                "`messages[{i}].role` must be `user`, `assistant` or `system`, not `{r}`"
            )))
        }
        _ => {
            return Err(messages_error(format!(
                "`{at}` must be a string or an array of content blocks"
            )))
        }
    }
    Ok(())
}

/// A user turn: each `tool_result` becomes a `tool` message, emitted first (OpenAI wants
/// them right after the assistant's tool calls); the other blocks form one user message.
fn user_message(
    blocks: &[Value],
    at: &str,
    out: &mut Vec<Value>,
    dropped: &mut Vec<&'static str>,
) -> Result<(), InvalidRequest> {
    let mut parts = Vec::new();
    let mut results = 0;
    for (j, b) in blocks.iter().enumerate() {
        let at = format!("{at}[{j}]");
        note_cache_control(b, dropped);
        match block_type(b) {
            None => return Err(not_a_block(&at)),
            Some("tool_result") => {
                let (msg, extra) = tool_result(b, &at, dropped)?;
                out.push(msg);
                parts.extend(extra);
                results += 1;
            }
            Some("tool_use") => {
                return Err(messages_error(format!(
                    "`{at}`: `tool_use` blocks belong in assistant turns"
                )))
            }
            Some(ty) => parts.extend(user_part(ty, b, &at, dropped)?),
        }
    }
    if !parts.is_empty() {
        out.push(json!({"role": "user", "content": parts}));
    } else if results == 0 {
        // Every block was dropped (or there were none): keep the turn, empty.
        out.push(json!({"role": "user", "content": ""}));
    }
    Ok(())
}

/// Chat content parts for one user-side block (also used inside `tool_result` content).
fn user_part(
    ty: &str,
    b: &Value,
    at: &str,
    dropped: &mut Vec<&'static str>,
) -> Result<Vec<Value>, InvalidRequest> {
    Ok(match ty {
        "text" => vec![text_part(text_of(b, at)?)],
        "image" => match image_part(b, at)? {
            Some(p) => vec![p],
            None => {
                dropped.push(CONTENT_BLOCK);
                Vec::new()
            }
        },
        "document" => {
            note_citations(b, dropped);
            document_parts(b, at, dropped)?
        }
        "search_result" => {
            note_citations(b, dropped);
            vec![text_part(search_result_text(b))]
        }
        // thinking in a user turn, server-tool results, containers, unknown future types.
        _ => {
            dropped.push(CONTENT_BLOCK);
            Vec::new()
        }
    })
}

/// A `tool_result` block → an OpenAI `tool` message whose content is the result's text
/// (text blocks joined by newlines; `Error: ` first when `is_error`). Images and PDFs in the
/// result cannot ride in a tool message; they are returned to follow in the user message.
fn tool_result(
    b: &Value,
    at: &str,
    dropped: &mut Vec<&'static str>,
) -> Result<(Value, Vec<Value>), InvalidRequest> {
    let id = b
        .get("tool_use_id")
        .and_then(Value::as_str)
        .ok_or_else(|| messages_error(format!("`{at}.tool_use_id` must be a string")))?;
    let mut texts: Vec<String> = Vec::new();
    let mut extra = Vec::new();
    match b.get("content").unwrap_or(&Value::Null) {
        Value::Null => {}
        Value::String(s) => texts.push(s.clone()),
        Value::Array(inner) => {
            for (k, c) in inner.iter().enumerate() {
                let at = format!("{at}.content[{k}]");
                note_cache_control(c, dropped);
                let ty = block_type(c).ok_or_else(|| not_a_block(&at))?;
                for part in user_part(ty, c, &at, dropped)? {
                    match part.get("text").and_then(Value::as_str) {
                        Some(t) if part.get("type").and_then(Value::as_str) == Some("text") => {
                            texts.push(t.to_owned());
                        }
                        _ => extra.push(part),
                    }
                }
            }
        }
        _ => {
            return Err(messages_error(format!(
                "`{at}.content` must be a string or an array of content blocks"
            )))
        }
    }
    let mut text = texts.join("\n");
    if b.get("is_error").and_then(Value::as_bool) == Some(true) {
        text.insert_str(0, "Error: ");
    }
    Ok((
        json!({"role": "tool", "tool_call_id": id, "content": text}),
        extra,
    ))
}

/// `image` → `image_url` (base64 as a data URL); `None` for sources chat cannot carry
/// (uploaded file ids).
fn image_part(b: &Value, at: &str) -> Result<Option<Value>, InvalidRequest> {
    let source = b
        .get("source")
        .ok_or_else(|| messages_error(format!("`{at}.source` is required")))?;
    let url = match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let (media_type, data) = base64_source(source, at)?;
            format!("data:{media_type};base64,{data}")
        }
        Some("url") => source
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| messages_error(format!("`{at}.source.url` must be a string")))?
            .to_owned(),
        _ => return Ok(None),
    };
    Ok(Some(
        json!({"type": "image_url", "image_url": {"url": url}}),
    ))
}

/// `document`: base64 → a `file` part with a data URL (named by its `title`, else
/// `document.pdf`); plain-text and content sources → text parts; URL and file-id sources
/// are dropped.
fn document_parts(
    b: &Value,
    at: &str,
    dropped: &mut Vec<&'static str>,
) -> Result<Vec<Value>, InvalidRequest> {
    let source = b
        .get("source")
        .ok_or_else(|| messages_error(format!("`{at}.source` is required")))?;
    Ok(match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let (media_type, data) = base64_source(source, at)?;
            let filename = b
                .get("title")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .unwrap_or("document.pdf");
            vec![json!({"type": "file", "file": {
                "filename": filename,
                "file_data": format!("data:{media_type};base64,{data}"),
            }})]
        }
        Some("text") => {
            let data = source
                .get("data")
                .and_then(Value::as_str)
                .ok_or_else(|| messages_error(format!("`{at}.source.data` must be a string")))?;
            vec![text_part(data.to_owned())]
        }
        Some("content") => match source.get("content").unwrap_or(&Value::Null) {
            Value::String(s) => vec![text_part(s.clone())],
            Value::Array(inner) => {
                let mut parts = Vec::new();
                for (k, c) in inner.iter().enumerate() {
                    let at = format!("{at}.source.content[{k}]");
                    match block_type(c) {
                        Some(ty @ ("text" | "image")) => {
                            parts.extend(user_part(ty, c, &at, dropped)?);
                        }
                        Some(_) => dropped.push(CONTENT_BLOCK),
                        None => return Err(not_a_block(&at)),
                    }
                }
                parts
            }
            _ => {
                return Err(messages_error(format!(
                    "`{at}.source.content` must be a string or an array of content blocks"
                )))
            }
        },
        _ => {
            dropped.push(CONTENT_BLOCK);
            Vec::new()
        }
    })
}

fn base64_source<'a>(source: &'a Value, at: &str) -> Result<(&'a str, &'a str), InvalidRequest> {
    let field = |name: &str| {
        source
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| messages_error(format!("`{at}.source.{name}` must be a string")))
    };
    Ok((field("media_type")?, field("data")?))
}

/// A search result as text: title, source, then its text blocks.
fn search_result_text(b: &Value) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for key in ["title", "source"] {
        if let Some(s) = b.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()) {
            lines.push(s);
        }
    }
    let body: Vec<&str> = match b.get("content") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(inner)) => inner
            .iter()
            .filter(|c| block_type(c) == Some("text"))
            .filter_map(|c| c.get("text").and_then(Value::as_str))
            .collect(),
        _ => Vec::new(),
    };
    let head = lines.join("\n");
    let body = body.join("\n");
    match (head.is_empty(), body.is_empty()) {
        (true, _) => body,
        (false, true) => head,
        (false, false) => format!("{head}\n\n{body}"),
    }
}

/// An assistant turn: text blocks → `content` (concatenated; `null` when the turn only
/// calls tools), `tool_use` → `tool_calls` (input serialised as JSON text); thinking blocks
/// are dropped.
fn assistant_message(
    blocks: &[Value],
    at: &str,
    dropped: &mut Vec<&'static str>,
) -> Result<Value, InvalidRequest> {
    let mut text = String::new();
    let mut calls = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let at = format!("{at}[{j}]");
        note_cache_control(b, dropped);
        match block_type(b) {
            None => return Err(not_a_block(&at)),
            Some("text") => text.push_str(&text_of(b, &at)?),
            Some("tool_use") => {
                let field = |name: &str| {
                    b.get(name)
                        .and_then(Value::as_str)
                        .ok_or_else(|| messages_error(format!("`{at}.{name}` must be a string")))
                };
                let (id, name) = (field("id")?, field("name")?);
                let arguments = match b.get("input") {
                    None | Some(Value::Null) => "{}".to_owned(),
                    Some(input) => input.to_string(),
                };
                calls.push(json!({
                    "id": id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }));
            }
            Some("thinking" | "redacted_thinking") => dropped.push(THINKING_BLOCKS),
            Some("tool_result") => {
                return Err(messages_error(format!(
                    "`{at}`: `tool_result` blocks belong in user turns"
                )))
            }
            // server_tool_use, web_search_tool_result, images, unknown types.
            Some(_) => dropped.push(CONTENT_BLOCK),
        }
    }
    let mut msg = Map::new();
    msg.insert("role".into(), "assistant".into());
    let content = match (text.is_empty(), calls.is_empty()) {
        (false, _) => Value::String(text),
        (true, false) => Value::Null,
        // OpenAI wants content or tool calls; an all-thinking turn keeps an empty text.
        (true, true) => Value::String(String::new()),
    };
    msg.insert("content".into(), content);
    if !calls.is_empty() {
        msg.insert("tool_calls".into(), Value::Array(calls));
    }
    Ok(Value::Object(msg))
}

/// Client tools → OpenAI function tools; server tools (any `type` but `custom`) are
/// dropped. `None` when no tool is left.
fn tools(v: &Value, dropped: &mut Vec<&'static str>) -> Result<Option<Vec<Value>>, InvalidRequest> {
    let items = match v {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        _ => return Err(invalid_type("tools", "an array of tool definitions")),
    };
    let mut out = Vec::new();
    for (i, t) in items.iter().enumerate() {
        let tools_error = |what: String| InvalidRequest::new(what, Some("tools"), "invalid_value");
        if !t.is_object() {
            return Err(tools_error(format!("`tools[{i}]` must be an object")));
        }
        note_cache_control(t, dropped);
        match t.get("type") {
            None | Some(Value::Null) => {}
            Some(Value::String(ty)) if ty == "custom" => {}
            Some(Value::String(_)) => {
                dropped.push(SERVER_TOOLS);
                continue;
            }
            Some(_) => return Err(tools_error(format!("`tools[{i}].type` must be a string"))),
        }
        let name = t
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| tools_error(format!("`tools[{i}].name` must be a string")))?;
        let mut function = Map::new();
        function.insert("name".into(), name.into());
        if let Some(d) = t.get("description").filter(|d| !d.is_null()) {
            function.insert("description".into(), d.clone());
        }
        let parameters = match t.get("input_schema") {
            Some(s) if s.is_object() => s.clone(),
            None | Some(Value::Null) => json!({"type": "object", "properties": {}}),
            Some(_) => {
                return Err(tools_error(format!(
                    "`tools[{i}].input_schema` must be a JSON Schema object"
                )))
            }
        };
        function.insert("parameters".into(), parameters);
        if let Some(strict) = t.get("strict").filter(|s| s.is_boolean()) {
            function.insert("strict".into(), strict.clone());
        }
        out.push(json!({"type": "function", "function": function}));
    }
    Ok((!out.is_empty()).then_some(out))
}

/// `tool_choice` → the OpenAI choice, and `parallel_tool_calls: false` when
/// `disable_parallel_tool_use` is set.
fn tool_choice(v: &Value) -> Result<Option<(Value, Option<bool>)>, InvalidRequest> {
    if v.is_null() {
        return Ok(None);
    }
    let bad = |what: &str| InvalidRequest::new(what, Some("tool_choice"), "invalid_value");
    let ty = v
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("`tool_choice` must be an object with a string `type`"))?;
    let choice = match ty {
        "auto" => json!("auto"),
        "any" => json!("required"),
        "none" => json!("none"),
        "tool" => {
            let name = v
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("`tool_choice.name` must be a string when `type` is `tool`"))?;
            json!({"type": "function", "function": {"name": name}})
        }
        other => {
            return Err(bad(&format!(
                "`tool_choice.type` must be `auto`, `any`, `tool` or `none`, not `{other}`"
            )))
        }
    };
    let parallel = (v.get("disable_parallel_tool_use").and_then(Value::as_bool) == Some(true))
        .then_some(false);
    Ok(Some((choice, parallel)))
}

/// OpenRouter's `reasoning` object from `thinking` and `output_config.effort`:
/// enabled + budget → `max_tokens`, adaptive → `enabled: true`, disabled → nothing; an
/// effort (`max`/`xhigh` → `high`) replaces a budget, since OpenRouter takes one or the other.
fn reasoning(
    thinking: Option<&RawValue>,
    output_config: Option<&RawValue>,
    dropped: &mut Vec<&'static str>,
) -> Result<Option<Value>, InvalidRequest> {
    let mut r = Map::new();
    if let Some(raw) = thinking {
        let v = parse_raw(raw, "thinking")?;
        if !v.is_null() {
            let bad = |what: &str| InvalidRequest::new(what, Some("thinking"), "invalid_value");
            match v.get("type").and_then(Value::as_str) {
                Some("enabled") => {
                    let budget = v
                        .get("budget_tokens")
                        .and_then(Value::as_u64)
                        .ok_or_else(|| {
                            bad("`thinking.budget_tokens` must be a positive integer when thinking is enabled")
                        })?;
                    r.insert("max_tokens".into(), budget.into());
                }
                Some("adaptive") => {
                    r.insert("enabled".into(), true.into());
                }
                Some("disabled") => {}
                _ => {
                    return Err(bad(
                        "`thinking.type` must be `enabled`, `adaptive` or `disabled`",
                    ))
                }
            }
        }
    }
    if let Some(raw) = output_config {
        let v = parse_raw(raw, "output_config")?;
        match &v {
            Value::Null => {}
            Value::Object(map) => {
                if map.keys().any(|k| k != "effort" && k != "format") {
                    dropped.push(OUTPUT_CONFIG);
                }
                match map.get("effort") {
                    None | Some(Value::Null) => {}
                    Some(Value::String(e)) => {
                        let effort = match e.as_str() {
                            "low" | "medium" | "high" => e.as_str(),
                            "xhigh" | "max" => "high",
                            other => {
                                return Err(InvalidRequest::new(
                                    format!("`output_config.effort` must be `low`, `medium`, `high`, `xhigh` or `max`, not `{other}`"),
                                    Some("output_config"),
                                    "invalid_value",
                                ))
                            }
                        };
                        r.remove("max_tokens");
                        r.insert("effort".into(), effort.into());
                    }
                    Some(_) => {
                        return Err(invalid_type(
                            "output_config",
                            "an object whose `effort` is a string",
                        ))
                    }
                }
            }
            _ => return Err(invalid_type("output_config", "an object")),
        }
    }
    Ok((!r.is_empty()).then_some(Value::Object(r)))
}

/// `output_config.format` (`{"type":"json_schema","schema":…}`) → `response_format`.
fn response_format(v: &Value) -> Result<Option<Value>, InvalidRequest> {
    let Some(format) = v.get("format").filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    let bad = |what: &str| InvalidRequest::new(what, Some("output_config"), "invalid_value");
    match format.get("type").and_then(Value::as_str) {
        Some("json_schema") => {
            let schema = format
                .get("schema")
                .filter(|s| s.is_object())
                .ok_or_else(|| bad("`output_config.format.schema` must be a JSON Schema object"))?;
            Ok(Some(json!({
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": schema},
            })))
        }
        _ => Err(bad("`output_config.format.type` must be `json_schema`")),
    }
}

/// `metadata.user_id` → OpenAI's `user`; other members are reported.
fn metadata_user(v: &Value, dropped: &mut Vec<&'static str>) -> Option<String> {
    let map = v.as_object()?;
    if map.keys().any(|k| k != "user_id") {
        dropped.push(METADATA);
    }
    map.get("user_id")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
}

fn block_type(b: &Value) -> Option<&str> {
    b.get("type").and_then(Value::as_str)
}

fn text_of(b: &Value, at: &str) -> Result<String, InvalidRequest> {
    b.get("text")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| messages_error(format!("`{at}.text` must be a string")))
}

fn text_part(text: String) -> Value {
    json!({"type": "text", "text": text})
}

fn note_cache_control(v: &Value, dropped: &mut Vec<&'static str>) {
    if v.get("cache_control").is_some_and(|c| !c.is_null()) {
        dropped.push(CACHE_CONTROL);
    }
}

fn note_citations(b: &Value, dropped: &mut Vec<&'static str>) {
    let on = b
        .get("citations")
        .and_then(|c| c.get("enabled"))
        .and_then(Value::as_bool);
    if on == Some(true) {
        dropped.push(CITATIONS);
    }
}

fn not_a_block(at: &str) -> InvalidRequest {
    messages_error(format!(
        "`{at}` must be a content block: an object with a string `type`"
    ))
}

fn messages_error(message: String) -> InvalidRequest {
    InvalidRequest::new(message, Some("messages"), "invalid_value")
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
    use crate::types::openai::{ChatParams, Content, Message, Part, ToolChoice};

    fn parse(v: Value) -> Result<MessagesRequest, InvalidRequest> {
        MessagesRequest::parse(v.to_string().as_bytes())
    }

    fn req(extra: Value) -> MessagesRequest {
        let mut body = json!({
            "model": "anthropic/claude-sonnet-4",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "hi"}],
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        parse(body).unwrap()
    }

    /// The chat body as a JSON value, and the dropped list.
    fn chat(extra: Value) -> (Value, Vec<&'static str>) {
        let (chat, dropped) = req(extra).to_chat().unwrap();
        ChatParams::from_body(&chat.body).unwrap();
        (
            serde_json::from_slice(&chat.body.to_vec()).unwrap(),
            dropped,
        )
    }

    fn messages_of(content: Value) -> (Value, Vec<&'static str>) {
        let (body, dropped) = chat(json!({"messages": [{"role": "user", "content": content}]}));
        (body["messages"].clone(), dropped)
    }

    // --- parse ----------------------------------------------------------------------

    #[test]
    fn parse_keeps_the_body_minus_gateway_fields() {
        let r = MessagesRequest::parse(
            br#"{"model":"a/b","models":["a/b","c/d"],"provider":{"order":["x"]},"max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}],"x_custom":{"k":1.50},"usage":{"include":true},"route":"fallback"}"#,
        )
        .unwrap();
        assert_eq!(r.model.as_deref(), Some("a/b"));
        assert_eq!(r.models, vec!["a/b", "c/d"]);
        assert_eq!(r.provider.order.as_deref(), Some(&["x".to_owned()][..]));
        assert!(r.stream);
        assert_eq!(r.max_tokens, Some(5));
        assert_eq!(
            String::from_utf8(r.body.to_vec()).unwrap(),
            r#"{"model":"a/b","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}],"x_custom":{"k":1.50}}"#
        );
        assert_eq!(r.prompt_bytes, r#"[{"role":"user","content":"hi"}]"#.len());
    }

    #[test]
    fn parse_accepts_models_without_model_and_no_max_tokens() {
        let r = parse(json!({"models": ["a/b"], "messages": [{"role": "user", "content": "x"}]}))
            .unwrap();
        assert_eq!(r.model, None);
        assert_eq!(r.max_tokens, None);
        assert!(!r.stream);
        let (chat, _) = r.to_chat().unwrap();
        assert_eq!(chat.models, vec!["a/b"]);
        assert_eq!(chat.model, None);
    }

    #[test]
    fn bad_inputs_name_the_param() {
        let ok_msgs = json!([{"role": "user", "content": "x"}]);
        let cases = [
            (
                json!({"messages": ok_msgs}),
                "model",
                "missing_required_parameter",
            ),
            (
                json!({"model": "", "messages": ok_msgs}),
                "model",
                "invalid_value",
            ),
            (
                json!({"model": 5, "messages": ok_msgs}),
                "model",
                "invalid_type",
            ),
            (
                json!({"model": "a", "models": "b", "messages": ok_msgs}),
                "models",
                "invalid_type",
            ),
            (
                json!({"model": "a"}),
                "messages",
                "missing_required_parameter",
            ),
            (
                json!({"model": "a", "messages": []}),
                "messages",
                "invalid_value",
            ),
            (
                json!({"model": "a", "messages": "hi"}),
                "messages",
                "invalid_type",
            ),
            (
                json!({"model": "a", "messages": ["hi"]}),
                "messages",
                "invalid_value",
            ),
            (
                json!({"model": "a", "messages": [{"content": "x"}]}),
                "messages",
                "invalid_value",
            ),
            (
                json!({"model": "a", "messages": [{"role": "tool", "content": "x"}]}),
                "messages",
                "invalid_value",
            ),
            (
                json!({"model": "a", "messages": [{"role": 1, "content": "x"}]}),
                "messages",
                "invalid_value",
            ),
            (
                json!({"model": "a", "messages": [{"role": "user"}]}),
                "messages",
                "invalid_value",
            ),
            (
                json!({"model": "a", "messages": [{"role": "user", "content": 3}]}),
                "messages",
                "invalid_value",
            ),
            (
                json!({"model": "a", "messages": ok_msgs, "max_tokens": 0}),
                "max_tokens",
                "invalid_value",
            ),
            (
                json!({"model": "a", "messages": ok_msgs, "max_tokens": -3}),
                "max_tokens",
                "invalid_value",
            ),
            (
                json!({"model": "a", "messages": ok_msgs, "max_tokens": 1.5}),
                "max_tokens",
                "invalid_value",
            ),
            (
                json!({"model": "a", "messages": ok_msgs, "max_tokens": "10"}),
                "max_tokens",
                "invalid_type",
            ),
            (
                json!({"model": "a", "messages": ok_msgs, "stream": "yes"}),
                "stream",
                "invalid_type",
            ),
            (
                json!({"model": "a", "messages": ok_msgs, "system": 5}),
                "system",
                "invalid_type",
            ),
            (
                json!({"model": "a", "messages": ok_msgs, "system": [{"type": "image"}]}),
                "system",
                "invalid_value",
            ),
            (
                json!({"model": "a", "messages": ok_msgs, "system": ["x"]}),
                "system",
                "invalid_value",
            ),
            (
                json!({"model": "a", "messages": ok_msgs, "provider": {"nope": 1}}),
                "provider",
                "invalid_value",
            ),
        ];
        for (body, param, code) in cases {
            let e = parse(body.clone()).expect_err(&body.to_string());
            assert_eq!(e.param, Some(param), "{body}: {}", e.message);
            assert_eq!(e.code, code, "{body}: {}", e.message);
        }
        assert_eq!(
            MessagesRequest::parse(b"[1]").unwrap_err().code,
            "invalid_json"
        );
        let e = MessagesRequest::parse(b"{\"model\": \"a\",\n \"messages\": [}").unwrap_err();
        assert_eq!(e.code, "invalid_json");
        assert!(e.message.contains("line 2 column"), "{}", e.message);
    }

    #[test]
    fn error_messages_name_the_field_and_index() {
        let e = parse(json!({"model": "a", "messages": [
            {"role": "user", "content": "x"}, {"role": "robot", "content": "y"}]}))
        .unwrap_err();
        assert!(e.message.contains("messages[1].role"), "{}", e.message);
        assert!(e.message.contains("robot"), "{}", e.message);
        let e = parse(json!({"model": "a", "messages": [{"role": "user", "content": {}}]}))
            .unwrap_err();
        assert!(e.message.contains("messages[0].content"), "{}", e.message);
    }

    #[test]
    fn to_chat_rejects_untranslatable_shapes() {
        let cases = [
            (
                json!({"messages": [{"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]}]}),
                "messages",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]}),
                "messages",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"text": "no type"}]}]}),
                "messages",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "text"}]}]}),
                "messages",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "data": "AA"}}]}]}),
                "messages",
            ),
            (json!({"tools": [{"description": "nameless"}]}), "tools"),
            (json!({"tools": {"name": "f"}}), "tools"),
            (
                json!({"tools": [{"name": "f"}], "tool_choice": {"type": "sometimes"}}),
                "tool_choice",
            ),
            (
                json!({"tools": [{"name": "f"}], "tool_choice": {"type": "tool"}}),
                "tool_choice",
            ),
            (json!({"thinking": {"type": "enabled"}}), "thinking"),
            (json!({"thinking": {"type": "maybe"}}), "thinking"),
            (
                json!({"output_config": {"effort": "extreme"}}),
                "output_config",
            ),
            (
                json!({"output_config": {"format": {"type": "xml"}}}),
                "output_config",
            ),
            (json!({"stop_sequences": "END"}), "stop_sequences"),
        ];
        for (extra, param) in cases {
            let e = req(extra.clone()).to_chat().expect_err(&extra.to_string());
            assert_eq!(e.param, Some(param), "{extra}: {}", e.message);
        }
    }

    // --- system -------------------------------------------------------------------------

    #[test]
    fn system_string_becomes_a_leading_system_message() {
        let (body, dropped) = chat(json!({"system": "be brief"}));
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "be brief"})
        );
        assert_eq!(
            body["messages"][1],
            json!({"role": "user", "content": "hi"})
        );
        assert!(dropped.is_empty());
    }

    #[test]
    fn system_blocks_are_joined_and_cache_control_reported() {
        let (body, dropped) = chat(json!({"system": [
            {"type": "text", "text": "one"},
            {"type": "text", "text": "two", "cache_control": {"type": "ephemeral"}}]}));
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "one\n\ntwo"})
        );
        assert_eq!(dropped, vec!["cache_control"]);
    }

    #[test]
    fn system_role_messages_stay_in_place() {
        let (body, _) = chat(json!({"messages": [
            {"role": "user", "content": "a"},
            {"role": "system", "content": [{"type": "text", "text": "reminder"}, {"type": "text", "text": "more"}]},
            {"role": "user", "content": "b"},
            {"role": "system", "content": "plain"}]}));
        let roles: Vec<_> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].clone())
            .collect();
        assert_eq!(
            roles,
            vec![
                json!("user"),
                json!("system"),
                json!("user"),
                json!("system")
            ]
        );
        assert_eq!(body["messages"][1]["content"], "reminder\n\nmore");
        assert_eq!(body["messages"][3]["content"], "plain");
    }

    // --- user content ---------------------------------------------------------------------

    #[test]
    fn user_text_and_images() {
        let (msgs, dropped) = messages_of(json!([
            {"type": "text", "text": "look"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.org/cat.jpg"}},
        ]));
        assert_eq!(
            msgs[0],
            json!({"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "image_url", "image_url": {"url": "https://example.org/cat.jpg"}},
            ]})
        );
        assert!(dropped.is_empty());
    }

    #[test]
    fn documents_become_file_or_text_parts() {
        let (msgs, dropped) = messages_of(json!([
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
            {"type": "document", "title": "Spec", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBF"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain doc"}},
            {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "chunk"}]}, "citations": {"enabled": true}},
            {"type": "document", "source": {"type": "url", "url": "https://example.org/a.pdf"}},
        ]));
        assert_eq!(
            msgs[0]["content"],
            json!([
                {"type": "file", "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBE"}},
                {"type": "file", "file": {"filename": "Spec", "file_data": "data:application/pdf;base64,JVBF"}},
                {"type": "text", "text": "plain doc"},
                {"type": "text", "text": "chunk"},
            ])
        );
        assert_eq!(dropped, vec!["citations", "content_block"]);
    }

    #[test]
    fn unknown_blocks_and_file_sources_are_dropped_and_reported() {
        let (msgs, dropped) = messages_of(json!([
            {"type": "text", "text": "t"},
            {"type": "container_upload", "file_id": "f"},
            {"type": "image", "source": {"type": "file", "file_id": "file_1"}},
        ]));
        assert_eq!(msgs[0]["content"], json!([{"type": "text", "text": "t"}]));
        assert_eq!(dropped, vec!["content_block"]);
        // A turn left with nothing stays, empty.
        let (msgs, _) = messages_of(json!([{"type": "mystery"}]));
        assert_eq!(msgs[0], json!({"role": "user", "content": ""}));
    }

    #[test]
    fn search_results_become_text() {
        let (msgs, _) = messages_of(
            json!([{"type": "search_result", "source": "https://x.org", "title": "X",
            "content": [{"type": "text", "text": "fact one"}, {"type": "text", "text": "fact two"}]}]),
        );
        assert_eq!(
            msgs[0]["content"][0]["text"],
            "X\nhttps://x.org\n\nfact one\nfact two"
        );
    }

    #[test]
    fn tool_results_become_tool_messages_before_the_user_text() {
        let (body, dropped) = chat(json!({"messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "t1", "name": "w", "input": {"city": "Oslo"}},
                {"type": "tool_use", "id": "t2", "name": "w", "input": {"city": "Rome"}}]},
            {"role": "user", "content": [
                {"type": "text", "text": "also this"},
                {"type": "tool_result", "tool_use_id": "t1", "content": "-3 C"},
                {"type": "tool_result", "tool_use_id": "t2", "is_error": true,
                 "content": [{"type": "text", "text": "timeout"}, {"type": "text", "text": "retry later"}]}]},
        ]}));
        let msgs = body["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 5);
        assert_eq!(
            msgs[2],
            json!({"role": "tool", "tool_call_id": "t1", "content": "-3 C"})
        );
        assert_eq!(
            msgs[3],
            json!({"role": "tool", "tool_call_id": "t2", "content": "Error: timeout\nretry later"})
        );
        assert_eq!(
            msgs[4],
            json!({"role": "user", "content": [{"type": "text", "text": "also this"}]})
        );
        assert!(dropped.is_empty());
    }

    #[test]
    fn tool_result_only_turn_has_no_user_message_and_images_follow() {
        let (body, _) = chat(json!({"messages": [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t2", "name": "shot", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t2", "content": [
                {"type": "text", "text": "here"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QQ"}}]}]},
        ]}));
        let msgs = body["messages"].as_array().unwrap();
        assert_eq!(
            msgs[1],
            json!({"role": "tool", "tool_call_id": "t1", "content": ""})
        );
        assert_eq!(msgs[2]["role"], "assistant");
        assert_eq!(
            msgs[3],
            json!({"role": "tool", "tool_call_id": "t2", "content": "here"})
        );
        assert_eq!(
            msgs[4],
            json!({"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ"}}]})
        );
        assert_eq!(msgs.len(), 5);
    }

    // --- assistant content ------------------------------------------------------------------

    #[test]
    fn assistant_blocks() {
        let (body, dropped) = chat(json!({"messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "plain"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "xx"},
                {"type": "text", "text": "Let me "},
                {"type": "text", "text": "check."},
                {"type": "tool_use", "id": "t1", "name": "w", "input": {"city": "Oslo", "n": [1, 2]}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t2", "name": "w", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t2", "content": "ok"}]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "only", "signature": "s"}]},
        ]}));
        let msgs = body["messages"].as_array().unwrap();
        assert_eq!(msgs[1], json!({"role": "assistant", "content": "plain"}));
        assert_eq!(
            msgs[3],
            json!({"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "w", "arguments": r#"{"city":"Oslo","n":[1,2]}"#}}]})
        );
        assert_eq!(
            msgs[5],
            json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "t2", "type": "function", "function": {"name": "w", "arguments": "{}"}}]})
        );
        assert_eq!(msgs[7], json!({"role": "assistant", "content": ""}));
        assert_eq!(dropped, vec!["thinking_blocks"]);
    }

    // --- tools and tool_choice --------------------------------------------------------------

    #[test]
    fn tools_map_and_server_tools_are_dropped() {
        let (body, dropped) = chat(json!({"tools": [
            {"name": "w", "description": "weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}, "cache_control": {"type": "ephemeral"}},
            {"type": "custom", "name": "x", "input_schema": {"type": "object"}, "strict": true},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
            {"type": "bash_20250124", "name": "bash"}]}));
        assert_eq!(
            body["tools"],
            json!([
                {"type": "function", "function": {"name": "w", "description": "weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
                {"type": "function", "function": {"name": "x", "parameters": {"type": "object"}, "strict": true}},
            ])
        );
        assert_eq!(dropped, vec!["cache_control", "server_tools"]);
    }

    #[test]
    fn only_server_tools_leave_no_tools_and_no_tool_choice() {
        let (body, dropped) = chat(json!({
            "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            "tool_choice": {"type": "any"}}));
        assert!(body.get("tools").is_none() && body.get("tool_choice").is_none());
        assert_eq!(dropped, vec!["server_tools"]);
    }

    #[test]
    fn tool_choice_variants() {
        let tools = json!([{"name": "f", "input_schema": {"type": "object"}}]);
        let cases = [
            (json!({"type": "auto"}), json!("auto"), None),
            (json!({"type": "any"}), json!("required"), None),
            (json!({"type": "none"}), json!("none"), None),
            (
                json!({"type": "tool", "name": "f"}),
                json!({"type": "function", "function": {"name": "f"}}),
                None,
            ),
            (
                json!({"type": "auto", "disable_parallel_tool_use": true}),
                json!("auto"),
                Some(json!(false)),
            ),
            (
                json!({"type": "any", "disable_parallel_tool_use": false}),
                json!("required"),
                None,
            ),
        ];
        for (choice, want, parallel) in cases {
            let (body, _) = chat(json!({"tools": tools, "tool_choice": choice}));
            assert_eq!(body["tool_choice"], want, "{choice}");
            assert_eq!(
                body.get("parallel_tool_calls").cloned(),
                parallel,
                "{choice}"
            );
        }
        let (chat, _) = req(json!({"tools": tools, "tool_choice": {"type": "tool", "name": "f"}}))
            .to_chat()
            .unwrap();
        let p = ChatParams::from_body(&chat.body).unwrap();
        assert!(matches!(p.tool_choice, Some(ToolChoice::Named(n)) if n.function.name == "f"));
    }

    // --- parameters -----------------------------------------------------------------------

    #[test]
    fn sampling_stop_user_and_stream() {
        let (chat, dropped) = req(json!({
            "temperature": 0.2, "top_p": 0.9, "top_k": 40,
            "stop_sequences": ["\n\nHuman:", "END"],
            "metadata": {"user_id": "u-5f2c"},
            "stream": true}))
        .to_chat()
        .unwrap();
        assert!(dropped.is_empty());
        assert!(chat.stream && chat.include_usage);
        assert_eq!(chat.max_output_tokens, Some(100));
        let p = ChatParams::from_body(&chat.body).unwrap();
        assert_eq!(p.max_tokens, Some(100));
        assert_eq!(
            (p.temperature, p.top_p, p.top_k),
            (Some(0.2), Some(0.9), Some(40))
        );
        assert_eq!(p.stop.unwrap().to_vec(), vec!["\n\nHuman:", "END"]);
        assert_eq!(p.user.as_deref(), Some("u-5f2c"));
        let body: Value = serde_json::from_slice(&chat.body.to_vec()).unwrap();
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
        assert!(body.get("stop_sequences").is_none() && body.get("metadata").is_none());
    }

    #[test]
    fn no_stream_options_without_streaming() {
        let (chat, _) = req(json!({"stream": false})).to_chat().unwrap();
        assert!(!chat.stream && !chat.include_usage);
        assert!(!chat.body.contains("stream_options"));
    }

    #[test]
    fn thinking_and_effort_become_reasoning() {
        let cases = [
            (
                json!({"thinking": {"type": "enabled", "budget_tokens": 2048}}),
                Some(json!({"max_tokens": 2048})),
            ),
            (
                json!({"thinking": {"type": "adaptive"}}),
                Some(json!({"enabled": true})),
            ),
            (json!({"thinking": {"type": "disabled"}}), None),
            (
                json!({"output_config": {"effort": "low"}}),
                Some(json!({"effort": "low"})),
            ),
            (
                json!({"output_config": {"effort": "max"}}),
                Some(json!({"effort": "high"})),
            ),
            (
                json!({"thinking": {"type": "adaptive"}, "output_config": {"effort": "medium"}}),
                Some(json!({"enabled": true, "effort": "medium"})),
            ),
            (
                json!({"thinking": {"type": "enabled", "budget_tokens": 5000}, "output_config": {"effort": "high"}}),
                Some(json!({"effort": "high"})),
            ),
        ];
        for (extra, want) in cases {
            let (body, dropped) = chat(extra.clone());
            assert_eq!(body.get("reasoning").cloned(), want, "{extra}");
            assert!(body.get("thinking").is_none() && body.get("output_config").is_none());
            assert!(dropped.is_empty(), "{extra}: {dropped:?}");
        }
    }

    #[test]
    fn output_format_becomes_response_format() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let (body, _) =
            chat(json!({"output_config": {"format": {"type": "json_schema", "schema": schema}}}));
        assert_eq!(
            body["response_format"],
            json!({"type": "json_schema",
            "json_schema": {"name": "output", "schema": schema}})
        );
        assert!(body.get("reasoning").is_none());
    }

    #[test]
    fn anthropic_only_fields_are_dropped_and_unknown_ones_pass_through() {
        let (chat, dropped) = req(json!({
            "context_management": {"edits": []},
            "container": "c1",
            "mcp_servers": [],
            "service_tier": "auto",
            "cache_control": {"type": "ephemeral"},
            "inference_geo": "us",
            "metadata": {"user_id": "u", "other": 1},
            "output_config": {"effort": "low", "task_budget": 3},
            "seed": 7}))
        .to_chat()
        .unwrap();
        assert_eq!(
            dropped,
            vec![
                "cache_control",
                "container",
                "context_management",
                "inference_geo",
                "mcp_servers",
                "metadata",
                "output_config",
                "service_tier"
            ]
        );
        assert_eq!(chat.body.get("seed").unwrap().get(), "7");
        for k in ANTHROPIC_ONLY {
            assert!(!chat.body.contains(k), "{k}");
        }
        // Passed-through fields keep their exact bytes.
        let r = MessagesRequest::parse(
            br#"{"model":"m","messages":[{"role":"user","content":"x"}],"x_vendor":{"n":1.50}}"#,
        )
        .unwrap();
        let (chat, _) = r.to_chat().unwrap();
        assert_eq!(chat.body.get("x_vendor").unwrap().get(), r#"{"n":1.50}"#);
    }

    #[test]
    fn gateway_fields_reach_the_chat_request() {
        let r = parse(
            json!({"model": "a/b", "models": ["a/b", "c/d"], "provider": {"only": ["x"]},
            "max_tokens": 3, "messages": [{"role": "user", "content": "x"}]}),
        )
        .unwrap();
        let (chat, _) = r.to_chat().unwrap();
        assert_eq!(chat.model.as_deref(), Some("a/b"));
        assert_eq!(chat.models, vec!["a/b", "c/d"]);
        assert_eq!(chat.provider.only.as_deref(), Some(&["x".to_owned()][..]));
        assert!(!chat.body.contains("models") && !chat.body.contains("provider"));
    }

    #[test]
    fn captured_tool_round_trip_translates() {
        let body = br#"{"max_tokens":4000,"messages":[{"content":[{"text":"What's the weather in Florence,Italy?","type":"text"}],"role":"user"},{"content":[{"text":"I'll check the weather in Florence, Italy for you.","type":"text"},{"id":"toolu_01XLb9pzgfLa2EMyqWot6Ezt","input":{"location":"Florence,Italy"},"name":"weather","type":"tool_use"}],"role":"assistant"},{"content":[{"tool_use_id":"toolu_01XLb9pzgfLa2EMyqWot6Ezt","content":[{"text":"40 C","type":"text"}],"type":"tool_result"}],"role":"user"}],"model":"claude-sonnet-4-20250514","system":[{"text":"You are a helpful assistant","type":"text"}],"tool_choice":{"disable_parallel_tool_use":false,"type":"auto"},"tools":[{"input_schema":{"properties":{"location":{"description":"the city","type":"string"}},"required":["location"],"type":"object"},"name":"weather","description":"Get weather information for a location"}]}"#;
        let (chat, dropped) = MessagesRequest::parse(body).unwrap().to_chat().unwrap();
        assert!(dropped.is_empty());
        let p = ChatParams::from_body(&chat.body).unwrap();
        assert_eq!(p.messages.len(), 4);
        assert!(
            matches!(&p.messages[3], Message::Tool { tool_call_id, content: Content::Text(t) }
            if tool_call_id == "toolu_01XLb9pzgfLa2EMyqWot6Ezt" && t == "40 C")
        );
        assert!(matches!(p.tool_choice, Some(ToolChoice::Mode(ref m)) if m == "auto"));
        assert_eq!(p.parallel_tool_calls, None);
    }

    #[test]
    fn claude_code_shaped_request() {
        let body = json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 128000,
            "stream": true,
            "system": [
                {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
                {"type": "text", "text": "You are an interactive CLI tool.", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
                    {"type": "text", "text": "list the files", "cache_control": {"type": "ephemeral"}}]},
                {"role": "system", "content": "The user switched to plan mode."},
                {"role": "user", "content": "go on"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "I should run ls", "signature": "EqQB"},
                    {"type": "text", "text": "Listing."},
                    {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"command": "ls"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01", "content": "a.rs\nb.rs"},
                    {"type": "text", "text": "now read a.rs"}]}],
            "tools": [
                {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object",
                    "properties": {"command": {"type": "string"}}, "required": ["command"]}},
                {"name": "Read", "description": "Read a file", "input_schema": {"type": "object",
                    "properties": {"file_path": {"type": "string"}}}, "cache_control": {"type": "ephemeral"}}],
            "thinking": {"type": "adaptive"},
            "output_config": {"effort": "high"},
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            "metadata": {"user_id": "user_abc_account_123_session_xyz"},
        });
        let r = parse(body).unwrap();
        assert_eq!(r.max_tokens, Some(128000));
        assert!(r.stream);
        let (chat, dropped) = r.to_chat().unwrap();
        assert_eq!(
            dropped,
            vec!["cache_control", "context_management", "thinking_blocks"]
        );
        assert!(chat.stream && chat.include_usage);
        assert_eq!(chat.max_output_tokens, Some(128000));
        assert_eq!(chat.model.as_deref(), Some("claude-sonnet-4-5"));

        let p = ChatParams::from_body(&chat.body).unwrap();
        let roles: Vec<&str> = p
            .messages
            .iter()
            .map(|m| match m {
                Message::System { .. } => "system",
                Message::Developer { .. } => "developer",
                Message::User { .. } => "user",
                Message::Assistant { .. } => "assistant",
                Message::Tool { .. } => "tool",
            })
            .collect();
        assert_eq!(
            roles,
            vec![
                "system",
                "user",
                "system",
                "user",
                "assistant",
                "tool",
                "user"
            ]
        );
        let Message::System {
            content: Content::Text(system),
        } = &p.messages[0]
        else {
            panic!()
        };
        assert_eq!(system, "You are Claude Code, Anthropic's official CLI for Claude.\n\nYou are an interactive CLI tool.");
        let Message::Assistant {
            content,
            tool_calls,
            ..
        } = &p.messages[4]
        else {
            panic!()
        };
        assert_eq!(content.as_ref().unwrap().text(), "Listing.");
        let calls = tool_calls.as_ref().unwrap();
        assert_eq!(
            (calls[0].id.as_str(), calls[0].function.name.as_str()),
            ("toolu_01", "Bash")
        );
        assert_eq!(calls[0].function.arguments, r#"{"command":"ls"}"#);
        let Message::User {
            content: Content::Parts(parts),
        } = &p.messages[6]
        else {
            panic!()
        };
        assert!(matches!(&parts[0], Part::Text { text } if text == "now read a.rs"));
        assert_eq!(p.tools.as_ref().unwrap().len(), 2);
        let reasoning = p.reasoning.as_ref().unwrap();
        assert_eq!(
            (reasoning.enabled, reasoning.effort.as_deref()),
            (Some(true), Some("high"))
        );
        assert_eq!(p.user.as_deref(), Some("user_abc_account_123_session_xyz"));
        assert_eq!(p.max_tokens, Some(128000));
    }

    // --- estimates ------------------------------------------------------------------------

    #[test]
    fn estimate_counts_text_by_bytes_and_images_flat() {
        let text = req(json!({"messages": [{"role": "user", "content": "x".repeat(4000)}]}));
        let t = text.estimate_input_tokens();
        assert!((1000..1020).contains(&t), "{t}");

        let data = "A".repeat(400_000);
        let image = req(json!({"messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}]}]}));
        let t = image.estimate_input_tokens();
        assert!((IMAGE_TOKENS..IMAGE_TOKENS + 50).contains(&t), "{t}");

        let pdf = req(json!({"messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}}]}]}));
        let t = pdf.estimate_input_tokens();
        assert!((25_000..25_050).contains(&t), "{t}");
    }

    /// Arbitrary JSON-ish bodies never panic either step. The crate has no proptest: a
    /// deterministic generator mutates well-formed blocks and parameters instead (a key
    /// removed, a value swapped for an arbitrary one, nesting), so most cases reach deep.
    #[test]
    fn parse_and_to_chat_never_panic_on_odd_input() {
        struct Gen(u64);
        impl Gen {
            fn next(&mut self) -> u64 {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0
            }
            fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
                &items[self.next() as usize % items.len()]
            }
            fn arbitrary(&mut self, depth: u32) -> Value {
                let leaves = [
                    json!(null),
                    json!(true),
                    json!(0),
                    json!(-1),
                    json!(1.5),
                    json!(""),
                    json!("text"),
                    json!([]),
                    json!({}),
                    json!("base64"),
                ];
                match self.next() % 4 {
                    0 | 1 if depth > 0 => self.template(depth - 1),
                    2 if depth > 0 => Value::Array(
                        (0..self.next() % 3)
                            .map(|_| self.arbitrary(depth - 1))
                            .collect(),
                    ),
                    _ => self.pick(&leaves).clone(),
                }
            }
            /// A well-formed block or parameter, mutated one time in two.
            fn template(&mut self, depth: u32) -> Value {
                let nested = if depth > 0 {
                    self.arbitrary(depth - 1)
                } else {
                    json!("n")
                };
                let templates = [
                    json!({"type": "text", "text": "t", "cache_control": {"type": "ephemeral"}}),
                    json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QQ"}}),
                    json!({"type": "image", "source": {"type": "url", "url": "https://x"}}),
                    json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JV"}}),
                    json!({"type": "document", "source": {"type": "content", "content": [nested.clone()]}}),
                    json!({"type": "tool_use", "id": "t", "name": "f", "input": nested.clone()}),
                    json!({"type": "tool_result", "tool_use_id": "t", "content": [nested.clone()], "is_error": true}),
                    json!({"type": "thinking", "thinking": "x", "signature": "s"}),
                    json!({"type": "search_result", "source": "s", "title": "t", "content": [nested.clone()]}),
                    json!({"type": "enabled", "budget_tokens": 2048}),
                    json!({"type": "json_schema", "schema": {"type": "object"}}),
                    json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true}),
                    json!({"name": "f", "input_schema": {"type": "object"}, "type": "custom"}),
                    json!({"effort": "max", "format": nested}),
                ];
                let mut v = self.pick(&templates).clone();
                if self.next() % 2 == 0 {
                    if let Some(map) = v.as_object_mut() {
                        let keys: Vec<String> = map.keys().cloned().collect();
                        let key = self.pick(&keys).clone();
                        if self.next() % 2 == 0 {
                            map.remove(&key);
                        } else {
                            let replacement = self.arbitrary(depth.saturating_sub(1));
                            map.insert(key, replacement);
                        }
                    }
                }
                v
            }
        }
        let mut g = Gen(0x9E37_79B9_7F4A_7C15);
        let top = [
            "system",
            "tools",
            "tool_choice",
            "thinking",
            "output_config",
            "metadata",
            "stop_sequences",
            "temperature",
            "stream",
            "max_tokens",
            "models",
        ];
        let (mut parsed, mut translated) = (0, 0);
        for _ in 0..4000 {
            let mut messages = Vec::new();
            for _ in 0..1 + g.next() % 4 {
                let role = *g.pick(&["user", "assistant", "system", "user"]);
                let content = match g.next() % 5 {
                    0 => json!("plain"),
                    1 => g.arbitrary(3),
                    _ => Value::Array((0..1 + g.next() % 3).map(|_| g.template(3)).collect()),
                };
                messages.push(json!({"role": role, "content": content}));
            }
            let mut body = json!({"model": "m", "messages": messages});
            for k in top {
                if g.next() % 4 == 0 {
                    body[k] = match k {
                        "tools" => Value::Array(vec![g.template(2), g.template(2)]),
                        _ => g.template(2),
                    };
                }
            }
            if let Ok(r) = parse(body) {
                parsed += 1;
                r.estimate_input_tokens();
                if let Ok((chat, dropped)) = r.to_chat() {
                    translated += 1;
                    let _ = ChatParams::from_body(&chat.body);
                    assert!(dropped.windows(2).all(|w| w[0] < w[1]), "{dropped:?}");
                }
            }
        }
        // The generator must reach the translator, not only the validator.
        assert!(
            parsed > 500 && translated > 80,
            "{parsed} parsed, {translated} translated"
        );
    }
}
