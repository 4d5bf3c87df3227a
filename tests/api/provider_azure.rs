//! Azure OpenAI: both URL styles, the `api-key` header, and its stream's filter-only preamble.

use serde_json::{json, Value};

use crate::fake::{fixture, Fake, Reply};
use crate::helpers::*;

fn azure(fake: &Fake, api_version: Option<&str>) -> String {
    std::env::set_var("SWITCHYARD_TEST_AZURE_KEY", "azure-resource-key");
    let version = api_version
        .map(|v| format!("api_version = \"{v}\"\n"))
        .unwrap_or_default();
    format!(
        "[[providers]]\nid = \"azure\"\nkind = \"azure\"\nbase_url = \"http://{}\"\napi_key_env = \"SWITCHYARD_TEST_AZURE_KEY\"\n{version}\n",
        fake.addr
    ) + &model("azure/gpt-5-mini", &[("azure", "my-deployment")], &[])
}

#[tokio::test]
async fn v1_api_json_and_stream() {
    let fake = Fake::start(vec![
        Reply::Json(fixture("azure/simple.json")),
        Reply::sse_fixture("azure/simple_streaming.sse"),
    ])
    .await;
    let app = TestApp::spawn(&azure(&fake, None)).await;

    let resp = app
        .chat(json!({"model": "azure/gpt-5-mini", "messages": user("Say hi in Portuguese")}))
        .await;
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Olá!");
    assert_eq!(body["provider"], "azure");
    let sent = &fake.received()[0];
    assert_eq!(sent.path, "/openai/v1/chat/completions");
    assert_eq!(sent.headers["api-key"], "azure-resource-key");
    assert!(
        sent.headers.get("authorization").is_none(),
        "one credential, not two"
    );
    assert_eq!(sent.body["model"], "my-deployment");
    let rec = app.record(&id).await;
    assert_eq!((rec.prompt_tokens, rec.completion_tokens), (19, 76));

    let resp = app
        .chat(json!({"model": "azure/gpt-5-mini", "stream": true, "stream_options": {"include_usage": true}, "messages": user("hi")}))
        .await;
    assert_eq!(resp.status(), 200);
    let events = parse_sse(&resp.text().await.unwrap());
    assert_eq!(content(&events), "Oi!");
    let all = chunks(&events);
    assert!(
        all.iter().all(|c| c.get("prompt_filter_results").is_none()),
        "the filter-only preamble is not forwarded"
    );
    assert!(
        all[0]["choices"][0]["delta"]["role"].is_string(),
        "the role chunk comes first"
    );
    assert!(all.last().unwrap()["usage"]["total_tokens"]
        .as_u64()
        .is_some());
    app.stop().await;
}

#[tokio::test]
async fn classic_deployment_url_with_api_version() {
    let fake = Fake::start(vec![Reply::Json(fixture("azure/simple.json"))]).await;
    let app = TestApp::spawn(&azure(&fake, Some("2024-10-21"))).await;
    let resp = app
        .chat(json!({"model": "azure/gpt-5-mini", "messages": user("hi")}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        fake.received()[0].path,
        "/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21"
    );
    app.stop().await;
}

#[tokio::test]
async fn azure_errors_fall_back_and_map() {
    let throttled = Fake::start(vec![Reply::Status(
        429,
        r#"{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation have exceeded the rate limit."}}"#.into(),
        vec![("retry-after", "3".into())],
    )])
    .await;
    let missing = Fake::start(vec![Reply::Status(
        404,
        r#"{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}"#.into(),
        vec![],
    )])
    .await;
    let app = TestApp::spawn(&azure(&throttled, None)).await;
    let resp = app
        .chat(json!({"model": "azure/gpt-5-mini", "messages": user("hi")}))
        .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
    app.stop().await;

    let app = TestApp::spawn(&azure(&missing, None)).await;
    let resp = app
        .chat(json!({"model": "azure/gpt-5-mini", "messages": user("hi")}))
        .await;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "DeploymentNotFound");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("deployment for this resource does not exist"));
    app.stop().await;
}
