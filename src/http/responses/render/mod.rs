//! Canonical (OpenAI chat-shaped) completions, chunks and errors rendered as Responses
//! objects and events.
//!
//! The `/v1/responses` front door serves every provider through the canonical chat path;
//! this module turns what comes back into what OpenAI's SDKs (`responses.create`,
//! `responses.stream`) and Codex CLI expect:
//!
//! * output items, in order of appearance: `reasoning` (from `reasoning` /
//!   `reasoning_content` and OpenRouter's `reasoning_details`), `message` (`output_text`
//!   and `refusal` content parts), one `function_call` per tool call. Reasoning text goes
//!   into `summary` parts: consecutive text of one `reasoning_details` index is one
//!   `summary_text` part, a new index starts the next part of the same item. A
//!   `reasoning.encrypted` detail becomes the item's `encrypted_content` and seals it: more
//!   reasoning starts a new item, so no two encrypted blobs are ever merged. Signatures
//!   (`reasoning.text` `signature`) have no place in a Responses item and are dropped.
//! * status: `length` → `incomplete` with reason `max_output_tokens`, `content_filter` →
//!   `incomplete` with reason `content_filter`, OpenRouter's `error` → `failed`; anything
//!   else is `completed`. The last message or function call of an incomplete response is
//!   itself `incomplete`.
//! * usage: OpenAI's figures under Responses names (`input_tokens` includes cached
//!   tokens, as `prompt_tokens` does); `null` when the upstream reported none.
//! * the response object echoes the request's settings (`Echo`) with OpenAI's defaults
//!   for what was not sent, and always says `store: false` (the gateway keeps nothing).
//!
//! Item ids derive from the response id (`resp_X` → `msg_X_0`, `fc_X_1`, …): unique per
//! response and reproducible. Streams keep OpenAI's item lifecycle: one item open at a
//! time, output indexes from 0, every `response.output_item.added` closed by one
//! `response.output_item.done`, then exactly one terminal event.

use std::io::Write as _;

use serde::Serialize;

use crate::types::json::write_json_string;
use crate::types::{RawObject, Usage};

mod stream;
use stream::Output;
pub use stream::StreamRenderer;

/// The message of a `response.failed` for a completion that ended in `error`.
const GENERATION_FAILED: &str = "The model failed to generate a response.";

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

/// Request facts echoed in the response object, as OpenAI does: `model` is the public model
/// name; `fields` holds the request's members as sent (the whole request body will do: only
/// the echoed members are read — `instructions`, `max_output_tokens`,
/// `parallel_tool_calls`, `reasoning`, `temperature`, `text`, `tool_choice`, `tools`,
/// `top_p`, `user`, `metadata`).
#[derive(Debug, Clone, Default)]
pub struct Echo {
    pub model: String,
    pub fields: RawObject,
}

impl Echo {
    /// The member as sent, unless absent or `null`.
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .get(key)
            .map(|v| v.get())
            .filter(|v| *v != "null")
    }
}

use crate::http::canonical::*;

// ---------------------------------------------------------------------------------------
// Output items.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    InProgress,
    Completed,
    Incomplete,
}

/// An output item as the client sees it; streams build it up while it is open.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Item {
    Reasoning {
        id: String,
        summary: Vec<Summary>,
        #[serde(skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<String>,
    },
    Message {
        id: String,
        status: Status,
        role: &'static str,
        content: Vec<Part>,
    },
    FunctionCall {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
        status: Status,
    },
}

impl Item {
    fn id(&self) -> &str {
        match self {
            Item::Reasoning { id, .. }
            | Item::Message { id, .. }
            | Item::FunctionCall { id, .. } => id,
        }
    }

    fn set_status(&mut self, to: Status) {
        match self {
            Item::Reasoning { .. } => {}
            Item::Message { status, .. } | Item::FunctionCall { status, .. } => *status = to,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        // Strings and plain enums: serialising into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, self);
    }
}

/// A `summary_text` part of a reasoning item.
#[derive(Debug, Clone, Serialize)]
struct Summary {
    #[serde(rename = "type")]
    kind: &'static str,
    text: String,
}

impl Summary {
    fn new() -> Summary {
        Summary {
            kind: "summary_text",
            text: String::new(),
        }
    }
}

/// A content part of a message item.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part {
    OutputText {
        text: String,
        annotations: EmptyList,
        logprobs: EmptyList,
    },
    Refusal {
        refusal: String,
    },
}

impl Part {
    fn text() -> Part {
        Part::OutputText {
            text: String::new(),
            annotations: EmptyList,
            logprobs: EmptyList,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        let _ = serde_json::to_writer(&mut *out, self);
    }
}

/// `[]`: the gateway has no annotations or logprobs to report.
#[derive(Debug, Clone, Copy)]
struct EmptyList;

impl Serialize for EmptyList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        s.serialize_seq(Some(0))?.end()
    }
}

/// An id for a tool call that came without one.
fn generated_call_id() -> String {
    format!(
        "call_{:016x}{:08x}",
        rand::random::<u64>(),
        rand::random::<u32>()
    )
}

// ---------------------------------------------------------------------------------------
// The response object.

/// How a response ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End<'a> {
    InProgress,
    Completed,
    /// `incomplete_details.reason`.
    Incomplete(&'static str),
    /// `error.code` and `error.message`.
    Failed(&'static str, &'a str),
}

impl End<'_> {
    /// The end a canonical finish reason means.
    fn from_finish(finish: Option<&str>) -> End<'static> {
        match finish {
            Some("length") => End::Incomplete("max_output_tokens"),
            Some("content_filter") => End::Incomplete("content_filter"),
            Some("error") => End::Failed("server_error", GENERATION_FAILED),
            _ => End::Completed,
        }
    }

    /// The status of an item still open when the response ends this way.
    fn item_status(&self) -> Status {
        match self {
            End::InProgress => Status::InProgress,
            End::Completed => Status::Completed,
            End::Incomplete(_) | End::Failed(..) => Status::Incomplete,
        }
    }

    /// The terminal stream event for this end.
    fn event(&self) -> &'static str {
        match self {
            End::InProgress => "response.in_progress",
            End::Completed => "response.completed",
            End::Incomplete(_) => "response.incomplete",
            End::Failed(..) => "response.failed",
        }
    }
}

/// Writes the `response` object: every member the spec requires, the request's settings
/// from `echo`, OpenAI's defaults for the rest.
fn write_response(
    out: &mut Vec<u8>,
    id: &str,
    created_at: i64,
    echo: &Echo,
    end: End<'_>,
    output: &[Item],
    usage: Option<&Usage>,
) {
    let echoed = |out: &mut Vec<u8>, key: &str, default: &str| {
        write_compact(out, echo.get(key).unwrap_or(default));
    };
    out.extend_from_slice(b"{\"id\":");
    write_json_string(out, id);
    out.extend_from_slice(b",\"object\":\"response\",\"created_at\":");
    let _ = write!(out, "{created_at}");
    // OpenRouter's schema requires `completed_at` (and the two penalties below, which the
    // Responses API does not take, so they are OpenAI's zero). The time a response completed
    // is not tracked apart from the request's, and `null` is what both specs allow.
    out.extend_from_slice(b",\"completed_at\":null,\"status\":\"");
    out.extend_from_slice(match end {
        End::InProgress => b"in_progress".as_slice(),
        End::Completed => b"completed",
        End::Incomplete(_) => b"incomplete",
        End::Failed(..) => b"failed",
    });
    out.extend_from_slice(b"\",\"error\":");
    match end {
        End::Failed(code, message) => {
            out.extend_from_slice(b"{\"code\":");
            write_json_string(out, code);
            out.extend_from_slice(b",\"message\":");
            write_json_string(out, message);
            out.push(b'}');
        }
        _ => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"incomplete_details\":");
    match end {
        End::Incomplete(reason) => {
            out.extend_from_slice(b"{\"reason\":");
            write_json_string(out, reason);
            out.push(b'}');
        }
        _ => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"instructions\":");
    echoed(out, "instructions", "null");
    out.extend_from_slice(b",\"max_output_tokens\":");
    echoed(out, "max_output_tokens", "null");
    out.extend_from_slice(b",\"model\":");
    write_json_string(out, &echo.model);
    out.extend_from_slice(b",\"output\":[");
    for (i, item) in output.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item.write(out);
    }
    out.extend_from_slice(b"],\"parallel_tool_calls\":");
    echoed(out, "parallel_tool_calls", "true");
    out.extend_from_slice(b",\"presence_penalty\":0.0,\"frequency_penalty\":0.0,\"previous_response_id\":null,\"reasoning\":");
    echoed(out, "reasoning", "{\"effort\":null,\"summary\":null}");
    out.extend_from_slice(b",\"store\":false,\"temperature\":");
    echoed(out, "temperature", "1.0");
    out.extend_from_slice(b",\"text\":");
    echoed(out, "text", "{\"format\":{\"type\":\"text\"}}");
    out.extend_from_slice(b",\"tool_choice\":");
    echoed(out, "tool_choice", "\"auto\"");
    out.extend_from_slice(b",\"tools\":");
    echoed(out, "tools", "[]");
    out.extend_from_slice(b",\"top_p\":");
    echoed(out, "top_p", "1.0");
    out.extend_from_slice(b",\"truncation\":\"disabled\"");
    // Absent until known: both vendors' schemas type `usage` as an object, never null.
    if let Some(u) = usage {
        out.extend_from_slice(b",\"usage\":");
        write_usage(out, u);
    }
    out.extend_from_slice(b",\"user\":");
    echoed(out, "user", "null");
    out.extend_from_slice(b",\"metadata\":");
    echoed(out, "metadata", "{}");
    out.push(b'}');
}

/// Valid JSON text without its insignificant whitespace: request members are echoed as
/// sent, and a pretty-printed one would otherwise break an SSE `data:` line.
fn write_compact(out: &mut Vec<u8>, json: &str) {
    let (mut in_string, mut escaped) = (false, false);
    for &b in json.as_bytes() {
        if in_string {
            out.push(b);
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if !b.is_ascii_whitespace() {
            in_string = b == b'"';
            out.push(b);
        }
    }
}

/// Responses usage for canonical usage.
fn write_usage(out: &mut Vec<u8>, u: &Usage) {
    let cached = u
        .prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cached_tokens)
        .or(u.cache_read_input_tokens)
        .unwrap_or(0);
    let total = match u.total_tokens {
        0 => u.prompt_tokens.saturating_add(u.completion_tokens),
        t => t,
    };
    let _ = write!(
        out,
        "{{\"input_tokens\":{},\"input_tokens_details\":{{\"cached_tokens\":{},\"cache_write_tokens\":{}}},\
         \"output_tokens\":{},\"output_tokens_details\":{{\"reasoning_tokens\":{}}},\"total_tokens\":{}}}",
        u.prompt_tokens,
        cached,
        u.cache_write_tokens(),
        u.completion_tokens,
        u.reasoning_tokens(),
        total,
    );
}

// ---------------------------------------------------------------------------------------
// Whole responses.

/// An OpenAI `chat.completion` body → a Responses `response` JSON body. `id` is the response
/// id (e.g. "resp_" + request id), `created_at` its Unix time in seconds. Only the first
/// choice is rendered (Responses has no `n`).
pub fn response(
    completion: &RawObject,
    id: &str,
    created_at: i64,
    echo: &Echo,
) -> Result<Vec<u8>, RenderError> {
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

    // The stream's state machine builds the items, so both paths map alike; its events
    // go to a scratch buffer.
    let mut output = Output::new(id);
    let mut scratch = Vec::new();
    output.delta(msg, &mut scratch);
    let end = End::from_finish(raw_str(choice.finish_reason).as_deref());
    output.close(end.item_status(), &mut scratch);

    let mut bytes = Vec::with_capacity(1024 + scratch.len() / 2);
    write_response(
        &mut bytes,
        id,
        created_at,
        echo,
        end,
        output.items(),
        usage.as_ref(),
    );
    Ok(bytes)
}

// ---------------------------------------------------------------------------------------
// Errors.

/// The `ResponseErrorCode` closest to an HTTP status: `rate_limit_exceeded` for 429,
/// `invalid_prompt` for the other client errors (the request could not be served as
/// sent), `server_error` for everything else (5xx, and 408 timeouts).
pub fn error_code(status: u16) -> &'static str {
    match status {
        429 => "rate_limit_exceeded",
        408 => "server_error",
        400..=499 => "invalid_prompt",
        _ => "server_error",
    }
}

/// A standalone `event: error` frame, for a stream that fails before `response.created`:
/// `{"type":"error","code":..,"message":..,"param":null,"sequence_number":0}`.
pub fn error_event(status: u16, message: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"event: error\ndata: {\"type\":\"error\",\"code\":");
    write_json_string(out, error_code(status));
    out.extend_from_slice(b",\"message\":");
    write_json_string(out, message);
    out.extend_from_slice(b",\"param\":null,\"sequence_number\":0}\n\n");
}

#[cfg(test)]
mod tests;
