//! Pure translation: the client's `ChatParams` → a Converse body, and a Converse response → an
//! OpenAI `chat.completion`. No IO: images behind http(s) URLs are fetched beforehand (the
//! Gemini adapter's `fetch`) and handed in as `Fetched`. Claude-specific rules (thinking
//! budgets, echoed thinking, sampling limits, the JSON tool) are the Anthropic adapter's.

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use super::capabilities::{self, is_claude};
use super::wire::{
    Block, BytesSource, ConverseRequest, ConverseResponse, Document, Image, InferenceConfig,
    InputSchema, Reasoning, RespBlock, Role, SystemBlock, Tool, ToolConfig, ToolResult,
    ToolResultBlock, ToolSpec, ToolUse, WireMessage, WireToolChoice, WireUsage,
};
use crate::providers::anthropic::capabilities::Extras;
use crate::providers::anthropic::convert::{
    compact, echoed_reasoning, generated_call_id, reasoning_encrypted_detail,
    reasoning_text_detail, tool_input, EchoedThinking, DEFAULT_MAX_TOKENS, JSON_TOOL,
    PLACEHOLDER_USER_TURN,
};
use crate::providers::gemini::fetch::Fetched;
use crate::types::openai::{
    ChatParams, ChoiceOut, CompletionOut, Content, FinishReason, FunctionCall, ImageSource,
    Message, MessageOut, Part, ResponseFormat, Stop, ToolCall, ToolChoice,
};
use crate::types::{InvalidRequest, Usage};

pub use crate::providers::anthropic::convert::ResponseMode;

/// Per-request settings that do not come from the client.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// The model id or inference profile (decides what Claude-only fields are sent).
    pub model: &'a str,
    /// The provider's `default_max_tokens`.
    pub default_max_tokens: Option<u64>,
}

#[derive(Debug)]
pub struct Translated<'a> {
    pub body: ConverseRequest<'a>,
    pub mode: ResponseMode,
}

fn unsupported(param: &'static str, message: impl Into<String>) -> InvalidRequest {
    InvalidRequest::new(message, Some(param), "unsupported_parameter")
}

/// Translates a request. Errors are parameters Bedrock cannot honour (`Unsupported`).
pub fn request<'a>(
    p: &'a ChatParams,
    extras: &Extras,
    fetched: &'a Fetched,
    opts: Options<'_>,
) -> Result<Translated<'a>, InvalidRequest> {
    capabilities::refuse_params(p)?;
    let claude = is_claude(opts.model);
    let budget = capabilities::thinking_budget(p, extras, claude)?;
    let thinking = budget.is_some();
    let (system, messages) = conversation(&p.messages, fetched, claude)?;

    let history = capabilities::has_tool_history(p);
    let mut tools = tools(p)?;
    let mut choice = tool_choice(p, thinking)?;
    if matches!(&p.tool_choice, Some(ToolChoice::Mode(m)) if m == "none") && !history {
        // Converse has no "none": without tools the model cannot call one.
        tools.clear();
    }
    let json_tool = match &p.response_format {
        None | Some(ResponseFormat::Text) => false,
        Some(ResponseFormat::JsonObject) => {
            choice = json_tool(
                &mut tools,
                choice,
                thinking,
                json!({"type": "object"}),
                None,
            )?;
            true
        }
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            let schema = json_schema.schema.clone().ok_or_else(|| {
                unsupported(
                    "response_format",
                    "Bedrock structured output needs `response_format.json_schema.schema`",
                )
            })?;
            choice = json_tool(
                &mut tools,
                choice,
                thinking,
                schema,
                json_schema.description.as_deref(),
            )?;
            true
        }
    };
    let tool_config = if tools.is_empty() {
        if history {
            return Err(unsupported(
                "tools",
                "Bedrock needs the tool definitions (`tools`) when the conversation contains tool calls or results",
            ));
        }
        None
    } else {
        Some(ToolConfig {
            tools,
            tool_choice: choice,
        })
    };

    let base = p
        .max_output_tokens()
        .or(opts.default_max_tokens)
        .or(claude.then_some(DEFAULT_MAX_TOKENS));
    // Thinking counts toward maxTokens and the budget must stay below it: when the cap leaves
    // no room, the cap is kept for the answer and the budget added on top (as for Anthropic).
    let max_tokens = match (budget, base) {
        (Some(b), Some(m)) if m <= b => Some(m + b),
        (Some(b), None) => Some(DEFAULT_MAX_TOKENS + b),
        (_, m) => m,
    };
    let (sampling, _) = capabilities::sampling(p, thinking, claude);
    let stop_sequences = match &p.stop {
        None => None,
        Some(Stop::One(s)) => Some(vec![s.as_str()]),
        Some(Stop::Many(v)) if v.is_empty() => None,
        Some(Stop::Many(v)) => Some(v.iter().map(String::as_str).collect()),
    };
    let mut additional = Map::new();
    if let Some(k) = sampling.top_k {
        additional.insert("top_k".into(), json!(k));
    }
    if let Some(b) = budget {
        additional.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": b}),
        );
    }
    Ok(Translated {
        body: ConverseRequest {
            messages,
            system,
            inference_config: InferenceConfig {
                max_tokens,
                temperature: sampling.temperature,
                top_p: sampling.top_p,
                stop_sequences,
            },
            tool_config,
            additional_model_request_fields: additional,
        },
        mode: ResponseMode {
            json_tool,
            exclude_reasoning: crate::providers::anthropic::capabilities::exclude_reasoning(
                p, extras,
            ),
        },
    })
}

/// System/developer messages (anywhere) → `system` blocks, in order; the rest → alternating
/// user/assistant turns, consecutive same-role messages merged (so the results of parallel
/// tool calls share one user turn, as Converse requires).
fn conversation<'a>(
    messages: &'a [Message],
    fetched: &'a Fetched,
    claude: bool,
) -> Result<(Vec<SystemBlock<'a>>, Vec<WireMessage<'a>>), InvalidRequest> {
    let mut system = Vec::new();
    let mut turns: Vec<WireMessage<'a>> = Vec::new();
    let last_assistant = messages
        .iter()
        .rposition(|m| !matches!(m, Message::System { .. } | Message::Developer { .. }))
        .filter(|&i| matches!(messages[i], Message::Assistant { .. }));
    for (i, m) in messages.iter().enumerate() {
        let (role, blocks) = match m {
            Message::System { content } | Message::Developer { content } => {
                let text = system_text(content)?;
                if !text.trim().is_empty() {
                    system.push(SystemBlock { text });
                }
                continue;
            }
            Message::User { content } => {
                let mut blocks = match content {
                    Content::Text(s) => vec![Block::Text(Cow::Borrowed(s))],
                    Content::Parts(parts) => parts
                        .iter()
                        .map(|part| part_block(part, fetched))
                        .collect::<Result<_, _>>()?,
                };
                // Converse rejects blank text blocks; OpenAI accepts blank messages.
                blocks.retain(|b| !is_blank_text(b));
                (Role::User, blocks)
            }
            Message::Tool {
                content,
                tool_call_id,
            } => (
                Role::User,
                vec![Block::ToolResult(ToolResult {
                    tool_use_id: tool_call_id,
                    content: tool_result_content(content, fetched)?,
                })],
            ),
            Message::Assistant { .. } => (
                Role::Assistant,
                assistant_blocks(m, Some(i) == last_assistant, fetched, claude)?,
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
                content: vec![Block::Text(Cow::Borrowed(PLACEHOLDER_USER_TURN))],
            },
        );
    }
    Ok((system, turns))
}

fn is_blank_text(b: &Block<'_>) -> bool {
    matches!(b, Block::Text(text) if text.trim().is_empty())
}

fn system_text(content: &Content) -> Result<Cow<'_, str>, InvalidRequest> {
    match content {
        Content::Text(s) => Ok(Cow::Borrowed(s)),
        Content::Parts(parts) => {
            if parts.iter().any(|p| !matches!(p, Part::Text { .. })) {
                return Err(unsupported(
                    "messages",
                    "Bedrock system prompts hold text only",
                ));
            }
            Ok(Cow::Owned(content.text()))
        }
    }
}

/// `image/png` → `png`: the four formats Converse takes.
fn image_format(media_type: &str) -> Result<&'static str, InvalidRequest> {
    match media_type.to_ascii_lowercase().as_str() {
        "image/png" => Ok("png"),
        "image/jpeg" | "image/jpg" => Ok("jpeg"),
        "image/gif" => Ok("gif"),
        "image/webp" => Ok("webp"),
        other => Err(unsupported(
            "messages",
            format!("Bedrock takes png, jpeg, gif and webp images, not {other}"),
        )),
    }
}

/// A document data URL's media type → Converse's document format.
fn document_format(media_type: &str) -> Option<&'static str> {
    Some(match media_type {
        "application/pdf" => "pdf",
        "text/csv" => "csv",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "text/html" => "html",
        "text/plain" => "txt",
        "text/markdown" => "md",
        _ => return None,
    })
}

/// Converse document names allow letters, digits, single spaces, hyphens, parentheses and
/// square brackets; the extension is dropped (the format says it).
fn document_name(filename: Option<&str>) -> String {
    let stem = filename
        .map(|f| f.rsplit_once('.').map_or(f, |(s, _)| s))
        .unwrap_or("");
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '(' | ')' | '[' | ']') {
                c
            } else {
                ' '
            }
        })
        .collect();
    let name = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        "document".into()
    } else {
        name
    }
}

fn image<'a>(
    url: &'a crate::types::openai::ImageUrl,
    fetched: &'a Fetched,
) -> Result<Image<'a>, InvalidRequest> {
    match url.source()? {
        ImageSource::Base64 { media_type, data } => Ok(Image {
            format: image_format(media_type)?,
            source: BytesSource {
                bytes: Cow::Borrowed(data),
            },
        }),
        ImageSource::Url(u) => {
            let inline = fetched.get(u).ok_or_else(|| {
                unsupported(
                    "messages",
                    format!(
                        "the image at {} was not fetched (Bedrock takes image URLs in user messages only; use a data URL)",
                        crate::providers::http::truncate(u, 200)
                    ),
                )
            })?;
            Ok(Image {
                format: image_format(&inline.mime_type)?,
                source: BytesSource {
                    bytes: Cow::Borrowed(&inline.data),
                },
            })
        }
    }
}

fn part_block<'a>(part: &'a Part, fetched: &'a Fetched) -> Result<Block<'a>, InvalidRequest> {
    Ok(match part {
        Part::Text { text } => Block::Text(Cow::Borrowed(text)),
        Part::Refusal { refusal } => Block::Text(Cow::Borrowed(refusal)),
        Part::ImageUrl { image_url } => Block::Image(image(image_url, fetched)?),
        Part::InputAudio { .. } => {
            return Err(unsupported(
                "messages",
                "Bedrock's Converse API does not accept audio input",
            ))
        }
        Part::File { file } => {
            let data_url = file.file_data.as_deref().ok_or_else(|| {
                unsupported(
                    "messages",
                    "uploaded file ids cannot be sent to Bedrock; inline the file as file_data",
                )
            })?;
            let parsed = data_url
                .strip_prefix("data:")
                .and_then(|r| r.split_once(','))
                .and_then(|(meta, data)| Some((meta.strip_suffix(";base64")?, data)));
            let Some((format, data)) =
                parsed.and_then(|(media, data)| Some((document_format(media)?, data)))
            else {
                return Err(unsupported(
                    "messages",
                    "Bedrock takes files as base64 data URLs of PDF, CSV, Word, Excel, HTML, text or Markdown documents",
                ));
            };
            Block::Document(Document {
                format,
                name: document_name(file.filename.as_deref()),
                source: BytesSource {
                    bytes: Cow::Borrowed(data),
                },
            })
        }
    })
}

fn tool_result_content<'a>(
    content: &'a Content,
    fetched: &'a Fetched,
) -> Result<Vec<ToolResultBlock<'a>>, InvalidRequest> {
    match content {
        Content::Text(s) => Ok(vec![ToolResultBlock::Text(Cow::Borrowed(s))]),
        Content::Parts(parts) => parts
            .iter()
            .map(|p| match p {
                Part::Text { text } => Ok(ToolResultBlock::Text(Cow::Borrowed(text))),
                Part::ImageUrl { image_url } => {
                    Ok(ToolResultBlock::Image(image(image_url, fetched)?))
                }
                _ => Err(unsupported(
                    "messages",
                    "Bedrock tool results hold text and images only",
                )),
            })
            .collect(),
    }
}

/// An assistant turn: echoed thinking first (Claude requires it there), then text, then tool
/// calls. The last turn of a conversation is a prefill the model continues, and Claude
/// rejects one ending in whitespace.
fn assistant_blocks<'a>(
    m: &'a Message,
    is_last: bool,
    fetched: &'a Fetched,
    claude: bool,
) -> Result<Vec<Block<'a>>, InvalidRequest> {
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
    let mut blocks: Vec<Block<'a>> = if claude {
        echoed_reasoning(reasoning_details.as_deref(), reasoning.as_deref())
            .into_iter()
            .map(|t| {
                Block::ReasoningContent(match t {
                    EchoedThinking::Text { text, signature } => Reasoning::ReasoningText {
                        text,
                        signature: Cow::Borrowed(signature),
                    },
                    EchoedThinking::Redacted { data } => {
                        Reasoning::RedactedContent(Cow::Borrowed(data))
                    }
                })
            })
            .collect()
    } else {
        // Other models' reasoning is not signed and is not sent back.
        Vec::new()
    };
    match content {
        Some(Content::Text(s)) => blocks.push(Block::Text(Cow::Borrowed(s))),
        Some(Content::Parts(parts)) => {
            for part in parts {
                blocks.push(part_block(part, fetched)?);
            }
        }
        None => {
            if let Some(r) = refusal {
                blocks.push(Block::Text(Cow::Borrowed(r)));
            }
        }
    }
    blocks.retain(|b| !is_blank_text(b));
    if is_last && tool_calls.as_ref().is_none_or(|c| c.is_empty()) {
        if let Some(Block::Text(text)) = blocks.last_mut() {
            if text.ends_with(char::is_whitespace) {
                *text = Cow::Owned(text.trim_end().to_owned());
            }
        }
    }
    for call in tool_calls.iter().flatten() {
        blocks.push(Block::ToolUse(ToolUse {
            tool_use_id: &call.id,
            name: &call.function.name,
            input: tool_input(call)?,
        }));
    }
    Ok(blocks)
}

fn tools(p: &ChatParams) -> Result<Vec<Tool<'_>>, InvalidRequest> {
    let Some(tools) = &p.tools else {
        return Ok(Vec::new());
    };
    tools
        .iter()
        .map(|t| {
            if t.kind != "function" {
                return Err(unsupported(
                    "tools",
                    format!("tools of type `{}` do not translate to Bedrock", t.kind),
                ));
            }
            let f = &t.function;
            Ok(Tool {
                tool_spec: ToolSpec {
                    name: &f.name,
                    description: f.description.as_deref().filter(|d| !d.is_empty()),
                    input_schema: InputSchema {
                        json: match &f.parameters {
                            Some(schema) => Cow::Borrowed(schema),
                            None => Cow::Owned(json!({"type": "object", "properties": {}})),
                        },
                    },
                },
            })
        })
        .collect()
}

/// `tool_choice` → Converse's choice; `none` (and no choice) → none sent, which means auto.
fn tool_choice(
    p: &ChatParams,
    thinking: bool,
) -> Result<Option<WireToolChoice<'_>>, InvalidRequest> {
    let choice = match &p.tool_choice {
        None => None,
        Some(ToolChoice::Mode(m)) => match m.as_str() {
            "auto" => Some(WireToolChoice::Auto {}),
            "required" => Some(WireToolChoice::Any {}),
            "none" => None,
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
        }),
    };
    if thinking
        && matches!(
            choice,
            Some(WireToolChoice::Any {} | WireToolChoice::Tool { .. })
        )
    {
        return Err(unsupported(
            "tool_choice",
            "Claude cannot be forced to call a tool while extended thinking is on",
        ));
    }
    Ok(choice)
}

/// Converse has no JSON mode nor native structured output, so the answer is requested as the
/// input of a forced tool whose schema is the requested one (any object for `json_object`);
/// the response translation turns that input back into `content`. With client tools the
/// model must call one of them or the JSON tool (`any`); a named client tool stays forced.
/// Forcing a tool is impossible with Claude's thinking on, so that combination is refused.
fn json_tool<'a>(
    tools: &mut Vec<Tool<'a>>,
    choice: Option<WireToolChoice<'a>>,
    thinking: bool,
    schema: Value,
    description: Option<&'a str>,
) -> Result<Option<WireToolChoice<'a>>, InvalidRequest> {
    if thinking {
        return Err(unsupported(
            "response_format",
            "JSON output is sent to Bedrock as a forced tool, which extended thinking does not allow",
        ));
    }
    if tools.iter().any(|t| t.tool_spec.name == JSON_TOOL) {
        return Err(unsupported(
            "response_format",
            format!(
                "JSON output uses a tool named `{JSON_TOOL}`, which the request already defines"
            ),
        ));
    }
    let client_tools = !tools.is_empty();
    tools.push(Tool {
        tool_spec: ToolSpec {
            name: JSON_TOOL,
            description: Some(description.unwrap_or(
                "Give your whole answer as a JSON object: the input of this tool is the response.",
            )),
            input_schema: InputSchema {
                json: Cow::Owned(schema),
            },
        },
    });
    Ok(Some(match choice {
        Some(named @ WireToolChoice::Tool { .. }) => named,
        _ if client_tools => WireToolChoice::Any {},
        _ => WireToolChoice::Tool { name: JSON_TOOL },
    }))
}

/// Bedrock stop reason → OpenAI finish reason (`tool_use` is `stop` when the only tool called
/// was the JSON tool).
pub fn finish_reason(stop_reason: Option<&str>, client_tool_calls: bool) -> FinishReason {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") if client_tool_calls => FinishReason::ToolCalls,
        Some("guardrail_intervened" | "content_filtered") => FinishReason::ContentFilter,
        // end_turn, stop_sequence, and anything newer.
        _ => FinishReason::Stop,
    }
}

/// Bedrock usage → OpenAI usage (8.3): cache reads and writes are reported apart from
/// `inputTokens`, so the prompt side adds them, each counted once.
pub fn usage(u: &WireUsage) -> Usage {
    Usage::with_cache(
        u.input_tokens.unwrap_or(0),
        u.cache_read_input_tokens.unwrap_or(0),
        u.cache_write_input_tokens.unwrap_or(0),
        u.output_tokens.unwrap_or(0),
    )
}

/// A whole response → one OpenAI choice. `id` is the request id Bedrock answered with.
pub fn response(
    r: ConverseResponse,
    mode: ResponseMode,
    id: String,
    model: &str,
    created: i64,
) -> CompletionOut {
    let mut content: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut details = Vec::new();
    let mut calls = Vec::new();
    let blocks = r.output.message.map(|m| m.content).unwrap_or_default();
    for RespBlock {
        text,
        tool_use,
        reasoning_content,
    } in blocks
    {
        if let Some(t) = text {
            content.get_or_insert_with(String::new).push_str(&t);
        }
        if let Some(t) = tool_use {
            if mode.json_tool && t.name == JSON_TOOL {
                content
                    .get_or_insert_with(String::new)
                    .push_str(&compact(&t.input));
            } else {
                calls.push(ToolCall {
                    id: t.tool_use_id.unwrap_or_else(generated_call_id),
                    kind: "function".into(),
                    function: FunctionCall {
                        name: t.name,
                        arguments: compact(&t.input),
                    },
                });
            }
        }
        match reasoning_content {
            _ if mode.exclude_reasoning => {}
            None => {}
            Some(r) => {
                if let Some(t) = r.reasoning_text {
                    details.push(reasoning_text_detail(
                        details.len() as u32,
                        Some(&t.text),
                        t.signature.as_deref(),
                    ));
                    reasoning.get_or_insert_with(String::new).push_str(&t.text);
                }
                if let Some(data) = r.redacted_content {
                    details.push(reasoning_encrypted_detail(details.len() as u32, &data));
                }
            }
        }
    }
    let finish = finish_reason(r.stop_reason.as_deref(), !calls.is_empty());
    CompletionOut {
        id,
        object: "chat.completion",
        created,
        model: model.to_owned(),
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
        usage: r.usage.as_ref().map(usage),
    }
}

#[cfg(test)]
mod tests;
