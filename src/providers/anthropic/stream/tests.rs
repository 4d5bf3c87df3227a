//! The translator, event by event, over recorded Anthropic streams
//! (`tests/fixtures/anthropic/*.sse`) and composed edge cases.

use serde_json::{json, Value};

use super::*;

fn fixture(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/anthropic")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The `data:` payloads of an SSE body, in order.
fn data_lines(sse: &str) -> Vec<String> {
    sse.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

fn run(mode: ResponseMode, events: &[String]) -> Vec<Value> {
    let mut t = Translator::new(mode, 7);
    let mut out = Vec::new();
    for e in events {
        for c in t.step_data(e).unwrap() {
            out.push(serde_json::to_value(c).unwrap());
        }
    }
    assert!(t.is_done(), "the stream reached message_stop");
    out.extend(
        t.end()
            .unwrap()
            .into_iter()
            .map(|c| serde_json::to_value(c).unwrap()),
    );
    out
}

fn field(chunks: &[Value], f: &str) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"].get(0)?["delta"][f].as_str().map(str::to_owned))
        .collect()
}

fn tool_fragments(chunks: &[Value]) -> Vec<Value> {
    chunks
        .iter()
        .filter_map(|c| c["choices"].get(0)?["delta"].get("tool_calls").cloned())
        .flat_map(|v| v.as_array().cloned().unwrap_or_default())
        .collect()
}

fn finish(chunks: &[Value]) -> (Value, Value) {
    let c = chunks
        .iter()
        .find(|c| {
            c["choices"]
                .get(0)
                .is_some_and(|ch| !ch["finish_reason"].is_null())
        })
        .expect("a finish chunk");
    (
        c["choices"][0]["finish_reason"].clone(),
        c["choices"][0]["native_finish_reason"].clone(),
    )
}

fn ev(v: Value) -> String {
    v.to_string()
}

fn start(id: &str) -> String {
    ev(
        json!({"type":"message_start","message":{"id":id,"type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":5,"output_tokens":1}}}),
    )
}

#[test]
fn simple_stream_from_capture() {
    let chunks = run(
        ResponseMode::default(),
        &data_lines(&fixture("simple_streaming.sse")),
    );
    // Role, 12 text deltas (the ping and block start/stop give nothing), finish, usage.
    assert_eq!(chunks.len(), 15);
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    for c in &chunks {
        assert_eq!(c["id"], "msg_01R8GdyyLQUhUfyjqSCMbnWg");
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "claude-sonnet-4-20250514");
        assert_eq!(c["created"], 7);
    }
    assert_eq!(
        field(&chunks, "content"),
        "Olá! (That's \"hi\" in Portuguese)\n\nYou could also say \"Oi!\" which is a more casual way to say hi in Portuguese."
    );
    assert_eq!(finish(&chunks), (json!("stop"), json!("end_turn")));
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(
        last["usage"],
        json!({"prompt_tokens": 16, "completion_tokens": 38, "total_tokens": 54,
               "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
               "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
    );
}

#[test]
fn tool_stream_from_capture_counts_tool_calls_not_blocks() {
    let chunks = run(
        ResponseMode::default(),
        &data_lines(&fixture("tool_streaming.sse")),
    );
    assert_eq!(
        field(&chunks, "content"),
        "I'll get the weather information for Florence, Italy for you."
    );
    let frags = tool_fragments(&chunks);
    // Anthropic block 1 is OpenAI tool call 0.
    assert_eq!(
        frags[0],
        json!({"index": 0, "id": "toolu_01N2eM4V43kGCDkq2Lw7ChWQ", "type": "function",
               "function": {"name": "weather", "arguments": ""}})
    );
    for f in &frags[1..] {
        assert_eq!(f["index"], 0);
        assert!(f.get("id").is_none() && f.get("type").is_none());
        assert!(f["function"].get("name").is_none());
        assert_ne!(
            f["function"]["arguments"], "",
            "empty fragments are skipped"
        );
    }
    let args: String = frags
        .iter()
        .map(|f| f["function"]["arguments"].as_str().unwrap())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"location": "Florence,Italy"})
    );
    assert_eq!(finish(&chunks), (json!("tool_calls"), json!("tool_use")));
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(
        (
            usage["prompt_tokens"].as_u64(),
            usage["completion_tokens"].as_u64()
        ),
        (Some(394), Some(67))
    );
}

#[test]
fn thinking_stream_from_capture_goes_to_reasoning_with_its_signature() {
    let chunks = run(
        ResponseMode::default(),
        &data_lines(&fixture("thinking_streaming.sse")),
    );
    assert_eq!(
        field(&chunks, "content"),
        "",
        "thinking never reaches content"
    );
    let reasoning = field(&chunks, "reasoning");
    assert!(reasoning.starts_with("The user is asking for weather information for Florence"));
    assert!(reasoning.ends_with("I have all the required parameters to make the function call."));
    let details: Vec<Value> = chunks
        .iter()
        .filter_map(|c| {
            c["choices"].get(0)?["delta"]
                .get("reasoning_details")
                .cloned()
        })
        .flat_map(|v| v.as_array().cloned().unwrap())
        .collect();
    let text: String = details.iter().filter_map(|d| d["text"].as_str()).collect();
    assert_eq!(text, reasoning);
    let sig = details
        .iter()
        .find(|d| d.get("signature").is_some())
        .unwrap();
    assert_eq!(sig["type"], "reasoning.text");
    assert_eq!(sig["format"], "anthropic-claude-v1");
    assert_eq!(sig["index"], 0);
    assert!(sig["signature"]
        .as_str()
        .unwrap()
        .starts_with("EtYDCkYICxgCKkAV"));
    let frags = tool_fragments(&chunks);
    assert_eq!(frags[0]["index"], 0);
    assert_eq!(frags[0]["id"], "toolu_01Js4AMfx5qpTLhwTusnvT68");
    let args: String = frags
        .iter()
        .map(|f| f["function"]["arguments"].as_str().unwrap())
        .collect();
    assert_eq!(args, r#"{"location": "Florence, Italy"}"#);
    assert_eq!(finish(&chunks), (json!("tool_calls"), json!("tool_use")));
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 119);
}

#[test]
fn excluded_reasoning_is_left_out() {
    let mode = ResponseMode {
        exclude_reasoning: true,
        ..ResponseMode::default()
    };
    let chunks = run(mode, &data_lines(&fixture("thinking_streaming.sse")));
    assert!(chunks.iter().all(|c| {
        let d = &c["choices"]
            .get(0)
            .map(|ch| ch["delta"].clone())
            .unwrap_or_default();
        d.get("reasoning").is_none() && d.get("reasoning_details").is_none()
    }));
    assert_eq!(tool_fragments(&chunks)[0]["index"], 0);
}

#[test]
fn usage_is_replaced_not_added() {
    let events = [
        ev(
            json!({"type":"message_start","message":{"id":"msg_1","model":"claude-x","content":[],
            "usage":{"input_tokens":5,"cache_read_input_tokens":100,"cache_creation_input_tokens":20,"output_tokens":1}}}),
        ),
        ev(
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        ),
        ev(
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}),
        ),
        ev(json!({"type":"content_block_stop","index":0})),
        ev(
            json!({"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":12}}),
        ),
        ev(
            json!({"type":"message_delta","delta":{},"usage":{"input_tokens":5,"cache_read_input_tokens":100,"cache_creation_input_tokens":20,"output_tokens":30,"output_tokens_details":{"thinking_tokens":9}}}),
        ),
        ev(json!({"type":"message_stop"})),
    ];
    let chunks = run(ResponseMode::default(), &events);
    let finishes = chunks
        .iter()
        .filter(|c| {
            c["choices"]
                .get(0)
                .is_some_and(|ch| !ch["finish_reason"].is_null())
        })
        .count();
    assert_eq!(finishes, 1, "one finish chunk for two message_delta events");
    assert_eq!(finish(&chunks), (json!("length"), json!("max_tokens")));
    assert_eq!(
        chunks.last().unwrap()["usage"],
        json!({"prompt_tokens": 125, "completion_tokens": 30, "total_tokens": 155,
               "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 20},
               "completion_tokens_details": {"reasoning_tokens": 9},
               "cache_creation_input_tokens": 20, "cache_read_input_tokens": 100})
    );
}

#[test]
fn error_event_is_the_streams_error() {
    let mut t = Translator::new(ResponseMode::default(), 0);
    t.step_data(&start("msg_e")).unwrap();
    t.step_data(r#"{"type":"ping"}"#).unwrap();
    let e = t
        .step_data(r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#)
        .unwrap_err();
    match e {
        ProviderError::Status {
            status,
            message,
            error_type,
            ..
        } => {
            assert_eq!((status, message.as_str()), (529, "Overloaded"));
            assert_eq!(error_type.as_deref(), Some("overloaded_error"));
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn an_unfinished_stream_is_cut_and_a_finished_one_completes() {
    let mut t = Translator::new(ResponseMode::default(), 0);
    t.step_data(&start("msg_c")).unwrap();
    t.step_data(&ev(
        json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
    ))
    .unwrap();
    assert!(matches!(t.end(), Err(ProviderError::Cut(_))));

    let mut t = Translator::new(ResponseMode::default(), 0);
    t.step_data(&start("msg_d")).unwrap();
    let fin = t
        .step_data(&ev(json!({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}})))
        .unwrap();
    assert_eq!(fin.len(), 1);
    let rest = t.end().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].usage.as_ref().unwrap().completion_tokens, 3);
    assert!(t.end().unwrap().is_empty());
}

#[test]
fn events_before_message_start_are_malformed_and_unknown_ones_ignored() {
    let mut t = Translator::new(ResponseMode::default(), 0);
    assert!(t.step_data(r#"{"type":"ping"}"#).unwrap().is_empty());
    assert!(matches!(
        t.step_data(&ev(json!({"type":"content_block_stop","index":0}))),
        Err(ProviderError::Malformed(_))
    ));
    t.step_data(&start("msg_u")).unwrap();
    assert!(t
        .step_data(r#"{"type":"brand_new_event","x":1}"#)
        .unwrap()
        .is_empty());
    assert!(t
        .step_data(&ev(json!({"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"s","name":"web_search","input":{}}})))
        .unwrap()
        .is_empty());
    assert!(t
        .step_data(&ev(json!({"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}})))
        .unwrap()
        .is_empty());
    assert!(matches!(
        t.step_data("not json"),
        Err(ProviderError::Malformed(_))
    ));
}

#[test]
fn parallel_calls_and_calls_without_arguments() {
    let events = [
        start("msg_p"),
        ev(
            json!({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_a","name":"now","input":{}}}),
        ),
        ev(
            json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}),
        ),
        ev(json!({"type":"content_block_stop","index":0})),
        ev(
            json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_b","name":"add","input":{}}}),
        ),
        ev(
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}),
        ),
        ev(json!({"type":"content_block_stop","index":1})),
        ev(
            json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}),
        ),
        ev(json!({"type":"message_stop"})),
    ];
    let frags = tool_fragments(&run(ResponseMode::default(), &events));
    let args = |i: u64| -> String {
        frags
            .iter()
            .filter(|f| f["index"] == i)
            .map(|f| f["function"]["arguments"].as_str().unwrap())
            .collect()
    };
    assert_eq!(
        args(0),
        "{}",
        "a call without parameters still gets JSON arguments"
    );
    assert_eq!(args(1), r#"{"a":1}"#);
    assert_eq!(frags[0]["id"], "toolu_a");
    assert_eq!(
        frags.iter().find(|f| f["index"] == 1).unwrap()["id"],
        "toolu_b"
    );
}

#[test]
fn json_object_tool_streams_as_content() {
    let mode = ResponseMode {
        json_tool: true,
        ..ResponseMode::default()
    };
    let events = [
        start("msg_j"),
        ev(
            json!({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_j","name":"json_response","input":{}}}),
        ),
        ev(
            json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"ok\":"}}),
        ),
        ev(
            json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"true}"}}),
        ),
        ev(json!({"type":"content_block_stop","index":0})),
        ev(
            json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}),
        ),
        ev(json!({"type":"message_stop"})),
    ];
    let chunks = run(mode, &events);
    assert_eq!(field(&chunks, "content"), r#"{"ok":true}"#);
    assert!(tool_fragments(&chunks).is_empty());
    assert_eq!(finish(&chunks), (json!("stop"), json!("tool_use")));
}

#[test]
fn redacted_thinking_becomes_an_encrypted_detail() {
    let events = [
        start("msg_r"),
        ev(
            json!({"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"EmwK"}}),
        ),
        ev(json!({"type":"content_block_stop","index":0})),
        ev(json!({"type":"message_delta","delta":{"stop_reason":"end_turn"}})),
        ev(json!({"type":"message_stop"})),
    ];
    let chunks = run(ResponseMode::default(), &events);
    assert_eq!(
        chunks[1]["choices"][0]["delta"]["reasoning_details"],
        json!([{"type": "reasoning.encrypted", "data": "EmwK", "format": "anthropic-claude-v1", "index": 0}])
    );
}
