//! `/v1/models` and `/v1/health`, under both prefixes.

use serde_json::Value;

use crate::helpers::*;

fn reg() -> String {
    "[[providers]]\nid = \"mock\"\nkind = \"mock\"\n\n".to_owned()
        + "[[models]]\nslug = \"mock/echo\"\nname = \"Echo\"\naliases = [\"echo\"]\ncontext_length = 4096\n\
           supported_parameters = [\"temperature\"]\n[[models.endpoints]]\nprovider = \"mock\"\nupstream_model = \"e\"\n\
           input_price = 0.15\noutput_price = 0.6\n"
}

#[tokio::test]
async fn models_list_is_openai_shaped_with_openrouter_details() {
    let app = TestApp::spawn(&reg()).await;
    // `/api/v1/models` is OpenRouter's catalog (tests/api/catalog.rs).
    for prefix in ["/v1"] {
        let body: Value = app
            .client
            .get(app.url(&format!("{prefix}/models")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["object"], "list");
        let m = &body["data"][0];
        assert_eq!(m["id"], "mock/echo");
        assert_eq!(m["object"], "model");
        assert!(m["created"].as_i64().unwrap() > 1_600_000_000);
        assert_eq!(m["owned_by"], "mock");
        assert_eq!(m["context_length"], 4096);
        assert_eq!(m["pricing"]["prompt"], "0.00000015");
        assert_eq!(m["pricing"]["completion"], "0.0000006");
        assert_eq!(m["supported_parameters"][0], "temperature");
    }
    let one: Value = app
        .client
        .get(app.url("/v1/models/mock/echo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], "mock/echo");
    let alias: Value = app
        .client
        .get(app.url("/api/v1/models/echo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alias["id"], "mock/echo");
    let resp = app
        .client
        .get(app.url("/v1/models/mock/ech"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("mock/echo"));
    app.stop().await;
}

#[tokio::test]
async fn health_reports_database_and_registry() {
    let app = TestApp::spawn(&reg()).await;
    let resp = app.client.get(app.url("/v1/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"]["ok"], true);
    assert_eq!(body["registry"]["models"], 1);
    assert_eq!(
        app.client
            .get(app.url("/api/v1/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The database goes away: health says so (degraded: requests are still served while
    // the request log's queue has room), and chat keeps serving from memory.
    app.store.close().await;
    let resp = app.client.get(app.url("/v1/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["database"]["ok"], false);
    assert_eq!(
        body["database"]["detail"], "unreachable",
        "no database error text"
    );
    let resp = app
        .chat(serde_json::json!({"model": "mock/echo", "messages": user("x")}))
        .await;
    assert_eq!(
        resp.status(),
        200,
        "the hot path does not need the database"
    );
}

#[tokio::test]
async fn models_list_shows_what_can_serve_priced_by_the_cheapest_active_endpoint() {
    // `mock/echo` is served by a dear and a cheap mock endpoint and an inactive cheaper one
    // (its key variable is unset); `test/off` only by the inactive provider.
    let reg = "[[providers]]\nid = \"dear\"\nkind = \"mock\"\n\n\
               [[providers]]\nid = \"cheap\"\nkind = \"mock\"\n\n\
               [[providers]]\nid = \"off\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9\"\napi_key_env = \"SWITCHYARD_TEST_UNSET_KEY\"\n\n\
               [[models]]\nslug = \"mock/echo\"\n\
               [[models.endpoints]]\nprovider = \"dear\"\nupstream_model = \"e\"\ninput_price = 3.0\noutput_price = 15.0\n\
               [[models.endpoints]]\nprovider = \"off\"\nupstream_model = \"e\"\ninput_price = 0.1\noutput_price = 0.1\n\
               [[models.endpoints]]\nprovider = \"cheap\"\nupstream_model = \"e\"\ninput_price = 1.0\noutput_price = 2.0\n\n\
               [[models]]\nslug = \"test/off\"\n[[models.endpoints]]\nprovider = \"off\"\nupstream_model = \"x\"\n";
    let app = TestApp::spawn(reg).await;
    let list = app.get_json("/v1/models", None).await;
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["mock/echo"]);
    let m = &list["data"][0];
    assert_eq!(m["pricing"]["prompt"], "0.000001", "{m}");
    assert_eq!(m["pricing"]["completion"], "0.000002");
    assert_eq!(m["providers"], serde_json::json!(["dear", "cheap"]));

    let all = app.get_json("/v1/models?all=true", None).await;
    let off = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "test/off")
        .expect("listed with ?all=true");
    assert!(
        off["pricing"].is_null(),
        "no active endpoint prices it: {off}"
    );
    let bad = app
        .client
        .get(app.url("/v1/models?all=maybe"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    app.stop().await;
}
