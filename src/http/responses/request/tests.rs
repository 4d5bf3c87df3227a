//! Tests for parsing and validation; the translation rules are in `tests_translate`.

use super::*;
use crate::types::openai::ChatParams;

pub(super) fn parse(v: Value) -> Result<ResponsesRequest, InvalidRequest> {
    ResponsesRequest::parse(v.to_string().as_bytes())
}

pub(super) fn req(extra: Value) -> ResponsesRequest {
    let mut body = json!({"model": "openai/gpt-5", "input": "hi"});
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

/// The chat messages for an `input`.
pub(super) fn messages_of(input: Value) -> (Value, Vec<&'static str>) {
    let (body, dropped) = chat(json!({ "input": input }));
    (body["messages"].clone(), dropped)
}

// --- parse ----------------------------------------------------------------------

#[test]
fn parse_keeps_the_body_minus_gateway_fields() {
    let r = ResponsesRequest::parse(
        br#"{"model":"a/b","models":["a/b","c/d"],"provider":{"order":["x"]},"max_output_tokens":50,"stream":true,"instructions":"be brief","input":"hi","x_custom":{"k":1.50},"usage":{"include":true},"route":"fallback","store":false}"#,
    )
    .unwrap();
    assert_eq!(r.model.as_deref(), Some("a/b"));
    assert_eq!(r.models, vec!["a/b", "c/d"]);
    assert_eq!(r.provider.order.as_deref(), Some(&["x".to_owned()][..]));
    assert!(r.stream);
    assert_eq!(r.max_output_tokens, Some(50));
    assert_eq!(
        String::from_utf8(r.body.to_vec()).unwrap(),
        r#"{"model":"a/b","max_output_tokens":50,"stream":true,"instructions":"be brief","input":"hi","x_custom":{"k":1.50},"store":false}"#
    );
    assert_eq!(r.prompt_bytes, r#""be brief""hi""#.len());
}

#[test]
fn parse_accepts_models_without_model_and_defaults() {
    let r = parse(json!({"models": ["a/b"], "input": [{"role": "user", "content": "x"}]})).unwrap();
    assert_eq!(r.model, None);
    assert_eq!(r.max_output_tokens, None);
    assert!(!r.stream);
    let (chat, _) = r.to_chat().unwrap();
    assert_eq!(chat.models, vec!["a/b"]);
    assert_eq!(chat.model, None);
}

#[test]
fn parse_accepts_nulls_and_falses_for_state_fields() {
    let r = parse(
        json!({"model": "a", "input": "x", "store": false, "background": false,
        "previous_response_id": null, "conversation": null, "prompt": null,
        "max_output_tokens": null, "stream": null, "instructions": null}),
    )
    .unwrap();
    let (body, dropped) = {
        let (chat, dropped) = r.to_chat().unwrap();
        let v: Value = serde_json::from_slice(&chat.body.to_vec()).unwrap();
        (v, dropped)
    };
    assert!(dropped.is_empty(), "{dropped:?}");
    for k in [
        "store",
        "background",
        "previous_response_id",
        "conversation",
        "prompt",
    ] {
        assert!(body.get(k).is_none(), "{k} in {body}");
    }
}

#[test]
fn bad_inputs_name_the_param() {
    let cases = [
        (json!({"input": "x"}), "model", "missing_required_parameter"),
        (json!({"model": "", "input": "x"}), "model", "invalid_value"),
        (json!({"model": 5, "input": "x"}), "model", "invalid_type"),
        (
            json!({"model": "a", "models": "b", "input": "x"}),
            "models",
            "invalid_type",
        ),
        (
            json!({"model": "a", "input": "x", "provider": {"nope": 1}}),
            "provider",
            "invalid_value",
        ),
        (json!({"model": "a"}), "input", "missing_required_parameter"),
        (json!({"model": "a", "input": []}), "input", "invalid_value"),
        (json!({"model": "a", "input": 3}), "input", "invalid_type"),
        (
            json!({"model": "a", "input": null}),
            "input",
            "invalid_type",
        ),
        (
            json!({"model": "a", "input": ["hi"]}),
            "input",
            "invalid_value",
        ),
        (
            json!({"model": "a", "input": [{"type": 1}]}),
            "input",
            "invalid_value",
        ),
        (
            json!({"model": "a", "input": [{"content": "x"}]}),
            "input",
            "invalid_value",
        ),
        (
            json!({"model": "a", "input": [{"role": "tool", "content": "x"}]}),
            "input",
            "invalid_value",
        ),
        (
            json!({"model": "a", "input": [{"type": "message", "role": "user"}]}),
            "input",
            "invalid_value",
        ),
        (
            json!({"model": "a", "input": [{"role": "user", "content": 3}]}),
            "input",
            "invalid_value",
        ),
        (
            json!({"model": "a", "input": [{"type": "item_reference", "id": "msg_1"}]}),
            "input",
            "unsupported_value",
        ),
        (
            json!({"model": "a", "input": "x", "store": true}),
            "store",
            "unsupported_parameter",
        ),
        (
            json!({"model": "a", "input": "x", "store": "no"}),
            "store",
            "invalid_type",
        ),
        (
            json!({"model": "a", "input": "x", "previous_response_id": "resp_1"}),
            "previous_response_id",
            "unsupported_parameter",
        ),
        (
            json!({"model": "a", "input": "x", "conversation": "conv_1"}),
            "conversation",
            "unsupported_parameter",
        ),
        (
            json!({"model": "a", "input": "x", "conversation": {"id": "conv_1"}}),
            "conversation",
            "unsupported_parameter",
        ),
        (
            json!({"model": "a", "input": "x", "background": true}),
            "background",
            "unsupported_parameter",
        ),
        (
            json!({"model": "a", "input": "x", "background": 1}),
            "background",
            "invalid_type",
        ),
        (
            json!({"model": "a", "input": "x", "prompt": {"id": "pmpt_1"}}),
            "prompt",
            "unsupported_parameter",
        ),
        (
            json!({"model": "a", "input": "x", "stream": "yes"}),
            "stream",
            "invalid_type",
        ),
        (
            json!({"model": "a", "input": "x", "max_output_tokens": 0}),
            "max_output_tokens",
            "invalid_value",
        ),
        (
            json!({"model": "a", "input": "x", "max_output_tokens": -3}),
            "max_output_tokens",
            "invalid_value",
        ),
        (
            json!({"model": "a", "input": "x", "max_output_tokens": 1.5}),
            "max_output_tokens",
            "invalid_value",
        ),
        (
            json!({"model": "a", "input": "x", "max_output_tokens": "10"}),
            "max_output_tokens",
            "invalid_type",
        ),
        (
            json!({"model": "a", "input": "x", "instructions": ["x"]}),
            "instructions",
            "invalid_type",
        ),
    ];
    for (body, param, code) in cases {
        let e = parse(body.clone()).expect_err(&body.to_string());
        assert_eq!(e.param, Some(param), "{body}: {}", e.message);
        assert_eq!(e.code, code, "{body}: {}", e.message);
    }
    assert_eq!(
        ResponsesRequest::parse(b"[1]").unwrap_err().code,
        "invalid_json"
    );
    let e = ResponsesRequest::parse(b"{\"model\": \"a\",\n \"input\": [}").unwrap_err();
    assert_eq!(e.code, "invalid_json");
    assert!(e.message.contains("line 2 column"), "{}", e.message);
}

#[test]
fn stateless_refusals_say_what_to_do() {
    let e = parse(json!({"model": "a", "input": "x", "store": true})).unwrap_err();
    assert!(e.message.contains("stateless"), "{}", e.message);
    assert!(e.message.contains("`store: false`"), "{}", e.message);
    let e = parse(json!({"model": "a", "input": "x", "previous_response_id": "r"})).unwrap_err();
    assert!(
        e.message.contains("stateless") && e.message.contains("whole conversation in `input`"),
        "{}",
        e.message
    );
    let e =
        parse(json!({"model": "a", "input": [{"type": "item_reference", "id": "m"}]})).unwrap_err();
    assert!(e.message.contains("input[0]"), "{}", e.message);
    assert!(e.message.contains("stateless"), "{}", e.message);
}

#[test]
fn error_messages_name_the_item() {
    let e = parse(json!({"model": "a", "input": [
            {"role": "user", "content": "x"}, {"role": "robot", "content": "y"}]}))
    .unwrap_err();
    assert!(e.message.contains("input[1].role"), "{}", e.message);
    assert!(e.message.contains("robot"), "{}", e.message);
    let e = parse(json!({"model": "a", "input": [{"role": "user", "content": {}}]})).unwrap_err();
    assert!(e.message.contains("input[0].content"), "{}", e.message);
}

#[test]
fn to_chat_rejects_untranslatable_shapes() {
    let cases = [
        (
            json!({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}),
            "input",
        ),
        (
            json!({"input": [{"type": "function_call", "call_id": "c", "arguments": "{}"}]}),
            "input",
        ),
        (
            json!({"input": [{"type": "function_call_output", "output": "x"}]}),
            "input",
        ),
        (
            json!({"input": [{"type": "local_shell_call", "call_id": "c", "action": "ls"}]}),
            "input",
        ),
        (
            json!({"input": [{"type": "custom_tool_call", "call_id": "c", "name": "p"}]}),
            "input",
        ),
        (
            json!({"input": [{"type": "local_shell_call_output", "output": "x"}]}),
            "input",
        ),
        (
            json!({"input": [{"role": "user", "content": [{"text": "no type"}]}]}),
            "input",
        ),
        (
            json!({"input": [{"role": "user", "content": [{"type": "input_text"}]}]}),
            "input",
        ),
        (
            json!({"input": [{"role": "user", "content": [{"type": "input_image", "detail": "auto"}]}]}),
            "input",
        ),
        (
            json!({"input": [{"role": "user", "content": [{"type": "input_file", "filename": "a.pdf"}]}]}),
            "input",
        ),
        (
            json!({"input": [{"role": "system", "content": [{"type": "input_text", "text": 5}]}]}),
            "input",
        ),
        (json!({"tools": [{"description": "typeless"}]}), "tools"),
        (json!({"tools": [{"type": "function"}]}), "tools"),
        (
            json!({"tools": [{"type": "function", "name": "f", "parameters": "x"}]}),
            "tools",
        ),
        (json!({"tools": [{"type": "custom"}]}), "tools"),
        (json!({"tools": {"type": "function", "name": "f"}}), "tools"),
        (json!({"tool_choice": "sometimes"}), "tool_choice"),
        (json!({"tool_choice": {"type": "function"}}), "tool_choice"),
        (json!({"tool_choice": {"name": "f"}}), "tool_choice"),
        (json!({"tool_choice": 3}), "tool_choice"),
        (json!({"reasoning": {"effort": "extreme"}}), "reasoning"),
        (json!({"reasoning": {"effort": 3}}), "reasoning"),
        (json!({"reasoning": "high"}), "reasoning"),
        (json!({"text": {"format": {"type": "xml"}}}), "text"),
        (json!({"text": {"format": {"type": "json_schema"}}}), "text"),
        (json!({"text": {"verbosity": 1}}), "text"),
        (json!({"text": "json"}), "text"),
    ];
    for (extra, param) in cases {
        let e = req(extra.clone()).to_chat().expect_err(&extra.to_string());
        assert_eq!(e.param, Some(param), "{extra}: {}", e.message);
    }
}
