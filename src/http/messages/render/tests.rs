//! Tests for whole messages, streams, errors and the block invariants.

use super::*;
use serde_json::{json, Value};

fn obj(v: Value) -> RawObject {
    RawObject::from_serialize(&v).unwrap()
}

/// Splits SSE text into (event, data) pairs, checking the framing and that `type`
/// repeats the event name.
fn frames(bytes: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(text.is_empty() || text.ends_with("\n\n"), "{text}");
    text.split_terminator("\n\n")
        .map(|frame| {
            let (ev, data) = frame.split_once('\n').unwrap();
            let ev = ev.strip_prefix("event: ").unwrap().to_owned();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], ev.as_str());
            (ev, data)
        })
        .collect()
}

fn events(f: &[(String, Value)]) -> Vec<&str> {
    f.iter().map(|(e, _)| e.as_str()).collect()
}

fn render(chunks: &[Value]) -> Vec<(String, Value)> {
    let mut r = StreamRenderer::new("msg_1", "m", 10);
    let mut out = Vec::new();
    for c in chunks {
        r.chunk(&obj(c.clone()), &mut out);
    }
    r.finish(&mut out);
    frames(&out)
}

fn delta(d: Value) -> Value {
    json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"x",
               "choices":[{"index":0,"delta":d,"finish_reason":null}]})
}

fn finish_chunk(reason: &str) -> Value {
    json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"x",
               "choices":[{"index":0,"delta":{},"finish_reason":reason}]})
}

fn usage_chunk(prompt: u64, completion: u64, cached: u64, written: u64) -> Value {
    json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"x","choices":[],
               "usage":{"prompt_tokens":prompt,"completion_tokens":completion,"total_tokens":prompt+completion,
                        "prompt_tokens_details":{"cached_tokens":cached,"cache_write_tokens":written}}})
}

fn tool_frag(index: u32, id: Option<&str>, name: Option<&str>, args: &str) -> Value {
    let mut call = json!({"index": index, "function": {"arguments": args}});
    if let Some(id) = id {
        call["id"] = json!(id);
        call["type"] = json!("function");
    }
    if let Some(n) = name {
        call["function"]["name"] = json!(n);
    }
    delta(json!({"tool_calls": [call]}))
}

/// Every start has one stop with its index, indexes count up from 0, deltas land in the
/// open block, and the stream ends with message_delta, message_stop.
fn check_lifecycle(f: &[(String, Value)]) {
    assert_eq!(f[0].0, "message_start");
    let mut open: Option<u64> = None;
    let mut next = 0;
    for (ev, d) in f {
        match ev.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "blocks interleave");
                assert_eq!(d["index"], next);
                open = Some(next);
                next += 1;
            }
            "content_block_delta" => assert_eq!(Some(d["index"].as_u64().unwrap()), open),
            "content_block_stop" => {
                assert_eq!(Some(d["index"].as_u64().unwrap()), open);
                open = None;
            }
            "message_delta" | "message_stop" => assert_eq!(open, None),
            _ => {}
        }
    }
    let n = f.len();
    assert_eq!(f[n - 2].0, "message_delta");
    assert_eq!(f[n - 1].0, "message_stop");
}

#[test]
fn text_stream_round_trips() {
    let f = render(&[
        delta(json!({"role":"assistant","content":""})),
        delta(json!({"content":"Hel"})),
        delta(json!({"content":""})),
        delta(json!({"content":"lo \"you\"\n"})),
        finish_chunk("stop"),
        usage_chunk(12, 3, 0, 0),
    ]);
    assert_eq!(
        events(&f),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(
        f[0].1,
        json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m",
                "content":[],"stop_reason":null,"stop_sequence":null,
                "usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}})
    );
    assert_eq!(
        f[2].1,
        json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})
    );
    assert_eq!(
        f[4].1,
        json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo \"you\"\n"}})
    );
    assert_eq!(f[5].1, json!({"type":"content_block_stop","index":0}));
    assert_eq!(
        f[6].1,
        json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},
                   "usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3}})
    );
    assert_eq!(f[7].1, json!({"type":"message_stop"}));
    check_lifecycle(&f);
}

#[test]
fn start_is_idempotent_and_role_only_chunks_render_nothing() {
    let mut r = StreamRenderer::new("msg_1", "m", 0);
    let mut out = Vec::new();
    r.start(&mut out);
    let len = out.len();
    r.start(&mut out);
    r.chunk(&obj(delta(json!({"role":"assistant"}))), &mut out);
    r.chunk(
        &obj(delta(json!({"role":"assistant","content":""}))),
        &mut out,
    );
    assert_eq!(out.len(), len);
    assert_eq!(events(&frames(&out)), ["message_start", "ping"]);
    // `chunk` starts the stream itself.
    let mut r = StreamRenderer::new("msg_1", "m", 0);
    let mut out = Vec::new();
    r.chunk(&obj(delta(json!({"content":"x"}))), &mut out);
    assert_eq!(
        events(&frames(&out))[..3],
        ["message_start", "ping", "content_block_start"]
    );
}

#[test]
fn reasoning_text_and_two_fragmented_tool_calls() {
    let f = render(&[
        delta(
            json!({"role":"assistant","content":"","reasoning":"Think","reasoning_details":[
                {"type":"reasoning.text","text":"Think","format":"anthropic-claude-v1","index":0}]}),
        ),
        delta(json!({"content":"","reasoning":"ing.","reasoning_details":[
                {"type":"reasoning.text","text":"ing.","format":"anthropic-claude-v1","index":0}]})),
        delta(json!({"content":"","reasoning_details":[
                {"type":"reasoning.text","signature":"SIG","format":"anthropic-claude-v1","index":0}]})),
        delta(json!({"content":"Let me check."})),
        tool_frag(0, Some("call_a"), Some("weather"), ""),
        tool_frag(0, None, None, "{\"loc"),
        tool_frag(0, None, None, "\":\"Oslo\"}"),
        tool_frag(1, Some("call_b"), Some("time"), "{\"tz\":"),
        tool_frag(1, None, None, "\"CET\"}"),
        finish_chunk("tool_calls"),
    ]);
    assert_eq!(
        events(&f),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    check_lifecycle(&f);
    assert_eq!(
        f[2].1["content_block"],
        json!({"type":"thinking","thinking":"","signature":""})
    );
    assert_eq!(
        f[3].1["delta"],
        json!({"type":"thinking_delta","thinking":"Think"})
    );
    assert_eq!(
        f[4].1["delta"],
        json!({"type":"thinking_delta","thinking":"ing."})
    );
    assert_eq!(
        f[5].1["delta"],
        json!({"type":"signature_delta","signature":"SIG"})
    );
    assert_eq!(f[8].1["delta"]["text"], "Let me check.");
    assert_eq!(
        f[10].1,
        json!({"type":"content_block_start","index":2,"content_block":
                {"type":"tool_use","id":"call_a","name":"weather","input":{}}})
    );
    let args = |from: usize, to: usize| -> String {
        f[from..to]
            .iter()
            .map(|(_, d)| {
                assert_eq!(d["delta"]["type"], "input_json_delta");
                d["delta"]["partial_json"].as_str().unwrap().to_owned()
            })
            .collect()
    };
    assert_eq!(args(11, 13), "{\"loc\":\"Oslo\"}");
    assert_eq!(f[14].1["content_block"]["id"], "call_b");
    assert_eq!(f[14].1["index"], 3);
    assert_eq!(args(15, 17), "{\"tz\":\"CET\"}");
    assert_eq!(f[18].1["delta"]["stop_reason"], "tool_use");
    // No usage came: the output figure is an estimate from the generated bytes.
    assert!(f[18].1["usage"]["output_tokens"].as_u64().unwrap() > 0);
    assert!(f[18].1["usage"].get("input_tokens").is_none());
}

#[test]
fn reasoning_content_and_encrypted_details() {
    let f = render(&[
        delta(json!({"reasoning_content":"plain"})),
        delta(json!({"reasoning_details":[{"type":"reasoning.encrypted","data":"ENC","index":1}]})),
        delta(json!({"reasoning_details":[{"type":"reasoning.text","text":"again","index":2}]})),
        delta(json!({"content":"ok"})),
    ]);
    check_lifecycle(&f);
    let starts: Vec<&Value> = f
        .iter()
        .filter(|(e, _)| e == "content_block_start")
        .map(|(_, d)| &d["content_block"])
        .collect();
    assert_eq!(starts[0]["type"], "thinking");
    assert_eq!(*starts[1], json!({"type":"redacted_thinking","data":"ENC"}));
    assert_eq!(starts[2]["type"], "thinking");
    assert_eq!(starts[3]["type"], "text");
    assert_eq!(f[3].1["delta"]["thinking"], "plain");
}

#[test]
fn a_new_detail_index_or_a_signed_block_starts_a_new_thinking_block() {
    let f = render(&[
        delta(json!({"reasoning_details":[{"type":"reasoning.text","text":"a","index":0}]})),
        delta(json!({"reasoning_details":[{"type":"reasoning.text","text":"b","index":1}]})),
        delta(json!({"reasoning_details":[{"type":"reasoning.text","signature":"S","index":1}]})),
        delta(json!({"reasoning":"c"})),
    ]);
    check_lifecycle(&f);
    let starts = f.iter().filter(|(e, _)| e == "content_block_start").count();
    assert_eq!(starts, 3);
}

#[test]
fn usage_after_finish_and_cache_figures() {
    let f = render(&[
        delta(json!({"content":"hi"})),
        finish_chunk("length"),
        usage_chunk(1000, 20, 700, 200),
    ]);
    let md = &f[f.len() - 2].1;
    assert_eq!(
        *md,
        json!({"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},
                   "usage":{"input_tokens":100,"cache_creation_input_tokens":200,"cache_read_input_tokens":700,"output_tokens":20}})
    );
    // Inconsistent figures never go negative.
    let u = OutUsage::from_usage(
        &serde_json::from_value(json!({
            "prompt_tokens":5,"completion_tokens":1,
            "prompt_tokens_details":{"cached_tokens":9,"cache_write_tokens":9}}))
        .unwrap(),
    );
    assert_eq!(u.input_tokens, 0);
    // Anthropic's own names are read when the OpenAI details are missing.
    let u = OutUsage::from_usage(
        &serde_json::from_value(json!({
            "prompt_tokens":50,"completion_tokens":1,
            "cache_read_input_tokens":30,"cache_creation_input_tokens":5}))
        .unwrap(),
    );
    assert_eq!(
        (
            u.input_tokens,
            u.cache_read_input_tokens,
            u.cache_creation_input_tokens
        ),
        (15, 30, 5)
    );
}

#[test]
fn usage_is_remembered() {
    let mut r = StreamRenderer::new("msg_1", "m", 0);
    let mut out = Vec::new();
    assert!(r.usage().is_none());
    r.chunk(&obj(usage_chunk(3, 4, 0, 0)), &mut out);
    assert_eq!(r.usage().unwrap().completion_tokens, 4);
    // A usage-only chunk produces no frame of its own.
    assert_eq!(events(&frames(&out)), ["message_start", "ping"]);
}

#[test]
fn empty_stream_finishes_cleanly() {
    let f = render(&[]);
    assert_eq!(
        events(&f),
        ["message_start", "ping", "message_delta", "message_stop"]
    );
    assert_eq!(f[2].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(f[2].1["usage"], json!({"output_tokens":0}));
}

#[test]
fn tool_without_arguments_and_interleaved_fragments() {
    let f = render(&[
        tool_frag(0, Some("call_a"), Some("now"), ""),
        tool_frag(1, Some("call_b"), Some("f"), "{}"),
        // A late fragment for the closed call 0 is dropped.
        tool_frag(0, None, None, "{\"x\":1}"),
        // A new id at an index already used starts a new block (index-0-only upstreams).
        tool_frag(0, Some("call_c"), Some("g"), "{}"),
        finish_chunk("stop"),
    ]);
    check_lifecycle(&f);
    let starts: Vec<&Value> = f
        .iter()
        .filter(|(e, _)| e == "content_block_start")
        .map(|(_, d)| &d["content_block"]["id"])
        .collect();
    assert_eq!(starts, ["call_a", "call_b", "call_c"]);
    let deltas = f.iter().filter(|(e, _)| e == "content_block_delta").count();
    assert_eq!(deltas, 2);
    // Tool calls with finish `stop` still say tool_use.
    assert_eq!(f[f.len() - 2].1["delta"]["stop_reason"], "tool_use");
}

#[test]
fn missing_tool_id_is_generated() {
    let f = render(&[tool_frag(0, None, Some("f"), "{}")]);
    let id = f[2].1["content_block"]["id"].as_str().unwrap();
    assert!(id.starts_with("toolu_") && id.len() > 10, "{id}");
}

#[test]
fn native_stop_reasons_and_stop_sequence() {
    let chunk = json!({"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop",
                                       "native_finish_reason":"stop_sequence","stop_sequence":"END"}]});
    let f = render(&[chunk]);
    assert_eq!(
        f[f.len() - 2].1["delta"],
        json!({"stop_reason":"stop_sequence","stop_sequence":"END"})
    );
    let f = render(&[
        delta(json!({"content":"x"})),
        json!({"choices":[{"index":0,"delta":{},
            "finish_reason":"stop","native_finish_reason":"pause_turn"}]}),
    ]);
    assert_eq!(f[f.len() - 2].1["delta"]["stop_reason"], "pause_turn");
}

#[test]
fn stop_reason_table() {
    assert_eq!(stop_reason(Some("stop"), None, false, false), "end_turn");
    assert_eq!(
        stop_reason(Some("length"), None, false, false),
        "max_tokens"
    );
    assert_eq!(
        stop_reason(Some("tool_calls"), None, true, false),
        "tool_use"
    );
    assert_eq!(
        stop_reason(Some("tool_calls"), None, false, false),
        "end_turn"
    );
    assert_eq!(
        stop_reason(Some("content_filter"), None, false, false),
        "refusal"
    );
    assert_eq!(stop_reason(Some("error"), None, false, false), "end_turn");
    assert_eq!(stop_reason(None, None, false, false), "end_turn");
    assert_eq!(stop_reason(Some("stop"), None, true, false), "tool_use");
    assert_eq!(stop_reason(Some("stop"), None, false, true), "refusal");
    assert_eq!(
        stop_reason(Some("stop"), Some("refusal"), false, false),
        "refusal"
    );
    assert_eq!(
        stop_reason(
            Some("length"),
            Some("model_context_window_exceeded"),
            false,
            false
        ),
        "model_context_window_exceeded"
    );
    // A native tool_use without tool calls (the JSON-object tool) is not claimed.
    assert_eq!(
        stop_reason(Some("stop"), Some("tool_use"), false, false),
        "end_turn"
    );
    // Native reasons from other providers are not Anthropic's.
    assert_eq!(
        stop_reason(Some("length"), Some("MAX_TOKENS"), false, false),
        "max_tokens"
    );
}

#[test]
fn error_frame_shape_and_nothing_after_it() {
    let mut r = StreamRenderer::new("msg_1", "m", 0);
    let mut out = Vec::new();
    r.chunk(&obj(delta(json!({"content":"partial"}))), &mut out);
    r.error(529, "Overloaded", &mut out);
    r.chunk(&obj(delta(json!({"content":"more"}))), &mut out);
    r.finish(&mut out);
    let f = frames(&out);
    let (ev, data) = f.last().unwrap();
    assert_eq!(ev, "error");
    assert_eq!(
        *data,
        json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})
    );
    assert!(!events(&f).contains(&"message_stop"));
    assert_eq!(events(&f).iter().filter(|e| **e == "error").count(), 1);
}

#[test]
fn ping_frame() {
    let mut out = Vec::new();
    StreamRenderer::ping(&mut out);
    assert_eq!(out, b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
}

#[test]
fn error_types() {
    for (status, kind) in [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (408, "timeout_error"),
        (409, "invalid_request_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "timeout_error"),
        (529, "overloaded_error"),
        (200, "api_error"),
    ] {
        assert_eq!(error_type(status), kind, "{status}");
    }
}

#[test]
fn error_bodies() {
    let v: Value =
        serde_json::from_slice(&error_body(429, "slow \"down\"", Some("req_1"))).unwrap();
    assert_eq!(
        v,
        json!({"type":"error","error":{"type":"rate_limit_error","message":"slow \"down\""},"request_id":"req_1"})
    );
    let v: Value = serde_json::from_slice(&error_body(404, "no", None)).unwrap();
    assert_eq!(
        v,
        json!({"type":"error","error":{"type":"not_found_error","message":"no"}})
    );
}

fn completion(message: Value, finish: &str, usage: Option<Value>) -> RawObject {
    let mut v = json!({"id":"gen-1","object":"chat.completion","created":1,"model":"x",
            "choices":[{"index":0,"message":message,"logprobs":null,"finish_reason":finish}]});
    if let Some(u) = usage {
        v["usage"] = u;
    }
    obj(v)
}

fn message_json(c: &RawObject) -> Value {
    serde_json::from_slice(&message(c, "msg_9", "pub/model").unwrap()).unwrap()
}

#[test]
fn message_text() {
    let c = completion(
        json!({"role":"assistant","content":"Olá!","refusal":null}),
        "stop",
        Some(json!({"prompt_tokens":16,"completion_tokens":34,"total_tokens":50})),
    );
    assert_eq!(
        message_json(&c),
        json!({"id":"msg_9","type":"message","role":"assistant","model":"pub/model",
                "content":[{"type":"text","text":"Olá!"}],"stop_reason":"end_turn","stop_sequence":null,
                "usage":{"input_tokens":16,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":34}})
    );
}

#[test]
fn message_tool_calls() {
    let c = completion(
        json!({"role":"assistant","content":"Checking.","tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"location\":\"Florence,Italy\"}"}},
                {"id":"call_2","type":"function","function":{"name":"now","arguments":""}},
                {"id":"call_3","type":"function","function":{"name":"bad","arguments":"{not json"}},
                {"id":"call_4","type":"function","function":{"name":"arr","arguments":"[1]"}}]}),
        "tool_calls",
        None,
    );
    let v = message_json(&c);
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(
        v["content"],
        json!([
            {"type":"text","text":"Checking."},
            {"type":"tool_use","id":"call_1","name":"weather","input":{"location":"Florence,Italy"}},
            {"type":"tool_use","id":"call_2","name":"now","input":{}},
            {"type":"tool_use","id":"call_3","name":"bad","input":{}},
            {"type":"tool_use","id":"call_4","name":"arr","input":{}}
        ])
    );
    // No usage: zero input, estimated output.
    assert_eq!(v["usage"]["input_tokens"], 0);
    assert!(v["usage"]["output_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn message_reasoning_with_signature() {
    let c = completion(
        json!({"role":"assistant","content":"Answer.","reasoning":"Hmm.",
                "reasoning_details":[
                    {"type":"reasoning.text","text":"Hmm.","signature":"SIG","format":"anthropic-claude-v1","index":0},
                    {"type":"reasoning.encrypted","data":"ENC","format":"anthropic-claude-v1","index":1}]}),
        "stop",
        Some(json!({"prompt_tokens":100,"completion_tokens":9,
                        "prompt_tokens_details":{"cached_tokens":60,"cache_write_tokens":30}})),
    );
    let v = message_json(&c);
    assert_eq!(
        v["content"],
        json!([
            {"type":"thinking","thinking":"Hmm.","signature":"SIG"},
            {"type":"redacted_thinking","data":"ENC"},
            {"type":"text","text":"Answer."}
        ])
    );
    assert_eq!(
        v["usage"],
        json!({"input_tokens":10,"cache_creation_input_tokens":30,"cache_read_input_tokens":60,"output_tokens":9})
    );
    // Plain reasoning (no details) gets an empty signature.
    let c = completion(
        json!({"role":"assistant","content":"A","reasoning_content":"think"}),
        "stop",
        None,
    );
    assert_eq!(
        message_json(&c)["content"][0],
        json!({"type":"thinking","thinking":"think","signature":""})
    );
}

#[test]
fn message_length_stop_and_parts_content() {
    let c = completion(
        json!({"role":"assistant","content":[{"type":"text","text":"cut "},{"type":"text","text":"off"}]}),
        "length",
        None,
    );
    let v = message_json(&c);
    assert_eq!(v["stop_reason"], "max_tokens");
    assert_eq!(v["content"], json!([{"type":"text","text":"cut off"}]));
}

#[test]
fn message_refusal_and_empty_content() {
    let c = completion(
        json!({"role":"assistant","content":null,"refusal":"I can't help with that."}),
        "stop",
        None,
    );
    let v = message_json(&c);
    assert_eq!(v["stop_reason"], "refusal");
    assert_eq!(v["content"][0]["text"], "I can't help with that.");
    let c = completion(json!({"role":"assistant","content":null}), "stop", None);
    assert_eq!(message_json(&c)["content"], json!([]));
}

#[test]
fn message_rejects_malformed_input() {
    let e = message(&obj(json!({"id":"x"})), "m", "m").unwrap_err();
    assert!(matches!(e, RenderError::Missing("choices")));
    let e = message(&obj(json!({"choices":[]})), "m", "m").unwrap_err();
    assert!(matches!(e, RenderError::Missing("choices")));
    let e = message(&obj(json!({"choices":[{"index":0}]})), "m", "m").unwrap_err();
    assert!(matches!(e, RenderError::Missing("message")));
    let e = message(&obj(json!({"choices":"no"})), "m", "m").unwrap_err();
    assert!(matches!(
        e,
        RenderError::Malformed {
            field: "choices",
            ..
        }
    ));
}

#[test]
fn message_from_typed_output() {
    use crate::types::openai::{
        ChoiceOut, CompletionOut, FinishReason, FunctionCall, MessageOut, ToolCall,
    };
    let c = CompletionOut {
        id: "x".into(),
        object: "chat.completion",
        created: 1,
        model: "x".into(),
        choices: vec![ChoiceOut {
            index: 0,
            message: MessageOut {
                role: "assistant",
                content: None,
                refusal: None,
                reasoning: None,
                reasoning_details: None,
                tool_calls: Some(vec![ToolCall {
                    id: "toolu_1".into(),
                    kind: "function".into(),
                    function: FunctionCall {
                        name: "f".into(),
                        arguments: "{\"a\": [1, 2]}".into(),
                    },
                }]),
            },
            logprobs: None,
            finish_reason: Some(FinishReason::ToolCalls),
            native_finish_reason: Some("tool_use".into()),
        }],
        usage: Some(Usage::with_cache(5, 1, 2, 3)),
    };
    let v = message_json(&RawObject::from_serialize(&c).unwrap());
    assert_eq!(v["content"][0]["input"], json!({"a":[1,2]}));
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(
        v["usage"],
        json!({"input_tokens":5,"cache_creation_input_tokens":2,"cache_read_input_tokens":1,"output_tokens":3})
    );
}

#[test]
fn malformed_chunks_are_skipped() {
    let f = render(&[
        json!({"choices":"nope"}),
        json!({"choices":[{"index":0,"delta":{"content":5}}]}),
        json!({"usage":"bad"}),
        delta(json!({"content":"ok"})),
    ]);
    check_lifecycle(&f);
    assert_eq!(f[3].1["delta"]["text"], "ok");
}

/// Property (proptest is not a dependency; a seeded generator instead): any sequence of
/// well-formed chunks yields a well-formed block lifecycle ending in message_stop.
#[test]
fn random_chunk_sequences_keep_the_lifecycle() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for _ in 0..500 {
        let len = next(12);
        let mut chunks = Vec::new();
        let mut tool = 0u32;
        for _ in 0..len {
            chunks.push(match next(9) {
                    0 => {
                        let text = ["", "a", "b c"][next(3) as usize];
                        delta(json!({ "content": text }))
                    }
                    1 => delta(json!({"reasoning": "r"})),
                    2 => delta(json!({"reasoning_details":[{"type":"reasoning.text","text":"t","index":next(2)}]})),
                    3 => delta(json!({"reasoning_details":[{"type":"reasoning.text","signature":"s","index":next(2)}]})),
                    4 => delta(json!({"reasoning_details":[{"type":"reasoning.encrypted","data":"e"}]})),
                    5 => {
                        tool += 1;
                        tool_frag(tool, Some(&format!("call_{tool}")), Some("f"), "")
                    }
                    6 => tool_frag(tool, None, None, "{\"a\""),
                    7 => usage_chunk(next(100), next(100), 0, 0),
                    _ => finish_chunk(["stop", "length", "tool_calls"][next(3) as usize]),
                });
        }
        let f = render(&chunks);
        check_lifecycle(&f);
        assert_eq!(
            f.iter().filter(|(e, _)| e == "content_block_start").count(),
            f.iter().filter(|(e, _)| e == "content_block_stop").count()
        );
    }
}
