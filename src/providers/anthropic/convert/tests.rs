//! Request translation against the request bodies of recorded exchanges (golden files in
//! `tests/fixtures/anthropic/*.request.json`), and response translation of recorded replies.

use serde_json::{json, Value};

use super::*;
use crate::types::RawObject;

fn fixture(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/anthropic")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn parse(req: Value) -> (ChatParams, Extras) {
    let body = RawObject::from_serialize(&req).unwrap();
    (
        ChatParams::from_body(&body).unwrap(),
        Extras::from_body(&body).unwrap(),
    )
}

const OPTS: Options<'static> = Options {
    model: "claude-sonnet-4-20250514",
    stream: false,
    default_max_tokens: DEFAULT_MAX_TOKENS,
};

/// The translated body as JSON, or the refusal.
fn translate_with(req: Value, opts: Options<'_>) -> Result<(Value, ResponseMode), InvalidRequest> {
    let (p, extras) = parse(req);
    let t = request(&p, &extras, opts)?;
    Ok((serde_json::to_value(&t.body).unwrap(), t.mode))
}

fn translate(req: Value) -> Value {
    translate_with(req, OPTS).unwrap().0
}

fn refused(req: Value) -> InvalidRequest {
    translate_with(req, OPTS).unwrap_err()
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "weather", "description": "Get weather information for a location",
        "parameters": {"properties": {"location": {"description": "the city", "type": "string"}}, "required": ["location"], "type": "object"}}})
}

#[test]
fn tool_round_trip_matches_the_recorded_request() {
    let got = translate(json!({
        "model": "anthropic/claude-sonnet-4",
        "max_tokens": 4000,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant"},
            {"role": "user", "content": [{"type": "text", "text": "What's the weather in Florence,Italy?"}]},
            {"role": "assistant", "content": "I'll check the weather in Florence, Italy for you.",
             "tool_calls": [{"id": "toolu_01XLb9pzgfLa2EMyqWot6Ezt", "type": "function",
                             "function": {"name": "weather", "arguments": "{\"location\":\"Florence,Italy\"}"}}]},
            {"role": "tool", "tool_call_id": "toolu_01XLb9pzgfLa2EMyqWot6Ezt", "content": [{"type": "text", "text": "40 C"}]}
        ],
        "tools": [weather_tool()],
        "tool_choice": "auto",
        "parallel_tool_calls": true
    }));
    let mut expected: Value = serde_json::from_str(&fixture("tool_result.request.json")).unwrap();
    // The recording's client always sends the parallel flag; we send it only to disable.
    expected["tool_choice"] = json!({"type": "auto"});
    assert_eq!(got, expected);
}

#[test]
fn thinking_round_trip_matches_the_recorded_request() {
    let recorded: Value =
        serde_json::from_str(&fixture("thinking_tool_result.request.json")).unwrap();
    let thinking = &recorded["messages"][1]["content"][0];
    let (text, signature) = (
        thinking["thinking"].as_str().unwrap(),
        thinking["signature"].as_str().unwrap(),
    );
    let (head, tail) = text.split_at(40);
    // Merged details as a non-streamed response gives them, and the fragments of a stream
    // as a client that did not merge them would echo them.
    let merged = json!([{"type": "reasoning.text", "text": text, "signature": signature, "format": "anthropic-claude-v1", "index": 0}]);
    let fragments = json!([
        {"type": "reasoning.text", "text": head, "format": "anthropic-claude-v1", "index": 0},
        {"type": "reasoning.text", "text": tail, "format": "anthropic-claude-v1", "index": 0},
        {"type": "reasoning.text", "signature": signature, "format": "anthropic-claude-v1", "index": 0},
        {"type": "reasoning.text", "text": "from another provider", "signature": "x", "format": "google-gemini-v1", "index": 1}
    ]);
    let only_signature = json!([{"type": "reasoning.text", "signature": signature, "format": "anthropic-claude-v1", "index": 0}]);
    for details in [merged, fragments, only_signature] {
        let got = translate(json!({
            "model": "anthropic/claude-sonnet-4",
            "max_tokens": 4096,
            "reasoning": {"max_tokens": 4000},
            "messages": [
                {"role": "system", "content": "You are a helpful assistant"},
                {"role": "user", "content": [{"type": "text", "text": "What's the weather in Florence, Italy?"}]},
                {"role": "assistant", "content": null, "reasoning": text, "reasoning_details": details,
                 "tool_calls": [{"id": "toolu_01Js4AMfx5qpTLhwTusnvT68", "type": "function",
                                 "function": {"name": "weather", "arguments": "{\"location\": \"Florence, Italy\"}"}}]},
                {"role": "tool", "tool_call_id": "toolu_01Js4AMfx5qpTLhwTusnvT68", "content": [{"type": "text", "text": "40 C"}]}
            ],
            "tools": [weather_tool()],
            "tool_choice": "auto",
            "stream": true
        }));
        let mut expected = recorded.clone();
        expected["tool_choice"] = json!({"type": "auto"});
        expected.as_object_mut().unwrap().remove("stream");
        assert_eq!(got, expected);
    }
}

#[test]
fn system_developer_merging_and_defaults() {
    let got = translate_with(
        json!({
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                {"role": "user", "content": "How are you?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "a", "type": "function", "function": {"name": "f", "arguments": ""}},
                    {"id": "b", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}}]},
                {"role": "tool", "tool_call_id": "a", "content": "one"},
                {"role": "tool", "tool_call_id": "b", "content": "two"},
                {"role": "user", "content": "and?"}
            ],
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "stop": "END",
            "user": "u-1",
            "temperature": 0.3,
            "top_p": 0.9,
            "top_k": 40
        }),
        Options {
            stream: true,
            ..OPTS
        },
    )
    .unwrap()
    .0;
    assert_eq!(
        got,
        json!({
            "model": "claude-sonnet-4-20250514",
            "max_tokens": 4096,
            "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Answer in French."}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "How are you?"}]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "a", "name": "f", "input": {}},
                    {"type": "tool_use", "id": "b", "name": "f", "input": {"x": 1}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "a", "content": "one"},
                    {"type": "tool_result", "tool_use_id": "b", "content": "two"},
                    {"type": "text", "text": "and?"}]}
            ],
            "stop_sequences": ["END"],
            "temperature": 0.3,
            "top_p": 0.9,
            "top_k": 40,
            "tools": [{"name": "f", "input_schema": {"type": "object", "properties": {}}}],
            "metadata": {"user_id": "u-1"},
            "stream": true
        })
    );
}

#[test]
fn assistant_first_conversations_get_a_user_turn_and_prefill_is_trimmed() {
    let got = translate(json!({"messages": [
        {"role": "system", "content": "s"},
        {"role": "assistant", "content": "Hello, how can I help?"},
        {"role": "user", "content": "Count"},
        {"role": "user", "content": " "},
        {"role": "assistant", "content": "1, 2, "}
    ], "max_completion_tokens": 50, "safety_identifier": "hash-1", "user": "ignored"}));
    assert_eq!(
        got["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "."}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello, how can I help?"}]},
            {"role": "user", "content": [{"type": "text", "text": "Count"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "1, 2,"}]}
        ])
    );
    assert_eq!(got["max_tokens"], 50);
    assert_eq!(got["metadata"], json!({"user_id": "hash-1"}));
}

#[test]
fn images_files_and_audio() {
    let got = translate(json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.org/cat.jpg"}},
        {"type": "file", "file": {"filename": "spec.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}}
    ]}]}));
    assert_eq!(
        got["messages"][0]["content"],
        json!([
            {"type": "text", "text": "Compare"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.org/cat.jpg"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}, "title": "spec.pdf"}
        ])
    );
    for part in [
        json!({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}),
        json!({"type": "file", "file": {"file_id": "file-1"}}),
        json!({"type": "file", "file": {"file_data": "data:text/csv;base64,YQ=="}}),
        json!({"type": "image_url", "image_url": {"url": "data:image/png,raw"}}),
    ] {
        let e = refused(json!({"messages": [{"role": "user", "content": [part.clone()]}]}));
        assert_eq!(e.param, Some("messages"), "{part}");
    }
    let e = refused(json!({"messages": [{"role": "system", "content": [
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}, {"role": "user", "content": "x"}]}));
    assert_eq!(e.param, Some("messages"));
}

#[test]
fn tool_arguments_must_be_a_json_object() {
    for args in ["{not json", "[1,2]", "\"s\""] {
        let e = refused(json!({"messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": args}}]},
            {"role": "tool", "tool_call_id": "c", "content": "r"}
        ]}));
        assert_eq!(
            (e.param, e.code),
            (Some("messages"), "unsupported_parameter"),
            "{args}"
        );
        assert!(e.message.contains("`c`"), "{}", e.message);
    }
}

#[test]
fn tool_choice_and_parallel_calls() {
    let with = |choice: Value, parallel: Value| {
        translate(
            json!({"messages": [{"role": "user", "content": "x"}], "tools": [weather_tool()],
            "tool_choice": choice, "parallel_tool_calls": parallel}),
        )["tool_choice"]
            .clone()
    };
    assert_eq!(with(json!("auto"), Value::Null), json!({"type": "auto"}));
    assert_eq!(with(json!("required"), Value::Null), json!({"type": "any"}));
    assert_eq!(with(json!("none"), Value::Null), json!({"type": "none"}));
    assert_eq!(
        with(
            json!({"type": "function", "function": {"name": "weather"}}),
            json!(false)
        ),
        json!({"type": "tool", "name": "weather", "disable_parallel_tool_use": true})
    );
    assert_eq!(
        with(Value::Null, json!(false)),
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
    assert_eq!(with(Value::Null, json!(true)), Value::Null);
    let e = refused(
        json!({"messages": [{"role": "user", "content": "x"}], "tools": [weather_tool()], "tool_choice": "sometimes"}),
    );
    assert_eq!(e.param, Some("tool_choice"));
    let e = refused(json!({"messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "custom", "function": {"name": "g"}}]}));
    assert_eq!(e.param, Some("tools"));
    // `strict` is passed on only when asked for.
    let got = translate(json!({"messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "s", "strict": true, "parameters": {"type": "object"}}}]}));
    assert_eq!(
        got["tools"][0],
        json!({"name": "s", "input_schema": {"type": "object"}, "strict": true})
    );
}

#[test]
fn structured_output() {
    let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": false});
    let (got, mode) = translate_with(
        json!({"messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "strict": true, "schema": schema}}}),
        OPTS,
    )
    .unwrap();
    assert_eq!(
        got["output_config"],
        json!({"format": {"type": "json_schema", "schema": schema}})
    );
    assert!(!mode.json_tool);
    let e = refused(json!({"messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "s"}}}));
    assert_eq!(e.param, Some("response_format"));

    // json_object: a forced tool whose input is the answer.
    let (got, mode) = translate_with(
        json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}}),
        OPTS,
    )
    .unwrap();
    assert!(mode.json_tool);
    assert_eq!(got["tools"][0]["name"], JSON_TOOL);
    assert_eq!(got["tools"][0]["input_schema"], json!({"type": "object"}));
    assert_eq!(
        got["tool_choice"],
        json!({"type": "tool", "name": JSON_TOOL, "disable_parallel_tool_use": true})
    );
    // With client tools the model may call one of them or answer through the JSON tool.
    let got = translate(
        json!({"messages": [{"role": "user", "content": "x"}], "tools": [weather_tool()],
        "response_format": {"type": "json_object"}}),
    );
    assert_eq!(got["tools"].as_array().unwrap().len(), 2);
    assert_eq!(got["tool_choice"], json!({"type": "any"}));
    let e = refused(
        json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "low",
        "response_format": {"type": "json_object"}}),
    );
    assert_eq!(e.param, Some("response_format"));
}

#[test]
fn reasoning_becomes_a_thinking_budget_below_max_tokens() {
    let got = translate(
        json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "low"}),
    );
    assert_eq!(
        got["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
    assert_eq!(got["max_tokens"], 4096);
    // The cap leaves no room: the budget is added on top, the cap stays the answer's.
    let got = translate(
        json!({"messages": [{"role": "user", "content": "x"}], "reasoning": {"effort": "high"}, "max_tokens": 1000}),
    );
    assert_eq!(got["thinking"]["budget_tokens"], 16384);
    assert_eq!(got["max_tokens"], 17384);
    let got = translate(
        json!({"messages": [{"role": "user", "content": "x"}], "reasoning": {"effort": "medium"}, "temperature": 0.5}),
    );
    assert_eq!(got["max_tokens"], 4096 + 8192);
    assert!(
        got.get("temperature").is_none(),
        "thinking only takes the default temperature"
    );
    let (_, mode) = translate_with(
        json!({"messages": [{"role": "user", "content": "x"}], "reasoning": {"effort": "low", "exclude": true}}),
        OPTS,
    )
    .unwrap();
    assert!(mode.exclude_reasoning);
    let e = refused(
        json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "high",
        "tools": [weather_tool()], "tool_choice": "required"}),
    );
    assert_eq!(e.param, Some("tool_choice"));
}

#[test]
fn provider_default_cap_and_temperature_clamp() {
    let (got, _) = translate_with(
        json!({"messages": [{"role": "user", "content": "x"}], "temperature": 1.8}),
        Options {
            default_max_tokens: 64000,
            ..OPTS
        },
    )
    .unwrap();
    assert_eq!(got["max_tokens"], 64000);
    assert_eq!(got["temperature"], 1.0);
}

fn respond(body: &str, mode: ResponseMode) -> Value {
    let r: MessageResponse = serde_json::from_str(body).unwrap();
    serde_json::to_value(response(r, mode, 42)).unwrap()
}

#[test]
fn recorded_text_response() {
    let got = respond(&fixture("simple.json"), ResponseMode::default());
    assert_eq!(
        got,
        json!({
            "id": "msg_01KrnBffuzxt8ttHq7iiZe7n",
            "object": "chat.completion",
            "created": 42,
            "model": "claude-sonnet-4-20250514",
            "choices": [{"index": 0,
                "message": {"role": "assistant", "content": "Olá! \n\n(That's \"hello\" in Portuguese. You could also say \"Oi!\" for a more casual \"hi!\")", "refusal": null},
                "logprobs": null, "finish_reason": "stop", "native_finish_reason": "end_turn"}],
            "usage": {"prompt_tokens": 16, "completion_tokens": 34, "total_tokens": 50,
                "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        })
    );
}

#[test]
fn recorded_tool_call_response() {
    let got = respond(&fixture("tool.json"), ResponseMode::default());
    let choice = &got["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["native_finish_reason"], "tool_use");
    assert_eq!(
        choice["message"]["content"],
        "I'll check the weather in Florence, Italy for you."
    );
    assert_eq!(
        choice["message"]["tool_calls"],
        json!([{"id": "toolu_01XLb9pzgfLa2EMyqWot6Ezt", "type": "function",
                "function": {"name": "weather", "arguments": "{\"location\":\"Florence,Italy\"}"}}])
    );
    assert_eq!(got["usage"]["prompt_tokens"], 394);
}

#[test]
fn thinking_json_tool_and_cache_usage() {
    let body = json!({"id": "msg_t", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "Let me think.", "signature": "sig1"},
            {"type": "redacted_thinking", "data": "EmwK"},
            {"type": "tool_use", "id": "toolu_j", "name": "json_response", "input": {"a": 1}}
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "cache_creation_input_tokens": 200, "cache_read_input_tokens": 3000, "output_tokens": 50}})
    .to_string();
    let got = respond(
        &body,
        ResponseMode {
            json_tool: true,
            ..ResponseMode::default()
        },
    );
    let m = &got["choices"][0]["message"];
    assert_eq!(m["content"], "{\"a\":1}");
    assert!(m.get("tool_calls").is_none());
    assert_eq!(m["reasoning"], "Let me think.");
    assert_eq!(
        m["reasoning_details"],
        json!([
            {"type": "reasoning.text", "text": "Let me think.", "signature": "sig1", "format": "anthropic-claude-v1", "index": 0},
            {"type": "reasoning.encrypted", "data": "EmwK", "format": "anthropic-claude-v1", "index": 1}
        ])
    );
    assert_eq!(got["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        got["usage"],
        json!({"prompt_tokens": 3210, "completion_tokens": 50, "total_tokens": 3260,
            "prompt_tokens_details": {"cached_tokens": 3000, "cache_write_tokens": 200},
            "cache_creation_input_tokens": 200, "cache_read_input_tokens": 3000})
    );
    let hidden = respond(
        &body,
        ResponseMode {
            json_tool: true,
            exclude_reasoning: true,
        },
    );
    let m = &hidden["choices"][0]["message"];
    assert!(m.get("reasoning").is_none() && m.get("reasoning_details").is_none());
}

#[test]
fn finish_reasons() {
    for (native, calls, want) in [
        (Some("end_turn"), false, FinishReason::Stop),
        (Some("stop_sequence"), false, FinishReason::Stop),
        (Some("pause_turn"), false, FinishReason::Stop),
        (Some("max_tokens"), true, FinishReason::Length),
        (
            Some("model_context_window_exceeded"),
            false,
            FinishReason::Length,
        ),
        (Some("tool_use"), true, FinishReason::ToolCalls),
        (Some("tool_use"), false, FinishReason::Stop),
        (Some("refusal"), false, FinishReason::ContentFilter),
        (None, false, FinishReason::Stop),
    ] {
        assert_eq!(finish_reason(native, calls), want, "{native:?}");
    }
}
