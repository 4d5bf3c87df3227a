//! Keys that hold money: policies through the admin API, budgets (exact under concurrency),
//! rate limits and concurrency, cache prices, billing of every ending, and OpenRouter's
//! `/key`, `/credits` and `/generation`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::chat::assert_openai_error;
use crate::fake::{Fake, Reply};
use crate::helpers::*;

/// One fake upstream behind `test/m` (and `other/m` for allowed-model tests), keys on.
async fn app_with(fake: &Fake, extra: &str) -> TestApp {
    let reg = provider("fake", &fake.base_url())
        + &model("test/m", &[("fake", "up")], &["other/m"])
        + &model("other/m", &[("fake", "up2")], &[]);
    TestApp::spawn_with(
        &reg,
        Opts {
            require_keys: true,
            extra: extra.into(),
            ..Default::default()
        },
    )
    .await
}

async fn chat_as(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn ask(max_tokens: Option<u64>) -> Value {
    let mut b = json!({"model": "test/m", "messages": user("x")});
    if let Some(m) = max_tokens {
        b["max_tokens"] = json!(m);
    }
    b
}

#[tokio::test]
async fn keys_carry_policies_and_creation_is_idempotent() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = app_with(&fake, "").await;
    let body = json!({
        "name": "team-a", "budget_usd": 5, "budget_reset": "monthly", "rpm": 60, "tpm": 100000,
        "max_concurrency": 4, "allowed_models": ["test/*"], "expires_at": "2099-01-01T00:00:00Z",
        "metadata": {"team": "search"}
    });
    let first = app
        .client
        .post(app.url("/admin/keys"))
        .bearer_auth(MASTER)
        .header("idempotency-key", "create-team-a")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    for (field, want) in [
        ("budget_usd", json!(5.0)),
        ("budget_reset", json!("monthly")),
        ("rpm", json!(60)),
        ("tpm", json!(100000)),
        ("max_concurrency", json!(4)),
        ("allowed_models", json!(["test/*"])),
        ("expires_at", json!("2099-01-01T00:00:00Z")),
        ("metadata", json!({"team": "search"})),
    ] {
        assert_eq!(first[field], want, "{field}");
    }
    // The client retries (its first answer was lost): the same key, not a second one.
    let again = app
        .client
        .post(app.url("/admin/keys"))
        .bearer_auth(MASTER)
        .header("idempotency-key", "create-team-a")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["key"], first["key"]);
    let list: Value = app
        .admin(Method::GET, "/admin/keys", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["remaining_usd"], 5.0);

    let id = first["id"].as_str().unwrap();
    let patched: Value = app
        .admin(
            Method::PATCH,
            &format!("/admin/keys/{id}"),
            Some(json!({"rpm": null, "budget_usd": 2.5, "name": "team-a2"})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["rpm"], Value::Null);
    assert_eq!(patched["budget_usd"], 2.5);
    assert_eq!(patched["tpm"], 100000, "untouched fields stay");
    let shown: Value = app
        .admin(Method::GET, &format!("/admin/keys/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["name"], "team-a2");
    assert_eq!(shown["spend"]["total_usd"], 0.0);

    for (bad, field) in [
        (
            json!({"name": "x", "budget_reset": "hourly"}),
            "budget_reset",
        ),
        (json!({"name": "x", "expires_at": "soon"}), "expires_at"),
        (json!({"name": "x", "rpm": 0}), "rpm"),
        (
            json!({"name": "x", "allowed_models": ["a*b"]}),
            "allowed_models",
        ),
    ] {
        let resp = app.admin(Method::POST, "/admin/keys", Some(bad)).await;
        assert_eq!(resp.status(), 400, "{field}");
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_key_made_elsewhere_works_on_the_next_request_and_states_are_enforced() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    // A long refresh interval: only the look-up of unknown keys can make this pass.
    let app = app_with(&fake, "[routing]\nregistry_refresh_secs = 600\n").await;
    let new = switchyard::auth::generate_key();
    let policy = switchyard::types::keys::KeyPolicy::default();
    app.store
        .create_key(&switchyard::store::NewKeyRow {
            id: &new.id,
            name: "from-cli",
            key_hash: &new.hash,
            key_prefix: &new.prefix,
            policy: &policy,
            idempotency_key: None,
        })
        .await
        .unwrap();
    assert_eq!(chat_as(&app, &new.key, ask(None)).await.status(), 200);
    // Anthropic-style clients send the key as x-api-key.
    let resp = app
        .client
        .post(app.url("/v1/chat/completions"))
        .header("x-api-key", &new.key)
        .json(&ask(None))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let (id, key) = create_key(
        &app,
        json!({"name": "short-lived", "expires_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    let resp = chat_as(&app, &key, ask(None)).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "key_expired");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired at 2020-01-01T00:00:00Z"));
    app.admin(
        Method::PATCH,
        &format!("/admin/keys/{id}"),
        Some(json!({"expires_at": null, "disabled": true})),
    )
    .await;
    let body: Value = chat_as(&app, &key, ask(None)).await.json().await.unwrap();
    assert_eq!(body["error"]["code"], "key_disabled");
    app.admin(
        Method::PATCH,
        &format!("/admin/keys/{id}"),
        Some(json!({"disabled": false})),
    )
    .await;
    assert_eq!(chat_as(&app, &key, ask(None)).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn allowed_models_refuse_others_and_filter_listings_and_fallbacks() {
    let fake = Fake::start(vec![Reply::error(500, "down"), Reply::simple()]).await;
    let app = app_with(&fake, "").await;
    let (_, key) = create_key(
        &app,
        json!({"name": "narrow", "allowed_models": ["test/m"]}),
    )
    .await;
    let resp = chat_as(
        &app,
        &key,
        json!({"model": "other/m", "messages": user("x")}),
    )
    .await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_allowed");
    assert_eq!(body["error"]["param"], "model");
    // test/m falls back to other/m in the registry, which this key may not use: the
    // upstream's failure is returned rather than a model the key may not use.
    let resp = chat_as(&app, &key, ask(None)).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(fake.calls(), 1, "the disallowed fallback was never tried");
    let models = app.get_json("/v1/models", Some(&key)).await;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["test/m"]);
    app.stop().await;
}

#[tokio::test]
async fn a_spent_budget_gets_402_and_parallel_requests_never_overspend() {
    // simple.json: 20 prompt + 2 completion tokens at $2/$8 per million = $0.000056.
    let fake = Fake::start(vec![Reply::Delayed(
        Duration::from_millis(50),
        Box::new(Reply::simple()),
    )])
    .await;
    let app = app_with(&fake, "").await;
    let budget = 0.0005; // room for 8 requests at most
    let (id, key) = create_key(
        &app,
        json!({"name": "small", "budget_usd": budget, "budget_reset": "daily"}),
    )
    .await;
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let client = app.client.clone();
        let url = app.url("/v1/chat/completions");
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(key)
                .json(&ask(Some(10)))
                .send()
                .await
                .unwrap()
        }));
    }
    let mut ok = 0;
    let mut refused = None;
    let mut served = Vec::new();
    for t in tasks {
        let resp = t.await.unwrap();
        match resp.status().as_u16() {
            200 => {
                ok += 1;
                served.push(request_id(&resp));
            }
            402 => refused = Some(resp.json::<Value>().await.unwrap()),
            s => panic!("unexpected status {s}"),
        }
    }
    if ok > 8 {
        let mut costs = Vec::new();
        for id in &served {
            let r = app.record(id).await;
            costs.push((
                r.key_id.clone(),
                r.cost_nanos,
                r.outcome.clone(),
                r.attempts.len(),
            ));
        }
        panic!("{ok} requests served: {costs:?}");
    }
    assert!(ok >= 1, "{ok} requests served");
    let body = refused.expect("some requests were refused");
    assert_openai_error(&body);
    assert_eq!(body["error"]["code"], "budget_exceeded");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("of $0.0005") && msg.contains("daily") && msg.contains("resets"),
        "{msg}"
    );
    // Every served request is recorded and the written spend is within the budget.
    app.records(ok).await;
    let shown: Value = app
        .admin(Method::GET, &format!("/admin/keys/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    let spent = shown["spend"]["daily_usd"].as_f64().unwrap();
    assert!(spent <= budget + 1e-12, "spent {spent} of {budget}");
    assert!(
        (spent - ok as f64 * 0.000056).abs() < 1e-9,
        "{spent} for {ok}"
    );
    app.stop().await;
}

#[tokio::test]
async fn rate_limits_answer_429_with_openai_headers() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = app_with(&fake, "").await;
    let (_, key) = create_key(&app, json!({"name": "slow", "rpm": 3, "tpm": 5000})).await;
    for i in 0..3 {
        let resp = chat_as(&app, &key, ask(Some(10))).await;
        assert_eq!(resp.status(), 200, "request {i}");
        let h = resp.headers();
        assert_eq!(h["x-ratelimit-limit-requests"], "3");
        assert_eq!(
            h["x-ratelimit-remaining-requests"],
            (2 - i).to_string().as_str()
        );
        assert_eq!(h["x-ratelimit-limit-tokens"], "5000");
        assert!(h.contains_key("x-ratelimit-reset-requests"));
        assert!(h.contains_key("x-ratelimit-remaining-tokens"));
    }
    let resp = chat_as(&app, &key, ask(Some(10))).await;
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    assert_eq!(resp.headers()["x-ratelimit-remaining-requests"], "0");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(fake.calls(), 3);

    // A request that could never fit the token limit says so and is not retried.
    let (_, small) = create_key(&app, json!({"name": "tiny", "tpm": 100})).await;
    let resp = chat_as(&app, &small, ask(Some(500))).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["x-should-retry"], "false");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "tokens_exceeded");
    app.stop().await;
}

#[tokio::test]
async fn concurrency_is_limited_per_key() {
    let fake = Fake::start(vec![Reply::Delayed(
        Duration::from_millis(500),
        Box::new(Reply::simple()),
    )])
    .await;
    let app = app_with(&fake, "").await;
    let (id, key) = create_key(&app, json!({"name": "one-at-a-time", "max_concurrency": 1})).await;
    let first = {
        let (client, url, key) = (
            app.client.clone(),
            app.url("/v1/chat/completions"),
            key.clone(),
        );
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(key)
                .json(&ask(None))
                .send()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let second = chat_as(&app, &key, ask(None)).await;
    assert_eq!(second.status(), 429);
    assert!(second.headers().contains_key("retry-after"));
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "concurrency_limit_exceeded");
    // The limit changes while a request is in flight; that request still gives its slot back.
    app.admin(
        Method::PATCH,
        &format!("/admin/keys/{id}"),
        Some(json!({"max_concurrency": 2})),
    )
    .await;
    assert_eq!(first.await.unwrap().status(), 200);
    let (a, b) = tokio::join!(
        chat_as(&app, &key, ask(None)),
        chat_as(&app, &key, ask(None))
    );
    assert_eq!(
        (a.status().as_u16(), b.status().as_u16()),
        (200, 200),
        "two at a time now, none leaked"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_leaves_before_the_first_token_is_billed_for_the_prompt() {
    let slow = Reply::Sse {
        events: crate::fake::split_events(&crate::fake::fixture("openai/simple_streaming.sse")),
        first: Duration::from_secs(5),
        between: Duration::ZERO,
    };
    let fake = Fake::start(vec![slow]).await;
    let app = app_with(&fake, "").await;
    let (_, key) = create_key(&app, json!({"name": "leaver", "budget_usd": 1})).await;
    let mut body = ask(Some(10));
    body["stream"] = json!(true);
    body["messages"] = user(&"long prompt ".repeat(100));
    let req = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&body)
        .send();
    // Leave while the upstream is still thinking.
    let _ = tokio::time::timeout(Duration::from_millis(300), req).await;
    let recs = app.records(1).await;
    let r = &recs[0];
    assert_eq!(r.outcome, "cancelled");
    assert!(r.usage_estimated);
    assert!(r.prompt_tokens > 100, "{}", r.prompt_tokens);
    assert!(
        r.cost_nanos > 0,
        "the prompt reached the upstream: it is billed"
    );
    app.stop().await;
}

#[tokio::test]
async fn cached_tokens_and_requests_have_their_own_prices() {
    let usage = json!({"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100,
        "prompt_tokens_details": {"cached_tokens": 800}});
    let mut body: Value =
        serde_json::from_str(&crate::fake::fixture("openai/simple.json")).unwrap();
    body["usage"] = usage;
    let fake = Fake::start(vec![Reply::Json(body.to_string())]).await;
    let reg = provider("fake", &fake.base_url())
        + "[[models]]\nslug = \"test/m\"\n[[models.endpoints]]\nprovider = \"fake\"\nupstream_model = \"up\"\n\
           input_price = 2.0\noutput_price = 8.0\ncache_read_price = 0.5\nrequest_price = 0.001\n";
    let app = TestApp::spawn(&reg).await;
    let resp = app.chat(ask(None)).await;
    let id = request_id(&resp);
    let (status, v) = json_of(resp).await;
    assert_eq!(status, 200);
    // 200 fresh at $2/M + 800 cached at $0.5/M + 100 out at $8/M + $0.001 per request.
    let want = 200.0 * 2e-6 + 800.0 * 0.5e-6 + 100.0 * 8e-6 + 0.001;
    let (_, cost) = split_cost(&v["usage"]);
    assert!((cost - want).abs() < 1e-12, "{cost} != {want}");
    let r = app.record(&id).await;
    assert_eq!(r.cost_nanos, (want * 1e9).round() as i64);
    assert_eq!(r.cached_tokens, 800);
    app.stop().await;
}

#[tokio::test]
async fn key_credits_and_generation_in_openrouter_shapes() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = app_with(&fake, "").await;
    let (_, key) = create_key(
        &app,
        json!({"name": "or-user", "budget_usd": 10, "budget_reset": "weekly", "rpm": 100}),
    )
    .await;
    let (_, other) = create_key(&app, json!({"name": "someone-else"})).await;
    let resp = app
        .client
        .post(app.url("/api/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&ask(None))
        .send()
        .await
        .unwrap();
    let gen_id = request_id(&resp);
    assert_eq!(resp.status(), 200);
    // At once: no race with the batched writer.
    let get = |path: String, k: String| {
        let c = app.client.clone();
        let url = app.url(&path);
        async move { c.get(url).bearer_auth(k).send().await.unwrap() }
    };
    let g = get(format!("/api/v1/generation?id={gen_id}"), key.clone()).await;
    assert_eq!(g.status(), 200);
    let g: Value = g.json().await.unwrap();
    let d = &g["data"];
    assert_eq!(d["id"], gen_id.as_str());
    assert_eq!(d["model"], "test/m");
    assert_eq!(d["provider_name"], "fake");
    assert_eq!(d["tokens_prompt"], 20);
    assert_eq!(d["tokens_completion"], 2);
    assert_eq!(d["finish_reason"], "stop");
    assert_eq!(d["streamed"], false);
    assert_eq!(d["cancelled"], false);
    assert!((d["total_cost"].as_f64().unwrap() - 0.000056).abs() < 1e-12);
    assert_eq!(
        get(format!("/v1/generation?id={gen_id}"), other.clone())
            .await
            .status(),
        404,
        "another key's generation"
    );
    assert_eq!(
        get(format!("/v1/generation?id={gen_id}"), MASTER.into())
            .await
            .status(),
        200,
        "the master key sees all"
    );
    assert_eq!(
        get("/v1/generation".into(), key.clone()).await.status(),
        400
    );

    app.records(1).await;
    let k: Value = get("/api/v1/key".into(), key.clone())
        .await
        .json()
        .await
        .unwrap();
    let d = &k["data"];
    assert_eq!(d["label"], "or-user");
    assert_eq!(d["limit"], 10.0);
    assert_eq!(d["limit_reset"], "weekly");
    assert!((d["usage"].as_f64().unwrap() - 0.000056).abs() < 1e-12);
    assert!((d["limit_remaining"].as_f64().unwrap() - (10.0 - 0.000056)).abs() < 1e-9);
    assert_eq!(d["rate_limit"]["requests"], 100);
    for f in [
        "usage_daily",
        "usage_weekly",
        "usage_monthly",
        "is_free_tier",
        "byok_usage",
        "include_byok_in_limit",
    ] {
        assert!(d.get(f).is_some(), "{f}");
    }
    let c: Value = get("/api/v1/credits".into(), key.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["data"]["total_credits"], 10.0);
    assert!((c["data"]["total_usage"].as_f64().unwrap() - 0.000056).abs() < 1e-12);
    let all: Value = get("/api/v1/credits".into(), MASTER.into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["data"]["total_credits"], 10.0);
    assert_eq!(
        get("/api/v1/key".into(), "sy-nope".into()).await.status(),
        401
    );
    app.stop().await;
}

#[tokio::test]
async fn a_full_request_log_refuses_fast_and_health_tells_the_truth() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn_with(
        &(provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[])),
        Opts {
            extra: "[accounting]\nqueue_capacity = 16\nflush_interval_ms = 20\n".into(),
            ..Default::default()
        },
    )
    .await;
    // The database goes away: records wait in the queue until it is full (the writer holds
    // one batch of up to 256 while it retries, the queue 16 more).
    app.store.close().await;
    let mut served = 0;
    let mut refused = false;
    for _ in 0..400 {
        let resp = tokio::time::timeout(Duration::from_secs(5), app.chat(ask(None)))
            .await
            .expect("a full log refuses at once, it never hangs");
        if resp.status() == 503 {
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"]["code"], "request_log_full");
            refused = true;
            break;
        }
        assert_eq!(resp.status(), 200);
        served += 1;
    }
    assert!(refused, "never refused after {served} requests");
    assert!(served >= 16, "{served}");
    let resp = app.client.get(app.url("/v1/health")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let h: Value = resp.json().await.unwrap();
    assert_eq!(h["status"], "unavailable");
    assert_eq!(h["request_log"]["queue_used"], 16);
}

#[tokio::test]
async fn a_nul_byte_from_an_upstream_does_not_stop_accounting() {
    let fake = Fake::start(vec![Reply::error(400, "bad \u{0} input"), Reply::simple()]).await;
    let app = TestApp::spawn(
        &(provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[])),
    )
    .await;
    let first = app.chat(ask(None)).await;
    assert_eq!(first.status(), 400);
    let id = request_id(&first);
    let mut later = Vec::new();
    for _ in 0..5 {
        let resp = app.chat(ask(None)).await;
        assert_eq!(resp.status(), 200);
        later.push(request_id(&resp));
    }
    let r = app.record(&id).await;
    assert!(r.error.unwrap().contains("bad \u{FFFD} input"));
    for id in later {
        app.record(&id).await;
    }
    app.stop().await;
}

/// `/key` and `/credits` count a finished request at once, while its record still waits in
/// the batched writer's queue, and count it once after it is written.
#[tokio::test]
async fn key_usage_counts_records_the_writer_has_not_stored_yet() {
    let fake = Fake::start(vec![Reply::simple(), Reply::simple()]).await;
    // A long flush interval holds a lone record in the writer for seconds.
    let app = app_with(&fake, "[accounting]\nflush_interval_ms = 3000\n").await;
    let (_, key) = create_key(&app, json!({"name": "now", "budget_usd": 10})).await;
    let usage = |path: &'static str, field: &'static str| {
        let (c, url, key) = (app.client.clone(), app.url(path), key.clone());
        async move {
            let v: Value = c
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["data"][field].as_f64().unwrap()
        }
    };
    let one = 0.000056; // Reply::simple() at test/m's prices
    for n in 1..=2 {
        let resp = chat_as(&app, &key, ask(None)).await;
        assert_eq!(resp.status(), 200);
        resp.bytes().await.unwrap();
        let want = one * f64::from(n);
        let used = usage("/api/v1/key", "usage").await;
        assert!((used - want).abs() < 1e-12, "/key usage {used} != {want}");
        let daily = usage("/api/v1/key", "usage_daily").await;
        assert!(
            (daily - want).abs() < 1e-12,
            "usage_daily {daily} != {want}"
        );
        let left = usage("/api/v1/key", "limit_remaining").await;
        assert!(
            (left - (10.0 - want)).abs() < 1e-9,
            "limit_remaining {left}"
        );
        let credits = usage("/api/v1/credits", "total_usage").await;
        assert!(
            (credits - want).abs() < 1e-12,
            "/credits {credits} != {want}"
        );
    }
    app.records(2).await;
    let used = usage("/api/v1/key", "usage").await;
    assert!(
        (used - 2.0 * one).abs() < 1e-12,
        "counted once when written: {used}"
    );
    app.stop().await;
}
