use super::*;

fn attrs(door: &str, request: &str, response: &str, max: usize) -> Map<String, Value> {
    let c = CapturedContent {
        request_body: Some(request.into()),
        request_truncated: false,
        response_body: Some(response.into()),
        response_truncated: false,
    };
    attributes(door, &c, max)
        .into_iter()
        .map(|kv| {
            let v = match kv.value {
                opentelemetry::Value::String(s) => serde_json::from_str(s.as_str()).unwrap(),
                opentelemetry::Value::Bool(b) => Value::Bool(b),
                other => panic!("{other:?}"),
            };
            (kv.key.to_string(), v)
        })
        .collect()
}

#[test]
fn chat_with_tools_round_trip() {
    let req = r#"{"model":"m","messages":[
        {"role":"system","content":"Be brief."},
        {"role":"user","content":[{"type":"text","text":"Weather in Paris?"},
            {"type":"image_url","image_url":{"url":"https://x/y.png"}}]},
        {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",
            "function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},
        {"role":"tool","tool_call_id":"c1","content":"18C"}]}"#;
    let resp = r#"{"choices":[{"index":0,"finish_reason":"stop",
        "message":{"role":"assistant","content":"18C and sunny."}}]}"#;
    let a = attrs("chat", req, resp, 1 << 20);
    assert_eq!(
        a["gen_ai.input.messages"],
        json!([
            {"role":"system","parts":[{"type":"text","content":"Be brief."}]},
            {"role":"user","parts":[{"type":"text","content":"Weather in Paris?"},
                {"type":"uri","modality":"image","uri":"https://x/y.png"}]},
            {"role":"assistant","parts":[{"type":"tool_call","id":"c1","name":"weather",
                "arguments":{"city":"Paris"}}]},
            {"role":"tool","parts":[{"type":"tool_call_response","id":"c1","response":"18C"}]}
        ])
    );
    assert_eq!(
        a["gen_ai.output.messages"],
        json!([{"role":"assistant","parts":[{"type":"text","content":"18C and sunny."}],
            "finish_reason":"stop"}])
    );
    assert!(!a.contains_key("switchyard.content_truncated"));
}

#[test]
fn anthropic_system_blocks_thinking_and_tool_results() {
    let req = r#"{"model":"m","max_tokens":9,"system":[{"type":"text","text":"You code.",
        "cache_control":{"type":"ephemeral"}}],"messages":[
        {"role":"user","content":"hi"},
        {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"s"},
            {"type":"tool_use","id":"t1","name":"ls","input":{"dir":"."}}]},
        {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1",
            "content":[{"type":"text","text":"a.rs"}]}]}]}"#;
    let resp = r#"{"type":"message","role":"assistant","stop_reason":"end_turn",
        "content":[{"type":"text","text":"One file."}]}"#;
    let a = attrs("messages", req, resp, 1 << 20);
    assert_eq!(
        a["gen_ai.system_instructions"],
        json!([{"type":"text","content":"You code."}])
    );
    let input = a["gen_ai.input.messages"].as_array().unwrap();
    assert_eq!(
        input[1]["parts"][0],
        json!({"type":"reasoning","content":"hmm"})
    );
    assert_eq!(
        input[1]["parts"][1],
        json!({"type":"tool_call","id":"t1","name":"ls","arguments":{"dir":"."}})
    );
    assert_eq!(
        input[2]["parts"][0]["response"],
        json!([{"type":"text","content":"a.rs"}])
    );
    assert_eq!(a["gen_ai.output.messages"][0]["finish_reason"], "end_turn");
}

#[test]
fn responses_items_and_a_streams_assembled_output() {
    let req = r#"{"model":"m","instructions":"Be kind.","input":[
        {"role":"user","content":[{"type":"input_text","text":"add 2+2"}]},
        {"type":"function_call","call_id":"f1","name":"add","arguments":"{\"a\":2,\"b\":2}"},
        {"type":"function_call_output","call_id":"f1","output":"4"}]}"#;
    let streamed = r#"{"content":"It is 4.","finish_reason":"stop","reasoning":"easy"}"#;
    let a = attrs("responses", req, streamed, 1 << 20);
    assert_eq!(
        a["gen_ai.system_instructions"],
        json!([{"type":"text","content":"Be kind."}])
    );
    let input = a["gen_ai.input.messages"].as_array().unwrap();
    assert_eq!(input.len(), 3);
    assert_eq!(input[1]["parts"][0]["arguments"], json!({"a":2,"b":2}));
    assert_eq!(input[2]["role"], "tool");
    assert_eq!(
        a["gen_ai.output.messages"][0]["parts"],
        json!([{"type":"reasoning","content":"easy"},{"type":"text","content":"It is 4."}])
    );
}

#[test]
fn over_the_cap_the_newest_messages_are_kept() {
    let turns: Vec<Value> = (0..50)
        .map(|i| json!({"role":"user","content":format!("turn {i} {}", "x".repeat(100))}))
        .collect();
    let req = json!({"model":"m","messages":turns}).to_string();
    let a = attrs(
        "chat",
        &req,
        r#"{"content":"ok","finish_reason":"stop"}"#,
        1000,
    );
    let input = a["gen_ai.input.messages"].as_array().unwrap();
    assert!(!input.is_empty() && input.len() < 50);
    let last = input.last().unwrap()["parts"][0]["content"]
        .as_str()
        .unwrap();
    assert!(last.starts_with("turn 49 "));
    assert!(a["gen_ai.input.messages"].to_string().len() <= 1000);
    assert_eq!(a["switchyard.content_truncated"], true);
    // One message over the cap is cut, not dropped.
    let big = json!({"model":"m","messages":[{"role":"user","content":"é".repeat(5000)}]});
    let a = attrs("chat", &big.to_string(), "{}", 500);
    let s = a["gen_ai.input.messages"][0]["parts"][0]["content"]
        .as_str()
        .unwrap();
    assert!(!s.is_empty() && s.len() < 500);
}

#[test]
fn unreadable_bodies_are_left_out() {
    let a = attrs("chat", "{\"model\":\"m\",\"messa", "not json", 1000);
    assert!(!a.contains_key("gen_ai.input.messages"));
    assert!(!a.contains_key("gen_ai.output.messages"));
}

#[test]
fn a_message_of_many_small_parts_is_cut_in_a_few_rounds_or_left_out() {
    // Cutting one string a round would take 50,000 rounds, each serialising the message.
    let parts: Vec<Value> = (0..50_000)
        .map(|_| json!({"type": "text", "text": "ab"}))
        .collect();
    let req = json!({"model": "m", "messages": [{"role": "user", "content": parts}]});
    let a = attrs("chat", &req.to_string(), "{}", 4096);
    assert!(!a.contains_key("gen_ai.input.messages"));
    assert_eq!(a["switchyard.content_truncated"], true);
}
