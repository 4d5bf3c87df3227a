//! Tests for whole responses, streams, errors and the item lifecycle.

use super::*;
use serde_json::{json, Value};

fn obj(v: Value) -> RawObject {
    RawObject::from_serialize(&v).unwrap()
}

fn echo() -> Echo {
    echo_of("pub/model", json!({}))
}

/// Splits SSE text into (event, data) pairs, checking the framing, that `type` repeats the
/// event name and that sequence numbers count up from 0.
fn frames(bytes: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(text.is_empty() || text.ends_with("\n\n"), "{text}");
    let f: Vec<(String, Value)> = text
        .split_terminator("\n\n")
        .map(|frame| {
            let (ev, data) = frame.split_once('\n').unwrap();
            let ev = ev.strip_prefix("event: ").unwrap().to_owned();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], ev.as_str());
            (ev, data)
        })
        .collect();
    for (i, (_, d)) in f.iter().enumerate() {
        assert_eq!(d["sequence_number"], i as u64, "{d}");
    }
    f
}

/// Event names from a space-separated list, `response.` left out.
fn names(list: &str) -> Vec<String> {
    list.split_whitespace()
        .map(|w| format!("response.{w}"))
        .collect()
}

/// `v` with the members of `at` added (the item coordinates an event repeats).
fn with(at: &Value, mut v: Value) -> Value {
    let at = at.as_object().unwrap().clone();
    v.as_object_mut().unwrap().extend(at);
    v
}

/// The response object of the terminal event.
fn last(f: &[(String, Value)]) -> &Value {
    &f.last().unwrap().1["response"]
}

fn events(f: &[(String, Value)]) -> Vec<&str> {
    f.iter().map(|(e, _)| e.as_str()).collect()
}

/// The events' data without their sequence numbers (`frames` checked those), as one array.
fn datas(f: &[(String, Value)]) -> Value {
    f.iter()
        .map(|(_, d)| {
            let mut d = d.clone();
            d.as_object_mut().unwrap().remove("sequence_number");
            d
        })
        .collect()
}

fn render(chunks: &[Value]) -> Vec<(String, Value)> {
    let mut r = StreamRenderer::new("resp_1", 1700000000, echo());
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

fn usage_chunk(prompt: u64, completion: u64, cached: u64, reasoning: u64) -> Value {
    json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"x","choices":[],
               "usage":{"prompt_tokens":prompt,"completion_tokens":completion,"total_tokens":prompt+completion,
                        "prompt_tokens_details":{"cached_tokens":cached},
                        "completion_tokens_details":{"reasoning_tokens":reasoning}}})
}

/// A delta with one `reasoning_details` entry.
fn detail(d: Value) -> Value {
    delta(json!({ "reasoning_details": [d] }))
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

const TERMINAL: [&str; 3] = [
    "response.completed",
    "response.incomplete",
    "response.failed",
];

/// The item lifecycle: created and in_progress first; items added one at a time with
/// output indexes counting from 0; every event about an item names the open one; every
/// added item is done once, and the done item is the one in the terminal response's
/// output; deltas add up to the done texts; the terminal event comes last, once.
fn check_lifecycle(f: &[(String, Value)]) {
    assert_eq!(events(&f[..2]), names("created in_progress"));
    for (_, d) in &f[..2] {
        assert_eq!(d["response"]["status"], "in_progress");
        assert_eq!(d["response"]["output"], json!([]));
    }
    let mut open: Option<(u64, String)> = None;
    let mut next = 0u64;
    let (mut done_items, mut ids) = (Vec::new(), Vec::new());
    let mut acc = String::new();
    for (ev, d) in &f[2..f.len() - 1] {
        match ev.as_str() {
            "response.output_item.added" => {
                assert!(open.is_none(), "items interleave: {d}");
                assert_eq!(d["output_index"], next);
                let id = d["item"]["id"].as_str().unwrap().to_owned();
                assert!(
                    !id.is_empty() && !ids.contains(&id),
                    "item ids repeat: {id}"
                );
                ids.push(id.clone());
                open = Some((next, id));
                next += 1;
            }
            "response.output_item.done" => {
                let (at, id) = open.take().expect("done without added");
                assert_eq!(d["output_index"], at);
                assert_eq!(d["item"]["id"], id.as_str());
                assert_ne!(d["item"]["status"], "in_progress");
                done_items.push(d["item"].clone());
            }
            e if TERMINAL.contains(&e) || e.starts_with("response.created") => {
                panic!("{e} before the end")
            }
            _ => {
                let (at, id) = open.as_ref().expect("item event outside an item");
                assert_eq!(d["output_index"], *at, "{d}");
                assert_eq!(d["item_id"], id.as_str(), "{d}");
                if ev.ends_with(".delta") {
                    acc.push_str(d["delta"].as_str().unwrap());
                } else if ev.ends_with("text.done") || ev.ends_with("refusal.done") {
                    let full = d.get("text").or(d.get("refusal"));
                    assert_eq!(full.and_then(Value::as_str), Some(acc.as_str()));
                    acc.clear();
                } else if ev == "response.function_call_arguments.done" {
                    assert_eq!(d["arguments"].as_str().unwrap(), acc);
                    acc.clear();
                }
            }
        }
    }
    assert!(open.is_none(), "an item is left open");
    let (last, d) = f.last().unwrap();
    assert!(TERMINAL.contains(&last.as_str()), "{last}");
    assert_eq!(d["response"]["output"], Value::Array(done_items));
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
    check_lifecycle(&f);
    let in_progress = json!({"id":"resp_1","object":"response","created_at":1700000000,
        "status":"in_progress","error":null,"incomplete_details":null,"instructions":null,
        "max_output_tokens":null,"model":"pub/model","output":[],"parallel_tool_calls":true,
        "previous_response_id":null,"completed_at":null,"presence_penalty":0.0,
        "frequency_penalty":0.0,"reasoning":{"effort":null,"summary":null},"store":false,
        "temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],
        "top_p":1.0,"truncation":"disabled","user":null,"metadata":{}});
    let part =
        json!({"type":"output_text","text":"Hello \"you\"\n","annotations":[],"logprobs":[]});
    let item = json!({"type":"message","id":"msg_1_0","status":"completed","role":"assistant","content":[part]});
    let mut completed = in_progress.clone();
    completed["status"] = json!("completed");
    completed["output"] = json!([item]);
    completed["usage"] = json!({"input_tokens":12,"input_tokens_details":{"cached_tokens":0,"cache_write_tokens":0},
        "output_tokens":3,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":15});
    let at = json!({"item_id":"msg_1_0","output_index":0,"content_index":0});
    assert_eq!(
        datas(&f),
        json!([
            {"type":"response.created","response":in_progress},
            {"type":"response.in_progress","response":in_progress},
            {"type":"response.output_item.added","output_index":0,
             "item":{"type":"message","id":"msg_1_0","status":"in_progress","role":"assistant","content":[]}},
            with(&at, json!({"type":"response.content_part.added",
                "part":{"type":"output_text","text":"","annotations":[],"logprobs":[]}})),
            with(&at, json!({"type":"response.output_text.delta","delta":"Hel","logprobs":[]})),
            with(&at, json!({"type":"response.output_text.delta","delta":"lo \"you\"\n","logprobs":[]})),
            with(&at, json!({"type":"response.output_text.done","text":"Hello \"you\"\n","logprobs":[]})),
            with(&at, json!({"type":"response.content_part.done","part":part})),
            {"type":"response.output_item.done","output_index":0,"item":item},
            {"type":"response.completed","response":completed},
        ])
    );
    assert_eq!(f[9].1["sequence_number"], 9);
}

#[test]
fn start_is_idempotent_and_role_only_chunks_render_nothing() {
    let mut r = StreamRenderer::new("resp_1", 1, echo());
    let mut out = Vec::new();
    r.start(&mut out);
    let len = out.len();
    r.start(&mut out);
    r.chunk(&obj(delta(json!({"role":"assistant"}))), &mut out);
    let empty = delta(json!({"role":"assistant","content":"","refusal":null}));
    r.chunk(&obj(empty), &mut out);
    assert_eq!(out.len(), len);
    assert_eq!(events(&frames(&out)), names("created in_progress"));
    // `chunk` starts the stream itself.
    let mut r = StreamRenderer::new("resp_1", 1, echo());
    let mut out = Vec::new();
    r.chunk(&obj(delta(json!({"content":"x"}))), &mut out);
    let want = names("created in_progress output_item.added");
    assert_eq!(events(&frames(&out))[..3], want);
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
        // A signature has no place in a Responses item.
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
    check_lifecycle(&f);
    let rs = json!({"item_id":"rs_1_0","output_index":0,"summary_index":0});
    let fc = |n: u64| json!({"item_id":format!("fc_1_{n}"),"output_index":n});
    let summary = json!({"type":"summary_text","text":"Thinking."});
    let text = json!({"type":"output_text","text":"Let me check.","annotations":[],"logprobs":[]});
    let msg = json!({"item_id":"msg_1_1","output_index":1,"content_index":0});
    let call = |n: u64, id: &str, name: &str, args: &str, status: &str| {
        json!({"type":"function_call","id":format!("fc_1_{n}"),"call_id":id,"name":name,
               "arguments":args,"status":status})
    };
    let d = datas(&f);
    assert_eq!(d[25]["response"]["status"], "completed");
    // No usage came: none is claimed.
    assert_eq!(d[25]["response"]["usage"], Value::Null);
    assert_eq!(
        d.as_array().unwrap()[2..25],
        json!([
            {"type":"response.output_item.added","output_index":0,"item":{"type":"reasoning","id":"rs_1_0","summary":[]}},
            with(&rs, json!({"type":"response.reasoning_summary_part.added","part":{"type":"summary_text","text":""}})),
            with(&rs, json!({"type":"response.reasoning_summary_text.delta","delta":"Think"})),
            with(&rs, json!({"type":"response.reasoning_summary_text.delta","delta":"ing."})),
            with(&rs, json!({"type":"response.reasoning_summary_text.done","text":"Thinking."})),
            with(&rs, json!({"type":"response.reasoning_summary_part.done","part":summary})),
            {"type":"response.output_item.done","output_index":0,"item":{"type":"reasoning","id":"rs_1_0","summary":[summary]}},
            {"type":"response.output_item.added","output_index":1,"item":{"type":"message","id":"msg_1_1","status":"in_progress","role":"assistant","content":[]}},
            with(&msg, json!({"type":"response.content_part.added","part":{"type":"output_text","text":"","annotations":[],"logprobs":[]}})),
            with(&msg, json!({"type":"response.output_text.delta","delta":"Let me check.","logprobs":[]})),
            with(&msg, json!({"type":"response.output_text.done","text":"Let me check.","logprobs":[]})),
            with(&msg, json!({"type":"response.content_part.done","part":text})),
            {"type":"response.output_item.done","output_index":1,"item":{"type":"message","id":"msg_1_1","status":"completed","role":"assistant","content":[text]}},
            {"type":"response.output_item.added","output_index":2,"item":call(2,"call_a","weather","","in_progress")},
            with(&fc(2), json!({"type":"response.function_call_arguments.delta","delta":"{\"loc"})),
            with(&fc(2), json!({"type":"response.function_call_arguments.delta","delta":"\":\"Oslo\"}"})),
            with(&fc(2), json!({"type":"response.function_call_arguments.done","name":"weather","arguments":"{\"loc\":\"Oslo\"}"})),
            {"type":"response.output_item.done","output_index":2,"item":call(2,"call_a","weather","{\"loc\":\"Oslo\"}","completed")},
            {"type":"response.output_item.added","output_index":3,"item":call(3,"call_b","time","","in_progress")},
            with(&fc(3), json!({"type":"response.function_call_arguments.delta","delta":"{\"tz\":"})),
            with(&fc(3), json!({"type":"response.function_call_arguments.delta","delta":"\"CET\"}"})),
            with(&fc(3), json!({"type":"response.function_call_arguments.done","name":"time","arguments":"{\"tz\":\"CET\"}"})),
            {"type":"response.output_item.done","output_index":3,"item":call(3,"call_b","time","{\"tz\":\"CET\"}","completed")},
        ]).as_array().unwrap()[..]
    );
}

#[test]
fn reasoning_parts_and_encrypted_content() {
    let f = render(&[
        // Text without an index continues the part; a new index starts the next part.
        delta(json!({"reasoning_content":"plain "})),
        detail(json!({"type":"reasoning.text","text":"more","index":0})),
        detail(json!({"type":"reasoning.summary","summary":"one","index":1})),
        detail(json!({"type":"reasoning.encrypted","data":"ENC","index":2})),
        // The item is sealed by its encrypted content: more reasoning is a new item.
        detail(json!({"type":"reasoning.text","text":"again","index":3})),
        detail(json!({"type":"reasoning.encrypted","data":"ENC2"})),
        detail(json!({"type":"reasoning.encrypted","data":"ENC3"})),
        delta(json!({"content":"ok"})),
    ]);
    check_lifecycle(&f);
    let output = &last(&f)["output"];
    assert_eq!(
        *output,
        json!([
            {"type":"reasoning","id":"rs_1_0","summary":[
                {"type":"summary_text","text":"plain more"},{"type":"summary_text","text":"one"}],
             "encrypted_content":"ENC"},
            {"type":"reasoning","id":"rs_1_1","summary":[{"type":"summary_text","text":"again"}],
             "encrypted_content":"ENC2"},
            {"type":"reasoning","id":"rs_1_2","summary":[],"encrypted_content":"ENC3"},
            {"type":"message","id":"msg_1_3","status":"completed","role":"assistant",
             "content":[{"type":"output_text","text":"ok","annotations":[],"logprobs":[]}]}
        ])
    );
    // The second summary part of the first item is announced with its index.
    let parts: Vec<&Value> = f
        .iter()
        .filter(|(e, _)| e == "response.reasoning_summary_part.added")
        .map(|(_, d)| &d["summary_index"])
        .collect();
    assert_eq!(parts, [0, 1, 0]);
}

#[test]
fn refusal_streams_as_its_own_content_part() {
    let f = render(&[
        delta(json!({"content":"Well"})),
        delta(json!({"refusal":"I can't"})),
        delta(json!({"refusal":" help."})),
        finish_chunk("stop"),
    ]);
    check_lifecycle(&f);
    let refusal = json!({"type":"refusal","refusal":"I can't help."});
    let d = datas(&f);
    assert_eq!(
        d.as_array().unwrap()[5..12],
        json!([
            {"type":"response.output_text.done","item_id":"msg_1_0","output_index":0,"content_index":0,"text":"Well","logprobs":[]},
            {"type":"response.content_part.done","item_id":"msg_1_0","output_index":0,"content_index":0,
             "part":{"type":"output_text","text":"Well","annotations":[],"logprobs":[]}},
            {"type":"response.content_part.added","item_id":"msg_1_0","output_index":0,"content_index":1,"part":{"type":"refusal","refusal":""}},
            {"type":"response.refusal.delta","item_id":"msg_1_0","output_index":0,"content_index":1,"delta":"I can't"},
            {"type":"response.refusal.delta","item_id":"msg_1_0","output_index":0,"content_index":1,"delta":" help."},
            {"type":"response.refusal.done","item_id":"msg_1_0","output_index":0,"content_index":1,"refusal":"I can't help."},
            {"type":"response.content_part.done","item_id":"msg_1_0","output_index":0,"content_index":1,"part":refusal},
        ]).as_array().unwrap()[..]
    );
    assert_eq!(d[12]["item"]["content"][1], refusal);
}

#[test]
fn usage_after_finish_and_cache_figures() {
    let mut r = StreamRenderer::new("resp_1", 1, echo());
    let mut out = Vec::new();
    assert!(r.usage().is_none());
    r.chunk(&obj(delta(json!({"content":"hi"}))), &mut out);
    r.chunk(&obj(finish_chunk("stop")), &mut out);
    let before = out.len();
    r.chunk(&obj(usage_chunk(1000, 20, 700, 8)), &mut out);
    // A usage-only chunk produces no event of its own; only `finish` ends the stream.
    assert_eq!(out.len(), before);
    assert_eq!(r.usage().unwrap().completion_tokens, 20);
    r.finish(&mut out);
    let f = frames(&out);
    check_lifecycle(&f);
    assert_eq!(
        last(&f)["usage"],
        json!({"input_tokens":1000,"input_tokens_details":{"cached_tokens":700,"cache_write_tokens":0},
               "output_tokens":20,"output_tokens_details":{"reasoning_tokens":8},"total_tokens":1020})
    );
    // Anthropic's names and cache writes are read too; a missing total is the sum.
    let mut out = Vec::new();
    let u = json!({"prompt_tokens":50,"completion_tokens":2,"cache_read_input_tokens":30,"cache_creation_input_tokens":5});
    write_usage(&mut out, &serde_json::from_value(u).unwrap());
    assert_eq!(
        serde_json::from_slice::<Value>(&out).unwrap(),
        json!({"input_tokens":50,"input_tokens_details":{"cached_tokens":30,"cache_write_tokens":5},
               "output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":52})
    );
}

#[test]
fn length_and_content_filter_are_incomplete_error_fails() {
    let f = render(&[
        delta(json!({"content":"cut"})),
        finish_chunk("length"),
        usage_chunk(5, 1, 0, 0),
    ]);
    check_lifecycle(&f);
    assert_eq!(f.last().unwrap().0, "response.incomplete");
    let r = last(&f);
    assert_eq!(
        (&r["status"], &r["error"]),
        (&json!("incomplete"), &Value::Null)
    );
    assert_eq!(
        r["incomplete_details"],
        json!({"reason":"max_output_tokens"})
    );
    assert_eq!(r["output"][0]["status"], "incomplete");
    assert_eq!(r["usage"]["output_tokens"], 1);
    // Cut off inside a tool call: the call is incomplete, earlier items are not.
    let call = tool_frag(0, Some("call_1"), Some("f"), "{\"x");
    let f = render(&[delta(json!({"content":"a"})), call, finish_chunk("length")]);
    check_lifecycle(&f);
    assert_eq!(last(&f)["output"][0]["status"], "completed");
    assert_eq!(last(&f)["output"][1]["status"], "incomplete");
    let f = render(&[
        delta(json!({"content":"a"})),
        finish_chunk("content_filter"),
    ]);
    assert_eq!(f.last().unwrap().0, "response.incomplete");
    assert_eq!(
        last(&f)["incomplete_details"],
        json!({"reason":"content_filter"})
    );
    // OpenRouter's `error` finish: the generation failed.
    let f = render(&[delta(json!({"content":"a"})), finish_chunk("error")]);
    check_lifecycle(&f);
    assert_eq!(f.last().unwrap().0, "response.failed");
    assert_eq!(
        last(&f)["error"],
        json!({"code":"server_error","message":GENERATION_FAILED})
    );
}

#[test]
fn empty_stream_finishes_cleanly() {
    let f = render(&[]);
    assert_eq!(events(&f), names("created in_progress completed"));
    assert_eq!(f[2].1["response"]["output"], json!([]));
    assert_eq!(f[2].1["response"]["status"], "completed");
}

#[test]
fn error_frame_after_start_and_nothing_after_it() {
    let mut r = StreamRenderer::new("resp_1", 1, echo());
    let mut out = Vec::new();
    r.chunk(&obj(delta(json!({"content":"partial"}))), &mut out);
    r.error(429, "Slow \"down\"", &mut out);
    r.chunk(&obj(delta(json!({"content":"more"}))), &mut out);
    r.finish(&mut out);
    r.error(500, "again", &mut out);
    let f = frames(&out);
    check_lifecycle(&f);
    let (ev, d) = f.last().unwrap();
    assert_eq!(ev, "response.failed");
    let resp = &d["response"];
    assert_eq!(resp["status"], "failed");
    assert_eq!(
        resp["error"],
        json!({"code":"rate_limit_exceeded","message":"Slow \"down\""})
    );
    assert_eq!(resp["incomplete_details"], Value::Null);
    assert_eq!(resp["output"][0]["status"], "incomplete");
    assert_eq!(resp["output"][0]["content"][0]["text"], "partial");
    assert_eq!(
        events(&f).iter().filter(|e| TERMINAL.contains(e)).count(),
        1
    );
    // An error before anything else still opens the response first.
    let mut r = StreamRenderer::new("resp_1", 1, echo());
    let mut out = Vec::new();
    r.error(502, "upstream", &mut out);
    let f = frames(&out);
    assert_eq!(events(&f), names("created in_progress failed"));
    assert_eq!(f[2].1["response"]["error"]["code"], "server_error");
}

#[test]
fn standalone_error_event() {
    let mut out = Vec::new();
    error_event(429, "too \"fast\"", &mut out);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        "event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\
         \"message\":\"too \\\"fast\\\"\",\"param\":null,\"sequence_number\":0}\n\n"
    );
    assert_eq!(frames(&out)[0].1["sequence_number"], 0);
}

#[test]
fn error_codes() {
    let table = "400:invalid_prompt 401:invalid_prompt 404:invalid_prompt 408:server_error
        413:invalid_prompt 429:rate_limit_exceeded 500:server_error 502:server_error
        503:server_error 200:server_error";
    for entry in table.split_whitespace() {
        let (status, code) = entry.split_once(':').unwrap();
        assert_eq!(error_code(status.parse().unwrap()), code, "{status}");
    }
}

#[test]
fn tool_without_arguments_interleaved_fragments_and_late_names() {
    let f = render(&[
        tool_frag(0, Some("call_a"), Some("now"), ""),
        tool_frag(1, Some("call_b"), None, "{}"),
        tool_frag(1, None, Some("late"), ""),
        // A late fragment for the closed call 0 is dropped.
        tool_frag(0, None, None, "{\"x\":1}"),
        // A new id at an index already used starts a new item (index-0-only upstreams).
        tool_frag(0, Some("call_c"), Some("g"), "{}"),
        finish_chunk("tool_calls"),
    ]);
    check_lifecycle(&f);
    let calls: Value = last(&f)["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| json!([i["call_id"], i["name"], i["arguments"]]))
        .collect();
    assert_eq!(
        calls,
        json!([
            ["call_a", "now", ""],
            ["call_b", "late", "{}"],
            ["call_c", "g", "{}"]
        ])
    );
}

#[test]
fn missing_tool_id_is_generated() {
    let f = render(&[tool_frag(0, None, Some("f"), "{}")]);
    let id = f[2].1["item"]["call_id"].as_str().unwrap();
    assert!(id.starts_with("call_") && id.len() > 10, "{id}");
    assert_eq!(last(&f)["output"][0]["call_id"], id);
}

fn echo_of(model: &str, fields: Value) -> Echo {
    let (model, fields) = (model.to_owned(), obj(fields));
    Echo { model, fields }
}

#[test]
fn echoed_request_fields() {
    let echoed = json!({"instructions":"Be brief.","tools":[{"type":"function","name":"f","parameters":{}}],
        "tool_choice":"required","parallel_tool_calls":false,"temperature":0.2,"top_p":0.9,
        "max_output_tokens":64,"reasoning":{"effort":"low","summary":"auto"},
        "text":{"format":{"type":"json_object"}},"metadata":{"k":"v"},"user":"u1"});
    let mut fields = json!({"model":"ignored","input":"hi","stream":true,"store":true,
        "truncation":"auto","previous_response_id":"resp_0"});
    let extra = echoed.as_object().unwrap().clone();
    fields.as_object_mut().unwrap().extend(extra);
    let mut out = Vec::new();
    StreamRenderer::new("resp_1", 1, echo_of("pub/model", fields)).start(&mut out);
    let resp = frames(&out)[0].1["response"].clone();
    for (key, value) in echoed.as_object().unwrap() {
        assert_eq!(resp[key], *value, "{key}");
    }
    assert_eq!(resp["model"], "pub/model");
    // The gateway is stateless and never truncates; other request members are not echoed.
    let fixed = [
        &resp["store"],
        &resp["truncation"],
        &resp["previous_response_id"],
    ];
    assert_eq!(fixed, [&json!(false), &json!("disabled"), &Value::Null]);
    assert!(resp.get("input").is_none() && resp.get("stream").is_none());
    // Pretty-printed members are echoed compactly (one SSE data line); `null` is not sent.
    let raw = b"{\"tools\": null, \"metadata\":\n {\"a b\" :\r\n\t\"x\\\" y\"},\"top_p\":null}";
    let mut e = echo();
    e.fields = RawObject::parse(raw).unwrap();
    let mut out = Vec::new();
    StreamRenderer::new("resp_1", 1, e).start(&mut out);
    let resp = &frames(&out)[0].1["response"];
    let got = [&resp["metadata"], &resp["tools"], &resp["top_p"]];
    assert_eq!(got, [&json!({"a b":"x\" y"}), &json!([]), &json!(1.0)]);
}

/// Every member the spec's `Response` schema requires, plus those OpenAI always sends.
#[test]
fn response_objects_carry_every_required_member() {
    let required = "id object created_at error incomplete_details instructions model tools
        output parallel_tool_calls metadata tool_choice temperature top_p status
        store text reasoning truncation max_output_tokens previous_response_id user
        completed_at presence_penalty frequency_penalty";
    let f = render(&[delta(json!({"content":"x"}))]);
    let c = completion(json!({"role":"assistant","content":"x"}), "stop", None);
    let whole = response_json(&c);
    for resp in [&f[0].1["response"], last(&f), &whole] {
        let members = resp.as_object().unwrap();
        for key in required.split_whitespace() {
            assert!(members.contains_key(key), "{key} missing in {resp}");
        }
        assert!(!members.contains_key("output_text"));
    }
}

fn completion(message: Value, finish: &str, usage: Option<Value>) -> RawObject {
    let mut v = json!({"id":"gen-1","object":"chat.completion","created":1,"model":"x",
            "choices":[{"index":0,"message":message,"logprobs":null,"finish_reason":finish}]});
    if let Some(u) = usage {
        v["usage"] = u;
    }
    obj(v)
}

fn response_json(c: &RawObject) -> Value {
    serde_json::from_slice(&response(c, "resp_9", 1700000000, &echo()).unwrap()).unwrap()
}

#[test]
fn response_text() {
    let c = completion(
        json!({"role":"assistant","content":"Olá!","refusal":null}),
        "stop",
        Some(
            json!({"prompt_tokens":16,"completion_tokens":34,"total_tokens":50,
                    "prompt_tokens_details":{"cached_tokens":4}}),
        ),
    );
    assert_eq!(
        response_json(&c),
        json!({"id":"resp_9","object":"response","created_at":1700000000,"status":"completed",
            "error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,
            "model":"pub/model",
            "output":[{"type":"message","id":"msg_9_0","status":"completed","role":"assistant",
                "content":[{"type":"output_text","text":"Olá!","annotations":[],"logprobs":[]}]}],
            "parallel_tool_calls":true,"previous_response_id":null,"completed_at":null,
            "presence_penalty":0.0,"frequency_penalty":0.0,
            "reasoning":{"effort":null,"summary":null},"store":false,"temperature":1.0,
            "text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,
            "truncation":"disabled",
            "usage":{"input_tokens":16,"input_tokens_details":{"cached_tokens":4,"cache_write_tokens":0},
                "output_tokens":34,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":50},
            "user":null,"metadata":{}})
    );
}

#[test]
fn response_tool_calls() {
    let c = completion(
        json!({"role":"assistant","content":"Checking.","tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"location\":\"Florence,Italy\"}"}},
                {"id":"call_2","type":"function","function":{"name":"now","arguments":""}},
                {"type":"function","function":{"name":"anon","arguments":"{}"}}]}),
        "tool_calls",
        None,
    );
    let mut v = response_json(&c);
    assert_eq!(
        [&v["status"], &v["usage"]],
        [&json!("completed"), &Value::Null]
    );
    let generated = v["output"][3]["call_id"].take();
    assert!(generated.as_str().unwrap().starts_with("call_"));
    assert_eq!(
        v["output"],
        json!([
            {"type":"message","id":"msg_9_0","status":"completed","role":"assistant",
             "content":[{"type":"output_text","text":"Checking.","annotations":[],"logprobs":[]}]},
            {"type":"function_call","id":"fc_9_1","call_id":"call_1","name":"weather",
             "arguments":"{\"location\":\"Florence,Italy\"}","status":"completed"},
            {"type":"function_call","id":"fc_9_2","call_id":"call_2","name":"now","arguments":"","status":"completed"},
            {"type":"function_call","id":"fc_9_3","call_id":null,"name":"anon","arguments":"{}","status":"completed"}
        ])
    );
}

#[test]
fn response_reasoning() {
    let c = completion(
        json!({"role":"assistant","content":"Answer.","reasoning":"Hmm.",
                "reasoning_details":[
                    {"type":"reasoning.text","text":"Hmm.","signature":"SIG","format":"anthropic-claude-v1","index":0},
                    {"type":"reasoning.encrypted","data":"ENC","format":"anthropic-claude-v1","index":1}]}),
        "stop",
        Some(json!({"prompt_tokens":100,"completion_tokens":9,
                    "completion_tokens_details":{"reasoning_tokens":5}})),
    );
    let v = response_json(&c);
    assert_eq!(
        v["output"],
        json!([
            {"type":"reasoning","id":"rs_9_0","summary":[{"type":"summary_text","text":"Hmm."}],
             "encrypted_content":"ENC"},
            {"type":"message","id":"msg_9_1","status":"completed","role":"assistant",
             "content":[{"type":"output_text","text":"Answer.","annotations":[],"logprobs":[]}]}
        ])
    );
    assert_eq!(v["usage"]["output_tokens_details"]["reasoning_tokens"], 5);
    assert_eq!(v["usage"]["total_tokens"], 109);
    // Plain reasoning (no details).
    let plain = json!({"role":"assistant","content":"A","reasoning_content":"think"});
    let c = completion(plain, "stop", None);
    assert_eq!(
        response_json(&c)["output"][0],
        json!({"type":"reasoning","id":"rs_9_0","summary":[{"type":"summary_text","text":"think"}]})
    );
}

#[test]
fn response_refusal_length_and_empty() {
    let refusal = json!({"role":"assistant","content":null,"refusal":"I can't help with that."});
    assert_eq!(
        response_json(&completion(refusal, "stop", None))["output"],
        json!([{"type":"message","id":"msg_9_0","status":"completed","role":"assistant",
                "content":[{"type":"refusal","refusal":"I can't help with that."}]}])
    );
    let parts = json!({"role":"assistant","content":[{"type":"text","text":"cut "},{"type":"text","text":"off"}]});
    let v = response_json(&completion(parts, "length", None));
    assert_eq!(v["status"], "incomplete");
    assert_eq!(
        v["incomplete_details"],
        json!({"reason":"max_output_tokens"})
    );
    assert_eq!(v["output"][0]["status"], "incomplete");
    assert_eq!(v["output"][0]["content"][0]["text"], "cut off");
    let c = completion(json!({"role":"assistant","content":null}), "stop", None);
    assert_eq!(response_json(&c)["output"], json!([]));
    let c = completion(
        json!({"role":"assistant","content":""}),
        "content_filter",
        None,
    );
    assert_eq!(
        response_json(&c)["incomplete_details"],
        json!({"reason":"content_filter"})
    );
}

#[test]
fn response_rejects_malformed_input() {
    for (body, want) in [
        (json!({"id":"x"}), "has no choices"),
        (json!({"choices":[]}), "has no choices"),
        (json!({"choices":[{"index":0}]}), "has no message"),
        (json!({"choices":"no"}), "`choices` is malformed"),
        (
            json!({"choices":[{"message":{}}],"usage":"bad"}),
            "`usage` is malformed",
        ),
    ] {
        let e = response(&obj(body), "resp_1", 1, &echo()).unwrap_err();
        assert!(e.to_string().contains(want), "{e}");
    }
}

#[test]
fn malformed_chunks_are_skipped() {
    let f = render(&[
        json!({"choices":"nope"}),
        json!({"choices":[{"index":0,"delta":{"content":5}}]}),
        json!({"usage":"bad"}),
        json!({"choices":[{"index":1,"delta":{"content":"other choice"}}]}),
        delta(json!({"content":"ok"})),
    ]);
    check_lifecycle(&f);
    assert_eq!(f[4].1["delta"], "ok");
    assert_eq!(last(&f)["output"][0]["content"][0]["text"], "ok");
}

/// Property (proptest is not a dependency; a seeded generator instead): any sequence of
/// well-formed chunks, ended by `finish` or `error`, keeps the item lifecycle.
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
        let len = next(14);
        let mut chunks = Vec::new();
        let mut tool = 0u32;
        for _ in 0..len {
            chunks.push(match next(11) {
                0 => delta(json!({ "content": (["", "a", "b c"][next(3) as usize]) })),
                1 => delta(json!({"reasoning": "r"})),
                2 => detail(json!({"type":"reasoning.text","text":"t","index":next(2)})),
                3 => detail(json!({"type":"reasoning.text","signature":"s","index":next(2)})),
                4 => detail(json!({"type":"reasoning.encrypted","data":"e"})),
                5 => {
                    tool += 1;
                    tool_frag(tool, Some(&format!("call_{tool}")), Some("f"), "")
                }
                6 => tool_frag(tool, None, None, "{\"a\""),
                7 => usage_chunk(next(100), next(100), 0, 0),
                8 => delta(json!({"refusal": "no"})),
                9 => tool_frag(next(3) as u32, None, None, "1"),
                _ => finish_chunk(
                    ["stop", "length", "tool_calls", "content_filter"][next(4) as usize],
                ),
            });
        }
        let mut r = StreamRenderer::new("resp_p", 1, echo());
        let mut out = Vec::new();
        for c in &chunks {
            r.chunk(&obj(c.clone()), &mut out);
        }
        if next(5) == 0 {
            r.error(500, "boom", &mut out);
        } else {
            r.finish(&mut out);
        }
        let f = frames(&out);
        check_lifecycle(&f);
    }
}
