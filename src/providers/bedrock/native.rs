//! Native Messages passthrough for Claude on Bedrock: `InvokeModel`
//! (`/model/{id}/invoke`) and `InvokeModelWithResponseStream`
//! (`/invoke-with-response-stream`) take Anthropic's own request body — without `model` and
//! `stream`, with `anthropic_version: "bedrock-2023-05-31"`, and beta flags in
//! `anthropic_beta` instead of a header — and answer with Anthropic's own message, or its
//! events wrapped in AWS event-stream `chunk` messages (base64 in `bytes`). The client's body
//! is otherwise forwarded untouched, and what comes back reaches it as Anthropic sent it.

use std::time::SystemTime;

use base64::Engine;
use futures::StreamExt;
use serde::Deserialize;

use super::eventstream::Decoder;
use super::{errors, sign, Bedrock};
use crate::providers::anthropic::native::{completion, EventReader};
use crate::providers::http;
use crate::providers::{ChunkStream, Completion, NativeRequest, ProviderError};

/// The API version Bedrock's Claude models take in the body.
const BEDROCK_ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// Bedrock speaks Messages for Anthropic's models only (`anthropic.claude-…`, with or
/// without a cross-region prefix such as `us.`, or in an ARN).
pub(super) fn is_claude(upstream_model: &str) -> bool {
    upstream_model.contains("anthropic.claude")
}

#[derive(Deserialize)]
struct ChunkPayload {
    #[serde(default)]
    bytes: String,
}

impl Bedrock {
    /// The body InvokeModel takes: the client's, less `model` and `stream`, with Bedrock's
    /// version and the client's beta flags.
    fn invoke_body(req: &NativeRequest<'_>) -> Vec<u8> {
        let mut body = req.body.body.clone();
        body.remove("model");
        body.remove("stream");
        if !body.contains("anthropic_version") {
            body.insert("anthropic_version", BEDROCK_ANTHROPIC_VERSION);
        }
        let mut betas: Vec<String> = body
            .get_as::<Vec<String>>("anthropic_beta")
            .and_then(Result::ok)
            .unwrap_or_default();
        for (name, value) in &req.body.headers {
            if *name == "anthropic-beta" {
                for flag in value.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                    if !betas.iter().any(|b| b == flag) {
                        betas.push(flag.to_owned());
                    }
                }
            }
        }
        if !betas.is_empty() {
            body.insert("anthropic_beta", &betas);
        }
        body.to_vec()
    }

    async fn invoke(
        &self,
        req: &NativeRequest<'_>,
        stream: bool,
    ) -> Result<reqwest::Response, ProviderError> {
        let op = if stream {
            "invoke-with-response-stream"
        } else {
            "invoke"
        };
        let url = format!(
            "{}/model/{}/{op}",
            self.base,
            sign::uri_encode(req.upstream_model)
        );
        let url = reqwest::Url::parse(&url)
            .map_err(|e| http::config_error(format!("invalid upstream URL {url}: {e}")))?;
        let body = Self::invoke_body(req);
        let headers = self.request_headers(&url, &body, stream, SystemTime::now())?;
        let resp = http::send(self.client.post(url).headers(headers).body(body), req.trace)
            .await
            .map_err(http::transport_error)?;
        if !resp.status().is_success() {
            return Err(errors::from_response(resp).await);
        }
        Ok(resp)
    }

    pub(super) async fn native_complete(
        &self,
        req: NativeRequest<'_>,
    ) -> Result<Completion, ProviderError> {
        let resp = self.invoke(&req, false).await?;
        let bytes = http::read_capped(resp, self.limits.max_response_bytes).await?;
        completion(&bytes)
    }

    pub(super) async fn native_stream(
        &self,
        req: NativeRequest<'_>,
    ) -> Result<ChunkStream, ProviderError> {
        let resp = self.invoke(&req, true).await?;
        let mut bytes = resp.bytes_stream();
        let mut decoder = Decoder::new();
        let mut reader = EventReader::new();
        let chunks = async_stream::stream! {
            loop {
                let (result, last) = match decoder.next_message() {
                    Ok(Some(m)) => match m.header(":message-type") {
                        Some("exception") | Some("error") => {
                            let kind = m
                                .header(":exception-type")
                                .or_else(|| m.header(":error-code"))
                                .unwrap_or("unknownException")
                                .to_owned();
                            let message = String::from_utf8_lossy(&m.payload).into_owned();
                            (Err(errors::from_exception(&kind, &message)), true)
                        }
                        _ if m.header(":event-type") == Some("chunk") => {
                            match decode_chunk(&m.payload) {
                                Ok(data) => (reader.event(&data), false),
                                Err(e) => (Err(e), true),
                            }
                        }
                        _ => (Ok(None), false),
                    },
                    Err(e) => (Err(e), true),
                    Ok(None) => match bytes.next().await {
                        Some(Ok(part)) => {
                            decoder.push(&part);
                            continue;
                        }
                        // A broken body is only an error if the answer was not finished.
                        Some(Err(e)) => (reader.end().map_err(|_| http::transport_error(e)), true),
                        None => (reader.end(), true),
                    },
                };
                match result {
                    Ok(Some(chunk)) => yield Ok(chunk),
                    Ok(None) => {}
                    Err(e) => {
                        yield Err(e);
                        break;
                    }
                }
                if last || reader.is_done() {
                    break;
                }
            }
        };
        Ok(Box::pin(chunks))
    }
}

/// One `chunk` message's Anthropic event, as JSON text.
fn decode_chunk(payload: &[u8]) -> Result<String, ProviderError> {
    let p: ChunkPayload = serde_json::from_slice(payload)
        .map_err(|e| ProviderError::Malformed(format!("stream chunk: {e}")))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(p.bytes.as_bytes())
        .map_err(|e| ProviderError::Malformed(format!("stream chunk bytes: {e}")))?;
    String::from_utf8(raw)
        .map_err(|e| ProviderError::Malformed(format!("stream chunk is not UTF-8: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{NativeBody, Protocol};
    use crate::types::RawObject;

    #[test]
    fn claude_models_only() {
        assert!(is_claude("us.anthropic.claude-sonnet-4-5-20250929-v1:0"));
        assert!(is_claude("anthropic.claude-haiku-4-5-20251001-v1:0"));
        assert!(!is_claude("amazon.nova-pro-v1:0"));
        assert!(!is_claude("meta.llama3-70b-instruct-v1:0"));
    }

    #[test]
    fn invoke_body_moves_betas_and_version_into_the_body() {
        let body = NativeBody {
            protocol: Protocol::AnthropicMessages,
            body: RawObject::parse(
                br#"{"model":"claude-x","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}],"x_new":1}"#,
            )
            .unwrap(),
            headers: vec![("anthropic-beta", "a-1, b-2".into()), ("anthropic-version", "2023-06-01".into())],
            stream: true,
        };
        let req = NativeRequest {
            body: &body,
            upstream_model: "us.anthropic.claude",
            trace: None,
        };
        let got: serde_json::Value = serde_json::from_slice(&Bedrock::invoke_body(&req)).unwrap();
        assert_eq!(
            got,
            serde_json::json!({"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}], "x_new": 1,
                "anthropic_version": "bedrock-2023-05-31", "anthropic_beta": ["a-1", "b-2"]})
        );
    }
}
