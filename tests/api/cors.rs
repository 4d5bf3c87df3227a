//! CORS for browser apps: only configured origins, only the public API, errors included.

use reqwest::{Method, Response};
use serde_json::json;

use crate::helpers::*;

const APP: &str = "https://app.example.com";

fn registry() -> String {
    "[[providers]]\nid = \"mock\"\nkind = \"mock\"\n\n".to_owned()
        + &model("m/echo", &[("mock", "echo")], &[])
}

async fn spawn(cors: Option<&str>, require_keys: bool) -> TestApp {
    TestApp::spawn_with(
        &registry(),
        Opts {
            require_keys,
            server: cors
                .map(|c| format!("cors_origins = {c}\n"))
                .unwrap_or_default(),
            ..Opts::default()
        },
    )
    .await
}

/// A browser's preflight for a POST with the headers OpenAI's and OpenRouter's SDKs send.
async fn preflight(app: &TestApp, path: &str, origin: &str) -> Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,http-referer,x-title,x-stainless-os,x-stainless-retry-count,openai-organization",
        )
        .send()
        .await
        .unwrap()
}

fn header<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).map(|v| v.to_str().unwrap())
}

fn no_cors_headers(resp: &Response) {
    let cors: Vec<_> = resp
        .headers()
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "{} {cors:?}", resp.status());
}

#[tokio::test]
async fn preflights_from_allowed_origins_are_answered_without_a_key() {
    let app = spawn(Some(&format!("[\"{APP}\"]")), true).await;
    for path in [
        "/v1/chat/completions",
        "/api/v1/chat/completions",
        "/v1/messages",
        "/v1/responses",
        "/v1/embeddings",
        "/v1/models",
        "/api/v1/key",
    ] {
        let resp = preflight(&app, path, APP).await;
        assert_eq!(resp.status(), 204, "{path}");
        assert_eq!(header(&resp, "access-control-allow-origin"), Some(APP));
        let allowed = header(&resp, "access-control-allow-headers").unwrap();
        for h in [
            "authorization",
            "content-type",
            "http-referer",
            "x-title",
            "x-stainless-os",
            "openai-organization",
        ] {
            assert!(allowed.contains(h), "{h} in {allowed}");
        }
        let methods = header(&resp, "access-control-allow-methods").unwrap();
        assert!(
            methods.contains("POST") && methods.contains("GET"),
            "{methods}"
        );
        assert!(header(&resp, "access-control-max-age").is_some());
        assert!(header(&resp, "access-control-allow-credentials").is_none());
    }

    // Anthropic's browser SDK.
    let resp = app
        .client
        .request(Method::OPTIONS, app.url("/v1/messages"))
        .header("origin", APP)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "x-api-key,anthropic-version,anthropic-beta,anthropic-dangerous-direct-browser-access,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let allowed = header(&resp, "access-control-allow-headers").unwrap();
    assert!(
        allowed.contains("anthropic-dangerous-direct-browser-access")
            && allowed.contains("x-api-key"),
        "{allowed}"
    );
}

#[tokio::test]
async fn other_origins_and_the_admin_api_get_no_cors_headers() {
    let app = spawn(Some(&format!("[\"{APP}\"]")), true).await;
    for origin in [
        "https://evil.example.com",
        "https://app.example.com.evil.example",
        "null",
    ] {
        let resp = preflight(&app, "/v1/chat/completions", origin).await;
        assert_ne!(resp.status(), 204, "{origin}");
        no_cors_headers(&resp);
        let resp = app
            .client
            .get(app.url("/v1/models"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        no_cors_headers(&resp);
    }
    // The admin API is never cross-origin, even for an allowed origin.
    let resp = preflight(&app, "/admin/keys", APP).await;
    assert_ne!(resp.status(), 204);
    no_cors_headers(&resp);
    let resp = app
        .client
        .get(app.url("/admin/keys"))
        .bearer_auth(MASTER)
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    no_cors_headers(&resp);
}

#[tokio::test]
async fn without_configured_origins_there_is_no_cors_at_all() {
    let app = spawn(None, false).await;
    let resp = preflight(&app, "/v1/chat/completions", APP).await;
    assert_ne!(resp.status(), 204);
    no_cors_headers(&resp);
    let resp = app
        .client
        .post(app.url("/v1/chat/completions"))
        .header("origin", APP)
        .json(&json!({"model": "m/echo", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    no_cors_headers(&resp);
}

#[tokio::test]
async fn answers_and_errors_carry_the_allowed_origin() {
    let app = spawn(
        Some(&format!("[\"{APP}\", \"http://localhost:5173\"]")),
        true,
    )
    .await;
    let get = |path: &'static str| app.client.get(app.url(path)).header("origin", APP).send();
    let resp = get("/v1/models").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(APP));
    let exposed = header(&resp, "access-control-expose-headers").unwrap();
    for h in [
        "x-request-id",
        "x-generation-id",
        "x-ratelimit-remaining-requests",
        "retry-after",
        "x-switchyard-provider",
    ] {
        assert!(exposed.contains(h), "{h} in {exposed}");
    }
    assert!(header(&resp, "vary").is_some_and(|v| v.contains("origin")));

    // Errors too: a browser app cannot read them otherwise.
    let resp = app
        .client
        .post(app.url("/api/v1/chat/completions"))
        .header("origin", APP)
        .json(&json!({"model": "m/echo", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(APP));
    let resp = get("/v1/no-such-route").await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(APP));
    assert!(header(&resp, "x-request-id").is_some());
}

#[tokio::test]
async fn a_star_allows_every_origin() {
    let app = spawn(Some("\"*\""), false).await;
    let resp = preflight(&app, "/v1/chat/completions", "http://localhost:3000").await;
    assert_eq!(resp.status(), 204);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some("*"));
    let resp = app
        .client
        .post(app.url("/v1/chat/completions"))
        .header("origin", "https://anywhere.example")
        .json(&json!({"model": "m/echo", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some("*"));
    // Requests without an Origin (servers, curl) are served as before.
    let resp = app
        .chat(json!({"model": "m/echo", "messages": user("hi")}))
        .await;
    assert_eq!(resp.status(), 200);
    no_cors_headers(&resp);
}
