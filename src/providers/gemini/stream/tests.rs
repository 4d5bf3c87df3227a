use serde_json::{json, Value};

use super::*;

fn fixture_events(name: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gemini")
        .join(name);
    let body = std::fs::read_to_string(path).unwrap();
    // Gemini separates events with CRLF CRLF.
    body.split("\r\n\r\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| e.strip_prefix("data: ").unwrap().to_owned())
        .collect()
}

fn values(chunks: Vec<ChunkOut>) -> Vec<Value> {
    chunks
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect()
}

fn step(t: &mut Translator, data: &str) -> Vec<Value> {
    values(t.step(data).unwrap())
}

#[test]
fn recorded_text_stream() {
    let events = fixture_events("simple_streaming.sse");
    assert_eq!(events.len(), 1);
    let mut t = Translator::new("gemini-2.5-flash");
    let out = step(&mut t, &events[0]);
    let deltas: Vec<&Value> = out.iter().map(|c| &c["choices"][0]["delta"]).collect();
    assert_eq!(
        deltas,
        vec![
            &json!({"role": "assistant", "content": ""}),
            &json!({"content": "Olá!"}),
            &json!({})
        ]
    );
    assert_eq!(out[2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(out[2]["choices"][0]["native_finish_reason"], "STOP");
    for c in &out {
        assert_eq!(
            c["id"], "VwCzabneCuzPz7IP0aL64A0",
            "the provider's id is the chunk id"
        );
        assert_eq!(c["object"], "chat.completion.chunk");
        assert!(c.get("usage").is_none());
    }
    let end = values(t.finish().unwrap());
    assert_eq!(end.len(), 1);
    assert_eq!(end[0]["choices"], json!([]));
    assert_eq!(
        end[0]["usage"],
        json!({"prompt_tokens": 11, "completion_tokens": 23, "total_tokens": 34,
            "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 21}})
    );
}

#[test]
fn recorded_tool_call_stream() {
    let events = fixture_events("tool_streaming.sse");
    let mut t = Translator::new("m");
    let out = step(&mut t, &events[0]);
    assert_eq!(
        out.len(),
        4,
        "role, call header, arguments, finish: {out:?}"
    );
    let header = &out[1]["choices"][0]["delta"];
    let call = &header["tool_calls"][0];
    assert_eq!(call["index"], 0);
    assert_eq!(call["type"], "function");
    assert_eq!(
        call["function"],
        json!({"name": "weather", "arguments": ""})
    );
    let id = call["id"].as_str().unwrap();
    assert!(id.starts_with("call_"), "{id}");
    assert_eq!(header["reasoning_details"][0]["id"], id);
    assert_eq!(
        header["reasoning_details"][0]["type"],
        "reasoning.encrypted"
    );
    assert!(header["reasoning_details"][0]["data"]
        .as_str()
        .unwrap()
        .starts_with("CiQBvj72"));
    let args = &out[2]["choices"][0]["delta"]["tool_calls"][0];
    assert!(args.get("id").is_none() && args["function"].get("name").is_none());
    let parsed: Value =
        serde_json::from_str(args["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(parsed, json!({"location": "Florence,Italy"}));
    assert_eq!(out[3]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(out[3]["choices"][0]["native_finish_reason"], "STOP");
    assert_eq!(
        values(t.finish().unwrap())[0]["usage"]["completion_tokens"],
        15 + 43
    );
}

#[test]
fn usage_is_the_latest_running_total_emitted_once_at_the_end() {
    let events = fixture_events("tool_result_streaming.sse");
    assert_eq!(events.len(), 2);
    let mut t = Translator::new("m");
    let first = step(&mut t, &events[0]);
    assert_eq!(first.len(), 2);
    assert_eq!(
        first[1]["choices"][0]["delta"]["content"],
        "The weather in Florence"
    );
    assert!(first[1]["choices"][0]["finish_reason"].is_null());
    let second = step(&mut t, &events[1]);
    assert_eq!(second.len(), 2, "no second role chunk");
    assert_eq!(
        second[0]["choices"][0]["delta"]["content"],
        ",Italy is 40 C."
    );
    assert_eq!(second[1]["choices"][0]["finish_reason"], "stop");
    let end = values(t.finish().unwrap());
    assert_eq!(end[0]["usage"]["prompt_tokens"], 127);
    assert_eq!(end[0]["usage"]["completion_tokens"], 12);
    assert_eq!(end[0]["usage"]["total_tokens"], 139);
}

#[test]
fn recorded_thinking_stream_keeps_thoughts_out_of_content() {
    let events = fixture_events("thinking_streaming.sse");
    let mut t = Translator::new("m");
    let first = step(&mut t, &events[0]);
    assert_eq!(first.len(), 2);
    let delta = &first[1]["choices"][0]["delta"];
    assert!(delta["reasoning"]
        .as_str()
        .unwrap()
        .starts_with("**Determining the Weather Inquiry**"));
    assert!(delta.get("content").is_none());
    let second = step(&mut t, &events[1]);
    assert_eq!(
        second[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "weather"
    );
    assert_eq!(
        second.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
    let usage = &values(t.finish().unwrap())[0]["usage"];
    assert_eq!(usage["completion_tokens"], 14 + 62);
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 62);
}

#[test]
fn error_events_fail_the_stream() {
    let mut t = Translator::new("m");
    step(
        &mut t,
        r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}]},"index":0}]}"#,
    );
    let e = t
        .step(r#"{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}"#)
        .unwrap_err();
    match e {
        ProviderError::Status {
            status,
            message,
            error_type,
            ..
        } => {
            assert_eq!(status, 503);
            assert_eq!(message, "The model is overloaded. Please try again later.");
            assert_eq!(error_type.as_deref(), Some("UNAVAILABLE"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        t.step("not json"),
        Err(ProviderError::Malformed(_))
    ));
}

#[test]
fn a_stream_without_a_finish_reason_was_cut() {
    let mut t = Translator::new("m");
    assert!(matches!(t.finish(), Err(ProviderError::Cut(_))));
    let mut t = Translator::new("m");
    step(
        &mut t,
        r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}]},"index":0}],"responseId":"r"}"#,
    );
    assert!(matches!(t.finish(), Err(ProviderError::Cut(_))));
}

#[test]
fn blocked_prompt_finishes_with_content_filter() {
    let mut t = Translator::new("m");
    let out = step(
        &mut t,
        r#"{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":7,"totalTokenCount":7},"responseId":"b"}"#,
    );
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(out[1]["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(
        out[1]["choices"][0]["native_finish_reason"],
        "PROHIBITED_CONTENT"
    );
    assert_eq!(values(t.finish().unwrap())[0]["usage"]["prompt_tokens"], 7);
}

#[test]
fn several_candidates_each_start_and_finish() {
    let mut t = Translator::new("m");
    let out = step(
        &mut t,
        r#"{"candidates":[{"content":{"parts":[{"text":"A"}]},"index":0},{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]},"index":1,"finishReason":"STOP"}]}"#,
    );
    let indexes: Vec<u64> = out
        .iter()
        .map(|c| c["choices"][0]["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, vec![0, 0, 1, 1, 1, 1]);
    assert_eq!(out[5]["choices"][0]["finish_reason"], "tool_calls");
    assert!(
        matches!(t.finish(), Err(ProviderError::Cut(_))),
        "candidate 0 never finished"
    );
    let out = step(
        &mut t,
        r#"{"candidates":[{"content":{"parts":[{"text":"!"}]},"index":0,"finishReason":"MAX_TOKENS"}]}"#,
    );
    assert_eq!(out.last().unwrap()["choices"][0]["finish_reason"], "length");
    assert!(t.finish().unwrap().is_empty(), "no usage was reported");
}

#[test]
fn malformed_function_calls_are_errors() {
    let mut t = Translator::new("m");
    let e = t
        .step(r#"{"candidates":[{"content":{"parts":[]},"finishReason":"MALFORMED_FUNCTION_CALL","finishMessage":"Malformed function call: print(","index":0}]}"#)
        .unwrap_err();
    assert_eq!(e.status(), Some(502));
}

#[test]
fn signature_only_parts_and_logprobs() {
    let mut t = Translator::new("m");
    let out = step(
        &mut t,
        r#"{"candidates":[{"content":{"parts":[{"text":"","thoughtSignature":"SIG"}]},"index":0,"finishReason":"STOP",
            "logprobsResult":{"chosenCandidates":[{"token":"x","logProbability":-1.5}],"topCandidates":[]}}]}"#,
    );
    let sig = &out[1]["choices"][0];
    assert_eq!(sig["delta"]["reasoning_details"][0]["data"], "SIG");
    assert!(sig["delta"].get("content").is_none());
    assert_eq!(sig["logprobs"]["content"][0]["logprob"], -1.5);
}
