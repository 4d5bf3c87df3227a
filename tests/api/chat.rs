//! Non-streamed chat completions: forwarding, rewriting, records and request errors.

use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::helpers::*;

fn registry(fake: &Fake) -> String {
    provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up-model")], &[])
}

#[tokio::test]
async fn json_completion_is_forwarded_and_rewritten() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn(&registry(&fake)).await;

    let resp = app
        .client
        .post(app.url("/v1/chat/completions"))
        .header("HTTP-Referer", "https://app.example")
        .header("X-Title", "Test App")
        .header("content-type", "application/json")
        // Raw text, so the number's spelling (2.50) survives the test client.
        .body(
            r#"{"model": "test/m", "messages": [{"role": "user", "content": "Say hi in Portuguese"}],
                "temperature": 0.2, "x_vendor_flag": {"keep": [1, 2.50, "é"]},
                "provider": {"sort": "price"}, "models": ["test/m"], "transforms": ["middle-out"],
                "usage": {"include": true}, "plugins": [], "route": "fallback"}"#,
        )
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    assert_eq!(resp.headers()["x-generation-id"].to_str().unwrap(), id);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["model"], "test/m",
        "public slug, not the upstream's name"
    );
    assert_eq!(body["provider"], "fake");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Olá!");
    assert_eq!(body["usage"]["prompt_tokens"], 20);
    assert_eq!(
        body["system_fingerprint"], "fp_bbc23ca3d7",
        "unknown response fields pass through"
    );

    let sent = &fake.received()[0];
    assert_eq!(sent.body["model"], "up-model");
    assert_eq!(sent.body["temperature"], 0.2);
    assert_eq!(sent.body["messages"][0]["content"], "Say hi in Portuguese");
    let raw = String::from_utf8(sent.raw.to_vec()).unwrap();
    assert!(
        raw.contains(r#""x_vendor_flag":{"keep": [1, 2.50, "é"]}"#),
        "forwarded byte for byte: {raw}"
    );
    for field in [
        "provider",
        "models",
        "transforms",
        "usage",
        "plugins",
        "route",
    ] {
        assert!(
            sent.body.get(field).is_none(),
            "gateway field `{field}` leaked upstream"
        );
    }

    let rec = app.record(&id).await;
    assert_eq!(rec.outcome, "success");
    assert_eq!(rec.status, 200);
    assert_eq!(rec.requested_model.as_deref(), Some("test/m"));
    assert_eq!(rec.served_model.as_deref(), Some("test/m"));
    assert_eq!(rec.provider.as_deref(), Some("fake"));
    assert_eq!(
        rec.upstream_id.as_deref(),
        Some("chatcmpl-DuLdOKeSvJ2ah93ut8DRAVP44PlmE")
    );
    assert_eq!((rec.prompt_tokens, rec.completion_tokens), (20, 2));
    assert!(!rec.usage_estimated && !rec.streamed && !rec.cancelled);
    // 20 tokens at $2/M + 2 tokens at $8/M = 40,000 + 16,000 nano-dollars.
    assert_eq!(rec.cost_nanos, 56_000);
    assert_eq!(rec.app_referer.as_deref(), Some("https://app.example"));
    assert_eq!(rec.app_title.as_deref(), Some("Test App"));
    assert_eq!(rec.attempts.len(), 1);
    assert_eq!(rec.attempts[0].outcome, "ok");
    app.stop().await;
}

#[tokio::test]
async fn tool_calls_pass_through_intact() {
    let fake = Fake::start(vec![Reply::Json(crate::fake::fixture("openai/tool.json"))]).await;
    let app = TestApp::spawn(&registry(&fake)).await;
    let resp = app
        .chat(json!({"model": "test/m", "messages": user("weather in Florence?"),
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]}))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["id"], "call_15X0Q2MmkK1IeFfiol9LFlqb");
    assert_eq!(
        call["function"]["arguments"],
        "{\"location\":\"Florence, Italy\"}"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert!(fake.received()[0].body["tools"].is_array());
    app.stop().await;
}

#[tokio::test]
async fn openrouter_upstream_with_leading_whitespace_is_parsed() {
    let fake = Fake::start(vec![Reply::Json(crate::fake::fixture(
        "openrouter/simple.json",
    ))])
    .await;
    let app = TestApp::spawn(&registry(&fake)).await;
    let resp = app
        .chat(json!({"model": "test/m", "messages": user("hi")}))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["provider"], "fake");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Olá! 👋\n\nHow can I help you today?"
    );
    app.stop().await;
}

pub fn assert_openai_error(body: &Value) {
    let e = &body["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(e["type"].is_string(), "{body}");
    assert!(
        e.get("param").is_some() && e.get("code").is_some(),
        "{body}"
    );
}

#[tokio::test]
async fn bad_requests_get_openai_shaped_errors() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app =
        TestApp::spawn(&(registry(&fake) + &model("test/other", &[("fake", "x")], &[]))).await;
    let url = app.url("/v1/chat/completions");

    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("malformed JSON", "{\"model\": \"test/m\",\n \"messages\": [}".into(), 400, "line 2 column"),
        ("not an object", "[1, 2]".into(), 400, "JSON object"),
        ("missing messages", r#"{"model":"test/m"}"#.into(), 400, "`messages` is required"),
        ("empty messages", r#"{"model":"test/m","messages":[]}"#.into(), 400, "at least one message"),
        ("message without role", r#"{"model":"test/m","messages":[{"content":"x"}]}"#.into(), 400, "messages[0].role"),
        ("missing model", r#"{"messages":[{"role":"user","content":"x"}]}"#.into(), 400, "`model` is required"),
        ("unknown model", r#"{"model":"test/mm","messages":[{"role":"user","content":"x"}]}"#.into(), 404, "test/m, test/other"),
        ("bad provider prefs", r#"{"model":"test/m","provider":{"sortt":"price"},"messages":[{"role":"user","content":"x"}]}"#.into(), 400, "provider"),
        ("too large", format!(r#"{{"model":"test/m","messages":[{{"role":"user","content":"{}"}}]}}"#, "x".repeat(9 * 1024 * 1024)), 413, "larger than the limit"),
    ];
    for (what, body, status, needle) in cases {
        let resp = app
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status, "{what}");
        assert!(resp.headers().contains_key("x-request-id"), "{what}");
        let body: Value = resp.json().await.unwrap();
        assert_openai_error(&body);
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{what}: `{msg}` lacks `{needle}`");
    }
    assert_eq!(fake.calls(), 0, "no bad request reached the upstream");

    let resp = app.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_openai_error(&resp.json().await.unwrap());
    let resp = app.client.get(app.url("/v1/nope")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_openai_error(&resp.json().await.unwrap());

    // Refused before admission: counted, not written one row each (a flood of bad requests
    // must not grow the log).
    let health: Value = app.health().await;
    assert_eq!(health["request_log"]["refused_requests"], 9);
    let dir = app.stop().await;
    let _ = dir;
}

#[tokio::test]
async fn upstream_rejection_is_returned_not_retried() {
    let bad = Fake::start(vec![Reply::Status(
        400,
        r#"{"error":{"message":"Invalid value for 'temperature': 7","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}"#.into(),
        vec![],
    )])
    .await;
    let other = Fake::start(vec![Reply::simple()]).await;
    let reg = provider("p1", &bad.base_url())
        + &provider("p2", &other.base_url())
        + &model("test/m", &[("p1", "a"), ("p2", "b")], &[]);
    let app = TestApp::spawn(&reg).await;
    let resp = app
        .chat(json!({"model": "test/m", "messages": user("x"), "temperature": 7}))
        .await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("p1")
            && msg.contains("400")
            && msg.contains("Invalid value for 'temperature'"),
        "{msg}"
    );
    assert_eq!(body["error"]["param"], "temperature");
    assert_eq!(body["error"]["code"], "invalid_value");
    assert_eq!(other.calls(), 0);
    app.stop().await;
}

#[tokio::test]
async fn mock_provider_answers_offline() {
    let reg = "[[providers]]\nid = \"mock\"\nkind = \"mock\"\n[providers.mock]\nreply = \"echo: {last_user}\"\nchunks = 3\n\n"
        .to_owned()
        + &model("mock/echo", &[("mock", "echo")], &[]);
    let app = TestApp::spawn(&reg).await;
    let body: Value = app
        .chat(json!({"model": "mock/echo", "messages": user("ping")}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "echo: ping");
    assert_eq!(body["provider"], "mock");
    let text = app
        .chat(json!({"model": "mock/echo", "stream": true, "messages": user("ping")}))
        .await
        .text()
        .await
        .unwrap();
    let events = parse_sse(&text);
    assert_eq!(content(&events), "echo: ping");
    assert_eq!(events.last(), Some(&Event::Data("[DONE]".into())));
    app.stop().await;
}

#[tokio::test]
async fn provider_key_and_headers_are_sent_upstream() {
    // A variable only this test reads.
    std::env::set_var("SWITCHYARD_TEST_FAKE_KEY_CHAT", "sk-upstream-secret");
    let fake = Fake::start(vec![Reply::simple()]).await;
    let reg = format!(
        "[[providers]]\nid = \"keyed\"\nkind = \"openai\"\nbase_url = \"{}\"\napi_key_env = \"SWITCHYARD_TEST_FAKE_KEY_CHAT\"\n\
         headers = {{ \"X-Org\" = \"acme\" }}\n\n",
        fake.base_url()
    ) + &model("test/m", &[("keyed", "up")], &[]);
    let app = TestApp::spawn(&reg).await;
    let resp = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth("client-key-must-not-leak")
        .json(&json!({"model": "test/m", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = &fake.received()[0].headers;
    assert_eq!(h["authorization"], "Bearer sk-upstream-secret");
    assert_eq!(h["x-org"], "acme");
    app.stop().await;
}
