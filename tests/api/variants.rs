//! OpenRouter's model variants through the real server: `:free`, `:floor`, `:nitro`,
//! `:thinking`, and a clear 400 for the ones Switchyard cannot honour, in both dialects.

use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::helpers::*;

/// `test/m` on `paid` ($2/$8 per M) then `free` (no price); `test/think` reasons.
fn registry(paid: &Fake, free: &Fake) -> String {
    provider("paid", &paid.base_url())
        + &provider("free", &free.base_url())
        + "[[models]]\nslug = \"test/m\"\nsupported_parameters = [\"temperature\"]\n\
           [[models.endpoints]]\nprovider = \"paid\"\nupstream_model = \"up-paid\"\ninput_price = 2.0\noutput_price = 8.0\n\
           [[models.endpoints]]\nprovider = \"free\"\nupstream_model = \"up-free\"\n\n"
        + "[[models]]\nslug = \"test/think\"\nsupported_parameters = [\"reasoning\", \"temperature\"]\n\
           [[models.endpoints]]\nprovider = \"paid\"\nupstream_model = \"up-think\"\ninput_price = 1.0\n\n"
}

async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    json_of(app.post(path, body).await).await
}

#[tokio::test]
async fn free_and_floor_choose_the_zero_priced_endpoint() {
    let paid = Fake::start(vec![Reply::simple(); 4]).await;
    let free = Fake::start(vec![Reply::simple(); 4]).await;
    let app = TestApp::spawn(&registry(&paid, &free)).await;

    let (status, v) = post(
        &app,
        "/api/v1/chat/completions",
        json!({"model": "test/m", "messages": user("hi")}),
    )
    .await;
    assert_eq!((status, v["provider"].as_str()), (200, Some("paid")), "{v}");

    for variant in ["free", "floor"] {
        let (status, v) = post(
            &app,
            "/api/v1/chat/completions",
            json!({"model": format!("test/m:{variant}"), "messages": user("hi")}),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["provider"], "free", ":{variant}");
        assert_eq!(v["usage"]["cost"], 0.0, ":{variant}");
    }
    assert_eq!(free.received().len(), 2);
    assert_eq!(free.received()[0].body["model"], "up-free");
    app.stop().await;
}

#[tokio::test]
async fn free_with_no_free_endpoint_is_a_404_with_the_reason() {
    let paid = Fake::start(vec![]).await;
    let free = Fake::start(vec![]).await;
    let app = TestApp::spawn(&registry(&paid, &free)).await;
    let (status, v) = post(
        &app,
        "/api/v1/chat/completions",
        json!({"model": "test/think:free", "messages": user("hi")}),
    )
    .await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["code"], 404);
    assert!(
        v["error"]["message"].as_str().unwrap().contains(":free"),
        "{v}"
    );
    assert!(paid.received().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn thinking_turns_reasoning_on_unless_the_request_says() {
    let paid = Fake::start(vec![Reply::simple(); 2]).await;
    let free = Fake::start(vec![]).await;
    let app = TestApp::spawn(&registry(&paid, &free)).await;
    let (status, v) = post(
        &app,
        "/v1/chat/completions",
        json!({"model": "test/think:thinking", "messages": user("hi")}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, _) = post(
        &app,
        "/v1/chat/completions",
        json!({"model": "test/think:thinking", "reasoning": {"effort": "low"}, "messages": user("hi")}),
    )
    .await;
    assert_eq!(status, 200);
    let got = paid.received();
    assert_eq!(got[0].body["model"], "up-think");
    assert_eq!(got[0].body["reasoning"], json!({"enabled": true}));
    assert_eq!(
        got[1].body["reasoning"],
        json!({"effort": "low"}),
        "the request's own field wins"
    );

    // A model that does not reason: 400 naming the variant, in each dialect.
    let (status, v) = post(
        &app,
        "/v1/chat/completions",
        json!({"model": "test/m:thinking", "messages": user("hi")}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "unsupported_variant");
    assert_eq!(v["error"]["param"], "model");
    // On a door with its own reasoning field the variant points at it.
    let (status, v) = post(
        &app,
        "/v1/responses",
        json!({"model": "test/think:thinking", "input": "hi"}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`reasoning`"),
        "{v}"
    );
    app.stop().await;
}

#[tokio::test]
async fn variants_without_a_meaning_here_are_a_400_naming_them() {
    let paid = Fake::start(vec![]).await;
    let free = Fake::start(vec![]).await;
    let app = TestApp::spawn(&registry(&paid, &free)).await;
    for variant in ["exacto", "online", "extended", "turbo"] {
        let (status, v) = post(
            &app,
            "/api/v1/chat/completions",
            json!({"model": format!("test/m:{variant}"), "messages": user("hi")}),
        )
        .await;
        assert_eq!(status, 400, ":{variant} {v}");
        assert_eq!(v["error"]["code"], 400);
        assert_eq!(v["error"]["metadata"]["error_type"], "invalid_request");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(&format!(":{variant}")), "{msg}");
    }
    // Anthropic's dialect on /v1/messages.
    let (status, v) = post(
        &app,
        "/v1/messages",
        json!({"model": "test/m:exacto", "max_tokens": 10, "messages": user("hi")}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(paid.received().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn nitro_prefers_the_endpoint_measured_fastest() {
    // `paid` answers slowly, `free` at once: after one request through each, `:nitro`
    // (throughput) and `provider.sort = "latency"` both put `free` first.
    let paid = Fake::start(vec![
        Reply::Delayed(
            std::time::Duration::from_millis(400),
            Box::new(Reply::simple())
        );
        12
    ])
    .await;
    let free = Fake::start(vec![Reply::simple(); 12]).await;
    let app = TestApp::spawn(&registry(&paid, &free)).await;
    for only in ["paid", "free"] {
        let (status, v) = post(
            &app,
            "/api/v1/chat/completions",
            json!({"model": "test/m", "provider": {"only": [only]}, "messages": user("hi")}),
        )
        .await;
        assert_eq!(status, 200, "{v}");
    }
    // The writer learns from records as it stores them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, v) = post(
            &app,
            "/api/v1/chat/completions",
            json!({"model": "test/m:nitro", "messages": user("hi")}),
        )
        .await;
        if v["provider"] == "free" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nitro never preferred the fast endpoint: {v}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, v) = post(
        &app,
        "/api/v1/chat/completions",
        json!({"model": "test/m", "provider": {"sort": {"by": "latency", "partition": "none"}}, "messages": user("hi")}),
    )
    .await;
    assert_eq!(v["provider"], "free", "{v}");
    app.stop().await;
}

#[tokio::test]
async fn a_model_without_endpoints_routes_through_its_fallbacks_like_openrouter_auto() {
    let paid = Fake::start(vec![Reply::simple(); 2]).await;
    let free = Fake::start(vec![Reply::simple(); 2]).await;
    let reg = registry(&paid, &free)
        + "[[models]]\nslug = \"openrouter/auto\"\nfallbacks = [\"test/think\", \"test/m\"]\n\n";
    let app = TestApp::spawn(&reg).await;
    let (status, v) = post(
        &app,
        "/api/v1/chat/completions",
        json!({"model": "openrouter/auto", "messages": user("hi")}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["model"], "test/think", "the first candidate that serves");
    // Ranked across candidates by price: test/m's free endpoint wins.
    let (status, v) = post(
        &app,
        "/api/v1/chat/completions",
        json!({"model": "openrouter/auto", "provider": {"sort": {"by": "price", "partition": "none"}}, "messages": user("hi")}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["model"].as_str(), v["provider"].as_str()),
        (Some("test/m"), Some("free"))
    );
    // The catalog shows it only with ?all=true (no active provider serves it directly).
    let list = app.get_json("/api/v1/models?all=true", None).await;
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "openrouter/auto"),
        "{list}"
    );
    app.stop().await;
}
