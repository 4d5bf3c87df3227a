//! The stream translator: Gemini SSE events → `chat.completion.chunk`s.
//!
//! Every Gemini event is a whole `GenerateContentResponse` holding only the new parts, with
//! running usage totals; there is no end marker, the body just ends. The translator keeps what
//! a stream needs across events (the id, per-candidate tool-call counters and finish state, the
//! latest usage) around a pure `step` function, so it is tested event by event with recorded
//! captures. `finish` is called when the body ends.

use std::collections::BTreeMap;

use super::convert::{
    finish_reason, logprobs, new_call_id, new_response_id, signature_detail, usage,
};
use super::{errors, wire};
use crate::providers::http::truncate as http_truncate;
use crate::providers::ProviderError;
use crate::types::openai::{
    ChunkChoiceOut, ChunkOut, DeltaOut, FinishReason, FunctionDelta, ToolCallDelta,
};

/// What every chunk of the stream repeats.
struct Head {
    id: String,
    created: i64,
    model: String,
}

impl Head {
    fn chunk(&self, index: u32, delta: DeltaOut) -> ChunkOut {
        self.chunk_with(index, delta, None, None)
    }

    fn chunk_with(
        &self,
        index: u32,
        delta: DeltaOut,
        finish_reason: Option<FinishReason>,
        native_finish_reason: Option<String>,
    ) -> ChunkOut {
        ChunkOut {
            id: self.id.clone(),
            object: "chat.completion.chunk",
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoiceOut {
                index,
                delta,
                logprobs: None,
                finish_reason,
                native_finish_reason,
            }],
            usage: None,
        }
    }
}

#[derive(Default)]
struct CandidateState {
    /// Tool calls seen so far: the next call's OpenAI `index`.
    tool_calls: u32,
    /// `reasoning_details` entries emitted so far: the next entry's `index`.
    details: usize,
    finished: bool,
}

pub struct Translator {
    head: Head,
    started: bool,
    candidates: BTreeMap<u32, CandidateState>,
    usage: Option<wire::UsageMetadata>,
    /// The prompt was blocked (`promptFeedback.blockReason`, no candidates).
    blocked: bool,
}

impl Translator {
    pub fn new(upstream_model: &str) -> Self {
        Translator {
            head: Head {
                id: String::new(),
                created: crate::types::now_ms() / 1000,
                model: upstream_model.to_owned(),
            },
            started: false,
            candidates: BTreeMap::new(),
            usage: None,
            blocked: false,
        }
    }

    /// Translates one event's `data`.
    pub fn step(&mut self, data: &str) -> Result<Vec<ChunkOut>, ProviderError> {
        let ev: wire::Response = serde_json::from_str(data).map_err(|e| {
            ProviderError::Malformed(format!(
                "Gemini stream event is not a GenerateContentResponse ({e}): {}",
                http_truncate(data, 200)
            ))
        })?;
        if let Some(error) = ev.error {
            return Err(errors::in_band(error));
        }
        if !self.started {
            self.started = true;
            // The provider's id becomes the chunk id, which is how the gateway records it.
            self.head.id = ev.response_id.unwrap_or_else(new_response_id);
            if let Some(m) = ev.model_version {
                self.head.model = m;
            }
        }
        if let Some(u) = ev.usage_metadata {
            // Running totals: the latest replaces what came before.
            self.usage = Some(u);
        }
        let mut out = Vec::new();
        if ev.candidates.is_empty() {
            let reason = ev.prompt_feedback.and_then(|f| f.block_reason);
            if let Some(reason) = reason.filter(|_| !self.blocked && self.candidates.is_empty()) {
                self.blocked = true;
                out.push(self.head.chunk(0, role_delta()));
                out.push(self.head.chunk_with(
                    0,
                    DeltaOut::default(),
                    Some(FinishReason::ContentFilter),
                    Some(reason),
                ));
            }
            return Ok(out);
        }
        for c in ev.candidates {
            self.candidate(c, &mut out)?;
        }
        Ok(out)
    }

    fn candidate(
        &mut self,
        c: wire::Candidate,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), ProviderError> {
        let head = &self.head;
        let index = c.index;
        let state = match self.candidates.entry(index) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                out.push(head.chunk(index, role_delta()));
                e.insert(CandidateState::default())
            }
        };
        let first = out.len();
        for part in c.content.map(|c| c.parts).unwrap_or_default() {
            if let Some(fc) = part.function_call {
                // Gemini sends each call whole: a header fragment, then all the arguments.
                let k = state.tool_calls;
                state.tool_calls += 1;
                let id = fc
                    .id
                    .filter(|id| !id.is_empty())
                    .unwrap_or_else(new_call_id);
                let details = part.thought_signature.map(|sig| {
                    state.details += 1;
                    vec![signature_detail(&sig, Some(&id), state.details - 1)]
                });
                out.push(head.chunk(
                    index,
                    DeltaOut {
                        tool_calls: Some(vec![ToolCallDelta {
                            index: k,
                            id: Some(id),
                            kind: Some("function"),
                            function: FunctionDelta {
                                name: Some(fc.name),
                                arguments: String::new(),
                            },
                        }]),
                        reasoning_details: details,
                        ..DeltaOut::default()
                    },
                ));
                let args = fc.args.unwrap_or_else(|| serde_json::json!({})).to_string();
                out.push(head.chunk(
                    index,
                    DeltaOut {
                        tool_calls: Some(vec![ToolCallDelta {
                            index: k,
                            id: None,
                            kind: None,
                            function: FunctionDelta {
                                name: None,
                                arguments: args,
                            },
                        }]),
                        ..DeltaOut::default()
                    },
                ));
                continue;
            }
            let text = part.text.filter(|t| !t.is_empty());
            let details = part.thought_signature.map(|sig| {
                state.details += 1;
                vec![signature_detail(&sig, None, state.details - 1)]
            });
            if text.is_none() && details.is_none() {
                continue;
            }
            let (content, reasoning) = if part.thought {
                (None, text)
            } else {
                (text, None)
            };
            out.push(head.chunk(
                index,
                DeltaOut {
                    content,
                    reasoning,
                    reasoning_details: details,
                    ..DeltaOut::default()
                },
            ));
        }
        if let Some(lp) = &c.logprobs_result {
            if out.len() == first {
                out.push(head.chunk(index, DeltaOut::default()));
            }
            if let Some(choice) = out[first].choices.first_mut() {
                choice.logprobs = Some(logprobs(lp));
            }
        }
        if let Some(native) = c.finish_reason.filter(|_| !state.finished) {
            state.finished = true;
            let reason = finish_reason(&native, state.tool_calls > 0, c.finish_message.as_deref())?;
            out.push(head.chunk_with(index, DeltaOut::default(), Some(reason), Some(native)));
        }
        Ok(())
    }

    /// The body ended: the usage chunk if every candidate finished, else the stream was cut.
    pub fn finish(&mut self) -> Result<Vec<ChunkOut>, ProviderError> {
        if self.candidates.is_empty() && !self.blocked {
            return Err(ProviderError::Cut(
                "the Gemini stream ended before any candidate".into(),
            ));
        }
        if let Some(i) = self
            .candidates
            .iter()
            .find(|(_, s)| !s.finished)
            .map(|(i, _)| i)
        {
            return Err(ProviderError::Cut(format!(
                "the Gemini stream ended before candidate {i} had a finishReason"
            )));
        }
        Ok(self
            .usage
            .as_ref()
            .map(|u| ChunkOut {
                id: self.head.id.clone(),
                object: "chat.completion.chunk",
                created: self.head.created,
                model: self.head.model.clone(),
                choices: Vec::new(),
                usage: Some(usage(u)),
            })
            .into_iter()
            .collect())
    }
}

fn role_delta() -> DeltaOut {
    DeltaOut {
        role: Some("assistant"),
        content: Some(String::new()),
        ..DeltaOut::default()
    }
}

#[cfg(test)]
mod tests;
