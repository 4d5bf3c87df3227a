//! Tests for parsing and validation; the translation rules are in `tests_translate`.

use super::*;
use crate::types::openai::ChatParams;

pub(super) fn parse(v: Value) -> Result<MessagesRequest, InvalidRequest> {
    MessagesRequest::parse(v.to_string().as_bytes())
}

pub(super) fn req(extra: Value) -> MessagesRequest {
    let mut body = json!({
        "model": "anthropic/claude-sonnet-4",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    parse(body).unwrap()
}

/// The chat body as a JSON value, and the dropped list.
pub(super) fn chat(extra: Value) -> (Value, Vec<&'static str>) {
    let (chat, dropped) = req(extra).to_chat().unwrap();
    ChatParams::from_body(&chat.body).unwrap();
    (
        serde_json::from_slice(&chat.body.to_vec()).unwrap(),
        dropped,
    )
}

pub(super) fn messages_of(content: Value) -> (Value, Vec<&'static str>) {
    let (body, dropped) = chat(json!({"messages": [{"role": "user", "content": content}]}));
    (body["messages"].clone(), dropped)
}

// --- parse ----------------------------------------------------------------------

#[test]
fn parse_keeps_the_body_minus_gateway_fields() {
    let r = MessagesRequest::parse(
            br#"{"model":"a/b","models":["a/b","c/d"],"provider":{"order":["x"]},"max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}],"x_custom":{"k":1.50},"usage":{"include":true},"route":"fallback"}"#,
        )
        .unwrap();
    assert_eq!(r.model.as_deref(), Some("a/b"));
    assert_eq!(r.models, vec!["a/b", "c/d"]);
    assert_eq!(r.provider.order.as_deref(), Some(&["x".to_owned()][..]));
    assert!(r.stream);
    assert_eq!(r.max_tokens, Some(5));
    assert_eq!(
        String::from_utf8(r.body.to_vec()).unwrap(),
        r#"{"model":"a/b","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}],"x_custom":{"k":1.50}}"#
    );
    assert_eq!(r.prompt_bytes, r#"[{"role":"user","content":"hi"}]"#.len());
}

#[test]
fn parse_accepts_models_without_model_and_no_max_tokens() {
    let r =
        parse(json!({"models": ["a/b"], "messages": [{"role": "user", "content": "x"}]})).unwrap();
    assert_eq!(r.model, None);
    assert_eq!(r.max_tokens, None);
    assert!(!r.stream);
    let (chat, _) = r.to_chat().unwrap();
    assert_eq!(chat.models, vec!["a/b"]);
    assert_eq!(chat.model, None);
}

#[test]
fn bad_inputs_name_the_param() {
    let ok_msgs = json!([{"role": "user", "content": "x"}]);
    let cases = [
        (
            json!({"messages": ok_msgs}),
            "model",
            "missing_required_parameter",
        ),
        (
            json!({"model": "", "messages": ok_msgs}),
            "model",
            "invalid_value",
        ),
        (
            json!({"model": 5, "messages": ok_msgs}),
            "model",
            "invalid_type",
        ),
        (
            json!({"model": "a", "models": "b", "messages": ok_msgs}),
            "models",
            "invalid_type",
        ),
        (
            json!({"model": "a"}),
            "messages",
            "missing_required_parameter",
        ),
        (
            json!({"model": "a", "messages": []}),
            "messages",
            "invalid_value",
        ),
        (
            json!({"model": "a", "messages": "hi"}),
            "messages",
            "invalid_type",
        ),
        (
            json!({"model": "a", "messages": ["hi"]}),
            "messages",
            "invalid_value",
        ),
        (
            json!({"model": "a", "messages": [{"content": "x"}]}),
            "messages",
            "invalid_value",
        ),
        (
            json!({"model": "a", "messages": [{"role": "tool", "content": "x"}]}),
            "messages",
            "invalid_value",
        ),
        (
            json!({"model": "a", "messages": [{"role": 1, "content": "x"}]}),
            "messages",
            "invalid_value",
        ),
        (
            json!({"model": "a", "messages": [{"role": "user"}]}),
            "messages",
            "invalid_value",
        ),
        (
            json!({"model": "a", "messages": [{"role": "user", "content": 3}]}),
            "messages",
            "invalid_value",
        ),
        (
            json!({"model": "a", "messages": ok_msgs, "max_tokens": 0}),
            "max_tokens",
            "invalid_value",
        ),
        (
            json!({"model": "a", "messages": ok_msgs, "max_tokens": -3}),
            "max_tokens",
            "invalid_value",
        ),
        (
            json!({"model": "a", "messages": ok_msgs, "max_tokens": 1.5}),
            "max_tokens",
            "invalid_value",
        ),
        (
            json!({"model": "a", "messages": ok_msgs, "max_tokens": "10"}),
            "max_tokens",
            "invalid_type",
        ),
        (
            json!({"model": "a", "messages": ok_msgs, "stream": "yes"}),
            "stream",
            "invalid_type",
        ),
        (
            json!({"model": "a", "messages": ok_msgs, "system": 5}),
            "system",
            "invalid_type",
        ),
        (
            json!({"model": "a", "messages": ok_msgs, "system": [{"type": "image"}]}),
            "system",
            "invalid_value",
        ),
        (
            json!({"model": "a", "messages": ok_msgs, "system": ["x"]}),
            "system",
            "invalid_value",
        ),
        (
            json!({"model": "a", "messages": ok_msgs, "provider": {"nope": 1}}),
            "provider",
            "invalid_value",
        ),
    ];
    for (body, param, code) in cases {
        let e = parse(body.clone()).expect_err(&body.to_string());
        assert_eq!(e.param, Some(param), "{body}: {}", e.message);
        assert_eq!(e.code, code, "{body}: {}", e.message);
    }
    assert_eq!(
        MessagesRequest::parse(b"[1]").unwrap_err().code,
        "invalid_json"
    );
    let e = MessagesRequest::parse(b"{\"model\": \"a\",\n \"messages\": [}").unwrap_err();
    assert_eq!(e.code, "invalid_json");
    assert!(e.message.contains("line 2 column"), "{}", e.message);
}

#[test]
fn error_messages_name_the_field_and_index() {
    let e = parse(json!({"model": "a", "messages": [
            {"role": "user", "content": "x"}, {"role": "robot", "content": "y"}]}))
    .unwrap_err();
    assert!(e.message.contains("messages[1].role"), "{}", e.message);
    assert!(e.message.contains("robot"), "{}", e.message);
    let e =
        parse(json!({"model": "a", "messages": [{"role": "user", "content": {}}]})).unwrap_err();
    assert!(e.message.contains("messages[0].content"), "{}", e.message);
}

#[test]
fn to_chat_rejects_untranslatable_shapes() {
    let cases = [
        (
            json!({"messages": [{"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]}]}),
            "messages",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]}),
            "messages",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"text": "no type"}]}]}),
            "messages",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "text"}]}]}),
            "messages",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "data": "AA"}}]}]}),
            "messages",
        ),
        (json!({"tools": [{"description": "nameless"}]}), "tools"),
        (json!({"tools": {"name": "f"}}), "tools"),
        (
            json!({"tools": [{"name": "f"}], "tool_choice": {"type": "sometimes"}}),
            "tool_choice",
        ),
        (
            json!({"tools": [{"name": "f"}], "tool_choice": {"type": "tool"}}),
            "tool_choice",
        ),
        (json!({"thinking": {"type": "enabled"}}), "thinking"),
        (json!({"thinking": {"type": "maybe"}}), "thinking"),
        (
            json!({"output_config": {"effort": "extreme"}}),
            "output_config",
        ),
        (
            json!({"output_config": {"format": {"type": "xml"}}}),
            "output_config",
        ),
        (json!({"stop_sequences": "END"}), "stop_sequences"),
    ];
    for (extra, param) in cases {
        let e = req(extra.clone()).to_chat().expect_err(&extra.to_string());
        assert_eq!(e.param, Some(param), "{extra}: {}", e.message);
    }
}

// --- system -------------------------------------------------------------------------
