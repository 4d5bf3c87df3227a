//! Tests for each translation rule, a Claude Code–shaped request and odd inputs.

use super::tests::{chat, messages_of, parse, req};
use super::*;
use crate::types::openai::{ChatParams, Content, Message, Part, ToolChoice};
#[test]
fn system_string_becomes_a_leading_system_message() {
    let (body, dropped) = chat(json!({"system": "be brief"}));
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    assert_eq!(
        body["messages"][1],
        json!({"role": "user", "content": "hi"})
    );
    assert!(dropped.is_empty());
}

#[test]
fn system_blocks_are_joined_and_cache_control_reported() {
    let (body, dropped) = chat(json!({"system": [
            {"type": "text", "text": "one"},
            {"type": "text", "text": "two", "cache_control": {"type": "ephemeral"}}]}));
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "one\n\ntwo"})
    );
    assert_eq!(dropped, vec!["cache_control"]);
}

#[test]
fn system_role_messages_stay_in_place() {
    let (body, _) = chat(json!({"messages": [
            {"role": "user", "content": "a"},
            {"role": "system", "content": [{"type": "text", "text": "reminder"}, {"type": "text", "text": "more"}]},
            {"role": "user", "content": "b"},
            {"role": "system", "content": "plain"}]}));
    let roles: Vec<_> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].clone())
        .collect();
    assert_eq!(
        roles,
        vec![
            json!("user"),
            json!("system"),
            json!("user"),
            json!("system")
        ]
    );
    assert_eq!(body["messages"][1]["content"], "reminder\n\nmore");
    assert_eq!(body["messages"][3]["content"], "plain");
}

// --- user content ---------------------------------------------------------------------

#[test]
fn user_text_and_images() {
    let (msgs, dropped) = messages_of(json!([
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.org/cat.jpg"}},
    ]));
    assert_eq!(
        msgs[0],
        json!({"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "image_url", "image_url": {"url": "https://example.org/cat.jpg"}},
        ]})
    );
    assert!(dropped.is_empty());
}

#[test]
fn documents_become_file_or_text_parts() {
    let (msgs, dropped) = messages_of(json!([
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
        {"type": "document", "title": "Spec", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBF"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain doc"}},
        {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "chunk"}]}, "citations": {"enabled": true}},
        {"type": "document", "source": {"type": "url", "url": "https://example.org/a.pdf"}},
    ]));
    assert_eq!(
        msgs[0]["content"],
        json!([
            {"type": "file", "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBE"}},
            {"type": "file", "file": {"filename": "Spec", "file_data": "data:application/pdf;base64,JVBF"}},
            {"type": "text", "text": "plain doc"},
            {"type": "text", "text": "chunk"},
        ])
    );
    assert_eq!(dropped, vec!["citations", "content_block"]);
}

#[test]
fn unknown_blocks_and_file_sources_are_dropped_and_reported() {
    let (msgs, dropped) = messages_of(json!([
        {"type": "text", "text": "t"},
        {"type": "container_upload", "file_id": "f"},
        {"type": "image", "source": {"type": "file", "file_id": "file_1"}},
    ]));
    assert_eq!(msgs[0]["content"], json!([{"type": "text", "text": "t"}]));
    assert_eq!(dropped, vec!["content_block"]);
    // A turn left with nothing stays, empty.
    let (msgs, _) = messages_of(json!([{"type": "mystery"}]));
    assert_eq!(msgs[0], json!({"role": "user", "content": ""}));
}

#[test]
fn search_results_become_text() {
    let (msgs, _) = messages_of(
        json!([{"type": "search_result", "source": "https://x.org", "title": "X",
            "content": [{"type": "text", "text": "fact one"}, {"type": "text", "text": "fact two"}]}]),
    );
    assert_eq!(
        msgs[0]["content"][0]["text"],
        "X\nhttps://x.org\n\nfact one\nfact two"
    );
}

#[test]
fn tool_results_become_tool_messages_before_the_user_text() {
    let (body, dropped) = chat(json!({"messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "w", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "t2", "name": "w", "input": {"city": "Rome"}}]},
        {"role": "user", "content": [
            {"type": "text", "text": "also this"},
            {"type": "tool_result", "tool_use_id": "t1", "content": "-3 C"},
            {"type": "tool_result", "tool_use_id": "t2", "is_error": true,
             "content": [{"type": "text", "text": "timeout"}, {"type": "text", "text": "retry later"}]}]},
    ]}));
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 5);
    assert_eq!(
        msgs[2],
        json!({"role": "tool", "tool_call_id": "t1", "content": "-3 C"})
    );
    assert_eq!(
        msgs[3],
        json!({"role": "tool", "tool_call_id": "t2", "content": "Error: timeout\nretry later"})
    );
    assert_eq!(
        msgs[4],
        json!({"role": "user", "content": [{"type": "text", "text": "also this"}]})
    );
    assert!(dropped.is_empty());
}

#[test]
fn tool_result_only_turn_has_no_user_message_and_images_follow() {
    let (body, _) = chat(json!({"messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t2", "name": "shot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t2", "content": [
            {"type": "text", "text": "here"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QQ"}}]}]},
    ]}));
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(
        msgs[1],
        json!({"role": "tool", "tool_call_id": "t1", "content": ""})
    );
    assert_eq!(msgs[2]["role"], "assistant");
    assert_eq!(
        msgs[3],
        json!({"role": "tool", "tool_call_id": "t2", "content": "here"})
    );
    assert_eq!(
        msgs[4],
        json!({"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ"}}]})
    );
    assert_eq!(msgs.len(), 5);
}

// --- assistant content ------------------------------------------------------------------

#[test]
fn assistant_blocks() {
    let (body, dropped) = chat(json!({"messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "plain"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "redacted_thinking", "data": "xx"},
            {"type": "text", "text": "Let me "},
            {"type": "text", "text": "check."},
            {"type": "tool_use", "id": "t1", "name": "w", "input": {"city": "Oslo", "n": [1, 2]}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t2", "name": "w", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t2", "content": "ok"}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "only", "signature": "s"}]},
    ]}));
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(msgs[1], json!({"role": "assistant", "content": "plain"}));
    assert_eq!(
        msgs[3],
        json!({"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "w", "arguments": r#"{"city":"Oslo","n":[1,2]}"#}}]})
    );
    assert_eq!(
        msgs[5],
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "t2", "type": "function", "function": {"name": "w", "arguments": "{}"}}]})
    );
    assert_eq!(msgs[7], json!({"role": "assistant", "content": ""}));
    assert_eq!(dropped, vec!["thinking_blocks"]);
}

// --- tools and tool_choice --------------------------------------------------------------

#[test]
fn tools_map_and_server_tools_are_dropped() {
    let (body, dropped) = chat(json!({"tools": [
            {"name": "w", "description": "weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}, "cache_control": {"type": "ephemeral"}},
            {"type": "custom", "name": "x", "input_schema": {"type": "object"}, "strict": true},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
            {"type": "bash_20250124", "name": "bash"}]}));
    assert_eq!(
        body["tools"],
        json!([
            {"type": "function", "function": {"name": "w", "description": "weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
            {"type": "function", "function": {"name": "x", "parameters": {"type": "object"}, "strict": true}},
        ])
    );
    assert_eq!(dropped, vec!["cache_control", "server_tools"]);
}

#[test]
fn only_server_tools_leave_no_tools_and_no_tool_choice() {
    let (body, dropped) = chat(json!({
            "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            "tool_choice": {"type": "any"}}));
    assert!(body.get("tools").is_none() && body.get("tool_choice").is_none());
    assert_eq!(dropped, vec!["server_tools"]);
}

#[test]
fn tool_choice_variants() {
    let tools = json!([{"name": "f", "input_schema": {"type": "object"}}]);
    let cases = [
        (json!({"type": "auto"}), json!("auto"), None),
        (json!({"type": "any"}), json!("required"), None),
        (json!({"type": "none"}), json!("none"), None),
        (
            json!({"type": "tool", "name": "f"}),
            json!({"type": "function", "function": {"name": "f"}}),
            None,
        ),
        (
            json!({"type": "auto", "disable_parallel_tool_use": true}),
            json!("auto"),
            Some(json!(false)),
        ),
        (
            json!({"type": "any", "disable_parallel_tool_use": false}),
            json!("required"),
            None,
        ),
    ];
    for (choice, want, parallel) in cases {
        let (body, _) = chat(json!({"tools": tools, "tool_choice": choice}));
        assert_eq!(body["tool_choice"], want, "{choice}");
        assert_eq!(
            body.get("parallel_tool_calls").cloned(),
            parallel,
            "{choice}"
        );
    }
    let (chat, _) = req(json!({"tools": tools, "tool_choice": {"type": "tool", "name": "f"}}))
        .to_chat()
        .unwrap();
    let p = ChatParams::from_body(&chat.body).unwrap();
    assert!(matches!(p.tool_choice, Some(ToolChoice::Named(n)) if n.function.name == "f"));
}

// --- parameters -----------------------------------------------------------------------

#[test]
fn sampling_stop_user_and_stream() {
    let (chat, dropped) = req(json!({
            "temperature": 0.2, "top_p": 0.9, "top_k": 40,
            "stop_sequences": ["\n\nHuman:", "END"],
            "metadata": {"user_id": "u-5f2c"},
            "stream": true}))
    .to_chat()
    .unwrap();
    assert!(dropped.is_empty());
    assert!(chat.stream && chat.include_usage);
    assert_eq!(chat.max_output_tokens, Some(100));
    let p = ChatParams::from_body(&chat.body).unwrap();
    assert_eq!(p.max_tokens, Some(100));
    assert_eq!(
        (p.temperature, p.top_p, p.top_k),
        (Some(0.2), Some(0.9), Some(40))
    );
    assert_eq!(p.stop.unwrap().to_vec(), vec!["\n\nHuman:", "END"]);
    assert_eq!(p.user.as_deref(), Some("u-5f2c"));
    let body: Value = serde_json::from_slice(&chat.body.to_vec()).unwrap();
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert!(body.get("stop_sequences").is_none() && body.get("metadata").is_none());
}

#[test]
fn no_stream_options_without_streaming() {
    let (chat, _) = req(json!({"stream": false})).to_chat().unwrap();
    assert!(!chat.stream && !chat.include_usage);
    assert!(!chat.body.contains("stream_options"));
}

#[test]
fn thinking_and_effort_become_reasoning() {
    let cases = [
        (
            json!({"thinking": {"type": "enabled", "budget_tokens": 2048}}),
            Some(json!({"max_tokens": 2048})),
        ),
        (
            json!({"thinking": {"type": "adaptive"}}),
            Some(json!({"enabled": true})),
        ),
        (json!({"thinking": {"type": "disabled"}}), None),
        (
            json!({"output_config": {"effort": "low"}}),
            Some(json!({"effort": "low"})),
        ),
        (
            json!({"output_config": {"effort": "max"}}),
            Some(json!({"effort": "high"})),
        ),
        (
            json!({"thinking": {"type": "adaptive"}, "output_config": {"effort": "medium"}}),
            Some(json!({"enabled": true, "effort": "medium"})),
        ),
        (
            json!({"thinking": {"type": "enabled", "budget_tokens": 5000}, "output_config": {"effort": "high"}}),
            Some(json!({"effort": "high"})),
        ),
    ];
    for (extra, want) in cases {
        let (body, dropped) = chat(extra.clone());
        assert_eq!(body.get("reasoning").cloned(), want, "{extra}");
        assert!(body.get("thinking").is_none() && body.get("output_config").is_none());
        assert!(dropped.is_empty(), "{extra}: {dropped:?}");
    }
}

#[test]
fn output_format_becomes_response_format() {
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let (body, _) =
        chat(json!({"output_config": {"format": {"type": "json_schema", "schema": schema}}}));
    assert_eq!(
        body["response_format"],
        json!({"type": "json_schema",
            "json_schema": {"name": "output", "schema": schema}})
    );
    assert!(body.get("reasoning").is_none());
}

#[test]
fn anthropic_only_fields_are_dropped_and_unknown_ones_pass_through() {
    let (chat, dropped) = req(json!({
            "context_management": {"edits": []},
            "container": "c1",
            "mcp_servers": [],
            "service_tier": "auto",
            "cache_control": {"type": "ephemeral"},
            "inference_geo": "us",
            "metadata": {"user_id": "u", "other": 1},
            "output_config": {"effort": "low", "task_budget": 3},
            "seed": 7}))
    .to_chat()
    .unwrap();
    assert_eq!(
        dropped,
        vec![
            "cache_control",
            "container",
            "context_management",
            "inference_geo",
            "mcp_servers",
            "metadata",
            "output_config",
            "service_tier"
        ]
    );
    assert_eq!(chat.body.get("seed").unwrap().get(), "7");
    for k in ANTHROPIC_ONLY {
        assert!(!chat.body.contains(k), "{k}");
    }
    // Passed-through fields keep their exact bytes.
    let r = MessagesRequest::parse(
        br#"{"model":"m","messages":[{"role":"user","content":"x"}],"x_vendor":{"n":1.50}}"#,
    )
    .unwrap();
    let (chat, _) = r.to_chat().unwrap();
    assert_eq!(chat.body.get("x_vendor").unwrap().get(), r#"{"n":1.50}"#);
}

#[test]
fn gateway_fields_reach_the_chat_request() {
    let r = parse(
        json!({"model": "a/b", "models": ["a/b", "c/d"], "provider": {"only": ["x"]},
            "max_tokens": 3, "messages": [{"role": "user", "content": "x"}]}),
    )
    .unwrap();
    let (chat, _) = r.to_chat().unwrap();
    assert_eq!(chat.model.as_deref(), Some("a/b"));
    assert_eq!(chat.models, vec!["a/b", "c/d"]);
    assert_eq!(chat.provider.only.as_deref(), Some(&["x".to_owned()][..]));
    assert!(!chat.body.contains("models") && !chat.body.contains("provider"));
}

#[test]
fn captured_tool_round_trip_translates() {
    let body = br#"{"max_tokens":4000,"messages":[{"content":[{"text":"What's the weather in Florence,Italy?","type":"text"}],"role":"user"},{"content":[{"text":"I'll check the weather in Florence, Italy for you.","type":"text"},{"id":"toolu_01XLb9pzgfLa2EMyqWot6Ezt","input":{"location":"Florence,Italy"},"name":"weather","type":"tool_use"}],"role":"assistant"},{"content":[{"tool_use_id":"toolu_01XLb9pzgfLa2EMyqWot6Ezt","content":[{"text":"40 C","type":"text"}],"type":"tool_result"}],"role":"user"}],"model":"claude-sonnet-4-20250514","system":[{"text":"You are a helpful assistant","type":"text"}],"tool_choice":{"disable_parallel_tool_use":false,"type":"auto"},"tools":[{"input_schema":{"properties":{"location":{"description":"the city","type":"string"}},"required":["location"],"type":"object"},"name":"weather","description":"Get weather information for a location"}]}"#;
    let (chat, dropped) = MessagesRequest::parse(body).unwrap().to_chat().unwrap();
    assert!(dropped.is_empty());
    let p = ChatParams::from_body(&chat.body).unwrap();
    assert_eq!(p.messages.len(), 4);
    assert!(
        matches!(&p.messages[3], Message::Tool { tool_call_id, content: Content::Text(t) }
            if tool_call_id == "toolu_01XLb9pzgfLa2EMyqWot6Ezt" && t == "40 C")
    );
    assert!(matches!(p.tool_choice, Some(ToolChoice::Mode(ref m)) if m == "auto"));
    assert_eq!(p.parallel_tool_calls, None);
}

#[test]
fn claude_code_shaped_request() {
    let body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 128000,
        "stream": true,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
            {"type": "text", "text": "You are an interactive CLI tool.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
                {"type": "text", "text": "list the files", "cache_control": {"type": "ephemeral"}}]},
            {"role": "system", "content": "The user switched to plan mode."},
            {"role": "user", "content": "go on"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I should run ls", "signature": "EqQB"},
                {"type": "text", "text": "Listing."},
                {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"command": "ls"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "a.rs\nb.rs"},
                {"type": "text", "text": "now read a.rs"}]}],
        "tools": [
            {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object",
                "properties": {"command": {"type": "string"}}, "required": ["command"]}},
            {"name": "Read", "description": "Read a file", "input_schema": {"type": "object",
                "properties": {"file_path": {"type": "string"}}}, "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "high"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "metadata": {"user_id": "user_abc_account_123_session_xyz"},
    });
    let r = parse(body).unwrap();
    assert_eq!(r.max_tokens, Some(128000));
    assert!(r.stream);
    let (chat, dropped) = r.to_chat().unwrap();
    assert_eq!(
        dropped,
        vec!["cache_control", "context_management", "thinking_blocks"]
    );
    assert!(chat.stream && chat.include_usage);
    assert_eq!(chat.max_output_tokens, Some(128000));
    assert_eq!(chat.model.as_deref(), Some("claude-sonnet-4-5"));

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
        vec![
            "system",
            "user",
            "system",
            "user",
            "assistant",
            "tool",
            "user"
        ]
    );
    let Message::System {
        content: Content::Text(system),
    } = &p.messages[0]
    else {
        panic!()
    };
    assert_eq!(system, "You are Claude Code, Anthropic's official CLI for Claude.\n\nYou are an interactive CLI tool.");
    let Message::Assistant {
        content,
        tool_calls,
        ..
    } = &p.messages[4]
    else {
        panic!()
    };
    assert_eq!(content.as_ref().unwrap().text(), "Listing.");
    let calls = tool_calls.as_ref().unwrap();
    assert_eq!(
        (calls[0].id.as_str(), calls[0].function.name.as_str()),
        ("toolu_01", "Bash")
    );
    assert_eq!(calls[0].function.arguments, r#"{"command":"ls"}"#);
    let Message::User {
        content: Content::Parts(parts),
    } = &p.messages[6]
    else {
        panic!()
    };
    assert!(matches!(&parts[0], Part::Text { text } if text == "now read a.rs"));
    assert_eq!(p.tools.as_ref().unwrap().len(), 2);
    let reasoning = p.reasoning.as_ref().unwrap();
    assert_eq!(
        (reasoning.enabled, reasoning.effort.as_deref()),
        (Some(true), Some("high"))
    );
    assert_eq!(p.user.as_deref(), Some("user_abc_account_123_session_xyz"));
    assert_eq!(p.max_tokens, Some(128000));
}

// --- estimates ------------------------------------------------------------------------

#[test]
fn estimate_counts_text_by_bytes_and_images_flat() {
    let text = req(json!({"messages": [{"role": "user", "content": "x".repeat(4000)}]}));
    let t = text.estimate_input_tokens();
    assert!((1000..1020).contains(&t), "{t}");

    let data = "A".repeat(400_000);
    let image = req(json!({"messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}]}]}));
    let t = image.estimate_input_tokens();
    assert!((IMAGE_TOKENS..IMAGE_TOKENS + 50).contains(&t), "{t}");

    let pdf = req(json!({"messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}}]}]}));
    let t = pdf.estimate_input_tokens();
    assert!((25_000..25_050).contains(&t), "{t}");
}

/// Arbitrary JSON-ish bodies never panic either step. The crate has no proptest: a
/// deterministic generator mutates well-formed blocks and parameters instead (a key
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
                json!("base64"),
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
        /// A well-formed block or parameter, mutated one time in two.
        fn template(&mut self, depth: u32) -> Value {
            let nested = if depth > 0 {
                self.arbitrary(depth - 1)
            } else {
                json!("n")
            };
            let templates = [
                json!({"type": "text", "text": "t", "cache_control": {"type": "ephemeral"}}),
                json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QQ"}}),
                json!({"type": "image", "source": {"type": "url", "url": "https://x"}}),
                json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JV"}}),
                json!({"type": "document", "source": {"type": "content", "content": [nested.clone()]}}),
                json!({"type": "tool_use", "id": "t", "name": "f", "input": nested.clone()}),
                json!({"type": "tool_result", "tool_use_id": "t", "content": [nested.clone()], "is_error": true}),
                json!({"type": "thinking", "thinking": "x", "signature": "s"}),
                json!({"type": "search_result", "source": "s", "title": "t", "content": [nested.clone()]}),
                json!({"type": "enabled", "budget_tokens": 2048}),
                json!({"type": "json_schema", "schema": {"type": "object"}}),
                json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true}),
                json!({"name": "f", "input_schema": {"type": "object"}, "type": "custom"}),
                json!({"effort": "max", "format": nested}),
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
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "metadata",
        "stop_sequences",
        "temperature",
        "stream",
        "max_tokens",
        "models",
    ];
    let (mut parsed, mut translated) = (0, 0);
    for _ in 0..4000 {
        let mut messages = Vec::new();
        for _ in 0..1 + g.next() % 4 {
            let role = *g.pick(&["user", "assistant", "system", "user"]);
            let content = match g.next() % 5 {
                0 => json!("plain"),
                1 => g.arbitrary(3),
                _ => Value::Array((0..1 + g.next() % 3).map(|_| g.template(3)).collect()),
            };
            messages.push(json!({"role": role, "content": content}));
        }
        let mut body = json!({"model": "m", "messages": messages});
        for k in top {
            if g.next() % 4 == 0 {
                body[k] = match k {
                    "tools" => Value::Array(vec![g.template(2), g.template(2)]),
                    _ => g.template(2),
                };
            }
        }
        if let Ok(r) = parse(body) {
            parsed += 1;
            r.estimate_input_tokens();
            if let Ok((chat, dropped)) = r.to_chat() {
                translated += 1;
                let _ = ChatParams::from_body(&chat.body);
                assert!(dropped.windows(2).all(|w| w[0] < w[1]), "{dropped:?}");
            }
        }
    }
    // The generator must reach the translator, not only the validator.
    assert!(
        parsed > 500 && translated > 80,
        "{parsed} parsed, {translated} translated"
    );
}
