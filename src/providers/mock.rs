//! The `mock` provider: offline and deterministic, for first runs, demos and tests.
//! It answers with its scenario's reply (`{last_user}` filled in), as JSON or as a stream split
//! into the configured number of chunks with the configured delays.

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::{AttemptRequest, Chunk, ChunkStream, Completion, Provider, ProviderError};
use crate::types::registry::MockScenario;
use crate::types::usage::estimate_tokens;
use crate::types::{RawObject, Usage};

pub struct MockProvider {
    scenario: MockScenario,
}

#[derive(Deserialize)]
struct Msg {
    role: String,
    #[serde(default)]
    content: serde_json::Value,
}

impl MockProvider {
    pub fn new(scenario: MockScenario) -> Self {
        MockProvider { scenario }
    }

    fn reply(&self, req: &AttemptRequest<'_>) -> String {
        if !self.scenario.reply.contains("{last_user}") {
            return self.scenario.reply.clone();
        }
        let last_user = req
            .chat
            .body
            .get_as::<Vec<Msg>>("messages")
            .and_then(Result::ok)
            .and_then(|msgs| msgs.into_iter().rev().find(|m| m.role == "user"))
            .map(|m| match m.content {
                serde_json::Value::String(s) => s,
                serde_json::Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            })
            .unwrap_or_default();
        self.scenario.reply.replace("{last_user}", &last_user)
    }

    fn usage(&self, req: &AttemptRequest<'_>, reply: &str) -> Usage {
        Usage::new(
            estimate_tokens(req.chat.messages_len),
            estimate_tokens(reply.len()),
        )
    }

    fn fail(&self) -> Result<(), ProviderError> {
        match self.scenario.fail_status {
            Some(status) => Err(ProviderError::Status {
                status,
                message: format!("mock provider configured to fail with {status}"),
                error_type: Some("mock_error".into()),
                code: None,
                param: None,
                retry_after: None,
            }),
            None => Ok(()),
        }
    }
}

fn ids() -> (String, i64) {
    let created = crate::types::now_ms() / 1000;
    (
        format!("chatcmpl-mock-{:016x}", rand::random::<u64>()),
        created,
    )
}

/// Splits `text` into `n` pieces on char boundaries (fewer when the text is short).
fn split(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let n = n.clamp(1, chars.len().max(1));
    let per = chars.len().div_ceil(n).max(1);
    chars.chunks(per).map(|c| c.iter().collect()).collect()
}

fn obj(v: serde_json::Value) -> RawObject {
    RawObject::from_serialize(&v).unwrap_or_default()
}

#[async_trait]
impl Provider for MockProvider {
    async fn complete(&self, req: AttemptRequest<'_>) -> Result<Completion, ProviderError> {
        self.fail()?;
        if self.scenario.first_chunk_delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.scenario.first_chunk_delay_ms)).await;
        }
        let reply = self.reply(&req);
        let usage = self.usage(&req, &reply);
        let (id, created) = ids();
        let body = obj(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": req.upstream_model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": reply, "refusal": null},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": usage,
        }));
        Ok(Completion {
            body,
            usage: Some(usage),
            upstream_id: Some(id),
            native: None,
        })
    }

    async fn stream(&self, req: AttemptRequest<'_>) -> Result<ChunkStream, ProviderError> {
        self.fail()?;
        let reply = self.reply(&req);
        let usage = self.usage(&req, &reply);
        let (id, created) = ids();
        let model = req.upstream_model.to_owned();
        let chunk = move |choices: serde_json::Value, usage: Option<&Usage>| {
            let mut v = json!({
                "id": id, "object": "chat.completion.chunk", "created": created,
                "model": model, "choices": choices,
            });
            if let Some(u) = usage {
                v["usage"] = json!(u);
            }
            Chunk::inspect(obj(v))
        };
        let mut events = vec![chunk(
            json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}]),
            None,
        )];
        for piece in split(&reply, self.scenario.chunks as usize) {
            events.push(chunk(
                json!([{"index": 0, "delta": {"content": piece}, "logprobs": null, "finish_reason": null}]),
                None,
            ));
        }
        events.push(chunk(
            json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}]),
            None,
        ));
        events.push(chunk(json!([]), Some(&usage)));

        let first = Duration::from_millis(self.scenario.first_chunk_delay_ms);
        let between = Duration::from_millis(self.scenario.chunk_delay_ms);
        let stream =
            futures::stream::iter(events.into_iter().enumerate()).then(move |(i, ev)| async move {
                // The role chunk goes out at once; content waits for the configured delays.
                let delay = match i {
                    0 => Duration::ZERO,
                    1 => first,
                    _ => between,
                };
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                ev
            });
        Ok(Box::pin(stream))
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_on_char_boundaries() {
        assert_eq!(split("héllo", 2), vec!["hél", "lo"]);
        assert_eq!(split("ab", 8), vec!["a", "b"]);
        assert!(split("", 3).is_empty());
    }
}
