//! Prompts and completions as span attributes, for operators who opt in (`[traces]
//! capture_content`, or `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`): the
//! captured request body (in its front door's protocol) and the answer become the GenAI
//! semantic conventions' (1.37.0) `gen_ai.system_instructions`, `gen_ai.input.messages` and
//! `gen_ai.output.messages`, JSON strings of messages made of typed parts (`text`,
//! `tool_call`, `tool_call_response`, `reasoning`, `uri`).
//!
//! A conversation over the size cap keeps its newest messages (a span is read for what just
//! happened) and `switchyard.content_truncated` says so. Only requests that opted in pay for
//! any of this; the content never goes to a log.

use opentelemetry::KeyValue;
use serde_json::{json, Map, Value};

use crate::store::CapturedContent;

/// The content attributes of one request that came through `door`, each at most `max`
/// bytes of JSON. Parts that cannot be read (a body cut by the request log's own cap) are
/// left out rather than guessed.
pub fn attributes(door: &str, c: &CapturedContent, max: usize) -> Vec<KeyValue> {
    let mut out = Vec::new();
    let mut truncated = c.request_truncated || c.response_truncated;
    let request = c
        .request_body
        .as_deref()
        .and_then(|b| serde_json::from_str::<Value>(b).ok());
    if let Some(req) = request {
        let (system, input) = input_of(door, &req);
        if !system.is_empty() {
            let (json, cut) = fit(vec![Value::Array(system)], max);
            truncated |= cut;
            if let Some(j) = json {
                out.push(KeyValue::new("gen_ai.system_instructions", trim_outer(j)));
            }
        }
        if !input.is_empty() {
            let (json, cut) = fit(input, max);
            truncated |= cut;
            if let Some(j) = json {
                out.push(KeyValue::new("gen_ai.input.messages", j));
            }
        }
    }
    let response = c
        .response_body
        .as_deref()
        .and_then(|b| serde_json::from_str::<Value>(b).ok());
    if let Some(output) = response.as_ref().and_then(output_of) {
        let (json, cut) = fit(vec![output], max);
        truncated |= cut;
        if let Some(j) = json {
            out.push(KeyValue::new("gen_ai.output.messages", j));
        }
    }
    if truncated {
        out.push(KeyValue::new("switchyard.content_truncated", true));
    }
    out
}

/// `[[parts]]` → `[parts]`: system instructions are a list of parts, not of messages.
fn trim_outer(j: String) -> String {
    j.strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .map(str::to_owned)
        .unwrap_or(j)
}

/// The newest messages that fit in `max` bytes as a JSON array; when not even the newest
/// one does, its longest texts are cut (a few rounds at most: a crafted body must not make
/// this quadratic). `None` when nothing fits.
fn fit(messages: Vec<Value>, max: usize) -> (Option<String>, bool) {
    // Each message is serialised once to find the longest newest run that fits.
    let lens: Vec<usize> = messages.iter().map(|m| m.to_string().len()).collect();
    let mut total = 2; // the brackets
    let mut start = messages.len();
    while start > 0 {
        let comma = usize::from(start < messages.len());
        if total + lens[start - 1] + comma > max {
            break;
        }
        total += lens[start - 1] + comma;
        start -= 1;
    }
    if start < messages.len() {
        let cut = start > 0;
        let kept: Vec<Value> = messages.into_iter().skip(start).collect();
        return (Some(Value::Array(kept).to_string()), cut);
    }
    let Some(mut newest) = messages.into_iter().last() else {
        return (Some("[]".into()), false);
    };
    for _ in 0..SHRINK_ROUNDS {
        let json = Value::Array(vec![newest.clone()]).to_string();
        if json.len() <= max {
            return (Some(json), true);
        }
        // Cutting a string by k bytes shortens its JSON by at least k (escapes only add).
        let over = json.len() - max;
        if !shrink_longest(&mut newest, over + 16) {
            break;
        }
    }
    (None, true)
}

/// Rounds of cutting one message's texts before it is left out.
const SHRINK_ROUNDS: usize = 8;

/// Cuts the longest string inside `v` by at least `by` bytes (on a character boundary).
fn shrink_longest(v: &mut Value, by: usize) -> bool {
    fn longest(v: &mut Value) -> Option<&mut String> {
        match v {
            Value::String(s) => Some(s),
            Value::Array(a) => a.iter_mut().filter_map(longest).max_by_key(|s| s.len()),
            Value::Object(o) => o.values_mut().filter_map(longest).max_by_key(|s| s.len()),
            _ => None,
        }
    }
    let Some(s) = longest(v) else { return false };
    if s.is_empty() {
        return false;
    }
    let mut end = s.len().saturating_sub(by);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    true
}

fn text(t: &str) -> Value {
    json!({"type": "text", "content": t})
}

fn message(role: &str, parts: Vec<Value>) -> Value {
    json!({"role": role, "parts": parts})
}

/// Arguments as JSON when they are JSON (OpenAI sends them as a string).
fn arguments(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| s.clone().into()),
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// (system instructions, input messages) of a request body.
fn input_of(door: &str, req: &Value) -> (Vec<Value>, Vec<Value>) {
    match door {
        "messages" | "count_tokens" => anthropic_input(req),
        "responses" => responses_input(req),
        "completions" => {
            let prompt = match req.get("prompt") {
                Some(Value::String(s)) => vec![text(s)],
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(text).collect(),
                _ => Vec::new(),
            };
            (Vec::new(), vec![message("user", prompt)])
        }
        "embeddings" => (Vec::new(), Vec::new()),
        _ => (Vec::new(), chat_messages(req.get("messages"))),
    }
}

/// OpenAI Chat Completions messages (system messages stay in the history, as sent).
fn chat_messages(messages: Option<&Value>) -> Vec<Value> {
    let Some(Value::Array(ms)) = messages else {
        return Vec::new();
    };
    ms.iter()
        .map(|m| {
            let role = str_of(m, "role").unwrap_or("user");
            let mut parts = Vec::new();
            if role == "tool" {
                parts.push(json!({"type": "tool_call_response",
                    "id": m.get("tool_call_id"), "response": m.get("content")}));
                return message(role, parts);
            }
            chat_content(m.get("content"), &mut parts);
            if let Some(r) = str_of(m, "reasoning").or_else(|| str_of(m, "reasoning_content")) {
                parts.push(json!({"type": "reasoning", "content": r}));
            }
            chat_tool_calls(m, &mut parts);
            message(role, parts)
        })
        .collect()
}

/// A chat message's `tool_calls` as `tool_call` parts.
fn chat_tool_calls(m: &Value, parts: &mut Vec<Value>) {
    for t in m
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = t.get("function");
        parts.push(json!({"type": "tool_call", "id": t.get("id"),
            "name": f.and_then(|f| f.get("name")),
            "arguments": arguments(f.and_then(|f| f.get("arguments")))}));
    }
}

/// A chat message's `content`: a string, or parts (`text`, `image_url`, ...).
fn chat_content(content: Option<&Value>, parts: &mut Vec<Value>) {
    match content {
        Some(Value::String(s)) => parts.push(text(s)),
        Some(Value::Array(a)) => {
            for p in a {
                match str_of(p, "type") {
                    Some("text") => parts.push(text(str_of(p, "text").unwrap_or(""))),
                    Some("image_url") => {
                        let uri = p.get("image_url").and_then(|u| str_of(u, "url"));
                        parts.push(json!({"type": "uri", "modality": "image", "uri": uri}));
                    }
                    Some(other) => parts.push(json!({"type": other})),
                    None => {}
                }
            }
        }
        _ => {}
    }
}

/// Anthropic Messages: `system`, then messages of content blocks.
fn anthropic_input(req: &Value) -> (Vec<Value>, Vec<Value>) {
    let system = anthropic_blocks(req.get("system"));
    let Some(Value::Array(ms)) = req.get("messages") else {
        return (system, Vec::new());
    };
    let input = ms
        .iter()
        .map(|m| {
            message(
                str_of(m, "role").unwrap_or("user"),
                anthropic_blocks(m.get("content")),
            )
        })
        .collect();
    (system, input)
}

fn anthropic_blocks(content: Option<&Value>) -> Vec<Value> {
    match content {
        Some(Value::String(s)) => vec![text(s)],
        Some(Value::Array(blocks)) => blocks.iter().map(anthropic_block).collect(),
        _ => Vec::new(),
    }
}

fn anthropic_block(b: &Value) -> Value {
    match str_of(b, "type") {
        Some("text") => text(str_of(b, "text").unwrap_or("")),
        Some("thinking") => json!({"type": "reasoning", "content": str_of(b, "thinking")}),
        Some("tool_use") => json!({"type": "tool_call", "id": b.get("id"),
            "name": b.get("name"), "arguments": b.get("input")}),
        Some("tool_result") => {
            let response = match b.get("content") {
                Some(Value::Array(inner)) => {
                    Value::Array(inner.iter().map(anthropic_block).collect())
                }
                other => other.cloned().unwrap_or(Value::Null),
            };
            json!({"type": "tool_call_response", "id": b.get("tool_use_id"), "response": response})
        }
        Some(other) => json!({"type": other}),
        None => json!({"type": "unknown"}),
    }
}

/// OpenAI Responses: `instructions`, then `input` (a string, or items).
fn responses_input(req: &Value) -> (Vec<Value>, Vec<Value>) {
    let system = str_of(req, "instructions").map(text).into_iter().collect();
    let input = match req.get("input") {
        Some(Value::String(s)) => vec![message("user", vec![text(s)])],
        Some(Value::Array(items)) => items.iter().filter_map(responses_item).collect(),
        _ => Vec::new(),
    };
    (system, input)
}

fn responses_item(item: &Value) -> Option<Value> {
    let kind = str_of(item, "type").unwrap_or("message");
    Some(match kind {
        "message" => {
            let role = str_of(item, "role").unwrap_or("user");
            let parts = match item.get("content") {
                Some(Value::String(s)) => vec![text(s)],
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|p| match str_of(p, "type") {
                        Some("input_text" | "output_text") => text(str_of(p, "text").unwrap_or("")),
                        Some("input_image") => {
                            json!({"type": "uri", "modality": "image", "uri": p.get("image_url")})
                        }
                        Some(other) => json!({"type": other}),
                        None => json!({"type": "unknown"}),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            message(role, parts)
        }
        "function_call" => message(
            "assistant",
            vec![json!({"type": "tool_call", "id": item.get("call_id"),
                "name": item.get("name"), "arguments": arguments(item.get("arguments"))})],
        ),
        "function_call_output" => message(
            "tool",
            vec![
                json!({"type": "tool_call_response", "id": item.get("call_id"),
                "response": item.get("output")}),
            ],
        ),
        "reasoning" => {
            let summary: Vec<Value> = item
                .get("summary")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| str_of(s, "text"))
                .map(|t| json!({"type": "reasoning", "content": t}))
                .collect();
            if summary.is_empty() {
                return None;
            }
            message("assistant", summary)
        }
        _ => return None,
    })
}

/// The answer as one output message, whatever shape it was captured in: an OpenAI chat
/// completion or legacy completion, an Anthropic message, a Responses object, or a
/// stream's assembled output (`content`, `reasoning`, `tool_calls`, `finish_reason`).
fn output_of(resp: &Value) -> Option<Value> {
    let mut parts = Vec::new();
    let finish;
    if let Some(choice) = resp.get("choices").and_then(|c| c.get(0)) {
        finish = str_of(choice, "finish_reason");
        if let Some(m) = choice.get("message") {
            if let Some(r) = str_of(m, "reasoning").or_else(|| str_of(m, "reasoning_content")) {
                parts.push(json!({"type": "reasoning", "content": r}));
            }
            chat_content(m.get("content"), &mut parts);
            if let Some(r) = str_of(m, "refusal") {
                parts.push(text(r));
            }
            chat_tool_calls(m, &mut parts);
        } else if let Some(t) = str_of(choice, "text") {
            parts.push(text(t));
        }
    } else if str_of(resp, "type") == Some("message") {
        finish = str_of(resp, "stop_reason");
        parts = anthropic_blocks(resp.get("content"));
    } else if let Some(Value::Array(items)) = resp.get("output") {
        finish = str_of(resp, "status");
        for item in items {
            if let Some(m) = responses_item(item) {
                if let Some(Value::Array(p)) = m.get("parts") {
                    parts.extend(p.iter().cloned());
                }
            }
        }
    } else if resp.get("content").is_some() || resp.get("tool_calls").is_some() {
        finish = str_of(resp, "finish_reason");
        if let Some(r) = str_of(resp, "reasoning") {
            parts.push(json!({"type": "reasoning", "content": r}));
        }
        if let Some(c) = str_of(resp, "content").filter(|c| !c.is_empty()) {
            parts.push(text(c));
        }
        for t in resp
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            parts.push(
                json!({"type": "tool_call", "id": t.get("id"), "name": t.get("name"),
                "arguments": arguments(t.get("arguments"))}),
            );
        }
    } else {
        return None;
    }
    let mut m = Map::new();
    m.insert("role".into(), "assistant".into());
    m.insert("parts".into(), parts.into());
    m.insert("finish_reason".into(), finish.unwrap_or("").into());
    Some(Value::Object(m))
}

#[cfg(test)]
mod tests;
