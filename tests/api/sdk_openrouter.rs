//! OpenRouter's official SDKs against `/api/v1`: the Python `openrouter` package, the
//! TypeScript `@openrouter/sdk`, and `@openrouter/ai-sdk-provider` under the AI SDK.
//!
//! They run when SWITCHYARD_TEST_OPENROUTER_PYTHON names a Python with `openrouter` installed, and when
//! SWITCHYARD_TEST_OPENROUTER_NODE_MODULES names a `node_modules` folder holding the Node
//! packages (`scripts/test` sets both up); plain `cargo test` skips them.

use std::process::Command;

use reqwest::Method;
use serde_json::{json, Value};

use crate::fake::{fixture, Fake, Reply};
use crate::helpers::*;

/// Keys on: one key with a $5 budget, and keys that are spent, limited to one request a
/// minute, or allowed only `test/json` (for the SDKs' typed 402, 429 and 403); models for
/// JSON, streams, tools, an upstream 400 and an upstream outage; a preset `brief`.
async fn app(tool_replies: Vec<Reply>) -> (TestApp, String, Vec<(&'static str, String)>) {
    let json = Fake::start(vec![Reply::simple()]).await;
    let stream = Fake::start(vec![Reply::simple_stream()]).await;
    let tool = Fake::start(tool_replies).await;
    let failing = Fake::start(vec![Reply::error(400, "Invalid value for 'temperature'")]).await;
    let down = Fake::start(vec![Reply::error(500, "upstream exploded")]).await;
    let reg = provider("fake", &json.base_url())
        + &provider("fake-stream", &stream.base_url())
        + &provider("fake-tool", &tool.base_url())
        + &provider("fake-bad", &failing.base_url())
        + &provider("fake-down", &down.base_url())
        + &model("test/json", &[("fake", "up")], &[])
        + &model("test/stream", &[("fake-stream", "up")], &[])
        + &model("test/tool", &[("fake-tool", "up")], &[])
        + &model("test/bad", &[("fake-bad", "up")], &[])
        + &model("test/down", &[("fake-down", "up")], &[]);
    let app = TestApp::spawn_with(
        &reg,
        Opts {
            require_keys: true,
            ..Default::default()
        },
    )
    .await;
    let resp = app
        .admin(
            Method::POST,
            "/admin/keys",
            Some(json!({"name": "sdk", "budget_usd": 5.0})),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    let key = v["key"].as_str().unwrap().to_owned();
    let resp = app
        .admin(
            Method::PUT,
            "/admin/presets/brief",
            Some(json!({"model": "test/json", "parameters": {"temperature": 0.2}})),
        )
        .await;
    assert!(resp.status().is_success(), "{}", resp.status());
    let mut others = Vec::new();
    for (env, body) in [
        (
            "SWITCHYARD_SPENT_KEY",
            json!({"name": "spent", "budget_usd": 0.0}),
        ),
        ("SWITCHYARD_RPM1_KEY", json!({"name": "rpm1", "rpm": 1})),
        (
            "SWITCHYARD_NARROW_KEY",
            json!({"name": "narrow", "allowed_models": ["test/json"]}),
        ),
    ] {
        let resp = app.admin(Method::POST, "/admin/keys", Some(body)).await;
        assert_eq!(resp.status(), 201);
        let v: Value = resp.json().await.unwrap();
        others.push((env, v["key"].as_str().unwrap().to_owned()));
    }
    (app, key, others)
}

async fn run(mut cmd: Command, app: &TestApp, key: &str, others: &[(&str, String)]) {
    cmd.env("SWITCHYARD_BASE_URL", app.url("/api/v1"))
        .env("SWITCHYARD_KEY", key)
        .envs(others.iter().map(|(k, v)| (*k, v.as_str())));
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("the SDK script runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("all SDK checks passed"),
        "SDK script failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
}

#[tokio::test]
async fn openrouter_python_sdk() {
    let Ok(python) = std::env::var("SWITCHYARD_TEST_OPENROUTER_PYTHON") else {
        eprintln!("skipping: SWITCHYARD_TEST_OPENROUTER_PYTHON is not set");
        return;
    };
    let (app, key, others) = app(vec![
        Reply::Json(fixture("openai/tool.json")),
        Reply::Json(fixture("openai/tool_answer.json")),
    ])
    .await;
    let mut cmd = Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sdk/openrouter_sdk.py"
    ));
    run(cmd, &app, &key, &others).await;
    app.stop().await;
}

#[tokio::test]
async fn openrouter_typescript_sdk_and_ai_sdk_provider() {
    let Ok(modules) = std::env::var("SWITCHYARD_TEST_OPENROUTER_NODE_MODULES") else {
        eprintln!("skipping: SWITCHYARD_TEST_OPENROUTER_NODE_MODULES is not set");
        return;
    };
    let (app, key, others) = app(vec![Reply::Json(fixture("openai/tool.json"))]).await;
    let mut cmd = Command::new("node");
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sdk/openrouter_sdk.cjs"
    ))
    .env("NODE_PATH", modules);
    run(cmd, &app, &key, &others).await;
    app.stop().await;
}
