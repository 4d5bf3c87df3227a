//! A typed view of the OpenAI Chat Completions request and response, for adapters that
//! translate to another wire format (Anthropic, Gemini, Bedrock). The OpenAI-compatible adapter
//! never uses it: it forwards the raw request.
//!
//! Parsing is strict where a translator needs a shape (messages, tools) and lenient elsewhere;
//! a request the typed view cannot represent is the client's error (400).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{InvalidRequest, RawObject, Usage};

/// The request fields translators act on. Unknown fields are ignored here (the
/// OpenAI-compatible adapter forwards them; translators decide per field in `capabilities`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChatParams {
    pub messages: Vec<Message>,
    #[serde(default)]
    pub tools: Option<Vec<Tool>>,
    #[serde(default)]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub max_tokens: Option<u64>,
    #[serde(default)]
    pub max_completion_tokens: Option<u64>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub top_k: Option<u64>,
    #[serde(default)]
    pub seed: Option<i64>,
    #[serde(default)]
    pub stop: Option<Stop>,
    #[serde(default)]
    pub n: Option<u64>,
    #[serde(default)]
    pub presence_penalty: Option<f64>,
    #[serde(default)]
    pub frequency_penalty: Option<f64>,
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
    #[serde(default)]
    pub reasoning_effort: Option<String>,
    /// OpenRouter's unified reasoning control.
    #[serde(default)]
    pub reasoning: Option<Reasoning>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub logprobs: Option<bool>,
    #[serde(default)]
    pub top_logprobs: Option<u64>,
    #[serde(default)]
    pub logit_bias: Option<Map<String, Value>>,
}

impl ChatParams {
    /// Parses the typed view from a request body.
    pub fn from_body(body: &RawObject) -> Result<ChatParams, InvalidRequest> {
        let bytes = body.to_vec();
        serde_json::from_slice(&bytes).map_err(|e| {
            InvalidRequest::new(
                format!("The request cannot be translated for this provider: {e}"),
                None,
                "invalid_value",
            )
        })
    }

    /// The output-token cap the client asked for, under either name.
    pub fn max_output_tokens(&self) -> Option<u64> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    /// Reasoning effort from `reasoning.effort` or `reasoning_effort`.
    pub fn effort(&self) -> Option<&str> {
        self.reasoning
            .as_ref()
            .and_then(|r| r.effort.as_deref())
            .or(self.reasoning_effort.as_deref())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reasoning {
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub max_tokens: Option<u64>,
    #[serde(default)]
    pub exclude: Option<bool>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

impl Stop {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s.clone()],
            Stop::Many(v) => v.clone(),
        }
    }
}

/// One message, by role.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
    System {
        content: Content,
    },
    Developer {
        content: Content,
    },
    User {
        content: Content,
    },
    Assistant {
        #[serde(default)]
        content: Option<Content>,
        #[serde(default)]
        tool_calls: Option<Vec<ToolCall>>,
        #[serde(default)]
        refusal: Option<String>,
        /// OpenRouter's reasoning extension, echoed back by clients on later turns.
        #[serde(default)]
        reasoning: Option<String>,
        #[serde(default)]
        reasoning_details: Option<Vec<Value>>,
    },
    Tool {
        content: Content,
        tool_call_id: String,
    },
}

/// Message content: a string or a list of parts.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

impl Content {
    /// The text of all text parts, joined (other parts are ignored).
    pub fn text(&self) -> String {
        match self {
            Content::Text(s) => s.clone(),
            Content::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    Part::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(""),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
    InputAudio { input_audio: InputAudio },
    File { file: FilePart },
    Refusal { refusal: String },
}

#[derive(Debug, Clone, Deserialize)]
pub struct ImageUrl {
    pub url: String,
    #[serde(default)]
    pub detail: Option<String>,
}

/// An image as the client gave it: inline bytes or a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource<'a> {
    /// `data:<mime>;base64,<data>`
    Base64 {
        media_type: &'a str,
        data: &'a str,
    },
    Url(&'a str),
}

impl ImageUrl {
    /// Splits a data URL; anything else is a link.
    pub fn source(&self) -> Result<ImageSource<'_>, InvalidRequest> {
        match self.url.strip_prefix("data:") {
            None => Ok(ImageSource::Url(&self.url)),
            Some(rest) => {
                let (meta, data) = rest.split_once(',').ok_or_else(bad_data_url)?;
                let media_type = meta.strip_suffix(";base64").ok_or_else(bad_data_url)?;
                Ok(ImageSource::Base64 { media_type, data })
            }
        }
    }
}

fn bad_data_url() -> InvalidRequest {
    InvalidRequest::new(
        "An image data URL must look like data:<media type>;base64,<data>",
        Some("messages"),
        "invalid_value",
    )
}

#[derive(Debug, Clone, Deserialize)]
pub struct InputAudio {
    pub data: String,
    pub format: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FilePart {
    #[serde(default)]
    pub file_data: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub file_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_type() -> String {
    "function".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    /// JSON text, as OpenAI sends it.
    #[serde(default)]
    pub arguments: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Tool {
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionDef,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FunctionDef {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    /// `"none"`, `"auto"` or `"required"`.
    Mode(String),
    Named(NamedToolChoice),
}

#[derive(Debug, Clone, Deserialize)]
pub struct NamedToolChoice {
    pub function: NamedFunction,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NamedFunction {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaFormat },
}

#[derive(Debug, Clone, Deserialize)]
pub struct JsonSchemaFormat {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub schema: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

/// The finish reasons OpenAI clients know, plus OpenRouter's `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    Error,
}

/// A whole `chat.completion` built by a translator (one choice).
#[derive(Debug, Clone, Serialize)]
pub struct CompletionOut {
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub model: String,
    pub choices: Vec<ChoiceOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChoiceOut {
    pub index: u32,
    pub message: MessageOut,
    pub logprobs: Option<Value>,
    pub finish_reason: Option<FinishReason>,
    /// The provider's own stop reason, as OpenRouter reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_finish_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageOut {
    pub role: &'static str,
    pub content: Option<String>,
    pub refusal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_details: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
}

/// One `chat.completion.chunk` built by a stream translator.
#[derive(Debug, Clone, Serialize)]
pub struct ChunkOut {
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub model: String,
    pub choices: Vec<ChunkChoiceOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChunkChoiceOut {
    pub index: u32,
    pub delta: DeltaOut,
    pub logprobs: Option<Value>,
    pub finish_reason: Option<FinishReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_finish_reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DeltaOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_details: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
}

/// A tool-call fragment: `id`, `type` and `name` only in the first fragment of a call.
#[derive(Debug, Clone, Serialize)]
pub struct ToolCallDelta {
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: FunctionDelta,
}

#[derive(Debug, Clone, Serialize)]
pub struct FunctionDelta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub arguments: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_role_and_part() {
        let body = RawObject::parse(
            br#"{"messages":[
                {"role":"system","content":"be brief"},
                {"role":"developer","content":[{"type":"text","text":"dev"}]},
                {"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},
                {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
                {"role":"tool","tool_call_id":"c1","content":"ok"}],
              "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
              "tool_choice":{"type":"function","function":{"name":"f"}},
              "response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"}}},
              "stop":"END","max_tokens":10,"reasoning":{"effort":"low"}}"#,
        )
        .unwrap();
        let p = ChatParams::from_body(&body).unwrap();
        assert_eq!(p.messages.len(), 5);
        assert_eq!(p.max_output_tokens(), Some(10));
        assert_eq!(p.effort(), Some("low"));
        assert!(matches!(p.tool_choice, Some(ToolChoice::Named(_))));
        let Message::User {
            content: Content::Parts(parts),
        } = &p.messages[2]
        else {
            panic!()
        };
        let Part::ImageUrl { image_url } = &parts[1] else {
            panic!()
        };
        assert_eq!(
            image_url.source().unwrap(),
            ImageSource::Base64 {
                media_type: "image/png",
                data: "AAAA"
            }
        );
    }

    #[test]
    fn untranslatable_requests_are_client_errors() {
        let body = RawObject::parse(br#"{"messages":[{"role":"wizard","content":"x"}]}"#).unwrap();
        assert!(ChatParams::from_body(&body).is_err());
    }
}
