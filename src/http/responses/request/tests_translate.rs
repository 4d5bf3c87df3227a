//! Tests for each translation rule, a Codex-shaped request and odd inputs.

use super::tests::{chat, messages_of, parse};
use super::*;
use crate::types::openai::{ChatParams, Content, Message, Part, ToolChoice};

// --- instructions and messages ----------------------------------------------------------

#[test]
fn instructions_become_a_leading_system_message_and_a_string_one_user_message() {
    let (body, dropped) = chat(json!({"instructions": "be brief"}));
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}])
    );
    assert!(dropped.is_empty());
    let (body, _) = chat(json!({"instructions": ""}));
    assert_eq!(body["messages"], json!([{"role": "user", "content": "hi"}]));
}

#[test]
fn message_roles() {
    let (msgs, dropped) = messages_of(json!([
        {"role": "developer", "content": [
            {"type": "input_text", "text": "one"}, {"type": "input_text", "text": "two"}]},
        {"type": "message", "role": "system", "content": "sys"},
        {"role": "developer", "content": "dev"},
        {"role": "user", "content": "q"},
        {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed", "content": [
            {"type": "output_text", "text": "a", "annotations": []},
            {"type": "output_text", "text": "b", "annotations": []}]},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
    ]));
    assert_eq!(
        msgs,
        json!([
            {"role": "system", "content": "one\n\ntwo"},
            {"role": "system", "content": "sys"},
            {"role": "system", "content": "dev"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "ab"},
            {"role": "assistant", "content": "no"},
        ])
    );
    assert!(dropped.is_empty());
}

#[test]
fn user_parts() {
    let (msgs, dropped) = messages_of(json!([{"role": "user", "content": [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": "https://example.org/cat.jpg", "detail": "low"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "original"},
        {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"},
        {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE"},
    ]}]));
    assert_eq!(
        msgs[0],
        json!({"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "https://example.org/cat.jpg", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}},
            {"type": "file", "file": {"filename": "file", "file_data": "data:application/pdf;base64,JVBE"}},
        ]})
    );
    assert!(dropped.is_empty());
}

#[test]
fn file_ids_and_unknown_parts_are_dropped_and_reported() {
    let (msgs, dropped) = messages_of(json!([
        {"role": "user", "content": [
            {"type": "input_image", "file_id": "file-1"},
            {"type": "input_file", "file_id": "file-2"},
            {"type": "input_file", "file_url": "https://example.org/a.pdf"},
            {"type": "input_audio", "input_audio": {}}]},
        {"role": "system", "content": [{"type": "input_image", "image_url": "https://x"},
            {"type": "input_text", "text": "kept"}]},
    ]));
    assert_eq!(
        msgs,
        json!([{"role": "user", "content": ""}, {"role": "system", "content": "kept"}])
    );
    assert_eq!(dropped, vec!["content_parts"]);
}

// --- tool calls and outputs -----------------------------------------------------------------

#[test]
fn function_calls_merge_into_one_assistant_message() {
    let (msgs, dropped) = messages_of(json!([
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "weather", "arguments": "{\"city\":\"Paris\"}"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
        {"type": "function_call", "call_id": "c2", "name": "weather", "arguments": "{\"city\":\"Rome\"}", "status": "completed"},
        {"type": "function_call_output", "call_id": "c1", "output": "20C"},
        {"type": "function_call_output", "call_id": "c2", "output": "25C"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Checking once more."}]},
        {"type": "function_call", "call_id": "c3", "name": "weather"},
        {"type": "function_call_output", "call_id": "c3", "output": [
            {"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]},
    ]));
    assert_eq!(
        msgs,
        json!([
            {"role": "user", "content": "weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "c2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "20C"},
            {"role": "tool", "tool_call_id": "c2", "content": "25C"},
            {"role": "assistant", "content": "Checking once more.", "tool_calls": [
                {"id": "c3", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c3", "content": "a\nb"},
        ])
    );
    assert_eq!(dropped, vec!["reasoning_items"]);
}

#[test]
fn images_in_tool_outputs_follow_the_tool_messages() {
    let (msgs, _) = messages_of(json!([
        {"role": "user", "content": "shoot both"},
        {"type": "function_call", "call_id": "c1", "name": "shot", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "shot", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": [
            {"type": "input_text", "text": "one"},
            {"type": "input_image", "image_url": "data:image/png;base64,AA"}]},
        {"type": "function_call_output", "call_id": "c2", "output": [
            {"type": "input_image", "image_url": "data:image/png;base64,BB"}]},
        {"role": "user", "content": "compare"},
    ]));
    let roles: Vec<&str> = msgs
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        vec!["user", "assistant", "tool", "tool", "user", "user"]
    );
    assert_eq!(msgs[2]["content"], "one");
    assert_eq!(msgs[3]["content"], "");
    assert_eq!(
        msgs[4]["content"],
        json!([
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,BB"}}])
    );
    // At the end of the input too.
    let (msgs, _) = messages_of(json!([
        {"type": "function_call", "call_id": "c1", "name": "shot", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": [
            {"type": "input_image", "image_url": "https://x/y.png"}]},
    ]));
    assert_eq!(msgs.as_array().unwrap().len(), 3);
    assert_eq!(msgs[2]["role"], "user");
}

#[test]
fn local_shell_and_custom_tool_calls_become_function_calls() {
    let action = json!({"type": "exec", "command": ["ls", "-la"], "working_directory": "/src", "timeout_ms": 1000, "env": {}});
    let (msgs, dropped) = messages_of(json!([
        {"role": "user", "content": "go"},
        {"type": "local_shell_call", "id": "lsh_1", "call_id": "c1", "action": action, "status": "completed"},
        {"type": "local_shell_call_output", "id": "c1", "output": "{\"output\":\"a.rs\"}"},
        {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** Begin Patch\n*** End Patch"},
        {"type": "custom_tool_call_output", "call_id": "c2", "output": "Done"},
    ]));
    let args: Value = serde_json::from_str(
        msgs[1]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(args, action);
    assert_eq!(msgs[1]["tool_calls"][0]["function"]["name"], "local_shell");
    assert_eq!(msgs[1]["tool_calls"][0]["id"], "c1");
    assert_eq!(
        msgs[2],
        json!({"role": "tool", "tool_call_id": "c1", "content": "{\"output\":\"a.rs\"}"})
    );
    assert_eq!(
        msgs[3]["tool_calls"][0],
        json!({"id": "c2", "type": "function", "function": {"name": "apply_patch",
            "arguments": "{\"input\":\"*** Begin Patch\\n*** End Patch\"}"}})
    );
    assert_eq!(
        msgs[4],
        json!({"role": "tool", "tool_call_id": "c2", "content": "Done"})
    );
    assert!(dropped.is_empty());
}

#[test]
fn hosted_tool_items_are_dropped_and_reported() {
    let (msgs, dropped) = messages_of(json!([
        {"role": "user", "content": "search"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "q"}},
        {"type": "image_generation_call", "id": "ig_1", "status": "completed", "result": "AA"},
        {"role": "assistant", "content": "found it"},
    ]));
    assert_eq!(msgs.as_array().unwrap().len(), 2);
    assert_eq!(dropped, vec!["input_items"]);
}

// --- tools ------------------------------------------------------------------------------

#[test]
fn tools_map_and_hosted_tools_are_dropped() {
    let (body, dropped) = chat(json!({"tools": [
        {"type": "function", "name": "get", "description": "Get", "parameters": {"type": "object", "properties": {"k": {"type": "string"}}}, "strict": true},
        {"type": "function", "name": "bare"},
        {"type": "custom", "name": "apply_patch", "description": "Patch files.",
            "format": {"type": "grammar", "syntax": "lark", "definition": "start: \"x\""}},
        {"type": "custom", "name": "free"},
        {"type": "local_shell"},
        {"type": "web_search", "search_context_size": "low"},
        {"type": "web_search_preview"},
        {"type": "file_search", "vector_store_ids": ["vs"]},
        {"type": "code_interpreter", "container": "auto"},
        {"type": "computer_use_preview"},
        {"type": "image_generation"},
        {"type": "mcp", "server_label": "x"},
    ]}));
    let tools = body["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 5);
    assert_eq!(
        tools[0],
        json!({"type": "function", "function": {"name": "get", "description": "Get",
            "parameters": {"type": "object", "properties": {"k": {"type": "string"}}}, "strict": true}})
    );
    assert_eq!(
        tools[1],
        json!({"type": "function", "function": {"name": "bare", "parameters": {"type": "object", "properties": {}}}})
    );
    let input_schema = json!({"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]});
    assert_eq!(tools[2]["function"]["parameters"], input_schema);
    assert_eq!(
        tools[2]["function"]["description"],
        "Patch files.\n\nThe `input` string must match this lark grammar:\nstart: \"x\""
    );
    assert_eq!(
        tools[3]["function"],
        json!({"name": "free", "parameters": input_schema})
    );
    assert_eq!(tools[4]["function"]["name"], "local_shell");
    assert_eq!(
        tools[4]["function"]["parameters"],
        json!({"type": "object", "properties": {
            "command": {"type": "array", "items": {"type": "string"}},
            "workdir": {"type": "string"}, "timeout_ms": {"type": "integer"}},
            "required": ["command"]})
    );
    assert_eq!(dropped, vec!["server_tools"]);
}

#[test]
fn only_hosted_tools_leave_no_tools_tool_choice_or_parallel_calls() {
    let (body, dropped) = chat(json!({"tools": [{"type": "web_search"}],
        "tool_choice": "auto", "parallel_tool_calls": true}));
    for k in ["tools", "tool_choice", "parallel_tool_calls"] {
        assert!(body.get(k).is_none(), "{k} in {body}");
    }
    assert_eq!(dropped, vec!["server_tools"]);
}

#[test]
fn tool_choice_variants() {
    let tools = json!([{"type": "function", "name": "f"}, {"type": "custom", "name": "g"}]);
    let cases = [
        (json!("auto"), Some(json!("auto")), false),
        (json!("none"), Some(json!("none")), false),
        (json!("required"), Some(json!("required")), false),
        (
            json!({"type": "function", "name": "f"}),
            Some(json!({"type": "function", "function": {"name": "f"}})),
            false,
        ),
        (
            json!({"type": "custom", "name": "g"}),
            Some(json!({"type": "function", "function": {"name": "g"}})),
            false,
        ),
        (json!({"type": "web_search_preview"}), None, true),
        (
            json!({"type": "allowed_tools", "mode": "auto", "tools": []}),
            None,
            true,
        ),
        (json!({"type": "mcp", "server_label": "x"}), None, true),
        (json!(null), None, false),
    ];
    for (choice, want, reported) in cases {
        let (body, dropped) = chat(json!({"tools": tools, "tool_choice": choice,
            "parallel_tool_calls": false}));
        assert_eq!(body.get("tool_choice").cloned(), want, "{choice}");
        assert_eq!(dropped.contains(&"tool_choice"), reported, "{choice}");
        assert_eq!(body["parallel_tool_calls"], false);
    }
}

// --- options ----------------------------------------------------------------------------

#[test]
fn sampling_user_and_stream() {
    let (body, dropped) = chat(json!({"max_output_tokens": 300, "temperature": 0.5,
        "top_p": 0.9, "top_logprobs": 3, "safety_identifier": "sid", "stream": true}));
    assert_eq!(body["max_tokens"], 300);
    assert_eq!(body["temperature"], 0.5);
    assert_eq!(body["top_p"], 0.9);
    assert_eq!(
        (body["top_logprobs"].clone(), body["logprobs"].clone()),
        (json!(3), json!(true))
    );
    assert_eq!(body["user"], "sid");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert!(body.get("max_output_tokens").is_none());
    assert!(dropped.is_empty());

    let (body, dropped) = chat(json!({"user": "u", "safety_identifier": "sid",
        "metadata": {"k": "v"}, "stream": false, "stream_options": {"include_obfuscation": false}}));
    assert_eq!(body["user"], "u");
    assert_eq!(dropped, vec!["metadata", "safety_identifier"]);
    assert!(body.get("stream_options").is_none());
    assert!(body.get("metadata").is_none());
}

#[test]
fn reasoning_effort_maps() {
    let cases = [
        ("low", Some("low")),
        ("medium", Some("medium")),
        ("high", Some("high")),
        ("minimal", Some("low")),
        ("xhigh", Some("high")),
        ("none", None),
    ];
    for (effort, want) in cases {
        let (body, dropped) = chat(json!({"reasoning": {"effort": effort, "summary": "auto"}}));
        let got = body.get("reasoning").map(|r| r["effort"].as_str().unwrap());
        assert_eq!(got, want, "{effort}");
        assert_eq!(
            body.get("reasoning").map(|r| r.as_object().unwrap().len()),
            want.map(|_| 1)
        );
        assert!(dropped.is_empty());
    }
    let (body, _) = chat(json!({"reasoning": {"summary": "detailed"}}));
    assert!(body.get("reasoning").is_none());
}

#[test]
fn text_format_and_verbosity() {
    let (body, _) = chat(
        json!({"text": {"format": {"type": "json_schema", "name": "person",
        "schema": {"type": "object"}, "strict": true}, "verbosity": "low"}}),
    );
    assert_eq!(
        body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "person", "schema": {"type": "object"}, "strict": true}})
    );
    assert_eq!(body["verbosity"], "low");
    assert!(body.get("text").is_none());
    let (body, _) = chat(json!({"text": {"format": {"type": "json_object"}}}));
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    let (body, _) = chat(json!({"text": {"format": {"type": "text"}}}));
    assert!(body.get("response_format").is_none() && body.get("verbosity").is_none());
}

#[test]
fn responses_only_fields_are_dropped_and_unknown_ones_pass_through() {
    let (body, dropped) = chat(json!({"include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "k", "service_tier": "auto", "truncation": "auto",
        "max_tool_calls": 3, "store": false, "background": false, "seed": 7, "top_k": 4,
        "x_vendor": null}));
    assert_eq!(
        dropped,
        vec![
            "include",
            "max_tool_calls",
            "prompt_cache_key",
            "service_tier",
            "truncation"
        ]
    );
    for k in [
        "include",
        "prompt_cache_key",
        "service_tier",
        "truncation",
        "max_tool_calls",
        "store",
        "background",
    ] {
        assert!(body.get(k).is_none(), "{k} in {body}");
    }
    assert_eq!(
        (body["seed"].clone(), body["top_k"].clone()),
        (json!(7), json!(4))
    );
    assert_eq!(body["x_vendor"], Value::Null);
    assert!(body.as_object().unwrap().contains_key("x_vendor"));
    let (_, dropped) = chat(json!({"include": [], "truncation": "disabled", "metadata": null}));
    assert!(dropped.is_empty(), "{dropped:?}");
}

#[test]
fn gateway_fields_reach_the_chat_request() {
    let r = parse(
        json!({"models": ["a/b", "c/d"], "provider": {"only": ["x"]}, "input": "hi",
        "max_output_tokens": 64, "stream": true}),
    )
    .unwrap();
    let (chat, _) = r.to_chat().unwrap();
    assert_eq!(chat.models, vec!["a/b", "c/d"]);
    assert_eq!(chat.provider.only.as_deref(), Some(&["x".to_owned()][..]));
    assert!(!chat.body.contains("models") && !chat.body.contains("provider"));
    assert_eq!(chat.max_output_tokens, Some(64));
    assert!(chat.stream && chat.include_usage);
}

// --- Codex ------------------------------------------------------------------------------

#[test]
fn codex_shaped_request() {
    let shell_params = json!({"type": "object", "properties": {
        "command": {"type": "array", "items": {"type": "string"}},
        "workdir": {"type": "string"}, "timeout_ms": {"type": "number"}},
        "required": ["command"], "additionalProperties": false});
    let body = json!({
        "model": "gpt-5-codex",
        "instructions": "You are Codex, based on GPT-5. You are running as a coding agent.",
        "input": [
            {"type": "message", "role": "developer", "content": [
                {"type": "input_text", "text": "<permissions instructions>sandboxed</permissions instructions>"}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "<environment_context>\n  <cwd>/repo</cwd>\n</environment_context>"}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "list the files"}]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "**Listing**"}],
                "content": null, "encrypted_content": "gAAAAABo-opaque"},
            {"type": "function_call", "name": "shell",
                "arguments": "{\"command\":[\"bash\",\"-lc\",\"ls\"],\"workdir\":\"/repo\"}",
                "call_id": "call_abc"},
            {"type": "function_call_output", "call_id": "call_abc",
                "output": "{\"output\":\"Cargo.toml\\nsrc\\n\",\"metadata\":{\"exit_code\":0,\"duration_seconds\":0.1}}"},
        ],
        "tools": [
            {"type": "function", "name": "shell", "description": "Runs a shell command and returns its output.",
                "strict": false, "parameters": shell_params},
            {"type": "web_search"},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": false,
        "stream": true,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "text": {"verbosity": "medium"},
    });
    let r = parse(body).unwrap();
    assert!(r.stream);
    assert_eq!(r.max_output_tokens, None);
    let (chat, dropped) = r.to_chat().unwrap();
    assert_eq!(
        dropped,
        vec![
            "include",
            "prompt_cache_key",
            "reasoning_items",
            "server_tools"
        ]
    );
    assert!(chat.stream && chat.include_usage);
    assert_eq!(chat.model.as_deref(), Some("gpt-5-codex"));
    for k in [
        "store",
        "include",
        "prompt_cache_key",
        "text",
        "input",
        "instructions",
    ] {
        assert!(!chat.body.contains(k), "{k}");
    }

    let p = ChatParams::from_body(&chat.body).unwrap();
    let roles: Vec<&str> = p
        .messages
        .iter()
        .map(|m| match m {
            Message::System { .. } => "system",
            Message::Developer { .. } => "developer",
            Message::User { .. } => "user",
            Message::Assistant { .. } => "assistant",
            Message::Tool { .. } => "tool",
        })
        .collect();
    assert_eq!(
        roles,
        vec!["system", "system", "user", "user", "assistant", "tool"]
    );
    let Message::System {
        content: Content::Text(system),
    } = &p.messages[0]
    else {
        panic!()
    };
    assert!(system.starts_with("You are Codex"));
    let Message::User {
        content: Content::Parts(parts),
    } = &p.messages[3]
    else {
        panic!()
    };
    assert!(matches!(&parts[0], Part::Text { text } if text == "list the files"));
    let Message::Assistant {
        content,
        tool_calls,
        ..
    } = &p.messages[4]
    else {
        panic!()
    };
    assert!(content.is_none());
    let calls = tool_calls.as_ref().unwrap();
    assert_eq!(
        (calls[0].id.as_str(), calls[0].function.name.as_str()),
        ("call_abc", "shell")
    );
    assert!(calls[0]
        .function
        .arguments
        .contains("\"workdir\":\"/repo\""));
    assert!(
        matches!(&p.messages[5], Message::Tool { tool_call_id, content: Content::Text(t) }
            if tool_call_id == "call_abc" && t.contains("Cargo.toml"))
    );
    let tools = p.tools.as_ref().unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].function.name, "shell");
    assert_eq!(tools[0].function.strict, Some(false));
    assert!(matches!(p.tool_choice, Some(ToolChoice::Mode(ref m)) if m == "auto"));
    assert_eq!(p.parallel_tool_calls, Some(false));
    assert_eq!(p.effort(), Some("medium"));
    assert_eq!(chat.body.get("verbosity").unwrap().get(), "\"medium\"");
}

/// Arbitrary JSON-ish bodies never panic either step. The crate has no proptest: a
/// deterministic generator mutates well-formed items and parameters instead (a key
/// removed, a value swapped for an arbitrary one, nesting), so most cases reach deep.
#[test]
fn parse_and_to_chat_never_panic_on_odd_input() {
    struct Gen(u64);
    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.next() as usize % items.len()]
        }
        fn arbitrary(&mut self, depth: u32) -> Value {
            let leaves = [
                json!(null),
                json!(true),
                json!(0),
                json!(-1),
                json!(1.5),
                json!(""),
                json!("text"),
                json!([]),
                json!({}),
                json!("auto"),
            ];
            match self.next() % 4 {
                0 | 1 if depth > 0 => self.template(depth - 1),
                2 if depth > 0 => Value::Array(
                    (0..self.next() % 3)
                        .map(|_| self.arbitrary(depth - 1))
                        .collect(),
                ),
                _ => self.pick(&leaves).clone(),
            }
        }
        /// A well-formed item, part or parameter, mutated one time in two.
        fn template(&mut self, depth: u32) -> Value {
            let nested = if depth > 0 {
                self.arbitrary(depth - 1)
            } else {
                json!("n")
            };
            let templates = [
                json!({"type": "input_text", "text": "t"}),
                json!({"type": "output_text", "text": "t", "annotations": []}),
                json!({"type": "input_image", "image_url": "https://x", "detail": "auto"}),
                json!({"type": "input_image", "file_id": "file-1"}),
                json!({"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JV"}),
                json!({"type": "refusal", "refusal": "no"}),
                json!({"type": "message", "role": "user", "content": [nested.clone()]}),
                json!({"role": "assistant", "content": nested.clone()}),
                json!({"type": "function_call", "call_id": "c", "name": "f", "arguments": nested.clone()}),
                json!({"type": "function_call_output", "call_id": "c", "output": [nested.clone()]}),
                json!({"type": "local_shell_call", "call_id": "c", "action": {"type": "exec", "command": ["ls"]}}),
                json!({"type": "local_shell_call_output", "id": "c", "output": nested.clone()}),
                json!({"type": "custom_tool_call", "call_id": "c", "name": "p", "input": "x"}),
                json!({"type": "reasoning", "encrypted_content": "gA", "summary": []}),
                json!({"type": "web_search_call", "id": "ws", "status": "completed"}),
                json!({"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": true}),
                json!({"type": "custom", "name": "g", "format": {"type": "grammar", "syntax": "lark", "definition": nested.clone()}}),
                json!({"type": "local_shell"}),
                json!({"type": "json_schema", "name": "s", "schema": {"type": "object"}}),
                json!({"effort": "minimal", "summary": "auto"}),
                json!({"format": {"type": "json_object"}, "verbosity": nested}),
            ];
            let mut v = self.pick(&templates).clone();
            if self.next() % 2 == 0 {
                if let Some(map) = v.as_object_mut() {
                    let keys: Vec<String> = map.keys().cloned().collect();
                    let key = self.pick(&keys).clone();
                    if self.next() % 2 == 0 {
                        map.remove(&key);
                    } else {
                        let replacement = self.arbitrary(depth.saturating_sub(1));
                        map.insert(key, replacement);
                    }
                }
            }
            v
        }
    }
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    let top = [
        "instructions",
        "tools",
        "tool_choice",
        "reasoning",
        "text",
        "metadata",
        "temperature",
        "stream",
        "store",
        "max_output_tokens",
        "top_logprobs",
        "models",
        "include",
    ];
    let (mut parsed, mut translated) = (0, 0);
    for _ in 0..4000 {
        let input = match g.next() % 6 {
            0 => json!("plain"),
            1 => g.arbitrary(3),
            2 | 3 => Value::Array((0..1 + g.next() % 5).map(|_| g.template(3)).collect()),
            _ => Value::Array(
                (0..1 + g.next() % 4)
                    .map(|_| {
                        let role = *g.pick(&["user", "assistant", "developer", "system"]);
                        json!({"role": role, "content": [g.template(2), g.template(1)]})
                    })
                    .collect(),
            ),
        };
        let mut body = json!({"model": "m", "input": input});
        for k in top {
            if g.next() % 4 == 0 {
                body[k] = match k {
                    "tools" => Value::Array(vec![g.template(2), g.template(2)]),
                    "store" => json!(g.next() % 2 == 0),
                    _ => g.template(2),
                };
            }
        }
        if let Ok(r) = parse(body) {
            parsed += 1;
            if let Ok((chat, dropped)) = r.to_chat() {
                translated += 1;
                let _ = ChatParams::from_body(&chat.body);
                assert!(dropped.windows(2).all(|w| w[0] < w[1]), "{dropped:?}");
            }
        }
    }
    // The generator must reach the translator, not only the validator.
    assert!(
        parsed > 600 && translated > 150,
        "{parsed} parsed, {translated} translated"
    );
}
