//! The translator event by event. The recorded Bedrock streams (`tests/fixtures/bedrock/`) are
//! InvokeModelWithResponseStream captures carrying Anthropic-native events; they are decoded
//! with the real frame decoder and re-expressed as the ConverseStream events Bedrock sends for
//! the same answer (same fragments, same ids, same usage), then framed again and parsed, so the
//! whole path from bytes to chunks runs on recorded data.

use base64::Engine;
use serde_json::{json, Value};

use super::*;
use crate::providers::bedrock::eventstream::{encode, Decoder};

fn capture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bedrock")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A ConverseStream frame, parsed back into an event.
fn frame(event_type: &str, payload: Value) -> StreamEvent {
    let bytes = encode(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    );
    let mut d = Decoder::new();
    d.push(&bytes);
    StreamEvent::from_message(&d.next_message().unwrap().unwrap()).unwrap()
}

fn exception(kind: &str, message: &str) -> StreamEvent {
    let bytes = encode(
        &[
            (":exception-type", kind),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        json!({"message": message}).to_string().as_bytes(),
    );
    let mut d = Decoder::new();
    d.push(&bytes);
    StreamEvent::from_message(&d.next_message().unwrap().unwrap()).unwrap()
}

/// The recorded Anthropic-native events of a capture, as ConverseStream events.
fn recorded_as_converse(name: &str) -> Vec<StreamEvent> {
    let bytes = capture(name);
    let mut d = Decoder::new();
    d.push(&bytes);
    let mut out = Vec::new();
    while let Some(m) = d.next_message().unwrap() {
        let outer: Value = serde_json::from_slice(&m.payload).unwrap();
        let inner = base64::engine::general_purpose::STANDARD
            .decode(outer["bytes"].as_str().unwrap())
            .unwrap();
        let e: Value = serde_json::from_slice(&inner).unwrap();
        let index = &e["index"];
        match e["type"].as_str().unwrap() {
            "message_start" => out.push(frame("messageStart", json!({"role": "assistant"}))),
            "content_block_start" if e["content_block"]["type"] == "tool_use" => {
                let b = &e["content_block"];
                out.push(frame(
                    "contentBlockStart",
                    json!({"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": b["id"], "name": b["name"]}}}),
                ))
            }
            // Converse opens text blocks with their first delta.
            "content_block_start" => {}
            "content_block_delta" => {
                let delta = match e["delta"]["type"].as_str().unwrap() {
                    "text_delta" => json!({"text": e["delta"]["text"]}),
                    "input_json_delta" => json!({"toolUse": {"input": e["delta"]["partial_json"]}}),
                    other => panic!("{other}"),
                };
                out.push(frame(
                    "contentBlockDelta",
                    json!({"contentBlockIndex": index, "delta": delta}),
                ))
            }
            "content_block_stop" => out.push(frame(
                "contentBlockStop",
                json!({"contentBlockIndex": index}),
            )),
            "message_delta" => out.push(frame(
                "messageStop",
                json!({"stopReason": e["delta"]["stop_reason"]}),
            )),
            "message_stop" => {
                let m = &e["amazon-bedrock-invocationMetrics"];
                let (i, o) = (
                    m["inputTokenCount"].as_u64().unwrap(),
                    m["outputTokenCount"].as_u64().unwrap(),
                );
                out.push(frame(
                    "metadata",
                    json!({"usage": {"inputTokens": i, "outputTokens": o, "totalTokens": i + o},
                           "metrics": {"latencyMs": m["invocationLatency"]}}),
                ))
            }
            other => panic!("unexpected recorded event {other}"),
        }
    }
    out
}

fn translator(mode: ResponseMode) -> Translator {
    Translator::new("req-abc".into(), "claude", mode, 1)
}

fn run(t: &mut Translator, events: Vec<StreamEvent>) -> Vec<Value> {
    let mut out = Vec::new();
    for e in events {
        for c in t.step(e).unwrap() {
            out.push(serde_json::to_value(c).unwrap());
        }
    }
    for c in t.end().unwrap() {
        out.push(serde_json::to_value(c).unwrap());
    }
    out
}

fn joined(chunks: &[Value], pick: impl Fn(&Value) -> Option<&str>) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"].get(0).and_then(&pick))
        .collect()
}

fn content(chunks: &[Value]) -> String {
    joined(chunks, |c| c["delta"]["content"].as_str())
}

#[test]
fn recorded_tool_call_stream() {
    let mut t = translator(ResponseMode::default());
    let chunks = run(
        &mut t,
        recorded_as_converse("invoke_tool_call_streaming.bin"),
    );
    assert!(chunks.iter().all(|c| c["id"] == "req-abc"));
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(
        chunks[1]["choices"][0]["delta"]["tool_calls"],
        json!([{"index": 0, "id": "toolu_bdrk_018dfpvS9zVjdozFjuwZf5cx", "type": "function",
                "function": {"name": "weather", "arguments": ""}}])
    );
    let args = joined(&chunks, |c| {
        c["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
    });
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"location": "Florence,Italy"})
    );
    let tool_chunks = chunks
        .iter()
        .filter(|c| c["choices"][0]["delta"].get("tool_calls").is_some())
        .count();
    assert_eq!(
        tool_chunks, 6,
        "the header and five fragments; the empty one is skipped"
    );
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(finish["choices"][0]["native_finish_reason"], "tool_use");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": 577, "completion_tokens": 53, "total_tokens": 630,
            "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0}})
    );
    assert!(t.is_done());
}

#[test]
fn recorded_text_stream() {
    let mut t = translator(ResponseMode::default());
    let chunks = run(
        &mut t,
        recorded_as_converse("invoke_tool_result_streaming.bin"),
    );
    assert_eq!(
        content(&chunks),
        "The weather in Florence, Italy is currently **40°C** (104°F). That's quite hot! If you're planning to visit or are there now, make sure to stay hydrated and seek shade during the hottest parts of the day."
    );
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 55);
}

#[test]
fn reasoning_streams_as_reasoning_with_its_signature() {
    let mut t = translator(ResponseMode::default());
    let chunks = run(
        &mut t,
        vec![
            frame("messageStart", json!({"role": "assistant"})),
            frame(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Hmm, "}}}),
            ),
            frame(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "sunny."}}}),
            ),
            frame(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "c2ln"}}}),
            ),
            frame("contentBlockStop", json!({"contentBlockIndex": 0})),
            frame(
                "contentBlockDelta",
                json!({"contentBlockIndex": 1, "delta": {"reasoningContent": {"redactedContent": "cmVk"}}}),
            ),
            frame(
                "contentBlockDelta",
                json!({"contentBlockIndex": 2, "delta": {"text": "Sunny."}}),
            ),
            frame("messageStop", json!({"stopReason": "end_turn"})),
            frame(
                "metadata",
                json!({"usage": {"inputTokens": 3, "outputTokens": 9, "totalTokens": 12}}),
            ),
        ],
    );
    assert_eq!(content(&chunks), "Sunny.");
    assert_eq!(
        joined(&chunks, |c| c["delta"]["reasoning"].as_str()),
        "Hmm, sunny."
    );
    let details: Vec<Value> = chunks
        .iter()
        .filter_map(|c| {
            c["choices"].get(0)?["delta"]
                .get("reasoning_details")
                .cloned()
        })
        .flat_map(|v| v.as_array().cloned().unwrap())
        .collect();
    assert_eq!(details.len(), 4);
    assert_eq!(
        details[2],
        json!({"type": "reasoning.text", "format": "anthropic-claude-v1", "index": 0, "signature": "c2ln"})
    );
    assert_eq!(
        details[3],
        json!({"type": "reasoning.encrypted", "data": "cmVk", "format": "anthropic-claude-v1", "index": 1})
    );
    let mut t = translator(ResponseMode {
        json_tool: false,
        exclude_reasoning: true,
    });
    let chunks = run(
        &mut t,
        vec![
            frame("messageStart", json!({"role": "assistant"})),
            frame(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Hmm"}}}),
            ),
            frame("messageStop", json!({"stopReason": "end_turn"})),
        ],
    );
    assert_eq!(chunks.len(), 2, "role and finish only: {chunks:?}");
}

#[test]
fn the_json_tool_streams_as_content_and_argumentless_tools_get_braces() {
    let mut t = translator(ResponseMode {
        json_tool: true,
        exclude_reasoning: false,
    });
    let chunks = run(
        &mut t,
        vec![
            frame("messageStart", json!({"role": "assistant"})),
            frame(
                "contentBlockStart",
                json!({"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "j", "name": "json_response"}}}),
            ),
            frame(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "{\"city\": "}}}),
            ),
            frame(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "\"Rome\"}"}}}),
            ),
            frame("contentBlockStop", json!({"contentBlockIndex": 0})),
            frame(
                "contentBlockStart",
                json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t", "name": "now"}}}),
            ),
            frame("contentBlockStop", json!({"contentBlockIndex": 1})),
            frame("messageStop", json!({"stopReason": "tool_use"})),
        ],
    );
    assert_eq!(content(&chunks), "{\"city\": \"Rome\"}");
    assert_eq!(
        joined(&chunks, |c| c["delta"]["tool_calls"][0]["function"]
            ["arguments"]
            .as_str()),
        "{}"
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[test]
fn exceptions_are_errors_with_their_status() {
    let mut t = translator(ResponseMode::default());
    t.step(frame("messageStart", json!({"role": "assistant"})))
        .unwrap();
    t.step(frame(
        "contentBlockDelta",
        json!({"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
    ))
    .unwrap();
    match t.step(exception("throttlingException", "Too many tokens")) {
        Err(ProviderError::Status {
            status, message, ..
        }) => {
            assert_eq!(status, 429);
            assert!(message.contains("Too many tokens"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        translator(ResponseMode::default())
            .step(exception("modelStreamErrorException", "boom"))
            .unwrap_err()
            .status(),
        Some(500)
    );
}

#[test]
fn a_body_that_ends_early_is_cut_unless_finished() {
    let mut t = translator(ResponseMode::default());
    t.step(frame("messageStart", json!({"role": "assistant"})))
        .unwrap();
    t.step(frame(
        "contentBlockDelta",
        json!({"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
    ))
    .unwrap();
    assert!(matches!(t.end(), Err(ProviderError::Cut(_))));

    // After messageStop the answer is whole; only usage is missing (the gateway estimates).
    let mut t = translator(ResponseMode::default());
    t.step(frame("messageStart", json!({"role": "assistant"})))
        .unwrap();
    assert_eq!(
        t.step(frame("messageStop", json!({"stopReason": "max_tokens"})))
            .unwrap()[0]
            .choices[0]
            .finish_reason,
        Some(FinishReason::Length)
    );
    assert!(t.end().unwrap().is_empty());
    assert!(t.is_done());
}

#[test]
fn order_violations_and_unknown_events() {
    let mut t = translator(ResponseMode::default());
    assert!(matches!(
        t.step(frame(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "x"}})
        )),
        Err(ProviderError::Malformed(_))
    ));
    assert!(t.step(frame("somethingNew", json!({}))).unwrap().is_empty());
    t.step(frame("messageStart", json!({"role": "assistant"})))
        .unwrap();
    assert!(t
        .step(frame(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"citation": {}}})
        ))
        .unwrap()
        .is_empty());
    assert!(matches!(
        t.step(frame("messageStart", json!({"role": "assistant"}))),
        Err(ProviderError::Malformed(_))
    ));
}
