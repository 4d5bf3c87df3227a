//! Bedrock Converse bodies, as serde structs private to the adapter. Requests borrow from the
//! client's typed request where they can. Converse unions (content blocks, deltas) are objects
//! with exactly one key; responses read them as structs of optional members, so members this
//! adapter does not know (citations, guard content, newer ones) are ignored, never fatal.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::eventstream::Message;

/// `POST /model/{modelId}/converse` (and `/converse-stream`) body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseRequest<'a> {
    pub messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<SystemBlock<'a>>,
    #[serde(skip_serializing_if = "InferenceConfig::is_empty")]
    pub inference_config: InferenceConfig<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig<'a>>,
    /// Model-native fields (`top_k`, Claude's `thinking`).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub additional_model_request_fields: Map<String, Value>,
}

#[derive(Debug, Serialize)]
pub struct SystemBlock<'a> {
    pub text: Cow<'a, str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Serialize)]
pub struct WireMessage<'a> {
    pub role: Role,
    pub content: Vec<Block<'a>>,
}

/// A request content block: `{"text": …}`, `{"image": …}`, `{"toolUse": …}`, ….
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Block<'a> {
    Text(Cow<'a, str>),
    Image(Image<'a>),
    Document(Document<'a>),
    ToolUse(ToolUse<'a>),
    ToolResult(ToolResult<'a>),
    ReasoningContent(Reasoning<'a>),
}

#[derive(Debug, Serialize)]
pub struct Image<'a> {
    /// `png`, `jpeg`, `gif` or `webp`.
    pub format: &'static str,
    pub source: BytesSource<'a>,
}

#[derive(Debug, Serialize)]
pub struct Document<'a> {
    pub format: &'static str,
    pub name: String,
    pub source: BytesSource<'a>,
}

/// Binary data, base64 in JSON.
#[derive(Debug, Serialize)]
pub struct BytesSource<'a> {
    pub bytes: Cow<'a, str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUse<'a> {
    pub tool_use_id: &'a str,
    pub name: &'a str,
    pub input: Value,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResult<'a> {
    pub tool_use_id: &'a str,
    pub content: Vec<ToolResultBlock<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ToolResultBlock<'a> {
    Text(Cow<'a, str>),
    Image(Image<'a>),
}

/// Claude's thinking, echoed back: `{"reasoningText": {text, signature}}` or
/// `{"redactedContent": "<base64>"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Reasoning<'a> {
    ReasoningText {
        text: Cow<'a, str>,
        signature: Cow<'a, str>,
    },
    RedactedContent(Cow<'a, str>),
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<&'a str>>,
}

impl InferenceConfig<'_> {
    pub fn is_empty(&self) -> bool {
        self.max_tokens.is_none()
            && self.temperature.is_none()
            && self.top_p.is_none()
            && self.stop_sequences.is_none()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig<'a> {
    pub tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<WireToolChoice<'a>>,
}

/// `{"toolSpec": {...}}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool<'a> {
    pub tool_spec: ToolSpec<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSpec<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub input_schema: InputSchema<'a>,
}

#[derive(Debug, Serialize)]
pub struct InputSchema<'a> {
    pub json: Cow<'a, Value>,
}

/// `{"auto": {}}`, `{"any": {}}` or `{"tool": {"name": …}}`; Converse has no "none".
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum WireToolChoice<'a> {
    Auto {},
    Any {},
    Tool { name: &'a str },
}

// ---- responses ----------------------------------------------------------------------------

/// A whole Converse response. (It carries no id: the adapter uses the request id header.)
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseResponse {
    #[serde(default)]
    pub output: Output,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Output {
    #[serde(default)]
    pub message: Option<RespMessage>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RespMessage {
    #[serde(default)]
    pub content: Vec<RespBlock>,
}

/// A response content block: one of these members is set.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RespBlock {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub tool_use: Option<RespToolUse>,
    #[serde(default)]
    pub reasoning_content: Option<RespReasoning>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RespToolUse {
    #[serde(default)]
    pub tool_use_id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub input: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RespReasoning {
    #[serde(default)]
    pub reasoning_text: Option<ReasoningText>,
    /// Base64.
    #[serde(default)]
    pub redacted_content: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ReasoningText {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub signature: Option<String>,
}

/// Token counts; cache counts are separate from `inputTokens`. (`totalTokens` is not read:
/// the gateway's total is the sum of its prompt and completion counts.)
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_write_input_tokens: Option<u64>,
}

/// `{"message": "…"}`, the body of HTTP errors and of in-stream exceptions (some AWS front
/// ends spell it `Message`).
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default, alias = "Message")]
    pub message: Option<String>,
}

// ---- stream events ------------------------------------------------------------------------

/// One ConverseStream message, by its `:event-type` (or `:exception-type`) header.
#[derive(Debug)]
pub enum StreamEvent {
    MessageStart,
    ContentBlockStart(BlockStart),
    ContentBlockDelta(BlockDeltaEvent),
    ContentBlockStop(BlockIndex),
    MessageStop(MessageStop),
    Metadata(Metadata),
    /// `:message-type: exception` (`:exception-type` and the payload's message), or the
    /// framing's `error` message (`:error-code`, `:error-message`).
    Exception {
        kind: String,
        message: String,
    },
    /// An event type this adapter does not know.
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockIndex {
    pub content_block_index: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockStart {
    pub content_block_index: u32,
    #[serde(default)]
    pub start: StartBody,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartBody {
    #[serde(default)]
    pub tool_use: Option<ToolUseStart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseStart {
    #[serde(default)]
    pub tool_use_id: Option<String>,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockDeltaEvent {
    pub content_block_index: u32,
    #[serde(default)]
    pub delta: Delta,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delta {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub tool_use: Option<ToolUseDelta>,
    #[serde(default)]
    pub reasoning_content: Option<ReasoningDelta>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ToolUseDelta {
    /// A fragment of the JSON input, as text.
    #[serde(default)]
    pub input: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningDelta {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub redacted_content: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageStop {
    #[serde(default)]
    pub stop_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

impl StreamEvent {
    /// Reads one event from a decoded message: its `:message-type`, `:event-type` /
    /// `:exception-type` headers and JSON payload.
    pub fn from_message(m: &Message) -> Result<StreamEvent, serde_json::Error> {
        match m.header(":message-type") {
            Some("exception") => {
                let body: ErrorBody = serde_json::from_slice(&m.payload).unwrap_or_default();
                Ok(StreamEvent::Exception {
                    kind: m
                        .header(":exception-type")
                        .unwrap_or("unknownException")
                        .to_owned(),
                    message: body
                        .message
                        .unwrap_or_else(|| String::from_utf8_lossy(&m.payload).into_owned()),
                })
            }
            // The framing's own error messages carry everything in headers.
            Some("error") => Ok(StreamEvent::Exception {
                kind: m.header(":error-code").unwrap_or("unknownError").to_owned(),
                message: m.header(":error-message").unwrap_or("").to_owned(),
            }),
            _ => Ok(match m.header(":event-type") {
                Some("messageStart") => StreamEvent::MessageStart,
                Some("contentBlockStart") => {
                    StreamEvent::ContentBlockStart(serde_json::from_slice(&m.payload)?)
                }
                Some("contentBlockDelta") => {
                    StreamEvent::ContentBlockDelta(serde_json::from_slice(&m.payload)?)
                }
                Some("contentBlockStop") => {
                    StreamEvent::ContentBlockStop(serde_json::from_slice(&m.payload)?)
                }
                Some("messageStop") => {
                    StreamEvent::MessageStop(serde_json::from_slice(&m.payload)?)
                }
                Some("metadata") => StreamEvent::Metadata(serde_json::from_slice(&m.payload)?),
                _ => StreamEvent::Other,
            }),
        }
    }
}
