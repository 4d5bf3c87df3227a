//! `POST /v1/embeddings` and `POST /v1/completions` through the whole gateway: passthrough to
//! OpenAI-compatible upstreams, Gemini's batchEmbedContents, fallbacks, model kinds, records.

use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::fake_gemini::{FakeGemini, Reply as GReply, KEY};
use crate::helpers::*;

fn embedding_model(slug: &str, endpoints: &[(&str, &str)]) -> String {
    model(slug, endpoints, &[]).replacen("[[models]]\n", "[[models]]\nkind = \"embedding\"\n", 1)
}

fn embeddings_answer() -> Reply {
    Reply::Json(
        json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, -0.2, 0.3]},
            {"object": "embedding", "index": 1, "embedding": [0.4, 0.5, -0.6]}],
            "model": "text-embedding-up", "usage": {"prompt_tokens": 8, "total_tokens": 8}})
        .to_string(),
    )
}

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn embeddings_pass_through_with_fallback_and_a_record() {
    let down = Fake::start(vec![Reply::error(503, "busy")]).await;
    let up = Fake::start(vec![embeddings_answer()]).await;
    let reg = provider("down", &down.base_url())
        + &provider("up", &up.base_url())
        + &embedding_model("test/embed", &[("down", "emb-a"), ("up", "emb-b")])
        + &model("test/chat", &[("up", "gpt")], &[]);
    let app = TestApp::spawn(&reg).await;
    let body = json!({"model": "test/embed", "input": ["hello", "world"], "dimensions": 3, "encoding_format": "float", "x_vendor": 1});
    let resp = post(&app, "/v1/embeddings", body).await;
    let id = request_id(&resp);
    let (status, got) = json_of(resp).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["model"], "test/embed");
    assert_eq!(got["provider"], "up");
    assert_eq!(got["data"][1]["embedding"], json!([0.4, 0.5, -0.6]));
    assert_eq!(got["usage"]["prompt_tokens"], 8);
    let sent = up.received().pop().unwrap();
    assert!(sent.path.ends_with("/v1/embeddings"), "{}", sent.path);
    assert_eq!(
        sent.body,
        json!({"model": "emb-b", "input": ["hello", "world"], "dimensions": 3, "encoding_format": "float", "x_vendor": 1})
    );
    let r = app.record(&id).await;
    assert_eq!(
        (r.provider.as_deref(), r.prompt_tokens, r.completion_tokens),
        (Some("up"), 8, 0)
    );
    assert_eq!(r.attempts.len(), 2);

    // A chat model is not an embedding model, and the other way round.
    let (s, e) = json_of(
        post(
            &app,
            "/v1/embeddings",
            json!({"model": "test/chat", "input": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("wrong_model_kind")),
        "{e}"
    );
    let (s, e) = json_of(
        app.chat(json!({"model": "test/embed", "messages": [{"role": "user", "content": "x"}]}))
            .await,
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("embedding"),
        "{e}"
    );
    let (s, e) = json_of(post(&app, "/v1/embeddings", json!({"model": "test/embed"})).await).await;
    assert_eq!((s, e["error"]["param"].as_str()), (400, Some("input")));
    app.stop().await;
}

#[tokio::test]
async fn embeddings_through_gemini_batch_embed_contents() {
    std::env::set_var("SWITCHYARD_TEST_GEMINI_KEY", KEY);
    let answer = json!({"embeddings": [{"values": [1.0, 0.5]}, {"values": [-1.0, 0.25]}]});
    let fake = FakeGemini::start(vec![GReply::Json(answer.to_string())]).await;
    let reg = format!(
        "[[providers]]\nid = \"google\"\nkind = \"gemini\"\nbase_url = \"{}\"\napi_key_env = \"SWITCHYARD_TEST_GEMINI_KEY\"\n\n",
        fake.base_url()
    ) + &embedding_model("google/embedding", &[("google", "gemini-embedding-001")]);
    let app = TestApp::spawn(&reg).await;
    let (s, got) = json_of(
        post(
            &app,
            "/v1/embeddings",
            json!({"model": "google/embedding", "input": ["a", "bb"], "dimensions": 2}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{got}");
    assert_eq!(got["object"], "list");
    assert_eq!(got["data"][0]["embedding"], json!([1.0, 0.5]));
    assert_eq!(got["data"][1]["index"], 1);
    assert!(got["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let sent = fake.received().pop().unwrap();
    assert_eq!(sent.path, "models/gemini-embedding-001:batchEmbedContents");
    assert_eq!(
        sent.body["requests"][1]["content"]["parts"][0]["text"],
        "bb"
    );
    assert_eq!(sent.body["requests"][0]["outputDimensionality"], 2);

    // base64: little-endian f32s, as OpenAI encodes them.
    let (_, got) = json_of(
        post(
            &app,
            "/v1/embeddings",
            json!({"model": "google/embedding", "input": ["a", "bb"], "encoding_format": "base64"}),
        )
        .await,
    )
    .await;
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(got["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes, [1.0f32.to_le_bytes(), 0.5f32.to_le_bytes()].concat());
    // Token ids cannot be embedded by Gemini: a clear 400.
    let (s, e) = json_of(
        post(
            &app,
            "/v1/embeddings",
            json!({"model": "google/embedding", "input": [1, 2, 3]}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400, "{e}");
    app.stop().await;
}

#[tokio::test]
async fn legacy_completions_json_and_stream() {
    let json_answer = json!({"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "up",
        "choices": [{"text": " upon a time", "index": 0, "logprobs": null, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6}});
    let chunk = |text: &str, finish: Value| {
        format!(
            "data: {}",
            json!({"id": "cmpl-2", "object": "text_completion", "created": 1, "model": "up",
            "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}]})
        )
    };
    let stream = vec![
        chunk(" upon", Value::Null),
        chunk(" a time", json!("stop")),
        format!(
            "data: {}",
            json!({"id": "cmpl-2", "object": "text_completion", "created": 1, "model": "up", "choices": [],
            "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}})
        ),
        "data: [DONE]".to_owned(),
    ];
    let fake = Fake::start(vec![
        Reply::Json(json_answer.to_string()),
        Reply::Sse {
            events: stream,
            first: std::time::Duration::ZERO,
            between: std::time::Duration::ZERO,
        },
    ])
    .await;
    let reg = provider("oai", &fake.base_url())
        + &model("test/instruct", &[("oai", "gpt-3.5-turbo-instruct")], &[]);
    let app = TestApp::spawn(&reg).await;
    let (s, got) = json_of(
        post(
            &app,
            "/v1/completions",
            json!({"model": "test/instruct", "prompt": "Once", "max_tokens": 4}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{got}");
    assert_eq!(got["choices"][0]["text"], " upon a time");
    assert_eq!(got["model"], "test/instruct");
    assert_eq!(got["provider"], "oai");
    assert!(fake.received()[0].path.ends_with("/v1/completions"));

    let resp = post(
        &app,
        "/v1/completions",
        json!({"model": "test/instruct", "prompt": "Once", "stream": true}),
    )
    .await;
    let id = request_id(&resp);
    let events = sse_of(resp).await;
    let text: String = chunks(&events)
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, " upon a time");
    assert!(chunks(&events)
        .iter()
        .all(|c| c["model"] == "test/instruct"));
    assert!(
        chunks(&events)
            .iter()
            .all(|c| c.get("usage").is_none_or(Value::is_null)),
        "usage only when asked"
    );
    assert_eq!(
        fake.received()[1].body["stream_options"]["include_usage"],
        true
    );
    let r = app.record(&id).await;
    assert_eq!(
        (r.prompt_tokens, r.completion_tokens, r.outcome.as_str()),
        (2, 3, "success")
    );
    app.stop().await;
}

#[tokio::test]
async fn operations_a_provider_cannot_serve_are_clear_400s() {
    let reg = "[[providers]]\nid = \"mock\"\nkind = \"mock\"\n\n".to_owned()
        + &model("test/echo", &[("mock", "echo")], &[])
        + &embedding_model("test/mock-embed", &[("mock", "echo")]);
    let app = TestApp::spawn(&reg).await;
    let (s, e) = json_of(
        post(
            &app,
            "/v1/completions",
            json!({"model": "test/echo", "prompt": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("legacy text completions"),
        "{e}"
    );
    let (s, e) = json_of(
        post(
            &app,
            "/v1/embeddings",
            json!({"model": "test/mock-embed", "input": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("embeddings"),
        "{e}"
    );
    app.stop().await;
}
