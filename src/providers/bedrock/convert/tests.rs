//! Request translation rule by rule, and response translation of Converse bodies shaped like
//! AWS's documented examples.

use serde_json::{json, Value};

use super::*;
use crate::providers::bedrock::capabilities;
use crate::providers::gemini::fetch::Inline;
use crate::types::RawObject;

const CLAUDE: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const LLAMA: &str = "meta.llama3-70b-instruct-v1:0";

fn opts(model: &str) -> Options<'_> {
    Options {
        model,
        default_max_tokens: None,
    }
}

fn translate_full(
    req: Value,
    fetched: &Fetched,
    opts: Options<'_>,
) -> Result<(Value, ResponseMode), InvalidRequest> {
    let body = RawObject::from_serialize(&req).unwrap();
    let p = ChatParams::from_body(&body).unwrap();
    let extras = capabilities::extras(&body).unwrap();
    let t = request(&p, &extras, fetched, opts)?;
    Ok((serde_json::to_value(&t.body).unwrap(), t.mode))
}

fn translate(req: Value) -> Value {
    translate_full(req, &Fetched::new(), opts(CLAUDE))
        .unwrap()
        .0
}

fn refused(req: Value) -> InvalidRequest {
    translate_full(req, &Fetched::new(), opts(CLAUDE)).unwrap_err()
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "weather", "description": "Get weather information for a location",
        "parameters": {"properties": {"location": {"description": "the city", "type": "string"}}, "required": ["location"], "type": "object"}}})
}

fn weather_spec() -> Value {
    json!({"toolSpec": {"name": "weather", "description": "Get weather information for a location",
        "inputSchema": {"json": {"properties": {"location": {"description": "the city", "type": "string"}}, "required": ["location"], "type": "object"}}}})
}

#[test]
fn text_request_with_system_and_developer_messages() {
    let got = translate(json!({"messages": [
        {"role": "system", "content": "You are a helpful assistant"},
        {"role": "user", "content": "Say hi in Portuguese"},
        {"role": "assistant", "content": "Olá!"},
        {"role": "developer", "content": [{"type": "text", "text": "Now in French."}]},
        {"role": "user", "content": [{"type": "text", "text": "Again"}, {"type": "text", "text": "  "}]}
    ], "temperature": 0.3, "top_p": 0.9, "stop": ["END"], "max_completion_tokens": 300}));
    assert_eq!(
        got,
        json!({
            "messages": [
                {"role": "user", "content": [{"text": "Say hi in Portuguese"}]},
                {"role": "assistant", "content": [{"text": "Olá!"}]},
                {"role": "user", "content": [{"text": "Again"}]}],
            "system": [{"text": "You are a helpful assistant"}, {"text": "Now in French."}],
            "inferenceConfig": {"maxTokens": 300, "temperature": 0.3, "topP": 0.9, "stopSequences": ["END"]}
        })
    );
}

#[test]
fn max_tokens_default_only_for_claude_or_when_configured() {
    let req = json!({"messages": [{"role": "user", "content": "hi"}]});
    let claude = translate(req.clone());
    assert_eq!(claude["inferenceConfig"], json!({"maxTokens": 4096}));
    let (llama, _) = translate_full(req.clone(), &Fetched::new(), opts(LLAMA)).unwrap();
    assert!(llama.get("inferenceConfig").is_none(), "{llama}");
    let (configured, _) = translate_full(
        req,
        &Fetched::new(),
        Options {
            model: LLAMA,
            default_max_tokens: Some(1000),
        },
    )
    .unwrap();
    assert_eq!(configured["inferenceConfig"]["maxTokens"], 1000);
}

#[test]
fn a_conversation_starting_with_the_assistant_gets_a_user_turn() {
    let got = translate(json!({"messages": [{"role": "assistant", "content": "Hello. "}]}));
    assert_eq!(
        got["messages"],
        json!([{"role": "user", "content": [{"text": "."}]},
               {"role": "assistant", "content": [{"text": "Hello."}]}])
    );
}

#[test]
fn tool_round_trip_merges_results_into_one_user_turn() {
    let got = translate(json!({
        "messages": [
            {"role": "user", "content": "Weather in Oslo and Rome?"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "tooluse_a", "type": "function", "function": {"name": "weather", "arguments": "{\"location\":\"Oslo\"}"}},
                {"id": "tooluse_b", "type": "function", "function": {"name": "weather", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "tooluse_a", "content": "-3 C"},
            {"role": "tool", "tool_call_id": "tooluse_b", "content": [{"type": "text", "text": "18 C"}]}
        ],
        "tools": [weather_tool()],
        "tool_choice": "auto"
    }));
    assert_eq!(
        got["messages"],
        json!([
            {"role": "user", "content": [{"text": "Weather in Oslo and Rome?"}]},
            {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "tooluse_a", "name": "weather", "input": {"location": "Oslo"}}},
                {"toolUse": {"toolUseId": "tooluse_b", "name": "weather", "input": {}}}]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "tooluse_a", "content": [{"text": "-3 C"}]}},
                {"toolResult": {"toolUseId": "tooluse_b", "content": [{"text": "18 C"}]}}]}
        ])
    );
    assert_eq!(
        got["toolConfig"],
        json!({"tools": [weather_spec()], "toolChoice": {"auto": {}}})
    );
}

#[test]
fn tool_choices() {
    let with = |choice: Value| {
        translate(
            json!({"messages": [{"role": "user", "content": "x"}], "tools": [weather_tool()], "tool_choice": choice}),
        )
    };
    assert_eq!(
        with(json!("required"))["toolConfig"]["toolChoice"],
        json!({"any": {}})
    );
    assert_eq!(
        with(json!({"type": "function", "function": {"name": "weather"}}))["toolConfig"]
            ["toolChoice"],
        json!({"tool": {"name": "weather"}})
    );
    assert!(
        with(json!("none")).get("toolConfig").is_none(),
        "no tools, no call"
    );
    let no_choice = translate(
        json!({"messages": [{"role": "user", "content": "x"}], "tools": [weather_tool()]}),
    );
    assert_eq!(no_choice["toolConfig"], json!({"tools": [weather_spec()]}));
    let e = refused(
        json!({"messages": [{"role": "user", "content": "x"}], "tools": [weather_tool()], "tool_choice": "sometimes"}),
    );
    assert_eq!(e.param, Some("tool_choice"));
}

#[test]
fn tool_history_needs_tool_definitions() {
    let history = json!([
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "r"}
    ]);
    // `none` cannot remove the tools then: they stay, without a choice (auto).
    let got =
        translate(json!({"messages": history, "tools": [weather_tool()], "tool_choice": "none"}));
    assert_eq!(got["toolConfig"], json!({"tools": [weather_spec()]}));
    let e = refused(json!({"messages": history}));
    assert_eq!(e.param, Some("tools"));
    let e = refused(json!({"messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}
    ], "tools": [weather_tool()]}));
    assert_eq!(e.param, Some("messages"), "arguments must be an object");
}

#[test]
fn images_inline_as_bytes_with_their_format() {
    let mut fetched = Fetched::new();
    fetched.insert(
        "https://example.org/cat.jpg".into(),
        Inline {
            mime_type: "image/jpeg".into(),
            data: "/9j/AAAA".into(),
        },
    );
    let (got, _) = translate_full(
        json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is in these?"},
            {"type": "image_url", "image_url": {"url": "https://example.org/cat.jpg", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
        ]}]}),
        &fetched,
        opts(CLAUDE),
    )
    .unwrap();
    assert_eq!(
        got["messages"][0]["content"],
        json!([
            {"text": "What is in these?"},
            {"image": {"format": "jpeg", "source": {"bytes": "/9j/AAAA"}}},
            {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}
        ])
    );
    let e = refused(json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}}]}]}));
    assert_eq!(e.param, Some("messages"));
    assert!(e.message.contains("image/tiff"), "{}", e.message);
    let e = refused(json!({"messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]}]}));
    assert_eq!(e.param, Some("messages"));
}

#[test]
fn files_become_documents_with_allowed_names() {
    let got = translate(json!({"messages": [{"role": "user", "content": [
        {"type": "file", "file": {"filename": "Q3 report_final.v2.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
        {"type": "text", "text": "Summarise"}]}]}));
    assert_eq!(
        got["messages"][0]["content"][0],
        json!({"document": {"format": "pdf", "name": "Q3 report final v2", "source": {"bytes": "JVBERi0="}}})
    );
    let e = refused(json!({"messages": [{"role": "user", "content": [
        {"type": "file", "file": {"file_id": "file-1"}}]}]}));
    assert_eq!(e.param, Some("messages"));
}

#[test]
fn json_object_and_json_schema_use_a_forced_tool() {
    let (got, mode) = translate_full(
        json!({"messages": [{"role": "user", "content": "A city, as JSON"}], "response_format": {"type": "json_object"}}),
        &Fetched::new(),
        opts(CLAUDE),
    )
    .unwrap();
    assert!(mode.json_tool);
    assert_eq!(
        got["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "json_response",
            "description": "Give your whole answer as a JSON object: the input of this tool is the response.",
            "inputSchema": {"json": {"type": "object"}}}}],
            "toolChoice": {"tool": {"name": "json_response"}}})
    );
    let schema =
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
    let got = translate(
        json!({"messages": [{"role": "user", "content": "x"}], "tools": [weather_tool()],
        "response_format": {"type": "json_schema", "json_schema": {"name": "city", "description": "A city", "schema": schema}}}),
    );
    assert_eq!(
        got["toolConfig"]["tools"][1],
        json!({"toolSpec": {"name": "json_response", "description": "A city", "inputSchema": {"json": schema}}})
    );
    assert_eq!(
        got["toolConfig"]["toolChoice"],
        json!({"any": {}}),
        "a client tool or the answer"
    );
    let e = refused(json!({"messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "city"}}}));
    assert_eq!(e.param, Some("response_format"));
    let e = refused(
        json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "low",
        "response_format": {"type": "json_object"}}),
    );
    assert_eq!(
        e.param,
        Some("response_format"),
        "forced tools and thinking do not mix"
    );
}

#[test]
fn claude_thinking_and_top_k_go_to_additional_fields() {
    let got = translate(
        json!({"messages": [{"role": "user", "content": "x"}], "reasoning": {"effort": "low"},
        "max_tokens": 1000, "temperature": 0.5, "top_k": 5}),
    );
    assert_eq!(
        got["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 2048}})
    );
    assert_eq!(
        got["inferenceConfig"],
        json!({"maxTokens": 3048}),
        "the budget is added to a cap below it; thinking takes default sampling only"
    );
    let got = translate(
        json!({"messages": [{"role": "user", "content": "x"}], "top_k": 5, "temperature": 1.4}),
    );
    assert_eq!(got["additionalModelRequestFields"], json!({"top_k": 5}));
    assert_eq!(got["inferenceConfig"]["temperature"], 1.0);
    let (llama, _) = translate_full(
        json!({"messages": [{"role": "user", "content": "x"}], "top_k": 5, "reasoning_effort": "high"}),
        &Fetched::new(),
        opts(LLAMA),
    )
    .unwrap();
    assert!(
        llama.get("additionalModelRequestFields").is_none(),
        "{llama}"
    );
    let e = refused(
        json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "low",
        "tools": [weather_tool()], "tool_choice": "required"}),
    );
    assert_eq!(e.param, Some("tool_choice"));
}

#[test]
fn echoed_claude_thinking_becomes_reasoning_content() {
    let req = json!({"messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": null, "reasoning": "Let me check.",
         "reasoning_details": [
            {"type": "reasoning.text", "format": "anthropic-claude-v1", "index": 0, "text": "Let me "},
            {"type": "reasoning.text", "format": "anthropic-claude-v1", "index": 0, "text": "check."},
            {"type": "reasoning.text", "format": "anthropic-claude-v1", "index": 0, "signature": "c2ln"},
            {"type": "reasoning.encrypted", "format": "anthropic-claude-v1", "index": 1, "data": "cmVk"},
            {"type": "reasoning.text", "format": "google-gemini-v1", "index": 2, "text": "other", "signature": "x"}],
         "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "40 C"}
    ], "tools": [weather_tool()], "reasoning": {"effort": "low"}});
    let got = translate(req.clone());
    assert_eq!(
        got["messages"][1]["content"],
        json!([
            {"reasoningContent": {"reasoningText": {"text": "Let me check.", "signature": "c2ln"}}},
            {"reasoningContent": {"redactedContent": "cmVk"}},
            {"toolUse": {"toolUseId": "t1", "name": "weather", "input": {}}}
        ])
    );
    let (llama, _) = translate_full(req, &Fetched::new(), opts(LLAMA)).unwrap();
    assert_eq!(llama["messages"][1]["content"].as_array().unwrap().len(), 1);
}

fn reply(body: Value, mode: ResponseMode) -> Value {
    let r: ConverseResponse = serde_json::from_value(body).unwrap();
    serde_json::to_value(response(r, mode, "req-1".into(), CLAUDE, 7)).unwrap()
}

#[test]
fn responses_text_tool_calls_and_usage() {
    let got = reply(
        json!({"output": {"message": {"role": "assistant", "content": [
            {"text": "Let me check."},
            {"toolUse": {"toolUseId": "tooluse_2", "name": "get_temp", "input": {"city": "Oslo"}}}]}},
         "stopReason": "tool_use",
         "usage": {"inputTokens": 120, "outputTokens": 25, "totalTokens": 2345, "cacheReadInputTokens": 2000, "cacheWriteInputTokens": 200},
         "metrics": {"latencyMs": 830}}),
        ResponseMode::default(),
    );
    assert_eq!(
        got,
        json!({"id": "req-1", "object": "chat.completion", "created": 7, "model": CLAUDE,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Let me check.", "refusal": null,
                "tool_calls": [{"id": "tooluse_2", "type": "function", "function": {"name": "get_temp", "arguments": "{\"city\":\"Oslo\"}"}}]},
                "logprobs": null, "finish_reason": "tool_calls", "native_finish_reason": "tool_use"}],
            "usage": {"prompt_tokens": 2320, "completion_tokens": 25, "total_tokens": 2345,
                "prompt_tokens_details": {"cached_tokens": 2000, "cache_write_tokens": 200}}})
    );
}

#[test]
fn responses_reasoning_json_tool_and_finish_reasons() {
    let got = reply(
        json!({"output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "Think.", "signature": "c2ln"}}},
            {"reasoningContent": {"redactedContent": "cmVk"}},
            {"toolUse": {"toolUseId": "t", "name": "json_response", "input": {"city": "Rome"}}}]}},
         "stopReason": "tool_use", "usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}}),
        ResponseMode {
            json_tool: true,
            exclude_reasoning: false,
        },
    );
    let m = &got["choices"][0]["message"];
    assert_eq!(m["content"], "{\"city\":\"Rome\"}");
    assert!(m.get("tool_calls").is_none());
    assert_eq!(m["reasoning"], "Think.");
    assert_eq!(
        m["reasoning_details"],
        json!([{"type": "reasoning.text", "format": "anthropic-claude-v1", "index": 0, "text": "Think.", "signature": "c2ln"},
               {"type": "reasoning.encrypted", "data": "cmVk", "format": "anthropic-claude-v1", "index": 1}])
    );
    assert_eq!(got["choices"][0]["finish_reason"], "stop");
    for (native, want) in [
        ("end_turn", FinishReason::Stop),
        ("stop_sequence", FinishReason::Stop),
        ("max_tokens", FinishReason::Length),
        ("model_context_window_exceeded", FinishReason::Length),
        ("guardrail_intervened", FinishReason::ContentFilter),
        ("content_filtered", FinishReason::ContentFilter),
        ("something_new", FinishReason::Stop),
    ] {
        assert_eq!(finish_reason(Some(native), false), want, "{native}");
    }
    let excluded = reply(
        json!({"output": {"message": {"content": [{"reasoningContent": {"reasoningText": {"text": "T"}}}, {"text": "A"}]}}, "stopReason": "end_turn"}),
        ResponseMode {
            json_tool: false,
            exclude_reasoning: true,
        },
    );
    assert!(excluded["choices"][0]["message"].get("reasoning").is_none());
    assert!(excluded.get("usage").is_none());
}
