//! The stream translator: Anthropic SSE events → OpenAI `chat.completion.chunk`s (8.4).
//!
//! `Translator` holds what one stream needs to remember (ids, which Anthropic block index is
//! which kind of output, the OpenAI tool-call index of each tool block, usage so far) around
//! a pure `step` function, so every rule is tested event by event with recorded captures.
//! Usage comes from `message_start` (input side) and the last `message_delta` (cumulative
//! output); later values replace earlier ones, nothing is added twice.

use std::collections::HashMap;

use super::convert::{
    self, reasoning_encrypted_detail, reasoning_text_detail, ResponseMode, JSON_TOOL,
};
use super::errors;
use super::wire::{BlockDelta, RespBlock, StreamEvent, WireUsage};
use crate::providers::ProviderError;
use crate::types::openai::{
    ChunkChoiceOut, ChunkOut, DeltaOut, FinishReason, FunctionDelta, ToolCallDelta,
};

/// What an open Anthropic content block turns into.
#[derive(Debug, Clone, Copy)]
enum Open {
    Text,
    /// A client tool call with its OpenAI index; `args` once an argument fragment went out.
    Tool {
        index: u32,
        args: bool,
    },
    /// The `json_object` tool: its input streams out as content.
    Json {
        sent: bool,
    },
    Thinking {
        index: u32,
    },
    Ignored,
}

#[derive(Debug)]
pub struct Translator {
    mode: ResponseMode,
    created: i64,
    /// Set by `message_start`.
    id: Option<String>,
    model: String,
    blocks: HashMap<u32, Open>,
    tool_calls: u32,
    reasoning_blocks: u32,
    usage: WireUsage,
    stop_reason: Option<String>,
    finish_sent: bool,
    usage_sent: bool,
    stopped: bool,
}

impl Translator {
    pub fn new(mode: ResponseMode, created: i64) -> Self {
        Translator {
            mode,
            created,
            id: None,
            model: String::new(),
            blocks: HashMap::new(),
            tool_calls: 0,
            reasoning_blocks: 0,
            usage: WireUsage::default(),
            stop_reason: None,
            finish_sent: false,
            usage_sent: false,
            stopped: false,
        }
    }

    /// `message_stop` was seen: the stream is complete and anything after it is ignored.
    pub fn is_done(&self) -> bool {
        self.stopped
    }

    /// Parses one SSE data payload and steps.
    pub fn step_data(&mut self, data: &str) -> Result<Vec<ChunkOut>, ProviderError> {
        let event = serde_json::from_str::<StreamEvent>(data).map_err(|e| {
            ProviderError::Malformed(format!(
                "stream event ({e}): {}",
                crate::providers::http::truncate(data, 200)
            ))
        })?;
        self.step(event)
    }

    /// One upstream event → zero or more chunks, or the stream's error.
    pub fn step(&mut self, event: StreamEvent) -> Result<Vec<ChunkOut>, ProviderError> {
        if self.stopped {
            return Ok(Vec::new());
        }
        match event {
            StreamEvent::Ping | StreamEvent::Other => Ok(Vec::new()),
            StreamEvent::Error { error } => Err(errors::from_event(error)),
            StreamEvent::MessageStart { message } => {
                if self.id.is_some() {
                    return Err(ProviderError::Malformed("a second message_start".into()));
                }
                self.id = Some(message.id);
                self.model = message.model;
                self.merge_usage(message.usage);
                Ok(vec![self.chunk(DeltaOut {
                    role: Some("assistant"),
                    content: Some(String::new()),
                    ..DeltaOut::default()
                })])
            }
            _ if self.id.is_none() => Err(ProviderError::Malformed(
                "stream event before message_start".into(),
            )),
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => Ok(self.block_start(index, content_block)),
            StreamEvent::ContentBlockDelta { index, delta } => Ok(self.block_delta(index, delta)),
            StreamEvent::ContentBlockStop { index } => Ok(self.block_stop(index)),
            StreamEvent::MessageDelta { delta, usage } => {
                if let Some(u) = usage {
                    self.merge_usage(u);
                }
                if delta.stop_reason.is_some() {
                    self.stop_reason = delta.stop_reason;
                }
                if self.stop_reason.is_some() && !self.finish_sent {
                    return Ok(vec![self.finish_chunk()]);
                }
                Ok(Vec::new())
            }
            StreamEvent::MessageStop => {
                self.stopped = true;
                let mut out = Vec::new();
                if !self.finish_sent {
                    out.push(self.finish_chunk());
                }
                out.push(self.usage_chunk());
                Ok(out)
            }
        }
    }

    /// The upstream body ended (or broke). Complete if the finish went out; otherwise the
    /// stream was cut.
    pub fn end(&mut self) -> Result<Vec<ChunkOut>, ProviderError> {
        if self.stopped {
            return Ok(Vec::new());
        }
        if !self.finish_sent {
            return Err(ProviderError::Cut(
                "the Anthropic stream ended before message_stop".into(),
            ));
        }
        self.stopped = true;
        Ok(if self.usage_sent {
            Vec::new()
        } else {
            vec![self.usage_chunk()]
        })
    }

    fn block_start(&mut self, index: u32, block: RespBlock) -> Vec<ChunkOut> {
        let (open, delta) = match block {
            RespBlock::Text { text } => (
                Open::Text,
                (!text.is_empty()).then(|| DeltaOut {
                    content: Some(text),
                    ..DeltaOut::default()
                }),
            ),
            RespBlock::ToolUse { name, input, .. } if self.mode.json_tool && name == JSON_TOOL => {
                let initial = non_empty_input(&input);
                (
                    Open::Json {
                        sent: initial.is_some(),
                    },
                    initial.map(|json| DeltaOut {
                        content: Some(json),
                        ..DeltaOut::default()
                    }),
                )
            }
            RespBlock::ToolUse { id, name, input } => {
                let k = self.tool_calls;
                self.tool_calls += 1;
                // The skeleton's input is `{}`; the arguments follow as fragments.
                let initial = non_empty_input(&input);
                let delta = self.tool_delta(
                    k,
                    Some(id.unwrap_or_else(convert::generated_call_id)),
                    Some(name),
                    initial.clone().unwrap_or_default(),
                );
                (
                    Open::Tool {
                        index: k,
                        args: initial.is_some(),
                    },
                    Some(delta),
                )
            }
            _ if self.mode.exclude_reasoning => (Open::Ignored, None),
            RespBlock::Thinking { thinking, .. } => {
                let k = self.reasoning_blocks;
                self.reasoning_blocks += 1;
                (
                    Open::Thinking { index: k },
                    (!thinking.is_empty()).then(|| reasoning_delta(k, thinking)),
                )
            }
            RespBlock::RedactedThinking { data } => {
                let k = self.reasoning_blocks;
                self.reasoning_blocks += 1;
                (
                    Open::Ignored,
                    Some(DeltaOut {
                        reasoning_details: Some(vec![reasoning_encrypted_detail(k, &data)]),
                        ..DeltaOut::default()
                    }),
                )
            }
            RespBlock::Other => (Open::Ignored, None),
        };
        self.blocks.insert(index, open);
        delta.map(|d| vec![self.chunk(d)]).unwrap_or_default()
    }

    fn block_delta(&mut self, index: u32, delta: BlockDelta) -> Vec<ChunkOut> {
        let open = self.blocks.get(&index).copied().unwrap_or(Open::Ignored);
        let out = match (open, delta) {
            (Open::Text, BlockDelta::TextDelta { text }) if !text.is_empty() => Some(DeltaOut {
                content: Some(text),
                ..DeltaOut::default()
            }),
            (Open::Tool { index: k, .. }, BlockDelta::InputJsonDelta { partial_json })
                if !partial_json.is_empty() =>
            {
                self.blocks.insert(
                    index,
                    Open::Tool {
                        index: k,
                        args: true,
                    },
                );
                Some(self.tool_delta(k, None, None, partial_json))
            }
            (Open::Json { .. }, BlockDelta::InputJsonDelta { partial_json })
                if !partial_json.is_empty() =>
            {
                self.blocks.insert(index, Open::Json { sent: true });
                Some(DeltaOut {
                    content: Some(partial_json),
                    ..DeltaOut::default()
                })
            }
            (Open::Thinking { index: k }, BlockDelta::ThinkingDelta { thinking })
                if !thinking.is_empty() =>
            {
                Some(reasoning_delta(k, thinking))
            }
            (Open::Thinking { index: k }, BlockDelta::SignatureDelta { signature }) => {
                Some(DeltaOut {
                    reasoning_details: Some(vec![reasoning_text_detail(k, None, Some(&signature))]),
                    ..DeltaOut::default()
                })
            }
            _ => None,
        };
        out.map(|d| vec![self.chunk(d)]).unwrap_or_default()
    }

    /// A tool block that streamed no argument fragment (a tool without parameters) still
    /// owes the client valid JSON arguments.
    fn block_stop(&mut self, index: u32) -> Vec<ChunkOut> {
        match self.blocks.remove(&index) {
            Some(Open::Tool {
                index: k,
                args: false,
            }) => {
                let d = self.tool_delta(k, None, None, "{}".into());
                vec![self.chunk(d)]
            }
            Some(Open::Json { sent: false }) => vec![self.chunk(DeltaOut {
                content: Some("{}".into()),
                ..DeltaOut::default()
            })],
            _ => Vec::new(),
        }
    }

    fn tool_delta(
        &self,
        index: u32,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    ) -> DeltaOut {
        let first = id.is_some();
        DeltaOut {
            tool_calls: Some(vec![ToolCallDelta {
                index,
                id,
                kind: first.then_some("function"),
                function: FunctionDelta { name, arguments },
            }]),
            ..DeltaOut::default()
        }
    }

    fn merge_usage(&mut self, u: WireUsage) {
        let cur = &mut self.usage;
        cur.input_tokens = u.input_tokens.or(cur.input_tokens);
        cur.output_tokens = u.output_tokens.or(cur.output_tokens);
        cur.cache_creation_input_tokens = u
            .cache_creation_input_tokens
            .or(cur.cache_creation_input_tokens);
        cur.cache_read_input_tokens = u.cache_read_input_tokens.or(cur.cache_read_input_tokens);
        if u.output_tokens_details.is_some() {
            cur.output_tokens_details = u.output_tokens_details;
        }
    }

    fn finish_chunk(&mut self) -> ChunkOut {
        self.finish_sent = true;
        let finish = convert::finish_reason(self.stop_reason.as_deref(), self.tool_calls > 0);
        let mut c = self.chunk(DeltaOut::default());
        if let Some(choice) = c.choices.first_mut() {
            choice.finish_reason = Some(finish);
            choice.native_finish_reason = self.stop_reason.clone();
        }
        c
    }

    fn usage_chunk(&mut self) -> ChunkOut {
        self.usage_sent = true;
        ChunkOut {
            id: self.id.clone().unwrap_or_default(),
            object: "chat.completion.chunk",
            created: self.created,
            model: self.model.clone(),
            choices: Vec::new(),
            usage: Some(convert::usage(&self.usage)),
        }
    }

    fn chunk(&self, delta: DeltaOut) -> ChunkOut {
        ChunkOut {
            id: self.id.clone().unwrap_or_default(),
            object: "chat.completion.chunk",
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoiceOut {
                index: 0,
                delta,
                logprobs: None,
                finish_reason: None::<FinishReason>,
                native_finish_reason: None,
            }],
            usage: None,
        }
    }
}

fn reasoning_delta(index: u32, text: String) -> DeltaOut {
    DeltaOut {
        reasoning_details: Some(vec![reasoning_text_detail(index, Some(&text), None)]),
        reasoning: Some(text),
        ..DeltaOut::default()
    }
}

/// The input of a `tool_use` skeleton when it is not the usual empty object.
fn non_empty_input(input: &serde_json::Value) -> Option<String> {
    match input {
        serde_json::Value::Object(m) if m.is_empty() => None,
        serde_json::Value::Null => None,
        v => Some(v.to_string()),
    }
}

#[cfg(test)]
mod tests;
