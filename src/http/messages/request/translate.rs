//! The translation half of `to_chat`: Anthropic blocks, tools and options as chat values.

use super::*;
use crate::types::chat::InvalidRequest;
use serde_json::{json, Map, Value};

pub(super) fn parse_raw(
    raw: crate::types::RawRef<'_>,
    param: &'static str,
) -> Result<Value, InvalidRequest> {
    serde_json::from_str(raw.get())
        .map_err(|e| InvalidRequest::new(format!("`{param}`: {e}"), Some(param), "invalid_value"))
}

/// The system prompt's text: a string, or text blocks joined by blank lines.
pub(super) fn system_prompt(
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
pub(super) fn block_texts(
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

pub(super) fn message(
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
pub(super) fn user_message(
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
pub(super) fn user_part(
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
pub(super) fn tool_result(
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
pub(super) fn image_part(b: &Value, at: &str) -> Result<Option<Value>, InvalidRequest> {
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
pub(super) fn document_parts(
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

pub(super) fn base64_source<'a>(
    source: &'a Value,
    at: &str,
) -> Result<(&'a str, &'a str), InvalidRequest> {
    let field = |name: &str| {
        source
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| messages_error(format!("`{at}.source.{name}` must be a string")))
    };
    Ok((field("media_type")?, field("data")?))
}

/// A search result as text: title, source, then its text blocks.
pub(super) fn search_result_text(b: &Value) -> String {
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
pub(super) fn assistant_message(
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
pub(super) fn tools(
    v: &Value,
    dropped: &mut Vec<&'static str>,
) -> Result<Option<Vec<Value>>, InvalidRequest> {
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
pub(super) fn tool_choice(v: &Value) -> Result<Option<(Value, Option<bool>)>, InvalidRequest> {
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
pub(super) fn reasoning(
    thinking: Option<crate::types::RawRef<'_>>,
    output_config: Option<crate::types::RawRef<'_>>,
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
pub(super) fn response_format(v: &Value) -> Result<Option<Value>, InvalidRequest> {
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
pub(super) fn metadata_user(v: &Value, dropped: &mut Vec<&'static str>) -> Option<String> {
    let map = v.as_object()?;
    if map.keys().any(|k| k != "user_id") {
        dropped.push(METADATA);
    }
    map.get("user_id")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
}

pub(super) fn block_type(b: &Value) -> Option<&str> {
    b.get("type").and_then(Value::as_str)
}

pub(super) fn text_of(b: &Value, at: &str) -> Result<String, InvalidRequest> {
    b.get("text")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| messages_error(format!("`{at}.text` must be a string")))
}

pub(super) fn text_part(text: String) -> Value {
    json!({"type": "text", "text": text})
}

pub(super) fn note_cache_control(v: &Value, dropped: &mut Vec<&'static str>) {
    if v.get("cache_control").is_some_and(|c| !c.is_null()) {
        dropped.push(CACHE_CONTROL);
    }
}

pub(super) fn note_citations(b: &Value, dropped: &mut Vec<&'static str>) {
    let on = b
        .get("citations")
        .and_then(|c| c.get("enabled"))
        .and_then(Value::as_bool);
    if on == Some(true) {
        dropped.push(CITATIONS);
    }
}

pub(super) fn not_a_block(at: &str) -> InvalidRequest {
    messages_error(format!(
        "`{at}` must be a content block: an object with a string `type`"
    ))
}

pub(super) fn messages_error(message: String) -> InvalidRequest {
    InvalidRequest::new(message, Some("messages"), "invalid_value")
}

pub(super) fn invalid_type(param: &'static str, expected: &str) -> InvalidRequest {
    InvalidRequest::new(
        format!("`{param}` must be {expected}"),
        Some(param),
        "invalid_type",
    )
}
