//! The official `openai` SDKs (Python and Node) against the real gateway and fake upstreams.
//!
//! They run when SWITCHYARD_TEST_PYTHON names a Python with `openai` installed, and when
//! SWITCHYARD_TEST_NODE_MODULES names a `node_modules` folder holding `openai` (`scripts/test`
//! sets both up); plain `cargo test` skips them.

use std::process::Command;

use crate::fake::{fixture, Fake, Reply};
use crate::helpers::*;

/// Serves three models through fakes: JSON, stream, and an upstream 400.
async fn sdk_app() -> TestApp {
    let json = Fake::start(vec![Reply::simple()]).await;
    let stream = Fake::start(vec![Reply::simple_stream()]).await;
    let failing = Fake::start(vec![Reply::error(400, "Invalid value for 'temperature'")]).await;
    let reg = provider("fake", &json.base_url())
        + &provider("fake-stream", &stream.base_url())
        + &provider("fake-bad", &failing.base_url())
        + &model("test/json", &[("fake", "up")], &[])
        + &model("test/stream", &[("fake-stream", "up")], &[])
        + &model("test/bad", &[("fake-bad", "up")], &[]);
    TestApp::spawn(&reg).await
}

async fn run_script(mut cmd: Command, app: &TestApp) {
    cmd.env("SWITCHYARD_BASE_URL", app.url("/v1"));
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("the SDK script runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK script failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("all SDK checks passed"), "{stdout}");
}

#[tokio::test]
async fn official_python_sdk() {
    let Ok(python) = std::env::var("SWITCHYARD_TEST_PYTHON") else {
        eprintln!("skipping: SWITCHYARD_TEST_PYTHON is not set");
        return;
    };
    let app = sdk_app().await;
    let mut cmd = Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sdk/openai_sdk.py"
    ));
    run_script(cmd, &app).await;
    app.stop().await;
}

#[tokio::test]
async fn official_node_sdk() {
    let Ok(modules) = std::env::var("SWITCHYARD_TEST_NODE_MODULES") else {
        eprintln!("skipping: SWITCHYARD_TEST_NODE_MODULES is not set");
        return;
    };
    let app = sdk_app().await;
    let mut cmd = Command::new("node");
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sdk/openai_sdk.cjs"
    ))
    .env("NODE_PATH", modules);
    run_script(cmd, &app).await;
    app.stop().await;
}

/// The conformance script's calls, answered in OpenAI's wire format.
fn openai_conformance_replies() -> Vec<Reply> {
    let mut schema_answer: serde_json::Value =
        serde_json::from_str(&fixture("openai/simple.json")).unwrap();
    schema_answer["choices"][0]["message"]["content"] =
        r#"{"city":"Florence","country":"Italy"}"#.into();
    vec![
        Reply::simple(),
        Reply::simple_stream(),
        Reply::simple_stream(),
        Reply::Json(fixture("openai/tool.json")),
        Reply::Json(fixture("openai/tool_answer.json")),
        Reply::Json(schema_answer.to_string()),
        Reply::simple(),
        Reply::sse_fixture("openai/tool_streaming.sse"),
    ]
}

/// Runs `tests/sdk/conformance.py` against `model` on `app`.
async fn conformance(app: &TestApp, model: &str) -> bool {
    let Ok(python) = std::env::var("SWITCHYARD_TEST_PYTHON") else {
        eprintln!("skipping: SWITCHYARD_TEST_PYTHON is not set");
        return false;
    };
    let mut cmd = Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sdk/conformance.py"
    ))
    .env("SWITCHYARD_MODEL", model);
    run_script(cmd, app).await;
    true
}

#[tokio::test]
async fn conformance_openai_compatible() {
    let fake = Fake::start(openai_conformance_replies()).await;
    let app = TestApp::spawn(
        &(provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[])),
    )
    .await;
    if conformance(&app, "test/m").await {
        let sent = fake.received();
        assert_eq!(sent.len(), 8);
        // The tool round trip reached the upstream as the client wrote it.
        assert_eq!(
            sent[4].body["messages"][1]["tool_calls"][0]["function"]["name"],
            "weather"
        );
        assert_eq!(sent[4].body["messages"][2]["role"], "tool");
        assert_eq!(sent[5].body["response_format"]["type"], "json_schema");
        assert_eq!(
            sent[6].body["messages"][0]["content"][1]["type"],
            "image_url"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn conformance_azure() {
    let fake = Fake::start(openai_conformance_replies()).await;
    let reg = format!(
        "[[providers]]\nid = \"azure\"\nkind = \"azure\"\nbase_url = \"http://{}\"\n\n",
        fake.addr
    ) + &model("azure/m", &[("azure", "deployment")], &[]);
    let app = TestApp::spawn(&reg).await;
    if conformance(&app, "azure/m").await {
        assert!(fake
            .received()
            .iter()
            .all(|r| r.path == "/openai/v1/chat/completions"));
    }
    app.stop().await;
}

#[tokio::test]
async fn conformance_anthropic() {
    use crate::fake_anthropic::{FakeAnthropic, Reply as A};
    let schema_answer = A::message(
        serde_json::json!([{"type": "text", "text": r#"{"city":"Florence","country":"Italy"}"#}]),
        "end_turn",
    );
    let fake = FakeAnthropic::start(vec![
        A::recorded("simple.json"),
        A::recorded_stream("simple_streaming.sse"),
        A::recorded_stream("simple_streaming.sse"),
        A::recorded("tool.json"),
        A::recorded("tool_result.json"),
        schema_answer,
        A::recorded("simple.json"),
        A::recorded_stream("tool_streaming.sse"),
    ])
    .await;
    let app = TestApp::spawn(
        &(fake.provider("anthropic") + &model("anthropic/m", &[("anthropic", "claude-x")], &[])),
    )
    .await;
    if conformance(&app, "anthropic/m").await {
        let sent = fake.received();
        assert_eq!(sent.len(), 8);
        // The tool round trip became tool_use / tool_result blocks.
        let turns = &sent[4].body["messages"];
        assert_eq!(turns[1]["content"][0]["type"], "tool_use");
        assert_eq!(turns[2]["content"][0]["type"], "tool_result");
        assert_eq!(
            sent[5].body["output_config"]["format"]["type"],
            "json_schema"
        );
        assert_eq!(sent[6].body["messages"][0]["content"][1]["type"], "image");
    }
    app.stop().await;
}

#[tokio::test]
async fn conformance_gemini() {
    use crate::fake_gemini::{FakeGemini, Reply as G};
    let schema_answer = serde_json::json!({
        "candidates": [{"content": {"parts": [{"text": r#"{"city":"Florence","country":"Italy"}"#}], "role": "model"},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 8, "totalTokenCount": 18},
        "modelVersion": "gemini-2.5-flash", "responseId": "resp-schema"
    });
    let fake = FakeGemini::start(vec![
        G::json_fixture("simple.json"),
        G::sse_fixture("simple_streaming.sse"),
        G::sse_fixture("simple_streaming.sse"),
        G::json_fixture("tool.json"),
        G::json_fixture("tool_result.json"),
        G::Json(schema_answer.to_string()),
        G::json_fixture("simple.json"),
        G::sse_fixture("tool_streaming.sse"),
    ])
    .await;
    // A variable only this test reads.
    std::env::set_var("SWITCHYARD_TEST_GEMINI_KEY_SDK", crate::fake_gemini::KEY);
    let reg = format!(
        "[[providers]]\nid = \"google\"\nkind = \"gemini\"\nbase_url = \"{}\"\napi_key_env = \"SWITCHYARD_TEST_GEMINI_KEY_SDK\"\n\n",
        fake.base_url(),
    ) + &model("google/m", &[("google", "gemini-2.5-flash")], &[]);
    let app = TestApp::spawn(&reg).await;
    if conformance(&app, "google/m").await {
        let sent = fake.received();
        assert_eq!(sent.len(), 8);
        let turns = &sent[4].body["contents"];
        assert!(turns[1]["parts"][0]["functionCall"].is_object());
        assert_eq!(turns[2]["parts"][0]["functionResponse"]["name"], "weather");
        assert_eq!(
            sent[5].body["generationConfig"]["responseMimeType"],
            "application/json"
        );
        assert!(sent[6].body["contents"][0]["parts"][1]["inlineData"].is_object());
    }
    app.stop().await;
}

#[tokio::test]
async fn conformance_bedrock() {
    use crate::fake_bedrock::{recorded_frames, text_frames, FakeBedrock, Reply as B};
    use serde_json::json;
    let fake = FakeBedrock::start(vec![
        B::message(json!([{"text": "Olá!"}]), "end_turn"),
        B::Stream(text_frames(&["Ol", "á!"], "end_turn")),
        B::Stream(text_frames(&["Ol", "á!"], "end_turn")),
        B::message(
            json!([{"toolUse": {"toolUseId": "tooluse_1", "name": "weather", "input": {"location": "Florence, Italy"}}}]),
            "tool_use",
        ),
        B::message(json!([{"text": "It is 40 C and sunny in Florence."}]), "end_turn"),
        B::message(
            json!([{"toolUse": {"toolUseId": "j", "name": "json_response", "input": {"city": "Florence", "country": "Italy"}}}]),
            "tool_use",
        ),
        B::message(json!([{"text": "A single pixel."}]), "end_turn"),
        B::Stream(recorded_frames("invoke_tool_call_streaming.bin")),
    ])
    .await;
    let reg = fake.provider("bedrock")
        + &model(
            "aws/claude",
            &[("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0")],
            &[],
        );
    let app = TestApp::spawn(&reg).await;
    if conformance(&app, "aws/claude").await {
        let sent = fake.received();
        assert_eq!(sent.len(), 8);
        let turns = &sent[4].body["messages"];
        assert!(turns[1]["content"][0]["toolUse"].is_object());
        assert!(turns[2]["content"][0]["toolResult"].is_object());
        assert_eq!(
            sent[5].body["toolConfig"]["toolChoice"]["tool"]["name"],
            "json_response"
        );
        assert!(sent[6].body["messages"][0]["content"][1]["image"].is_object());
    }
    app.stop().await;
}

/// A gateway with keys on, a key allowed 2 requests a minute and a key with a budget of 0.
async fn limits_app() -> (TestApp, String, String) {
    let json = Fake::start(vec![Reply::simple()]).await;
    let reg = provider("fake", &json.base_url()) + &model("test/json", &[("fake", "up")], &[]);
    let app = TestApp::spawn_with(
        &reg,
        Opts {
            require_keys: true,
            ..Default::default()
        },
    )
    .await;
    let mut keys = Vec::new();
    for body in [
        serde_json::json!({"name": "rpm", "rpm": 2}),
        serde_json::json!({"name": "broke", "budget_usd": 0}),
    ] {
        let v: serde_json::Value = app
            .admin(reqwest::Method::POST, "/admin/keys", Some(body))
            .await
            .json()
            .await
            .unwrap();
        keys.push(v["key"].as_str().unwrap().to_owned());
    }
    let budget = keys.pop().unwrap();
    (app, keys.pop().unwrap(), budget)
}

#[tokio::test]
async fn official_sdks_see_rate_limits_and_budgets() {
    let python = std::env::var("SWITCHYARD_TEST_PYTHON");
    let node = std::env::var("SWITCHYARD_TEST_NODE_MODULES");
    if python.is_err() && node.is_err() {
        eprintln!(
            "skipping: neither SWITCHYARD_TEST_PYTHON nor SWITCHYARD_TEST_NODE_MODULES is set"
        );
        return;
    }
    if let Ok(python) = python {
        let (app, rpm, budget) = limits_app().await;
        let mut cmd = Command::new(python);
        cmd.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/sdk/limits_sdk.py"
        ))
        .env("SWITCHYARD_RPM_KEY", rpm)
        .env("SWITCHYARD_BUDGET_KEY", budget);
        run_script(cmd, &app).await;
        app.stop().await;
    }
    if let Ok(modules) = node {
        let (app, rpm, budget) = limits_app().await;
        let mut cmd = Command::new("node");
        cmd.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/sdk/limits_sdk.cjs"
        ))
        .env("NODE_PATH", modules)
        .env("SWITCHYARD_RPM_KEY", rpm)
        .env("SWITCHYARD_BUDGET_KEY", budget);
        run_script(cmd, &app).await;
        app.stop().await;
    }
}

#[tokio::test]
async fn official_anthropic_python_sdk() {
    use crate::fake_anthropic::{text_events, FakeAnthropic, Reply as AReply};
    let Ok(python) = std::env::var("SWITCHYARD_TEST_PYTHON") else {
        eprintln!("skipping: SWITCHYARD_TEST_PYTHON is not set");
        return;
    };
    let claude_json = FakeAnthropic::start(vec![AReply::message(
        serde_json::json!([{"type": "text", "text": "Olá!"}]),
        "end_turn",
    )])
    .await;
    let claude_stream =
        FakeAnthropic::start(vec![AReply::Sse(text_events(&["Hel", "lo"], "end_turn"))]).await;
    let gpt_json = Fake::start(vec![Reply::simple()]).await;
    let gpt_stream = Fake::start(vec![Reply::simple_stream()]).await;
    let gpt_tools = Fake::start(vec![
        Reply::Json(fixture("openai/tool.json")),
        Reply::Json(fixture("openai/tool_answer.json")),
    ])
    .await;
    let reg = claude_json.provider("claude-json")
        + &claude_stream.provider("claude-stream")
        + &provider("gpt-json", &gpt_json.base_url())
        + &provider("gpt-stream", &gpt_stream.base_url())
        + &provider("gpt-tools", &gpt_tools.base_url())
        + &model("test/claude-json", &[("claude-json", "claude-up")], &[])
        + &model("test/claude-stream", &[("claude-stream", "claude-up")], &[])
        + &model("test/gpt-json", &[("gpt-json", "up")], &[])
        + &model("test/gpt-stream", &[("gpt-stream", "up")], &[])
        + &model("test/gpt-tools", &[("gpt-tools", "up")], &[]);
    let app = TestApp::spawn(&reg).await;
    let mut cmd = Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sdk/anthropic_sdk.py"
    ));
    cmd.env("SWITCHYARD_BASE_URL", app.url(""));
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("the SDK script runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("all SDK checks passed"),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The tool result reached the OpenAI-shaped upstream as a tool message.
    let sent = gpt_tools.received();
    assert_eq!(sent[1].body["messages"][2]["role"], "tool");
    app.stop().await;
}

/// Fakes for the Responses SDK scripts: JSON, stream, a tool round trip, json_schema.
async fn responses_app() -> TestApp {
    let mut schema_answer: serde_json::Value =
        serde_json::from_str(&fixture("openai/simple.json")).unwrap();
    schema_answer["choices"][0]["message"]["content"] =
        r#"{"city":"Florence","country":"Italy"}"#.into();
    let json = Fake::start(vec![Reply::simple()]).await;
    let stream = Fake::start(vec![Reply::simple_stream()]).await;
    let tools = Fake::start(vec![
        Reply::Json(fixture("openai/tool.json")),
        Reply::Json(fixture("openai/tool_answer.json")),
    ])
    .await;
    let schema = Fake::start(vec![Reply::Json(schema_answer.to_string())]).await;
    // The SDK sends `encoding_format: base64` unless told otherwise: answer each as asked.
    let floats = [0.1f32, -0.2, 0.3];
    let b64 = |v: &[f32]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .encode(v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>())
    };
    let embed = Fake::start(vec![
        Reply::Json(
            serde_json::json!({"object": "list", "model": "emb-up",
            "data": [{"object": "embedding", "index": 0, "embedding": b64(&floats)},
                     {"object": "embedding", "index": 1, "embedding": b64(&[0.4, 0.5, -0.6])}],
            "usage": {"prompt_tokens": 8, "total_tokens": 8}})
            .to_string(),
        ),
        Reply::Json(
            serde_json::json!({"object": "list", "model": "emb-up",
            "data": [{"object": "embedding", "index": 0, "embedding": b64(&floats)}],
            "usage": {"prompt_tokens": 2, "total_tokens": 2}})
            .to_string(),
        ),
    ])
    .await;
    let instruct = Fake::start(vec![Reply::Json(serde_json::json!({"id": "cmpl-1", "object": "text_completion",
        "created": 1, "model": "up", "choices": [{"text": " upon a time", "index": 0, "logprobs": null, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6}}).to_string())])
    .await;
    let reg = provider("embed", &embed.base_url())
        + &provider("instruct", &instruct.base_url())
        + &model("test/embed", &[("embed", "emb-up")], &[]).replacen(
            "[[models]]\n",
            "[[models]]\nkind = \"embedding\"\n",
            1,
        )
        + &model("test/instruct", &[("instruct", "up")], &[])
        + &provider("json", &json.base_url())
        + &provider("stream", &stream.base_url())
        + &provider("tools", &tools.base_url())
        + &provider("schema", &schema.base_url())
        + &model("test/json", &[("json", "up")], &[])
        + &model("test/stream", &[("stream", "up")], &[])
        + &model("test/tools", &[("tools", "up")], &[])
        + &model("test/schema", &[("schema", "up")], &[]);
    TestApp::spawn(&reg).await
}

#[tokio::test]
async fn official_python_sdk_responses() {
    let Ok(python) = std::env::var("SWITCHYARD_TEST_PYTHON") else {
        eprintln!("skipping: SWITCHYARD_TEST_PYTHON is not set");
        return;
    };
    let app = responses_app().await;
    let mut cmd = Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sdk/responses_sdk.py"
    ));
    run_script(cmd, &app).await;
    app.stop().await;
}

#[tokio::test]
async fn official_node_sdk_responses() {
    let Ok(modules) = std::env::var("SWITCHYARD_TEST_NODE_MODULES") else {
        eprintln!("skipping: SWITCHYARD_TEST_NODE_MODULES is not set");
        return;
    };
    let app = responses_app().await;
    let mut cmd = Command::new("node");
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sdk/responses_sdk.cjs"
    ))
    .env("NODE_PATH", modules);
    run_script(cmd, &app).await;
    app.stop().await;
}
