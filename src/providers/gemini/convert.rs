//! Pure translation between the OpenAI view (`ChatParams`, `CompletionOut`) and Gemini's
//! `generateContent` wire format. No IO: images behind http(s) URLs are fetched beforehand
//! (`fetch.rs`) and handed in as `Fetched`.
//!
//! What cannot be expressed is refused with an `InvalidRequest` naming the parameter; the
//! adapter turns it into `ProviderError::Unsupported`, which falls back to another endpoint.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::schema;
use super::wire;
use crate::providers::ProviderError;
use crate::types::openai::{
    ChatParams, ChoiceOut, CompletionOut, Content, FinishReason, FunctionCall, ImageSource,
    Message, MessageOut, Part, ResponseFormat, ToolCall, ToolChoice,
};
use crate::types::usage::{CompletionTokensDetails, PromptTokensDetails};
use crate::types::{InvalidRequest, Usage};

/// `reasoning_details[].format` of the entries this adapter writes and reads back.
pub const DETAILS_FORMAT: &str = "google-gemini-v1";

/// An image fetched from a URL, ready to inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inline {
    pub mime_type: String,
    /// Base64.
    pub data: String,
}

/// Images fetched ahead of translation, by their URL.
pub type Fetched = HashMap<String, Inline>;

fn unsupported(message: impl Into<String>, param: &'static str) -> InvalidRequest {
    InvalidRequest::new(message, Some(param), "unsupported_parameter")
}

// ---- request ------------------------------------------------------------------------------

/// Translates a chat request into a `GenerateContentRequest`.
pub fn request<'a>(
    p: &'a ChatParams,
    fetched: &'a Fetched,
) -> Result<wire::Request<'a>, InvalidRequest> {
    let names = tool_names(&p.messages);
    let mut system = Vec::new();
    let mut contents: Vec<wire::Content<'a>> = Vec::new();
    for (i, m) in p.messages.iter().enumerate() {
        match m {
            // Gemini has one system instruction: system and developer messages, wherever they
            // are in the conversation, become its parts in order.
            Message::System { content } | Message::Developer { content } => {
                system.extend(text_only(content, i, "system")?)
            }
            Message::User { content } => {
                push(&mut contents, "user", user_parts(content, fetched, i)?)
            }
            Message::Assistant {
                content,
                tool_calls,
                refusal,
                reasoning_details,
                ..
            } => {
                let parts = model_parts(
                    content.as_ref(),
                    tool_calls.as_deref().unwrap_or_default(),
                    refusal.as_deref(),
                    reasoning_details.as_deref().unwrap_or_default(),
                    i,
                )?;
                push(&mut contents, "model", parts)
            }
            // Results go back as `functionResponse` parts of a user turn; consecutive tool
            // messages (parallel calls) end up in one turn through `push`.
            Message::Tool {
                content,
                tool_call_id,
            } => {
                let part = tool_result(content, tool_call_id, &names, i)?;
                push(&mut contents, "user", vec![part])
            }
        }
    }

    let declarations = function_declarations(p)?;
    let tool_config = if declarations.is_empty() {
        None
    } else {
        tool_config(p.tool_choice.as_ref())?
    };
    let tools = if declarations.is_empty() {
        Vec::new()
    } else {
        vec![wire::Tool {
            function_declarations: declarations,
        }]
    };
    Ok(wire::Request {
        contents,
        system_instruction: (!system.is_empty())
            .then_some(wire::SystemInstruction { parts: system }),
        tools,
        tool_config,
        generation_config: generation_config(p)?,
    })
}

/// Appends a turn, merging it into the previous one when the role repeats: Gemini wants
/// user and model turns to alternate, and empty turns are rejected.
fn push<'a>(contents: &mut Vec<wire::Content<'a>>, role: &'static str, parts: Vec<wire::Part<'a>>) {
    if parts.is_empty() {
        return;
    }
    match contents.last_mut() {
        Some(last) if last.role == role => last.parts.extend(parts),
        _ => contents.push(wire::Content { role, parts }),
    }
}

/// Tool-call id → function name, from every assistant message: Gemini's `functionResponse`
/// needs the name, OpenAI's tool message only has the id.
fn tool_names(messages: &[Message]) -> HashMap<&str, &str> {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::Assistant {
                tool_calls: Some(calls),
                ..
            } => Some(calls),
            _ => None,
        })
        .flatten()
        .map(|c| (c.id.as_str(), c.function.name.as_str()))
        .collect()
}

fn text_only<'a>(
    content: &'a Content,
    i: usize,
    role: &str,
) -> Result<Vec<wire::Part<'a>>, InvalidRequest> {
    match content {
        Content::Text(s) => Ok(non_empty(s).map(wire::Part::text).into_iter().collect()),
        Content::Parts(parts) => parts
            .iter()
            .filter_map(|part| match part {
                Part::Text { text } => non_empty(text).map(|t| Ok(wire::Part::text(t))),
                _ => Some(Err(unsupported(
                    format!("messages[{i}]: {role} messages can only hold text for Gemini"),
                    "messages",
                ))),
            })
            .collect(),
    }
}

// Gemini rejects empty text parts.
fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn user_parts<'a>(
    content: &'a Content,
    fetched: &'a Fetched,
    i: usize,
) -> Result<Vec<wire::Part<'a>>, InvalidRequest> {
    let parts = match content {
        Content::Text(s) => return Ok(non_empty(s).map(wire::Part::text).into_iter().collect()),
        Content::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            Part::Text { text } | Part::Refusal { refusal: text } => {
                out.extend(non_empty(text).map(wire::Part::text))
            }
            Part::ImageUrl { image_url } => match image_url.source()? {
                ImageSource::Base64 { media_type, data } => {
                    out.push(wire::Part::blob(media_type, data))
                }
                ImageSource::Url(url) => {
                    let image = fetched.get(url).ok_or_else(|| {
                        unsupported(
                            format!("messages[{i}]: the image at {url} was not fetched"),
                            "messages",
                        )
                    })?;
                    out.push(wire::Part::blob(
                        image.mime_type.as_str(),
                        image.data.as_str(),
                    ))
                }
            },
            Part::InputAudio { input_audio } => {
                let mime = match input_audio.format.as_str() {
                    "wav" => "audio/wav",
                    "mp3" => "audio/mp3",
                    other => {
                        return Err(unsupported(
                            format!("messages[{i}]: audio format `{other}` is not supported (wav or mp3)"),
                            "messages",
                        ))
                    }
                };
                out.push(wire::Part::blob(mime, input_audio.data.as_str()))
            }
            Part::File { file } => match file.file_data.as_deref().and_then(split_data_url) {
                Some((mime, data)) => out.push(wire::Part::blob(mime, data)),
                None => {
                    return Err(unsupported(
                        format!(
                            "messages[{i}]: Gemini needs files inline as `file_data` data URLs (data:<type>;base64,...); file ids cannot be used"
                        ),
                        "messages",
                    ))
                }
            },
        }
    }
    Ok(out)
}

fn split_data_url(url: &str) -> Option<(&str, &str)> {
    let (meta, data) = url.strip_prefix("data:")?.split_once(',')?;
    Some((meta.strip_suffix(";base64")?, data))
}

/// `reasoning_details` entries this adapter wrote: signatures by tool-call id, and the one
/// that belonged to a text part.
struct Signatures<'a> {
    by_call: HashMap<&'a str, &'a str>,
    text: Option<&'a str>,
}

fn signatures(details: &[Value]) -> Signatures<'_> {
    let mut out = Signatures {
        by_call: HashMap::new(),
        text: None,
    };
    for d in details {
        let field = |k: &str| d.get(k).and_then(Value::as_str);
        // Another provider's signature would make Gemini reject the whole request.
        if field("type") != Some("reasoning.encrypted")
            || field("format").is_some_and(|f| f != DETAILS_FORMAT)
        {
            continue;
        }
        let Some(data) = field("data") else { continue };
        match field("id") {
            Some(id) => {
                out.by_call.insert(id, data);
            }
            None => {
                out.text.get_or_insert(data);
            }
        }
    }
    out
}

fn model_parts<'a>(
    content: Option<&'a Content>,
    calls: &'a [ToolCall],
    refusal: Option<&'a str>,
    details: &'a [Value],
    i: usize,
) -> Result<Vec<wire::Part<'a>>, InvalidRequest> {
    let mut parts = match content {
        None => Vec::new(),
        Some(Content::Text(s)) => non_empty(s).map(wire::Part::text).into_iter().collect(),
        Some(Content::Parts(ps)) => ps
            .iter()
            .filter_map(|part| match part {
                Part::Text { text } | Part::Refusal { refusal: text } => {
                    non_empty(text).map(|t| Ok(wire::Part::text(t)))
                }
                _ => Some(Err(unsupported(
                    format!("messages[{i}]: assistant messages can only hold text"),
                    "messages",
                ))),
            })
            .collect::<Result<_, _>>()?,
    };
    if parts.is_empty() {
        parts.extend(refusal.and_then(non_empty).map(wire::Part::text));
    }
    let sigs = signatures(details);
    if let Some(first) = parts.first_mut() {
        first.thought_signature = sigs.text;
    }
    for (j, call) in calls.iter().enumerate() {
        parts.push(wire::Part {
            function_call: Some(wire::FunctionCall {
                id: non_empty(&call.id),
                name: &call.function.name,
                args: arguments(&call.function.arguments, i, j)?,
            }),
            // The signature must come back on the very part it was issued with.
            thought_signature: sigs.by_call.get(call.id.as_str()).copied(),
            ..wire::Part::default()
        });
    }
    Ok(parts)
}

/// OpenAI arguments are JSON text; Gemini wants the object.
fn arguments(text: &str, i: usize, j: usize) -> Result<Value, InvalidRequest> {
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(unsupported(
            format!(
                "messages[{i}].tool_calls[{j}].function.arguments must be a JSON object for Gemini"
            ),
            "messages",
        )),
    }
}

fn tool_result<'a>(
    content: &'a Content,
    id: &'a str,
    names: &HashMap<&'a str, &'a str>,
    i: usize,
) -> Result<wire::Part<'a>, InvalidRequest> {
    let name = names.get(id).copied().ok_or_else(|| {
        unsupported(
            format!("messages[{i}]: tool_call_id `{id}` matches no earlier assistant tool call, and Gemini needs the function's name"),
            "messages",
        )
    })?;
    if let Content::Parts(parts) = content {
        if parts.iter().any(|p| !matches!(p, Part::Text { .. })) {
            return Err(unsupported(
                format!("messages[{i}]: tool results can only hold text for Gemini"),
                "messages",
            ));
        }
    }
    let text = content.text();
    // JSON results stay structured; anything else is passed as a string.
    let result = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
    Ok(wire::Part {
        function_response: Some(wire::FunctionResponse {
            id: non_empty(id),
            name,
            response: json!({ "result": result }),
        }),
        ..wire::Part::default()
    })
}

fn function_declarations(
    p: &ChatParams,
) -> Result<Vec<wire::FunctionDeclaration<'_>>, InvalidRequest> {
    let mut out = Vec::new();
    for tool in p.tools.iter().flatten() {
        if tool.kind != "function" {
            return Err(unsupported(
                format!("tools of type `{}` are not supported for Gemini", tool.kind),
                "tools",
            ));
        }
        let f = &tool.function;
        let parameters = f
            .parameters
            .as_ref()
            .map(|s| {
                schema::inline_refs(s)
                    .map_err(|e| unsupported(format!("tool `{}` parameters: {e}", f.name), "tools"))
            })
            .transpose()?;
        out.push(wire::FunctionDeclaration {
            name: &f.name,
            description: f.description.as_deref(),
            parameters_json_schema: parameters,
        });
    }
    Ok(out)
}

fn tool_config(
    choice: Option<&ToolChoice>,
) -> Result<Option<wire::ToolConfig<'_>>, InvalidRequest> {
    let (mode, allowed) = match choice {
        None => return Ok(None),
        Some(ToolChoice::Mode(m)) => match m.as_str() {
            "auto" => ("AUTO", None),
            "none" => ("NONE", None),
            "required" => ("ANY", None),
            other => {
                return Err(InvalidRequest::new(
                    format!("tool_choice `{other}` is not one of none, auto, required"),
                    Some("tool_choice"),
                    "invalid_value",
                ))
            }
        },
        Some(ToolChoice::Named(named)) => ("ANY", Some(vec![named.function.name.as_str()])),
    };
    Ok(Some(wire::ToolConfig {
        function_calling_config: wire::FunctionCallingConfig {
            mode,
            allowed_function_names: allowed,
        },
    }))
}

fn generation_config(p: &ChatParams) -> Result<wire::GenerationConfig, InvalidRequest> {
    let (response_mime_type, response_json_schema) = match &p.response_format {
        None | Some(ResponseFormat::Text) => (None, None),
        Some(ResponseFormat::JsonObject) => (Some("application/json"), None),
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            let schema = json_schema
                .schema
                .as_ref()
                .map(|s| {
                    schema::inline_refs(s).map_err(|e| {
                        unsupported(
                            format!("response_format json_schema `{}`: {e}", json_schema.name),
                            "response_format",
                        )
                    })
                })
                .transpose()?;
            (Some("application/json"), schema)
        }
    };
    let logprobs = p.logprobs == Some(true);
    Ok(wire::GenerationConfig {
        temperature: p.temperature,
        top_p: p.top_p,
        top_k: p.top_k,
        max_output_tokens: p.max_output_tokens(),
        stop_sequences: p
            .stop
            .as_ref()
            .map(|s| s.to_vec())
            .filter(|v| !v.is_empty()),
        candidate_count: p.n.filter(|n| *n > 1),
        presence_penalty: p.presence_penalty,
        frequency_penalty: p.frequency_penalty,
        seed: p.seed,
        response_mime_type,
        response_json_schema,
        response_logprobs: logprobs.then_some(true),
        logprobs: p.top_logprobs.filter(|k| logprobs && *k > 0),
        thinking_config: thinking(p)?,
    })
}

/// Thinking budget in tokens for an OpenAI effort level (Gemini 2.5 Flash accepts 0..=24576,
/// Pro 128..=32768; Gemini 3 still accepts budgets).
fn effort_budget(effort: &str) -> Option<i64> {
    Some(match effort {
        "none" => 0,
        "minimal" => 512,
        "low" => 1024,
        "medium" => 8192,
        "high" | "xhigh" => 24576,
        _ => return None,
    })
}

fn thinking(p: &ChatParams) -> Result<Option<wire::ThinkingConfig>, InvalidRequest> {
    let r = p.reasoning.as_ref();
    if r.is_none() && p.reasoning_effort.is_none() {
        return Ok(None);
    }
    let exclude = r.and_then(|r| r.exclude).unwrap_or(false);
    let off = || {
        Ok(Some(wire::ThinkingConfig {
            thinking_budget: Some(0),
            include_thoughts: None,
        }))
    };
    if r.and_then(|r| r.enabled) == Some(false) {
        return off();
    }
    let budget = match (r.and_then(|r| r.max_tokens), p.effort()) {
        (Some(max), _) => i64::try_from(max).unwrap_or(i64::MAX),
        (None, Some(effort)) => {
            let param = if r.and_then(|r| r.effort.as_ref()).is_some() {
                "reasoning"
            } else {
                "reasoning_effort"
            };
            effort_budget(effort).ok_or_else(|| {
                InvalidRequest::new(
                    format!("reasoning effort `{effort}` is not one of none, minimal, low, medium, high, xhigh"),
                    Some(param),
                    "invalid_value",
                )
            })?
        }
        // `reasoning: {}` or `{enabled: true}`: let the model decide how much to think.
        (None, None) => -1,
    };
    if budget == 0 {
        return off();
    }
    Ok(Some(wire::ThinkingConfig {
        thinking_budget: Some(budget),
        // Without this Gemini thinks but returns no thought summaries.
        include_thoughts: (!exclude).then_some(true),
    }))
}

// ---- response -----------------------------------------------------------------------------

/// A tool-call id for calls Gemini gave none (most of them).
pub fn new_call_id() -> String {
    format!("call_{:024x}", rand::random::<u128>() >> 32)
}

/// A response id when Gemini gave none.
pub fn new_response_id() -> String {
    format!("gen-{:024x}", rand::random::<u128>() >> 32)
}

/// One `reasoning_details` entry carrying a `thoughtSignature`; `id` ties it to a tool call.
pub fn signature_detail(signature: &str, id: Option<&str>, index: usize) -> Value {
    let mut d = json!({
        "type": "reasoning.encrypted",
        "data": signature,
        "format": DETAILS_FORMAT,
        "index": index,
    });
    if let Some(id) = id {
        d["id"] = json!(id);
    }
    d
}

/// Usage per the gateway's table: tool-use prompt tokens count as prompt, thoughts as
/// completion; `promptTokenCount` already includes cached tokens.
pub fn usage(u: &wire::UsageMetadata) -> Usage {
    let prompt = u.prompt_token_count + u.tool_use_prompt_token_count;
    let thoughts = u.thoughts_token_count.unwrap_or(0);
    let completion = u.candidates_token_count + thoughts;
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: Some(PromptTokensDetails {
            cached_tokens: Some(u.cached_content_token_count.unwrap_or(0)),
            cache_write_tokens: None,
        }),
        completion_tokens_details: Some(CompletionTokensDetails {
            reasoning_tokens: Some(thoughts),
        }),
        ..Usage::default()
    }
}

/// Maps a candidate's `finishReason`. Reasons that mean Gemini failed to produce a usable
/// answer (a malformed or unexpected function call) are errors, so the request falls back
/// to another endpoint instead of ending with an empty message.
pub fn finish_reason(
    native: &str,
    has_tool_calls: bool,
    message: Option<&str>,
) -> Result<FinishReason, ProviderError> {
    Ok(match native {
        "STOP" | "OTHER" | "FINISH_REASON_UNSPECIFIED" if has_tool_calls => FinishReason::ToolCalls,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "LANGUAGE"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        "MALFORMED_FUNCTION_CALL"
        | "UNEXPECTED_TOOL_CALL"
        | "TOO_MANY_TOOL_CALLS"
        | "MISSING_THOUGHT_SIGNATURE" => {
            return Err(ProviderError::Status {
                status: 502,
                message: match message {
                    Some(m) => format!("Gemini ended the answer with {native}: {m}"),
                    None => format!("Gemini ended the answer with {native}"),
                },
                error_type: Some("upstream_error".into()),
                code: Some(native.into()),
                param: None,
                retry_after: None,
            })
        }
        // STOP, OTHER, FINISH_REASON_UNSPECIFIED and values added after this was written.
        _ => FinishReason::Stop,
    })
}

/// `logprobsResult` in OpenAI's `logprobs` shape.
pub fn logprobs(r: &wire::LogprobsResult) -> Value {
    let entry = |c: &wire::LogprobCandidate| json!({"token": c.token, "logprob": c.log_probability, "bytes": c.token.as_bytes()});
    let content: Vec<Value> = r
        .chosen_candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut e = entry(c);
            let top: Vec<Value> = r
                .top_candidates
                .get(i)
                .map(|t| t.candidates.iter().map(entry).collect())
                .unwrap_or_default();
            e["top_logprobs"] = Value::Array(top);
            e
        })
        .collect();
    json!({ "content": content, "refusal": null })
}

/// A whole `generateContent` response as a `chat.completion`.
pub fn completion(
    resp: wire::Response,
    upstream_model: &str,
) -> Result<CompletionOut, ProviderError> {
    let mut choices = Vec::with_capacity(resp.candidates.len().max(1));
    for c in resp.candidates {
        choices.push(choice(c)?);
    }
    choices.sort_by_key(|c| c.index);
    if choices.is_empty() {
        let reason = resp
            .prompt_feedback
            .and_then(|f| f.block_reason)
            .ok_or_else(|| ProviderError::Malformed("Gemini returned no candidates".into()))?;
        // The prompt itself was blocked.
        choices.push(ChoiceOut {
            index: 0,
            message: MessageOut {
                role: "assistant",
                content: None,
                refusal: None,
                reasoning: None,
                reasoning_details: None,
                tool_calls: None,
            },
            logprobs: None,
            finish_reason: Some(FinishReason::ContentFilter),
            native_finish_reason: Some(reason),
        });
    }
    Ok(CompletionOut {
        id: resp.response_id.unwrap_or_else(new_response_id),
        object: "chat.completion",
        created: crate::types::now_ms() / 1000,
        model: resp
            .model_version
            .unwrap_or_else(|| upstream_model.to_owned()),
        choices,
        usage: resp.usage_metadata.as_ref().map(usage),
    })
}

fn choice(c: wire::Candidate) -> Result<ChoiceOut, ProviderError> {
    let mut content: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut calls = Vec::new();
    let mut details = Vec::new();
    for part in c.content.map(|c| c.parts).unwrap_or_default() {
        let mut call_id = None;
        if let Some(fc) = part.function_call {
            let id = fc
                .id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(new_call_id);
            call_id = Some(id.clone());
            calls.push(ToolCall {
                id,
                kind: "function".into(),
                function: FunctionCall {
                    name: fc.name,
                    arguments: fc.args.unwrap_or_else(|| json!({})).to_string(),
                },
            });
        } else if let Some(text) = part.text {
            let into = if part.thought {
                &mut reasoning
            } else {
                &mut content
            };
            into.get_or_insert_with(String::new).push_str(&text);
        }
        if let Some(sig) = part.thought_signature {
            details.push(signature_detail(&sig, call_id.as_deref(), details.len()));
        }
    }
    let native = c.finish_reason.unwrap_or_else(|| "STOP".into());
    let finish = finish_reason(&native, !calls.is_empty(), c.finish_message.as_deref())?;
    Ok(ChoiceOut {
        index: c.index,
        message: MessageOut {
            role: "assistant",
            content,
            refusal: None,
            reasoning,
            reasoning_details: (!details.is_empty()).then_some(details),
            tool_calls: (!calls.is_empty()).then_some(calls),
        },
        logprobs: c.logprobs_result.as_ref().map(logprobs),
        finish_reason: Some(finish),
        native_finish_reason: Some(native),
    })
}

#[cfg(test)]
mod tests;
