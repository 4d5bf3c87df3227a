//! OpenRouter's catalog under `/api/v1`: models (filters, `?all=true`, pages), count, a
//! model's endpoints, providers, 404s, a key's allowed models and admin edits of the catalog
//! fields. Every answer is checked against OpenRouter's own response schemas.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::schema::Schemas;

fn reg() -> String {
    r#"
[[providers]]
id = "mock"
kind = "mock"
name = "Mock"
privacy_policy_url = "https://example.com/privacy"
status_page_url = "https://status.example.com"

[[providers]]
id = "fake"
kind = "openai"
base_url = "http://127.0.0.1:9/v1"

[[providers]]
id = "off"
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "SWITCHYARD_TEST_CATALOG_UNSET_KEY"

[[models]]
slug = "mock/echo"
name = "Echo"
aliases = ["echo"]
description = "Says back what it was told."
input_modalities = ["text", "image"]
tokenizer = "GPT"
context_length = 4096
max_completion_tokens = 1024
supported_parameters = ["temperature", "tools", "tool_choice"]
[[models.endpoints]]
provider = "mock"
upstream_model = "e"
input_price = 3.0
output_price = 15.0
quantization = "fp8"
context_length = 2048
max_completion_tokens = 512
[[models.endpoints]]
provider = "fake"
upstream_model = "e"
input_price = 0.5
output_price = 1.5
cache_read_price = 0.05
request_price = 0.001

[[models]]
slug = "other/plain"
supported_parameters = ["temperature"]
context_length = 1000
[[models.endpoints]]
provider = "fake"
upstream_model = "p"
input_price = 2.0
output_price = 8.0

[[models]]
slug = "acme/dark"
description = "No active provider serves it."
[[models.endpoints]]
provider = "off"
upstream_model = "d"

[[models]]
slug = "acme/embed"
kind = "embedding"
[[models.endpoints]]
provider = "mock"
upstream_model = "m"
input_price = 0.02
"#
    .to_owned()
}

async fn get(app: &TestApp, path: &str, key: Option<&str>) -> (u16, Value) {
    let mut rb = app.client.get(app.url(path));
    if let Some(k) = key {
        rb = rb.bearer_auth(k);
    }
    json_of(rb.send().await.unwrap()).await
}

/// The listed ids, after checking the answer against OpenRouter's schema.
async fn ids(app: &TestApp, schemas: &Schemas, query: &str) -> Vec<String> {
    let (status, body) = get(app, &format!("/api/v1/models{query}"), None).await;
    assert_eq!(status, 200, "{body}");
    schemas.check("models", &body);
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn models_list_in_openrouter_shape() {
    let schemas = Schemas::load();
    let app = TestApp::spawn(&reg()).await;
    let (status, body) = get(&app, "/api/v1/models", None).await;
    assert_eq!(status, 200);
    schemas.check("models", &body);
    assert_eq!(body["total_count"], 2);
    assert_eq!(body["links"]["next"], Value::Null);
    let m = &body["data"][0];
    assert_eq!(m["id"], "mock/echo");
    assert_eq!(m["canonical_slug"], "mock/echo");
    assert_eq!(m["name"], "Echo");
    assert_eq!(m["description"], "Says back what it was told.");
    assert!(m["created"].as_i64().unwrap() > 1_600_000_000);
    assert_eq!(m["context_length"], 4096);
    assert_eq!(m["architecture"]["modality"], "text+image->text");
    assert_eq!(
        m["architecture"]["input_modalities"],
        json!(["text", "image"])
    );
    assert_eq!(m["architecture"]["output_modalities"], json!(["text"]));
    assert_eq!(m["architecture"]["tokenizer"], "GPT");
    // The cheapest endpoint that can serve prices the entry.
    assert_eq!(
        m["pricing"],
        json!({"prompt": "0.0000005", "completion": "0.0000015", "request": "0.001",
               "image": "0", "web_search": "0", "internal_reasoning": "0.0000015",
               "input_cache_read": "0.00000005", "input_cache_write": "0.0000005"})
    );
    assert_eq!(
        m["top_provider"],
        json!({"context_length": 4096, "max_completion_tokens": 1024, "is_moderated": false})
    );
    assert_eq!(m["links"]["details"], "/api/v1/models/mock/echo/endpoints");
    assert_eq!(m["per_request_limits"], Value::Null);
    assert_eq!(m["default_parameters"], Value::Null);
    let plain = &body["data"][1];
    assert_eq!(plain["id"], "other/plain");
    assert_eq!(plain["name"], "other/plain");
    assert_eq!(plain["description"], "");
    assert_eq!(plain["architecture"]["tokenizer"], "Other");
    assert_eq!(plain["architecture"]["instruct_type"], Value::Null);

    // /v1 keeps OpenAI's list shape.
    let (_, openai) = get(&app, "/v1/models", None).await;
    assert_eq!(openai["object"], "list");
    assert_eq!(openai["data"][0]["object"], "model");
    // One model, as OpenRouter's getModel answers.
    let (status, one) = get(&app, "/api/v1/model/mock/echo", None).await;
    assert_eq!(status, 200);
    schemas.check(
        "models",
        &json!({"data": [one["data"]], "total_count": 1, "links": {"next": null}}),
    );
    assert_eq!(one["data"]["id"], "mock/echo");
    app.stop().await;
}

#[tokio::test]
async fn models_all_modalities_and_filters() {
    let schemas = Schemas::load();
    let app = TestApp::spawn(&reg()).await;
    let s = &schemas;
    assert_eq!(ids(&app, s, "").await, ["mock/echo", "other/plain"]);
    assert_eq!(
        ids(&app, s, "?all=true").await,
        ["acme/dark", "mock/echo", "other/plain"]
    );
    assert_eq!(
        ids(&app, s, "?output_modalities=embeddings").await,
        ["acme/embed"]
    );
    assert_eq!(
        ids(&app, s, "?output_modalities=all").await,
        ["acme/embed", "mock/echo", "other/plain"]
    );
    assert_eq!(
        ids(&app, s, "?output_modalities=all&all=true").await.len(),
        4
    );
    assert_eq!(
        ids(&app, s, "?supported_parameters=tools,temperature").await,
        ["mock/echo"]
    );
    assert_eq!(ids(&app, s, "?input_modalities=image").await, ["mock/echo"]);
    assert_eq!(ids(&app, s, "?q=PLAIN").await, ["other/plain"]);
    assert_eq!(
        ids(&app, s, "?model_authors=other,acme").await,
        ["other/plain"]
    );
    assert_eq!(ids(&app, s, "?providers=mock").await, ["mock/echo"]);
    assert_eq!(ids(&app, s, "?providers=off&all=true").await, ["acme/dark"]);
    assert_eq!(ids(&app, s, "?context=2000").await, ["mock/echo"]);
    assert_eq!(ids(&app, s, "?min_price=1").await, ["other/plain"]);
    assert_eq!(ids(&app, s, "?max_output_price=2").await, ["mock/echo"]);
    assert_eq!(
        ids(&app, s, "?sort=pricing-high-to-low").await,
        ["other/plain", "mock/echo"]
    );
    assert_eq!(
        ids(&app, s, "?sort=context-high-to-low").await,
        ["mock/echo", "other/plain"]
    );
    // Parameters the registry has no data for are ignored.
    assert_eq!(
        ids(&app, s, "?category=programming&use_rss=false")
            .await
            .len(),
        2
    );

    let (_, page) = get(&app, "/api/v1/models?limit=1", None).await;
    schemas.check("models", &page);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["total_count"], 2);
    assert_eq!(page["links"]["next"], "/api/v1/models?offset=1&limit=1");
    let (_, last) = get(&app, "/api/v1/models?offset=1&limit=1", None).await;
    assert_eq!(last["data"][0]["id"], "other/plain");
    assert_eq!(last["links"]["next"], Value::Null);

    let (status, bad) = get(&app, "/api/v1/models?limit=5000", None).await;
    assert_eq!(status, 400);
    assert_eq!(bad["error"]["code"], 400);

    let (status, count) = get(&app, "/api/v1/models/count", None).await;
    assert_eq!(status, 200);
    schemas.check("count", &count);
    assert_eq!(count, json!({"data": {"count": 2}}));
    let (_, count) = get(&app, "/api/v1/models/count?output_modalities=all", None).await;
    assert_eq!(count["data"]["count"], 3);
    app.stop().await;
}

#[tokio::test]
async fn endpoints_of_a_model_and_404s() {
    let schemas = Schemas::load();
    let app = TestApp::spawn(&reg()).await;
    let (status, body) = get(&app, "/api/v1/models/mock/echo/endpoints", None).await;
    assert_eq!(status, 200, "{body}");
    schemas.check("endpoints", &body);
    let d = &body["data"];
    assert_eq!(d["id"], "mock/echo");
    assert_eq!(d["name"], "Echo");
    assert_eq!(d["architecture"]["tokenizer"], "GPT");
    let eps = d["endpoints"].as_array().unwrap();
    assert_eq!(eps.len(), 2);
    assert_eq!(eps[0]["name"], "Mock: Echo");
    assert_eq!(eps[0]["provider_name"], "Mock");
    assert_eq!(eps[0]["tag"], "mock");
    assert_eq!(eps[0]["quantization"], "fp8");
    assert_eq!(eps[0]["context_length"], 2048);
    assert_eq!(eps[0]["max_completion_tokens"], 512);
    assert_eq!(eps[0]["pricing"]["prompt"], "0.000003");
    assert_eq!(eps[0]["status"], 0);
    assert_eq!(eps[0]["uptime_last_30m"], Value::Null);
    assert_eq!(eps[0]["supports_tool_choice"]["auto"], true);
    assert_eq!(eps[1]["tag"], "fake");
    assert_eq!(eps[1]["quantization"], Value::Null);
    assert_eq!(eps[1]["context_length"], 4096);
    assert_eq!(eps[1]["max_completion_tokens"], 1024);

    // An alias names the model; a model no active provider serves has no endpoints.
    let (_, alias) = get(&app, "/api/v1/models/echo/endpoints", None).await;
    assert_eq!(alias["data"]["id"], "mock/echo");
    let (status, dark) = get(&app, "/api/v1/models/acme/dark/endpoints", None).await;
    assert_eq!(status, 200);
    schemas.check("endpoints", &dark);
    assert_eq!(dark["data"]["endpoints"], json!([]));

    for path in [
        "/api/v1/models/nope/missing/endpoints",
        "/api/v1/model/nope/missing",
    ] {
        let (status, err) = get(&app, path, None).await;
        assert_eq!(status, 404, "{path}");
        schemas.check("not_found", &err);
        assert_eq!(err["error"]["code"], 404);
    }
    // Without the suffix the path is still the one model, as under /v1.
    let (status, one) = get(&app, "/api/v1/models/mock/echo", None).await;
    assert_eq!(status, 200);
    assert_eq!(one["id"], "mock/echo");
    app.stop().await;
}

#[tokio::test]
async fn providers_list() {
    let schemas = Schemas::load();
    let app = TestApp::spawn(&reg()).await;
    let (status, body) = get(&app, "/api/v1/providers", None).await;
    assert_eq!(status, 200);
    schemas.check("providers", &body);
    assert_eq!(
        body["data"],
        json!([
            {"name": "fake", "slug": "fake", "privacy_policy_url": null,
             "terms_of_service_url": null, "status_page_url": null},
            {"name": "Mock", "slug": "mock", "privacy_policy_url": "https://example.com/privacy",
             "terms_of_service_url": null, "status_page_url": "https://status.example.com"},
        ])
    );
    let (_, all) = get(&app, "/api/v1/providers?all=true", None).await;
    schemas.check("providers", &all);
    assert_eq!(all["data"].as_array().unwrap().len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn a_key_sees_only_its_models() {
    let app = TestApp::spawn_with(
        &reg(),
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
            Some(json!({"name": "narrow", "allowed_models": ["mock/*"]})),
        )
        .await;
    let key = resp.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, body) = get(&app, "/api/v1/models", Some(&key)).await;
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["mock/echo"]);
    let (_, count) = get(&app, "/api/v1/models/count", Some(&key)).await;
    assert_eq!(count["data"]["count"], 1);
    let (status, _) = get(&app, "/api/v1/models/other/plain/endpoints", Some(&key)).await;
    assert_eq!(status, 404);
    let (status, _) = get(&app, "/api/v1/models/mock/echo/endpoints", Some(&key)).await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test]
async fn admin_edits_the_catalog_fields() {
    let schemas = Schemas::load();
    let app = TestApp::spawn(&reg()).await;
    let resp = app
        .admin(
            Method::PATCH,
            "/admin/models/other/plain",
            Some(
                json!({"description": "Plain.", "output_modalities": ["text", "image"],
                        "tokenizer": "Llama3", "instruct_type": "llama3",
                        "max_completion_tokens": 256, "hugging_face_id": "other/plain-hf"}),
            ),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = app
        .admin(
            Method::POST,
            "/admin/endpoints",
            Some(
                json!({"model": "other/plain", "provider": "fake", "upstream_model": "p",
                        "input_price": 2.0, "output_price": 8.0, "quantization": "bf16",
                        "context_length": 800}),
            ),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let (_, body) = get(&app, "/api/v1/models?q=plain", None).await;
    schemas.check("models", &body);
    let m = &body["data"][0];
    assert_eq!(m["description"], "Plain.");
    assert_eq!(m["architecture"]["modality"], "text->text+image");
    assert_eq!(m["architecture"]["instruct_type"], "llama3");
    assert_eq!(m["hugging_face_id"], "other/plain-hf");
    assert_eq!(m["top_provider"]["context_length"], 800);
    assert_eq!(m["top_provider"]["max_completion_tokens"], 256);
    let (_, eps) = get(&app, "/api/v1/models/other/plain/endpoints", None).await;
    schemas.check("endpoints", &eps);
    assert_eq!(eps["data"]["endpoints"][0]["quantization"], "bf16");

    // null clears; a field left out is kept; names OpenRouter does not know are refused.
    let resp = app
        .admin(
            Method::PATCH,
            "/admin/models/other/plain",
            Some(json!({"description": null})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let (_, body) = get(&app, "/api/v1/models?q=plain", None).await;
    assert_eq!(body["data"][0]["description"], "");
    assert_eq!(body["data"][0]["architecture"]["tokenizer"], "Llama3");
    for bad in [
        json!({"output_modalities": ["smell"]}),
        json!({"input_modalities": ["embeddings"]}),
    ] {
        let resp = app
            .admin(Method::PATCH, "/admin/models/other/plain", Some(bad))
            .await;
        assert_eq!(resp.status(), 400);
    }
    let resp = app
        .admin(
            Method::POST,
            "/admin/endpoints",
            Some(
                json!({"model": "other/plain", "provider": "fake", "upstream_model": "p",
                        "quantization": "q3"}),
            ),
        )
        .await;
    assert_eq!(resp.status(), 400);
    // The enabled-only PATCH still works.
    let resp = app
        .admin(
            Method::PATCH,
            "/admin/models/other/plain",
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let (status, _) = get(&app, "/api/v1/models/other/plain/endpoints", None).await;
    assert_eq!(status, 404);
    app.stop().await;
}
