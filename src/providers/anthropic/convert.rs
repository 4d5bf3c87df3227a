//! Pure translation: the client's `ChatParams` → a Messages API body, and a Messages API
//! response → an OpenAI `chat.completion`. No IO; every rule is unit-tested below and in
//! `tests/fixtures/anthropic/`.

use std::borrow::Cow;

use serde_json::{json, Value};

use super::capabilities::{self, Extras};
use super::wire::{
    Block, MessageResponse, MessagesRequest, Metadata, OutputConfig, OutputFormat, RespBlock, Role,
    Source, SystemBlock, Thinking, ToolDef, ToolResultContent, WireMessage, WireToolChoice,
    WireUsage,
};
use crate::types::openai::{
    ChatParams, ChoiceOut, CompletionOut, Content, FinishReason, FunctionCall, ImageSource,
    Message, MessageOut, Part, ResponseFormat, Stop, ToolCall, ToolChoice,
};
use crate::types::usage::CompletionTokensDetails;
use crate::types::{InvalidRequest, Usage};

/// The output cap sent when neither the client nor the provider declaration gives one.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;
/// The tool that carries `response_format: json_object` answers (see `json_object_tool`).
pub const JSON_TOOL: &str = "json_response";
/// `reasoning_details[].format` for Anthropic thinking, as OpenRouter names it.
pub const REASONING_FORMAT: &str = "anthropic-claude-v1";
/// The user turn put before a conversation that starts with the assistant: Anthropic (and
/// Bedrock's Converse) want the first turn to be the user's.
pub(crate) const PLACEHOLDER_USER_TURN: &str = ".";

/// Per-request settings that do not come from the client.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub model: &'a str,
    pub stream: bool,
    pub default_max_tokens: u64,
}

/// How the response must be read back, given how the request was translated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseMode {
    /// `json_object` went out as the forced `JSON_TOOL`: its input is the answer's content.
    pub json_tool: bool,
    /// Thinking is left out of the response (`reasoning.exclude`).
    pub exclude_reasoning: bool,
}

#[derive(Debug)]
pub struct Translated<'a> {
    pub body: MessagesRequest<'a>,
    pub mode: ResponseMode,
}

fn unsupported(param: &'static str, message: impl Into<String>) -> InvalidRequest {
    InvalidRequest::new(message, Some(param), "unsupported_parameter")
}

/// Translates a request. Errors are parameters Anthropic cannot honour (`Unsupported`).
pub fn request<'a>(
    p: &'a ChatParams,
    extras: &'a Extras,
    opts: Options<'a>,
) -> Result<Translated<'a>, InvalidRequest> {
    capabilities::refuse_params(p)?;
    let budget = capabilities::thinking_budget(p, extras)?;
    let thinking = budget.is_some();
    let (system, messages) = conversation(&p.messages)?;

    let mut tools = tools(p)?;
    let mut tool_choice = tool_choice(p, !tools.is_empty(), thinking)?;
    let mut json_tool = false;
    let mut output_config = None;
    match &p.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            let schema = json_schema.schema.as_ref().ok_or_else(|| {
                unsupported(
                    "response_format",
                    "Anthropic structured output needs `response_format.json_schema.schema`",
                )
            })?;
            output_config = Some(OutputConfig {
                format: OutputFormat::JsonSchema { schema },
            });
        }
        Some(ResponseFormat::JsonObject) => {
            tool_choice = json_object_tool(&mut tools, tool_choice, thinking)?;
            json_tool = true;
        }
    }

    let base = p.max_output_tokens().unwrap_or(opts.default_max_tokens);
    // Thinking counts toward max_tokens and the budget must stay below it: when the cap
    // leaves no room, the cap is kept for the answer and the budget added on top.
    let max_tokens = match budget {
        Some(b) if base <= b => base + b,
        _ => base,
    };
    let (sampling, _) = capabilities::sampling(p, thinking);
    let stop_sequences = match &p.stop {
        None => None,
        Some(Stop::One(s)) => Some(vec![s.as_str()]),
        Some(Stop::Many(v)) if v.is_empty() => None,
        Some(Stop::Many(v)) => Some(v.iter().map(String::as_str).collect()),
    };
    let user_id = extras
        .safety_identifier
        .as_deref()
        .or(p.user.as_deref())
        .filter(|u| !u.is_empty());

    Ok(Translated {
        body: MessagesRequest {
            model: opts.model,
            max_tokens,
            system,
            messages,
            stop_sequences,
            temperature: sampling.temperature,
            top_p: sampling.top_p,
            top_k: sampling.top_k,
            tools,
            tool_choice,
            metadata: user_id.map(|user_id| Metadata { user_id }),
            thinking: budget.map(|budget_tokens| Thinking::Enabled { budget_tokens }),
            output_config,
            stream: opts.stream,
        },
        mode: ResponseMode {
            json_tool,
            exclude_reasoning: capabilities::exclude_reasoning(p, extras),
        },
    })
}

/// System/developer messages (anywhere) → `system` blocks, in order; the rest → alternating
/// user/assistant turns, consecutive same-role messages merged (so tool results for one
/// assistant turn share one user turn).
fn conversation(
    messages: &[Message],
) -> Result<(Vec<SystemBlock<'_>>, Vec<WireMessage<'_>>), InvalidRequest> {
    let mut system = Vec::new();
    let mut turns: Vec<WireMessage<'_>> = Vec::new();
    let last_assistant = messages
        .iter()
        .rposition(|m| !matches!(m, Message::System { .. } | Message::Developer { .. }))
        .filter(|&i| matches!(messages[i], Message::Assistant { .. }));
    for (i, m) in messages.iter().enumerate() {
        let (role, blocks) = match m {
            Message::System { content } | Message::Developer { content } => {
                let text = system_text(content)?;
                if !text.is_empty() {
                    system.push(SystemBlock::text(text));
                }
                continue;
            }
            Message::User { content } => {
                let mut blocks = user_blocks(content)?;
                // Anthropic rejects blank text blocks; OpenAI accepts blank messages.
                blocks.retain(|b| !is_blank_text(b));
                (Role::User, blocks)
            }
            Message::Tool {
                content,
                tool_call_id,
            } => {
                let content = match content {
                    Content::Text(s) => ToolResultContent::Text(s),
                    Content::Parts(parts) => ToolResultContent::Blocks(part_blocks(parts)?),
                };
                (
                    Role::User,
                    vec![Block::ToolResult {
                        tool_use_id: tool_call_id,
                        content,
                    }],
                )
            }
            Message::Assistant { .. } => (
                Role::Assistant,
                assistant_blocks(m, Some(i) == last_assistant)?,
            ),
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => turns.push(WireMessage {
                role,
                content: blocks,
            }),
        }
    }
    if turns.first().is_none_or(|t| t.role != Role::User) {
        turns.insert(
            0,
            WireMessage {
                role: Role::User,
                content: vec![Block::Text {
                    text: Cow::Borrowed(PLACEHOLDER_USER_TURN),
                }],
            },
        );
    }
    Ok((system, turns))
}

fn is_blank_text(b: &Block<'_>) -> bool {
    matches!(b, Block::Text { text } if text.trim().is_empty())
}

fn system_text(content: &Content) -> Result<Cow<'_, str>, InvalidRequest> {
    match content {
        Content::Text(s) => Ok(Cow::Borrowed(s)),
        Content::Parts(parts) => {
            if parts.iter().any(|p| !matches!(p, Part::Text { .. })) {
                return Err(unsupported(
                    "messages",
                    "Anthropic system prompts hold text only",
                ));
            }
            Ok(Cow::Owned(content.text()))
        }
    }
}

fn user_blocks(content: &Content) -> Result<Vec<Block<'_>>, InvalidRequest> {
    match content {
        Content::Text(s) => Ok(vec![Block::Text {
            text: Cow::Borrowed(s),
        }]),
        Content::Parts(parts) => part_blocks(parts),
    }
}

fn part_blocks(parts: &[Part]) -> Result<Vec<Block<'_>>, InvalidRequest> {
    parts.iter().map(part_block).collect()
}

fn part_block(part: &Part) -> Result<Block<'_>, InvalidRequest> {
    Ok(match part {
        Part::Text { text } => Block::Text {
            text: Cow::Borrowed(text),
        },
        Part::Refusal { refusal } => Block::Text {
            text: Cow::Borrowed(refusal),
        },
        Part::ImageUrl { image_url } => Block::Image {
            source: match image_url.source()? {
                ImageSource::Base64 { media_type, data } => Source::Base64 { media_type, data },
                ImageSource::Url(url) => Source::Url { url },
            },
        },
        Part::InputAudio { .. } => {
            return Err(unsupported(
                "messages",
                "Anthropic does not accept audio input",
            ))
        }
        Part::File { file } => {
            let data_url = file.file_data.as_deref().ok_or_else(|| {
                unsupported(
                    "messages",
                    "uploaded file ids cannot be sent to Anthropic; inline the file as file_data",
                )
            })?;
            match data_url.strip_prefix("data:application/pdf;base64,") {
                Some(data) => Block::Document {
                    source: Source::Base64 {
                        media_type: "application/pdf",
                        data,
                    },
                    title: file.filename.as_deref(),
                },
                None => {
                    return Err(unsupported(
                        "messages",
                        "Anthropic accepts files as base64 PDF data URLs only",
                    ))
                }
            }
        }
    })
}

/// An assistant turn: echoed thinking first (Anthropic requires it there), then text, then
/// tool calls. The last turn of a conversation is a prefill Anthropic continues, and it
/// rejects one ending in whitespace.
fn assistant_blocks(m: &Message, is_last: bool) -> Result<Vec<Block<'_>>, InvalidRequest> {
    let Message::Assistant {
        content,
        tool_calls,
        refusal,
        reasoning,
        reasoning_details,
    } = m
    else {
        return Ok(Vec::new());
    };
    let mut blocks = echoed_thinking(reasoning_details.as_deref(), reasoning.as_deref());
    match content {
        Some(Content::Text(s)) => blocks.push(Block::Text {
            text: Cow::Borrowed(s),
        }),
        Some(Content::Parts(parts)) => blocks.extend(part_blocks(parts)?),
        None => {
            if let Some(r) = refusal {
                blocks.push(Block::Text {
                    text: Cow::Borrowed(r),
                });
            }
        }
    }
    // Anthropic rejects empty text blocks; OpenAI clients send `content: ""` with tool calls.
    blocks.retain(|b| !is_blank_text(b));
    if is_last && tool_calls.as_ref().is_none_or(|c| c.is_empty()) {
        if let Some(Block::Text { text }) = blocks.last_mut() {
            if text.ends_with(char::is_whitespace) {
                *text = Cow::Owned(text.trim_end().to_owned());
            }
        }
    }
    for call in tool_calls.iter().flatten() {
        blocks.push(Block::ToolUse {
            id: &call.id,
            name: &call.function.name,
            input: tool_input(call)?,
        });
    }
    Ok(blocks)
}

/// OpenAI `arguments` are JSON text; Anthropic (and Bedrock) want the object.
pub(crate) fn tool_input(call: &ToolCall) -> Result<Value, InvalidRequest> {
    if call.kind != "function" {
        return Err(unsupported(
            "messages",
            format!(
                "tool call `{}` has type `{}`; only function calls translate",
                call.id, call.kind
            ),
        ));
    }
    let args = call.function.arguments.trim();
    if args.is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(args) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(unsupported(
            "messages",
            format!(
                "the arguments of tool call `{}` are not a JSON object; the upstream needs one",
                call.id
            ),
        )),
    }
}

/// Claude thinking a client echoes back, in the order it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EchoedThinking<'a> {
    Text {
        text: Cow<'a, str>,
        signature: &'a str,
    },
    /// Redacted thinking: opaque data.
    Redacted { data: &'a str },
}

/// Thinking blocks from `reasoning_details` a client echoes back.
fn echoed_thinking<'a>(details: Option<&'a [Value]>, reasoning: Option<&'a str>) -> Vec<Block<'a>> {
    echoed_reasoning(details, reasoning)
        .into_iter()
        .map(|t| match t {
            EchoedThinking::Text { text, signature } => Block::Thinking {
                thinking: text,
                signature: Cow::Borrowed(signature),
            },
            EchoedThinking::Redacted { data } => Block::RedactedThinking {
                data: Cow::Borrowed(data),
            },
        })
        .collect()
}

/// Claude thinking from `reasoning_details` in OpenRouter's shape: `reasoning.text` items
/// (merged per `index`, since clients may send the stream's fragments as they came) and
/// `reasoning.encrypted` (redacted thinking). Items from other providers' formats and
/// unsigned text are skipped: Claude only accepts its own signed blocks (on Anthropic's API
/// and Bedrock alike; signatures are valid on both).
pub(crate) fn echoed_reasoning<'a>(
    details: Option<&'a [Value]>,
    reasoning: Option<&'a str>,
) -> Vec<EchoedThinking<'a>> {
    struct Group<'a> {
        index: Option<u64>,
        text: Cow<'a, str>,
        signature: Option<&'a str>,
    }
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut blocks = Vec::new();
    for d in details.unwrap_or_default() {
        let format = d.get("format").and_then(Value::as_str);
        if format.is_some_and(|f| f != REASONING_FORMAT) {
            continue;
        }
        let index = d.get("index").and_then(Value::as_u64);
        match d.get("type").and_then(Value::as_str) {
            Some("reasoning.text") => {
                let text = d.get("text").and_then(Value::as_str).unwrap_or("");
                let signature = d.get("signature").and_then(Value::as_str);
                match groups.last_mut() {
                    Some(g) if index.is_some() && g.index == index => {
                        g.text.to_mut().push_str(text);
                        g.signature = signature.or(g.signature);
                    }
                    _ => groups.push(Group {
                        index,
                        text: Cow::Borrowed(text),
                        signature,
                    }),
                }
            }
            Some("reasoning.encrypted") => {
                if let Some(data) = d.get("data").and_then(Value::as_str) {
                    blocks.push((index, EchoedThinking::Redacted { data }));
                }
            }
            _ => {}
        }
    }
    let single = groups.len() == 1;
    for g in groups {
        let Some(signature) = g.signature else {
            continue;
        };
        // A client that kept only the signature detail still has the text in `reasoning`.
        let text = match (g.text.is_empty(), reasoning) {
            (true, Some(r)) if single => Cow::Borrowed(r),
            _ => g.text,
        };
        blocks.push((g.index, EchoedThinking::Text { text, signature }));
    }
    blocks.sort_by_key(|(i, _)| i.unwrap_or(u64::MAX));
    blocks.into_iter().map(|(_, b)| b).collect()
}

fn tools(p: &ChatParams) -> Result<Vec<ToolDef<'_>>, InvalidRequest> {
    let Some(tools) = &p.tools else {
        return Ok(Vec::new());
    };
    tools
        .iter()
        .map(|t| {
            if t.kind != "function" {
                return Err(unsupported(
                    "tools",
                    format!("tools of type `{}` do not translate to Anthropic", t.kind),
                ));
            }
            let f = &t.function;
            Ok(ToolDef {
                name: &f.name,
                description: f.description.as_deref(),
                input_schema: match &f.parameters {
                    Some(schema) => Cow::Borrowed(schema),
                    None => Cow::Owned(json!({"type": "object", "properties": {}})),
                },
                strict: (f.strict == Some(true)).then_some(true),
            })
        })
        .collect()
}

fn tool_choice<'a>(
    p: &'a ChatParams,
    has_tools: bool,
    thinking: bool,
) -> Result<Option<WireToolChoice<'a>>, InvalidRequest> {
    if !has_tools {
        return Ok(None);
    }
    let disable_parallel_tool_use = (p.parallel_tool_calls == Some(false)).then_some(true);
    let choice = match &p.tool_choice {
        None => disable_parallel_tool_use.map(|_| WireToolChoice::Auto {
            disable_parallel_tool_use,
        }),
        Some(ToolChoice::Mode(m)) => match m.as_str() {
            "auto" => Some(WireToolChoice::Auto {
                disable_parallel_tool_use,
            }),
            "required" => Some(WireToolChoice::Any {
                disable_parallel_tool_use,
            }),
            "none" => Some(WireToolChoice::None),
            other => {
                return Err(InvalidRequest::new(
                    format!("Unknown tool_choice `{other}` (expected none, auto or required)"),
                    Some("tool_choice"),
                    "invalid_value",
                ))
            }
        },
        Some(ToolChoice::Named(n)) => Some(WireToolChoice::Tool {
            name: &n.function.name,
            disable_parallel_tool_use,
        }),
    };
    if thinking
        && matches!(
            choice,
            Some(WireToolChoice::Any { .. } | WireToolChoice::Tool { .. })
        )
    {
        return Err(unsupported(
            "tool_choice",
            "Anthropic cannot force a tool call while extended thinking is on",
        ));
    }
    Ok(choice)
}

/// `json_object` has no switch on Anthropic, and a prompt alone guarantees nothing, so the
/// answer is requested as the input of a forced tool whose schema is any object; the
/// response translation turns that input back into `content`. With client tools the model
/// must call one of them or the JSON tool (`any`); a named client tool stays forced.
/// Forcing a tool is impossible with thinking on, so that combination is refused.
fn json_object_tool<'a>(
    tools: &mut Vec<ToolDef<'a>>,
    choice: Option<WireToolChoice<'a>>,
    thinking: bool,
) -> Result<Option<WireToolChoice<'a>>, InvalidRequest> {
    if thinking {
        return Err(unsupported(
            "response_format",
            "json_object is sent to Anthropic as a forced tool, which extended thinking does not allow; use json_schema",
        ));
    }
    if tools.iter().any(|t| t.name == JSON_TOOL) {
        return Err(unsupported(
            "response_format",
            format!(
                "json_object uses a tool named `{JSON_TOOL}`, which the request already defines"
            ),
        ));
    }
    let client_tools = !tools.is_empty();
    tools.push(ToolDef {
        name: JSON_TOOL,
        description: Some(
            "Give your whole answer as a JSON object: the input of this tool is the response.",
        ),
        input_schema: Cow::Owned(json!({"type": "object"})),
        strict: None,
    });
    Ok(Some(match choice {
        Some(named @ WireToolChoice::Tool { .. }) => named,
        Some(
            WireToolChoice::Auto {
                disable_parallel_tool_use,
            }
            | WireToolChoice::Any {
                disable_parallel_tool_use,
            },
        ) if client_tools => WireToolChoice::Any {
            disable_parallel_tool_use,
        },
        None if client_tools => WireToolChoice::Any {
            disable_parallel_tool_use: None,
        },
        _ => WireToolChoice::Tool {
            name: JSON_TOOL,
            disable_parallel_tool_use: Some(true),
        },
    }))
}

/// Anthropic stop reason → OpenAI finish reason (`tool_use` is `stop` when the only tool
/// called was the JSON tool).
pub fn finish_reason(stop_reason: Option<&str>, client_tool_calls: bool) -> FinishReason {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") if client_tool_calls => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        // end_turn, stop_sequence, pause_turn, and anything newer.
        _ => FinishReason::Stop,
    }
}

/// Anthropic usage → OpenAI usage (8.3): the prompt side includes cache reads and writes,
/// each counted once.
pub fn usage(u: &WireUsage) -> Usage {
    let base = Usage::with_cache(
        u.input_tokens.unwrap_or(0),
        u.cache_read_input_tokens.unwrap_or(0),
        u.cache_creation_input_tokens.unwrap_or(0),
        u.output_tokens.unwrap_or(0),
    );
    Usage {
        completion_tokens_details: u
            .output_tokens_details
            .as_ref()
            .and_then(|d| d.thinking_tokens)
            .map(|t| CompletionTokensDetails {
                reasoning_tokens: Some(t),
            }),
        // Anthropic's own names, kept beside OpenAI's for clients that read them.
        cache_creation_input_tokens: u.cache_creation_input_tokens,
        cache_read_input_tokens: u.cache_read_input_tokens,
        ..base
    }
}

/// A tool-call id for a block that came without one.
pub fn generated_call_id() -> String {
    format!(
        "call_{:016x}{:08x}",
        rand::random::<u64>(),
        rand::random::<u32>()
    )
}

pub fn reasoning_text_detail(index: u32, text: Option<&str>, signature: Option<&str>) -> Value {
    let mut d = json!({"type": "reasoning.text", "format": REASONING_FORMAT, "index": index});
    if let Some(t) = text {
        d["text"] = json!(t);
    }
    if let Some(s) = signature {
        d["signature"] = json!(s);
    }
    d
}

pub fn reasoning_encrypted_detail(index: u32, data: &str) -> Value {
    json!({"type": "reasoning.encrypted", "data": data, "format": REASONING_FORMAT, "index": index})
}

/// A whole response → one OpenAI choice.
pub fn response(r: MessageResponse, mode: ResponseMode, created: i64) -> CompletionOut {
    let mut content: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut details = Vec::new();
    let mut calls = Vec::new();
    for block in r.content {
        match block {
            RespBlock::Text { text } => content.get_or_insert_with(String::new).push_str(&text),
            RespBlock::ToolUse { name, input, .. } if mode.json_tool && name == JSON_TOOL => {
                content
                    .get_or_insert_with(String::new)
                    .push_str(&compact(&input));
            }
            RespBlock::ToolUse { id, name, input } => calls.push(ToolCall {
                id: id.unwrap_or_else(generated_call_id),
                kind: "function".into(),
                function: FunctionCall {
                    name,
                    arguments: compact(&input),
                },
            }),
            _ if mode.exclude_reasoning => {}
            RespBlock::Thinking {
                thinking,
                signature,
            } => {
                details.push(reasoning_text_detail(
                    details.len() as u32,
                    Some(&thinking),
                    signature.as_deref(),
                ));
                reasoning
                    .get_or_insert_with(String::new)
                    .push_str(&thinking);
            }
            RespBlock::RedactedThinking { data } => {
                details.push(reasoning_encrypted_detail(details.len() as u32, &data));
            }
            RespBlock::Other => {}
        }
    }
    let finish = finish_reason(r.stop_reason.as_deref(), !calls.is_empty());
    CompletionOut {
        id: r.id,
        object: "chat.completion",
        created,
        model: r.model,
        choices: vec![ChoiceOut {
            index: 0,
            message: MessageOut {
                role: "assistant",
                content,
                refusal: None,
                reasoning,
                reasoning_details: (!details.is_empty()).then_some(details),
                tool_calls: (!calls.is_empty()).then_some(calls),
            },
            logprobs: None,
            finish_reason: Some(finish),
            native_finish_reason: r.stop_reason,
        }],
        usage: Some(usage(&r.usage)),
    }
}

/// Compact JSON text of a tool input (`{}` for a missing one).
pub fn compact(input: &Value) -> String {
    match input {
        Value::Null => "{}".into(),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests;
