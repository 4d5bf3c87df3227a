//! The stream translator: ConverseStream events → OpenAI `chat.completion.chunk`s (8.4).
//!
//! `Translator` holds what one stream needs to remember (which content block index is which
//! kind of output, the OpenAI tool-call index of each tool block, the stop reason) around a
//! pure `step` function, tested event by event. Order on the wire: `messageStart`, blocks
//! (`contentBlockStart` only for tool use; text and reasoning blocks start with their first
//! delta), `messageStop` with the stop reason, then `metadata` with usage. The stream is
//! complete after `metadata`; a body that ends after `messageStop` but before `metadata` is
//! complete too (no usage chunk: the gateway estimates), one that ends before `messageStop`
//! was cut.

use std::collections::HashMap;

use super::convert::{self, ResponseMode};
use super::errors;
use super::wire::{BlockDeltaEvent, BlockStart, StreamEvent};
use crate::providers::anthropic::convert::{
    generated_call_id, reasoning_encrypted_detail, reasoning_text_detail, JSON_TOOL,
};
use crate::providers::ProviderError;
use crate::types::openai::{
    ChunkChoiceOut, ChunkOut, DeltaOut, FinishReason, FunctionDelta, ToolCallDelta,
};

/// What a Converse content block turns into.
#[derive(Debug, Clone, Copy)]
enum Open {
    /// A client tool call with its OpenAI index; `args` once an argument fragment went out.
    Tool {
        index: u32,
        args: bool,
    },
    /// The JSON tool (`response_format`): its input streams out as content.
    Json {
        sent: bool,
    },
    Reasoning {
        index: u32,
    },
}

#[derive(Debug)]
pub struct Translator {
    mode: ResponseMode,
    created: i64,
    /// Bedrock's request id: the id of every chunk.
    id: String,
    model: String,
    blocks: HashMap<u32, Open>,
    tool_calls: u32,
    reasoning_blocks: u32,
    started: bool,
    stop_reason: Option<String>,
    finish_sent: bool,
    done: bool,
}

impl Translator {
    pub fn new(id: String, model: &str, mode: ResponseMode, created: i64) -> Self {
        Translator {
            mode,
            created,
            id,
            model: model.to_owned(),
            blocks: HashMap::new(),
            tool_calls: 0,
            reasoning_blocks: 0,
            started: false,
            stop_reason: None,
            finish_sent: false,
            done: false,
        }
    }

    /// `metadata` was seen: the stream is complete and anything after it is ignored.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// One upstream event → zero or more chunks, or the stream's error.
    pub fn step(&mut self, event: StreamEvent) -> Result<Vec<ChunkOut>, ProviderError> {
        if self.done {
            return Ok(Vec::new());
        }
        match event {
            StreamEvent::Other => Ok(Vec::new()),
            StreamEvent::Exception { kind, message } => {
                Err(errors::from_exception(&kind, &message))
            }
            StreamEvent::MessageStart => {
                if self.started {
                    return Err(ProviderError::Malformed("a second messageStart".into()));
                }
                self.started = true;
                Ok(vec![self.chunk(DeltaOut {
                    role: Some("assistant"),
                    content: Some(String::new()),
                    ..DeltaOut::default()
                })])
            }
            _ if !self.started => Err(ProviderError::Malformed(
                "stream event before messageStart".into(),
            )),
            StreamEvent::ContentBlockStart(start) => Ok(self.block_start(start)),
            StreamEvent::ContentBlockDelta(delta) => Ok(self.block_delta(delta)),
            StreamEvent::ContentBlockStop(b) => Ok(self.block_stop(b.content_block_index)),
            StreamEvent::MessageStop(stop) => {
                self.stop_reason = stop.stop_reason;
                Ok(if self.finish_sent {
                    Vec::new()
                } else {
                    vec![self.finish_chunk()]
                })
            }
            StreamEvent::Metadata(meta) => {
                self.done = true;
                let mut out = Vec::new();
                if !self.finish_sent {
                    out.push(self.finish_chunk());
                }
                if let Some(u) = meta.usage {
                    out.push(ChunkOut {
                        choices: Vec::new(),
                        usage: Some(convert::usage(&u)),
                        ..self.chunk(DeltaOut::default())
                    });
                }
                Ok(out)
            }
        }
    }

    /// The upstream body ended (or broke). Complete if the finish went out; otherwise the
    /// stream was cut.
    pub fn end(&mut self) -> Result<Vec<ChunkOut>, ProviderError> {
        if self.done {
            return Ok(Vec::new());
        }
        if !self.finish_sent {
            return Err(ProviderError::Cut(
                "the Bedrock stream ended before messageStop".into(),
            ));
        }
        self.done = true;
        Ok(Vec::new())
    }

    fn block_start(&mut self, start: BlockStart) -> Vec<ChunkOut> {
        // Only tool use has a start event; other kinds open with their first delta.
        let Some(tool) = start.start.tool_use else {
            return Vec::new();
        };
        if self.mode.json_tool && tool.name == JSON_TOOL {
            self.blocks
                .insert(start.content_block_index, Open::Json { sent: false });
            return Vec::new();
        }
        let k = self.tool_calls;
        self.tool_calls += 1;
        self.blocks.insert(
            start.content_block_index,
            Open::Tool {
                index: k,
                args: false,
            },
        );
        let id = tool.tool_use_id.unwrap_or_else(generated_call_id);
        vec![self.chunk(tool_delta(k, Some(id), Some(tool.name), String::new()))]
    }

    fn block_delta(&mut self, ev: BlockDeltaEvent) -> Vec<ChunkOut> {
        let index = ev.content_block_index;
        let delta = ev.delta;
        let mut out = Vec::new();
        if let Some(text) = delta.text.filter(|t| !t.is_empty()) {
            out.push(DeltaOut {
                content: Some(text),
                ..DeltaOut::default()
            });
        }
        if let Some(fragment) = delta.tool_use.map(|t| t.input).filter(|f| !f.is_empty()) {
            match self.blocks.get(&index).copied() {
                Some(Open::Tool { index: k, .. }) => {
                    self.blocks.insert(
                        index,
                        Open::Tool {
                            index: k,
                            args: true,
                        },
                    );
                    out.push(tool_delta(k, None, None, fragment));
                }
                Some(Open::Json { .. }) => {
                    self.blocks.insert(index, Open::Json { sent: true });
                    out.push(DeltaOut {
                        content: Some(fragment),
                        ..DeltaOut::default()
                    });
                }
                // Input for a block that never started: nothing to attach it to.
                _ => {}
            }
        }
        if let Some(r) = delta
            .reasoning_content
            .filter(|_| !self.mode.exclude_reasoning)
        {
            let k = match self.blocks.get(&index) {
                Some(Open::Reasoning { index: k }) => *k,
                _ => {
                    let k = self.reasoning_blocks;
                    self.reasoning_blocks += 1;
                    self.blocks.insert(index, Open::Reasoning { index: k });
                    k
                }
            };
            if let Some(text) = r.text.filter(|t| !t.is_empty()) {
                out.push(DeltaOut {
                    reasoning_details: Some(vec![reasoning_text_detail(k, Some(&text), None)]),
                    reasoning: Some(text),
                    ..DeltaOut::default()
                });
            }
            if let Some(signature) = r.signature {
                out.push(DeltaOut {
                    reasoning_details: Some(vec![reasoning_text_detail(k, None, Some(&signature))]),
                    ..DeltaOut::default()
                });
            }
            if let Some(data) = r.redacted_content {
                out.push(DeltaOut {
                    reasoning_details: Some(vec![reasoning_encrypted_detail(k, &data)]),
                    ..DeltaOut::default()
                });
            }
        }
        out.into_iter().map(|d| self.chunk(d)).collect()
    }

    /// A tool block that streamed no argument fragment (a tool without parameters) still
    /// owes the client valid JSON arguments.
    fn block_stop(&mut self, index: u32) -> Vec<ChunkOut> {
        let delta = match self.blocks.remove(&index) {
            Some(Open::Tool {
                index: k,
                args: false,
            }) => tool_delta(k, None, None, "{}".into()),
            Some(Open::Json { sent: false }) => DeltaOut {
                content: Some("{}".into()),
                ..DeltaOut::default()
            },
            _ => return Vec::new(),
        };
        vec![self.chunk(delta)]
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

    fn chunk(&self, delta: DeltaOut) -> ChunkOut {
        ChunkOut {
            id: self.id.clone(),
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

fn tool_delta(index: u32, id: Option<String>, name: Option<String>, arguments: String) -> DeltaOut {
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

#[cfg(test)]
mod tests;
