//! Every public endpoint in both dialects against the vendors' own response schemas: each
//! JSON body and each SSE event of `/api/v1` against OpenRouter's OpenAPI document, of `/v1`
//! against OpenAI's (tests/fixtures/schemas/). SDKs generated from those documents parse
//! exactly what the schemas describe, so an answer that does not validate is a bug.

use reqwest::Method;
use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::helpers::*;
use crate::schema::{answer_violations, schema_for};

const DIALECTS: [&str; 2] = ["/v1", "/api/v1"];

struct Keys {
    good: String,
    spent: String,
    rpm1: String,
    narrow: String,
}

/// A new key's secret.
async fn key_secret(app: &TestApp, body: Value) -> String {
    create_key(app, body).await.1
}

fn embeddings_answer() -> Reply {
    Reply::Json(
        json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, -0.2]}],
            "model": "up", "usage": {"prompt_tokens": 8, "total_tokens": 8}})
        .to_string(),
    )
}

fn completion_answer() -> Reply {
    Reply::Json(
        json!({"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "up",
            "choices": [{"text": " upon a time", "index": 0, "logprobs": null, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6}})
        .to_string(),
    )
}

async fn app() -> (TestApp, Keys, Vec<Fake>) {
    let fakes = vec![
        Fake::start(vec![Reply::simple()]).await,
        Fake::start(vec![Reply::simple_stream()]).await,
        Fake::start(vec![Reply::error(500, "upstream exploded")]).await,
        Fake::start(vec![embeddings_answer()]).await,
        Fake::start(vec![completion_answer()]).await,
    ];
    let reg = provider("fake", &fakes[0].base_url())
        + &provider("fake-stream", &fakes[1].base_url())
        + &provider("fake-down", &fakes[2].base_url())
        + &provider("fake-embed", &fakes[3].base_url())
        + &provider("fake-instruct", &fakes[4].base_url())
        + &model("test/json", &[("fake", "up")], &[])
        + &model("test/stream", &[("fake-stream", "up")], &[])
        + &model("test/down", &[("fake-down", "up")], &[])
        + &model("test/embed", &[("fake-embed", "up")], &[]).replacen(
            "[[models]]\n",
            "[[models]]\nkind = \"embedding\"\n",
            1,
        )
        + &model("test/instruct", &[("fake-instruct", "up")], &[]);
    let app = TestApp::spawn_with(
        &reg,
        Opts {
            require_keys: true,
            ..Default::default()
        },
    )
    .await;
    let keys = Keys {
        good: key_secret(&app, json!({"name": "good", "budget_usd": 5.0})).await,
        spent: key_secret(&app, json!({"name": "spent", "budget_usd": 0.0})).await,
        rpm1: key_secret(&app, json!({"name": "rpm1", "rpm": 1})).await,
        narrow: key_secret(
            &app,
            json!({"name": "narrow", "allowed_models": ["test/json"]}),
        )
        .await,
    };
    (app, keys, fakes)
}

/// One request: its status, and every schema violation of its body (or of each SSE event).
async fn probe(
    app: &TestApp,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (u16, Value, Vec<String>) {
    let mut rb = app.client.request(method, app.url(path));
    if let Some(k) = key {
        rb = rb.bearer_auth(k);
    }
    if let Some(b) = body {
        rb = rb
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let stream = resp
        .headers()
        .get("content-type")
        .is_some_and(|c| c.to_str().unwrap().starts_with("text/event-stream"));
    let text = resp.text().await.unwrap();
    let docs: Vec<Value> = if stream {
        chunks(&parse_sse(&text))
    } else {
        vec![serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))]
    };
    assert!(
        schema_for(path, status, stream).is_some(),
        "{path} ({status}): no schema to check against"
    );
    let mut errors = Vec::new();
    for doc in &docs {
        for e in answer_violations(path, status, stream, doc) {
            errors.push(format!("{path} ({status}): {e}\n    in {doc}"));
        }
    }
    (
        status,
        docs.into_iter().next().unwrap_or(Value::Null),
        errors,
    )
}

#[tokio::test]
async fn every_answer_matches_its_vendors_schema() {
    let (app, keys, _fakes) = app().await;
    let mut errors = Vec::new();
    let mut expect = |got: (u16, Value, Vec<String>), status: u16, what: &str| {
        assert_eq!(got.0, status, "{what}: {}", got.1);
        errors.extend(got.2);
        got.1
    };
    let good = Some(keys.good.as_str());
    let chat = |model: &str, stream: bool| {
        json!({"model": model, "messages": user("hi"), "stream": stream}).to_string()
    };
    for d in DIALECTS {
        let p = |path: &str| format!("{d}{path}");
        let cc = p("/chat/completions");
        let post = Method::POST;
        let r = probe(
            &app,
            post.clone(),
            &cc,
            good,
            Some(&chat("test/json", false)),
        )
        .await;
        let answer = expect(r, 200, "chat");
        let r = probe(
            &app,
            post.clone(),
            &cc,
            good,
            Some(&chat("test/stream", true)),
        )
        .await;
        expect(r, 200, "chat stream");
        let r = probe(&app, post.clone(), &cc, good, Some("{not json")).await;
        expect(r, 400, "bad body");
        let r = probe(
            &app,
            post.clone(),
            &cc,
            Some("sy-nope"),
            Some(&chat("test/json", false)),
        )
        .await;
        expect(r, 401, "bad key");
        let r = probe(
            &app,
            post.clone(),
            &cc,
            Some(&keys.spent),
            Some(&chat("test/json", false)),
        )
        .await;
        expect(r, 402, "spent key");
        let r = probe(
            &app,
            post.clone(),
            &cc,
            Some(&keys.narrow),
            Some(&chat("test/stream", false)),
        )
        .await;
        expect(r, 403, "model not allowed");
        let r = probe(
            &app,
            post.clone(),
            &cc,
            good,
            Some(&chat("test/nope", false)),
        )
        .await;
        expect(r, 404, "unknown model");
        let r = probe(
            &app,
            post.clone(),
            &cc,
            good,
            Some(&chat("test/down", false)),
        )
        .await;
        expect(r, 502, "upstream failure");

        let embed = json!({"model": "test/embed", "input": "hi"}).to_string();
        let r = probe(&app, post.clone(), &p("/embeddings"), good, Some(&embed)).await;
        expect(r, 200, "embeddings");
        let r = probe(
            &app,
            post.clone(),
            &p("/responses"),
            good,
            Some(&json!({"model": "test/json", "input": "hi"}).to_string()),
        )
        .await;
        expect(r, 200, "responses");
        let r = probe(
            &app,
            post.clone(),
            &p("/responses"),
            good,
            Some(&json!({"model": "test/stream", "input": "hi", "stream": true}).to_string()),
        )
        .await;
        expect(r, 200, "responses stream");
        if d == "/v1" {
            // OpenRouter documents no legacy completions.
            let body = json!({"model": "test/instruct", "prompt": "Once"}).to_string();
            let r = probe(&app, post.clone(), &p("/completions"), good, Some(&body)).await;
            expect(r, 200, "completions");
        }

        let r = probe(&app, Method::GET, &p("/models"), None, None).await;
        expect(r, 200, "models");
        if d == "/v1" {
            let r = probe(&app, Method::GET, &p("/models/test/json"), None, None).await;
            expect(r, 200, "model");
        } else {
            for (path, status) in [
                ("/models/count", 200),
                ("/models/test/json/endpoints", 200),
                ("/models/test/none/endpoints", 404),
                ("/providers", 200),
            ] {
                let r = probe(&app, Method::GET, &p(path), None, None).await;
                expect(r, status, path);
            }
            let id = answer["id"].as_str().unwrap().to_owned();
            for path in [
                "/key".to_owned(),
                "/credits".to_owned(),
                format!("/generation?id={id}"),
            ] {
                let r = probe(&app, Method::GET, &p(&path), good, None).await;
                expect(r, 200, &path);
            }
            let r = probe(&app, Method::GET, &p("/generation?id=gen-none"), good, None).await;
            expect(r, 404, "unknown generation");
        }
        // The rpm=1 key: its first request goes through, the second is limited.
        let rpm1 = Some(keys.rpm1.as_str());
        let r = probe(
            &app,
            post.clone(),
            &cc,
            rpm1,
            Some(&chat("test/json", false)),
        )
        .await;
        let first = r.0;
        let r = probe(
            &app,
            post.clone(),
            &cc,
            rpm1,
            Some(&chat("test/json", false)),
        )
        .await;
        expect(r, 429, &format!("rate limit (first: {first})"));
    }
    assert!(
        errors.is_empty(),
        "{} violation(s):\n{}",
        errors.len(),
        errors.join("\n")
    );
}
