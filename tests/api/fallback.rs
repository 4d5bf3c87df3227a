//! Fallbacks: endpoint order, registry chains, the request's `models` list, provider
//! preferences, and what clients see when nothing serves.

use std::time::Duration;

use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::helpers::*;

#[tokio::test]
async fn transient_failures_fall_back_to_the_next_endpoint() {
    for (what, reply) in [
        ("500", Reply::error(500, "boom")),
        ("503", Reply::error(503, "overloaded")),
        ("529", Reply::error(529, "overloaded")),
        ("429", Reply::error(429, "slow down")),
        ("408", Reply::error(408, "timeout")),
        (
            "401 (our key)",
            Reply::error(401, "Incorrect API key provided"),
        ),
        ("403 (our key)", Reply::error(403, "forbidden")),
        (
            "200 with error body",
            Reply::Json(r#"{"error":{"message":"busy","code":503}}"#.into()),
        ),
        ("200 with junk", Reply::Json("<html>".into())),
    ] {
        let bad = Fake::start(vec![reply]).await;
        let good = Fake::start(vec![Reply::simple()]).await;
        let reg = provider("p1", &bad.base_url())
            + &provider("p2", &good.base_url())
            + &model("test/m", &[("p1", "a"), ("p2", "b")], &[]);
        let app = TestApp::spawn(&reg).await;
        let resp = app
            .chat(json!({"model": "test/m", "messages": user("x")}))
            .await;
        let id = request_id(&resp);
        let (status, body) = json_of(resp).await;
        assert_eq!(status, 200, "{what}: {body}");
        assert_eq!(body["provider"], "p2", "{what}");
        assert_eq!(body["model"], "test/m", "{what}");
        let rec = app.record(&id).await;
        assert_eq!(rec.attempts.len(), 2, "{what}");
        assert_ne!(rec.attempts[0].outcome, "ok", "{what}");
        assert!(rec.attempts[0].error.is_some(), "{what}");
        assert_eq!(rec.attempts[1].outcome, "ok", "{what}");
        app.stop().await;
    }
}

#[tokio::test]
async fn connection_errors_fall_back() {
    let good = Fake::start(vec![Reply::simple()]).await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let reg = provider("down", &format!("http://{closed}/v1"))
        + &provider("up", &good.base_url())
        + &model("test/m", &[("down", "a"), ("up", "b")], &[]);
    let app = TestApp::spawn(&reg).await;
    let (status, body) = json_of(
        app.chat(json!({"model": "test/m", "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!((status, body["provider"].as_str()), (200, Some("up")));
    app.stop().await;
}

#[tokio::test]
async fn registry_fallback_chain_serves_another_model() {
    let bad = Fake::start(vec![Reply::error(503, "down")]).await;
    let good = Fake::start(vec![Reply::simple()]).await;
    let reg = provider("p1", &bad.base_url())
        + &provider("p2", &good.base_url())
        + &model("test/big", &[("p1", "big")], &["test/small"])
        + &model("test/small", &[("p2", "small")], &[]);
    let app = TestApp::spawn(&reg).await;
    let resp = app
        .chat(json!({"model": "test/big", "messages": user("x")}))
        .await;
    let id = request_id(&resp);
    let (status, body) = json_of(resp).await;
    assert_eq!(status, 200);
    assert_eq!(body["model"], "test/small", "the model that served");
    assert_eq!(good.received()[0].body["model"], "small");
    let rec = app.record(&id).await;
    assert_eq!(rec.requested_model.as_deref(), Some("test/big"));
    assert_eq!(rec.served_model.as_deref(), Some("test/small"));
    app.stop().await;
}

#[tokio::test]
async fn request_models_list_sets_the_order() {
    let a = Fake::start(vec![Reply::error(500, "a down")]).await;
    let b = Fake::start(vec![Reply::simple()]).await;
    let c = Fake::start(vec![Reply::simple()]).await;
    let reg = provider("pa", &a.base_url())
        + &provider("pb", &b.base_url())
        + &provider("pc", &c.base_url())
        + &model("test/a", &[("pa", "a")], &["test/c"])
        + &model("test/b", &[("pb", "b")], &[])
        + &model("test/c", &[("pc", "c")], &[]);
    let app = TestApp::spawn(&reg).await;
    let (status, body) = json_of(
        app.chat(json!({"models": ["test/a", "test/b"], "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["model"], "test/b");
    assert_eq!(
        c.calls(),
        0,
        "the registry chain does not apply when the request gives its own order"
    );

    // An unknown name in the list is skipped; since nothing else served (test/a failed), the
    // error says why it was not tried.
    let (status, body) = json_of(
        app.chat(json!({"model": "test/a", "models": ["test/nope"], "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!(status, 502, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("test/a via pa: HTTP 500"), "{message}");
    assert!(
        message.contains("Model `test/nope` does not exist"),
        "{message}"
    );

    // Only unknown names: 404 naming the first.
    let (status, body) = json_of(
        app.chat(json!({"models": ["test/nope", "test/nada"], "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("test/nope"));
    app.stop().await;
}

#[tokio::test]
async fn when_nothing_serves_the_error_names_every_attempt() {
    let a = Fake::start(vec![Reply::error(
        401,
        "Incorrect API key provided: sk-abc",
    )])
    .await;
    let b = Fake::start(vec![Reply::error(503, "overloaded right now")]).await;
    let reg = provider("pa", &a.base_url())
        + &provider("pb", &b.base_url())
        + &model("test/m", &[("pa", "a"), ("pb", "b")], &[]);
    let app = TestApp::spawn(&reg).await;
    let (status, body) = json_of(
        app.chat(json!({"model": "test/m", "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!(status, 502);
    let msg = body["error"]["message"].as_str().unwrap();
    for needle in [
        "pa",
        "HTTP 401",
        "Incorrect API key",
        "API key",
        "pb",
        "HTTP 503",
        "overloaded right now",
    ] {
        assert!(msg.contains(needle), "`{needle}` missing from: {msg}");
    }
    assert_eq!(
        body["error"]["metadata"]["attempts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    app.stop().await;
}

#[tokio::test]
async fn all_rate_limited_is_a_429_with_retry_after() {
    let a = Fake::start(vec![Reply::Status(
        429,
        r#"{"error":{"message":"rate limited","type":"requests","code":"rate_limit_exceeded"}}"#
            .into(),
        vec![("retry-after", "7".into())],
    )])
    .await;
    let reg = provider("pa", &a.base_url()) + &model("test/m", &[("pa", "a")], &[]);
    let app = TestApp::spawn(&reg).await;
    let resp = app
        .chat(json!({"model": "test/m", "messages": user("x")}))
        .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    app.stop().await;
}

#[tokio::test]
async fn upstream_timeouts_are_504() {
    let a = Fake::start(vec![Reply::Hang]).await;
    let reg = provider("pa", &a.base_url()) + &model("test/m", &[("pa", "a")], &[]);
    let opts = Opts {
        extra: "[routing]\nrequest_timeout_secs = 0.3\nfirst_token_timeout_secs = 0.3\n".into(),
        ..Default::default()
    };
    let app = TestApp::spawn_with(&reg, opts).await;
    let resp = app
        .chat(json!({"model": "test/m", "messages": user("x")}))
        .await;
    let id = request_id(&resp);
    let (status, body) = json_of(resp).await;
    assert_eq!(status, 504, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("timed out"));
    let (status, _) = json_of(
        app.chat(json!({"model": "test/m", "stream": true, "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!(status, 504);
    let rec = app.record(&id).await;
    assert_eq!(rec.outcome, "timeout");
    app.stop().await;
}

#[tokio::test]
async fn provider_preferences_shape_the_plan() {
    let a = Fake::start(vec![Reply::simple()]).await;
    let b = Fake::start(vec![Reply::simple()]).await;
    let reg = provider("pa", &a.base_url())
        + &provider("pb", &b.base_url())
        + "[[models]]\nslug = \"test/m\"\nsupported_parameters = [\"temperature\"]\n\
           [[models.endpoints]]\nprovider = \"pa\"\nupstream_model = \"a\"\ninput_price = 5.0\noutput_price = 5.0\n\
           [[models.endpoints]]\nprovider = \"pb\"\nupstream_model = \"b\"\ninput_price = 1.0\noutput_price = 1.0\nsupported_parameters = [\"temperature\", \"tools\"]\n";
    let app = TestApp::spawn(&reg).await;
    let served = |body: Value| body["provider"].as_str().unwrap().to_owned();
    let ask = |prefs: Value, extra: Value| {
        let mut req = json!({"model": "test/m", "messages": user("x"), "provider": prefs});
        if let Value::Object(m) = extra {
            for (k, v) in m {
                req[k] = v;
            }
        }
        req
    };

    let (_, body) = json_of(app.chat(ask(json!({}), json!({}))).await).await;
    assert_eq!(served(body), "pa", "registry order by default");
    let (_, body) = json_of(app.chat(ask(json!({"order": ["pb"]}), json!({}))).await).await;
    assert_eq!(served(body), "pb");
    let (_, body) = json_of(app.chat(ask(json!({"sort": "price"}), json!({}))).await).await;
    assert_eq!(served(body), "pb");
    let (_, body) = json_of(app.chat(ask(json!({"ignore": ["pa"]}), json!({}))).await).await;
    assert_eq!(served(body), "pb");
    let (_, body) = json_of(
        app.chat(ask(json!({"max_price": {"prompt": 2}}), json!({})))
            .await,
    )
    .await;
    assert_eq!(served(body), "pb");
    let (_, body) = json_of(
        app.chat(ask(
            json!({"require_parameters": true}),
            json!({"tools": []}),
        ))
        .await,
    )
    .await;
    assert_eq!(served(body), "pb", "only pb declares tools");

    let (status, body) = json_of(app.chat(ask(json!({"only": ["nobody"]}), json!({}))).await).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "no_endpoints_match");
    app.stop().await;

    // allow_fallbacks: false stops after the preferred provider.
    let down = Fake::start(vec![Reply::error(503, "down")]).await;
    let up = Fake::start(vec![Reply::simple()]).await;
    let reg = provider("pa", &down.base_url())
        + &provider("pb", &up.base_url())
        + &model("test/m", &[("pa", "a"), ("pb", "b")], &[]);
    let app = TestApp::spawn(&reg).await;
    let (status, _) = json_of(app.chat(json!({"model": "test/m", "messages": user("x"), "provider": {"allow_fallbacks": false}})).await).await;
    assert_eq!(status, 502);
    assert_eq!(up.calls(), 0);
    app.stop().await;
}

#[tokio::test]
async fn inactive_providers_are_skipped_and_explained() {
    let good = Fake::start(vec![Reply::simple()]).await;
    let reg = "[[providers]]\nid = \"keyed\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_env = \"SWITCHYARD_TEST_UNSET_KEY_VAR\"\n\n".to_owned()
        + &provider("open", &good.base_url())
        + &model("test/m", &[("keyed", "a"), ("open", "b")], &[])
        + &model("test/only-keyed", &[("keyed", "a")], &[]);
    let app = TestApp::spawn(&reg).await;
    let (status, body) = json_of(
        app.chat(json!({"model": "test/m", "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!((status, body["provider"].as_str()), (200, Some("open")));
    let (status, body) = json_of(
        app.chat(json!({"model": "test/only-keyed", "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!(status, 503);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SWITCHYARD_TEST_UNSET_KEY_VAR"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
    app.stop().await;
}

#[tokio::test]
async fn an_infinite_retry_after_is_bounded_and_still_falls_back() {
    let body = json!({"error": {"message": "slow down", "type": "rate_limit", "param": null, "code": null}});
    for value in ["inf", "1e30", "1e20"] {
        let hostile = Reply::Status(
            429,
            body.to_string(),
            vec![("retry-after", value.to_owned())],
        );
        let bad = Fake::start(vec![hostile.clone()]).await;
        let good = Fake::start(vec![Reply::simple()]).await;
        let reg = provider("p1", &bad.base_url())
            + &provider("p2", &good.base_url())
            + &model("test/m", &[("p1", "a"), ("p2", "b")], &[])
            + &model("test/only", &[("p1", "a")], &[]);
        let app = TestApp::spawn(&reg).await;
        let resp = app
            .chat(json!({"model": "test/m", "messages": user("x")}))
            .await;
        assert_eq!(resp.status(), 200, "Retry-After: {value} fell back");
        let resp = app
            .chat(json!({"model": "test/only", "messages": user("x")}))
            .await;
        assert_eq!(resp.status(), 429, "Retry-After: {value}");
        let after: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(after, 86_400, "bounded to a day");
        app.stop().await;
    }
}

/// An upstream 404 for the model (a stale `upstream_model` at one provider) used to reject
/// the request instead of trying the next endpoint.
#[tokio::test]
async fn an_upstream_404_for_the_model_tries_the_next_endpoint() {
    let stale = Fake::start(vec![Reply::Status(
        404,
        r#"{"error":{"message":"The model `old-name` does not exist","type":"invalid_request_error","code":"model_not_found"}}"#.into(),
        vec![],
    )])
    .await;
    let good = Fake::start(vec![Reply::simple()]).await;
    let reg = provider("stale", &stale.base_url())
        + &provider("good", &good.base_url())
        + &model("test/m", &[("stale", "old-name"), ("good", "m")], &[])
        + &model("test/only", &[("stale", "old-name")], &[]);
    let app = TestApp::spawn(&reg).await;
    let (status, body) = json_of(
        app.chat(json!({"model": "test/m", "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["provider"].as_str()),
        (200, Some("good")),
        "{body}"
    );

    // With nowhere else to go, the client still sees the upstream's 404 and its code.
    let (status, body) = json_of(
        app.chat(json!({"model": "test/only", "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "model_not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{body}"
    );
    app.stop().await;
}
