use serde_json::{json, Value};

use super::*;

const CAPTURED_SIGNATURE: &str = "CvMBAb4+9vvZC/KtDBiEfP1WF+wUiObd6G6yg5vTA8dfeleB3pTysSfmipkwxCrjEL9Y29JxnkMMXZvzkVMlyiK01pvWtZ++SnHMyuy9J04IrT/6oDhaDculJL+1gJhI+4i1UlPgJBXlUnpkPcznVuYKh6YEvWhNQc3Wrz305DeBdPIb2WmZmGv2gOVlhL3yjUrmxVWuRrtt9bQHX9B29bKtvY6L5QnE+iXEDpDlB6N5Qoe0JDqjJMn2K4WmVbxXivQN+XcYrEeRbV8v0A3yKIIxozry6h8C5cWiqMcXdaPK+tDNq4+tljWouipUhKvSkQY1yQ3K";

fn params(v: Value) -> ChatParams {
    serde_json::from_value(v).unwrap()
}

fn translate(v: Value) -> Value {
    let p = params(v);
    serde_json::to_value(request(&p, &Fetched::new()).unwrap()).unwrap()
}

fn refused(v: Value) -> InvalidRequest {
    let p = params(v);
    request(&p, &Fetched::new()).unwrap_err()
}

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gemini")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn tool_round_trip_matches_the_recorded_request() {
    // The conversation of the recorded `tool` exchange, as an OpenAI client sends it back.
    let body = translate(json!({"messages": [
        {"role": "system", "content": "You are a helpful assistant"},
        {"role": "user", "content": "What's the weather in Florence,Italy?"},
        {"role": "assistant", "content": null,
         "tool_calls": [{"id": "1", "type": "function", "function": {"name": "weather", "arguments": "{\"location\":\"Florence,Italy\"}"}}],
         "reasoning_details": [{"type": "reasoning.encrypted", "data": CAPTURED_SIGNATURE, "id": "1", "format": "google-gemini-v1", "index": 0}]},
        {"role": "tool", "tool_call_id": "1", "content": "40 C"}],
      "max_tokens": 4000}));
    let recorded: Value = serde_json::from_str(&fixture("tool_round_trip_request.json")).unwrap();
    assert_eq!(body["contents"], recorded["contents"]);
    assert_eq!(
        body["systemInstruction"]["parts"],
        recorded["systemInstruction"]["parts"]
    );
    assert_eq!(body["generationConfig"], recorded["generationConfig"]);
}

#[test]
fn system_and_developer_messages_become_the_system_instruction() {
    let body = translate(json!({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": "again"}]}));
    assert_eq!(
        body["systemInstruction"],
        json!({"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]})
    );
    // The two user messages around the hoisted developer message form one turn.
    assert_eq!(
        body["contents"],
        json!([{"role": "user", "parts": [{"text": "hi"}, {"text": "again"}]}])
    );
    assert!(body.get("generationConfig").is_none() && body.get("tools").is_none());
}

#[test]
fn parallel_tool_results_merge_into_one_user_turn() {
    let body = translate(json!({"messages": [
        {"role": "user", "content": "Weather in Oslo and Rome?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}},
            {"id": "call_b", "type": "function", "function": {"name": "time", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "call_a", "content": "{\"temp\": -3}"},
        {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "noon"}]}]}));
    assert_eq!(
        body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather in Oslo and Rome?"}]},
            {"role": "model", "parts": [
                {"text": "Checking."},
                {"functionCall": {"id": "call_a", "name": "weather", "args": {"city": "Oslo"}}},
                {"functionCall": {"id": "call_b", "name": "time", "args": {}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "call_a", "name": "weather", "response": {"result": {"temp": -3}}}},
                {"functionResponse": {"id": "call_b", "name": "time", "response": {"result": "noon"}}}]}])
    );
}

#[test]
fn signatures_return_to_their_parts_and_foreign_ones_are_left_out() {
    let body = translate(json!({"messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "text", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
         "reasoning_details": [
            {"type": "reasoning.text", "text": "thinking", "format": "google-gemini-v1"},
            {"type": "reasoning.encrypted", "data": "SIG-TEXT", "format": "google-gemini-v1", "index": 0},
            {"type": "reasoning.encrypted", "data": "SIG-CALL", "id": "c1", "format": "google-gemini-v1", "index": 1},
            {"type": "reasoning.encrypted", "data": "FOREIGN", "id": "c1", "format": "anthropic-claude-v1"}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}));
    let model = &body["contents"][1]["parts"];
    assert_eq!(
        model[0],
        json!({"text": "text", "thoughtSignature": "SIG-TEXT"})
    );
    assert_eq!(model[1]["thoughtSignature"], "SIG-CALL");
}

#[test]
fn untranslatable_conversations_are_refused_naming_messages() {
    let unknown_id = refused(json!({"messages": [
        {"role": "user", "content": "q"},
        {"role": "tool", "tool_call_id": "nope", "content": "x"}]}));
    assert_eq!(unknown_id.param, Some("messages"));
    assert!(
        unknown_id.message.contains("nope"),
        "{}",
        unknown_id.message
    );
    for bad_args in ["{not json", "[1,2]", "\"text\""] {
        let e = refused(json!({"messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": bad_args}}]}]}));
        assert_eq!(e.param, Some("messages"), "{bad_args}");
        assert!(e.message.contains("arguments"), "{}", e.message);
    }
    let file_id = refused(
        json!({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}]}),
    );
    assert_eq!(file_id.param, Some("messages"));
}

#[test]
fn images_audio_and_files_are_inlined() {
    let p = params(json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}}]}]}));
    let mut fetched = Fetched::new();
    fetched.insert(
        "https://example.com/cat.jpg".into(),
        Inline {
            mime_type: "image/jpeg".into(),
            data: "/9j/4A==".into(),
        },
    );
    let body = serde_json::to_value(request(&p, &fetched).unwrap()).unwrap();
    assert_eq!(
        body["contents"][0]["parts"],
        json!([
            {"text": "What is this?"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4A=="}},
            {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}])
    );
    // A URL that was not fetched cannot be sent.
    assert_eq!(
        request(&p, &Fetched::new()).unwrap_err().param,
        Some("messages")
    );
}

#[test]
fn tools_and_every_tool_choice() {
    let tools = json!([{"type": "function", "function": {"name": "weather", "description": "Get weather",
        "parameters": {"type": "object", "properties": {"loc": {"$ref": "#/$defs/L"}}, "$defs": {"L": {"type": "string"}}}, "strict": true}}]);
    let body = translate(json!({"messages": [{"role": "user", "content": "q"}], "tools": tools}));
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations": [{"name": "weather", "description": "Get weather",
            "parametersJsonSchema": {"type": "object", "properties": {"loc": {"type": "string"}}}}]}])
    );
    assert!(body.get("toolConfig").is_none());
    for (choice, expected) in [
        (json!("auto"), json!({"mode": "AUTO"})),
        (json!("none"), json!({"mode": "NONE"})),
        (json!("required"), json!({"mode": "ANY"})),
        (
            json!({"type": "function", "function": {"name": "weather"}}),
            json!({"mode": "ANY", "allowedFunctionNames": ["weather"]}),
        ),
    ] {
        let body = translate(
            json!({"messages": [{"role": "user", "content": "q"}], "tools": tools, "tool_choice": choice}),
        );
        assert_eq!(
            body["toolConfig"]["functionCallingConfig"], expected,
            "{choice}"
        );
    }
    let recursive = refused(json!({"messages": [{"role": "user", "content": "q"}],
        "tools": [{"type": "function", "function": {"name": "t", "parameters": {"$ref": "#"}}}]}));
    assert_eq!(recursive.param, Some("tools"));
}

#[test]
fn sampling_and_output_controls() {
    let body = translate(json!({"messages": [{"role": "user", "content": "q"}],
        "temperature": 0.2, "top_p": 0.9, "top_k": 40, "max_completion_tokens": 300, "max_tokens": 100,
        "stop": ["END", "STOP"], "n": 2, "seed": 7, "presence_penalty": 0.5, "frequency_penalty": -0.5,
        "logprobs": true, "top_logprobs": 3, "response_format": {"type": "json_object"}}));
    assert_eq!(
        body["generationConfig"],
        json!({"temperature": 0.2, "topP": 0.9, "topK": 40, "maxOutputTokens": 300,
            "stopSequences": ["END", "STOP"], "candidateCount": 2, "presencePenalty": 0.5,
            "frequencyPenalty": -0.5, "seed": 7, "responseMimeType": "application/json",
            "responseLogprobs": true, "logprobs": 3})
    );
    let one =
        translate(json!({"messages": [{"role": "user", "content": "q"}], "n": 1, "stop": "X"}));
    assert_eq!(one["generationConfig"], json!({"stopSequences": ["X"]}));
}

#[test]
fn json_schema_is_enforced_natively_or_refused() {
    let body = translate(json!({"messages": [{"role": "user", "content": "q"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "plan", "strict": true, "schema": {
            "type": "object", "properties": {"steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}}},
            "$defs": {"Step": {"type": "string"}}}}}}));
    assert_eq!(
        body["generationConfig"],
        json!({"responseMimeType": "application/json", "responseJsonSchema": {
            "type": "object", "properties": {"steps": {"type": "array", "items": {"type": "string"}}}}})
    );
    let e = refused(json!({"messages": [{"role": "user", "content": "q"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "tree", "schema": {
            "$defs": {"N": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/N"}}}}},
            "$ref": "#/$defs/N"}}}}));
    assert_eq!(e.param, Some("response_format"));
    assert!(e.message.contains("recursive"), "{}", e.message);
}

#[test]
fn reasoning_controls_become_a_thinking_config() {
    let cases = [
        (
            json!({"reasoning_effort": "low"}),
            json!({"thinkingBudget": 1024, "includeThoughts": true}),
        ),
        (
            json!({"reasoning": {"effort": "high"}}),
            json!({"thinkingBudget": 24576, "includeThoughts": true}),
        ),
        (
            json!({"reasoning": {"max_tokens": 2000}}),
            json!({"thinkingBudget": 2000, "includeThoughts": true}),
        ),
        (
            json!({"reasoning": {"effort": "medium", "exclude": true}}),
            json!({"thinkingBudget": 8192}),
        ),
        (
            json!({"reasoning": {"enabled": true}}),
            json!({"thinkingBudget": -1, "includeThoughts": true}),
        ),
        (
            json!({"reasoning": {}}),
            json!({"thinkingBudget": -1, "includeThoughts": true}),
        ),
        (
            json!({"reasoning": {"enabled": false}}),
            json!({"thinkingBudget": 0}),
        ),
        (
            json!({"reasoning_effort": "none"}),
            json!({"thinkingBudget": 0}),
        ),
    ];
    for (extra, expected) in cases {
        let mut req = json!({"messages": [{"role": "user", "content": "q"}]});
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        let body = translate(req);
        assert_eq!(
            body["generationConfig"]["thinkingConfig"], expected,
            "{extra}"
        );
    }
    let e = refused(
        json!({"messages": [{"role": "user", "content": "q"}], "reasoning_effort": "extreme"}),
    );
    assert_eq!(e.param, Some("reasoning_effort"));
}

// ---- responses ----------------------------------------------------------------------------

fn parse(s: &str) -> wire::Response {
    serde_json::from_str(s).unwrap()
}

#[test]
fn recorded_text_response() {
    let out = completion(parse(&fixture("simple.json")), "gemini-2.5-flash").unwrap();
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(v["id"], "VgCzac2AGLOHz7IP2pOkkAI");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gemini-2.5-flash");
    assert_eq!(
        v["choices"],
        json!([{"index": 0, "message": {"role": "assistant", "content": "Olá!", "refusal": null},
            "logprobs": null, "finish_reason": "stop", "native_finish_reason": "STOP"}])
    );
    // 11 prompt; 2 visible + 24 thinking = 26 completion; the upstream total (37) agrees.
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 11, "completion_tokens": 26, "total_tokens": 37,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 24}})
    );
}

#[test]
fn recorded_tool_call_response() {
    let out = completion(parse(&fixture("tool.json")), "m").unwrap();
    let c = &out.choices[0];
    assert_eq!(c.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(c.native_finish_reason.as_deref(), Some("STOP"));
    assert_eq!(c.message.content, None);
    let calls = c.message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0].id.starts_with("call_") && calls[0].id.len() > 20,
        "{}",
        calls[0].id
    );
    assert_eq!(calls[0].function.name, "weather");
    assert_eq!(
        calls[0].function.arguments,
        r#"{"location":"Florence,Italy"}"#
    );
    assert_eq!(
        c.message.reasoning_details,
        Some(vec![
            json!({"type": "reasoning.encrypted", "data": CAPTURED_SIGNATURE,
            "id": calls[0].id, "format": "google-gemini-v1", "index": 0})
        ])
    );
}

#[test]
fn thoughts_go_to_reasoning_and_usage_counts_everything_once() {
    let r = parse(
        r#"{"candidates":[{"content":{"parts":[{"text":"Let me think.","thought":true},{"text":"42","thoughtSignature":"S"}],"role":"model"},"finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":100,"cachedContentTokenCount":60,"toolUsePromptTokenCount":5,"candidatesTokenCount":3,"thoughtsTokenCount":10,"totalTokenCount":118},
            "responseId":"r1"}"#,
    );
    let out = completion(r, "m").unwrap();
    let m = &out.choices[0].message;
    assert_eq!(m.content.as_deref(), Some("42"));
    assert_eq!(m.reasoning.as_deref(), Some("Let me think."));
    assert_eq!(m.reasoning_details.as_ref().unwrap()[0]["data"], "S");
    assert!(m.reasoning_details.as_ref().unwrap()[0].get("id").is_none());
    let u = out.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (105, 13, 118)
    );
    assert_eq!(u.cached_tokens(), 60);
    assert_eq!(
        u.completion_tokens_details.unwrap().reasoning_tokens,
        Some(10)
    );
}

#[test]
fn finish_reasons() {
    for (native, calls, expected) in [
        ("STOP", false, FinishReason::Stop),
        ("STOP", true, FinishReason::ToolCalls),
        ("MAX_TOKENS", false, FinishReason::Length),
        ("SAFETY", false, FinishReason::ContentFilter),
        ("RECITATION", false, FinishReason::ContentFilter),
        ("PROHIBITED_CONTENT", false, FinishReason::ContentFilter),
        ("SPII", false, FinishReason::ContentFilter),
        ("BLOCKLIST", false, FinishReason::ContentFilter),
        ("OTHER", false, FinishReason::Stop),
        ("SOMETHING_NEW", false, FinishReason::Stop),
    ] {
        assert_eq!(
            finish_reason(native, calls, None).unwrap(),
            expected,
            "{native}"
        );
    }
    let e = finish_reason("MALFORMED_FUNCTION_CALL", false, Some("bad call")).unwrap_err();
    assert_eq!(e.status(), Some(502));
    assert!(
        e.to_string().contains("MALFORMED_FUNCTION_CALL: bad call"),
        "{e}"
    );
}

#[test]
fn blocked_prompt_and_empty_response() {
    let out = completion(
        parse(r#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":8,"totalTokenCount":8},"responseId":"b"}"#),
        "m",
    )
    .unwrap();
    assert_eq!(
        out.choices[0].finish_reason,
        Some(FinishReason::ContentFilter)
    );
    assert_eq!(
        out.choices[0].native_finish_reason.as_deref(),
        Some("SAFETY")
    );
    assert_eq!(out.choices[0].message.content, None);
    assert!(matches!(
        completion(parse(r#"{"responseId":"x"}"#), "m"),
        Err(ProviderError::Malformed(_))
    ));
}

#[test]
fn several_candidates_and_logprobs() {
    let out = completion(
        parse(r#"{"candidates":[
            {"content":{"parts":[{"text":"B"}]},"finishReason":"STOP","index":1},
            {"content":{"parts":[{"text":"A"}]},"finishReason":"MAX_TOKENS","index":0,
             "logprobsResult":{"topCandidates":[{"candidates":[{"token":"A","logProbability":-0.1},{"token":"a","logProbability":-2.5}]}],
                               "chosenCandidates":[{"token":"A","logProbability":-0.1}]}}]}"#),
        "m",
    )
    .unwrap();
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "A");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["choices"][1]["index"], 1);
    assert_eq!(v["choices"][1]["message"]["content"], "B");
    assert_eq!(
        v["choices"][0]["logprobs"],
        json!({"content": [{"token": "A", "logprob": -0.1, "bytes": [65],
            "top_logprobs": [{"token": "A", "logprob": -0.1, "bytes": [65]}, {"token": "a", "logprob": -2.5, "bytes": [97]}]}],
            "refusal": null})
    );
}
