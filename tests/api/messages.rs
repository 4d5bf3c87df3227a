//! `POST /v1/messages` (Anthropic's Messages API) through the whole gateway: native
//! passthrough to a fake Anthropic upstream (what it receives, byte for byte, and what the
//! client gets back), translation to an OpenAI-shaped upstream, Anthropic's error shapes,
//! count_tokens, keys and records.

use serde_json::{json, Value};

use crate::fake::{fixture, text_stream, Fake, Reply as OpenAiReply};
use crate::fake_anthropic::{event, text_events, FakeAnthropic, Reply};
use crate::helpers::*;

const UPSTREAM: &str = "claude-upstream-1";

/// A Messages request as the client sends it.
async fn post(app: &TestApp, body: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/v1/messages"))
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// Named SSE events as (event, data) pairs; comments are skipped.
async fn anthropic_events(resp: reqwest::Response) -> Vec<(String, Value)> {
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    text.split("\n\n")
        .filter(|f| !f.trim().is_empty() && !f.trim_start().starts_with(':'))
        .map(|f| {
            let mut name = String::new();
            let mut data = String::new();
            for line in f.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            let v: Value = serde_json::from_str(&data).expect("event data is JSON");
            assert_eq!(v["type"], name.as_str(), "event name matches its type");
            (name, v)
        })
        .collect()
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

/// A body with what passthrough must keep: cache_control breakpoints, a thinking block with
/// its signature, a field the gateway does not know, and OpenRouter's own fields (removed).
fn rich_body(stream: bool) -> String {
    json!({
        "model": "test/claude",
        "max_tokens": 2048,
        "stream": stream,
        "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Think, then say hi.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "The user wants hi.", "signature": "EqQBCkYIBxgCKkD+sig=="},
                {"type": "text", "text": "hi", "citations": null}]},
            {"role": "user", "content": "again"}
        ],
        "x_future_field": {"nested": [1, 2, 3]},
        "provider": {"sort": "price"}
    })
    .to_string()
}

#[tokio::test]
async fn passthrough_keeps_the_body_byte_for_byte_apart_from_model() {
    let answer = json!({"id": "msg_up", "type": "message", "role": "assistant", "model": UPSTREAM,
        "content": [{"type": "thinking", "thinking": "ok", "signature": "c2ln"},
                    {"type": "text", "text": "hi", "citations": [{"type": "char_location", "cited_text": "x", "document_index": 0, "start_char_index": 0, "end_char_index": 1}]}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 20, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 100, "output_tokens": 9}});
    let fake = FakeAnthropic::start(vec![Reply::Json(answer.to_string())]).await;
    let app = TestApp::spawn(
        &(fake.provider("anthropic") + &model("test/claude", &[("anthropic", UPSTREAM)], &[])),
    )
    .await;
    let body = rich_body(false);
    let resp = post(
        &app,
        &body,
        &[(
            "anthropic-beta",
            "interleaved-thinking-2025-05-14,context-1m-2025-08-07",
        )],
    )
    .await;
    let id = request_id(&resp);
    assert!(resp.headers().get("x-switchyard-dropped-params").is_none());
    let (status, got) = json_of(resp).await;
    assert_eq!(status, 200, "{got}");
    // The answer is Anthropic's own, with its citations and signature.
    assert_eq!(got["content"], answer["content"]);
    assert_eq!(got["usage"], answer["usage"]);

    let sent = &fake.received()[0];
    let mut expected: Value = serde_json::from_str(&body).unwrap();
    expected.as_object_mut().unwrap().remove("provider");
    expected["model"] = json!(UPSTREAM);
    assert_eq!(sent.body, expected);
    // Byte for byte: only the model's value changed, the gateway's own field went.
    let raw = String::from_utf8(sent.raw.to_vec()).unwrap();
    let want = body
        .replace(
            "\"model\":\"test/claude\"",
            &format!("\"model\":\"{UPSTREAM}\""),
        )
        .replace(",\"provider\":{\"sort\":\"price\"}", "")
        .replace("\"provider\":{\"sort\":\"price\"},", "");
    assert_eq!(raw, want);
    assert_eq!(
        sent.headers["anthropic-beta"],
        "interleaved-thinking-2025-05-14,context-1m-2025-08-07"
    );

    let r = app.record(&id).await;
    assert_eq!(r.provider.as_deref(), Some("anthropic"));
    assert_eq!(r.prompt_tokens, 125);
    assert_eq!(r.cached_tokens, 100);
    assert_eq!(r.cache_write_tokens, 5);
    assert_eq!(r.completion_tokens, 9);
    assert_eq!(r.outcome, "success");
    app.stop().await;
}

#[tokio::test]
async fn passthrough_stream_forwards_anthropic_events_and_records_usage() {
    let fake =
        FakeAnthropic::start(vec![Reply::Sse(text_events(&["Hel", "lo"], "end_turn"))]).await;
    let app = TestApp::spawn(
        &(fake.provider("anthropic") + &model("test/claude", &[("anthropic", UPSTREAM)], &[])),
    )
    .await;
    let resp = post(&app, &rich_body(true), &[]).await;
    let id = request_id(&resp);
    // Passed through: nothing dropped, though translation would have dropped cache_control.
    assert!(resp.headers().get("x-switchyard-dropped-params").is_none());
    assert_eq!(resp.headers()["x-switchyard-provider"], "anthropic");
    let events = anthropic_events(resp).await;
    let sent: Vec<(String, Value)> = text_events(&["Hel", "lo"], "end_turn")
        .iter()
        .map(|e| {
            let data = e.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            let v: Value = serde_json::from_str(data).unwrap();
            (v["type"].as_str().unwrap().to_owned(), v)
        })
        .collect();
    assert_eq!(
        events, sent,
        "the client gets the upstream's events unchanged"
    );
    let r = app.record(&id).await;
    assert_eq!(r.outcome, "success");
    assert!(r.streamed);
    assert!(r.completion_tokens > 0 && r.prompt_tokens > 0, "{r:?}");
    assert!(!r.usage_estimated);
    app.stop().await;
}

#[tokio::test]
async fn translated_to_an_openai_upstream_json_with_tools() {
    let fake = Fake::start(vec![OpenAiReply::Json(fixture("openai/tool.json"))]).await;
    let app = TestApp::spawn(
        &(provider("oai", &fake.base_url()) + &model("test/gpt", &[("oai", "gpt-up")], &[])),
    )
    .await;
    let body = json!({
        "model": "test/gpt", "max_tokens": 300,
        "system": [{"type": "text", "text": "Be useful.", "cache_control": {"type": "ephemeral"}}],
        "tools": [{"name": "weather", "description": "Weather for a city",
                   "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}],
        "tool_choice": {"type": "any"},
        "messages": [{"role": "user", "content": "Weather in Florence?"}]
    });
    let resp = post(&app, &body.to_string(), &[]).await;
    assert_eq!(
        resp.headers()["x-switchyard-dropped-params"],
        "cache_control"
    );
    assert_eq!(resp.headers()["x-switchyard-provider"], "oai");
    let (status, got) = json_of(resp).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["type"], "message");
    assert_eq!(got["role"], "assistant");
    assert_eq!(got["model"], "test/gpt");
    assert_eq!(got["stop_reason"], "tool_use");
    let block = &got["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert_eq!(block["name"], "weather");
    assert_eq!(block["input"], json!({"location": "Florence, Italy"}));
    assert_eq!(got["usage"]["input_tokens"], 61);
    assert_eq!(got["usage"]["output_tokens"], 16);

    let sent = &fake.received()[0].body;
    assert_eq!(sent["model"], "gpt-up");
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be useful."})
    );
    assert_eq!(sent["tools"][0]["function"]["name"], "weather");
    assert_eq!(sent["tool_choice"], "required");
    assert_eq!(sent["max_tokens"], 300);
    app.stop().await;
}

#[tokio::test]
async fn translated_stream_is_in_anthropic_event_order() {
    let fake = Fake::start(vec![OpenAiReply::Sse {
        events: text_stream(&["Hel", "lo"]),
        first: std::time::Duration::ZERO,
        between: std::time::Duration::ZERO,
    }])
    .await;
    let app = TestApp::spawn(
        &(provider("oai", &fake.base_url()) + &model("test/gpt", &[("oai", "gpt-up")], &[])),
    )
    .await;
    let body = json!({"model": "test/gpt", "max_tokens": 50, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    let resp = post(&app, &body.to_string(), &[]).await;
    let id = request_id(&resp);
    let events = anthropic_events(resp).await;
    assert_eq!(
        names(&events),
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
    let start = &events[0].1["message"];
    assert_eq!(start["model"], "test/gpt");
    assert!(start["usage"]["input_tokens"].as_u64().unwrap() > 0);
    let text: String = events
        .iter()
        .filter_map(|(_, v)| v["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello");
    let delta = &events[6].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 2);
    assert_eq!(delta["usage"]["input_tokens"], 11);
    // The upstream was asked for usage, whatever the client said.
    assert_eq!(
        fake.received()[0].body["stream_options"]["include_usage"],
        true
    );
    let r = app.record(&id).await;
    assert_eq!((r.prompt_tokens, r.completion_tokens), (11, 2));
    app.stop().await;
}

#[tokio::test]
async fn errors_come_in_anthropic_shape() {
    let fake =
        FakeAnthropic::start(vec![Reply::error(529, "overloaded_error", "Overloaded")]).await;
    let app = TestApp::spawn(
        &(fake.provider("anthropic") + &model("test/claude", &[("anthropic", UPSTREAM)], &[])),
    )
    .await;
    let check = |status: u16, kind: &'static str| {
        move |(s, v): (u16, Value)| {
            assert_eq!(s, status, "{v}");
            assert_eq!(v["type"], "error", "{v}");
            assert_eq!(v["error"]["type"], kind, "{v}");
            assert!(v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
        }
    };
    let unknown = json!({"model": "nope/nope", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]});
    check(404, "not_found_error")(json_of(post(&app, &unknown.to_string(), &[]).await).await);
    let no_max = json!({"model": "test/claude", "messages": [{"role": "user", "content": "x"}]});
    let (s, v) = json_of(post(&app, &no_max.to_string(), &[]).await).await;
    check(400, "invalid_request_error")((s, v.clone()));
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_tokens"));
    check(400, "invalid_request_error")(json_of(post(&app, "{not json", &[]).await).await);
    let bad_role = json!({"model": "test/claude", "max_tokens": 5, "messages": [{"role": "robot", "content": "x"}]});
    check(400, "invalid_request_error")(
        json_of(post(&app, &bad_role.to_string(), &[]).await).await,
    );
    // Every upstream overloaded: Anthropic's own status and type.
    let ok = json!({"model": "test/claude", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]});
    check(529, "overloaded_error")(json_of(post(&app, &ok.to_string(), &[]).await).await);
    app.stop().await;
}

#[tokio::test]
async fn a_stream_that_fails_mid_way_ends_with_an_error_event() {
    let mut events = text_events(&["Hel", "lo"], "end_turn");
    events.truncate(4);
    events.push(event(
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    let fake = FakeAnthropic::start(vec![Reply::Sse(events)]).await;
    let oai = Fake::start(vec![OpenAiReply::SseDropped {
        events: text_stream(&["Hel", "lo", "!"]),
        after: 3,
        between: std::time::Duration::ZERO,
    }])
    .await;
    let app = TestApp::spawn(
        &(fake.provider("anthropic")
            + &provider("oai", &oai.base_url())
            + &model("test/claude", &[("anthropic", UPSTREAM)], &[])
            + &model("test/gpt", &[("oai", "gpt-up")], &[])),
    )
    .await;
    for m in ["test/claude", "test/gpt"] {
        let body = json!({"model": m, "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "hi"}]});
        let resp = post(&app, &body.to_string(), &[]).await;
        let id = request_id(&resp);
        let events = anthropic_events(resp).await;
        let (last, data) = events.last().unwrap();
        assert_eq!(last, "error", "{m}: {events:?}");
        assert!(data["error"]["type"].is_string());
        assert!(!names(&events).contains(&"message_stop"), "{m}");
        let r = app.record(&id).await;
        assert_eq!(r.outcome, "cut", "{m}");
    }
    app.stop().await;
}

#[tokio::test]
async fn count_tokens_asks_anthropic_or_estimates() {
    let fake = FakeAnthropic::start(vec![Reply::error(500, "api_error", "unused")]).await;
    let oai = Fake::start(vec![OpenAiReply::simple()]).await;
    let app = TestApp::spawn(
        &(fake.provider("anthropic")
            + &provider("oai", &oai.base_url())
            + &model("test/claude", &[("anthropic", UPSTREAM)], &[])
            + &model("test/gpt", &[("oai", "gpt-up")], &[])),
    )
    .await;
    let body = |m: &str| {
        json!({"model": m, "max_tokens": 100, "system": "be brief",
            "messages": [{"role": "user", "content": "How many tokens is this?"}]})
        .to_string()
    };
    let count = |m: &'static str| {
        let app = &app;
        let b = body(m);
        async move {
            let resp = app
                .client
                .post(app.url("/v1/messages/count_tokens"))
                .header("content-type", "application/json")
                .body(b)
                .send()
                .await
                .unwrap();
            let estimated = resp.headers().get("x-switchyard-estimated").is_some();
            let (s, v) = json_of(resp).await;
            assert_eq!(s, 200, "{v}");
            (v["input_tokens"].as_u64().unwrap(), estimated)
        }
    };
    let (n, estimated) = count("test/claude").await;
    assert!(!estimated && n > 0);
    let sent = fake.received().pop().unwrap();
    assert_eq!(sent.uri, "/v1/messages/count_tokens");
    assert_eq!(sent.body["model"], UPSTREAM);
    assert!(sent.body.get("max_tokens").is_none());
    let (n, estimated) = count("test/gpt").await;
    assert!(estimated && n > 0);
    assert_eq!(oai.calls(), 0, "estimating calls no upstream");
    app.stop().await;
}

#[tokio::test]
async fn keys_work_as_x_api_key_or_bearer_and_refusals_are_anthropic_errors() {
    let fake = FakeAnthropic::start(vec![Reply::message(
        json!([{"type": "text", "text": "hi"}]),
        "end_turn",
    )])
    .await;
    let app = TestApp::spawn_with(
        &(fake.provider("anthropic") + &model("test/claude", &[("anthropic", UPSTREAM)], &[])),
        Opts {
            require_keys: true,
            ..Opts::default()
        },
    )
    .await;
    let created: Value = app
        .admin(
            reqwest::Method::POST,
            "/admin/keys",
            Some(json!({"name": "agent"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let body = json!({"model": "test/claude", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}).to_string();
    let (s, v) = json_of(post(&app, &body, &[]).await).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (401, Some("authentication_error")),
        "{v}"
    );
    let (s, v) = json_of(post(&app, &body, &[("x-api-key", "sk-wrong")]).await).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (401, Some("authentication_error")),
        "{v}"
    );
    let (s, _) = json_of(post(&app, &body, &[("x-api-key", &key)]).await).await;
    assert_eq!(s, 200);
    let bearer = format!("Bearer {key}");
    let resp = post(&app, &body, &[("authorization", &bearer)]).await;
    let id = request_id(&resp);
    assert_eq!(resp.status(), 200);
    // The gateway key never reaches the upstream; the provider's own does.
    let sent = fake.received().pop().unwrap();
    assert_ne!(sent.headers["x-api-key"], key.as_str());
    assert!(sent.headers.get("authorization").is_none());
    assert!(app.record(&id).await.key_id.is_some());
    app.stop().await;
}

#[tokio::test]
async fn passthrough_to_claude_on_bedrock_through_invoke_model() {
    use crate::fake_bedrock::{invoke_chunks, FakeBedrock, Reply as BReply};
    let events: Vec<Value> = text_events(&["Hel", "lo"], "end_turn")
        .iter()
        .map(|e| {
            serde_json::from_str(e.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap()
        })
        .collect();
    let message = json!({"id": "msg_bdrk", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "thinking", "thinking": "ok", "signature": "c2ln"}, {"type": "text", "text": "hi"}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 20, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 50, "output_tokens": 9}});
    let fake = FakeBedrock::start(vec![
        BReply::Json(message.clone()),
        BReply::Stream(invoke_chunks(&events)),
    ])
    .await;
    let upstream = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
    let app = TestApp::spawn(
        &(fake.provider("bedrock") + &model("test/claude", &[("bedrock", upstream)], &[])),
    )
    .await;

    let beta = [("anthropic-beta", "interleaved-thinking-2025-05-14")];
    let resp = post(&app, &rich_body(false), &beta).await;
    let id = request_id(&resp);
    let (s, got) = json_of(resp).await;
    assert_eq!(s, 200, "{got}");
    assert_eq!(
        got["content"], message["content"],
        "Claude's own blocks, signature included"
    );
    let sent = fake.received().pop().unwrap();
    assert!(sent.path.ends_with("/invoke"), "{}", sent.path);
    let mut expected: Value = serde_json::from_str(&rich_body(false)).unwrap();
    let o = expected.as_object_mut().unwrap();
    for k in ["model", "stream", "provider"] {
        o.remove(k);
    }
    o.insert("anthropic_version".into(), json!("bedrock-2023-05-31"));
    o.insert(
        "anthropic_beta".into(),
        json!(["interleaved-thinking-2025-05-14"]),
    );
    assert_eq!(sent.body, expected);
    let r = app.record(&id).await;
    assert_eq!(
        (r.provider.as_deref(), r.cached_tokens, r.completion_tokens),
        (Some("bedrock"), 50, 9)
    );

    let resp = post(&app, &rich_body(true), &beta).await;
    let id = request_id(&resp);
    let got = anthropic_events(resp).await;
    let want: Vec<(String, Value)> = events
        .iter()
        .map(|e| (e["type"].as_str().unwrap().to_owned(), e.clone()))
        .collect();
    assert_eq!(
        got, want,
        "Anthropic's events, unwrapped from Bedrock's chunks"
    );
    assert!(fake
        .received()
        .pop()
        .unwrap()
        .path
        .ends_with("/invoke-with-response-stream"));
    let r = app.record(&id).await;
    assert_eq!(r.outcome, "success");
    assert!(r.completion_tokens > 0 && !r.usage_estimated, "{r:?}");
    app.stop().await;
}
