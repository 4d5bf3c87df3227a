//! Canonical (OpenAI-shaped) completions, chunks and errors rendered as Anthropic messages.
//!
//! The `/v1/messages` front door serves non-Anthropic providers through the canonical chat
//! path; this module turns what comes back into what the Anthropic SDKs (and Claude Code)
//! expect. It runs the Anthropic → OpenAI translation of `providers::anthropic` backwards:
//!
//! * content blocks, in order: reasoning (`thinking` / `redacted_thinking`), text,
//!   `tool_use`. Reasoning comes from `reasoning` / `reasoning_content` and from
//!   OpenRouter's `reasoning_details` (`reasoning.text` with its `signature`,
//!   `reasoning.summary`, `reasoning.encrypted` → `redacted_thinking`). When the details
//!   carry the text themselves, `reasoning` (which repeats it) is not used again.
//! * `stop_reason`: a `native_finish_reason` that is already an Anthropic stop reason wins
//!   (`stop_sequence`, `pause_turn`, `refusal`, …); otherwise `stop` → `end_turn`, `length`
//!   → `max_tokens`, `tool_calls` → `tool_use`, `content_filter` → `refusal`, and `error`
//!   (or none) → `end_turn`: Anthropic has no stop reason for a failure, and a canonical
//!   stream that failed reaches the client as an `error` event instead. An `end_turn`
//!   answer that still holds tool calls says `tool_use` (clients run tools on it), one that
//!   carries an OpenAI `refusal` says `refusal`; `tool_use` is never claimed without a
//!   `tool_use` block.
//! * usage: Anthropic's `input_tokens` excludes cache reads and writes, which OpenAI's
//!   `prompt_tokens` includes; all figures saturate at zero.
//!
//! Streams keep Anthropic's block lifecycle: one block open at a time, indexes from 0,
//! every `content_block_start` closed by one `content_block_stop`, then `message_delta`
//! and `message_stop`.

use std::borrow::Cow;
use std::io::Write as _;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::types::json::write_json_string;
use crate::types::usage::estimate_tokens;
use crate::types::{RawObject, Usage};

/// The stop reasons Anthropic defines; a `native_finish_reason` among them is used as is.
const ANTHROPIC_STOP_REASONS: [&str; 7] = [
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
];

/// `output_tokens` in `message_start`, a placeholder as Anthropic sends one; the real
/// figure follows in `message_delta`.
const START_OUTPUT_TOKENS: u64 = 1;

/// The canonical input could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the canonical completion has no {0}")]
    Missing(&'static str),
    #[error("the canonical completion's `{field}` is malformed: {source}")]
    Malformed {
        field: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

use crate::http::canonical::*;

// ---------------------------------------------------------------------------------------
// Mapping rules shared by whole messages and streams.

/// The Anthropic stop reason for a canonical finish (see the module notes).
fn stop_reason(
    finish: Option<&str>,
    native: Option<&str>,
    tool_calls: bool,
    refusal: bool,
) -> &'static str {
    let native = native
        .and_then(|n| ANTHROPIC_STOP_REASONS.iter().find(|r| **r == n))
        .copied()
        .filter(|n| *n != "tool_use" || tool_calls);
    let reason = native.unwrap_or(match finish {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") if tool_calls => "tool_use",
        Some("content_filter") => "refusal",
        // stop, error, none, anything newer.
        _ => "end_turn",
    });
    match reason {
        "end_turn" if tool_calls => "tool_use",
        "end_turn" if refusal => "refusal",
        r => r,
    }
}

/// Anthropic's usage figures for canonical usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
struct OutUsage {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    output_tokens: u64,
}

impl OutUsage {
    fn from_usage(u: &Usage) -> OutUsage {
        let cached = u
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .or(u.cache_read_input_tokens)
            .unwrap_or(0);
        let written = u.cache_write_tokens();
        OutUsage {
            input_tokens: u
                .prompt_tokens
                .saturating_sub(cached)
                .saturating_sub(written),
            cache_creation_input_tokens: written,
            cache_read_input_tokens: cached,
            output_tokens: u.completion_tokens,
        }
    }
}

/// A tool-call id for a call that came without one.
fn generated_tool_id() -> String {
    format!(
        "toolu_{:016x}{:08x}",
        rand::random::<u64>(),
        rand::random::<u32>()
    )
}

/// Tool arguments as an Anthropic `input`: a JSON object, `{}` when they are empty, invalid
/// or not an object.
fn tool_input(arguments: Option<&str>) -> ToolInput<'_> {
    let text = arguments.unwrap_or("").trim();
    ToolInput(
        text.starts_with('{')
            .then(|| serde_json::from_str::<&RawValue>(text).ok())
            .flatten(),
    )
}

/// A tool's `input`: the arguments' own JSON text, or `{}`.
#[derive(Debug)]
struct ToolInput<'a>(Option<&'a RawValue>);

impl ToolInput<'_> {
    fn len(&self) -> usize {
        self.0.map_or(2, |raw| raw.get().len())
    }
}

impl Serialize for ToolInput<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self.0 {
            Some(raw) => raw.serialize(s),
            None => s.serialize_map(Some(0))?.end(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Whole messages.

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutBlock<'a> {
    Thinking {
        thinking: String,
        signature: Cow<'a, str>,
    },
    RedactedThinking {
        data: &'a str,
    },
    Text {
        text: String,
    },
    ToolUse {
        id: Cow<'a, str>,
        name: &'a str,
        input: ToolInput<'a>,
    },
}

#[derive(Debug, Serialize)]
struct OutMessage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<OutBlock<'a>>,
    stop_reason: &'static str,
    stop_sequence: Option<Cow<'a, str>>,
    usage: OutUsage,
}

/// An OpenAI `chat.completion` body → an Anthropic `message` JSON body. `id` is the message
/// id to use (e.g. "msg_" + request id), `model` the public model name. Only the first
/// choice is rendered (Anthropic has no `n`).
pub fn message(completion: &RawObject, id: &str, model: &str) -> Result<Vec<u8>, RenderError> {
    let choices: Vec<InChoice<'_>> = completion
        .get("choices")
        .ok_or(RenderError::Missing("choices"))
        .and_then(|raw| {
            serde_json::from_str(raw.get()).map_err(|source| RenderError::Malformed {
                field: "choices",
                source,
            })
        })?;
    let choice = choices
        .iter()
        .find(|c| c.index.unwrap_or(0) == 0)
        .or(choices.first())
        .ok_or(RenderError::Missing("choices"))?;
    let msg = choice
        .message
        .as_ref()
        .ok_or(RenderError::Missing("message"))?;
    let usage = match completion.get("usage").filter(|u| u.get() != "null") {
        Some(raw) => Some(serde_json::from_str::<Usage>(raw.get()).map_err(|source| {
            RenderError::Malformed {
                field: "usage",
                source,
            }
        })?),
        None => None,
    };

    let mut content = Vec::new();
    // Reasoning: consecutive text of one detail index forms one thinking block, closed by
    // its signature.
    let mut open: Option<Option<u64>> = None;
    reasoning_steps(msg, |step| match step {
        Reasoning::Text(text, index) => match (open, content.last_mut()) {
            (Some(at), Some(OutBlock::Thinking { thinking, .. })) if same_detail(at, index) => {
                thinking.push_str(text);
                open = Some(at.or(index));
            }
            _ => {
                content.push(OutBlock::Thinking {
                    thinking: text.to_owned(),
                    signature: Cow::Borrowed(""),
                });
                open = Some(index);
            }
        },
        Reasoning::Signature(sig, index) => {
            match (open, content.last_mut()) {
                (Some(at), Some(OutBlock::Thinking { signature, .. }))
                    if same_detail(at, index) =>
                {
                    *signature = Cow::Borrowed(sig);
                }
                _ => content.push(OutBlock::Thinking {
                    thinking: String::new(),
                    signature: Cow::Borrowed(sig),
                }),
            }
            open = None;
        }
        Reasoning::Encrypted(data) => {
            content.push(OutBlock::RedactedThinking { data });
            open = None;
        }
    });

    let mut text = String::new();
    if let Some(c) = &msg.content {
        c.for_each_text(|t| text.push_str(t));
    }
    if !text.is_empty() {
        content.push(OutBlock::Text { text });
    }
    let refusal = msg.refusal.as_deref().filter(|r| !r.is_empty());
    if let Some(r) = refusal {
        content.push(OutBlock::Text { text: r.to_owned() });
    }

    let calls = msg.tool_calls.as_deref().unwrap_or(&[]);
    for call in calls {
        let f = call.function.as_ref();
        content.push(OutBlock::ToolUse {
            id: match call.id.as_deref().filter(|id| !id.is_empty()) {
                Some(id) => Cow::Borrowed(id),
                None => Cow::Owned(generated_tool_id()),
            },
            name: f.and_then(|f| f.name.as_deref()).unwrap_or(""),
            input: tool_input(f.and_then(|f| f.arguments.as_deref())),
        });
    }

    let finish = raw_str(choice.finish_reason);
    let native = raw_str(choice.native_finish_reason);
    let reason = stop_reason(
        finish.as_deref(),
        native.as_deref(),
        !calls.is_empty(),
        refusal.is_some(),
    );
    let stop_sequence = (reason == "stop_sequence")
        .then(|| raw_str(choice.stop_sequence))
        .flatten();
    let usage = match &usage {
        Some(u) => OutUsage::from_usage(u),
        None => OutUsage {
            input_tokens: 0,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
            output_tokens: estimate_tokens(content_bytes(&content)),
        },
    };
    let out = OutMessage {
        id,
        kind: "message",
        role: "assistant",
        model,
        content,
        stop_reason: reason,
        stop_sequence,
        usage,
    };
    let mut bytes = Vec::with_capacity(512);
    serde_json::to_writer(&mut bytes, &out).map_err(|source| RenderError::Malformed {
        field: "message",
        source,
    })?;
    Ok(bytes)
}

/// Generated bytes, for estimating output tokens when no usage came.
fn content_bytes(content: &[OutBlock<'_>]) -> usize {
    content
        .iter()
        .map(|b| match b {
            OutBlock::Thinking { thinking, .. } => thinking.len(),
            OutBlock::RedactedThinking { .. } => 0,
            OutBlock::Text { text } => text.len(),
            OutBlock::ToolUse { input, .. } => input.len(),
        })
        .sum()
}

mod stream;
pub use stream::StreamRenderer;

/// An `event: error` frame, for a stream that fails before anything was rendered.
pub fn error_event(status: u16, message: &str, out: &mut Vec<u8>) {
    stream::begin(out, "error");
    out.extend_from_slice(b",\"error\":");
    stream::write_error(out, status, message);
    stream::end(out);
}

// ---------------------------------------------------------------------------------------
// Errors.

/// Anthropic's error `type` for an HTTP status. 408 (a timeout, which Anthropic does not
/// list) reads as 504's `timeout_error`; unlisted 4xx are `invalid_request_error` as
/// Anthropic documents; 503 is `overloaded_error` like 529; anything else `api_error`.
pub fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        408 | 504 => "timeout_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// `{"type":"error","error":{"type":..,"message":..},"request_id":..}`; `request_id` only
/// when given (Anthropic's bodies carry it; its stream error events do not).
pub fn error_body(status: u16, message: &str, request_id: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + message.len());
    out.extend_from_slice(b"{\"type\":\"error\",\"error\":");
    stream::write_error(&mut out, status, message);
    if let Some(id) = request_id {
        out.extend_from_slice(b",\"request_id\":");
        write_json_string(&mut out, id);
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests;
