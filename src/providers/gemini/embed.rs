//! OpenAI embeddings requests served by Gemini's `models/{model}:batchEmbedContents`: one
//! request per input text, answered in OpenAI's list shape (floats or base64 of
//! little-endian f32s, as the client asked). Gemini reports no usage: the answer carries an
//! estimate and the record is marked estimated.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Gemini;
use crate::providers::http;
use crate::providers::{Completion, NativeRequest, ProviderError};
use crate::types::usage::estimate_tokens;
use crate::types::{InvalidRequest, RawObject};

#[derive(Serialize)]
struct Batch<'a> {
    requests: Vec<One<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct One<'a> {
    model: &'a str,
    content: Content<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimensionality: Option<u32>,
}

#[derive(Serialize)]
struct Content<'a> {
    parts: [Part<'a>; 1],
}

#[derive(Serialize)]
struct Part<'a> {
    text: &'a str,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    embeddings: Vec<Values>,
}

#[derive(Deserialize)]
struct Values {
    #[serde(default)]
    values: Vec<f32>,
}

fn unsupported(message: &str, param: &'static str) -> ProviderError {
    ProviderError::Unsupported(InvalidRequest::new(
        message,
        Some(param),
        "unsupported_value",
    ))
}

impl Gemini {
    pub(super) async fn embed(&self, req: NativeRequest<'_>) -> Result<Completion, ProviderError> {
        let body = &req.body.body;
        let texts = match body.get_as::<serde_json::Value>("input") {
            Some(Ok(serde_json::Value::String(s))) => vec![s],
            Some(Ok(serde_json::Value::Array(items))) => items
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => Ok(s),
                    _ => Err(unsupported(
                        "Gemini embeds text only: send `input` as a string or strings",
                        "input",
                    )),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(unsupported("`input` must be text", "input")),
        };
        let dimensions = body.get_as::<u32>("dimensions").and_then(Result::ok);
        let base64 = body
            .get_as::<String>("encoding_format")
            .and_then(Result::ok)
            .is_some_and(|f| f == "base64");
        let model = req
            .upstream_model
            .strip_prefix("models/")
            .unwrap_or(req.upstream_model);
        let qualified = format!("models/{model}");
        let batch = Batch {
            requests: texts
                .iter()
                .map(|t| One {
                    model: &qualified,
                    content: Content {
                        parts: [Part { text: t }],
                    },
                    output_dimensionality: dimensions,
                })
                .collect(),
        };
        let bytes = serde_json::to_vec(&batch)
            .map_err(|e| ProviderError::Malformed(format!("could not encode the request: {e}")))?;
        let url = format!("{}/models/{model}:batchEmbedContents", self.base);
        let resp = self.send(url, bytes, req.trace).await?;
        let raw = http::read_capped(resp, self.limits.max_response_bytes).await?;
        let answer: Answer = serde_json::from_slice(&raw).map_err(|e| {
            ProviderError::Malformed(format!(
                "not a batchEmbedContents answer ({e}): {}",
                http::truncate(&String::from_utf8_lossy(&raw), 200)
            ))
        })?;
        if answer.embeddings.len() != texts.len() {
            return Err(ProviderError::Malformed(format!(
                "{} embeddings for {} inputs",
                answer.embeddings.len(),
                texts.len()
            )));
        }
        let data: Vec<serde_json::Value> = answer
            .embeddings
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let embedding = if base64 {
                    let bytes: Vec<u8> = e.values.iter().flat_map(|f| f.to_le_bytes()).collect();
                    json!(base64::engine::general_purpose::STANDARD.encode(bytes))
                } else {
                    json!(e.values)
                };
                json!({"object": "embedding", "index": i, "embedding": embedding})
            })
            .collect();
        let tokens = estimate_tokens(texts.iter().map(String::len).sum());
        let out = json!({"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}});
        Ok(Completion {
            body: RawObject::from_serialize(&out).map_err(|e| {
                ProviderError::Malformed(format!("could not encode the answer: {e}"))
            })?,
            // Estimated: the record says so rather than taking the figure above as reported.
            usage: None,
            upstream_id: None,
            native: None,
        })
    }
}
