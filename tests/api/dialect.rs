//! The two dialects: `/v1` answers in OpenAI's shapes, `/api/v1` in OpenRouter's (generation
//! id as `id`, usage with cost always, integer error codes with metadata).

use std::time::Duration;

use serde_json::{json, Value};

use crate::fake::{text_stream, Fake, Reply};
use crate::helpers::*;

fn one(fake: &Fake) -> String {
    provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up-model")], &[])
}

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.post(path, body).await
}

const OR_CHAT: &str = "/api/v1/chat/completions";

#[tokio::test]
async fn openrouter_json_answer_has_the_generation_id_usage_and_cost() {
    let fake = Fake::start(vec![Reply::simple(), Reply::simple()]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let resp = post(
        &app,
        OR_CHAT,
        json!({"model": "test/m", "messages": user("hi")}),
    )
    .await;
    let id = request_id(&resp);
    let (status, v) = json_of(resp).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["id"], id.as_str());
    assert!(id.starts_with("gen-"));
    assert_eq!(v["model"], "test/m");
    assert_eq!(v["provider"], "fake");
    assert!(v.as_object().unwrap().contains_key("system_fingerprint"));
    let choice = &v["choices"][0];
    assert_eq!(choice["native_finish_reason"], choice["finish_reason"]);
    let u = &v["usage"];
    assert!(u["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        u["total_tokens"].as_u64().unwrap(),
        u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap()
    );
    assert!(u["cost"].is_number());
    assert!(u["prompt_tokens_details"]["cached_tokens"].is_u64());
    assert!(u["completion_tokens_details"]["reasoning_tokens"].is_u64());
    assert_eq!(u["is_byok"], false);
    // The generation is found by the id the answer gave.
    let rec = app.record(&id).await;
    assert_eq!(rec.outcome, "success");

    // The OpenAI dialect keeps the upstream's id.
    let (_, v) = json_of(
        app.chat(json!({"model": "test/m", "messages": user("hi")}))
            .await,
    )
    .await;
    assert!(!v["id"].as_str().unwrap().starts_with("gen-"), "{v}");
    assert!(v["choices"][0].get("native_finish_reason").is_none());
    app.stop().await;
}

#[tokio::test]
async fn openrouter_streams_always_end_with_usage_and_cost() {
    let fake = Fake::start(vec![Reply::simple_stream(), Reply::simple_stream()]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let req = json!({"model": "test/m", "stream": true, "messages": user("hi")});
    let resp = post(&app, OR_CHAT, req.clone()).await;
    let id = request_id(&resp);
    let events = sse_of(resp).await;
    let chunks = chunks(&events);
    for c in &chunks {
        assert_eq!(c["id"], id.as_str(), "{c}");
        assert_eq!(c["provider"], "fake");
    }
    let last = chunks.last().unwrap();
    assert!(last["usage"]["cost"].is_number(), "{last}");
    assert!(last["usage"]["prompt_tokens_details"]["cached_tokens"].is_u64());
    let finishing = chunks
        .iter()
        .find(|c| !c["choices"][0]["finish_reason"].is_null() && c["choices"][0].is_object())
        .unwrap();
    assert_eq!(finishing["choices"][0]["native_finish_reason"], "stop");

    // The same request under /v1 shows no usage unless asked.
    let events = sse_of(app.chat(req).await).await;
    assert!(crate::helpers::chunks(&events)
        .iter()
        .all(|c| c.get("usage").is_none()));
    app.stop().await;
}

#[tokio::test]
async fn openrouter_streams_get_a_usage_chunk_when_the_upstream_sends_none() {
    // An upstream that ignores stream_options: no usage chunk at all.
    let events: Vec<String> = text_stream(&["Hel", "lo"])
        .into_iter()
        .filter(|e| !e.contains("\"usage\":{"))
        .collect();
    let fake = Fake::start(vec![Reply::Sse {
        events,
        first: Duration::ZERO,
        between: Duration::ZERO,
    }])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let resp = post(
        &app,
        OR_CHAT,
        json!({"model": "test/m", "stream": true, "messages": user("hello there")}),
    )
    .await;
    let id = request_id(&resp);
    let events = sse_of(resp).await;
    assert_eq!(events.last(), Some(&Event::Data("[DONE]".into())));
    let last = chunks(&events).pop().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["id"], id.as_str());
    assert_eq!(last["object"], "chat.completion.chunk");
    let rec = app.record(&id).await;
    assert!(rec.usage_estimated);
    assert_eq!(
        last["usage"]["completion_tokens"].as_i64().unwrap(),
        rec.completion_tokens
    );
    assert_eq!(
        last["usage"]["prompt_tokens"].as_i64().unwrap(),
        rec.prompt_tokens
    );
    app.stop().await;
}

#[tokio::test]
async fn errors_take_each_dialects_shape() {
    let fake = Fake::start(vec![]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let body = json!({"model": "nope/missing", "messages": user("hi")});

    let (status, v) = json_of(post(&app, OR_CHAT, body.clone()).await).await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["code"], 404, "{v}");
    assert_eq!(v["error"]["metadata"]["error_type"], "not_found");
    assert_eq!(v["error"]["metadata"]["switchyard_code"], "model_not_found");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nope/missing"));

    let (status, v) = json_of(post(&app, "/v1/chat/completions", body).await).await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["code"], "model_not_found", "{v}");
    assert_eq!(v["error"]["type"], "invalid_request_error");

    // Errors raised before any handler: unknown routes, wrong methods, bad JSON.
    let v: Value = app
        .client
        .get(app.url("/api/v1/nowhere"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["error"]["code"], 404, "{v}");
    let resp = app.client.get(app.url(OR_CHAT)).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], 405, "{v}");
    let resp = app
        .client
        .post(app.url(OR_CHAT))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], 400, "{v}");
    assert_eq!(v["error"]["metadata"]["error_type"], "invalid_request");
    app.stop().await;
}

#[tokio::test]
async fn openrouter_provider_errors_name_the_provider_and_its_raw_message() {
    let fake = Fake::start(vec![Reply::error(
        400,
        "max_tokens: too large for this model",
    )])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let (status, v) = json_of(
        post(
            &app,
            OR_CHAT,
            json!({"model": "test/m", "messages": user("hi")}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let m = &v["error"]["metadata"];
    assert_eq!(v["error"]["code"], 400);
    assert_eq!(m["provider_name"], "fake");
    assert_eq!(m["raw"], "max_tokens: too large for this model");
    assert_eq!(m["error_type"], "invalid_request");
    app.stop().await;
}

#[tokio::test]
async fn openrouter_auth_errors_are_401_with_an_integer_code() {
    let app = TestApp::spawn_with(
        &(provider("fake", "http://127.0.0.1:9") + &model("test/m", &[("fake", "m")], &[])),
        Opts {
            require_keys: true,
            ..Opts::default()
        },
    )
    .await;
    let resp = app
        .client
        .post(app.url(OR_CHAT))
        .bearer_auth("sk-sy-wrong")
        .json(&json!({"model": "test/m", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], 401, "{v}");
    assert_eq!(v["error"]["metadata"]["error_type"], "authentication");
    app.stop().await;
}

#[tokio::test]
async fn mid_stream_errors_carry_an_error_type() {
    let fake = Fake::start(vec![Reply::SseDropped {
        events: text_stream(&["a", "b", "c"]),
        after: 2,
        between: Duration::ZERO,
    }])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let events = sse_of(
        post(
            &app,
            OR_CHAT,
            json!({"model": "test/m", "stream": true, "messages": user("hi")}),
        )
        .await,
    )
    .await;
    let err = error_chunk(&events).expect("an error chunk");
    assert_eq!(err["error"]["code"], 502, "{err}");
    assert_eq!(
        err["error"]["metadata"]["error_type"],
        "provider_unavailable"
    );
    assert_eq!(err["choices"][0]["finish_reason"], "error");
    app.stop().await;
}

#[tokio::test]
async fn a_required_provider_that_does_not_serve_the_model_is_a_404_with_the_reason() {
    let fake = Fake::start(vec![]).await;
    let app = TestApp::spawn(
        &(provider("fake", &fake.base_url())
            + &provider("other", &fake.base_url())
            + &model("test/m", &[("fake", "up-model")], &[])),
    )
    .await;
    for path in [OR_CHAT, "/v1/chat/completions"] {
        let (status, v) = json_of(
            post(
                &app,
                path,
                json!({"model": "test/m", "messages": user("hi"),
                       "provider": {"order": ["other"], "allow_fallbacks": false}}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 404, "{path}: {v}");
        let text = v.to_string();
        assert!(text.contains("other"), "{path}: {v}");
    }
    assert_eq!(fake.calls(), 0);
    app.stop().await;
}
