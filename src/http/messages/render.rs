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

use serde::{Deserialize, Serialize};
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

// ---------------------------------------------------------------------------------------
// Canonical input, parsed leniently and borrowing from the chunk where it can.

#[derive(Debug, Default, Deserialize)]
struct InChoice<'a> {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default, borrow)]
    message: Option<InMessage<'a>>,
    #[serde(default, borrow)]
    delta: Option<InMessage<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<&'a RawValue>,
    #[serde(default, borrow)]
    native_finish_reason: Option<&'a RawValue>,
    /// The stop string that matched, where an upstream reports it.
    #[serde(default, borrow)]
    stop_sequence: Option<&'a RawValue>,
}

/// `message` of a completion or `delta` of a chunk.
#[derive(Debug, Default, Deserialize)]
struct InMessage<'a> {
    #[serde(default, borrow)]
    content: Option<InContent<'a>>,
    #[serde(default, borrow)]
    refusal: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning_details: Option<Vec<InDetail<'a>>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<InToolCall<'a>>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum InContent<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Parts(#[serde(borrow)] Vec<InPart<'a>>),
}

#[derive(Debug, Deserialize)]
struct InPart<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
}

impl InContent<'_> {
    /// Appends the text (text parts only) to `f`, piece by piece.
    fn for_each_text(&self, mut f: impl FnMut(&str)) {
        match self {
            InContent::Text(t) => f(t),
            InContent::Parts(parts) => {
                for p in parts {
                    if matches!(p.kind.as_deref(), None | Some("text")) {
                        if let Some(t) = &p.text {
                            f(t);
                        }
                    }
                }
            }
        }
    }
}

/// One `reasoning_details` entry (OpenRouter's extension).
#[derive(Debug, Deserialize)]
struct InDetail<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    summary: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    signature: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    data: Option<Cow<'a, str>>,
    #[serde(default)]
    index: Option<u64>,
}

impl InDetail<'_> {
    /// The reasoning text this entry carries, if any.
    fn text(&self) -> Option<&str> {
        match self.kind.as_ref() {
            "reasoning.text" => self.text.as_deref(),
            "reasoning.summary" => self.summary.as_deref(),
            _ => None,
        }
        .filter(|t| !t.is_empty())
    }
}

#[derive(Debug, Deserialize)]
struct InToolCall<'a> {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    function: Option<InFunction<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct InFunction<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    arguments: Option<Cow<'a, str>>,
}

/// A raw member that is a JSON string, as text; anything else (null included) is `None`.
fn raw_str(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    let raw = raw?;
    if !raw.get().starts_with('"') {
        return None;
    }
    serde_json::from_str::<Cow<'_, str>>(raw.get()).ok()
}

/// Reasoning in one message or delta, as steps in order: the text from `reasoning` /
/// `reasoning_content` only when `reasoning_details` does not carry it too.
enum Reasoning<'m> {
    Text(&'m str, Option<u64>),
    Signature(&'m str, Option<u64>),
    Encrypted(&'m str),
}

fn reasoning_steps<'m>(m: &'m InMessage<'_>, mut f: impl FnMut(Reasoning<'m>)) {
    let details: &[InDetail<'_>] = m.reasoning_details.as_deref().unwrap_or(&[]);
    let plain = m
        .reasoning
        .as_deref()
        .filter(|t| !t.is_empty())
        .or_else(|| m.reasoning_content.as_deref().filter(|t| !t.is_empty()));
    if let Some(text) = plain {
        if !details.iter().any(|d| d.text().is_some()) {
            let index = details
                .iter()
                .find(|d| d.kind == "reasoning.text")
                .and_then(|d| d.index);
            f(Reasoning::Text(text, index));
        }
    }
    for d in details {
        if let Some(text) = d.text() {
            f(Reasoning::Text(text, d.index));
        }
        match d.kind.as_ref() {
            "reasoning.text" => {
                if let Some(sig) = d.signature.as_deref().filter(|s| !s.is_empty()) {
                    f(Reasoning::Signature(sig, d.index));
                }
            }
            "reasoning.encrypted" => {
                if let Some(data) = d.data.as_deref().filter(|s| !s.is_empty()) {
                    f(Reasoning::Encrypted(data));
                }
            }
            _ => {}
        }
    }
}

/// Reasoning at `next` continues a thinking block begun at `open` unless both name
/// different `reasoning_details` indexes.
fn same_detail(open: Option<u64>, next: Option<u64>) -> bool {
    match (open, next) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

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

// ---------------------------------------------------------------------------------------
// Streams.

/// The content block open in the client's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Open {
    None,
    Text,
    /// `detail`: the `reasoning_details` index it renders, once known; `signed` once its
    /// signature went out (the block takes no more text).
    Thinking {
        detail: Option<u64>,
        signed: bool,
    },
    /// A tool call by its OpenAI index and id.
    Tool {
        call: u32,
        id: String,
    },
}

/// Turns a canonical chunk stream into Anthropic SSE frames (`event: <type>\ndata: <json>\n\n`).
#[derive(Debug)]
pub struct StreamRenderer {
    id: String,
    model: String,
    input_tokens: u64,
    started: bool,
    /// `finish` or `error` ran: nothing more is written.
    done: bool,
    open: Open,
    /// Blocks started so far (the next block's index).
    blocks: u32,
    /// OpenAI indexes of the tool calls whose blocks were started.
    calls: Vec<u32>,
    refusal: bool,
    finish_reason: Option<String>,
    native_finish_reason: Option<String>,
    stop_sequence: Option<String>,
    usage: Option<Usage>,
    /// Generated bytes, for an output estimate when no usage comes.
    output_bytes: usize,
}

impl StreamRenderer {
    /// `input_tokens` is the estimate (or exact figure) for message_start's usage.
    pub fn new(id: &str, model: &str, input_tokens: u64) -> StreamRenderer {
        StreamRenderer {
            id: id.to_owned(),
            model: model.to_owned(),
            input_tokens,
            started: false,
            done: false,
            open: Open::None,
            blocks: 0,
            calls: Vec::new(),
            refusal: false,
            finish_reason: None,
            native_finish_reason: None,
            stop_sequence: None,
            usage: None,
            output_bytes: 0,
        }
    }

    /// Frames to send before any chunk: `message_start` and a `ping`. Idempotent.
    pub fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        begin(out, "message_start");
        out.extend_from_slice(b",\"message\":{\"id\":");
        write_json_string(out, &self.id);
        out.extend_from_slice(b",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
        write_json_string(out, &self.model);
        out.extend_from_slice(
            b",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":",
        );
        write_usage(
            out,
            &OutUsage {
                input_tokens: self.input_tokens,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: 0,
                output_tokens: START_OUTPUT_TOKENS,
            },
        );
        out.push(b'}');
        end(out);
        Self::ping(out);
    }

    /// One OpenAI chunk (usage-only chunks included): appends the frames it produces.
    /// Choices other than the first are ignored; a malformed chunk produces nothing.
    pub fn chunk(&mut self, chunk: &RawObject, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.start(out);
        if let Some(raw) = chunk.get("usage").filter(|u| u.get() != "null") {
            match serde_json::from_str::<Usage>(raw.get()) {
                Ok(u) => self.usage = Some(u),
                Err(e) => tracing::debug!(error = %e, "ignoring malformed chunk usage"),
            }
        }
        let Some(raw) = chunk.get("choices") else {
            return;
        };
        let choices: Vec<InChoice<'_>> = match serde_json::from_str(raw.get()) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "ignoring malformed chunk choices");
                return;
            }
        };
        let Some(choice) = choices.iter().find(|c| c.index.unwrap_or(0) == 0) else {
            return;
        };
        if let Some(delta) = &choice.delta {
            self.delta(delta, out);
        }
        if let Some(f) = raw_str(choice.finish_reason) {
            self.finish_reason = Some(f.into_owned());
        }
        if let Some(n) = raw_str(choice.native_finish_reason) {
            self.native_finish_reason = Some(n.into_owned());
        }
        if let Some(s) = raw_str(choice.stop_sequence) {
            self.stop_sequence = Some(s.into_owned());
        }
    }

    fn delta(&mut self, d: &InMessage<'_>, out: &mut Vec<u8>) {
        reasoning_steps(d, |step| match step {
            Reasoning::Text(text, index) => self.thinking(text, index, out),
            Reasoning::Signature(sig, index) => self.signature(sig, index, out),
            Reasoning::Encrypted(data) => self.redacted(data, out),
        });
        if let Some(c) = &d.content {
            c.for_each_text(|t| self.text(t, out));
        }
        if let Some(r) = d.refusal.as_deref().filter(|r| !r.is_empty()) {
            self.refusal = true;
            self.text(r, out);
        }
        for (pos, call) in d.tool_calls.iter().flatten().enumerate() {
            self.tool_call(call, pos as u32, out);
        }
    }

    fn thinking(&mut self, text: &str, index: Option<u64>, out: &mut Vec<u8>) {
        match &mut self.open {
            Open::Thinking {
                detail,
                signed: false,
            } if same_detail(*detail, index) => {
                if detail.is_none() {
                    *detail = index;
                }
            }
            _ => {
                self.open_block(
                    Open::Thinking {
                        detail: index,
                        signed: false,
                    },
                    out,
                );
                out.extend_from_slice(
                    b"{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n",
                );
            }
        }
        self.output_bytes += text.len();
        self.block_delta(out);
        out.extend_from_slice(b"{\"type\":\"thinking_delta\",\"thinking\":");
        write_json_string(out, text);
        out.extend_from_slice(b"}}\n\n");
    }

    fn signature(&mut self, sig: &str, index: Option<u64>, out: &mut Vec<u8>) {
        let continues = matches!(
            &self.open,
            Open::Thinking { detail, signed: false } if same_detail(*detail, index)
        );
        if !continues {
            self.open_block(
                Open::Thinking {
                    detail: index,
                    signed: false,
                },
                out,
            );
            out.extend_from_slice(
                b"{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n",
            );
        }
        if let Open::Thinking { signed, .. } = &mut self.open {
            *signed = true;
        }
        self.block_delta(out);
        out.extend_from_slice(b"{\"type\":\"signature_delta\",\"signature\":");
        write_json_string(out, sig);
        out.extend_from_slice(b"}}\n\n");
    }

    /// A `redacted_thinking` block arrives whole: start (with its data) and stop.
    fn redacted(&mut self, data: &str, out: &mut Vec<u8>) {
        self.open_block(Open::None, out);
        out.extend_from_slice(b"{\"type\":\"redacted_thinking\",\"data\":");
        write_json_string(out, data);
        out.extend_from_slice(b"}}\n\n");
        self.stop_block(self.blocks - 1, out);
    }

    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        if text.is_empty() {
            return;
        }
        if self.open != Open::Text {
            self.open_block(Open::Text, out);
            out.extend_from_slice(b"{\"type\":\"text\",\"text\":\"\"}}\n\n");
        }
        self.output_bytes += text.len();
        self.block_delta(out);
        out.extend_from_slice(b"{\"type\":\"text_delta\",\"text\":");
        write_json_string(out, text);
        out.extend_from_slice(b"}}\n\n");
    }

    /// One tool-call fragment. A new OpenAI index (or a new id at the open index) starts a
    /// `tool_use` block. Fragments for a call whose block was already closed (upstreams that
    /// interleave parallel calls) cannot be sent in Anthropic's lifecycle and are dropped.
    fn tool_call(&mut self, call: &InToolCall<'_>, pos: u32, out: &mut Vec<u8>) {
        let k = call.index.unwrap_or(pos);
        let new_id = call.id.as_deref().filter(|id| !id.is_empty());
        let f = call.function.as_ref();
        let continues = match &self.open {
            Open::Tool { call: open, id } => *open == k && new_id.is_none_or(|n| n == id),
            _ => false,
        };
        if !continues {
            if new_id.is_none() && self.calls.contains(&k) {
                tracing::debug!(index = k, "dropping a fragment of a closed tool call");
                return;
            }
            let id = new_id.map_or_else(generated_tool_id, str::to_owned);
            self.open_block(
                Open::Tool {
                    call: k,
                    id: String::new(),
                },
                out,
            );
            out.extend_from_slice(b"{\"type\":\"tool_use\",\"id\":");
            write_json_string(out, &id);
            out.extend_from_slice(b",\"name\":");
            write_json_string(out, f.and_then(|f| f.name.as_deref()).unwrap_or(""));
            out.extend_from_slice(b",\"input\":{}}}\n\n");
            self.open = Open::Tool { call: k, id };
            self.calls.push(k);
        }
        if let Some(args) = f
            .and_then(|f| f.arguments.as_deref())
            .filter(|a| !a.is_empty())
        {
            self.output_bytes += args.len();
            self.block_delta(out);
            out.extend_from_slice(b"{\"type\":\"input_json_delta\",\"partial_json\":");
            write_json_string(out, args);
            out.extend_from_slice(b"}}\n\n");
        }
    }

    /// Closes the open block and writes the head of the next one's `content_block_start`
    /// up to `"content_block":`; the caller writes the block and `}\n\n`.
    fn open_block(&mut self, open: Open, out: &mut Vec<u8>) {
        self.close(out);
        let index = self.blocks;
        self.blocks += 1;
        self.open = open;
        begin(out, "content_block_start");
        out.extend_from_slice(b",\"index\":");
        write_u64(out, index.into());
        out.extend_from_slice(b",\"content_block\":");
    }

    /// The head of a `content_block_delta` for the open block, up to `"delta":`.
    fn block_delta(&self, out: &mut Vec<u8>) {
        begin(out, "content_block_delta");
        out.extend_from_slice(b",\"index\":");
        write_u64(out, self.blocks.saturating_sub(1).into());
        out.extend_from_slice(b",\"delta\":");
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if self.open != Open::None {
            self.open = Open::None;
            self.stop_block(self.blocks - 1, out);
        }
    }

    fn stop_block(&self, index: u32, out: &mut Vec<u8>) {
        begin(out, "content_block_stop");
        out.extend_from_slice(b",\"index\":");
        write_u64(out, index.into());
        end(out);
    }

    /// The stream ended normally: closes the open block, then `message_delta` (stop reason
    /// and usage: the final usage when a chunk carried it, else an output estimate) and
    /// `message_stop`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.start(out);
        self.close(out);
        self.done = true;
        let reason = stop_reason(
            self.finish_reason.as_deref(),
            self.native_finish_reason.as_deref(),
            !self.calls.is_empty(),
            self.refusal,
        );
        begin(out, "message_delta");
        out.extend_from_slice(b",\"delta\":{\"stop_reason\":");
        write_json_string(out, reason);
        out.extend_from_slice(b",\"stop_sequence\":");
        match self.stop_sequence.as_deref() {
            Some(s) if reason == "stop_sequence" => write_json_string(out, s),
            _ => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"},\"usage\":");
        match &self.usage {
            Some(u) => write_usage(out, &OutUsage::from_usage(u)),
            None => {
                out.extend_from_slice(b"{\"output_tokens\":");
                write_u64(out, estimate_tokens(self.output_bytes));
                out.push(b'}');
            }
        }
        end(out);
        begin(out, "message_stop");
        end(out);
    }

    /// The stream failed after it started: an `event: error` frame in Anthropic's shape.
    /// Nothing follows it (no block stop, no `message_stop`).
    pub fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.done = true;
        begin(out, "error");
        out.extend_from_slice(b",\"error\":");
        write_error(out, status, message);
        end(out);
    }

    /// A keep-alive `event: ping` frame.
    pub fn ping(out: &mut Vec<u8>) {
        out.extend_from_slice(b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
    }

    /// The last usage seen in a chunk, if any.
    pub fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }
}

/// `event: <event>\ndata: {"type":"<event>"` — the caller adds members and `end`s it.
fn begin(out: &mut Vec<u8>, event: &str) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\ndata: {\"type\":\"");
    out.extend_from_slice(event.as_bytes());
    out.push(b'"');
}

fn end(out: &mut Vec<u8>) {
    out.extend_from_slice(b"}\n\n");
}

fn write_u64(out: &mut Vec<u8>, n: u64) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{n}");
}

fn write_usage(out: &mut Vec<u8>, u: &OutUsage) {
    // Plain integers: serialising cannot fail.
    let _ = serde_json::to_writer(&mut *out, u);
}

/// `{"type":..,"message":..}`
fn write_error(out: &mut Vec<u8>, status: u16, message: &str) {
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(error_type(status).as_bytes());
    out.extend_from_slice(b"\",\"message\":");
    write_json_string(out, message);
    out.push(b'}');
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
    write_error(&mut out, status, message);
    if let Some(id) = request_id {
        out.extend_from_slice(b",\"request_id\":");
        write_json_string(&mut out, id);
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn obj(v: Value) -> RawObject {
        RawObject::from_serialize(&v).unwrap()
    }

    /// Splits SSE text into (event, data) pairs, checking the framing and that `type`
    /// repeats the event name.
    fn frames(bytes: &[u8]) -> Vec<(String, Value)> {
        let text = std::str::from_utf8(bytes).unwrap();
        assert!(text.is_empty() || text.ends_with("\n\n"), "{text}");
        text.split_terminator("\n\n")
            .map(|frame| {
                let (ev, data) = frame.split_once('\n').unwrap();
                let ev = ev.strip_prefix("event: ").unwrap().to_owned();
                let data: Value =
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(data["type"], ev.as_str());
                (ev, data)
            })
            .collect()
    }

    fn events(f: &[(String, Value)]) -> Vec<&str> {
        f.iter().map(|(e, _)| e.as_str()).collect()
    }

    fn render(chunks: &[Value]) -> Vec<(String, Value)> {
        let mut r = StreamRenderer::new("msg_1", "m", 10);
        let mut out = Vec::new();
        for c in chunks {
            r.chunk(&obj(c.clone()), &mut out);
        }
        r.finish(&mut out);
        frames(&out)
    }

    fn delta(d: Value) -> Value {
        json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"x",
               "choices":[{"index":0,"delta":d,"finish_reason":null}]})
    }

    fn finish_chunk(reason: &str) -> Value {
        json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"x",
               "choices":[{"index":0,"delta":{},"finish_reason":reason}]})
    }

    fn usage_chunk(prompt: u64, completion: u64, cached: u64, written: u64) -> Value {
        json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"x","choices":[],
               "usage":{"prompt_tokens":prompt,"completion_tokens":completion,"total_tokens":prompt+completion,
                        "prompt_tokens_details":{"cached_tokens":cached,"cache_write_tokens":written}}})
    }

    fn tool_frag(index: u32, id: Option<&str>, name: Option<&str>, args: &str) -> Value {
        let mut call = json!({"index": index, "function": {"arguments": args}});
        if let Some(id) = id {
            call["id"] = json!(id);
            call["type"] = json!("function");
        }
        if let Some(n) = name {
            call["function"]["name"] = json!(n);
        }
        delta(json!({"tool_calls": [call]}))
    }

    /// Every start has one stop with its index, indexes count up from 0, deltas land in the
    /// open block, and the stream ends with message_delta, message_stop.
    fn check_lifecycle(f: &[(String, Value)]) {
        assert_eq!(f[0].0, "message_start");
        let mut open: Option<u64> = None;
        let mut next = 0;
        for (ev, d) in f {
            match ev.as_str() {
                "content_block_start" => {
                    assert_eq!(open, None, "blocks interleave");
                    assert_eq!(d["index"], next);
                    open = Some(next);
                    next += 1;
                }
                "content_block_delta" => assert_eq!(Some(d["index"].as_u64().unwrap()), open),
                "content_block_stop" => {
                    assert_eq!(Some(d["index"].as_u64().unwrap()), open);
                    open = None;
                }
                "message_delta" | "message_stop" => assert_eq!(open, None),
                _ => {}
            }
        }
        let n = f.len();
        assert_eq!(f[n - 2].0, "message_delta");
        assert_eq!(f[n - 1].0, "message_stop");
    }

    #[test]
    fn text_stream_round_trips() {
        let f = render(&[
            delta(json!({"role":"assistant","content":""})),
            delta(json!({"content":"Hel"})),
            delta(json!({"content":""})),
            delta(json!({"content":"lo \"you\"\n"})),
            finish_chunk("stop"),
            usage_chunk(12, 3, 0, 0),
        ]);
        assert_eq!(
            events(&f),
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(
            f[0].1,
            json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m",
                "content":[],"stop_reason":null,"stop_sequence":null,
                "usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}})
        );
        assert_eq!(
            f[2].1,
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})
        );
        assert_eq!(
            f[4].1,
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo \"you\"\n"}})
        );
        assert_eq!(f[5].1, json!({"type":"content_block_stop","index":0}));
        assert_eq!(
            f[6].1,
            json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},
                   "usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3}})
        );
        assert_eq!(f[7].1, json!({"type":"message_stop"}));
        check_lifecycle(&f);
    }

    #[test]
    fn start_is_idempotent_and_role_only_chunks_render_nothing() {
        let mut r = StreamRenderer::new("msg_1", "m", 0);
        let mut out = Vec::new();
        r.start(&mut out);
        let len = out.len();
        r.start(&mut out);
        r.chunk(&obj(delta(json!({"role":"assistant"}))), &mut out);
        r.chunk(
            &obj(delta(json!({"role":"assistant","content":""}))),
            &mut out,
        );
        assert_eq!(out.len(), len);
        assert_eq!(events(&frames(&out)), ["message_start", "ping"]);
        // `chunk` starts the stream itself.
        let mut r = StreamRenderer::new("msg_1", "m", 0);
        let mut out = Vec::new();
        r.chunk(&obj(delta(json!({"content":"x"}))), &mut out);
        assert_eq!(
            events(&frames(&out))[..3],
            ["message_start", "ping", "content_block_start"]
        );
    }

    #[test]
    fn reasoning_text_and_two_fragmented_tool_calls() {
        let f = render(&[
            delta(
                json!({"role":"assistant","content":"","reasoning":"Think","reasoning_details":[
                {"type":"reasoning.text","text":"Think","format":"anthropic-claude-v1","index":0}]}),
            ),
            delta(json!({"content":"","reasoning":"ing.","reasoning_details":[
                {"type":"reasoning.text","text":"ing.","format":"anthropic-claude-v1","index":0}]})),
            delta(json!({"content":"","reasoning_details":[
                {"type":"reasoning.text","signature":"SIG","format":"anthropic-claude-v1","index":0}]})),
            delta(json!({"content":"Let me check."})),
            tool_frag(0, Some("call_a"), Some("weather"), ""),
            tool_frag(0, None, None, "{\"loc"),
            tool_frag(0, None, None, "\":\"Oslo\"}"),
            tool_frag(1, Some("call_b"), Some("time"), "{\"tz\":"),
            tool_frag(1, None, None, "\"CET\"}"),
            finish_chunk("tool_calls"),
        ]);
        assert_eq!(
            events(&f),
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        check_lifecycle(&f);
        assert_eq!(
            f[2].1["content_block"],
            json!({"type":"thinking","thinking":"","signature":""})
        );
        assert_eq!(
            f[3].1["delta"],
            json!({"type":"thinking_delta","thinking":"Think"})
        );
        assert_eq!(
            f[4].1["delta"],
            json!({"type":"thinking_delta","thinking":"ing."})
        );
        assert_eq!(
            f[5].1["delta"],
            json!({"type":"signature_delta","signature":"SIG"})
        );
        assert_eq!(f[8].1["delta"]["text"], "Let me check.");
        assert_eq!(
            f[10].1,
            json!({"type":"content_block_start","index":2,"content_block":
                {"type":"tool_use","id":"call_a","name":"weather","input":{}}})
        );
        let args = |from: usize, to: usize| -> String {
            f[from..to]
                .iter()
                .map(|(_, d)| {
                    assert_eq!(d["delta"]["type"], "input_json_delta");
                    d["delta"]["partial_json"].as_str().unwrap().to_owned()
                })
                .collect()
        };
        assert_eq!(args(11, 13), "{\"loc\":\"Oslo\"}");
        assert_eq!(f[14].1["content_block"]["id"], "call_b");
        assert_eq!(f[14].1["index"], 3);
        assert_eq!(args(15, 17), "{\"tz\":\"CET\"}");
        assert_eq!(f[18].1["delta"]["stop_reason"], "tool_use");
        // No usage came: the output figure is an estimate from the generated bytes.
        assert!(f[18].1["usage"]["output_tokens"].as_u64().unwrap() > 0);
        assert!(f[18].1["usage"].get("input_tokens").is_none());
    }

    #[test]
    fn reasoning_content_and_encrypted_details() {
        let f = render(&[
            delta(json!({"reasoning_content":"plain"})),
            delta(
                json!({"reasoning_details":[{"type":"reasoning.encrypted","data":"ENC","index":1}]}),
            ),
            delta(
                json!({"reasoning_details":[{"type":"reasoning.text","text":"again","index":2}]}),
            ),
            delta(json!({"content":"ok"})),
        ]);
        check_lifecycle(&f);
        let starts: Vec<&Value> = f
            .iter()
            .filter(|(e, _)| e == "content_block_start")
            .map(|(_, d)| &d["content_block"])
            .collect();
        assert_eq!(starts[0]["type"], "thinking");
        assert_eq!(*starts[1], json!({"type":"redacted_thinking","data":"ENC"}));
        assert_eq!(starts[2]["type"], "thinking");
        assert_eq!(starts[3]["type"], "text");
        assert_eq!(f[3].1["delta"]["thinking"], "plain");
    }

    #[test]
    fn a_new_detail_index_or_a_signed_block_starts_a_new_thinking_block() {
        let f = render(&[
            delta(json!({"reasoning_details":[{"type":"reasoning.text","text":"a","index":0}]})),
            delta(json!({"reasoning_details":[{"type":"reasoning.text","text":"b","index":1}]})),
            delta(
                json!({"reasoning_details":[{"type":"reasoning.text","signature":"S","index":1}]}),
            ),
            delta(json!({"reasoning":"c"})),
        ]);
        check_lifecycle(&f);
        let starts = f.iter().filter(|(e, _)| e == "content_block_start").count();
        assert_eq!(starts, 3);
    }

    #[test]
    fn usage_after_finish_and_cache_figures() {
        let f = render(&[
            delta(json!({"content":"hi"})),
            finish_chunk("length"),
            usage_chunk(1000, 20, 700, 200),
        ]);
        let md = &f[f.len() - 2].1;
        assert_eq!(
            *md,
            json!({"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},
                   "usage":{"input_tokens":100,"cache_creation_input_tokens":200,"cache_read_input_tokens":700,"output_tokens":20}})
        );
        // Inconsistent figures never go negative.
        let u = OutUsage::from_usage(
            &serde_json::from_value(json!({
            "prompt_tokens":5,"completion_tokens":1,
            "prompt_tokens_details":{"cached_tokens":9,"cache_write_tokens":9}}))
            .unwrap(),
        );
        assert_eq!(u.input_tokens, 0);
        // Anthropic's own names are read when the OpenAI details are missing.
        let u = OutUsage::from_usage(
            &serde_json::from_value(json!({
            "prompt_tokens":50,"completion_tokens":1,
            "cache_read_input_tokens":30,"cache_creation_input_tokens":5}))
            .unwrap(),
        );
        assert_eq!(
            (
                u.input_tokens,
                u.cache_read_input_tokens,
                u.cache_creation_input_tokens
            ),
            (15, 30, 5)
        );
    }

    #[test]
    fn usage_is_remembered() {
        let mut r = StreamRenderer::new("msg_1", "m", 0);
        let mut out = Vec::new();
        assert!(r.usage().is_none());
        r.chunk(&obj(usage_chunk(3, 4, 0, 0)), &mut out);
        assert_eq!(r.usage().unwrap().completion_tokens, 4);
        // A usage-only chunk produces no frame of its own.
        assert_eq!(events(&frames(&out)), ["message_start", "ping"]);
    }

    #[test]
    fn empty_stream_finishes_cleanly() {
        let f = render(&[]);
        assert_eq!(
            events(&f),
            ["message_start", "ping", "message_delta", "message_stop"]
        );
        assert_eq!(f[2].1["delta"]["stop_reason"], "end_turn");
        assert_eq!(f[2].1["usage"], json!({"output_tokens":0}));
    }

    #[test]
    fn tool_without_arguments_and_interleaved_fragments() {
        let f = render(&[
            tool_frag(0, Some("call_a"), Some("now"), ""),
            tool_frag(1, Some("call_b"), Some("f"), "{}"),
            // A late fragment for the closed call 0 is dropped.
            tool_frag(0, None, None, "{\"x\":1}"),
            // A new id at an index already used starts a new block (index-0-only upstreams).
            tool_frag(0, Some("call_c"), Some("g"), "{}"),
            finish_chunk("stop"),
        ]);
        check_lifecycle(&f);
        let starts: Vec<&Value> = f
            .iter()
            .filter(|(e, _)| e == "content_block_start")
            .map(|(_, d)| &d["content_block"]["id"])
            .collect();
        assert_eq!(starts, ["call_a", "call_b", "call_c"]);
        let deltas = f.iter().filter(|(e, _)| e == "content_block_delta").count();
        assert_eq!(deltas, 2);
        // Tool calls with finish `stop` still say tool_use.
        assert_eq!(f[f.len() - 2].1["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn missing_tool_id_is_generated() {
        let f = render(&[tool_frag(0, None, Some("f"), "{}")]);
        let id = f[2].1["content_block"]["id"].as_str().unwrap();
        assert!(id.starts_with("toolu_") && id.len() > 10, "{id}");
    }

    #[test]
    fn native_stop_reasons_and_stop_sequence() {
        let chunk = json!({"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop",
                                       "native_finish_reason":"stop_sequence","stop_sequence":"END"}]});
        let f = render(&[chunk]);
        assert_eq!(
            f[f.len() - 2].1["delta"],
            json!({"stop_reason":"stop_sequence","stop_sequence":"END"})
        );
        let f = render(&[
            delta(json!({"content":"x"})),
            json!({"choices":[{"index":0,"delta":{},
            "finish_reason":"stop","native_finish_reason":"pause_turn"}]}),
        ]);
        assert_eq!(f[f.len() - 2].1["delta"]["stop_reason"], "pause_turn");
    }

    #[test]
    fn stop_reason_table() {
        assert_eq!(stop_reason(Some("stop"), None, false, false), "end_turn");
        assert_eq!(
            stop_reason(Some("length"), None, false, false),
            "max_tokens"
        );
        assert_eq!(
            stop_reason(Some("tool_calls"), None, true, false),
            "tool_use"
        );
        assert_eq!(
            stop_reason(Some("tool_calls"), None, false, false),
            "end_turn"
        );
        assert_eq!(
            stop_reason(Some("content_filter"), None, false, false),
            "refusal"
        );
        assert_eq!(stop_reason(Some("error"), None, false, false), "end_turn");
        assert_eq!(stop_reason(None, None, false, false), "end_turn");
        assert_eq!(stop_reason(Some("stop"), None, true, false), "tool_use");
        assert_eq!(stop_reason(Some("stop"), None, false, true), "refusal");
        assert_eq!(
            stop_reason(Some("stop"), Some("refusal"), false, false),
            "refusal"
        );
        assert_eq!(
            stop_reason(
                Some("length"),
                Some("model_context_window_exceeded"),
                false,
                false
            ),
            "model_context_window_exceeded"
        );
        // A native tool_use without tool calls (the JSON-object tool) is not claimed.
        assert_eq!(
            stop_reason(Some("stop"), Some("tool_use"), false, false),
            "end_turn"
        );
        // Native reasons from other providers are not Anthropic's.
        assert_eq!(
            stop_reason(Some("length"), Some("MAX_TOKENS"), false, false),
            "max_tokens"
        );
    }

    #[test]
    fn error_frame_shape_and_nothing_after_it() {
        let mut r = StreamRenderer::new("msg_1", "m", 0);
        let mut out = Vec::new();
        r.chunk(&obj(delta(json!({"content":"partial"}))), &mut out);
        r.error(529, "Overloaded", &mut out);
        r.chunk(&obj(delta(json!({"content":"more"}))), &mut out);
        r.finish(&mut out);
        let f = frames(&out);
        let (ev, data) = f.last().unwrap();
        assert_eq!(ev, "error");
        assert_eq!(
            *data,
            json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})
        );
        assert!(!events(&f).contains(&"message_stop"));
        assert_eq!(events(&f).iter().filter(|e| **e == "error").count(), 1);
    }

    #[test]
    fn ping_frame() {
        let mut out = Vec::new();
        StreamRenderer::ping(&mut out);
        assert_eq!(out, b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
    }

    #[test]
    fn error_types() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (402, "billing_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (408, "timeout_error"),
            (409, "invalid_request_error"),
            (413, "request_too_large"),
            (422, "invalid_request_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "overloaded_error"),
            (504, "timeout_error"),
            (529, "overloaded_error"),
            (200, "api_error"),
        ] {
            assert_eq!(error_type(status), kind, "{status}");
        }
    }

    #[test]
    fn error_bodies() {
        let v: Value =
            serde_json::from_slice(&error_body(429, "slow \"down\"", Some("req_1"))).unwrap();
        assert_eq!(
            v,
            json!({"type":"error","error":{"type":"rate_limit_error","message":"slow \"down\""},"request_id":"req_1"})
        );
        let v: Value = serde_json::from_slice(&error_body(404, "no", None)).unwrap();
        assert_eq!(
            v,
            json!({"type":"error","error":{"type":"not_found_error","message":"no"}})
        );
    }

    fn completion(message: Value, finish: &str, usage: Option<Value>) -> RawObject {
        let mut v = json!({"id":"gen-1","object":"chat.completion","created":1,"model":"x",
            "choices":[{"index":0,"message":message,"logprobs":null,"finish_reason":finish}]});
        if let Some(u) = usage {
            v["usage"] = u;
        }
        obj(v)
    }

    fn message_json(c: &RawObject) -> Value {
        serde_json::from_slice(&message(c, "msg_9", "pub/model").unwrap()).unwrap()
    }

    #[test]
    fn message_text() {
        let c = completion(
            json!({"role":"assistant","content":"Olá!","refusal":null}),
            "stop",
            Some(json!({"prompt_tokens":16,"completion_tokens":34,"total_tokens":50})),
        );
        assert_eq!(
            message_json(&c),
            json!({"id":"msg_9","type":"message","role":"assistant","model":"pub/model",
                "content":[{"type":"text","text":"Olá!"}],"stop_reason":"end_turn","stop_sequence":null,
                "usage":{"input_tokens":16,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":34}})
        );
    }

    #[test]
    fn message_tool_calls() {
        let c = completion(
            json!({"role":"assistant","content":"Checking.","tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"location\":\"Florence,Italy\"}"}},
                {"id":"call_2","type":"function","function":{"name":"now","arguments":""}},
                {"id":"call_3","type":"function","function":{"name":"bad","arguments":"{not json"}},
                {"id":"call_4","type":"function","function":{"name":"arr","arguments":"[1]"}}]}),
            "tool_calls",
            None,
        );
        let v = message_json(&c);
        assert_eq!(v["stop_reason"], "tool_use");
        assert_eq!(
            v["content"],
            json!([
                {"type":"text","text":"Checking."},
                {"type":"tool_use","id":"call_1","name":"weather","input":{"location":"Florence,Italy"}},
                {"type":"tool_use","id":"call_2","name":"now","input":{}},
                {"type":"tool_use","id":"call_3","name":"bad","input":{}},
                {"type":"tool_use","id":"call_4","name":"arr","input":{}}
            ])
        );
        // No usage: zero input, estimated output.
        assert_eq!(v["usage"]["input_tokens"], 0);
        assert!(v["usage"]["output_tokens"].as_u64().unwrap() > 0);
    }

    #[test]
    fn message_reasoning_with_signature() {
        let c = completion(
            json!({"role":"assistant","content":"Answer.","reasoning":"Hmm.",
                "reasoning_details":[
                    {"type":"reasoning.text","text":"Hmm.","signature":"SIG","format":"anthropic-claude-v1","index":0},
                    {"type":"reasoning.encrypted","data":"ENC","format":"anthropic-claude-v1","index":1}]}),
            "stop",
            Some(json!({"prompt_tokens":100,"completion_tokens":9,
                        "prompt_tokens_details":{"cached_tokens":60,"cache_write_tokens":30}})),
        );
        let v = message_json(&c);
        assert_eq!(
            v["content"],
            json!([
                {"type":"thinking","thinking":"Hmm.","signature":"SIG"},
                {"type":"redacted_thinking","data":"ENC"},
                {"type":"text","text":"Answer."}
            ])
        );
        assert_eq!(
            v["usage"],
            json!({"input_tokens":10,"cache_creation_input_tokens":30,"cache_read_input_tokens":60,"output_tokens":9})
        );
        // Plain reasoning (no details) gets an empty signature.
        let c = completion(
            json!({"role":"assistant","content":"A","reasoning_content":"think"}),
            "stop",
            None,
        );
        assert_eq!(
            message_json(&c)["content"][0],
            json!({"type":"thinking","thinking":"think","signature":""})
        );
    }

    #[test]
    fn message_length_stop_and_parts_content() {
        let c = completion(
            json!({"role":"assistant","content":[{"type":"text","text":"cut "},{"type":"text","text":"off"}]}),
            "length",
            None,
        );
        let v = message_json(&c);
        assert_eq!(v["stop_reason"], "max_tokens");
        assert_eq!(v["content"], json!([{"type":"text","text":"cut off"}]));
    }

    #[test]
    fn message_refusal_and_empty_content() {
        let c = completion(
            json!({"role":"assistant","content":null,"refusal":"I can't help with that."}),
            "stop",
            None,
        );
        let v = message_json(&c);
        assert_eq!(v["stop_reason"], "refusal");
        assert_eq!(v["content"][0]["text"], "I can't help with that.");
        let c = completion(json!({"role":"assistant","content":null}), "stop", None);
        assert_eq!(message_json(&c)["content"], json!([]));
    }

    #[test]
    fn message_rejects_malformed_input() {
        let e = message(&obj(json!({"id":"x"})), "m", "m").unwrap_err();
        assert!(matches!(e, RenderError::Missing("choices")));
        let e = message(&obj(json!({"choices":[]})), "m", "m").unwrap_err();
        assert!(matches!(e, RenderError::Missing("choices")));
        let e = message(&obj(json!({"choices":[{"index":0}]})), "m", "m").unwrap_err();
        assert!(matches!(e, RenderError::Missing("message")));
        let e = message(&obj(json!({"choices":"no"})), "m", "m").unwrap_err();
        assert!(matches!(
            e,
            RenderError::Malformed {
                field: "choices",
                ..
            }
        ));
    }

    #[test]
    fn message_from_typed_output() {
        use crate::types::openai::{
            ChoiceOut, CompletionOut, FinishReason, FunctionCall, MessageOut, ToolCall,
        };
        let c = CompletionOut {
            id: "x".into(),
            object: "chat.completion",
            created: 1,
            model: "x".into(),
            choices: vec![ChoiceOut {
                index: 0,
                message: MessageOut {
                    role: "assistant",
                    content: None,
                    refusal: None,
                    reasoning: None,
                    reasoning_details: None,
                    tool_calls: Some(vec![ToolCall {
                        id: "toolu_1".into(),
                        kind: "function".into(),
                        function: FunctionCall {
                            name: "f".into(),
                            arguments: "{\"a\": [1, 2]}".into(),
                        },
                    }]),
                },
                logprobs: None,
                finish_reason: Some(FinishReason::ToolCalls),
                native_finish_reason: Some("tool_use".into()),
            }],
            usage: Some(Usage::with_cache(5, 1, 2, 3)),
        };
        let v = message_json(&RawObject::from_serialize(&c).unwrap());
        assert_eq!(v["content"][0]["input"], json!({"a":[1,2]}));
        assert_eq!(v["stop_reason"], "tool_use");
        assert_eq!(
            v["usage"],
            json!({"input_tokens":5,"cache_creation_input_tokens":2,"cache_read_input_tokens":1,"output_tokens":3})
        );
    }

    #[test]
    fn malformed_chunks_are_skipped() {
        let f = render(&[
            json!({"choices":"nope"}),
            json!({"choices":[{"index":0,"delta":{"content":5}}]}),
            json!({"usage":"bad"}),
            delta(json!({"content":"ok"})),
        ]);
        check_lifecycle(&f);
        assert_eq!(f[3].1["delta"]["text"], "ok");
    }

    /// Property (proptest is not a dependency; a seeded generator instead): any sequence of
    /// well-formed chunks yields a well-formed block lifecycle ending in message_stop.
    #[test]
    fn random_chunk_sequences_keep_the_lifecycle() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..500 {
            let len = next(12);
            let mut chunks = Vec::new();
            let mut tool = 0u32;
            for _ in 0..len {
                chunks.push(match next(9) {
                    0 => {
                        let text = ["", "a", "b c"][next(3) as usize];
                        delta(json!({ "content": text }))
                    }
                    1 => delta(json!({"reasoning": "r"})),
                    2 => delta(json!({"reasoning_details":[{"type":"reasoning.text","text":"t","index":next(2)}]})),
                    3 => delta(json!({"reasoning_details":[{"type":"reasoning.text","signature":"s","index":next(2)}]})),
                    4 => delta(json!({"reasoning_details":[{"type":"reasoning.encrypted","data":"e"}]})),
                    5 => {
                        tool += 1;
                        tool_frag(tool, Some(&format!("call_{tool}")), Some("f"), "")
                    }
                    6 => tool_frag(tool, None, None, "{\"a\""),
                    7 => usage_chunk(next(100), next(100), 0, 0),
                    _ => finish_chunk(["stop", "length", "tool_calls"][next(3) as usize]),
                });
            }
            let f = render(&chunks);
            check_lifecycle(&f);
            assert_eq!(
                f.iter().filter(|(e, _)| e == "content_block_start").count(),
                f.iter().filter(|(e, _)| e == "content_block_stop").count()
            );
        }
    }
}
